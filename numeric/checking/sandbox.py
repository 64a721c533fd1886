"""Run a submission in a separate, limited process and call its functions with arrays.

One child process per submission runs every test in sequence (process start and ``import numpy`` cost
~0.1 s, paid once). Each call has its own wall-clock limit enforced *here*: on a timeout the whole
process tree is killed, the call fails, and the next call starts a fresh child that loads the submission
again (opaque caches from before are gone, so a test never mixes two processes).

Isolation (DESIGN.md §6), in layers, because one hostile file is in the same interpreter as the harness:
- ``python -I -S``: no environment variables, no user site, no ``.pth`` files (so an editable install of
  this toolkit is not on the path); ``sys.path`` is the standard library plus NumPy's directory.
- scrubbed environment, a fresh temporary working directory, stdin from /dev/null, stdout/stderr to files
  the parent reads afterwards (printing never reaches the result channel).
- resource limits (prlimit, before the harness is sent): address space (RLIMIT_AS), CPU seconds, file size, open files,
  processes (RLIMIT_NPROC: effective for ordinary users; the kernel exempts root, hence the next layers).
- in the child, before the submission loads: an import hook refusing autodiff libraries and this toolkit,
  and an audit hook (irremovable) refusing fork/exec/system/spawn/kill/ctypes/sockets, reads outside the
  standard library, NumPy and the working directory, and writes outside the working directory.
- after every run and on every timeout: SIGKILL to the child's session and process group, and a sweep of
  ``/proc`` for any process carrying this run's marker in its environment (catches ``setsid`` escapes).
- the result channel is a pipe pair whose numbers only the harness knows; each frame carries a random
  per-run token. Nothing computed in the child is trusted but raw arrays: dtypes are whitelisted, sizes
  capped, and all comparisons happen in the parent.
"""

from __future__ import annotations

import json
import os
import resource
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HARNESS = Path(__file__).with_name("_harness.py")
BOOTSTRAP = (
    "import os,sys\n"
    "i,o=int(sys.argv[1]),int(sys.argv[2])\n"
    "def r(n):\n"
    " b=b''\n"
    " while len(b)<n:\n"
    "  c=os.read(i,n-len(b))\n"
    "  if not c: raise SystemExit(4)\n"
    "  b+=c\n"
    " return b\n"
    "s=r(int.from_bytes(r(4),'big')).decode()\n"
    "g={'__name__':'__bptt_harness__'}\n"
    "exec(compile(s,'<bptt-harness>','exec'),g)\n"
    "del r,s\n"
    "g['main'](i,o)\n"
)

# Top-level packages the submission may not import unless the instructor allows them (--allow-import).
BLOCKED_IMPORTS = ("torch", "jax", "jaxlib", "autograd", "tensorflow", "keras", "mxnet", "chainer", "theano",
                   "numeric", "derive", "reports", "bptt", "sympy",
                   "ctypes", "_ctypes", "subprocess", "_posixsubprocess", "multiprocessing", "_multiprocessing",
                   "socket", "_socket", "pty", "resource")
ALLOWABLE = ("torch", "jax", "jaxlib", "autograd", "tensorflow", "keras", "mxnet", "chainer", "theano",
             "numeric", "derive", "reports", "bptt", "sympy")

_SAFE_DTYPES = frozenset("fciub")
_MAX_FRAME = 96 * 2**20
_OUTPUT_CAP = 20_000


class SandboxError(RuntimeError):
    """The checker itself could not start the sandbox (not the submission's fault)."""


@dataclass
class Handle:
    """An opaque value (a cs231n cache) kept inside the child; ``generation`` names the child process."""

    ident: int
    generation: int


@dataclass
class Other:
    """A returned value that is neither an array nor a container of arrays (reported by type name)."""

    type: str


@dataclass
class CallOutcome:
    """The result of one call.

    Attributes:
        ok: the function returned (``value`` is set).
        value: the decoded return value (arrays, tuples, lists, dicts, scalars, Handle, Other).
        error: for a failed call, {"type", "message", "where", "traceback"}; type is the exception
            class name, or "Timeout", "ProcessDied", "MissingFunction", "LoadFailed", "ProtocolError".
        mutated: {argument index: the argument's value after the call} for arguments changed in place.
        seconds: wall-clock time of the call.
    """

    ok: bool
    value: Any = None
    error: dict | None = None
    mutated: dict = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class Limits:
    """Per-submission limits. ``timeout`` is per call (s); ``memory_mb`` the address-space limit."""

    timeout: float = 10.0
    load_timeout: float = 20.0
    memory_mb: int = 1024
    max_processes: int = 64
    file_mb: int = 16


