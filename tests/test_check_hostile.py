"""Hostile submissions (tests/hostile/, written before the isolation they attack) against ``check()``.

Each attack is appended to a cs231n RNN whose ``rnn_step_backward`` is wrong, so it passes only if the
attack works. For every one: it does not pass, nothing is read or written outside its work folder, the
checker neither crashes nor hangs, and no process is left behind. The attacks need the OS layers
(separate user as root, namespaces, seccomp); without them they are skipped with the reason.
"""

from __future__ import annotations

import json
import os
import resource
import secrets
import time
from pathlib import Path

import pytest

from numeric.checking import check
from numeric.checking.batch import check_batch
from numeric.checking.conventions import CheckUsageError
from numeric.checking.demo import EXAMPLES
from numeric.checking.sandbox import missing_os_layers

HOSTILE = Path(__file__).parent / "hostile"
BASE = (EXAMPLES / "cs231n_correct.py").read_text()
WRONG = BASE + (
    "\n\n_true_step_backward = rnn_step_backward\n\n\n"
    "def rnn_step_backward(dnext_h, cache):\n"
    "    dx, dprev, dWx, dWh, db = _true_step_backward(dnext_h, cache)\n"
    "    return dx, dprev, 2 * dWx, dWh, db\n\n")

needs_isolation = pytest.mark.skipif(bool(missing_os_layers()),
                                     reason="OS isolation layers unavailable here: " + "; ".join(missing_os_layers()))


def _rich_init() -> Path | None:
    try:
        import rich
    except ImportError:  # pragma: no cover - rich is a dependency
        return None
    return Path(rich.__file__)


def _first_line(path: str) -> str:
    try:
        return Path(path).read_text().splitlines()[0]
    except (OSError, IndexError):
        return ""


def _not_root_user(layer: dict) -> bool:
    """The separate user needs root; run unprivileged, the other layers must hold alone (and it says so)."""
    return layer["layer"] == "separate user" and os.geteuid() != 0 and "not root" in layer["detail"]


class Attack:
    """One hostile file made concrete for this test: its placeholders, secret and marker paths."""

    def __init__(self, tmp_path: Path, name: str, base: str = WRONG):
        self.dir = tmp_path / "outside"
        self.dir.mkdir()
        self.mark = str(self.dir / "mark")
        self.secret_value = "secret-" + secrets.token_hex(8)
        self.secret = self.dir / "secret.txt"
        self.secret.write_text(self.secret_value)
        os.chmod(self.secret, 0o600)
        self.tag = "bh" + secrets.token_hex(5)
        self.module = Path(self.mark + "-module.py")
        self.module.write_text("VALUE = 1\n")
        text = (HOSTILE / f"{name}.py").read_text()
        for key, value in (("@MARK@", self.mark), ("@SECRET@", str(self.secret)), ("@TAG@", self.tag),
                           ("@PPID@", str(os.getpid()))):
            text = text.replace(key, value)
        self.path = tmp_path / "submission.py"
        self.path.write_text(base + "\n" + text)
        self.rich = _rich_init()
        self.rich_before = self.rich.read_bytes() if self.rich else b""

    def escaped_files(self) -> list[str]:
        planted = {"secret.txt", self.module.name}
        return sorted(p.name for p in self.dir.iterdir() if p.name not in planted)

    def leftover_processes(self) -> list[str]:
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                comm = Path(f"/proc/{entry}/comm").read_text().strip()
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().decode("utf-8", "replace")
                state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[-1].split()[0]
            except OSError:
                continue
            if state != "Z" and (self.tag in comm or self.tag in cmdline or self.mark in cmdline):
                found.append(f"{entry} {comm} {cmdline[:80]}")
        return found

    def assert_contained(self, report) -> None:
        text = json.dumps(report.as_dict())
        assert not report.passed, "a hostile submission passed"
        assert self.escaped_files() == [], "written outside the work folder"
        assert self.secret_value not in text, "a private file was read"
        assert self.module.read_text() == "VALUE = 1\n", "a module outside was changed"
        if self.rich:
            after = self.rich.read_bytes()
            if after != self.rich_before:  # undo the damage before failing
                self.rich.write_bytes(self.rich_before)
            assert after == self.rich_before, "rich's files were changed"
        shadow = _first_line("/etc/shadow")
        assert not shadow or shadow not in text, "/etc/shadow was read"
        assert f"PATH={os.environ.get('PATH')}" not in text, "the checker's environment was read"
        time.sleep(0.3)  # a survivor would keep running (and writing) after the check
        assert self.leftover_processes() == []
        assert self.escaped_files() == []


