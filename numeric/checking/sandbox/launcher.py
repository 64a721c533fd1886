"""Start, talk to, limit and clean up the child process of one submission (parent side).

One child per submission runs every test in sequence (process start and ``import numpy`` are paid
once). Each call has its own wall-clock limit, and all calls together a budget, both enforced here: on a
timeout the child and everything it started are killed, the call fails, and the next call starts a fresh
child that loads the submission again (opaque caches from before are gone, so a test never mixes two
processes). The layers around the child are chosen once per sandbox (layers.py) and reported.

The parent never opens a path the child could have created: the submission's files are sent over the
command pipe, the child's stdout/stderr are files this process created and keeps open (read back through
the same descriptors), and replies come back over a private pipe, decoded strictly (channel.py).
"""

from __future__ import annotations

import json
import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from numeric.checking.loading import Prepared, definitions_only
from numeric.checking.sandbox import channel, layers, namespaces, seccomp, user
from numeric.checking.sandbox.cleanup import remove_tree, sweep
from numeric.checking.sandbox.files import read_plain_file
from numeric.checking.sandbox.channel import ChannelClosed, ChannelTimeout, ProtocolError, StaleHandle
from numeric.checking.sandbox.text import display_text
from numeric.checking.sandbox.values import CallOutcome, Limits, SandboxError, error

HERE = Path(__file__).parent
BOOTSTRAP = (HERE / "bootstrap.py").read_text()
HARNESS = (HERE / "harness.py").read_bytes()

# Top-level packages the submission may not import unless the instructor allows them (--allow-import):
# autodiff and this toolkit, for the grade's sake. Standard modules such as subprocess or ctypes import
# fine (SciPy imports subprocess); using them is what the audit hook and seccomp refuse.
BLOCKED_IMPORTS = ("torch", "jax", "jaxlib", "autograd", "tensorflow", "keras", "mxnet", "chainer", "theano",
                   "numeric", "derive", "reports", "bptt", "sympy")
ALLOWABLE = ("torch", "jax", "jaxlib", "autograd", "tensorflow", "keras", "mxnet", "chainer", "theano",
             "numeric", "derive", "reports", "bptt", "sympy", "scipy")
# Importable without --allow-import: SciPy has no autodiff and no RNN gradients, and honest course code
# uses it (scipy.special.expit); it is bound read-only into the child's view like NumPy.
DEFAULT_PACKAGES = ("scipy",)
_OUTPUT_CAP = 20_000