def _read_roots(allowed: tuple[str, ...]) -> list[str]:
    site = os.path.dirname(os.path.dirname(np.__file__))
    roots = [p for p in _child_sys_path() if p != site]  # the standard library only, never the parent's path
    numpy_dir = os.path.dirname(np.__file__)
    roots += [numpy_dir, numpy_dir + ".libs", os.path.join(os.path.dirname(numpy_dir), "numpy.libs")]
    import importlib.util
    for name in allowed:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            roots += list(spec.submodule_search_locations)
        elif spec is not None and spec.origin:
            roots.append(spec.origin)
    return [os.path.realpath(r) for r in roots]


def _child_sys_path(allowed: tuple[str, ...] = ()) -> list[str]:
    """The standard library, NumPy's site-packages, and the parent folder of each allowed package (an
    editable install is not on a ``-S`` path otherwise)."""
    import importlib.util
    import sysconfig
    paths = [sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib")]
    paths.append(os.path.join(sysconfig.get_paths()["stdlib"], "lib-dynload"))
    paths.append(os.path.dirname(os.path.dirname(np.__file__)))  # site-packages holding NumPy
    for name in allowed:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            paths.append(os.path.dirname(list(spec.submodule_search_locations)[0]))
    zipped = [p for p in sys.path if p.endswith(".zip")]
    return zipped + list(dict.fromkeys(paths))


def _limit(pid: int, limits: Limits, cpu_seconds: int) -> None:
    """Set the child's resource limits with prlimit(2) right after it started and before it receives the
    harness (so before any submission code exists in it): unlike a preexec_fn this is safe when the
    checker's process has threads."""
    mem = limits.memory_mb * 2**20
    wanted = [(resource.RLIMIT_AS, (mem, mem)), (resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1)),
              (resource.RLIMIT_FSIZE, (limits.file_mb * 2**20,) * 2), (resource.RLIMIT_CORE, (0, 0)),
              (resource.RLIMIT_NOFILE, (256, 256))]
    if os.getuid() != 0:  # root is exempt from RLIMIT_NPROC; for others it caps a fork bomb
        wanted.append((resource.RLIMIT_NPROC, (_count_user_processes(os.getuid()) + limits.max_processes,) * 2))
    for which, value in wanted:
        try:
            resource.prlimit(pid, which, value)
        except (ValueError, OSError):
            if which == resource.RLIMIT_AS:
                raise SandboxError("could not limit the memory of the submission's process")


def _count_user_processes(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += 1
            except OSError:
                pass
    return count


def sweep(marker: str, session: int | None = None) -> list[int]:
    """SIGKILL every process in ``session`` or carrying ``BPTT_SANDBOX=marker`` in its environment.

    Returns:
        the pids signalled (the caller's own process is never among them).
    """
    me, killed = os.getpid(), []
    needle = f"BPTT_SANDBOX={marker}".encode()
    for _round in range(5):  # a fork loop may create processes while we sweep: repeat until none left
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == me:
                continue
            pid = int(entry)
            try:
                with open(f"/proc/{pid}/stat", "rb") as f:
                    if f.read().rsplit(b")", 1)[-1].split()[0] == b"Z":
                        continue  # a zombie is already dead; its parent reaps it
                if session is not None and os.getsid(pid) == session:
                    found.append(pid)
                    continue
                with open(f"/proc/{pid}/environ", "rb") as f:
                    if needle in f.read().split(b"\0"):
                        found.append(pid)
            except (OSError, ProcessLookupError):
                continue
        if not found:
            break
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.01)
    return killed


