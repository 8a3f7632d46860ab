"""The subject process: the only process that imports or runs a candidate's code.

Started by ``grader.grading.boundary`` as ``python -I -m grader.grading.subject``.  Before
any candidate code exists in it, it isolates itself, then answers calls over one socket
(``grader.grading.wire`` frames: JSON and raw array bytes, nothing else):

* ``full`` isolation (the parent is root, as in CI): a network namespace with no
  interface up (no connection anywhere, 127.0.0.1 included) and a mount namespace in which
  the directories above the Python installation are replaced by empty ``tmpfs`` mounts
  that expose only what the interpreter needs (so the subject can run Python from a
  0700 home, and sees nothing else there), and the grader's private material is hidden;
  then another user and group (no supplementary groups), so nothing of the trusted side
  (0700 folders, 0600 files) can be read or written.
* every mode: resource limits (CPU seconds, address space, processes, file size), death
  with the parent (``PR_SET_PDEATHSIG``), stdout/stderr to /dev/null (what the code
  prints is captured per call and sent back as data), one torch thread.

Requests: ``{"op": "load", "folder": F}`` once (it imports the kata's modules and answers
like a call: ``ok``, or the ``error`` that importing raised), then ``{"op": "call", "module": M,
"function": NAME, "args": [...], "kwargs": {...}}``; answers ``{"ok": value, "output":
text}`` or ``{"error": {...}, "output": text}``.
"""

from __future__ import annotations

import argparse
import ctypes
import io
import json
import os
import re
import resource
import signal
import socket
import stat
import sys
import tempfile
import traceback
from contextlib import redirect_stderr, redirect_stdout, suppress
from pathlib import Path

from grader.grading import wire

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_REC, MS_PRIVATE, MS_BIND = 0x4000, 1 << 18, 4096
PR_SET_PDEATHSIG = 1
OUTPUT_LIMIT = 20_000
MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(libc, source: str | None, target: str, fstype: str | None, flags: int, data=None):
    _check(
        libc.mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def _blocked_ancestor(path: Path) -> tuple[Path, str] | None:
    """The highest folder above ``path`` that others cannot enter, with the child on the way."""
    parts = path.resolve().parts
    for depth in range(1, len(parts)):
        folder = Path(*parts[:depth])
        if not os.stat(folder).st_mode & stat.S_IXOTH:
            return folder, parts[depth]
    return None


def _expose(libc, needed: list[Path]) -> None:
    """In this mount namespace, make every path in ``needed`` reachable by any user: each
    folder others cannot enter is covered by an empty tmpfs holding only the children on
    the way to a needed path (bind-mounted back).  Repeats until every path is reachable."""
    for _ in range(16):
        blocked: dict[Path, set[str]] = {}
        for path in needed:
            found = _blocked_ancestor(path)
            if found:
                blocked.setdefault(found[0], set()).add(found[1])
        if not blocked:
            return
        for folder, children in blocked.items():
            staged = {}
            for child in sorted(children):
                stage = Path(tempfile.mkdtemp(prefix="kata-stage-"))
                _mount(libc, str(folder / child), str(stage), None, MS_BIND | MS_REC)
                staged[child] = stage
            _mount(libc, "tmpfs", str(folder), "tmpfs", 0, "mode=0755,size=1m")
            for child, stage in staged.items():
                target = folder / child
                if stage.is_dir():
                    target.mkdir()
                else:
                    target.touch()
                _mount(libc, str(stage), str(target), None, MS_BIND | MS_REC)
    raise OSError("could not expose the Python installation to the subject user")


def isolate_fully(folder: Path, uid: int, hide: list[Path]) -> None:
    """Namespaces, then another user (see the module docstring).  Needs root."""
    libc = _libc()
    _check(libc.unshare(CLONE_NEWNS | CLONE_NEWNET), "unshare")
    _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)
    needed = [
        Path(sys.base_prefix),
        Path(sys.prefix),
        Path(sys.executable).parent,
        Path(__file__).resolve().parents[1],  # the grader package
        *(Path(p) for p in sys.path if p and Path(p).exists()),
        folder,
    ]
    _expose(libc, needed)
    for path in hide:
        if path.is_dir():
            _mount(libc, "tmpfs", str(path), "tmpfs", 0, "mode=0755,size=64k")
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise OSError("could not drop to the subject user")


