"""Rich terminal rendering of a checking report (numeric.checking.results): forward first, then every
gradient with its error, localisation and the diagnosed mistake; the submission's own output apart.

Text that may come from the submission (errors, notes, its prints) is built as ``rich.text.Text`` (never
parsed as markup) after ``safe_text``: escape sequences and control characters stripped, and messages
kept on their own line ("⏎" for a line break), so nothing it prints can look like the checker's verdict."""

from __future__ import annotations

import io

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from numeric.checking.results import CheckReport, TestResult
from numeric.checking.safe_text import one_line, strip_controls


def _item(marker: str, text: str, style: str = "") -> Table:
    """``marker`` then ``text`` wrapped in its own column: a wrapped line of (possibly the submission's)
    text never starts at the left edge, where the checker's own verdict lines are."""
    grid = Table.grid()
    grid.add_column(no_wrap=True)
    grid.add_column(ratio=1)
    grid.add_row(Text(marker, style=style), Text(one_line(text), style=style))
    return grid


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.1e}"


class TestView:
    """One test: a table of its outputs, then errors, localisation and diagnosis."""

    def __init__(self, test: TestResult):
        self.test = test

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        t = self.test
        mark = Text("PASS", style="bold green") if t.passed else Text("FAIL", style="bold red")
        yield Text.assemble(mark, " ", (t.name, "bold"), f"  ({t.seconds:.2f} s)")
        if t.checks:
            table = Table(box=None, padding=(0, 1), show_edge=False)
            for col, just in (("output", "left"), ("kind", "left"), ("rel. error", "right"),
                              ("tolerance", "right"), ("vs numerical", "right"), ("", "left")):
                table.add_column(col, justify=just)
            order = {"forward": 0, "gradient": 1, "input": 2}
            for c in sorted(t.checks, key=lambda c: order.get(c.kind, 3)):
                verdict = Text("ok", style="green") if c.passed else Text("wrong", style="red")
                if c.kind == "input" and c.error is not None and c.tolerance is not None and c.error > c.tolerance:
                    verdict = Text("changed", style="yellow" if c.passed else "red")
                table.add_row(Text(one_line(c.name)), c.kind, _num(c.error), _num(c.tolerance),
                              _num(c.numerical_error), verdict)
            yield table
        for c in t.checks:
            if not c.passed:
                yield _item("  ✗ ", c.message or c.name, "red")
                for line in c.where:
                    if not line.startswith("probe "):  # the message already names the probe
                        yield _item("    ", line.strip())
        shown = {c.message for c in t.checks}
        for e in t.errors:
            if e not in shown:
                yield _item("  ✗ ", e, "red")
        for w in t.warnings:
            yield _item("  ! warning: ", w, "yellow")
        for n in t.notes:
            yield _item("  · ", n, "dim" if t.passed else "")
        for d in t.diagnosis:
            yield Text.assemble("  likely mistake: ", (one_line(d.mistake), "bold yellow"),
                                f"  (confidence {d.confidence:.0%})")
            yield _item("    ", d.evidence)


class CheckReportView:
    """The whole report: header, load problems, every test, the submission's output, the verdict."""

    def __init__(self, report: CheckReport):
        self.report = report

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        r = self.report
        yield _item("bptt check ", f"{r.submission}  — convention {r.convention}, model {r.model}")
        if r.isolation:
            incomplete = any("hooks only" in w for w in r.warnings)
            yield _item("isolation: ", ", ".join(f"{d['layer']} {'✓' if d['in_force'] else '✗'}" for d in r.isolation)
                        + (" — untrusted code ran with hooks only in place of the missing layers" if incomplete else ""),
                        "bold yellow" if incomplete else "dim")
        if r.load_error:
            yield _item("✗ the submission could not be loaded: ", r.load_error, "bold red")
        for warning in r.warnings:
            yield _item("! warning: ", warning, "bold yellow")
        if r.seed is not None:
            yield _item("· ", "probes: drawn from this run's secret seed (in the JSON report; --seed reproduces "
                        "the run)", "dim")
        for note in r.notes:
            yield _item("· ", note, "dim")
        for t in r.tests:
            yield TestView(t)
        if r.stdout or r.stderr:
            body = Group(*(Text(f"{name}:\n{strip_controls(text).rstrip()}")
                           for name, text in (("stdout", r.stdout), ("stderr", r.stderr)) if text))
            yield Panel(body, title="the submission printed (not part of any result)", expand=False)
        passed = sum(t.passed for t in r.tests)
        style = "bold green" if r.passed else "bold red"
        warned = sum(bool(t.warnings) for t in r.tests)
        tail = f", {warned} with warnings" if warned else ""
        yield Text(f"{passed}/{len(r.tests)} tests passed{tail} in {r.seconds:.2f} s", style=style)


def render(report: CheckReport, width: int = 100) -> str:
    """The report as plain text at a fixed width (tests compare this)."""
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(CheckReportView(report))
    return console.export_text()


def _names(names: list[str], total: int | None = None, shown: int = 3) -> Text:
    """Test or mistake names for one table cell, whole: 'all' when every test is listed, the first
    ``shown`` and '+N more' beyond (a cut at a fixed width would break a name mid-word)."""
    if total and len(names) == total > 1:
        return Text("all")
    head = ", ".join(one_line(n) for n in names[:shown])
    return Text(head + (f", +{len(names) - shown} more" if len(names) > shown else ""))


def batch_table(summary: dict) -> Table:
    table = Table(title=f"batch: {summary['directory']}")
    table.add_column("submission", overflow="fold")
    for col in ("passed", "tests", "failed tests", "top diagnosis"):
        table.add_column(col)
    for s in summary["submissions"]:
        table.add_row(Text(one_line(s["submission"])), "yes" if s["passed"] else "no",
                      f"{s['tests_passed']}/{s['tests']}", _names(s["failed"], s["tests"]),
                      _names(s["diagnoses"]))
    return table