class Sandbox:
    """One submission in one child process (restarted after a timeout or a crash).

    Args:
        submission: the student's file.
        mode: "module" (import it normally, ``__name__`` = "submission") or "library" (min-char-rnn:
            run only imports, defs and plain assignments of the top level).
        adapter: optional instructor adapter file, loaded as module "adapter" in the same child.
        allow_imports: top-level package names taken off the blocked list.
        limits: time and memory limits.
    """

    def __init__(self, submission: str | os.PathLike, mode: str = "module", adapter: str | None = None,
                 allow_imports: tuple[str, ...] = (), limits: Limits | None = None,
                 _unguarded_for_tests: bool = False):
        self.submission = Path(submission)
        self.mode, self.adapter = mode, adapter
        self.allow = tuple(allow_imports)
        self.limits = limits or Limits()
        self.blocked = tuple(n for n in BLOCKED_IMPORTS if n not in self.allow)
        self._unguarded = _unguarded_for_tests
        self.proc: subprocess.Popen | None = None
        self.generation = 0
        self.load_error: dict | None = None
        self.load_notes: list[str] = []
        self.stdout, self.stderr = "", ""
        self.events: list[str] = []  # timeouts, crashes, restarts: shown in the report
        self._root = Path(tempfile.mkdtemp(prefix="bptt-check-"))
        os.chmod(self._root, 0o700)
        self._marker = secrets.token_hex(8)
        self._token = secrets.token_hex(16)

    # ------------------------------------------------------------ lifecycle

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start(self) -> None:
        self.generation += 1
        work = self._root / f"work{self.generation}"
        work.mkdir()
        # the copy keeps the file's name, so that tracebacks and line texts read as the student's file
        student_copy = work / self.submission.name
        shutil.copyfile(self.submission, student_copy)
        if self.adapter:
            (work / "_adapter").mkdir()
            adapter_copy = work / "_adapter" / Path(self.adapter).name
            shutil.copyfile(self.adapter, adapter_copy)
        out = open(self._root / f"stdout{self.generation}", "wb")
        err = open(self._root / f"stderr{self.generation}", "wb")
        cmd_r, cmd_w = os.pipe()
        res_r, res_w = os.pipe()
        env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
               "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "BPTT_SANDBOX": self._marker}
        cpu = int(self.limits.load_timeout + 4 * self.limits.timeout) + 30
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-u", "-c", BOOTSTRAP, str(cmd_r), str(res_w)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=work, env=env, pass_fds=(cmd_r, res_w),
                start_new_session=True, close_fds=True)
        except OSError as exc:
            raise SandboxError(f"could not start {sys.executable}: {exc}") from exc
        finally:
            os.close(cmd_r)
            os.close(res_w)
            out.close()
            err.close()
        self._cmd, self._res, self._work = cmd_w, res_r, work
        _limit(self.proc.pid, self.limits, cpu)  # the child is blocked reading the harness until now
        self._send_raw(HARNESS.read_bytes())
        config = {"token": self._token, "sys_path": _child_sys_path(self.allow), "blocked_imports": list(self.blocked),
                  "allowable": list(ALLOWABLE),
                  "read_roots": _read_roots(self.allow), "unguarded_for_tests": self._unguarded}
        self._send(config)
        ready = self._receive(self.limits.load_timeout)
        if not ready.ok:
            raise SandboxError(f"the harness did not start: {ready.error}")
        load = self._request({"op": "load", "path": str(student_copy), "name": "submission",
                              "as": "student", "mode": self.mode,
                              "display_name": self.submission.name}, timeout=self.limits.load_timeout)
        if not load.ok:
            self.load_error = load.error
            return
        self.load_notes = list(load.value or [])
        if self.adapter:
            load = self._request({"op": "load", "path": str(adapter_copy), "name": "adapter",
                                  "as": "adapter", "mode": "module", "display_name": Path(self.adapter).name},
                                 timeout=self.limits.load_timeout)
            if not load.ok:
                self.load_error = dict(load.error, message="adapter: " + load.error["message"])

    def ensure_started(self) -> dict | None:
        """Start (or restart) the child and load the submission; returns the load error, if any."""
        if self.load_error is not None:
            return self.load_error  # loading is deterministic: a file that failed to load is not retried
        if self.proc is None or self.proc.poll() is not None:
            if self.proc is not None:
                self._kill()
            self._start()
        return self.load_error

    def _kill(self) -> None:
        if self.proc is None:
            return
        pid = self.proc.pid
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL does not fail
            pass
        sweep(self._marker, session=pid)
        for fd in (self._cmd, self._res):
            try:
                os.close(fd)
            except OSError:
                pass
        self._collect_output()
        self.proc = None

    def _collect_output(self) -> None:
        for stream in ("stdout", "stderr"):
            path = self._root / f"{stream}{self.generation}"
            try:
                data = path.read_bytes()[:_OUTPUT_CAP].decode("utf-8", "replace")
            except OSError:
                data = ""
            if data:
                prev = getattr(self, stream)
                setattr(self, stream, (prev + data)[:_OUTPUT_CAP])

    def close(self) -> None:
        """Kill the child and everything it started; remove the temporary directory."""
        self._kill()
        sweep(self._marker)
        shutil.rmtree(self._root, ignore_errors=True)

    # ------------------------------------------------------------ calls

    def call(self, fn: str, args: list, keep: int | None = None, target: str = "student",
             set_globals: dict | None = None, timeout: float | None = None) -> CallOutcome:
        """Call ``target.fn(*args)`` in the child.

        Args:
            fn: function name in the submission (or adapter) module.
            args: NumPy arrays, scalars, lists, tuples, dicts, Handles, or the string "<student>" for the
                student module (adapters receive it).
            keep: index of a returned tuple element to keep in the child as an opaque Handle (a cache).
            set_globals: module globals to assign before the call (min-char-rnn's Wxh, …).
            timeout: seconds for this call (default: the limits' per-call timeout).
        """
        load_error = self.ensure_started()
        if load_error is not None:
            return CallOutcome(False, error=dict(load_error, type="LoadFailed:" + load_error["type"]))
        blobs: list[bytes] = []
        try:
            encoded = [self._encode(a, blobs) for a in args]
            globs = {k: self._encode(v, blobs) for k, v in (set_globals or {}).items()}
        except _StaleHandle:
            return CallOutcome(False, error={"type": "StaleCache", "message": "this test's cache came from a "
                                             "process that was restarted", "where": "", "traceback": ""})
        request = {"op": "call", "target": target, "fn": fn, "args": encoded, "keep": keep,
                   "set_globals": globs}
        outcome = self._request(request, blobs, timeout or self.limits.timeout)
        # the child's claim that an argument changed is checked here against what was sent
        outcome.mutated = {i: v for i, v in outcome.mutated.items() if i < len(args) and _differs(args[i], v)}
        return outcome

    def _request(self, header: dict, blobs=(), timeout: float = 10.0) -> CallOutcome:
        start = time.monotonic()
        try:
            self._send(header, blobs)
        except (BrokenPipeError, OSError):
            self._died("the process died before the call")
            return CallOutcome(False, error=self._death_error(), seconds=0.0)
        outcome = self._receive(timeout)
        outcome.seconds = time.monotonic() - start
        if not outcome.ok and outcome.error and outcome.error["type"] in ("Timeout", "ProcessDied", "ProtocolError"):
            self._died(outcome.error["message"])
        return outcome

    def _died(self, why: str) -> None:
        self.events.append(why)
        self._kill()

    def _death_error(self) -> dict:
        code = self.proc.poll() if self.proc else None
        return {"type": "ProcessDied", "message": _describe_exit(code), "where": "", "traceback": ""}

    # ------------------------------------------------------------ framing

    def _send_raw(self, payload: bytes) -> None:
        data = len(payload).to_bytes(4, "big") + payload
        view = memoryview(data)
        while view:
            view = view[os.write(self._cmd, view):]

    def _send(self, header: dict, blobs=()) -> None:
        head = json.dumps(header).encode()
        self._send_raw(len(head).to_bytes(4, "big") + head + b"".join(blobs))

    def _read_exact(self, n: int, deadline: float) -> bytes | None:
        chunks = []
        while n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self._res], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(self._res, min(n, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def _receive(self, timeout: float) -> CallOutcome:
        deadline = time.monotonic() + timeout
        try:
            size = self._read_exact(4, deadline)
            if size is not None:
                n = int.from_bytes(size, "big")
                if n > _MAX_FRAME:
                    return CallOutcome(False, error=_err("ProtocolError", f"reply of {n} bytes exceeds the limit"))
                payload = self._read_exact(n, deadline)
            else:
                payload = None
        except EOFError:
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
            return CallOutcome(False, error=self._death_error())
        if payload is None:
            return CallOutcome(False, error=_err("Timeout", f"no answer within {timeout:g} s (an infinite loop? "
                                                 "a training loop?); the process was killed"))
        try:
            hlen = int.from_bytes(payload[:4], "big")
            header = json.loads(payload[4:4 + hlen].decode())
            blob = payload[4 + hlen:]
            if header.get("token") != self._token:
                return CallOutcome(False, error=_err("ProtocolError", "a reply without this run's token"))
            if not header.get("ok"):
                error = header.get("error") or {}
                return CallOutcome(False, error={k: str(error.get(k, ""))[:4000]
                                                 for k in ("type", "message", "where", "traceback")})
            if "notes" in header:
                return CallOutcome(True, value=[str(n)[:300] for n in header["notes"]][:50])
            value = self._decode(header.get("value", {"t": "none"}), blob)
            mutated = {int(i): self._decode(node, blob) for i, node in header.get("mutated", [])}
            return CallOutcome(True, value=value, mutated=mutated)
        except (ValueError, KeyError, TypeError, IndexError, RecursionError) as exc:
            return CallOutcome(False, error=_err("ProtocolError", f"malformed reply ({type(exc).__name__}: {exc})"))

    def _encode(self, value, blobs: list[bytes], depth: int = 0) -> dict:
        if isinstance(value, Handle):
            if value.generation != self.generation:
                raise _StaleHandle
            return {"t": "ref", "id": value.ident}
        if isinstance(value, str) and value == "<student>":
            return {"t": "module", "name": "student"}
        if isinstance(value, (np.ndarray, np.generic)):
            arr = np.array(value, order="C", copy=True)  # keeps 0-d arrays 0-d
            offset = sum(len(b) for b in blobs)
            blobs.append(arr.tobytes())
            return {"t": "array", "dtype": arr.dtype.str, "shape": list(arr.shape), "offset": offset,
                    "nbytes": arr.nbytes}
        if isinstance(value, (list, tuple)):
            return {"t": type(value).__name__, "items": [self._encode(v, blobs, depth + 1) for v in value]}
        if isinstance(value, dict):
            return {"t": "dict", "items": [[k, self._encode(v, blobs, depth + 1)] for k, v in value.items()]}
        if value is None or isinstance(value, (bool, int, float, str)):
            return {"t": "scalar", "v": value}
        raise TypeError(f"cannot send {type(value).__name__} to the sandbox")

    def _decode(self, node: dict, blob: bytes, depth: int = 0):
        if depth > 16:
            raise ValueError("nested too deeply")
        t = node["t"]
        if t == "array":
            dtype = np.dtype(str(node["dtype"]))
            if dtype.kind not in _SAFE_DTYPES or dtype.hasobject or dtype.fields is not None:
                return Other(f"array of dtype {dtype}")
            shape = tuple(int(s) for s in node["shape"])
            offset, nbytes = int(node["offset"]), int(node["nbytes"])
            count = int(np.prod(shape, dtype=np.int64)) if shape else 1
            if count < 0 or count * dtype.itemsize != nbytes or offset < 0 or offset + nbytes > len(blob):
                raise ValueError("array size does not match its blob")
            arr = np.frombuffer(blob, dtype=dtype, count=count, offset=offset).reshape(shape).copy()
            return arr[()] if node.get("scalar") and arr.ndim == 0 else arr
        if t in ("list", "tuple"):
            items = [self._decode(i, blob, depth + 1) for i in node["items"]]
            return items if t == "list" else tuple(items)
        if t == "dict":
            return {str(k): self._decode(v, blob, depth + 1) for k, v in node["items"]}
        if t == "handle":
            return Handle(int(node["id"]), self.generation)
        if t == "none":
            return None
        if t in ("bool", "str"):
            return node["v"] if isinstance(node["v"], (bool, str)) else Other(t)
        return Other(str(node.get("type", t))[:100])


def _differs(sent, back) -> bool:
    if isinstance(sent, np.ndarray):
        return not (isinstance(back, np.ndarray) and back.shape == sent.shape
                    and np.array_equal(back, sent, equal_nan=True))
    if isinstance(sent, dict):
        return not isinstance(back, dict) or any(_differs(v, back.get(k)) for k, v in sent.items())
    if isinstance(sent, (list, tuple)):
        return not isinstance(back, (list, tuple)) or len(back) != len(sent) or any(
            _differs(a, b) for a, b in zip(sent, back))
    return False


class _StaleHandle(Exception):
    pass


def _err(kind: str, message: str) -> dict:
    return {"type": kind, "message": message, "where": "", "traceback": ""}


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "the process stopped answering"
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
        hint = {"SIGXCPU": " (CPU time limit)", "SIGKILL": " (killed: memory or time limit)",
                "SIGXFSZ": " (file size limit)", "SIGSEGV": " (crashed)"}.get(name, "")
        return f"the process died from signal {name}{hint}"
    return f"the process exited with code {code} (os._exit or sys.exit at a bad moment?)"
