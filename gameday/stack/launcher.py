"""The launcher, a fork server: a stack's Python services imported once, each service a fork of it.

A ``python -m module --config file`` start is nearly all imports. A stack starts its launcher early
(:meth:`Launcher.start`), which imports the modules the target names while the rest of the stack
comes up, before any thread or event loop exists, and forks each service on request. The child
becomes what ``python -m module args`` would have been: its own session, SIGKILLed when the launcher
dies (which dies with the harness); the stdin/stdout/stderr the harness passed and no other
descriptor; the signal dispositions and mask of a fresh interpreter, the request's cwd and
environment; ``sys.argv``, ``sys.orig_argv``, a fresh ``__main__`` run by runpy as ``-m`` runs it, and
``/proc/<pid>/cmdline`` as far as the launcher's own has room (its first word, the program the reaper
checks, is the same interpreter); an interpreter's exit (threads joined, atexit run, stdio flushed).
The launcher reaps its children and reports their exits: the harness holds a :class:`LaunchedProcess`
as it would an ``asyncio.subprocess.Process``. What it cannot start (it is gone; not ``python -m``;
another user; a stdin pipe; other ``PYTHON*`` variables) :meth:`Launcher.launch` leaves to an exec.
Wire (SOCK_SEQPACKET, a JSON object per message): to the launcher {"id", "module", "args", "argv",
"cwd", "env"} with stdin, stdout, stderr (SCM_RIGHTS); back {"id", "pid"} | {"id", "error"} | {"pid",
"status"} (a reaped child, its waitpid status).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import gc
import importlib
import itertools
import json
import os
import runpy
import selectors
import signal
import socket
import sys
import threading
import traceback
import types
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from gameday.stack.process import ManagedProcess, ProcessSpec, SpawnHook, die_with_parent, start_process

__all__ = ["LAUNCHER_ENV", "LAUNCH_TIMEOUT_S", "LaunchedProcess", "Launcher", "current_launcher",
           "use_launcher"]

_MAX_MESSAGE = 1 << 20
LAUNCHER_ENV = "GAMEDAY_LAUNCHER"
"""``off``: no launcher, every service exec'ed (to compare, or to rule the launcher out)."""
LAUNCH_TIMEOUT_S = 10.0
"""Bound on the launcher's answer (it answers between two imports): past it, the service is exec'ed."""
_CURRENT: ContextVar[Launcher | None] = ContextVar("gameday_launcher", default=None)


def current_launcher() -> Launcher | None:
    """The launcher of the stack this task runs in (set by :func:`use_launcher`), if any."""
    return _CURRENT.get()


def use_launcher(launcher: Launcher | None) -> None:
    """Python services started in this context from now on (its new tasks too) are forked by ``launcher``."""
    _CURRENT.set(launcher)


def _python_env(env: dict[str, str]) -> dict[str, str]:
    """What an interpreter reads only as it starts: a fork cannot honour a difference in these."""
    return {key: value for key, value in env.items() if key.startswith("PYTHON")}


# --- the harness's side ------------------------------------------------------------------------


