"""The sandbox: every bad input is a precise failed test (the others still run, nothing survives); the
strict decoder of replies; what the child can see and do (tests/test_check_hostile.py has the attacks)."""

from __future__ import annotations

import errno
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from numeric.checking import check
from numeric.checking.demo import EXAMPLES
from numeric.checking.sandbox import Limits, Sandbox, missing_os_layers
from numeric.checking.sandbox.channel import ProtocolError, decode_reply
from numeric.checking.sandbox.values import Handle, Other

CORRECT = (EXAMPLES / "course_rnn_correct.py").read_text()


def _write(tmp_path: Path, text: str, name: str = "sub.py") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _bptt(report):
    return next(t for t in report.tests if t.name == "bptt")


def _forward(report):
    return next(t for t in report.tests if t.name == "forward")


# (id, source, where the failure shows: "load" or "bptt", text expected in the message)
BAD_INPUTS = [
    ("python2-print", CORRECT + "\nprint 'hello'\n", "load", "Python 2 print"),
    ("import-exception", "raise ValueError('boom at import')\n" + CORRECT, "load", "boom at import"),
    ("import-file-read", "data = open('input.txt').read()\n" + CORRECT, "load", "input.txt"),
    ("import-training-loop", CORRECT + "\nwhile True:\n    pass\n", "load", "import time"),
    ("sys-exit-at-import", "import sys\nsys.exit(3)\n" + CORRECT, "load", "SystemExit"),
    ("missing-function", CORRECT.replace("def bptt(", "def bptt_(") , "bptt", "does not define bptt()"),
    ("returns-none", CORRECT.replace("    return dU, dV, dW\n", "    pass\n"), "bptt", "returned None"),
    ("wrong-count", CORRECT.replace("return dU, dV, dW", "return dU, dV"), "bptt", "returned 2 values; expected 3"),
    ("wrong-shape", CORRECT.replace("return dU, dV, dW", "return dU.T, dV, dW"), "bptt", "the transpose"),
    ("nan", CORRECT.replace("return dU, dV, dW", "return dU * np.nan, dV, dW"), "bptt", "non-finite"),
    ("complex", CORRECT.replace("return dU, dV, dW", "return dU + 0j, dV, dW"), "bptt", "complex"),
    ("not-an-array", CORRECT.replace("return dU, dV, dW", "return 'dU', dV, dW"), "bptt", "got a str"),
    ("raises", CORRECT.replace("    return dU, dV, dW\n", "    return dU @ dV, dV, dW\n"), "bptt", "ValueError"),
    ("hang", CORRECT.replace("def bptt(x, o, h0, U, V, W):\n", "def bptt(x, o, h0, U, V, W):\n    while True:\n        pass\n"),
     "bptt", "no answer within"),
    ("memory", CORRECT.replace("def bptt(x, o, h0, U, V, W):\n", "def bptt(x, o, h0, U, V, W):\n    big = np.ones(10**10 // 8 * 8)\n"),
     "bptt", "MemoryError"),
    ("memory-in-chunks", CORRECT.replace("def bptt(x, o, h0, U, V, W):\n",
                                         "def bptt(x, o, h0, U, V, W):\n    hog = [np.empty(2**24) for _ in range(640)]\n"),
     "bptt", "MemoryError"),
    ("os-exit", CORRECT.replace("def bptt(x, o, h0, U, V, W):\n", "def bptt(x, o, h0, U, V, W):\n    import os; os._exit(0)\n"),
     "bptt", "exited with code 0"),
]


