"""Report files: JSON and Gradescope's results.json, written by the checker only, after the submission's
process is dead.

Writing is refused rather than done unsafely (``ReportWriteError``, exit code 2):

- ``-`` means standard output; any other path must be a regular file or not exist yet. A symlink, FIFO,
  device, socket or folder at that path is never replaced and never written through (``--json
  /dev/stdout`` as root must not turn /dev/stdout into a regular file).
- the parent folder must exist: it is never created (a typo in a path is an error, not a new tree).
- the file is written to a temporary file in the same folder, then renamed over the path (a reader never
  sees half a report).

Gradescope: every submission of one convention and model set gets the same tests with the same
``max_score`` — one test per checked function, in the convention's order, whatever happened (load
failure, missing function, crash, wrong values); points and visibility per test are the instructor's.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import tempfile
from pathlib import Path

from numeric.checking.results import CheckReport, TestResult
from numeric.checking.safe_text import clean_json, code_block, markdown_escape

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


class ReportWriteError(OSError):
    """A report could not be written where asked (refused or failed): the checker's exit code 2."""


def check_destination(path: str | os.PathLike) -> None:
    """Refuse a destination that is not ``-``, a regular file, or a new file in an existing folder.

    Raises:
        ReportWriteError: saying what is at the path (or which folder is missing) and what is expected.
    """
    if str(path) == "-":
        return
    path = Path(path)
    parent = path.parent
    if not parent.is_dir():
        raise ReportWriteError(f"{path}: the folder {parent} does not exist (it is not created); "
                               "expected a path in an existing folder, or - for standard output")
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as err:
        raise ReportWriteError(f"{path}: cannot be inspected: {err.strerror}") from err
    if not stat.S_ISREG(info.st_mode):
        raise ReportWriteError(f"{path} is {_kind(info.st_mode)}, not a regular file: refusing to replace or write "
                               "through it; expected a regular file or a new path, or - for standard output")


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "a special file"


def safe_write(path: str | os.PathLike, text: str | bytes) -> None:
    """Write ``text`` (str: UTF-8; or bytes) to ``path`` (``-``: standard output) under the rules of the
    module docstring.

    Raises:
        ReportWriteError: refused or failed (the message says why).
    """
    if str(path) == "-":
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except OSError as err:
            raise ReportWriteError(f"standard output: {err.strerror or err}") from err
        return
    check_destination(path)
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise ReportWriteError(f"{path}: cannot create a file in {path.parent}: {err.strerror or err}") from err
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(text if isinstance(text, bytes) else text.encode("utf-8"))
        os.chmod(tmp, 0o644)
        check_destination(path)  # again, just before the rename: nothing special appeared meanwhile
        os.replace(tmp, path)
    except BaseException as err:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(err, ReportWriteError):
            raise
        if isinstance(err, OSError):
            raise ReportWriteError(f"{path}: {err.strerror or err}") from err
        raise


atomic_write = safe_write  # the older name (batch summaries)


def to_json(report: CheckReport) -> dict:
    """Per test: name, passed, errors, warnings, diagnosis [{mistake, confidence, evidence}], checks, notes;
    the run's probe seed (instructors only: ``--seed`` reproduces the run). Student text is kept, without
    control characters."""
    return clean_json(report.as_dict())


def write_json(report: CheckReport, path: str | os.PathLike) -> None:
    safe_write(path, json.dumps(to_json(report), indent=2, default=_plain) + "\n")


