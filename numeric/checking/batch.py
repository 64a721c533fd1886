"""``check_batch``: grade every submission in a folder in parallel processes, write one summary.

Each worker process checks one submission at a time (itself starting one sandboxed child per
submission), so ``jobs`` workers keep ``jobs`` cores busy. The summary (JSON) has one row per submission
and the full per-test reports.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from numeric.checking.api import check
from numeric.checking.conventions import CheckUsageError
from numeric.checking.sandbox.files import UnsafeFile
from numeric.checking.writers import check_destination, safe_write, to_json


def _one(path: str, convention: str, models, kwargs: dict) -> dict:
    try:
        report = check(path, convention, models, **kwargs)
    except CheckUsageError as err:
        if isinstance(err.__cause__, UnsafeFile):  # this student's entry (a link, a FIFO): their row fails alone
            return {"submission": Path(path).name, "passed": False, "tests": 0, "tests_passed": 0,
                    "failed": ["refused"], "diagnoses": [], "error": str(err), "report": None}
        raise
    except Exception as err:  # noqa: BLE001 - one broken submission never stops the batch
        return {"submission": Path(path).name, "passed": False, "tests": 0, "tests_passed": 0,
                "failed": ["checker error"], "diagnoses": [], "error": f"{type(err).__name__}: {err}",
                "report": None}
    failed = [t.name for t in report.tests if not t.passed]
    diagnoses = sorted({t.diagnosis[0].mistake for t in report.tests if t.diagnosis})
    return {"submission": Path(path).name, "passed": report.passed, "tests": len(report.tests),
            "tests_passed": sum(t.passed for t in report.tests), "failed": failed, "diagnoses": diagnoses,
            "load_error": report.load_error, "seconds": round(report.seconds, 3), "report": to_json(report)}


def submissions(directory: str | Path) -> list[Path]:
    """The .py files directly in ``directory`` (sorted), or ``submission.py``/the single .py file of each
    sub-folder (one folder per student, as Gradescope and LMS exports lay them out)."""
    root = Path(directory)
    found = sorted(p for p in root.glob("*.py") if p.is_file())
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        files = sorted(sub.glob("*.py"))
        if (sub / "submission.py").is_file():
            found.append(sub / "submission.py")
        elif len(files) == 1:
            found.append(files[0])
    return found


def check_batch(directory: str | Path, convention: str, models=None, *, adapter=None, allow_imports=(),
                timeout: float = 10.0, memory_mb: int = 1024, jobs: int = 2, numerical: bool = False,
                summary_path: str | Path | None = None, budget: float = 60.0,
                require_isolation: bool = False) -> dict:
    """Check every submission in ``directory``; returns (and writes, default ./bptt-summary.json in the
    current folder, not into the graded one) the summary. The numerical-gradient column is off by default
    here (it is the slow part)."""
    root = Path(directory)
    if not root.is_dir():
        raise CheckUsageError(f"--batch: no such directory: {root}")
    files = submissions(root)
    if not files:
        raise CheckUsageError(f"--batch: no .py files in {root}")
    kwargs = dict(adapter=adapter, allow_imports=tuple(allow_imports), timeout=timeout, memory_mb=memory_mb,
                  numerical=numerical, budget=budget, require_isolation=require_isolation)
    # validate the arguments once, in this process, so that a usage error is exit code 2 and not 20 failures
    from numeric.checking import conventions
    from numeric.checking.api import _models
    conv = conventions.get(convention)
    if convention != "adapter":
        _models(conv, models)
    if require_isolation:  # refuse the whole batch at once rather than every submission
        from numeric.checking.api import _refusal
        from numeric.checking.sandbox import DEFAULT_PACKAGES, missing_os_layers
        missing = missing_os_layers(tuple(dict.fromkeys(DEFAULT_PACKAGES + tuple(allow_imports))))
        if missing:
            raise CheckUsageError(_refusal(missing))
    out = Path(summary_path) if summary_path else Path("bptt-summary.json")
    check_destination(out)  # refused before an hour of grading, not after (ReportWriteError)
    start = time.monotonic()
    with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        rows = list(pool.map(_one, [str(f) for f in files], [convention] * len(files), [models] * len(files),
                             [kwargs] * len(files)))
    for row, path in zip(rows, files):
        row["submission"] = str(path.relative_to(root))
    summary = {"directory": str(root), "convention": convention, "seconds": round(time.monotonic() - start, 2),
               "all_passed": all(r["passed"] for r in rows), "passed": sum(r["passed"] for r in rows),
               "total": len(rows), "submissions": rows}
    safe_write(out, json.dumps(summary, indent=2, default=str) + "\n")
    summary["summary_path"] = str(out)
    return summary
