"""Report files written safely, and submission text that cannot forge a verdict in any output."""

from __future__ import annotations

import io
import json
import os
import re
import stat

import pytest
from rich.console import Console

from numeric.checking import check
from numeric.checking.demo import EXAMPLES
from numeric.checking.safe_text import code_block, markdown_escape, one_line, strip_controls
from numeric.checking.writers import ReportWriteError, gradescope, safe_write, to_json
from reports.check_report import CheckReportView, render
from reports.cli import main

CORRECT = EXAMPLES / "cs231n_correct.py"
ARGS = ["--convention", "cs231n", "--model", "rnn", "--no-numerical"]


# ---------------------------------------------------------------- safe_text

@pytest.mark.parametrize("raw, expected", [
    ("\x1b[32mPASS\x1b[0m", "PASS"),
    ("a\x1b]0;title\x07b", "ab"),
    ("a\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\b", "alinkb"),
    ("over\rwrite", "overwrite"),
    ("bell\x07 back\x08 del\x7f c1\x9b31m", "bell back del c1"),
    ("bidi \u202eevil\u202c", "bidi evil"),
    ("keeps\nnew\tlines", "keeps\nnew\tlines"),
])
def test_strip_controls(raw, expected):
    assert strip_controls(raw) == expected


def test_markdown_escape_makes_every_structure_literal():
    text = "# All checks passed\n\n**10/10** `ok` [x](http://e) <b>hi</b> | --- ```"
    escaped = markdown_escape(text)
    assert "\n" not in escaped and " ⏎ " in escaped
    assert not re.search(r"(?<!\\)[#*`\[\]()<>|-]", escaped), escaped  # every special character escaped
    assert one_line("a\n\nb") == "a ⏎  ⏎ b"
    assert one_line("x" * 5000).endswith("… (3000 more characters)")


def test_code_block_cannot_be_closed_from_inside():
    block = code_block("x\n````\nAll checks passed\n```")
    fence = block.split("\n", 1)[0].rstrip("text")
    assert len(fence) == 5 and block.endswith("\n" + fence)
    assert all(len(run) < len(fence) for run in re.findall(r"`+", block[len(fence) + 4:-len(fence)]))


# ---------------------------------------------------------------- forged verdicts

FAKE = "\n```\n# All checks passed\n**8/8 tests passed**\n```\n\x1b[1;32mPASS rnn_backward\x1b[0m\r\n"
FORGER = CORRECT.read_text().replace("def rnn_backward(dh, cache):\n", (
    "def rnn_backward(dh, cache):\n"
    f"    print({FAKE!r})\n"
    f"    raise ValueError({FAKE!r})\n"), 1)


@pytest.fixture(scope="module")
def forged(tmp_path_factory):
    path = tmp_path_factory.mktemp("forger") / "forger.py"
    path.write_text(FORGER)
    return check(path, "cs231n", "rnn", numerical=False, seed=1)


def test_forged_text_in_the_terminal(forged):
    assert not forged.passed
    buffer = io.StringIO()
    Console(file=buffer, width=120, force_terminal=True, color_system="truecolor").print(CheckReportView(forged))
    coloured = buffer.getvalue()
    assert "\x1b[1;32mPASS rnn_backward" not in coloured and "\r" not in coloured  # the student's own codes
    for width in (60, 90, 200):  # wrapped anywhere, the submission's text stays off the left edge
        text = render(forged, width=width)
        for line in text.splitlines():
            if not line.startswith((" ", "│", "╭", "╰")):  # the checker's own lines
                assert re.match(r"(bptt check |isolation: |PASS rnn_|FAIL rnn_|· |\d/4 tests passed)", line), line
            if "All checks passed" in line or "PASS rnn_backward" in line:
                assert line.startswith(("  ✗ ", "    ", "│")), line
    assert "FAIL rnn_backward" in text and text.rstrip().splitlines()[-1].startswith("3/4 tests passed")