@pytest.mark.parametrize("source, where, text", [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_is_a_precise_failure(tmp_path, source, where, text):
    report = check(_write(tmp_path, source), "course", "rnn", timeout=1.0, numerical=False)
    assert not report.passed and report.exit_code == 1
    if where == "load":
        assert report.load_error and text in report.load_error, report.load_error
        assert all(not t.passed for t in report.tests if t.name == "bptt")
    else:
        errors = " | ".join(_bptt(report).errors)
        assert text in errors, errors
        assert _forward(report).passed, "the other test must still run and pass"


def test_hang_in_one_test_leaves_the_next_test_running(tmp_path):
    src = CORRECT.replace("def forward(x, h0, U, V, W):\n", "def forward(x, h0, U, V, W):\n    while True:\n        pass\n")
    src = src.replace("    h, o_hat = forward(x, h0, U, V, W)\n", "    h, o_hat = _fwd(x, h0, U, V, W)\n")
    src += "\n\n" + CORRECT.split("def bptt")[0].replace("def forward(", "def _fwd(")
    report = check(_write(tmp_path, src), "course", "rnn", timeout=1.0, numerical=False)
    assert not _forward(report).passed and "no answer within" in _forward(report).errors[0]
    assert _bptt(report).passed
    assert any("restarted" in n for n in report.notes)


# ---------------------------------------------------------------------------------------------- hostile

HOSTILE_PREFIX = "import os, sys\nimport numpy as np\n"

HOSTILE = [
    ("os-system", "os.system('touch /tmp/bptt_pwned')\n", "os.system"),
    ("fork-loop", "while True:\n    os.fork()\n", "os.fork"),
    ("read-reference-import", "import numeric.models\n", "not allowed"),
    ("read-reference-file", "open(r'%s').read()\n" % (Path(__file__).parents[1] / "numeric" / "models" / "elman.py"),
     "not allowed"),
    ("import-torch", "import torch\n", "not allowed"),
    ("kill-parent", "os.kill(os.getppid(), 9)\n", "os.kill"),
    ("subprocess", "import subprocess\nsubprocess.run(['true'])\n", "not allowed"),
    ("ctypes-fork", "import ctypes\nctypes.CDLL(None).fork()\n", "ctypes"),
]


@pytest.mark.parametrize("code, text", [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE])
def test_hostile_import_time_code_cannot_pass(tmp_path, code, text):
    report = check(_write(tmp_path, HOSTILE_PREFIX + code + CORRECT), "course", "rnn", timeout=2, numerical=False)
    assert not report.passed
    assert report.load_error and text in report.load_error, report.load_error
    assert not Path("/tmp/bptt_pwned").exists()


def test_infinite_loop_is_killed_and_leaves_nothing_behind(tmp_path):
    src = CORRECT.replace("def bptt(x, o, h0, U, V, W):\n", "def bptt(x, o, h0, U, V, W):\n    while True:\n        pass\n")
    start = time.monotonic()
    with Sandbox(_write(tmp_path, src), limits=Limits(timeout=0.5)) as sb:
        outcome = sb.call("bptt", [np.zeros((2, 2))] * 6)
        marker = sb._marker
    assert not outcome.ok and outcome.error["type"] == "Timeout"
    assert time.monotonic() - start < 5
    assert _processes_with(marker) == []


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if f"BPTT_SANDBOX={marker}".encode() in f.read().split(b"\0"):
                        with open(f"/proc/{entry}/stat", "rb") as s:
                            if s.read().rsplit(b")", 1)[-1].split()[0] != b"Z":
                                found.append(int(entry))
            except OSError:
                pass
    return found


@pytest.mark.skipif(bool(missing_os_layers()), reason="needs the OS layers: " + "; ".join(missing_os_layers()))
def test_escaped_grandchildren_are_killed(tmp_path, monkeypatch):
    """Seccomp refuses fork; with it (and the hooks) switched off, detached grandchildren that called
    setsid still die with the sandbox: PID namespace, --die-with-parent, the uid and marker sweeps."""
    from numeric.checking.sandbox import layers
    monkeypatch.setattr(layers.Seccomp, "available", lambda self: (False, "off for this test"))
    src = ("import os, time\n"
           "import numpy as np\n"
           "def spawn():\n"
           "    for _ in range(3):\n"
           "        if os.fork() == 0:\n"
           "            os.setsid()\n"
           "            if os.fork() == 0:\n"
           "                time.sleep(300)\n"
           "            os._exit(0)\n"
           "    return np.ones(1)\n")
    with Sandbox(_write(tmp_path, src), _unguarded_for_tests=True) as sb:
        outcome = sb.call("spawn", [])
        assert outcome.ok, outcome.error
        marker = sb._marker
        time.sleep(0.2)
        assert len(_processes_with(marker)) >= 4  # the child and its three detached grandchildren
    assert _processes_with(marker) == []


def test_monkeypatched_numpy_and_fake_output_cannot_pass(tmp_path):
    src = CORRECT.replace("    return dU, dV, dW\n", "    return dU * 1.5, dV, dW\n") + (
        "\nnp.allclose = lambda *a, **k: True\n"
        "np.linalg.norm = lambda *a, **k: 0.0\n"
        "np.array_equal = lambda *a, **k: True\n"
        "print(json.dumps({'passed': True, 'tests': [], 'score': 100}))\n"
        "print('{\"score\": 100, \"max_score\": 100}')\n")
    src = "import json\n" + src
    report = check(_write(tmp_path, src), "course", "rnn", numerical=False)
    assert not _bptt(report).passed
    assert '"score": 100' in report.stdout  # shown apart, never a result
    assert report.exit_code == 1


def test_submission_cannot_write_the_report_file(tmp_path):
    from reports.cli import main
    out = tmp_path / "results.json"
    src = (f"import os\ntry:\n    os.symlink('/etc/passwd', r'{out}')\nexcept Exception:\n    pass\n"
           f"try:\n    open(r'{out}', 'w').write('{{\"score\": 100}}')\nexcept Exception:\n    pass\n"
           + CORRECT.replace("return dU, dV, dW", "return dU * 2, dV, dW"))
    code = main(["check", str(_write(tmp_path, src)), "--convention", "course", "--gradescope", str(out), "--no-numerical"])
    assert code == 1
    assert not out.is_symlink()
    data = json.loads(out.read_text())
    assert data["score"] < data["max_score"]


def test_forged_channel_writes_cannot_pass(tmp_path):
    src = CORRECT.replace("    return dU, dV, dW\n",
                          "    for fd in range(3, 30):\n"
                          "        try:\n"
                          "            os.write(fd, b'\\x00\\x00\\x00\\x10' + b'{\"ok\": true}' * 2)\n"
                          "        except OSError:\n"
                          "            pass\n"
                          "    return dU * 0, dV, dW\n")
    report = check(_write(tmp_path, "import os\n" + src), "course", "rnn", timeout=2, numerical=False)
    assert not _bptt(report).passed


def test_limits_and_environment_of_the_child(tmp_path):
    src = ("import os, sys, resource\nimport numpy as np\n"
           "def env():\n"
           "    leaked = [n for n in os.environ if n.startswith(('PYTHON', 'LD_', 'VIRTUAL'))]\n"
           "    return np.array([resource.getrlimit(resource.RLIMIT_AS)[0], len(leaked), os.getuid(),\n"
           "                     os.path.realpath(os.getcwd()) == os.environ['HOME']])\n")
    with Sandbox(_write(tmp_path, src), limits=Limits(memory_mb=512), _unguarded_for_tests=True) as sb:
        outcome = sb.call("env", [])
    assert outcome.ok, outcome.error
    address_space, leaked, uid, cwd_is_home = outcome.value.tolist()
    assert address_space == 512 * 2**20
    assert leaked == 0 and cwd_is_home == 1
    if os.geteuid() == 0 and not missing_os_layers():
        assert uid != 0


# ---------------------------------------------------------------------------------------------- the decoder

TOKEN = "t" * 32


def _reply(header: dict, blob: bytes = b"", token: str | None = TOKEN) -> bytes:
    if token is not None:
        header = dict(header, token=token)
    head = json.dumps(header).encode()
    return len(head).to_bytes(4, "big") + head + blob


def _arr(offset: int, nbytes: int, shape=None, dtype="<f8", **extra) -> dict:
    return dict({"t": "array", "dtype": dtype, "shape": shape if shape is not None else [nbytes // 8],
                 "offset": offset, "nbytes": nbytes}, **extra)


EIGHT = np.arange(8, dtype=np.float64).tobytes()

# (id, payload) → ProtocolError
MALFORMED = [
    ("short", b"\x00\x00"),
    ("header-longer-than-payload", b"\x00\x00\x10\x00{}"),
    ("not-json", b"\x00\x00\x00\x03{no"),
    ("not-utf8", b"\x00\x00\x00\x02\xff\xfe"),
    ("header-is-a-list", (lambda h: len(h).to_bytes(4, "big") + h)(b'[1, 2]')),
    ("no-token", _reply({"ok": True, "value": {"t": "none"}}, token=None)),
    ("wrong-token", _reply({"ok": True, "value": {"t": "none"}}, token="x" * 32)),
    ("ok-is-a-string", _reply({"ok": "yes", "value": {"t": "none"}})),
    ("aliasing-nodes", _reply({"ok": True, "value": {"t": "tuple", "items": [_arr(0, 64), _arr(0, 64)]}}, EIGHT)),
    ("gap-between-arrays", _reply({"ok": True, "value": _arr(8, 56)}, EIGHT)),
    ("array-past-the-blob", _reply({"ok": True, "value": _arr(0, 128)}, EIGHT)),
    ("size-mismatch", _reply({"ok": True, "value": _arr(0, 64, shape=[3])}, EIGHT)),
    ("negative-shape", _reply({"ok": True, "value": _arr(0, 0, shape=[-1, 0])})),
    ("float-shape", _reply({"ok": True, "value": _arr(0, 64, shape=[8.0])}, EIGHT)),
    ("bool-offset", _reply({"ok": True, "value": _arr(False, 64)}, EIGHT)),
    ("huge-ndim", _reply({"ok": True, "value": _arr(0, 0, shape=[1] * 40 + [0])})),
    ("bad-dtype", _reply({"ok": True, "value": _arr(0, 64, dtype="not a dtype")}, EIGHT)),
    ("deep-nesting", _reply({"ok": True, "value": json.loads('{"t": "list", "items": [' * 40 + ']}' * 40)})),
    ("node-not-a-dict", _reply({"ok": True, "value": [1, 2]})),
    ("dict-key-not-a-string", _reply({"ok": True, "value": {"t": "dict", "items": [[1, {"t": "none"}]]}})),
    ("handle-id-not-int", _reply({"ok": True, "value": {"t": "handle", "id": "1"}})),
    ("mutated-not-pairs", _reply({"ok": True, "value": {"t": "none"}, "mutated": [[0]]})),
    ("mutated-index-not-int", _reply({"ok": True, "value": {"t": "none"}, "mutated": [["0", {"t": "none"}]]})),
]


@pytest.mark.parametrize("payload", [m[1] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_a_malformed_reply_is_a_protocol_error(payload):
    with pytest.raises(ProtocolError):
        decode_reply(payload, TOKEN, 1)


# (id, value node, blob, what the parent must see)
NOT_CONTROL_VALUES = [
    ("absent-string", {"t": "str", "v": "__absent__"}, b"", Other("str")),
    ("absent-as-other", {"t": "other", "type": "str", "v": "__absent__"}, b"", Other("str")),
    ("bool", {"t": "bool", "v": True}, b"", Other("bool")),
    ("scalar-node", {"t": "scalar", "v": "__absent__"}, b"", Other("scalar")),
    ("object-dtype", _arr(0, 8, shape=[1], dtype="|O"), b"\x00" * 8, Other("array of dtype object")),
    ("void-dtype", _arr(0, 8, shape=[1], dtype="|V8"), b"\x00" * 8, Other("array of dtype |V8")),
]


@pytest.mark.parametrize("node, blob, expected", [c[1:] for c in NOT_CONTROL_VALUES], ids=[c[0] for c in NOT_CONTROL_VALUES])
def test_strings_and_objects_decode_to_a_wrong_output_never_a_signal(node, blob, expected):
    reply = decode_reply(_reply({"ok": True, "value": node}, blob), TOKEN, 1)
    assert reply["value"] == expected


def test_a_well_formed_reply_decodes_to_arrays_dicts_handles_and_none():
    node = {"t": "tuple", "items": [_arr(0, 32, shape=[2, 2]), {"t": "dict", "items": [["dWx", _arr(32, 32)]]},
                                    {"t": "handle", "id": 7}, {"t": "none"}, _arr(64, 0, shape=[0, 5])]}
    reply = decode_reply(_reply({"ok": True, "value": node, "mutated": [[1, _arr(64, 0, shape=[0])]]}, EIGHT),
                         TOKEN, 3)
    a, d, h, n, empty = reply["value"]
    assert a.tolist() == [[0.0, 1.0], [2.0, 3.0]] and d["dWx"].tolist() == [4.0, 5.0, 6.0, 7.0]
    assert h == Handle(7, 3) and n is None and empty.shape == (0, 5)
    assert reply["mutated"][1].shape == (0,)


@pytest.mark.parametrize("kind, expected", [("Timeout", "Exception"), ("ProtocolError", "Exception"),
                                            ("LoadFailed:X", "Exception"), ("TimeoutError", "TimeoutError"),
                                            ("MissingFunction", "MissingFunction"), ("x\n\x1b[2J", "Exception")])
def test_a_child_cannot_claim_the_checkers_own_error_types(kind, expected):
    reply = decode_reply(_reply({"ok": False, "error": {"type": kind, "message": "m"}}), TOKEN, 1)
    assert reply["error"]["type"] == expected


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.sampled_from(["call", "load", "ready"]))
def test_random_bytes_never_raise_anything_but_a_protocol_error(data, expect):
    try:
        decode_reply(data, TOKEN, 1, expect)
    except ProtocolError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=3), kids, max_size=4),
                    max_leaves=20))
