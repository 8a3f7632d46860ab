"""The trusted side of the boundary: kata tests call the candidate's code through it.

A kata's tests never import the candidate's module.  They ask for a handle::

    from grader.grading.boundary import candidate

    norm = candidate("layer_norm")            # the module under test, in the subject process
    y = norm.layer_norm(x, weight, bias)      # tensors in, tensors out: plain data

and every call becomes one round trip to the subject process (``grader.grading.subject``),
which imports the kata's modules (the candidate's files and the kata's ``harness.py``,
trusted code from base that builds objects the tests cannot send, such as a model from
its config) and answers with plain data.  Every assertion, oracle and hypothesis example
stays in this process.  What the candidate's code raises comes back as an exception here
(the builtin type when it is one, else ``CandidateError``) with the candidate's own frames
in its notes.  A subject that dies, hangs past the test's time or answers with something
malformed costs the candidate the test, never the grader.

One subject serves a whole run; it is started when the run starts (``start_run``), so it
imports torch while pytest collects, and replaced after a call that did not end cleanly.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import random
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.grading import wire

WARM = ("numpy", "torch", "torch.nn", "torch.nn.functional")
# Building any torch.optim optimizer imports torch._dynamo (about a second): a kata whose
# modules use torch.optim has its subject import it while it waits, not in a test.
WARM_OPTIM = ("torch.optim", "torch._dynamo")
# Full isolation: each subject gets a user and group of its own from this range (no account
# needed), so killing "every process of the subject's user" never touches another subject.
SUBJECT_UIDS = range(2_000_000, 2_900_000)
READY_TIMEOUT_S = 120.0
MAX_UNANSWERED = 16  # requests to a zygote not yet answered (each may carry descriptors)
LOAD_ERROR_ID = "<the kata's modules>"  # a run's collection error: they did not load


class CandidateError(Exception):
    """The candidate's code raised something that is not a builtin exception, returned a
    value that cannot cross, or ended its process."""


class SubjectUnavailable(RuntimeError):
    """The subject process could not be started or isolated (a grader problem)."""


@dataclass(frozen=True)
class Limits:
    cpu_s: int = 600  # CPU seconds for one subject (children included, one by one)
    memory_mb: int = 8192  # address space
    processes: int = 64  # per user in full isolation; per this user otherwise
    file_mb: int = 64


def full_isolation_available() -> bool:
    """Full isolation needs root (namespaces and another user) on Linux."""
    return sys.platform == "linux" and os.geteuid() == 0


def default_isolation() -> str:
    wanted = os.environ.get("KATA_ISOLATION", "")
    if wanted in ("full", "process"):
        return wanted
    return "full" if full_isolation_available() else "process"


class Subject:
    """One subject process and its socket."""

    def __init__(
        self,
        isolation: str = "process",
        limits: Limits | None = None,
        hide: tuple[Path, ...] = (),
        warm: tuple[str, ...] = WARM,
    ) -> None:
        self.isolation = isolation
        self.limits = limits or Limits()
        self.folder: Path | None = None
        self.root = _subject_root(isolation)
        self.uid = random.SystemRandom().choice(SUBJECT_UIDS) if isolation == "full" else None
        ours, theirs = socket.socketpair()
        command = [
            sys.executable,
            "-I",
            "-m",
            "grader.grading.subject",
            "--fd",
            str(theirs.fileno()),
            "--parent",
            str(os.getpid()),
            "--isolation",
            isolation,
            "--cpu-s",
            str(self.limits.cpu_s),
            "--memory-mb",
            str(self.limits.memory_mb),
            "--processes",
            str(self.limits.processes),
            "--file-mb",
            str(self.limits.file_mb),
        ]
        command += ["--warm", ",".join(warm)]
        if isolation == "full":
            command += ["--root", str(self.root), "--uid", str(self.uid)]
            for path in hide:
                command += ["--hide", str(path)]
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in kill()
        zygote = _zygote(warm)
        if zygote is not None:
            limits_list = [self.limits.cpu_s, self.limits.memory_mb]
            limits_list += [self.limits.processes, self.limits.file_mb]
            request = {"op": "fork", "root": str(self.root), "limits": limits_list}
            request.update(warm=list(warm), isolation=isolation)
            if isolation == "full":
                request.update(uid=self.uid, hide=[str(path) for path in hide])
            self.process: subprocess.Popen | _Forked = zygote.fork(request, theirs, self.stderr)
        else:
            self.process = subprocess.Popen(
                command,
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self.stderr,
                env=_subject_env(self.root),
                cwd=self.root,
                start_new_session=True,
            )
        theirs.close()
        self.sock = ours
        self.ready = False
        self.lock = threading.Lock()

    # --- the wire ---------------------------------------------------------------

    def _exchange(self, request: Any, timeout: float | None = None) -> Any:
        self.sock.settimeout(timeout)
        if request is not None:
            self.sock.sendall(wire.encode(request))
        return wire.receive(self.sock)

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        if self.ready:
            return
        try:
            answer = self._exchange(None, timeout)
        except (EOFError, OSError, wire.WireError) as exc:
            self.kill()
            raise SubjectUnavailable(
                f"the subject process did not start ({type(exc).__name__}): {self.diagnostics()}"
            ) from None
        if not isinstance(answer, dict) or answer.get("ready") != self.isolation:
            self.kill()
            detail = answer.get("error") if isinstance(answer, dict) else answer
            raise SubjectUnavailable(f"the subject process could not isolate itself: {detail}")
        self.ready = True

    def load(self, folder: Path, timeout: float = READY_TIMEOUT_S) -> dict | None:
        """Point the subject at the folder it imports from (once) and let it import the
        kata's modules: None when they loaded, else the error (as the wire carries it)."""
        self.wait_ready()
        self.folder = folder
        if self.uid is not None:
            _hand_over(folder, self.uid)
        try:
            answer = self._exchange({"op": "load", "folder": str(folder)}, timeout)
        except TimeoutError:
            self.kill()
            return {
                "type": "TimeoutError",
                "builtin": True,
                "message": f"importing the kata's modules did not finish in {timeout:g} s: "
                "does the code loop when it is imported?",
            }
        except (EOFError, ConnectionError, wire.WireError):
            self.kill()
            return {"type": "CandidateError", "message": self._ended()}
        if not isinstance(answer, dict) or not ({"ok", "error"} & answer.keys()):
            self.kill()
            return {"type": "CandidateError", "message": "the subject sent a malformed answer"}
        if "error" in answer:
            return answer["error"] if isinstance(answer["error"], dict) else {}
        return None

    def call(self, module: str, function: str, args: tuple, kwargs: dict) -> Any:
        """One round trip.  Any interruption (a test's time limit included) leaves the
        subject in an unknown state: it is killed, and the run starts a new one."""
        if self.process.poll() is not None:
            raise CandidateError(self._ended())
        request = {"op": "call", "module": module, "function": function}
        try:
            request["args"], request["kwargs"] = list(args), dict(kwargs)
            frame = wire.encode(request)
        except wire.WireError as exc:
            raise TypeError(f"the test sent a value that cannot cross: {exc}") from None
        try:
            self.sock.settimeout(None)
            self.sock.sendall(frame)
            answer = wire.receive(self.sock)
        except wire.WireError as exc:
            self.kill()
            raise CandidateError(f"the code under test sent a malformed answer: {exc}") from None
        except (EOFError, ConnectionError):
            self.kill()
            raise CandidateError(self._ended()) from None
        except BaseException:
            self.kill()
            raise
        if not isinstance(answer, dict) or not ({"ok", "error"} & answer.keys()):
            self.kill()
            raise CandidateError("the code under test sent a malformed answer")
        output = answer.get("output")
        if isinstance(output, str) and output:
            sys.stdout.write(output)  # pytest captures it into this test's output
        if "error" in answer:
            raise _raised(answer["error"], module, function)
        return answer["ok"]

    def _ended(self) -> str:
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        how = (
            f"killed by signal {-code}" if code is not None and code < 0 else f"exit status {code}"
        )
        hint = ""
        if code is not None and -code in (9, 24):  # SIGKILL, SIGXCPU
            hint = " (it was stopped at a resource limit: CPU time, memory or processes)"
        return f"the process running the code under test ended ({how}){hint}"

    def diagnostics(self) -> str:
        try:
            self.stderr.seek(0)
            return self.stderr.read(2000).decode(errors="replace").strip() or "no output"
        except (OSError, ValueError):
            return "no output"

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """Kill the subject and everything it started (its process group; in full
        isolation, every process of the subject user)."""
        pid = self.process.pid
        for target in (-pid, pid) if pid > 0 else ():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(target, 9)
        if self.uid is not None:
            from grader.grading.subject import kill_user

            kill_user(self.uid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        self.sock.close()
        self.stderr.close()


def _subject_env(root: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(root),
        "USER": "kata-subject",
        "LOGNAME": "kata-subject",
        "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


# --- process isolation: subjects forked from a zygote that has imported torch -------------


class _Zygote:
    """``python -m grader.grading.subject --zygote``: imports torch once and forks each
    subject of this process (see ``subject.zygote``), in either isolation (it runs as this
    process's user: root where full isolation is available).  Requests are answered in
    order; answers are read when needed, so asking for a subject never waits for the
    zygote to finish importing (the tests are collected meanwhile).  A grading run in a
    process of its own uses its parent's zygote over a connection of its own
    (``connection``, ``attach_zygote``)."""

    def __init__(self, warm: tuple[str, ...] = (), sock: socket.socket | None = None) -> None:
        self.lock = threading.Lock()
        self.pending: list[dict] = []  # a slot per request not yet answered, in order
        self.ended = False
        self.process: subprocess.Popen | None = None
        if sock is not None:  # a connection to another process's zygote
            self.sock = sock
            return
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        root = _subject_root("process")
        command = [sys.executable, "-I", "-m", "grader.grading.subject", "--zygote"]
        command += ["--fd", str(theirs.fileno()), "--parent", str(os.getpid())]
        command += ["--warm", ",".join(warm)]
        self.process = subprocess.Popen(
            command,
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=_subject_env(root),
            cwd="/",  # not the subject root: that is removed when no run uses it
            start_new_session=True,
        )
        theirs.close()
        self.sock = ours

    def _ask(self, request: dict, fds: list[int]) -> dict:
        slot: dict = {}
        with self.lock:
            try:
                socket.send_fds(self.sock, [json.dumps(request).encode()], fds)
            except OSError:  # it ended: no answer (the next subject gets a new zygote)
                self.ended = True
                slot["answer"] = {}
                return slot
            self.pending.append(slot)
        return slot

    def answer(self, slot: dict) -> dict:
        """The zygote's answer to the request ``slot`` stands for ({} if it ended)."""
        with self.lock:
            while "answer" not in slot and self._receive(block=True):
                pass
        return slot["answer"]

    def _drain(self) -> None:
        """Take the answers already sent, so that unread ones never fill the socket; and
        wait while too many requests are unanswered, so that the descriptors they carry
        never exceed what the zygote may hold."""
        with self.lock:
            while self.pending and self._receive(block=False):
                pass
            while len(self.pending) > MAX_UNANSWERED and self._receive(block=True):
                pass

    def _receive(self, block: bool) -> bool:
        """One answer into the oldest waiting slot; False when none came (not blocking)
        or the zygote ended (then every waiting slot gets ``{}``)."""
        try:
            data = self.sock.recv(65536, 0 if block else socket.MSG_DONTWAIT)
            value = json.loads(data) if data else {}
        except BlockingIOError:
            return False
        except (OSError, ValueError):
            value = {}
        if not isinstance(value, dict) or not value:  # ended: no answer for anyone
            self.ended = True
            for waiting in self.pending:
                waiting["answer"] = {}
            self.pending.clear()
            return False
        self.pending.pop(0)["answer"] = value
        return True

    def fork(self, request: dict, sock: socket.socket, stderr) -> _Forked:
        return _Forked(self, self._ask(request, [sock.fileno(), stderr.fileno()]))

    def wait(self, pid: int, timeout: float) -> int | None:
        answer = self.answer(self._ask({"op": "wait", "pid": pid, "timeout": timeout}, []))
        if "status" not in answer:
            return -9  # the zygote ended, and its subjects with it
        status = answer["status"]
        return status if isinstance(status, int) else None

    def connection(self) -> socket.socket | None:
        """A new connection to this zygote, for a process this one starts (None if the
        zygote has ended).  Not waited for: the zygote takes it up once it has imported
        what it imports, and the process using it collects its tests meanwhile (its
        requests wait in the socket); the answer is read with the next one's."""
        self._drain()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with theirs:
            self._ask({"op": "connect"}, [theirs.fileno()])
        if self.ended:
            ours.close()
            return None
        return ours

    def alive(self) -> bool:
        return not self.ended and (self.process is None or self.process.poll() is None)


class _Forked:
    """A subject forked by the zygote, with the part of ``Popen``'s interface a
    ``Subject`` uses (``pid`` is 0 when the zygote never answered)."""

    def __init__(self, zygote: _Zygote, slot: dict) -> None:
        self.zygote, self.slot = zygote, slot
        self.returncode: int | None = None
        self.pidfd: int | None = None

    @property
    def pid(self) -> int:
        pid = self.zygote.answer(self.slot).get("pid")
        return pid if isinstance(pid, int) and pid > 0 else 0

    def poll(self) -> int | None:
        """Without asking the zygote while the process runs (it may be importing).  Asked
        before every call, so it must cost microseconds: a pidfd (the process is not
        reaped before the trusted side asks, so its pid cannot have been reused) turns
        readable when the process ends."""
        if self.returncode is None and self.pid:
            if self.pidfd is None:
                with contextlib.suppress(OSError):
                    self.pidfd = os.pidfd_open(self.pid)
            if self.pidfd is not None:
                if not select.select([self.pidfd], [], [], 0)[0]:
                    return None
            else:
                with contextlib.suppress(OSError, IndexError):
                    stat = Path(f"/proc/{self.pid}/stat").read_text()
                    if stat.rsplit(")", 1)[1].split()[0] != "Z":
                        return None
        return self._wait(5.0)

    def wait(self, timeout: float | None = None) -> int:
        code = self._wait(READY_TIMEOUT_S if timeout is None else timeout)
        if code is None:
            raise subprocess.TimeoutExpired(["subject", str(self.pid)], timeout or 0)
        return code

    def _wait(self, timeout: float) -> int | None:
        if self.returncode is None:
            pid = self.pid
            self.returncode = self.zygote.wait(pid, timeout) if pid else -9
        if self.returncode is not None and self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None
        return self.returncode


_ZYGOTE: _Zygote | None = None


def _zygote(warm: tuple[str, ...]) -> _Zygote | None:
    """This process's zygote (or the one it was given, ``attach_zygote``), started on
    first use; None where subjects are started as new interpreters instead:
    ``KATA_SUBJECT_ZYGOTE=0``, or a thread other than the main one (the zygote dies with
    the thread that started it, ``PR_SET_PDEATHSIG``)."""
    global _ZYGOTE
    if os.environ.get("KATA_SUBJECT_ZYGOTE", "1") == "0":
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    if _ZYGOTE is None or not _ZYGOTE.alive():
        if _ZYGOTE is not None:
            _ZYGOTE.sock.close()
        _ZYGOTE = _Zygote(warm)
    return _ZYGOTE


def zygote_connection(warm: tuple[str, ...]) -> socket.socket | None:
    """A connection to this process's zygote (started now if need be, importing ``warm``)
    for a grading run in a child process, which passes it to ``attach_zygote``; None
    where subjects are not forked (see ``_zygote``)."""
    zygote = _zygote(warm)
    return zygote.connection() if zygote is not None else None


def attach_zygote(sock: socket.socket) -> None:
    """Fork this process's subjects from the zygote ``sock`` connects to (its parent's):
    this process need not start one of its own."""
    global _ZYGOTE
    _ZYGOTE = _Zygote(sock=sock)


def _raised(error: Any, module: str, function: str) -> BaseException:
    where = f"in {module}.{function}" if function else module

    if not isinstance(error, dict):
        return CandidateError("the code under test sent a malformed error")
    name = str(error.get("type", "Exception"))[:100]
    message = str(error.get("message", ""))[:4000]
    kind = getattr(builtins, name, None) if error.get("builtin") else None
    if name == CandidateError.__name__ and not error.get("builtin"):
        exc: BaseException = CandidateError(message)  # said by this side (the subject ended)
    elif not (isinstance(kind, type) and issubclass(kind, Exception)) or kind is AssertionError:
        exc = CandidateError(f"{name}: {message}")
    else:
        try:
            exc = kind(message)
        except Exception:
            exc = CandidateError(f"{name}: {message}")
    frames = error.get("frames")
    lines = [f"raised by the code under test, {where}:"]
    for frame in frames if isinstance(frames, list) else []:
        if isinstance(frame, dict):
            lines.append(
                f"  {str(frame.get('file'))[:200]}:{frame.get('line')} in "
                f"{str(frame.get('function'))[:100]}: {str(frame.get('code') or '').strip()[:200]}"
            )
    exc.add_note("\n".join(lines))
    return exc


_ROOTS: dict[str, Path] = {}


def _subject_root(isolation: str) -> Path:
    """Where subject folders live: in full isolation a folder others may enter (0711) but
    not list, outside every folder of the trusted side."""
    if isolation not in _ROOTS:
        root = Path(tempfile.mkdtemp(prefix="kata-subjects-"))
        if isolation == "full":
            root.chmod(0o711)
        _ROOTS[isolation] = root
        import atexit

        atexit.register(shutil.rmtree, root, True)
    return _ROOTS[isolation]


def _hand_over(folder: Path, uid: int) -> None:
    """Full isolation: the subject user owns its folder, and only it."""
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, uid, uid, follow_symlinks=False)
    folder.chmod(0o700)


def subject_folder(source: Path, isolation: str) -> Path:
    """A fresh folder holding the kata's modules from ``source`` (every ``*.py`` that is
    not a test file) and nothing else, for one subject."""
    folder = Path(tempfile.mkdtemp(prefix="run-", dir=_subject_root(isolation)))
    for path in sorted(source.glob("*.py")):
        if not path.name.startswith(("test_", "conftest")) and path.is_file():
            shutil.copyfile(path, folder / path.name)
    return folder


def warm_for(folder: Path) -> tuple[str, ...]:
    """What the subject imports while the tests are collected: torch and NumPy when the
    kata's modules use them (a torch-free kata should not pay for torch)."""
    text = "\n".join(
        path.read_text(errors="replace")[:20_000] for path in sorted(folder.glob("*.py"))[:20]
    )
    uses = {
        name for name in ("torch", "numpy") if f"import {name}" in text or f"from {name}" in text
    }
    warm = tuple(name for name in WARM if name.split(".")[0] in uses)
    return warm + WARM_OPTIM if "torch" in uses and "optim" in text else warm


# --- the run: one subject per folder of candidate code ------------------------------


class Run:
    """The subject of one test run, replaced when a call leaves it in an unknown state."""

    def __init__(
        self, folder: Path, isolation: str, limits: Limits | None, hide: tuple, owned: bool
    ) -> None:
        self.folder, self.isolation, self.limits, self.hide = folder, isolation, limits, hide
        self.owned = owned  # a copy made for this run, removed with it
        self.subject: Subject | None = None
        self.started = 0
        self.load_error: dict | None = None
        self.load_timeout_s = READY_TIMEOUT_S

    def start(self) -> Subject:
        if self.subject is None or not self.subject.alive():
            if self.subject is not None:
                self.subject.kill()
            warm = warm_for(self.folder)
            self.subject = _take_spare(self.isolation, self.limits, self.hide, warm) or Subject(
                self.isolation, self.limits, self.hide, warm
            )
            self.started += 1
        return self.subject

    def ready(self) -> Subject:
        """The subject, its folder loaded; raises what loading raised (on every call:
        code that does not load passes nothing)."""
        if self.load_error is not None:
            raise _raised(self.load_error, "while importing the kata's modules", "")
        subject = self.start()
        if subject.folder is None:
            self.load_error = subject.load(self.folder, self.load_timeout_s)
            if self.load_error is not None:
                raise _raised(self.load_error, "while importing the kata's modules", "")
        return subject

    def close(self) -> None:
        if self.subject is not None:
            self.subject.kill()
            self.subject = None
        if self.owned:
            shutil.rmtree(self.folder, ignore_errors=True)


_RUN: Run | None = None
_SPARE: tuple[tuple, Subject] | None = None


def prewarm(
    folder: Path,
    *,
    isolation: str = "process",
    limits: Limits | None = None,
    hide: tuple[Path, ...] = (),
) -> None:
    """Start, in the background, the subject the next run on ``folder``'s kata will take:
    it imports torch now, not when the candidate saves (``kata watch``)."""
    global _SPARE
    warm = warm_for(folder)
    key = (isolation, limits, hide, warm)
    if _SPARE is not None:
        if _SPARE[0] == key and _SPARE[1].alive():
            return
        _SPARE[1].kill()
    _SPARE = (key, Subject(isolation, limits, hide, warm))


def _take_spare(isolation, limits, hide, warm) -> Subject | None:
    global _SPARE
    if _SPARE is None:
        return None
    key, subject = _SPARE
    _SPARE = None
    if key == (isolation, limits, hide, warm) and subject.alive():
        return subject
    subject.kill()
    return None


def start_run(
    folder: Path,
    *,
    isolation: str = "process",
    limits: Limits | None = None,
    hide: tuple[Path, ...] = (),
    owned: bool = True,
) -> Run:
    """Start the subject for the candidate code in ``folder`` (it warms up meanwhile);
    an ``owned`` folder is a copy made for this run, removed when it stops."""
    global _RUN
    stop_run()
    _RUN = Run(folder.resolve(), isolation, limits, hide, owned=owned)
    _RUN.start()
    return _RUN


def stop_run() -> None:
    global _RUN
    if _RUN is not None:
        _RUN.close()
        _RUN = None
    for isolation, root in list(_ROOTS.items()):
        with contextlib.suppress(OSError):  # still in use (a spare's, a local run's): kept
            root.rmdir()
            del _ROOTS[isolation]


_LOCAL_RUNS: dict[Path, Run] = {}


def current_run(caller_folder: Path | None) -> Run:
    """The run ``start_run`` started; for a plain ``pytest katas/...``, one per kata folder
    (the test file's own), started on first use."""
    if _RUN is not None:
        return _RUN
    if caller_folder is None:
        raise SubjectUnavailable("no run started and no kata folder to start one in")
    folder = caller_folder.resolve()
    if folder not in _LOCAL_RUNS:
        if not _LOCAL_RUNS:
            import atexit

            atexit.register(_stop_local_runs)
        _LOCAL_RUNS[folder] = Run(folder, "process", None, (), owned=False)
    return _LOCAL_RUNS[folder]


def _stop_local_runs() -> None:
    for run in _LOCAL_RUNS.values():
        run.close()
    _LOCAL_RUNS.clear()


class _Function:
    def __init__(self, module: RemoteModule, name: str) -> None:
        self.module, self.name = module, name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        run = current_run(self.module.caller_folder)
        subject = run.ready()
        return subject.call(self.module.name, self.name, args, kwargs)

    def __repr__(self) -> str:
        return f"<{self.module.name}.{self.name} in the subject process>"


class RemoteModule:
    """A kata module as the tests see it: its functions, called in the subject process."""

    def __init__(self, name: str, caller_folder: Path | None) -> None:
        self.name, self.caller_folder = name, caller_folder

    def __getattr__(self, attribute: str) -> _Function:
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        return _Function(self, attribute)

    def __repr__(self) -> str:
        return f"<kata module {self.name} in the subject process>"


def candidate(module: str) -> RemoteModule:
    """A handle on the kata module ``module`` (a file of the kata, without ``.py``)."""
    frame = sys._getframe(1)
    caller = frame.f_globals.get("__file__")
    return RemoteModule(module, Path(caller).resolve().parent if caller else None)


def wait_for_subject(load_timeout_s: float | None = None) -> str | None:
    """Block until the run's subject has started and imported the kata's modules (before
    the first test's clock; importing may take ``load_timeout_s``).  What stopped them
    from loading, as text, or None."""
    if _RUN is None:
        return None
    if load_timeout_s is not None:
        _RUN.load_timeout_s = load_timeout_s
    with contextlib.suppress(Exception):  # each call raises it again, or the subject's fault
        _RUN.ready()
    return None if _RUN.load_error is None else _traceback_text(_RUN.load_error)


def _traceback_text(error: dict) -> str:
    """A load error as pytest prints a traceback: frames (``file:line: in function`` and
    the line), then ``E   Type: message``."""
    lines = []
    frames = error.get("frames")
    for frame in frames if isinstance(frames, list) else []:
        if isinstance(frame, dict):
            lines.append(
                f"{str(frame.get('file'))[:200]}:{frame.get('line')}: in "
                f"{str(frame.get('function'))[:100]}"
            )
            if frame.get("code"):
                lines.append(f"    {str(frame['code']).strip()[:200]}")
    exc = _raised(error, "", "")
    lines.append(f"E   {type(exc).__name__}: {exc}")  # as a call would raise it
    return "\n".join(lines)
