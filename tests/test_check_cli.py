"""bptt check: exit codes, JSON, Gradescope results.json, the rich report, batch mode, demo, pytest."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from numeric.checking import demo_check
from numeric.checking.demo import EXAMPLES
from reports.check_report import render
from reports.cli import main

PLANTED = EXAMPLES / "cs231n_planted_dh_next.py"


def test_exit_codes(tmp_path, capsys):
    assert main(["check", str(EXAMPLES / "course_rnn_correct.py"), "--convention", "course"]) == 0
    assert main(["check", str(PLANTED), "--convention", "cs231n", "--model", "rnn", "--no-numerical"]) == 1
    broken = tmp_path / "broken.py"
    broken.write_text("print 'hello'\n")
    assert main(["check", str(broken), "--convention", "cs231n", "--model", "rnn"]) == 1
    assert main(["check", str(tmp_path / "missing.py"), "--convention", "cs231n"]) == 2
    assert main(["check", str(PLANTED), "--convention", "tensorflow"]) == 2
    assert main(["check", str(PLANTED), "--convention", "cs231n", "--model", "jordan"]) == 2
    assert "unknown convention" in capsys.readouterr().err


def test_json_report(tmp_path):
    out = tmp_path / "report.json"
    main(["check", str(PLANTED), "--convention", "cs231n", "--model", "rnn", "--json", str(out), "--no-numerical"])
    data = json.loads(out.read_text())
    tests = {t["name"]: t for t in data["tests"]}
    assert set(tests) == {"rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward"}
    bad = tests["rnn_backward"]
    assert not bad["passed"] and bad["errors"]
    top = bad["diagnosis"][0]
    assert set(top) == {"mistake", "confidence", "evidence"}
    assert top["mistake"] == "dh-next-not-added" and top["confidence"] >= 0.9
    assert tests["rnn_step_backward"]["passed"] and tests["rnn_step_backward"]["diagnosis"] == []


def _gradescope(tmp_path, source: str, *extra) -> tuple[int, dict]:
    sub = tmp_path / f"sub{len(list(tmp_path.iterdir()))}.py"
    sub.write_text(source)
    out = tmp_path / f"results{len(list(tmp_path.iterdir()))}.json"
    code = main(["check", str(sub), "--convention", "cs231n", "--no-numerical", "--timeout", "2",
                 "--gradescope", str(out), *extra])
    return code, json.loads(out.read_text())


CORRECT = (EXAMPLES / "cs231n_correct.py").read_text()
HOW_TO_FAIL = {  # every way a submission can go wrong, and a correct one: all the same Gradescope tests
    "correct": CORRECT,
    "rnn_backward unimplemented": CORRECT.replace("def rnn_backward(dh, cache):",
                                                  "def rnn_backward(dh, cache):\n    raise NotImplementedError\n\n\n"
                                                  "def _old(dh, cache):"),
    "rnn_backward missing": CORRECT.replace("def rnn_backward(", "def rnn_backward_(", 1),
    "syntax error": CORRECT + "\ndef broken(:\n",
    "crash at import": "raise RuntimeError('no')\n" + CORRECT,
    "wrong values": (EXAMPLES / "cs231n_planted_dh_next.py").read_text(),
    "returns a string": CORRECT.replace("def rnn_step_forward(", "def _f(", 1)
    + "\n\ndef rnn_step_forward(*a):\n    return '__absent__', None\n",
}


def test_gradescope_tests_and_max_score_do_not_depend_on_how_it_failed(tmp_path):
    names = ["rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward",
             "lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward"]
    seen = {}
    for label, source in HOW_TO_FAIL.items():
        code, data = _gradescope(tmp_path, source, "--points", "rnn_backward=3")
        seen[label] = data
        assert [t["name"] for t in data["tests"]] == names, label
        assert [t["max_score"] for t in data["tests"]] == [1, 1, 1, 3, 1, 1, 1, 1], label
        assert data["max_score"] == 10, label
        assert code == (0 if label == "correct" else 1), label
    assert seen["correct"]["score"] == 10
    assert {t["name"] for t in seen["rnn_backward unimplemented"]["tests"] if t["status"] == "failed"} \
        == {"rnn_backward"}
    assert seen["syntax error"]["score"] == seen["crash at import"]["score"] == 0
    assert "RuntimeError" in seen["crash at import"]["output"]
    bad = next(t for t in seen["wrong values"]["tests"] if t["name"] == "rnn_backward")
    assert bad["score"] == 0 and "dh\\-next\\-not\\-added" in bad["output"]
    forged = next(t for t in seen["returns a string"]["tests"] if t["name"] == "rnn_step_forward")
    assert forged["status"] == "failed" and "got a str" in forged["output"]


def test_points_and_visibility(tmp_path, capsys):
    code, data = _gradescope(tmp_path, CORRECT, "--model", "rnn", "--points", "rnn_backward=2.5",
                             "--visibility", "after_due_date", "--visibility", "rnn_forward=hidden")
    tests = {t["name"]: t for t in data["tests"]}
    assert tests["rnn_backward"]["max_score"] == tests["rnn_backward"]["score"] == 2.5
    assert tests["rnn_forward"]["visibility"] == "hidden"
    assert tests["rnn_step_forward"]["visibility"] == data["visibility"] == "after_due_date"
    sub = tmp_path / "sub.py"
    sub.write_text(CORRECT)
    for bad, message in ((["--points", "rnn_bakward=2"], "no test named 'rnn_bakward'"),
                         (["--points", "rnn_backward=-1"], "expected FUNC=N with N a number ≥ 0"),
                         (["--points", "rnn_backward"], "expected FUNC=N"),
                         (["--visibility", "rnn_backward=secret"], "expected one of visible, hidden"),
                         (["--seed", "-3"], "non-negative integer")):
        with _nothing():
            assert main(["check", str(sub), "--convention", "cs231n", "--model", "rnn", *bad]) == 2
        assert message in capsys.readouterr().err, bad


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_rendered_report_text():
    text = render(demo_check(), width=110)
    assert "FAIL rnn_backward" in text and "PASS rnn_step_backward" in text
    assert "likely mistake: dh-next-not-added  (confidence 95%)" in text
    assert "per time step: wrong at t=1..4" in text or "per time step: wrong at t=1.." in text
    assert "exact for t=1" in text
    assert "3/4 tests passed" in text


def test_printed_output_is_shown_apart(tmp_path):
    src = "print('hello from the student')\n" + (EXAMPLES / "course_rnn_correct.py").read_text()
    path = tmp_path / "noisy.py"
    path.write_text(src)
    from numeric.checking import check
    report = check(path, "course", numerical=False)
    assert report.passed and "hello from the student" in report.stdout
    assert "the submission printed" in render(report)


def test_batch(tmp_path):
    folder = tmp_path / "subs"
    folder.mkdir()
    shutil.copy(EXAMPLES / "cs231n_correct.py", folder / "alice.py")
    shutil.copy(PLANTED, folder / "bob.py")
    (folder / "carol").mkdir()
    (folder / "carol" / "submission.py").write_text("while True:\n    pass\n")
    summary_path = tmp_path / "summary.json"
    code = main(["check", "--batch", str(folder), "--convention", "cs231n", "--model", "rnn", "--timeout", "1",
                 "--json", str(summary_path)])
    assert code == 1
    summary = json.loads(summary_path.read_text())
    rows = {r["submission"]: r for r in summary["submissions"]}
    assert rows["alice.py"]["passed"] and not rows["bob.py"]["passed"]
    assert rows["bob.py"]["diagnoses"] == ["dh-next-not-added"]
    assert "import time" in rows["carol/submission.py"]["load_error"]
    assert main(["check", "--batch", str(tmp_path / "none"), "--convention", "cs231n"]) == 2


def test_pytest_integration(tmp_path):
    """bptt_tests (one pytest test per function) and the plugin's bptt_report fixture, in one pytest run."""
    (tmp_path / "test_course.py").write_text(
        "from numeric.checking.pytest_plugin import bptt_tests\n"
        f"test_rnn = bptt_tests({str(PLANTED)!r}, convention='cs231n', model='rnn')\n")
    (tmp_path / "test_fixture.py").write_text(
        "def test_report(bptt_report):\n"
        "    assert bptt_report.passed\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
                           "numeric.checking.pytest_plugin", "--bptt-submission",
                           str(EXAMPLES / "course_rnn_correct.py"), "--bptt-convention", "course", str(tmp_path)],
                          capture_output=True, text=True, cwd=tmp_path)
    assert "1 failed, 4 passed" in proc.stdout, proc.stdout + proc.stderr
    assert "dh-next-not-added" in proc.stdout
    assert "test_rnn[rnn_backward]" in proc.stdout


