"""The subject process (where a candidate's code runs) against the trusted side.

As root (as CI runs) a subject has full isolation: another user, no network, its own
folder, resource limits.  Without root the same two processes and wire are used, without
the user and network separation; those checks are skipped with the reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from kata_factory import GIT_ENV, git, write_kata

from grader.grading import boundary, wire
from grader.grading.boundary import CandidateError, Limits, Subject

ROOT_ONLY = pytest.mark.skipif(
    not boundary.full_isolation_available(),
    reason="full isolation (another user, network namespace) needs root on Linux; CI runs as root",
)

PROBES = """
import os
import socket


def read(path):
    with open(path) as handle:
        return handle.read()


def write(path):
    with open(path, "w") as handle:
        handle.write("written by the subject")
    return "written"


def connect(port):
    with socket.create_connection(("127.0.0.1", port), timeout=3):
        return "connected"


def pid():
    return os.getpid()


def whoami():
    return [os.getuid(), os.getgid(), os.getgroups()]


def spin():
    while True:
        pass


def allocate(megabytes):
    return len(bytearray(megabytes * 2**20))


def big_file(megabytes):
    with open("big.bin", "wb") as handle:
        handle.write(b"x" * (megabytes * 2**20))
    return "written"


def sockets():  # the socket descriptors this process holds (its own channel is one)
    held = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                held.append(int(fd))
        except OSError:
            pass
    return held


def parent():
    return os.getppid()


def end_soon_leaving_a_child():  # a child keeps the channel open after this process ends
    import threading
    import time

    if os.fork() == 0:
        time.sleep(30)
        os._exit(0)
    threading.Thread(target=lambda: (time.sleep(0.2), os._exit(3))).start()
    return "ending"


def fork_many(n):
    pids = []
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            import time
            time.sleep(30)
            os._exit(0)
        pids.append(pid)
    return len(pids)