def test_random_json_headers_never_raise_anything_but_a_protocol_error(value):
    for header in ({"ok": True, "value": value}, {"ok": True, "value": {"t": "tuple", "items": value}},
                   {"ok": True, "value": {"t": "none"}, "mutated": value}, {"ok": False, "error": value}):
        try:
            decode_reply(_reply(header, EIGHT), TOKEN, 1)
        except ProtocolError:
            pass


# ---------------------------------------------------------------------------------------------- the OS view

needs_os_layers = pytest.mark.skipif(bool(missing_os_layers()),
                                     reason="needs the OS layers: " + "; ".join(missing_os_layers()))


@needs_os_layers
def test_the_toolkit_and_other_packages_are_not_visible_in_the_child(tmp_path):
    import numeric
    import rich
    toolkit = Path(numeric.__file__).resolve().parents[1]
    site = Path(np.__file__).resolve().parents[1]
    probes = [toolkit / "numeric", toolkit / "reports", Path(rich.__file__).parent, site / "rich",
              Path("/etc/shadow"), tmp_path / "host-only.txt"]
    (tmp_path / "host-only.txt").write_text("the checker's temporary files")  # /tmp itself may hold a venv
    src = ("import os\nimport numpy as np\nPATHS = %r\n"
           "def seen():\n"
           "    site = os.path.dirname(os.path.dirname(np.__file__))\n"
           "    extra = [n for n in os.listdir(site) if not n.startswith(('numpy', 'scipy'))]\n"
           "    return np.array([os.path.exists(p) for p in PATHS] + [len(extra)])\n") % [str(p) for p in probes]
    with Sandbox(_write(tmp_path, src), _unguarded_for_tests=True) as sb:
        outcome = sb.call("seen", [])
    assert outcome.ok, outcome.error
    assert outcome.value.tolist() == [0] * (len(probes) + 1), dict(zip(map(str, probes), outcome.value.tolist()))