ATTACKS = ["absent_string", "import_toolkit", "builtins_guard", "dir_fd", "mknod_fifo", "fork_exec",
           "write_checker_module", "kill_parent", "raw_bytes", "read_secrets", "write_disk"]


@pytest.fixture(params=["hooks", "no-hooks"])
def hooks(request, monkeypatch):
    """Each attack runs as shipped and with the in-process hooks switched off: the OS layers alone must hold."""
    if request.param == "no-hooks":
        import functools

        from numeric.checking import api
        monkeypatch.setattr(api, "Sandbox", functools.partial(api.Sandbox, _unguarded_for_tests=True))
    return request.param


@needs_isolation
@pytest.mark.parametrize("name", ATTACKS)
def test_hostile_submission_is_contained(tmp_path, name, hooks):
    attack = Attack(tmp_path, name)
    start = time.monotonic()
    report = check(attack.path, "cs231n", "rnn", timeout=3.0, numerical=False, budget=30.0)
    assert time.monotonic() - start < 40
    attack.assert_contained(report)
    assert not any("hooks only" in w for w in report.warnings), "every OS layer was in force"
    assert all(layer["in_force"] or _not_root_user(layer) for layer in report.isolation), report.isolation


@needs_isolation
def test_aliasing_reply_cannot_blow_up_the_checker(tmp_path, hooks):
    attack = Attack(tmp_path, "alias_nodes")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = check(attack.path, "cs231n", "rnn", timeout=3.0, numerical=False)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    attack.assert_contained(report)
    assert grown_mb < 500, f"the checker grew by {grown_mb:.0f} MB"


@needs_isolation
def test_sleeping_under_the_timeout_everywhere_is_stopped_by_the_budget(tmp_path, hooks):
    attack = Attack(tmp_path, "slow_sleep")
    start = time.monotonic()
    report = check(attack.path, "cs231n", "rnn", timeout=1.0, numerical=False, budget=4.0)
    elapsed = time.monotonic() - start
    attack.assert_contained(report)
    assert elapsed < 4.0 + 2 * 2.0 + 3.0, elapsed  # the budget, one load, slack
    assert any("budget" in e for t in report.tests for e in t.errors), [t.errors for t in report.tests]


@needs_isolation
def test_batch_submissions_cannot_reach_each_other(tmp_path):
    folder = tmp_path / "batch"
    folder.mkdir()
    victim = folder / "victim.py"
    victim.write_text(BASE)
    attack = Attack(tmp_path, "batch_classmate")
    (folder / "attacker.py").write_text(attack.path.read_text())
    summary = check_batch(folder, "cs231n", "rnn", jobs=2, timeout=3.0, summary_path=tmp_path / "summary.json")
    rows = {Path(r["submission"]).name: r for r in summary["submissions"]}
    assert rows["victim.py"]["passed"], rows["victim.py"]
    assert not rows["attacker.py"]["passed"]
    assert victim.read_text() == BASE
    attack.assert_contained(type("R", (), {"passed": False, "as_dict": lambda self: rows["attacker.py"],
                                           "stdout": ""})())