def test_forged_text_in_gradescope(forged):
    data = gradescope(forged)
    assert data["score"] < data["max_score"]
    assert data["output"].startswith("**1 of 4 tests failed:**")
    bad = next(t for t in data["tests"] if t["name"] == "rnn_backward")
    assert bad["status"] == "failed" and "ValueError" in bad["output"]
    for text in [t["output"] for t in data["tests"]]:
        assert "```" not in text and "\x1b" not in text and "\n#" not in text
    top = data["output"]
    head, _sep, block = top.partition("The submission printed (not graded):\n\n")
    fence = block.split("\n", 1)[0].removesuffix("text")
    body, _sep, after = block[len(fence) + 5:].partition("\n" + fence)
    assert "All checks passed" in body and "\x1b" not in body
    assert all(len(run) < len(fence) for run in re.findall(r"`+", body))
    assert "All checks passed" not in head


def test_forged_text_in_json(forged, tmp_path):
    data = to_json(forged)
    strings = []

    def walk(v):
        if isinstance(v, str):
            strings.append(v)
        elif isinstance(v, dict):
            [walk(x) for x in v.values()]
        elif isinstance(v, list):
            [walk(x) for x in v]
    walk(data)
    assert not any(re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", s) for s in strings)
    assert "# All checks passed" in data["stdout"]  # the text itself is kept


# ---------------------------------------------------------------- writing safely

def _fifo(tmp_path):
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path


def _symlink(tmp_path):
    target = tmp_path / "victim.txt"
    target.write_text("keep me")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    return link


SPECIAL = [("symlink", _symlink, "a symbolic link"), ("fifo", _fifo, "a FIFO"),
           ("device", lambda tmp: "/dev/null", "a device"), ("stdout-link", lambda tmp: "/dev/stdout", "a symbolic link"),
           ("folder", lambda tmp: tmp, "a folder")]


@pytest.mark.parametrize("make, what", [s[1:] for s in SPECIAL], ids=[s[0] for s in SPECIAL])
@pytest.mark.parametrize("flag", ["--json", "--gradescope"])
def test_special_files_are_refused_and_left_alone(tmp_path, capsys, make, what, flag):
    path = make(tmp_path)
    before = os.lstat(path)
    assert main(["check", str(CORRECT), *ARGS, flag, str(path)]) == 2
    assert f"is {what}, not a regular file" in capsys.readouterr().err
    after = os.lstat(path)
    assert stat.S_IFMT(after.st_mode) == stat.S_IFMT(before.st_mode) and after.st_ino == before.st_ino
    if what == "a symbolic link" and str(path) != "/dev/stdout":
        assert (tmp_path / "victim.txt").read_text() == "keep me"


def test_missing_folder_is_not_created(tmp_path, capsys):
    out = tmp_path / "no" / "such" / "results.json"
    assert main(["check", str(CORRECT), *ARGS, "--gradescope", str(out)]) == 2
    assert "does not exist (it is not created)" in capsys.readouterr().err
    assert not (tmp_path / "no").exists()


def test_dash_is_standard_output_and_the_terminal_report_moves_to_stderr(capsys):
    assert main(["check", str(CORRECT), *ARGS, "--json", "-"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["passed"] and isinstance(data["seed"], int)
    assert "tests passed" in captured.err
    assert main(["check", str(CORRECT), *ARGS, "--json", "-", "--gradescope", "-"]) == 2


def test_a_failed_write_is_exit_2(tmp_path, capsys):
    # /proc accepts no new files, even from root: the write fails after the check ran
    assert main(["check", str(CORRECT), *ARGS, "--json", "/proc/bptt-report.json"]) == 2
    assert "cannot" in capsys.readouterr().err


def test_regular_file_is_replaced_atomically(tmp_path):
    out = tmp_path / "report.json"
    out.write_text("old")
    safe_write(out, "new\n")
    assert out.read_text() == "new\n" and oct(out.stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary file left
    with pytest.raises(ReportWriteError):
        safe_write(tmp_path / "missing" / "x.json", "x")