@needs_os_layers
@pytest.mark.skipif(os.geteuid() != 0, reason="a separate user per submission needs root")
def test_concurrent_sandboxes_run_as_distinct_unprivileged_users(tmp_path):
    src = "import os\nimport numpy as np\ndef ids():\n    return np.array([os.getuid(), os.getgid(), len(os.getgroups())])\n"
    path = _write(tmp_path, src)
    with Sandbox(path) as a, Sandbox(path) as b:
        ua, ub = a.call("ids", []).value.tolist(), b.call("ids", []).value.tolist()
    assert ua[0] != ub[0] and 0 not in (ua[0], ub[0], ua[1], ub[1]) and ua[2] == ub[2] == 0


@needs_os_layers
def test_the_work_folder_is_a_size_limited_private_tmpfs(tmp_path):
    src = ("import numpy as np\n"
           "def fill():\n"
           "    written = 0\n"
           "    try:\n"
           "        for k in range(64):\n"
           "            with open('f%d' % k, 'wb') as f:\n"
           "                f.write(b'x' * 2**20 * 4)\n"
           "            written += 4\n"
           "    except OSError:\n"
           "        pass\n"
           "    return np.array([written])\n")
    with Sandbox(_write(tmp_path, src), limits=Limits(work_mb=16)) as sb:
        outcome = sb.call("fill", [])
    assert outcome.ok and outcome.value[0] <= 16, (outcome.error, outcome.value)


