"""``check``: one submission, one convention → a CheckReport (the function behind ``bptt check``)."""

from __future__ import annotations

import ast
import re
import tempfile
import time
from pathlib import Path

from numeric.checking import conventions
from numeric.checking.conventions import CheckUsageError
from numeric.checking.loading import Prepared, SubmissionError, prepare
from numeric.checking.results import CheckReport, TestResult
from numeric.checking.runner import run_cases
from numeric.checking.sandbox import ALLOWABLE, Limits, Sandbox


def check(submission: str | Path, convention: str, models: tuple[str, ...] | str | None = None, *,
          adapter: str | Path | None = None, allow_imports: tuple[str, ...] = (), timeout: float = 10.0,
          memory_mb: int = 1024, numerical: bool = True, load: str | None = None,
          with_files: tuple[str | Path, ...] = ()) -> CheckReport:
    """Check ``submission`` under ``convention``; never raises for anything the submission does.

    Args:
        submission: path of the student's .py file or Jupyter notebook (.ipynb).
        convention: "course", "cs231n", "min-char-rnn" or "adapter".
        models: which models' functions to check (default: the convention's, e.g. cs231n: rnn and lstm).
        adapter: the instructor's adapter file (convention "adapter" only).
        allow_imports: blocked top-level packages the submission may import (e.g. ("torch",)).
        timeout: seconds per call (import time gets twice as much).
        memory_mb: address-space limit of the submission's process.
        numerical: also compute the usual numerical-gradient number (central differences).
        load: "module" or "defs" (imports, definitions and constants only; default: the convention's).
        with_files: helper files shipped next to the submission (``from rnn_utils import *``).

    Raises:
        CheckUsageError: missing file, unknown convention/model/load mode, adapter or --with file problems:
            the checker's usage errors (exit code 2), never the student's (a broken notebook is the
            report's ``load_error``).
    """
    start = time.monotonic()
    path = Path(submission)
    if path.is_dir():
        raise CheckUsageError(f"{path} is a folder; expected a Python file (a folder of submissions: --batch DIR)")
    if not path.is_file():
        raise CheckUsageError(f"no such file: {path}")
    conv = conventions.get(convention)
    for name in allow_imports:
        if name not in ALLOWABLE:
            raise CheckUsageError(f"--allow-import {name!r}: expected one of {', '.join(ALLOWABLE)}")
    if convention == "adapter":
        if adapter is None or not Path(adapter).is_file():
            raise CheckUsageError("convention 'adapter' needs --adapter FILE (an existing file)")
        models = (adapter_model(adapter),)
    else:
        if adapter is not None:
            raise CheckUsageError("--adapter is only used with --convention adapter")
        models = _models(conv, models)
    cases = conventions.cases(convention, models, str(adapter) if adapter else None)
    report = CheckReport(str(path), convention, ",".join(models))
    try:
        prepared = prepare(path, load or ("defs" if conv.load_mode == "library" else conv.load_mode),
                           tuple(with_files))
    except SubmissionError as err:  # the student's file, not the checker's usage: every test fails
        report.load_error = str(err)
        report.tests = [TestResult(c.name, passed=False, errors=[f"{c.name}: not run, the submission could "
                                                                 f"not be loaded: {err}"]) for c in cases]
        report.seconds = time.monotonic() - start
        return report
    report.notes.extend(prepared.notes)
    limits = Limits(timeout=timeout, load_timeout=2 * timeout, memory_mb=memory_mb)
    with tempfile.TemporaryDirectory(prefix="bptt-prepared-") as folder:
        # until Sandbox ships Prepared itself: the main file as prepared ("statements" = the child's
        # library mode); the --with files are validated but not shipped by this bridge
        shipped = Path(folder) / prepared.main
        shipped.write_bytes(prepared.files[prepared.main])
        with Sandbox(shipped, mode="library" if prepared.mode == "statements" else "module",
                     adapter=str(adapter) if adapter else None,
                     allow_imports=tuple(allow_imports), limits=limits) as sandbox:
            run_cases(cases, sandbox, report, numerical=numerical)
    report.stdout, report.stderr = sandbox.stdout, sandbox.stderr
    if prepared.cells:
        _point_at_cells(report, prepared)
    report.seconds = time.monotonic() - start
    return report


def _point_at_cells(report: CheckReport, prepared: Prepared) -> None:
    """'rnn.py, line 57' → 'rnn.py, line 57 (notebook cell 9, line 3)' in the load error, the test errors and
    the notes on skipped statements."""
    pattern = re.compile(re.escape(prepared.main) + r", line (\d+)")

    def add_cell(match):
        cell = prepared.locate(int(match.group(1)))
        return match.group(0) + (f" (notebook {cell})" if cell else "")

    if report.load_error:
        report.load_error = pattern.sub(add_cell, report.load_error)
    for test in report.tests:
        test.errors = [pattern.sub(add_cell, e) for e in test.errors]
    skipped = re.compile(r"^line (\d+) skipped")  # the child's notes on statements it skipped
    report.notes = [skipped.sub(lambda m: m.group(0) + (f" (notebook {prepared.locate(int(m.group(1)))})"
                                                       if prepared.locate(int(m.group(1))) else ""), n)
                    for n in report.notes]


def _models(conv, models) -> tuple[str, ...]:
    if models is None or models == () or models == "":
        return conv.default_models
    if isinstance(models, str):
        models = tuple(m.strip() for m in models.split(",") if m.strip())
    for m in models:
        if m not in conv.models:
            raise CheckUsageError(f"--model {m!r} is not checked by convention {conv.name!r}; "
                                  f"expected one of: {', '.join(conv.models)}")
    return tuple(models)


def adapter_model(adapter: str | Path) -> str:
    """The adapter's ``MODEL = "..."`` read without running the file (it runs only in the sandbox)."""
    try:
        tree = ast.parse(Path(adapter).read_text(), str(adapter))
    except (SyntaxError, OSError, UnicodeDecodeError) as err:
        raise CheckUsageError(f"adapter {adapter}: cannot be parsed: {err}") from err
    values = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    from numeric import models
    model = values.get("MODEL")
    if model not in models.names() or model == "jordan":
        raise CheckUsageError(f"adapter {adapter}: MODEL must be one of "
                              f"{', '.join(n for n in models.names() if n != 'jordan')}, got {model!r}")
    return model


def adapter_bias(adapter: str | Path) -> bool:
    tree = ast.parse(Path(adapter).read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and getattr(node.targets[0], "id", "") == "BIAS":
            try:
                return bool(ast.literal_eval(node.value))
            except ValueError:
                pass
    return True
