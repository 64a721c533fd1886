"""Terminal rendering of a :class:`numeric.gradcheck.verify.Verification`: one row per gradient,
one column per oracle, each cell the norm-wise relative error against that oracle's tolerance."""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.table import Table
from rich.text import Text

ORACLE_TITLES = {
    "complex-step": "complex step",
    "central": "central diff.",
    "richardson": "Richardson",
    "float64": "vs float64",
    "directional": "directional",
}


class VerificationView:
    """Rich renderable for a Verification (domain object stays plain; presentation lives here)."""

    def __init__(self, verification, title: str | None = None):
        self.v = verification

        self.title = title

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        v = self.v
        sizes = ", ".join(f"{k}={n}" for k, n in v.sizes.items())
        trunc = "full BPTT" if v.truncate is None else f"truncated BPTT (k={v.truncate})"
        title = self.title or (f"{v.model}{'' if v.bias else ' (no bias)'} · {v.dtype} · {sizes} · {trunc} · "
                               f"seed {v.seed} · E = {v.loss:.6g}")
        oracles = [o for o in v.oracles if o != "directional"]
        table = Table(title=title, title_justify="left", header_style="bold")
        table.add_column("gradient", style="cyan", no_wrap=True)
        for oracle in oracles:
            table.add_column(ORACLE_TITLES.get(oracle, oracle), justify="right", no_wrap=True)
        by_name: dict[str, dict] = {}
        for c in v.comparisons:
            by_name.setdefault(c.name, {})[c.oracle] = c
        for name, row in by_name.items():
            if name == "(all)":
                continue
            table.add_row(f"∂E/∂{name}", *[_cell(row.get(o)) for o in oracles])
        yield table
        tol_line = "  ".join(f"{ORACLE_TITLES.get(o, o)} ≤ {by_oracle_tol(v, o):.0e}" for o in oracles)
        yield Text(f"tolerances (norm-wise relative error): {tol_line}", style="dim")
        for c in v.comparisons:
            if c.oracle == "directional":
                yield Text.assemble(("directional test ", "bold"),
                                    f"(⟨∇E, u⟩ vs complex-step derivative along random u, all gradients at once): "
                                    f"worst relative error {c.error:.1e} (≤ {c.tolerance:.0e}) ",
                                    _mark(c.passed))
        failures = [c for c in v.comparisons if not c.passed]
        if failures:
            yield Group(*[Text(f"✗ {c}", style="red") for c in failures])
        verdict = ("all gradients agree with every oracle" if v.passed
                   else f"{len(failures)} comparison(s) failed")
        yield Text(verdict, style="bold green" if v.passed else "bold red")


def by_oracle_tol(v, oracle: str) -> float:
    return next(c.tolerance for c in v.comparisons if c.oracle == oracle)


def _mark(passed: bool) -> Text:
    return Text("✓", style="green") if passed else Text("✗", style="bold red")


def _cell(c) -> Text:
    if c is None:
        return Text("—", style="dim")
    return Text.assemble(f"{c.error:.1e} ", _mark(c.passed))