def test_a_prepared_submission_ships_its_helper_files(tmp_path):
    from numeric.checking.loading import Prepared
    prepared = Prepared({"main.py": b"import numpy as np\nfrom helper import twice\ndef f(x):\n    return twice(x)\n",
                         "helper.py": b"def twice(x):\n    return 2 * x\n"}, "main.py")
    with Sandbox(prepared) as sb:
        outcome = sb.call("f", [np.arange(3.0)])
    assert outcome.ok and outcome.value.tolist() == [0.0, 2.0, 4.0], outcome.error


def test_the_budget_stops_the_remaining_calls(tmp_path):
    src = "import time\nimport numpy as np\ndef slow():\n    time.sleep(0.4)\n    return np.ones(1)\n"
    with Sandbox(_write(tmp_path, src), limits=Limits(timeout=1.0, budget=1.0)) as sb:
        assert sb.ensure_started() is None
        start = time.monotonic()  # the calls only: starting the child is not timed (slow on a loaded machine)
        outcomes = [sb.call("slow", []) for _ in range(6)]
        calls = time.monotonic() - start
    assert calls < 4, f"6 calls of 0.4 s under a 1 s budget took {calls:.1f} s"
    assert outcomes[0].ok
    assert outcomes[-1].error["type"] == "BudgetSpent" and "budget" in outcomes[-1].error["message"]