HONEST = {
    "namedtuple": "from collections import namedtuple\nCache = namedtuple('Cache', 'x prev_h')\n",
    "enum": "import enum\nGate = enum.Enum('Gate', 'i f o g')\n",
    "typevar": "import typing\nT = typing.TypeVar('T')\n",
    "np-random-seed": "np.random.seed(0)\n_noise = np.random.randn(3)\n",
    "argv": "import sys\nassert sys.argv == ['submission.py'], sys.argv\n",
    "numpy-removed-aliases": "assert np.zeros(2, dtype=np.float).dtype == np.float64 and np.int is int\n",
}


@pytest.mark.parametrize("name", HONEST)
def test_honest_habits_pass(tmp_path, name):
    path = tmp_path / "submission.py"
    path.write_text(BASE + "\n" + HONEST[name])
    report = check(path, "cs231n", "rnn", numerical=False)
    assert report.passed, (report.load_error, [t.errors for t in report.tests])
    if name == "numpy-removed-aliases":
        assert any("np.float, np.int, removed in NumPy 1.24" in n for n in report.notes), report.notes


def test_every_report_names_the_isolation_layers(tmp_path):
    path = tmp_path / "submission.py"
    path.write_text(BASE)
    report = check(path, "cs231n", "rnn", numerical=False)
    names = [layer["layer"] for layer in report.isolation]
    for expected in ("separate user", "namespaces", "seccomp", "resource limits", "in-process hooks"):
        assert expected in names, names
    assert all(isinstance(layer["detail"], str) and layer["detail"] for layer in report.isolation)
    if missing_os_layers():
        assert any("hooks only" in w for w in report.warnings), report.warnings
    else:
        assert not any("hooks only" in w for w in report.warnings), report.warnings


def test_require_isolation_refuses_when_a_layer_is_missing(tmp_path, monkeypatch):
    from numeric.checking.sandbox import layers
    from reports.cli import main
    monkeypatch.setattr(layers.Seccomp, "available", lambda self: (False, "libseccomp not found (test)"))
    path = tmp_path / "submission.py"
    path.write_text(BASE)
    with pytest.raises(CheckUsageError, match="seccomp"):
        check(path, "cs231n", "rnn", numerical=False, require_isolation=True)
    assert main(["check", str(path), "--convention", "cs231n", "--model", "rnn", "--require-isolation",
                 "--no-numerical"]) == 2
    report = check(path, "cs231n", "rnn", numerical=False)
    assert report.passed
    assert any("hooks only" in w for w in report.warnings), report.warnings
    assert not next(layer for layer in report.isolation if layer["layer"] == "seccomp")["in_force"]


def test_scipy_is_importable_and_allow_import_scipy_is_accepted(tmp_path):
    pytest.importorskip("scipy")
    from reports.cli import main
    path = tmp_path / "submission.py"
    path.write_text("from scipy.special import expit\n" + BASE.replace("1.0 / (1.0 + np.exp(-x))", "expit(x)"))
    assert check(path, "cs231n", "lstm", numerical=False).passed
    assert main(["check", str(path), "--convention", "cs231n", "--model", "lstm", "--allow-import", "scipy",
                 "--no-numerical"]) == 0


def test_cli_flags_budget_with_and_load(tmp_path, capsys):
    from reports.cli import main
    from reports.check_report import render
    helper = tmp_path / "helper_math.py"
    helper.write_text("import numpy as np\n\ndef tanh(x):\n    return np.tanh(x)\n")
    path = tmp_path / "submission.py"
    path.write_text("from helper_math import tanh\n" + BASE.replace("np.tanh(x @ Wx", "tanh(x @ Wx"))
    assert main(["check", str(path), "--convention", "cs231n", "--model", "rnn", "--with", str(helper),
                 "--budget", "30", "--load", "module", "--no-numerical"]) == 0
    assert "isolation: separate user" in capsys.readouterr().out
    assert main(["check", str(path), "--convention", "cs231n", "--budget", "0"]) == 2
    assert main(["check", str(path), "--convention", "cs231n", "--with", str(tmp_path / "missing.py")]) == 2
    report = check(path, "cs231n", "rnn", numerical=False, with_files=(helper,), load="defs")
    assert report.passed, report.load_error
    assert "isolation: " in render(report)