def limit_resources(cpu_s: int, memory_bytes: int, processes: int, file_bytes: int) -> None:
    for which, value in (
        (resource.RLIMIT_CPU, cpu_s),
        (resource.RLIMIT_AS, memory_bytes),
        (resource.RLIMIT_NPROC, processes),
        (resource.RLIMIT_FSIZE, file_bytes),
        (resource.RLIMIT_CORE, 0),
    ):
        _soft, hard = resource.getrlimit(which)
        bound = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(which, (bound, bound))


def die_with_parent(parent: int) -> None:
    _check(_libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl")
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)


class Channel:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def receive(self):
        return wire.receive(self.sock)

    def send(self, value) -> None:
        self.sock.sendall(wire.encode(value))


def _frames(tb, folder: Path) -> list[dict]:
    """The traceback's frames in the subject folder's files (the candidate's and the
    harness's), innermost last."""
    shown = []
    for frame in traceback.extract_tb(tb):
        if frame.filename.startswith("<"):  # <frozen importlib...>, <string>: not a file
            continue
        path = Path(frame.filename)
        try:
            name = str(path.resolve().relative_to(folder))
        except (ValueError, OSError):
            continue
        shown.append(
            {"file": name, "line": frame.lineno or 0, "function": frame.name, "code": frame.line}
        )
    return shown[-20:]


def _error(exc: BaseException, folder: Path) -> dict:
    message = str(exc)
    frames = _frames(exc.__traceback__, folder)
    if isinstance(exc, SyntaxError) and exc.filename:
        try:
            where = str(Path(exc.filename).resolve().relative_to(folder))
        except ValueError:
            where = Path(exc.filename).name
        message = f"{exc.msg} ({where}, line {exc.lineno})"
        frames.append(
            {"file": where, "line": exc.lineno or 0, "function": "<module>", "code": exc.text}
        )
    return {
        "type": type(exc).__name__,
        "builtin": type(exc).__module__ == "builtins",
        "message": message[:4000],
        "frames": frames[-20:],
    }


def _load(folder: Path, name: str):
    import importlib

    if not MODULE_NAME.match(name) or name.startswith("test_"):
        raise ImportError(f"{name!r} is not a module of the kata")
    if not (folder / f"{name}.py").is_file():
        raise ImportError(f"no module {name}.py in the kata")
    return importlib.import_module(name)


def _import_all(folder: Path) -> bytes:
    """Import every module of the kata (the harness last), so that code which does not
    load is known before any test runs; the answer, encoded."""
    names = sorted(
        path.stem
        for path in folder.glob("*.py")
        if MODULE_NAME.match(path.stem) and not path.stem.startswith(("test_", "conftest"))
    )
    names.sort(key=lambda name: name == "harness")
    output = io.StringIO()
    try:
        with redirect_stdout(output), redirect_stderr(output):
            for name in names:
                _load(folder, name)
        return wire.encode({"ok": None, "output": output.getvalue()[:OUTPUT_LIMIT]})
    except BaseException as exc:  # what fails to import is the answer
        return wire.encode(
            {"error": _error(exc, folder), "output": output.getvalue()[:OUTPUT_LIMIT]}
        )


def serve(channel: Channel) -> None:
    folder: Path | None = None
    modules: dict[str, object] = {}  # loaded once: a call then costs no stat or regex
    while True:
        try:
            request = channel.receive()
        except EOFError:
            return
        if not isinstance(request, dict) or request.get("op") not in ("load", "call"):
            return
        if request["op"] == "load":
            folder = Path(str(request["folder"])).resolve()
            os.chdir(folder)
            sys.path.insert(0, str(folder))
            channel.sock.sendall(_import_all(folder))
            continue
        assert folder is not None, "call before load"
        output = io.StringIO()
        try:
            with redirect_stdout(output), redirect_stderr(output):
                name = str(request.get("module"))
                module = modules.get(name) or modules.setdefault(name, _load(folder, name))
                function = getattr(module, str(request.get("function")))
                args, kwargs = request.get("args", []), request.get("kwargs", {})
                value = function(*args, **kwargs)
            answer = wire.encode({"ok": value, "output": output.getvalue()[:OUTPUT_LIMIT]})
        except BaseException as exc:  # whatever it raises is its answer
            answer = wire.encode(
                {"error": _error(exc, folder), "output": output.getvalue()[:OUTPUT_LIMIT]}
            )
        channel.sock.sendall(answer)