SECCOMP_PROBE = '''import errno, os, socket, stat, threading
import numpy as np

def _errno(fn):
    try:
        fn()
    except OSError as err:
        return err.errno
    return 0

def probe():
    box = []
    t = threading.Thread(target=lambda: box.append(float(np.ones((50, 50)) @ np.ones(50) @ np.ones(50))))
    t.start()
    t.join()
    return np.array([box == [2500.0],  # a thread (clone with CLONE_THREAD) running BLAS
                     _errno(os.fork), _errno(lambda: socket.socket()),
                     _errno(lambda: os.execv("/usr/bin/true", ["true"])),
                     _errno(lambda: os.mknod("fifo", 0o600 | stat.S_IFIFO)),
                     _errno(lambda: os.kill(1, 0))])
'''


@needs_os_layers
def test_seccomp_allows_threads_and_refuses_processes_exec_sockets_nodes_signals(tmp_path):
    with Sandbox(_write(tmp_path, SECCOMP_PROBE), _unguarded_for_tests=True) as sb:
        outcome = sb.call("probe", [])
    assert outcome.ok, outcome.error
    thread_ran, *codes = outcome.value.tolist()
    assert thread_ran == 1
    assert codes == [errno.EPERM] * 5, codes


def test_a_child_that_stops_reading_cannot_block_the_checker(tmp_path):
    """A request larger than the pipe's buffer to a child whose os.read never returns: a timeout, not a hang."""
    src = ("import os, time\nimport numpy as np\n"
           "def stop():\n    os.read = lambda fd, n: time.sleep(10**6)\n    return np.ones(1)\n"
           "def echo(x):\n    return x\n")
    with Sandbox(_write(tmp_path, src), limits=Limits(timeout=1.0)) as sb:
        assert sb.call("stop", []).ok
        start = time.monotonic()
        stuck = sb.call("echo", [np.zeros(10**6)])
        assert time.monotonic() - start < 3
        again = sb.call("echo", [np.zeros(10**6)])  # a fresh process
    assert not stuck.ok and stuck.error["type"] == "Timeout" and "stopped reading" in stuck.error["message"]
    assert again.ok and again.value.shape == (10**6,)