class Sandbox:
    """One submission in one child process (restarted after a timeout or a crash).

    Args:
        submission: a :class:`~numeric.checking.loading.Prepared` (files + which one is the submission +
            how to load it), or the path of a single .py file.
        mode: for a path: "module" (run the file), "statements" (run every top-level statement one at a
            time, skipping failing ones: a notebook) or "library" (definitions only, as ``--load defs``).
        adapter: optional instructor adapter file, loaded as module "adapter" in the same child.
        allow_imports: top-level package names taken off the blocked list (and bound into the view).
        limits: time, budget and memory limits.
    """

    def __init__(self, submission: str | os.PathLike | Prepared, mode: str = "module", adapter: str | None = None,
                 allow_imports: tuple[str, ...] = (), limits: Limits | None = None,
                 _unguarded_for_tests: bool = False):
        if not isinstance(submission, Prepared):
            path = Path(submission)
            data = read_plain_file(path)
            if mode == "library":  # definitions only: the filter is the checker's (loading.py), not the child's
                source, _notes = definitions_only(data.decode("utf-8", errors="surrogateescape"))
                data = source.encode("utf-8", errors="surrogateescape")
            submission = Prepared({path.name: data}, path.name,
                                  "statements" if mode in ("library", "statements") else "module")
        self.prepared = submission
        self.files = dict(submission.files)
        for name in self.files:
            if not name or "/" in name or name.startswith(".") or "\0" in name:
                raise SandboxError(f"cannot ship a file named {name!r} (plain file names only)")
        self.adapter_name = None
        if adapter:
            self.adapter_name = Path(adapter).name
            while self.adapter_name in self.files:
                self.adapter_name = "adapter_" + self.adapter_name
            self.files[self.adapter_name] = read_plain_file(adapter)
        self.allow = tuple(allow_imports)
        self.limits = limits or Limits()
        self.blocked = tuple(n for n in BLOCKED_IMPORTS if n not in self.allow)
        self.packages = tuple(dict.fromkeys(DEFAULT_PACKAGES + self.allow))
        self._unguarded = _unguarded_for_tests
        self.proc: subprocess.Popen | None = None
        self.generation = 0
        self.load_error: dict | None = None
        self.load_notes: list[str] = list(submission.notes)
        self.stdout, self.stderr = "", ""
        self.events: list[str] = []  # timeouts, crashes, restarts: shown in the report
        self.spent = 0.0  # seconds of the budget used
        self._root = Path(tempfile.mkdtemp(prefix="bptt-check-"))
        os.chmod(self._root, 0o711)  # the child's uid may pass through to its own folder, not list
        self._marker = secrets.token_hex(8)
        self._token = secrets.token_hex(16)
        self._outputs: list[int] = []
        self._choose_layers()

    # ------------------------------------------------------------ layers

    def _choose_layers(self) -> None:
        self.isolation = layers.report(self.packages, self.limits)
        state = {d["layer"]: d for d in self.isolation}
        self.lease = None
        if state["separate user"]["in_force"]:
            try:
                self.lease = user.Lease()
                state["separate user"]["detail"] = f"uid/gid {self.lease.uid}, no groups (one per submission)"
            except OSError as err:
                state["separate user"].update(in_force=False, detail=f"no free uid ({err})")
        tool = namespaces.kind()[0]
        self.ns_tool = tool if state["namespaces"]["in_force"] or tool == "unshare" else "none"
        if self.lease and self.ns_tool != "bwrap" and not user.reachable(namespaces.view(self.packages)["binds"]):
            self.lease.release()  # without bubblewrap's view the uid could not even read the interpreter
            self.lease = None
            state["separate user"].update(in_force=False, detail="the interpreter's files are not readable by "
                                                                 "another user (they need bubblewrap's view)")
        elif self.lease and self.ns_tool != "bwrap":  # what a uid alone does not close (seen in a --batch)
            state["separate user"]["detail"] += ("; without bubblewrap's view it can still read every file "
                                                 "readable by all users (other submissions in a world-readable "
                                                 "folder, this toolkit) and write in /tmp (removed afterwards)")
        self.program = seccomp.program() if state["seccomp"]["in_force"] else b""

    @property
    def missing_layers(self) -> list[str]:
        """Required OS layers not in force for this sandbox (one line each)."""
        user_required = os.geteuid() == 0
        return [f"{d['layer']}: {d['detail']}" for d in self.isolation
                if not d["in_force"] and (d["layer"] in ("namespaces", "seccomp")
                                          or (d["layer"] == "separate user" and user_required))]

    # ------------------------------------------------------------ lifecycle

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _command(self) -> tuple[list[str], str]:
        """The child's command line and its working directory (as the parent's Popen sees it)."""
        python = [os.path.realpath(sys.executable), "-I", "-S", "-u", "-c", BOOTSTRAP]
        as_root = os.geteuid() == 0
        if self.ns_tool == "bwrap":
            argv = namespaces.bwrap_argv(self.packages, self.limits.work_mb * 2**20, separate_user=bool(self.lease))
            return argv + python, str(self._root)
        work = self._root / f"work{self.generation}"
        work.mkdir(mode=0o700)
        prefix = namespaces.unshare_argv(as_root) if self.ns_tool == "unshare" else []
        return prefix + python, str(work)

    def _start(self) -> None:
        self.generation += 1
        argv, cwd = self._command()
        out = self._output_file("stdout")
        err = self._output_file("stderr")
        cmd_r, cmd_w = os.pipe()
        res_r, res_w = os.pipe()
        home = namespaces.WORK if self.ns_tool == "bwrap" else cwd
        env = {"PATH": "/usr/bin:/bin", "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
               "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "BPTT_SANDBOX": self._marker}
        try:
            self.proc = subprocess.Popen(argv + [str(cmd_r), str(res_w)], stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=err, cwd=cwd, env=env, pass_fds=(cmd_r, res_w),
                                         start_new_session=True, close_fds=True)
        except OSError as exc:
            raise SandboxError(f"could not start {argv[0]}: {exc}") from exc
        finally:
            os.close(cmd_r)
            os.close(res_w)
        os.set_blocking(cmd_w, False)  # every write has a deadline (channel.write_frame)
        self._cmd, self._res = cmd_w, res_r
        started = time.monotonic()
        try:
            self._boot()
        finally:
            self.spent += time.monotonic() - started

    def _boot(self) -> None:
        lim = self.limits
        mem, cpu = lim.memory_mb * 2**20, int(lim.load_timeout + lim.budget) + 30
        rlimits = [(resource.RLIMIT_AS, mem, mem), (resource.RLIMIT_CPU, cpu, cpu + 1),
                   (resource.RLIMIT_FSIZE, lim.file_mb * 2**20, lim.file_mb * 2**20), (resource.RLIMIT_CORE, 0, 0),
                   (resource.RLIMIT_NOFILE, 256, 256)]
        if self.lease or os.geteuid() != 0:  # root itself is exempt from RLIMIT_NPROC
            rlimits.append((resource.RLIMIT_NPROC, lim.max_processes, lim.max_processes))
        setup = {"rlimits": rlimits, "uid": self.lease.uid if self.lease else None,
                 "gid": self.lease.gid if self.lease else None}
        deadline = time.monotonic() + lim.load_timeout
        try:
            for frame in (json.dumps(setup).encode(), self.program, HARNESS):
                channel.write_frame(self._cmd, frame, deadline)
            config = {"token": self._token, "sys_path": namespaces.view(self.packages)["sys_path"],
                      "blocked_imports": list(self.blocked), "allowable": list(ALLOWABLE),
                      "read_roots": namespaces.view(self.packages)["read_roots"],
                      "unguarded_for_tests": self._unguarded, "argv0": self.prepared.main}
            channel.write_frame(self._cmd, channel.pack(config), deadline)
        except (OSError, ChannelTimeout) as exc:
            raise SandboxError(f"the sandbox did not start: {exc} ({self._early_stderr()})") from exc
        ready = self._receive(self.limits.load_timeout, "ready")
        if not ready.ok:
            raise SandboxError(f"the harness did not start: {ready.error['message']} ({self._early_stderr()})")
        blobs = [self.files[n] for n in self.files]
        shipped = self._request({"op": "files", "files": [[n, len(self.files[n])] for n in self.files]}, blobs,
                                self.limits.load_timeout, "load")
        if not shipped.ok:
            raise SandboxError(f"could not ship the submission's files: {shipped.error['message']}")
        load = self._request({"op": "load", "path": self.prepared.main, "name": "submission", "as": "student",
                              "mode": self.prepared.mode}, timeout=self.limits.load_timeout, expect="load")
        if not load.ok:
            self.load_error = load.error
            return
        if self.generation == 1:
            self.load_notes.extend(load.value or [])
        if self.adapter_name:
            load = self._request({"op": "load", "path": self.adapter_name, "name": "adapter", "as": "adapter",
                                  "mode": "module"}, timeout=self.limits.load_timeout, expect="load")
            if not load.ok:
                self.load_error = dict(load.error, message="adapter: " + load.error["message"])

    def _output_file(self, stream: str) -> int:
        fd = os.open(self._root / f"{stream}{self.generation}",
                     os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        self._outputs.append(fd)
        return fd

    def _early_stderr(self) -> str:
        if not self._outputs:
            return ""
        try:
            return display_text(os.pread(self._outputs[-1], 500, 0).decode("utf-8", "replace")).strip()
        except OSError:
            return ""

    def ensure_started(self) -> dict | None:
        """Start (or restart) the child and load the submission; returns the load error, if any."""
        if self.load_error is not None:
            return self.load_error  # loading is deterministic: a file that failed to load is not retried
        if self.proc is None or self.proc.poll() is not None:
            if self.proc is not None:
                self._kill()
            if self.spent >= self.limits.budget:
                return error("BudgetSpent", self._budget_message())
            self._start()
        return self.load_error

    def _kill(self) -> None:
        if self.proc is None:
            return
        pid = self.proc.pid
        try:
            os.killpg(pid, signal.SIGKILL)  # bwrap/unshare: their namespace's init dies with them
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL does not fail
            pass
        sweep(self._marker, session=pid)
        if self.lease:
            user.kill_user_processes(self.lease.uid)
        for fd in (self._cmd, self._res):
            try:
                os.close(fd)
            except OSError:
                pass
        self._collect_output()
        work = self._root / f"work{self.generation}"
        if work.exists():
            remove_tree(work)
        self.proc = None

    def _collect_output(self) -> None:
        for stream, fd in zip(("stdout", "stderr"), self._outputs[-2:]):
            try:
                data = display_text(os.pread(fd, _OUTPUT_CAP, 0).decode("utf-8", "replace"))
            except OSError:
                data = ""
            if data:
                setattr(self, stream, (getattr(self, stream) + data)[:_OUTPUT_CAP])
        # read: their disk is given back now, not when the sandbox closes (a child that fills both up to
        # the file-size limit and dies in every call would otherwise add 2 x 16 MB per restart)
        for fd in self._outputs:
            try:
                os.ftruncate(fd, 0)
            except OSError:
                pass
            os.close(fd)
        self._outputs = []

    def close(self) -> None:
        """Kill the child and everything it started; release its uid; remove the temporary folder."""
        self._kill()
        sweep(self._marker)
        if self.lease:
            self.lease.release()
            self.lease = None
        for fd in self._outputs:
            os.close(fd)
        self._outputs = []
        remove_tree(self._root)

    # ------------------------------------------------------------ calls

    def _budget_message(self) -> str:
        return (f"the time budget of {self.limits.budget:g} s for this submission is spent "
                f"({self.spent:.1f} s used); the remaining calls were not run")

    def call(self, fn: str, args: list, keep: int | None = None, target: str = "student",
             set_globals: dict | None = None, timeout: float | None = None,
             find_method: bool = False) -> CallOutcome:
        """Call ``target.fn(*args)`` in the child.

        Args:
            fn: function name in the submission (or adapter) module.
            args: NumPy arrays, scalars, lists, tuples, dicts, Handles, or the string "<student>" for the
                student module (adapters receive it).
            keep: index of a returned tuple element to keep in the child as an opaque Handle (a cache).
            set_globals: module globals to assign before the call (min-char-rnn's Wxh, …).
            find_method: when the module has no function ``fn``, call the method ``fn`` of an instance of
                the file's own class that defines it (a module-level instance, else a new one made without
                ``__init__``); ``set_globals`` are then also set as that instance's attributes.
            timeout: seconds for this call (default: the limits' per-call timeout; never past the budget).
        """
        load_error = self.ensure_started()
        if load_error is not None:
            if load_error["type"] == "BudgetSpent":
                return CallOutcome(False, error=load_error)
            return CallOutcome(False, error=dict(load_error, type="LoadFailed:" + load_error["type"]))
        remaining = self.limits.budget - self.spent
        if remaining <= 0:
            return CallOutcome(False, error=error("BudgetSpent", self._budget_message()))
        blobs: list[bytes] = []
        try:
            encoded = [channel.encode(a, blobs, self.generation) for a in args]
            globs = {k: channel.encode(v, blobs, self.generation) for k, v in (set_globals or {}).items()}
        except StaleHandle:
            return CallOutcome(False, error=error("StaleCache", "this test's cache came from a process that "
                                                                "was restarted"))
        request = {"op": "call", "target": target, "fn": fn, "args": encoded, "keep": keep, "set_globals": globs,
                   "find_method": bool(find_method)}
        limit = min(timeout or self.limits.timeout, remaining)
        outcome = self._request(request, blobs, limit)
        self.spent += outcome.seconds
        if not outcome.ok and outcome.error["type"] == "Timeout" and limit < (timeout or self.limits.timeout):
            outcome.error = error("BudgetSpent", self._budget_message())
        # the child's claim that an argument changed is checked here against what was sent
        outcome.mutated = {i: v for i, v in outcome.mutated.items() if 0 <= i < len(args) and _differs(args[i], v)}
        return outcome

    def _request(self, header: dict, blobs=(), timeout: float = 10.0, expect: str = "call") -> CallOutcome:
        start = time.monotonic()
        try:
            channel.write_frame(self._cmd, channel.pack(header, blobs), start + timeout)
        except ChannelTimeout:
            outcome = CallOutcome(False, error=error("Timeout", f"the process stopped reading its input for "
                                                                f"{timeout:g} s; it was killed"))
            outcome.seconds = time.monotonic() - start
            self._died(outcome.error["message"])
            return outcome
        except OSError:
            self._died("the process died before the call")
            return CallOutcome(False, error=self._death_error())
        outcome = self._receive(timeout, expect, deadline=start + timeout)
        outcome.seconds = time.monotonic() - start
        if not outcome.ok and outcome.error["type"] in ("Timeout", "ProcessDied", "ProtocolError"):
            self._died(outcome.error["message"])
        return outcome

    def _receive(self, timeout: float, expect: str, deadline: float | None = None) -> CallOutcome:
        try:
            payload = channel.read_frame(self._res, deadline or time.monotonic() + timeout)
            reply = channel.decode_reply(payload, self._token, self.generation, expect)
        except ChannelTimeout:
            return CallOutcome(False, error=error("Timeout", f"no answer within {timeout:g} s (an infinite loop? "
                                                             "a training loop?); the process was killed"))
        except ChannelClosed:
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
            return CallOutcome(False, error=self._death_error())
        except ProtocolError as exc:
            return CallOutcome(False, error=error("ProtocolError", f"malformed reply: {exc}"))
        if not reply["ok"]:
            return CallOutcome(False, error=reply["error"])
        if expect == "load":
            return CallOutcome(True, value=reply["notes"])
        return CallOutcome(True, value=reply.get("value"), mutated=reply.get("mutated", {}))

    def _died(self, why: str) -> None:
        self.events.append(why)
        self._kill()

    def _death_error(self) -> dict:
        code = self.proc.poll() if self.proc else None
        return error("ProcessDied", _describe_exit(code))


def _differs(sent, back) -> bool:
    try:
        return channel.differs(sent, back)
    except Exception:  # noqa: BLE001 - an odd value that cannot be compared did change
        return True


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "the process stopped answering"
    # bubblewrap and unshare report a child killed by signal N as exit code 128 + N
    number = -code if code < 0 else code - 128 if code > 128 else 0
    if number in signal.Signals._value2member_map_:
        name = signal.Signals(number).name
        hint = {"SIGXCPU": " (CPU time limit)", "SIGKILL": " (killed: memory or time limit)",
                "SIGXFSZ": " (file size limit)", "SIGSEGV": " (crashed)",
                "SIGSYS": " (a system call the sandbox refuses)"}.get(name, "")
        return f"the process died from signal {name}{hint}" + (f" (exit code {code})" if code > 0 else "")
    return f"the process exited with code {code} (os._exit or sys.exit at a bad moment?)"
