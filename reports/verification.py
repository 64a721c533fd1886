"""Terminal rendering of a :class:`numeric.gradcheck.verify.Verification`: one row per gradient,
one column per oracle, each cell the norm-wise relative error against that oracle's tolerance."""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

ORACLE_TITLES = {
    "complex-step": "complex step",
    "central": "central diff.",
    "richardson": "Richardson",
    "float64": "vs float64",
    "directional": "directional",
    "generated": "generated code",
    "hand-written": "vs hand-written",
    "SymPy program": "forward vs\nSymPy program",
}

# two-line headers for the narrow summary table
SHORT_TITLES = {"complex-step": "complex\nstep", "central": "central\ndiff.", "richardson": "Richard-\nson",
                "hand-written": "hand-\nwritten", "float64": "float64\nrun", "directional": "direc-\ntional",
                "SymPy program": "forward\nvs SymPy"}


class VerificationView:
    """Rich renderable for a Verification (domain object stays plain; presentation lives here)."""

    def __init__(self, verification, title: str | None = None):
        self.v = verification
        self.title = title

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        v = self.v
        sizes = " ".join(f"{k}={n}" for k, n in v.sizes.items())
        trunc = "full BPTT" if v.truncate is None else f"truncated BPTT, k = {v.truncate}"
        yield Text.assemble((self.title or f"{v.model}{'' if v.bias else ' (no bias)'}", "bold"),
                            f"  ·  {v.dtype}  ·  {sizes}  ·  {trunc}  ·  seed {v.seed}  ·  E = {v.loss:.6g}")
        oracles = [o for o in v.oracles if o != "directional"]
        table = Table(header_style="bold", caption="‖g − ĝ‖ / (‖g‖ + ‖ĝ‖), all entries", caption_justify="left")
        table.add_column("gradient", style="cyan", no_wrap=True)
        for oracle in oracles:
            tol = next(c.tolerance for c in v.comparisons if c.oracle == oracle)
            table.add_column(f"{ORACLE_TITLES.get(oracle, oracle)}\n≤ {tol:.0e}", justify="right", no_wrap=True)
        by_name: dict[str, dict] = {}
        for c in v.comparisons:
            by_name.setdefault(c.name, {})[c.oracle] = c
        for name, row in by_name.items():
            if name != "(all)":
                label = name if name.startswith("forward ") else f"∂E/∂{name}"
                table.add_row(label, *[_cell(row.get(o)) for o in oracles])
        yield table
        for c in v.comparisons:
            if c.oracle == "directional":
                yield Text.assemble("directional test, ⟨∇E, u⟩ against the complex-step derivative along random u: "
                                    f"{c.error:.1e} (≤ {c.tolerance:.0e}) ", _mark(c.passed))
        failures = [c for c in v.comparisons if not c.passed]
        for c in failures:
            yield Text(f"✗ {c}", style="red")
        verdict = ("all gradients agree with every oracle" if v.passed
                   else f"{len(failures)} comparison(s) failed")
        yield Text(verdict, style="bold green" if v.passed else "bold red")


def _mark(passed: bool) -> Text:
    return Text("✓", style="green") if passed else Text("✗", style="bold red")


def _cell(c) -> Text:
    if c is None:
        return Text("—", style="dim")
    return Text.assemble(f"{c.error:.1e} ", _mark(c.passed))


class RunsSummaryView:
    """One row per verification run of a generated module (dtype, sizes), one column per oracle: the
    worst norm-wise relative error over every gradient of that run. Failures are listed in full."""

    def __init__(self, codegen_verification, title: str):
        self.cv = codegen_verification
        self.title = title

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        runs = self.cv.runs
        oracles = list(dict.fromkeys(c.oracle for r in runs for c in r.comparisons))
        # a narrow terminal (80 columns) gets a table without its outer frame rather than cut numbers
        narrow = options.max_width < 100
        table = Table(title=self.title, title_justify="left", header_style="bold", show_edge=not narrow,
                      caption="worst ‖g − ĝ‖ / (‖g‖ + ‖ĝ‖) over every gradient of the run", caption_justify="left")
        table.add_column("run", min_width=len("float64"))  # sizes as NAME=N words: wrapped between them
        for oracle in oracles:
            table.add_column(SHORT_TITLES.get(oracle, oracle), justify="right", no_wrap=True, min_width=9)
        legend = []
        for i, r in enumerate(runs, 1):
            label = f"{r.dtype} {' '.join(f'{k}={n}' for k, n in r.sizes.items())}"
            cells = []
            for oracle in oracles:
                cs = [c for c in r.comparisons if c.oracle == oracle]
                cells.append(_cell(max(cs, key=lambda c: c.error / c.tolerance)) if cs else _cell(None))
            # narrow: a short row label and the run's sizes in a legend below (a wrapped label takes 4 lines)
            table.add_row(f"run {i}" if narrow else label.replace(" ", "\n", 1), *cells)
            legend.append(f"run {i}: {label}")
        yield table
        if narrow:
            for line in legend:
                yield Text(line)
        for r in runs:
            for c in r.comparisons:
                if not c.passed:
                    yield Text(f"✗ {r.dtype} {r.sizes}: {c}", style="red")
        verdict = "every run agrees with every oracle" if self.cv.passed else "verification failed"
        yield Text(verdict, style="bold green" if self.cv.passed else "bold red")
