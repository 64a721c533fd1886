"""Report files: JSON and Gradescope's results.json. Written by the checker only, after the submission's
process is dead, atomically (a temporary file in the same directory, then ``os.replace``): whatever the
submission left at that path — a file, a symlink — is replaced, never written through."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from numeric.checking.results import CheckReport


def atomic_write(path: str | os.PathLike, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def to_json(report: CheckReport) -> dict:
    """Per test: name, passed, errors, diagnosis [{mistake, confidence, evidence}], checks, notes."""
    return report.as_dict()


def write_json(report: CheckReport, path: str | os.PathLike) -> None:
    atomic_write(path, json.dumps(to_json(report), indent=2, default=_plain) + "\n")


def _plain(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def gradescope(report: CheckReport) -> dict:
    """Gradescope's results.json: one test per compared output (gradient or forward value) of every
    function, score 1 if it passed; a function that could not be run gives one failed test per output it
    should have returned, with the reason."""
    tests = []
    if report.load_error:
        tests.append({"name": "load the submission", "status": "failed", "score": 0, "max_score": 0,
                      "output": f"**The submission could not be loaded:** {report.load_error}",
                      "output_format": "md"})
    for t in report.tests:
        diag = "".join(f"\n- likely mistake **{d.mistake}** (confidence {d.confidence:.0%}): {d.evidence}"
                       for d in t.diagnosis)
        if not t.checks:
            if t.passed:  # optional function not defined
                continue
            tests.append({"name": t.name, "status": "failed", "score": 0, "max_score": 1,
                          "output": "\n".join(f"- {e}" for e in t.errors) + diag, "output_format": "md"})
            continue
        for c in t.checks:
            lines = [f"relative error vs the float64 reference: {c.error:.2e} (tolerance {c.tolerance:.0e})"
                     if c.error is not None and c.tolerance is not None else ""]
            if c.numerical_error is not None:
                lines.append(f"max relative error vs numerical gradient: {c.numerical_error:.2e}")
            if not c.passed:
                lines.append(f"**{c.message}**")
                lines += [f"- {w}" for w in c.where]
            text = "\n\n".join(x for x in lines if x)
            if not c.passed and diag:
                text += "\n" + diag
            tests.append({"name": f"{t.name}: {c.name}", "status": "passed" if c.passed else "failed",
                          "score": 1 if c.passed else 0, "max_score": 1, "output": text, "output_format": "md"})
        extra = [e for e in t.errors if not any(e == c.message for c in t.checks)]
        if extra:
            tests.append({"name": f"{t.name}: other", "status": "failed", "score": 0, "max_score": 1,
                          "output": "\n".join(f"- {e}" for e in extra) + diag, "output_format": "md"})
    if report.stdout or report.stderr:
        tests.append({"name": "submission output (not graded)", "status": "passed", "score": 0, "max_score": 0,
                      "output": f"```\n{(report.stdout + report.stderr)[:4000]}\n```", "output_format": "md"})
    score = sum(t["score"] for t in tests)
    max_score = sum(t["max_score"] for t in tests)
    return {"score": score, "max_score": max_score, "output_format": "md",
            "output": "All checks passed." if report.passed else "Some checks failed: see each test.",
            "tests": tests, "execution_time": round(report.seconds, 2)}


def write_gradescope(report: CheckReport, path: str | os.PathLike) -> None:
    atomic_write(path, json.dumps(gradescope(report), indent=2) + "\n")