def _import_warm(names) -> None:
    import importlib

    for name in names:
        importlib.import_module(name)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def _become_subject(
    channel: Channel, parent: int, limits: tuple[int, int, int, int], warm, isolate=None
) -> None:
    """Everything a subject does before it answers: isolation (full), death with its
    parent, resource limits, the warm imports; then ``ready``, then the calls."""
    cpu_s, memory_mb, processes, file_mb = limits
    try:
        if isolate is not None:
            isolate()
        die_with_parent(parent)
        limit_resources(cpu_s, memory_mb * 2**20, processes, file_mb * 2**20)
        os.dup2(os.open(os.devnull, os.O_RDWR), 2)
        _import_warm(warm)
    except BaseException as exc:
        channel.send({"error": {"type": type(exc).__name__, "message": str(exc)[:2000]}})
        raise SystemExit(3) from None
    channel.send({"ready": "full" if isolate is not None else "process"})
    serve(channel)


def _quiet_stdio() -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):
        os.dup2(devnull, fd)
    os.close(devnull)


def zygote(control: socket.socket, parent: int, warm: list[str]) -> None:
    """A parent of subjects that has imported torch once, so a subject is a fork
    (milliseconds), not a new interpreter (1-3 s).  It never imports a kata's module and
    runs no candidate code: each child does, after it has become a subject exactly as a
    started one does (new session; in ``full`` isolation the namespaces and another user;
    limits; death with its parent, which is this process, which dies with the trusted
    one).  A child keeps no descriptor of the zygote's: only its socket and stderr.

    Requests (JSON, one per SOCK_SEQPACKET message), answered on the connection they came
    on: ``fork`` with the subject's socket and stderr as passed descriptors -> ``{"pid":
    N}``; ``wait`` -> ``{"status": S}`` (a ``Popen.returncode``, None while it runs);
    ``connect`` with a socket as passed descriptor: one more connection, for a trusted
    process of the caller's (a grading run in a process of its own), so answers never
    cross between callers.  A child is reaped only when asked, so its pid cannot be
    reused while the trusted side may still signal it.  The zygote ends when its first
    connection closes."""
    import gc
    import selectors

    die_with_parent(parent)
    _import_warm(warm)
    gc.freeze()  # forked subjects share the imported heap instead of copying it
    connections = selectors.DefaultSelector()
    connections.register(control, selectors.EVENT_READ)
    forked: dict[socket.socket, list[tuple[int, int | None]]] = {}  # per connection

    def drop(conn: socket.socket) -> None:
        """A connection closed (its trusted process ended, maybe killed): its subjects
        go too, and are reaped, since nobody is left to signal them."""
        connections.unregister(conn)
        conn.close()
        for pid, uid in forked.pop(conn, []):
            kill_tree(pid)
            if uid is not None:
                kill_user(uid)
            _wait(pid, 5.0)

    while True:
        for key, _events in connections.select():
            conn = key.fileobj
            try:
                data, fds, _flags, _addr = socket.recv_fds(conn, 65536, 2)
            except OSError:
                data, fds = b"", []
            try:
                request = json.loads(data) if data else {}
                op = request.get("op")
            except (ValueError, AttributeError):
                op = None
            answer: dict | None = None
            if op == "fork" and len(fds) == 2:
                pid = _fork_subject(request, fds, connections)  # it closes them
                fds = []
                uid = int(request["uid"]) if request.get("isolation") == "full" else None
                forked.setdefault(conn, []).append((pid, uid))
                answer = {"pid": pid}
            elif op == "wait":
                pid = int(request["pid"])
                answer = {"status": _wait(pid, request["timeout"])}
                if answer["status"] is not None:  # reaped: its pid may be reused, forget it
                    for subjects in forked.values():
                        subjects[:] = [entry for entry in subjects if entry[0] != pid]
            elif op == "connect" and len(fds) == 1:
                connections.register(
                    socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET, fileno=fds.pop()),
                    selectors.EVENT_READ,
                )
                answer = {"connected": True}
            for fd in fds:  # whatever a request passed and nothing took
                os.close(fd)
            if answer is not None:
                try:
                    conn.send(json.dumps(answer).encode())
                except OSError:
                    answer = None
            if answer is None:  # closed, or a request that is not one: that connection ends
                if conn is control:
                    return
                drop(conn)
            if op == "fork" and answer is not None:
                # what this subject needed, the next ones find imported (or import themselves)
                with suppress(Exception):
                    _import_warm(name for name in request["warm"] if name not in sys.modules)


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc), parents before their children."""
    children: dict[int, list[int]] = {}
    with suppress(OSError):
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    stat = Path(entry.path, "stat").read_text()
                    children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(
                        int(entry.name)
                    )
                except (OSError, IndexError, ValueError):
                    continue
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop(0)
        found.append(child)
        todo += children.get(child, [])
    return found


def kill_tree(pid: int) -> None:
    """Kill ``pid``'s process group and everything below it, in whatever group or
    session it put itself (stopped first, so that nothing starts meanwhile)."""
    with suppress(OSError):
        os.killpg(pid, signal.SIGSTOP)
    for child in descendants(pid):
        with suppress(OSError):
            os.killpg(os.getpgid(child), signal.SIGKILL)
        with suppress(OSError):
            os.kill(child, signal.SIGKILL)
    with suppress(OSError):
        os.killpg(pid, signal.SIGKILL)
    with suppress(OSError):
        os.kill(pid, signal.SIGKILL)


def kill_user(uid: int) -> None:
    """Kill every process of ``uid`` (full isolation: nothing a subject started survives
    it; each subject has a user of its own)."""
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and entry.stat().st_uid == uid:
                os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ValueError):
            continue


def _fork_subject(request: dict, fds: list[int], connections) -> int:
    """Fork one subject (see ``zygote``); its pid, in the zygote."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            for key in list(connections.get_map().values()):
                key.fileobj.close()
            connections.close()
            os.setsid()
            os.chdir(request["root"])
            os.environ["HOME"] = request["root"]
            os.dup2(fds[1], 2)
            os.close(fds[1])
            channel = Channel(socket.socket(fileno=fds[0]))
            limits = tuple(request["limits"])
            isolate = None
            if request.get("isolation") == "full":
                root, uid = Path(request["root"]), int(request["uid"])
                hide = [Path(p) for p in request.get("hide", [])]

                def isolate() -> None:
                    isolate_fully(root, uid, hide)

            _become_subject(channel, os.getppid(), limits, request["warm"], isolate)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    for fd in fds:
        os.close(fd)
    return pid