class LaunchedProcess:
    """A child of the launcher, held as ``asyncio.subprocess.Process`` holds its own."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self.stdin: asyncio.StreamWriter | None = None
        self.stdout: asyncio.StreamReader | None = None
        self._exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pipes: list[asyncio.BaseTransport] = []

    async def wait(self) -> int:
        return await asyncio.shield(self._exited)

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def close_pipes(self) -> None:
        for pipe in self._pipes:
            pipe.close()

    def _exit(self, returncode: int) -> None:
        if self.returncode is None:
            self.returncode = returncode
            self._exited.set_result(returncode)


class Launcher:
    """A running fork server: :meth:`start` it, :meth:`launch` services, :meth:`close` it after them."""

    def __init__(self, process: ManagedProcess, control: socket.socket) -> None:
        self.process = process
        self._control = control
        self._python_env = _python_env(dict(os.environ))
        self._ids = itertools.count()
        self._replies: dict[int, asyncio.Future[LaunchedProcess | None]] = {}
        self._children: dict[int, LaunchedProcess] = {}
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, modules: Sequence[str], log_path: Path, *, on_spawn: SpawnHook) -> Launcher | None:
        """A launcher importing ``modules`` (a package's ``__main__`` too) in that order; ``None`` where
        the platform cannot run one (no pidfd), it cannot start, or :data:`LAUNCHER_ENV` is ``off``."""
        if not hasattr(os, "pidfd_open") or os.environ.get(LAUNCHER_ENV) == "off":
            return None
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            argv = [sys.executable, "-m", __name__, str(theirs.fileno()), *modules]
            spec = ProcessSpec(name="launcher", argv=argv, log_path=log_path, pass_fds=(theirs.fileno(),))
            process = await start_process(spec, on_spawn=on_spawn)
        except OSError:
            ours.close()
            return None
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        ours.setblocking(False)
        return cls(process, ours)

    async def launch(self, spec: ProcessSpec) -> LaunchedProcess | None:
        """``spec`` forked from the launcher, or ``None`` if it cannot be (exec it instead)."""
        argv = list(spec.argv)
        env = dict(os.environ if spec.env is None else spec.env)
        if (self._reader.done() or len(argv) < 3 or argv[:2] != [sys.executable, "-m"]
                or spec.user is not None or spec.stdin_pipe or spec.pass_fds
                or _python_env(env) != self._python_env):
            return None
        request_id = next(self._ids)
        reply = self._replies[request_id] = asyncio.get_running_loop().create_future()
        request = {"id": request_id, "module": argv[2], "args": argv[3:], "argv": argv,
                   "cwd": str(spec.cwd or os.getcwd()), "env": env}
        stdout_r, stdout_w = os.pipe() if spec.ready_line else (None, None)
        devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        try:
            with spec.log_path.open("ab") as log:
                stdout = log.fileno() if stdout_w is None else stdout_w
                await self._send(request, [devnull, stdout, log.fileno()])
            child = await asyncio.wait_for(reply, LAUNCH_TIMEOUT_S)
        except (OSError, TimeoutError):  # the launcher is gone, or stuck
            child = None
        except BaseException:
            if stdout_r is not None:
                os.close(stdout_r)
            raise
        finally:  # a reply that comes after this gave up is a child nobody holds: _read kills it
            self._replies.pop(request_id, None)
            os.close(devnull)
            if stdout_w is not None:
                os.close(stdout_w)
        if child is None:
            if stdout_r is not None:
                os.close(stdout_r)
            return None
        if stdout_r is not None:
            child.stdout = asyncio.StreamReader()
            pipe = os.fdopen(stdout_r, "rb", buffering=0)
            protocol = asyncio.StreamReaderProtocol(child.stdout)
            transport, _ = await asyncio.get_running_loop().connect_read_pipe(lambda: protocol, pipe)
            child._pipes.append(transport)
        return child

    async def close(self) -> None:
        """Stop the launcher (its children die with it: stop them first)."""
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)
        self._control.close()
        await self.process.stop()

    async def _send(self, message: dict[str, Any], fds: list[int]) -> None:
        data = json.dumps(message).encode()
        while True:
            try:
                socket.send_fds(self._control, [data], fds)
                return
            except BlockingIOError:
                await asyncio.sleep(0.002)

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while data := await loop.sock_recv(self._control, _MAX_MESSAGE):
                message = json.loads(data)
                if "status" in message:  # a child reaped
                    child = self._children.pop(message["pid"], None)
                    if child is not None:
                        child._exit(os.waitstatus_to_exitcode(message["status"]))
                    continue
                reply = self._replies.get(message["id"])
                if reply is None or reply.done():
                    if "pid" in message:  # its start was given up (cancelled)
                        with contextlib.suppress(OSError):
                            os.killpg(message["pid"], signal.SIGKILL)
                    continue
                child = None if "pid" not in message else LaunchedProcess(message["pid"])
                if child is not None:  # known before the reply is read, so an early exit finds it
                    self._children[child.pid] = child
                reply.set_result(child)
        except (OSError, ValueError):
            pass  # the launcher is gone, or talks nonsense: it is not used again
        finally:  # the launcher is gone: its children died with it (parent-death signal)
            for reply in self._replies.values():
                if not reply.done():
                    reply.set_result(None)
            for child in self._children.values():
                child._exit(-signal.SIGKILL)
            self._children.clear()


# --- the launcher's side -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Birth:
    """What a fresh interpreter started by the harness has, recorded before anything changes it."""

    pid: int
    dispositions: dict[int, Any]
    mask: set[int]
    cmdline: tuple[int, int] | None  # address and size of this process's argv strings

    @classmethod
    def record(cls) -> _Birth:
        catchable = set(signal.valid_signals()) - {signal.SIGKILL, signal.SIGSTOP}
        dispositions = {int(sig): signal.getsignal(sig) for sig in catchable}
        mask = {int(sig) for sig in signal.pthread_sigmask(signal.SIG_BLOCK, [])}
        stat = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        start, end = int(stat[45]), int(stat[46])  # arg_start, arg_end: fields 48 and 49
        return cls(os.getpid(), dispositions, mask, (start, end - start) if end > start else None)


def serve(control: socket.socket, modules: Sequence[str]) -> int:
    """Import ``modules`` one by one, answering requests between two imports (a request for one not
    imported yet imports it first); fork, reap, report."""
    birth = _Birth.record()
    pending = list(modules)
    selector = selectors.DefaultSelector()
    selector.register(control, selectors.EVENT_READ, None)
    while True:
        for key, _ in selector.select(0 if pending else None):
            if key.data is not None:  # a child's pidfd: it exited
                selector.unregister(key.fileobj)
                os.close(key.fd)
                _, status = os.waitpid(key.data, 0)
                _reply(control, {"pid": key.data, "status": status})
                continue
            try:
                data, fds, _, _ = socket.recv_fds(control, _MAX_MESSAGE, 3)
            except ConnectionError:
                return 0
            if not data:
                return 0  # the harness let go: leave (any child left dies with us)
            request = json.loads(data)
            if request.get("module") in pending:
                pending.remove(request["module"])
                _preload(request["module"])
            try:
                pid = _fork(request, fds, birth, control, selector)
            except OSError as error:
                _reply(control, {"id": request["id"], "error": str(error)})
            else:
                selector.register(os.pidfd_open(pid), selectors.EVENT_READ, pid)
                _reply(control, {"id": request["id"], "pid": pid})
            finally:
                for fd in fds:
                    os.close(fd)
        if pending:
            _preload(pending.pop(0))


def _reply(control: socket.socket, message: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):
        control.send(json.dumps(message).encode())


def _preload(module: str) -> None:
    try:
        imported = importlib.import_module(module)
        if hasattr(imported, "__path__"):  # a package run with -m runs its __main__
            importlib.import_module(f"{module}.__main__")
    except Exception:  # a service that cannot import says so itself, in its own log
        print(f"launcher: could not preload {module}:\n{traceback.format_exc()}", file=sys.stderr, flush=True)


def _fork(request: dict[str, Any], fds: list[int], birth: _Birth, control: socket.socket,
          selector: selectors.BaseSelector) -> int:
    if len(fds) != 3:
        raise OSError(f"expected 3 descriptors, got {len(fds)}")
    if threading.active_count() > 1 or len(os.listdir("/proc/self/task")) > 1:
        raise OSError("the launcher runs threads (an import started one): it cannot fork safely")
    sys.stdout.flush()
    sys.stderr.flush()
    gc.freeze()  # what the launcher imported stays out of the children's collections: fewer copied pages
    pid = os.fork()
    if pid == 0:
        try:
            _become(request, fds, birth, control, selector)
        except BaseException:  # reported on the service's stderr, never back in the launcher
            with contextlib.suppress(BaseException):
                os.write(2, f"launcher: could not start the service:\n{traceback.format_exc()}".encode())
        os._exit(127)
    return pid


def _become(request: dict[str, Any], fds: list[int], birth: _Birth, control: socket.socket,
            selector: selectors.BaseSelector) -> NoReturn:
    """In the child: become ``python -m module args``, run it, exit as the interpreter would."""
    os.setsid()
    die_with_parent()
    if os.getppid() != birth.pid:  # the launcher died before the signal was armed
        os._exit(1)
    selector.close()
    control.close()
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))
    for sig, handler in birth.dispositions.items():
        if handler is not None:
            with contextlib.suppress(OSError, ValueError):
                signal.signal(sig, handler)
    signal.pthread_sigmask(signal.SIG_SETMASK, birth.mask)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    module, args = request["module"], request["args"]
    _retitle(birth, request["argv"])
    sys.argv = ["-m", *args]
    sys.orig_argv = list(request["argv"])
    sys.path[0] = request["cwd"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    for name in (module, f"{module}.__main__"):  # run afresh as __main__, as -m runs it
        sys.modules.pop(name, None)
    os._exit(_run_as_main(module))


def _retitle(birth: _Birth, argv: list[str]) -> None:
    """Write ``argv`` over the launcher's own in memory: ``/proc/<pid>/cmdline`` then names the service
    (cut to the room there is; the last byte stays NUL, so the words stay NUL-separated)."""
    if birth.cmdline is not None:
        address, size = birth.cmdline
        words = b"\0".join(os.fsencode(word) for word in argv)[: size - 1]
        ctypes.memmove(address, words.ljust(size, b"\0"), size)


def _run_as_main(module: str) -> int:
    code, interrupted = 0, False
    try:
        runpy._run_module_as_main(module, alter_argv=True)  # type: ignore[attr-defined]  # what ``python -m`` calls
    except SystemExit as exit:
        code = _exit_code(exit.code)
    except KeyboardInterrupt:
        sys.excepthook(*sys.exc_info())
        code, interrupted = 1, True
    except BaseException:  # printed and exit code 1, as the interpreter does
        sys.excepthook(*sys.exc_info())
        code = 1
    with contextlib.suppress(BaseException):
        threading._shutdown()  # type: ignore[attr-defined]  # wait for non-daemon threads, as interpreter exit does
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # as the interpreter: an unflushable stdout is exit code 120
            code = 120 if code == 0 else code
    if interrupted:  # an uncaught KeyboardInterrupt ends the interpreter by SIGINT
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    return code


def _exit_code(code: object) -> int:
    if code is None or isinstance(code, int):
        return (code or 0) & 0xFF
    print(code, file=sys.stderr)
    return 1


if __name__ == "__main__":  # python -m gameday.stack.launcher CONTROL_FD MODULE ...
    sys.exit(serve(socket.socket(fileno=int(sys.argv[1])), sys.argv[2:]))