"""


def started(
    tmp_path: Path, isolation: str, limits: Limits | None = None, hide: tuple[Path, ...] = ()
) -> Subject:
    source = tmp_path / "kata"
    source.mkdir(parents=True)
    (source / "probes.py").write_text(textwrap.dedent(PROBES))
    subject = Subject(isolation, limits or Limits(), hide=hide, warm=())
    subject.load(boundary.subject_folder(source, isolation))
    return subject


@pytest.fixture
def trusted(tmp_path) -> Path:
    """A folder of the trusted side, made as the trusted process makes them (0700)."""
    folder = tmp_path / "trusted"
    folder.mkdir(mode=0o700)
    secret = folder / "hidden_tests.py"
    secret.write_text("EXPECTED = 42\n")
    secret.chmod(0o600)
    return folder


@ROOT_ONLY
def test_the_subject_runs_as_another_user_without_groups(tmp_path):
    subject = started(tmp_path, "full")
    try:
        uid, gid, groups = subject.call("probes", "whoami", (), {})
    finally:
        subject.kill()
    assert uid == gid == subject.uid != os.getuid()
    assert uid in boundary.SUBJECT_UIDS
    assert groups == []


@ROOT_ONLY
def test_the_subject_cannot_read_or_write_the_trusted_side(tmp_path, trusted):
    subject = started(tmp_path, "full")
    try:
        with pytest.raises(PermissionError):
            subject.call("probes", "read", (str(trusted / "hidden_tests.py"),), {})
        with pytest.raises(PermissionError):
            subject.call("probes", "write", (str(trusted / "test_new.py"),), {})
    finally:
        subject.kill()
    assert sorted(p.name for p in trusted.iterdir()) == ["hidden_tests.py"]


@ROOT_ONLY
def test_the_subject_cannot_see_the_graders_private_material(tmp_path):
    private = Path(boundary.__file__).resolve().parents[1] / "private"
    reference = next(private.glob("*/reference.patch"), None)
    if reference is None:
        pytest.skip("no private material installed next to the grader")
    subject = started(tmp_path, "full", hide=(private,))
    try:
        with pytest.raises(FileNotFoundError):
            subject.call("probes", "read", (str(reference),), {})
    finally:
        subject.kill()


@ROOT_ONLY
def test_the_subject_cannot_connect_to_the_loopback(tmp_path):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        subject = started(tmp_path, "full")
        try:
            with pytest.raises(OSError):
                subject.call("probes", "connect", (port,), {})
        finally:
            subject.kill()
        # the same call from the trusted side reaches the server: the refusal is isolation
        with socket.create_connection(("127.0.0.1", port), timeout=3):
            pass


@pytest.mark.parametrize("isolation", ["process", "full"])
def test_the_subject_is_stopped_at_its_cpu_limit(tmp_path, isolation):
    if isolation == "full" and not boundary.full_isolation_available():
        pytest.skip("full isolation needs root on Linux")
    subject = started(tmp_path, isolation, Limits(cpu_s=1))
    try:
        with pytest.raises(CandidateError, match="resource limit"):
            subject.call("probes", "spin", (), {})
    finally:
        subject.kill()


@pytest.mark.parametrize("isolation", ["process", "full"])
def test_the_subject_is_stopped_at_its_memory_and_file_limits(tmp_path, isolation):
    if isolation == "full" and not boundary.full_isolation_available():
        pytest.skip("full isolation needs root on Linux")
    subject = started(tmp_path, isolation, Limits(memory_mb=512, file_mb=1))
    try:
        with pytest.raises(MemoryError):
            subject.call("probes", "allocate", (1024,), {})
        with pytest.raises(OSError, match="File too large"):
            subject.call("probes", "big_file", (4,), {})
    finally:
        subject.kill()


@ROOT_ONLY
def test_the_subject_cannot_fork_past_its_process_limit(tmp_path):
    subject = started(tmp_path, "full", Limits(processes=4))
    try:
        with pytest.raises(BlockingIOError):
            subject.call("probes", "fork_many", (10,), {})
    finally:
        subject.kill()
    deadline = time.monotonic() + 10
    left = [1]
    while left and time.monotonic() < deadline:
        left = [
            p for p in Path("/proc").iterdir() if _uid_of(p) == subject.uid and _alive(int(p.name))
        ]
        time.sleep(0.1)
    assert left == [], "processes of the subject's user survived it"


def _uid_of(proc: Path) -> int | None:
    try:
        return proc.stat().st_uid if proc.name.isdigit() else None
    except OSError:
        return None


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


@pytest.mark.parametrize("isolation", ["process", "full"])
def test_each_subject_is_forked_from_one_zygote(tmp_path, monkeypatch, isolation):
    """Each subject is a fresh process of its own session (killed with its group), forked
    by a zygote that has paid the imports once; ``KATA_SUBJECT_ZYGOTE=0`` starts each as a
    new interpreter instead."""
    if isolation == "full" and not boundary.full_isolation_available():
        pytest.skip("full isolation needs root on Linux")
    first, second = started(tmp_path / "a", isolation), started(tmp_path / "b", isolation)
    try:
        parents = {_parent(first.process.pid), _parent(second.process.pid)}
        assert len(parents) == 1 and os.getpid() not in parents
        assert first.process.pid != second.process.pid
        assert os.getpgid(first.process.pid) == first.process.pid
        assert first.call("probes", "pid", (), {}) == first.process.pid
        first.kill()
        assert not first.alive() and second.alive()
    finally:
        first.kill()
        second.kill()
    monkeypatch.setenv("KATA_SUBJECT_ZYGOTE", "0")
    third = started(tmp_path / "c", isolation)
    try:
        assert _parent(third.process.pid) == os.getpid()
    finally:
        third.kill()


@pytest.mark.parametrize("isolation", ["process", "full"])
def test_a_forked_subject_holds_none_of_the_zygotes_descriptors(tmp_path, isolation):
    """The zygote holds a connection per trusted process it serves: a subject must not be
    able to ask it for anything (its only socket is its own channel)."""
    if isolation == "full" and not boundary.full_isolation_available():
        pytest.skip("full isolation needs root on Linux")
    spare = boundary.zygote_connection(())  # one more connection the zygote holds
    subject = started(tmp_path, isolation)
    try:
        assert isinstance(subject.process, boundary._Forked)
        assert len(subject.call("probes", "sockets", (), {})) == 1
    finally:
        subject.kill()
        if spare is not None:
            spare.close()


@pytest.mark.parametrize("isolation", ["process", "full"])
def test_a_call_after_the_subject_ended_says_so_though_its_child_holds_the_channel(
    tmp_path, isolation
):
    """The subject ended between two calls, but a process it started still holds the
    other end of the channel, so no send or receive would ever notice: the next call
    must still say at once that the process ended, and how."""
    if isolation == "full" and not boundary.full_isolation_available():
        pytest.skip("full isolation needs root on Linux")
    subject = started(tmp_path, isolation)
    try:
        assert subject.call("probes", "end_soon_leaving_a_child", (), {}) == "ending"
        time.sleep(1.0)
        began = time.monotonic()
        with pytest.raises(CandidateError, match=r"ended \(exit status 3\)"):
            subject.call("probes", "pid", (), {})
        assert time.monotonic() - began < 5
    finally:
        subject.kill()


def _probe_kata(tmp_path: Path, test: str) -> Path:
    """A kata folder with the probe module and one test file holding ``test``."""
    folder = tmp_path / "kata"
    folder.mkdir()
    (folder / "probes.py").write_text(textwrap.dedent(PROBES))
    (folder / "test_probes.py").write_text(
        "from grader.grading.boundary import candidate\n\nprobes = candidate('probes')\n\n\n" + test
    )
    return folder


@pytest.mark.parametrize("isolation", ["process", "full"])
def test_grading_runs_fork_their_subjects_from_the_graders_zygote(tmp_path, isolation):
    """Each version ``kata grade`` evaluates runs in a process of its own; their subjects
    are forked from one zygote of the grading process (not a new interpreter each)."""
    if isolation == "full" and not boundary.full_isolation_available():
        pytest.skip("full isolation needs root on Linux")
    from grader.grading.sandbox import Sandbox

    folder = _probe_kata(
        tmp_path,
        "def test_parent():\n    assert False, f'parent={probes.parent()} self={probes.pid()}'\n",
    )
    sandbox = Sandbox()
    seen = []
    for _ in range(2):
        run = sandbox.run(folder, subject_from=folder, isolation=isolation, test_timeout_s=60)
        assert run.completed, run
        seen.append(run.results["test_probes.py::test_parent"].message.split()[:2])
    assert boundary._ZYGOTE is not None
    zygote = f"parent={boundary._ZYGOTE.process.pid}"
    assert [parent for parent, _ in seen] == [zygote, zygote]
    assert seen[0][1] != seen[1][1]  # a fresh subject for each run


@pytest.mark.parametrize("isolation", ["process", "full"])
def test_a_grading_run_killed_at_its_time_bound_takes_its_subject_along(tmp_path, isolation):
    """The run's subject is the zygote's child, not the run's: when the grader kills a run
    that went past its total time, the zygote must kill that run's subject, or its
    endless loop would take a core from every later run."""
    if isolation == "full" and not boundary.full_isolation_available():
        pytest.skip("full isolation needs root on Linux")
    from grader.grading.sandbox import Sandbox

    folder = _probe_kata(tmp_path, "def test_spin():\n    probes.spin()\n")
    run = Sandbox().run(
        folder, subject_from=folder, isolation=isolation, test_timeout_s=600, total_timeout_s=8
    )
    assert run.timed_out
    zygote = boundary._ZYGOTE.process.pid
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and [p for p in _descendants(zygote) if _alive(p)]:
        time.sleep(0.2)
    assert [_cmdline(p)[:80] for p in _descendants(zygote) if _alive(p)] == []
    assert boundary._ZYGOTE.alive()


@ROOT_ONLY
def test_the_zygote_never_signals_a_reaped_subjects_pid_again(tmp_path):
    """When a connection closes, the zygote kills the subjects it forked for it that
    still run; one the trusted side killed and had reaped is gone, and its pid may belong
    to an unrelated process by then (reused here on purpose, through ns_last_pid)."""
    connection = boundary.zygote_connection(())
    assert connection is not None
    boundary_zygote = boundary._ZYGOTE
    try:
        boundary._ZYGOTE = boundary._Zygote(sock=connection)  # this connection's subjects
        subject = started(tmp_path, "process")
        pid = subject.process.pid
        subject.kill()  # killed, and reaped through this connection
    finally:
        boundary._ZYGOTE = boundary_zygote
    Path("/proc/sys/kernel/ns_last_pid").write_text(str(pid - 1))
    stranger = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        if stranger.pid != pid:
            pytest.skip("another process took the pid first")
        connection.close()  # the zygote drops this connection's subjects
        time.sleep(1.0)
        assert stranger.poll() is None, "the zygote killed a process that reused a pid"
    finally:
        stranger.kill()
        stranger.wait()


def test_connections_not_waited_for_never_stall_the_zygote(tmp_path):
    """A connection is handed out without waiting for the zygote's answer (it may still be
    importing torch); the answers are taken up later, so that thousands of them (a long
    watch session forks workers all day) never fill the socket and block the zygote."""
    for _ in range(2000):
        connection = boundary.zygote_connection(())
        assert connection is not None
        connection.close()
    subject = started(tmp_path, "process")  # the zygote still answers
    try:
        assert subject.call("probes", "pid", (), {}) == subject.process.pid
    finally:
        subject.kill()


def test_a_malformed_fork_request_leaves_no_descriptor_open_in_the_zygote(tmp_path):
    """Every descriptor a request passes is the zygote's to close: a fork request with
    the wrong number of them (a bug in a trusted process) is refused, and what it passed
    is closed, so that a long session never runs the zygote out of descriptors."""
    first = started(tmp_path, "process")  # the zygote is up and answering
    zygote = _parent(first.process.pid)
    first.kill()
    connection = boundary.zygote_connection(())
    assert connection is not None
    sender = boundary._Zygote(sock=connection)
    answer = sender.answer(sender._ask({"op": "wait", "pid": 1, "timeout": 0}, []))
    assert "status" in answer  # the connection is taken up: what it passes now counts
    before = len(os.listdir(f"/proc/{zygote}/fd"))
    for _ in range(20):
        with open(os.devnull) as passed:
            socket.send_fds(connection, [json.dumps({"op": "fork"}).encode()], [passed.fileno()])
        with contextlib.suppress(OSError):
            connection.recv(65536)  # refused: the zygote ends this connection
        connection.close()
        connection = boundary.zygote_connection(())
        assert connection is not None
    connection.close()
    time.sleep(0.5)
    assert len(os.listdir(f"/proc/{zygote}/fd")) <= before


def test_the_zygote_outlives_the_folder_its_runs_used(tmp_path, monkeypatch):
    """Runs remove the subjects' root when none uses it; the zygote must not live there
    (importing torch._dynamo reads the working directory)."""
    monkeypatch.setattr(boundary, "_ZYGOTE", None)  # a zygote and a root of this test's own
    monkeypatch.setattr(boundary, "_ROOTS", {})
    first = started(tmp_path / "a", "process")
    zygote = _parent(first.process.pid)
    first.kill()
    shutil.rmtree(first.folder)
    boundary.stop_run()  # the root goes: no subject uses it
    assert not boundary._ROOTS
    subjects = []
    try:
        for name in ("b", "c"):
            source = tmp_path / name
            source.mkdir()
            (source / "probes.py").write_text(textwrap.dedent(PROBES))
            subject = Subject("process", Limits(), warm=("torch._dynamo",))
            subjects.append(subject)
            subject.load(boundary.subject_folder(source, "process"))
            assert subject.call("probes", "pid", (), {}) == subject.process.pid
            assert _parent(subject.process.pid) == zygote
    finally:
        for subject in subjects:
            subject.kill()


def test_a_malformed_answer_is_the_candidates_failure(tmp_path):
    source = tmp_path / "kata"
    source.mkdir(parents=True)
    (source / "probes.py").write_text(
        textwrap.dedent(
            """
            import gc, socket

            def lie():
                for o in gc.get_objects():
                    if isinstance(o, socket.socket):
                        o.sendall(b"\\x00\\x00\\x00\\x05\\x00\\x00\\x00\\x00{bad}")
                return 1

            def unsendable():
                return object()
            """
        )
    )
    subject = Subject("process", Limits(), warm=())
    subject.load(boundary.subject_folder(source, "process"))
    try:
        with pytest.raises(CandidateError, match="cannot cross"):
            subject.call("probes", "unsendable", (), {})
        with pytest.raises(CandidateError, match="malformed answer"):
            subject.call("probes", "lie", (), {})
        assert not subject.alive()
    finally:
        subject.kill()


def test_the_wire_carries_plain_data_and_refuses_anything_else():
    import numpy as np
    import torch

    value = {
        "t": torch.arange(6, dtype=torch.float64).reshape(2, 3),
        "b": torch.tensor([1.0, 2.0], dtype=torch.bfloat16),
        "a": np.array([[1, 2]], dtype=np.int32),
        "x": (1, 2.5, float("nan"), None, True, "s", b"raw"),
        "dtype": torch.float16,
    }
    back = wire.decode(wire.encode(value))
    assert torch.equal(back["t"], value["t"]) and back["t"].dtype == torch.float64
    assert torch.equal(back["b"], value["b"]) and back["b"].dtype == torch.bfloat16
    assert np.array_equal(back["a"], value["a"]) and back["a"].dtype == np.int32
    assert back["x"][:2] == (1, 2.5) and back["x"][2] != back["x"][2]
    assert back["x"][3:] == (None, True, "s", b"raw") and back["dtype"] is torch.float16
    for bad in (object(), {1: 2}, np.array([object()]), lambda: 0):
        with pytest.raises(wire.WireError):
            wire.encode(bad)
    import pickle

    for frame in (
        pickle.dumps({"ok": 1}),
        b"\x00\x00\x00\x02\x00\x00\x00\x00{}extra",
        b'\x00\x00\x00\x22\x00\x00\x00\x00{"$ndarray":{"dtype":"|O8","shape":[1]}}',
    ):
        with pytest.raises(wire.WireError):
            wire.decode(frame)


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("isolation", ["process", "full"])
def test_nothing_outlives_a_killed_kata_grade(tmp_path, isolation):
    """In ``process`` isolation the subject is forked by a zygote: both must go too."""
    if isolation == "full" and not boundary.full_isolation_available():
        pytest.skip("full isolation needs root on Linux")
    write_kata(tmp_path, "good", "good_stats", bug_line="    while True:\n        pass")
    from grader.catalogue.katas import load_catalogue
    from grader.catalogue.pristine import write_seal

    (kata,) = load_catalogue(tmp_path)
    write_seal(kata)
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "template")
    env = {**os.environ, **GIT_ENV, "KATA_ROOT": str(tmp_path), "KATA_ISOLATION": isolation}
    grading = subprocess.Popen(
        [sys.executable, "-m", "grader.cli", "grade", "--base", "HEAD", "--kata", "good"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        tree: set[int] = set()
        while time.monotonic() < deadline:  # until a subject spins on the endless loop
            tree = _descendants(grading.pid)
            if any(
                b"grader.grading.subject" in _cmdline(pid) and _cpu_ticks(pid) > 50 for pid in tree
            ):
                break
            time.sleep(0.2)
        else:
            pytest.fail("the subject never started spinning")
        tree = _descendants(grading.pid)
        os.kill(grading.pid, signal.SIGKILL)
        grading.wait()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and [p for p in tree if _alive(p)]:
            time.sleep(0.2)
        survivors = {p: _cmdline(p)[:120] for p in tree if _alive(p)}
        assert survivors == {}, f"still running after kata grade was killed: {survivors}"
    finally:
        for pid in _descendants(grading.pid) | {grading.pid}:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return b""


def _cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])
