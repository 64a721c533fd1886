"""Plain result objects of a check, and their JSON form (presentation lives in reports/check_report.py)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Diagnosis:
    """A known mistake the student's numbers match.

    Attributes:
        mistake: identifier (numeric.checking.mistakes.MISTAKES).
        confidence: 0..1; ≥ 0.9 means every wrong output was reproduced exactly and nothing else changed.
        evidence: one or two sentences: which outputs the mutated reference reproduced, on which probes.
    """

    mistake: str
    confidence: float
    evidence: str

    def as_dict(self) -> dict:
        return {"mistake": self.mistake, "confidence": round(float(self.confidence), 3), "evidence": self.evidence}


@dataclass
class ArrayCheck:
    """One output of one test compared with the reference.

    Attributes:
        name: the output's name in the convention ("dWx", "h", "loss", "dh (after the call)").
        kind: "forward", "gradient" or "input" (an argument that must not change).
        passed: within tolerance on every probe.
        error: worst norm-wise relative error over the probes (None when it could not be compared).
        tolerance: the bound it was held to.
        numerical_error: cs231n-style max entry-wise relative error against central differences of the
            reference (the "usual" number), first probe; None when not computed.
        message: why it failed, stated as contract, expected vs got, where.
        where: localisation lines (per time step, per gate block, exact outputs).
    """

    name: str
    kind: str
    passed: bool
    error: float | None = None
    tolerance: float | None = None
    numerical_error: float | None = None
    message: str = ""
    where: list[str] = field(default_factory=list)


@dataclass
class TestResult:
    """One function (or one gradient group) of the submission.

    Attributes:
        name: the test's name ("rnn_step_backward", "bptt").
        passed: every check passed and the call did not fail.
        errors: precise failure messages (call failures, validation, comparisons).
        checks: the compared outputs.
        diagnosis: known mistakes matched, best first.
        notes: additional localisation (upstream through h only vs c only, per loss term).
        warnings: things a grader should see that do not fail the test by themselves (an input
            changed in place, gradients clipped inside the function), each with its evidence.
    """

    name: str
    passed: bool
    errors: list[str] = field(default_factory=list)
    checks: list[ArrayCheck] = field(default_factory=list)
    diagnosis: list[Diagnosis] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        d = asdict(self)
        d["diagnosis"] = [x.as_dict() for x in self.diagnosis]
        return d


@dataclass
class CheckReport:
    """Everything about one submission.

    Attributes:
        submission: the file checked.
        convention, model: what it was checked as.
        tests: one per function / gradient group.
        load_error: the submission could not be loaded (syntax error, import-time exception, timeout).
        stdout, stderr: what the submission printed (capped), shown apart; never part of a result.
        notes: how the file was loaded (min-char-rnn: statements skipped), process restarts.
        isolation: the sandbox layers, one {"layer", "in_force", "detail"} each, as the launcher found
            them (separate user, namespaces, seccomp, resource limits, in-process hooks).
        seed: the secret probe seed of this run (recorded so that ``--seed`` reproduces it).
        warnings: report-level warnings (e.g. untrusted code ran without the OS isolation layers).
    """

    submission: str
    convention: str
    model: str
    tests: list[TestResult] = field(default_factory=list)
    load_error: str | None = None
    stdout: str = ""
    stderr: str = ""
    notes: list[str] = field(default_factory=list)
    isolation: list[dict] = field(default_factory=list)
    seed: int | None = None
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return bool(self.tests) and all(t.passed for t in self.tests)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def as_dict(self) -> dict:
        return {"submission": self.submission, "convention": self.convention, "model": self.model,
                "passed": self.passed, "load_error": self.load_error, "seconds": round(self.seconds, 3),
                "tests": [t.as_dict() for t in self.tests], "stdout": self.stdout, "stderr": self.stderr,
                "notes": self.notes, "warnings": self.warnings, "isolation": self.isolation,
                "seed": self.seed}