def _wait(pid: int, timeout: float) -> int | None:
    import time

    deadline = time.monotonic() + max(0.0, float(timeout))
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return -9  # already reaped: it ended
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.005)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m grader.grading.subject")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--zygote", action="store_true", help="fork subjects (see zygote())")
    parser.add_argument("--isolation", choices=("full", "process"), default="process")
    parser.add_argument("--root", default="", help="full: the folder subject folders live in")
    parser.add_argument("--uid", type=int, default=0)
    parser.add_argument("--hide", action="append", default=[])
    parser.add_argument("--warm", default="", help="modules to import before the first call")
    parser.add_argument("--cpu-s", type=int, default=600)
    parser.add_argument("--memory-mb", type=int, default=8192)
    parser.add_argument("--processes", type=int, default=64)
    parser.add_argument("--file-mb", type=int, default=64)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the grader's to answer
    _quiet_stdio()
    sys.dont_write_bytecode = True
    warm = list(filter(None, args.warm.split(",")))
    if args.zygote:
        zygote(socket.socket(fileno=args.fd), args.parent, warm)
        return
    isolate = None
    if args.isolation == "full":

        def isolate() -> None:
            isolate_fully(Path(args.root), args.uid, [Path(p) for p in args.hide])

    limits = (args.cpu_s, args.memory_mb, args.processes, args.file_mb)
    _become_subject(Channel(socket.socket(fileno=args.fd)), args.parent, limits, warm, isolate)


if __name__ == "__main__":
    main()