@pytest.mark.parametrize("layer", ["Namespaces", "Seccomp", "SeparateUser"])
def test_without_a_layer_honest_code_still_passes_and_the_report_says_so(tmp_path, monkeypatch, layer):
    from numeric.checking.sandbox import layers
    monkeypatch.setattr(getattr(layers, layer), "available", lambda self: (False, "switched off (test)"))
    path = tmp_path / "submission.py"
    path.write_text(BASE)
    report = check(path, "cs231n", "rnn", numerical=False)
    assert report.passed, (report.load_error, [t.errors for t in report.tests])
    # Only the switched-off layer is asserted: on a machine without bwrap, namespaces are partial for a
    # reason of their own, which the report states in its own words.
    name = {"Namespaces": "namespaces", "Seccomp": "seccomp", "SeparateUser": "separate user"}[layer]
    entry = next(d for d in report.isolation if d["layer"] == name)
    assert not entry["in_force"], report.isolation
    if layer != "SeparateUser":  # the separate-user entry may give the reason seen first (e.g. not root)
        assert "switched off" in entry["detail"], entry
    if layer != "SeparateUser" or os.geteuid() == 0:
        assert any("hooks only" in w for w in report.warnings), report.warnings


@pytest.mark.skipif(not __import__("shutil").which("unshare"), reason="util-linux unshare not installed")
def test_unshare_fallback_runs_honest_code_and_is_reported_as_partial(tmp_path, monkeypatch):
    from numeric.checking.sandbox import namespaces
    if namespaces._try(namespaces.unshare_argv(os.geteuid() == 0) + ["true"])[0] is False:
        pytest.skip("unshare is not allowed here")
    monkeypatch.setattr(namespaces, "kind", lambda: ("unshare", "bwrap switched off (test)"))
    path = tmp_path / "submission.py"
    path.write_text(BASE)
    report = check(path, "cs231n", "rnn", numerical=False)
    assert report.passed, (report.load_error, [t.errors for t in report.tests])
    entry = next(d for d in report.isolation if d["layer"] == "namespaces")
    assert not entry["in_force"] and "partial" in entry["detail"] and "unshare" in entry["detail"]
    assert any("hooks only" in w for w in report.warnings)


def test_require_isolation_refuses_a_batch_at_once(tmp_path, monkeypatch):
    from numeric.checking.sandbox import layers
    monkeypatch.setattr(layers.Namespaces, "available", lambda self: (False, "no namespaces (test)"))
    (tmp_path / "a.py").write_text(BASE)
    with pytest.raises(CheckUsageError, match="namespaces"):
        check_batch(tmp_path, "cs231n", "rnn", require_isolation=True)


@needs_isolation
@pytest.mark.parametrize("name", ["kill_parent", "fork_exec", "raw_bytes"])
def test_hostile_submission_through_bptt_check(tmp_path, name):
    """The same attacks through the command line, as a grading platform runs it: exit 1, the JSON written."""
    import subprocess
    import sys
    attack = Attack(tmp_path, name)
    out = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, "-m", "reports.cli", "check", str(attack.path), "--convention", "cs231n",
                           "--model", "rnn", "--no-numerical", "--timeout", "3", "--json", str(out)],
                          capture_output=True, timeout=120, cwd=Path(__file__).parents[1])
    assert proc.returncode == 1, proc.stderr.decode()[-2000:]
    data = json.loads(out.read_text())
    assert data["passed"] is False and all(layer["in_force"] or _not_root_user(layer) for layer in data["isolation"])
    assert attack.escaped_files() == [] and attack.leftover_processes() == []
