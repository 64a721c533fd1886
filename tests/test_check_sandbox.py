"""Every bad-input and hostile case: a precise failed test, the others still run, nothing survives."""

from __future__ import annotations

import json
import tempfile
import os
import time
from pathlib import Path

import pytest

from numeric.checking import check
from numeric.checking.demo import EXAMPLES
from numeric.checking.sandbox import Limits, Sandbox

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
    ("subprocess", "import subprocess\n", "not allowed"),
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
        import numpy as np
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


def test_escaped_grandchildren_are_killed(tmp_path):
    """The audit hook refuses fork; should it be bypassed, the process sweep still finds every descendant
    (even one that called setsid) by the run's marker. Tested with the hook off (test-only switch)."""
    src = ("import os, time\n"
           "def spawn():\n"
           "    for _ in range(3):\n"
           "        if os.fork() == 0:\n"
           "            os.setsid()\n"
           "            if os.fork() == 0:\n"
           "                time.sleep(300)\n"
           "            os._exit(0)\n"
           "    return 1\n")
    with Sandbox(_write(tmp_path, src), _unguarded_for_tests=True) as sb:
        assert sb.call("spawn", []).ok
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
    src = "import os, sys\ndef env():\n    return sorted(os.environ), list(sys.flags)[:3], os.getcwd()\n"
    with Sandbox(_write(tmp_path, src), limits=Limits(memory_mb=512)) as sb:
        outcome = sb.call("env", [])
        with open(f"/proc/{sb.proc.pid}/limits") as f:
            limits = f.read()
        workdir = str(sb._work)
    names, _flags, cwd = outcome.value
    assert "Max address space         536870912" in limits
    assert [n for n in names if n.startswith(("PYTHON", "LD_", "VIRTUAL"))] == []
    assert cwd == workdir and cwd.startswith(tempfile.gettempdir())