def test_demo_submission_and_function():
    report = demo_check()
    failed = [t for t in report.tests if not t.passed]
    assert [t.name for t in failed] == ["rnn_backward"]
    assert failed[0].diagnosis[0].mistake == "dh-next-not-added"


USAGE_ERRORS = [
    (lambda tmp: [str(tmp)], "is a folder; expected a Python file (a folder of submissions: --batch DIR)"),
    (lambda tmp: [str(tmp / "missing.py")], "no such file"),
    (lambda tmp: [str(PLANTED), "--timeout", "-1"], "argument --timeout: expected a positive number, got '-1'"),
    (lambda tmp: [str(PLANTED), "--memory", "10"], "--memory: expected at least 64"),
]


@pytest.mark.parametrize("argv, message", USAGE_ERRORS, ids=["folder", "missing", "timeout", "memory"])
def test_usage_errors_name_what_was_wrong(tmp_path, capsys, argv, message):
    assert main(["check", *argv(tmp_path), "--convention", "cs231n"]) == 2
    assert message in capsys.readouterr().err


def test_batch_table_keeps_names_whole_at_80_columns():
    """Failed tests and diagnoses are listed whole ('all' when every test failed, '+N more' past three),
    never cut mid-name at a fixed width."""
    import io

    from rich.console import Console

    from reports.check_report import batch_table
    tests = ["rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward", "lstm_backward"]
    summary = {"directory": "subs", "submissions": [
        {"submission": "a_rather_long_submission_name_that_folds.py", "passed": False, "tests": 5,
         "tests_passed": 0, "failed": tests, "diagnoses": []},
        {"submission": "b.py", "passed": False, "tests": 6, "tests_passed": 1, "failed": tests,
         "diagnoses": ["dh-next-not-added"]},
    ]}
    console = Console(width=80, record=True, file=io.StringIO(), color_system=None)
    console.print(batch_table(summary))
    text = console.export_text()
    cells = " ".join(" ".join(line.split("│")[4].split()) for line in text.splitlines() if line.count("│") == 6)
    assert cells.split() == ["all", "rnn_step_forward,", "rnn_step_backward,", "rnn_forward,", "+2", "more"]
    assert "dh-next-not-added" in text and "…" not in text
    assert "a_rather_long_submission_name_that_folds.py" in "".join(
        line.split("│")[1].strip() for line in text.splitlines() if line.count("│") == 6)