def _plain(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def gradescope(report: CheckReport, tests: list[str] | None = None, points: dict[str, float] | None = None,
               visibility: dict[str, str] | None = None, default_visibility: str = "visible") -> dict:
    """Gradescope's results.json.

    Args:
        report: the check's report.
        tests: the test names every submission gets, in order (``api.test_names``); default: the report's.
            A name the report lacks (the checker failed before running it) is a failed test.
        points: points per test name (default 1 each); a test scores all its points or none.
        visibility: per test name, one of VISIBILITIES; others get ``default_visibility``.

    Every piece of text from the submission is Markdown-escaped or fenced (``safe_text``); the probe seed
    is not shown (it is the instructor's).
    """
    points, visibility = points or {}, visibility or {}
    names = list(tests) if tests is not None else [t.name for t in report.tests]
    by_name = {t.name: t for t in report.tests}
    entries = []
    for name in names:
        test = by_name.get(name)
        max_score = float(points.get(name, 1))
        passed = test is not None and test.passed
        entries.append({"name": name, "score": max_score if passed else 0.0, "max_score": max_score,
                        "status": "passed" if passed else "failed", "output": _test_markdown(test, report),
                        "output_format": "md", "visibility": visibility.get(name, default_visibility)})
    failed = sum(e["status"] == "failed" for e in entries)
    lines = [f"**All {len(entries)} tests passed.**" if entries and not failed
             else f"**{failed} of {len(entries)} tests failed:** see each test."]
    if report.load_error:
        lines.append(f"**The submission could not be loaded:** {markdown_escape(report.load_error)}")
    lines += [f"- warning: {markdown_escape(w)}" for w in report.warnings]
    lines += [f"- {markdown_escape(n)}" for n in report.notes]
    if report.isolation:
        layers = ", ".join(f"{markdown_escape(layer.get('layer', '?'))} "
                           f"{'in force' if layer.get('in_force') else 'not available'}" for layer in report.isolation)
        lines.append(f"Isolation: {layers}.")
    for label, text in (("The submission printed (not graded)", report.stdout),
                        ("The submission wrote to stderr (not graded)", report.stderr)):
        if text:
            lines.append(f"{label}:\n\n{code_block(text[:4000])}")
    return {"score": sum(e["score"] for e in entries), "max_score": sum(e["max_score"] for e in entries),
            "output": "\n\n".join(lines), "output_format": "md", "visibility": default_visibility,
            "tests": entries, "execution_time": round(report.seconds, 2)}


def _test_markdown(test: TestResult | None, report: CheckReport) -> str:
    if test is None:
        why = report.load_error or "the checker stopped before this test ran"
        return f"**Not run:** {markdown_escape(why)}"
    lines = []
    for c in test.checks:
        verdict = "ok" if c.passed else "**wrong**"
        if c.kind == "input" and c.error is not None and c.tolerance is not None and c.error > c.tolerance:
            verdict = "changed in place" if c.passed else "**changed in place**"
        error = f"relative error {c.error:.2e} (tolerance {c.tolerance:.0e})" \
            if c.error is not None and c.tolerance is not None else "not compared"
        numerical = f"; vs numerical gradient {c.numerical_error:.2e}" if c.numerical_error is not None else ""
        lines.append(f"- {markdown_escape(c.name)}: {verdict}, {error}{numerical}")
    shown = set()
    for c in test.checks:
        if not c.passed:
            lines.append(f"\n**{markdown_escape(c.message or c.name)}**")
            lines += [f"- {markdown_escape(w.strip())}" for w in c.where if not w.startswith("probe ")]
            shown.add(c.message)
    lines += [f"- error: {markdown_escape(e)}" for e in test.errors if e not in shown]
    lines += [f"- warning: {markdown_escape(w)}" for w in test.warnings]
    lines += [f"- note: {markdown_escape(n)}" for n in test.notes]
    lines += [f"- likely mistake **{markdown_escape(d.mistake)}** (confidence {d.confidence:.0%}): "
              f"{markdown_escape(d.evidence)}" for d in test.diagnosis]
    return "\n".join(lines) if lines else ("passed" if test.passed else "failed")


def write_gradescope(report: CheckReport, path: str | os.PathLike, **options) -> None:
    """``gradescope(report, **options)`` written to ``path`` (``safe_write``)."""
    safe_write(path, json.dumps(gradescope(report, **options), indent=2) + "\n")
