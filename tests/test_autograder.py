"""bptt autograder: the zip's layout, and run_autograder run locally in Gradescope's directory layout
(a temporary /autograder: source/, submission/, results/)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import re
import zipfile
from pathlib import Path

import pytest

from numeric.checking.demo import EXAMPLES
from reports.cli import main

WORKTREE = Path(__file__).resolve().parent.parent
CORRECT = (EXAMPLES / "cs231n_correct.py").read_text()
NAMES = ["rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward"]


@pytest.fixture(scope="module")
def autograder(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("build") / "autograder.zip"
    assert main(["autograder", "--convention", "cs231n", "--model", "rnn", "--points", "rnn_backward=3",
                 "--visibility", "rnn_forward=hidden", "--timeout", "5", "-o", str(out)]) == 0
    return out


def test_zip_layout(autograder):
    with zipfile.ZipFile(autograder) as zf:
        names = set(zf.namelist())
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in zf.infolist()}
        config = json.loads(zf.read("bptt-autograder.json"))
    assert {"setup.sh", "run_autograder", "bptt-src/pyproject.toml", "bptt-src/README.md",
            "bptt-src/numeric/checking/api.py", "bptt-src/reports/cli.py"} <= names
    assert modes["setup.sh"] == modes["run_autograder"] == 0o755
    assert not any("__pycache__" in n or n.endswith(".pyc") or n.startswith("bptt-src/tests") for n in names)
    assert config["tests"] == NAMES and config["points"] == {"rnn_backward": 3.0}


def _run(autograder: Path, root: Path, files: dict[str, str]) -> dict:
    (root / "submission").mkdir(parents=True)
    (root / "results").mkdir()
    with zipfile.ZipFile(autograder) as zf:
        zf.extractall(root / "source")
    for name, text in files.items():
        (root / "submission" / name).write_text(text)
    script = root / "source" / "run_autograder"
    os.chmod(script, os.stat(script).st_mode | stat.S_IXUSR)
    # the installed `bptt` is the main checkout's: run this worktree's toolkit instead
    env = dict(os.environ, BPTT_AUTOGRADER_ROOT=str(root), BPTT_COMMAND=f"{sys.executable} -m reports.cli",
               PYTHONPATH=str(WORKTREE))
    proc = subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads((root / "results" / "results.json").read_text())


@pytest.mark.slow
def test_run_autograder_grades_in_gradescope_layout(autograder, tmp_path):
    results = {
        "correct": _run(autograder, tmp_path / "a", {"rnn_layers.py": CORRECT}),
        "broken": _run(autograder, tmp_path / "b", {"rnn_layers.py": "def rnn_forward(:\n"}),
        "nothing": _run(autograder, tmp_path / "c", {}),
    }
    for label, data in results.items():
        assert [t["name"] for t in data["tests"]] == NAMES, label
        assert data["max_score"] == 6, label
        assert next(t for t in data["tests"] if t["name"] == "rnn_forward")["visibility"] == "hidden"
    assert results["correct"]["score"] == 6
    assert results["broken"]["score"] == results["nothing"]["score"] == 0
    assert "does not define" in results["nothing"]["tests"][0]["output"]


@pytest.mark.slow
def test_shipped_source_builds_offline(autograder, tmp_path):
    """setup.sh's `pip install ./bptt-src`: the shipped source builds a wheel with the checker inside
    (here without network: the build backend is the machine's setuptools)."""
    import importlib.metadata
    import importlib.util
    # Without build isolation the machine's own backend builds the wheel: setuptools >= 64 (pyproject's
    # build-system), and before setuptools 70.1 the separate `wheel` package for bdist_wheel (a fresh
    # Python 3.11 venv has setuptools 65 and no `wheel`). Looked up, not imported: the checker's own view
    # of site-packages must not change in this process.
    if importlib.util.find_spec("setuptools") is None:
        pytest.skip("setuptools is not installed")
    setuptools_version = tuple(int(p) for p in re.findall(r"\d+", importlib.metadata.version("setuptools"))[:2])
    if setuptools_version < (64, 0):
        pytest.skip(f"setuptools {setuptools_version} is older than the build-system's >= 64")
    if setuptools_version < (70, 1) and importlib.util.find_spec("wheel") is None:
        pytest.skip("setuptools < 70.1 builds wheels only with the `wheel` package, which is not installed")
    with zipfile.ZipFile(autograder) as zf:
        zf.extractall(tmp_path / "source")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                           "--no-index", "-w", str(tmp_path / "wheels"), str(tmp_path / "source" / "bptt-src")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    wheel = next((tmp_path / "wheels").glob("bptt-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        assert {"numeric/checking/api.py", "reports/commands/autograder.py"} <= set(zf.namelist())


@pytest.mark.parametrize("argv, message", [
    (["--convention", "nope"], "unknown convention"),
    (["--convention", "cs231n", "--points", "lstm_backward=2", "--model", "rnn"], "no test named 'lstm_backward'"),
    (["--convention", "cs231n", "--submission-name", "../x.py"], "expected a plain file name"),
])
def test_autograder_usage_errors(tmp_path, capsys, argv, message):
    assert main(["autograder", *argv, "-o", str(tmp_path / "a.zip")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "a.zip").exists()


def test_autograder_refuses_a_missing_folder(tmp_path, capsys):
    assert main(["autograder", "--convention", "cs231n", "-o", str(tmp_path / "no" / "a.zip")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.slow
def test_adapter_autograder_ships_the_adapter(tmp_path):
    out = tmp_path / "ag.zip"
    assert main(["autograder", "--convention", "adapter", "--adapter", str(EXAMPLES / "adapter_example.py"),
                 "--submission-name", "adapter_submission.py", "-o", str(out)]) == 0
    with zipfile.ZipFile(out) as zf:
        assert "adapter_adapter_example.py" in zf.namelist()
    data = _run(out, tmp_path / "root", {"adapter_submission.py": (EXAMPLES / "adapter_submission.py").read_text(),
                                         "notes.py": "# another file: --submission-name picks the right one\n"})
    from numeric.checking.api import test_names
    names = test_names("adapter", adapter=EXAMPLES / "adapter_example.py")
    assert [t["name"] for t in data["tests"]] == names and names
    assert data["score"] == data["max_score"] == len(names)


@pytest.mark.slow
def test_helper_files_reach_the_submission(tmp_path):
    """The instructor's --with helper (rnn_utils.py, shipped in the zip) and the student's own extra .py
    file are both importable by the graded file."""
    out = tmp_path / "ag.zip"
    assert main(["autograder", "--convention", "deeplearning-ai", "--with", str(EXAMPLES / "rnn_utils.py"),
                 "--submission-name", "rnn.py", "-o", str(out)]) == 0
    source = "from rnn_utils import softmax as _softmax\nfrom my_helpers import ONE\n" + \
        (EXAMPLES / "dlai_correct.py").read_text()
    data = _run(out, tmp_path / "root", {"rnn.py": source, "my_helpers.py": "ONE = 1\n"})
    assert data["score"] == data["max_score"] > 0, data["output"]
    alone = _run(out, tmp_path / "root2", {"rnn.py": source})  # without the student's helper: a load failure
    assert alone["score"] == 0 and alone["max_score"] == data["max_score"]
    assert "my\\_helpers" in alone["output"]  # Markdown-escaped
