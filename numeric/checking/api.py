"""``check``: one submission, one convention → a CheckReport (the function behind ``bptt check``)."""

from __future__ import annotations

import ast
import re
import time
from pathlib import Path

from numeric.checking import conventions
from numeric.checking.conventions import CheckUsageError
from numeric.checking.loading import Prepared, SubmissionError, prepare
from numeric.checking.reference import new_run_seed, run_seed
from numeric.checking.results import CheckReport, TestResult
from numeric.checking.runner import run_cases
from numeric.checking.sandbox import ALLOWABLE, DEFAULT_PACKAGES, Limits, Sandbox, missing_os_layers
from numeric.checking.sandbox.files import UnsafeFile, read_plain_file


def check(submission: str | Path, convention: str, models: tuple[str, ...] | str | None = None, *,
          adapter: str | Path | None = None, allow_imports: tuple[str, ...] = (), timeout: float = 10.0,
          memory_mb: int = 1024, numerical: bool = True, budget: float = 60.0, require_isolation: bool = False,
          load: str | None = None, with_files: tuple[str | Path, ...] = (), seed: int | None = None,
          strict_inputs: bool = False) -> CheckReport:
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
        budget: total seconds for all of the submission's calls; once spent, the remaining calls fail.
        require_isolation: refuse (CheckUsageError) unless every OS isolation layer is in force
            (separate user when root, namespaces, seccomp).
        load: "module" (run the file) or "defs" (top-level statements one at a time, definitions only);
            default: the convention's (min-char-rnn: "defs").
        with_files: helper files shipped next to the submission (``from rnn_utils import *``).
        seed: the probes' secret seed; None draws a new one (``secrets``). Recorded in ``report.seed``:
            the same seed gives the same probes again.
        strict_inputs: an input changed in place fails its test (default: a warning).

    Raises:
        CheckUsageError: missing file, unknown convention/model/load mode, adapter or --with file problems,
            missing isolation under ``require_isolation``: the checker's usage errors (exit code 2), never
            the student's (a broken notebook is the report's ``load_error``).
    """
    start = time.monotonic()
    path = Path(submission)
    if path.is_dir() and not path.is_symlink():
        raise CheckUsageError(f"{path} is a folder; expected a Python file (a folder of submissions: --batch DIR)")
    for file in (path, *with_files):  # the student controls these entries: no links, FIFOs or devices
        try:
            read_plain_file(file)
        except UnsafeFile as err:
            raise CheckUsageError(f"refused: {err}") from err
        except OSError:
            pass  # missing or unreadable: reported below as before
    if not path.is_file():
        raise CheckUsageError(f"no such file: {path}")
    conv = conventions.get(convention)
    for name in allow_imports:
        if name not in ALLOWABLE:
            raise CheckUsageError(f"--allow-import {name!r}: expected one of {', '.join(ALLOWABLE)}")
    if budget <= 0:
        raise CheckUsageError(f"--budget: expected a positive number of seconds, got {budget:g}")
    if load not in (None, "defs", "module"):
        raise CheckUsageError(f"--load {load!r}: expected defs or module")
    packages = tuple(dict.fromkeys(DEFAULT_PACKAGES + tuple(allow_imports)))
    if require_isolation and missing_os_layers(packages):
        raise CheckUsageError(_refusal(missing_os_layers(packages)))
    if convention == "adapter":
        if adapter is None or not Path(adapter).is_file():
            raise CheckUsageError("convention 'adapter' needs --adapter FILE (an existing file)")
        models = (adapter_model(adapter),)
    else:
        if adapter is not None:
            raise CheckUsageError("--adapter is only used with --convention adapter")
        models = _models(conv, models)
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
        raise CheckUsageError(f"--seed: expected a non-negative integer, got {seed!r}")
    seed = new_run_seed() if seed is None else seed
    with run_seed(seed):  # every probe of this run mixes in the secret seed
        cases = conventions.cases(convention, models, str(adapter) if adapter else None)
    report = CheckReport(str(path), convention, ",".join(models), seed=seed)
    limits = Limits(timeout=timeout, load_timeout=2 * timeout, memory_mb=memory_mb, budget=budget)
    try:
        prepared = prepare(path, load or ("defs" if conv.load_mode == "library" else "module"), tuple(with_files))
    except SubmissionError as err:  # the student's file, not the checker's usage: every test fails
        report.load_error = str(err)
        report.tests = [TestResult(c.name, passed=False, errors=[f"{c.name}: not run, the submission could "
                                                                 f"not be loaded: {err}"]) for c in cases]
        report.seconds = time.monotonic() - start
        return report
    except OSError as err:
        raise CheckUsageError(f"{path}: cannot be prepared for checking: {err}") from err
    with Sandbox(prepared, adapter=str(adapter) if adapter else None, allow_imports=tuple(allow_imports),
                 limits=limits) as sandbox:
        report.isolation = sandbox.isolation
        if sandbox.missing_layers:
            if require_isolation:
                raise CheckUsageError(_refusal(sandbox.missing_layers))
            report.warnings.append(_hooks_only(sandbox.missing_layers))
        run_cases(cases, sandbox, report, numerical=numerical, strict_inputs=strict_inputs, timeout=timeout)
    report.stdout, report.stderr = sandbox.stdout, sandbox.stderr
    if prepared.cells:
        _point_at_cells(report, prepared)
    report.seconds = time.monotonic() - start
    return report


def test_names(convention: str, models: tuple[str, ...] | str | None = None,
               adapter: str | Path | None = None) -> list[str]:
    """The tests every submission of ``convention`` and ``models`` gets, in order (Gradescope's fixed list).

    Raises:
        CheckUsageError: unknown convention or model, adapter problems.
    """
    conv = conventions.get(convention)
    if convention == "adapter":
        if adapter is None or not Path(adapter).is_file():
            raise CheckUsageError("convention 'adapter' needs --adapter FILE (an existing file)")
        models = (adapter_model(adapter),)
    else:
        models = _models(conv, models)
    with run_seed(0):  # the names do not depend on the probes
        return [c.name for c in conventions.cases(convention, models, str(adapter) if adapter else None)]


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


def _refusal(missing: list[str]) -> str:
    return "--require-isolation: refusing to run untrusted code without " + "; ".join(missing)


def _hooks_only(missing: list[str]) -> str:
    names = ", ".join(m.split(":")[0] for m in missing)
    return (f"untrusted code ran without these OS isolation layers: {names}; what they stop was left to the "
            "in-process hooks only, which are not a security boundary (--require-isolation refuses instead)")


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
