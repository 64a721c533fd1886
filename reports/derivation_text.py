"""Terminal view of a derivation: numbered steps with Unicode mathematics (rich renderables)."""

from __future__ import annotations

import io

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.padding import Padding
from rich.rule import Rule
from rich.table import Table
from rich.text import Text


class DerivationView:
    """A :class:`derive.derivation.Derivation` (and optional certificate) as a rich renderable."""

    def __init__(self, derivation, certificate=None, sections: tuple[str, ...] | None = None):
        self.derivation = derivation
        self.certificate = certificate
        self.sections = sections  # section-title prefixes to show (None: all)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        d = self.derivation
        head = Text(d.title, style="bold")
        info = [f"T = {d.steps_T}"]
        if d.truncate is not None:
            info.append(f"truncated BPTT, k = {d.truncate}")
        if not d.cell.bias:
            info.append("no biases")
        head.append("   " + ", ".join(info), style="dim")
        yield head
        if d.cell.description:
            yield Text(d.cell.description, style="italic")
        for section, steps in d.sections():
            if self.sections is not None and not section.startswith(self.sections):
                continue
            yield Text()
            yield Rule(Text(section, style="bold cyan"), align="left", style="cyan")
            table = Table.grid(padding=(0, 1), expand=False)
            table.add_column(justify="right", style="bold", width=4, no_wrap=True)
            table.add_column(ratio=1, overflow="fold")
            for s in steps:
                eq = Text(s.text())
                note = Text.assemble((s.rule, "green"), (" — " + s.justification, "dim"))
                table.add_row(f"({s.number})", Group(eq, note))
            yield Padding(table, (0, 0, 0, 0))
        if self.certificate is not None:
            yield Text()
            c = self.certificate
            yield Rule(Text("Certificate", style="bold cyan"), align="left", style="cyan")
            table = Table(box=None, padding=(0, 2), show_edge=False)
            for col, just in (("∂E/∂·", "left"), ("entries", "right"), ("worst relative difference", "right"),
                              ("", "left")):
                table.add_column(col, justify=just)
            for r in c.rows:
                table.add_row(r.name, str(r.entries), f"{r.max_rel_error:.1e}",
                              Text("ok", style="green") if r.passed else Text("FAIL", style="bold red"))
            yield table
            yield Text(c.summary(), style="bold green" if c.passed else "bold red")


def render(derivation, certificate=None, sections: tuple[str, ...] | None = None) -> DerivationView:
    """The derivation as a rich renderable; ``sections``: title prefixes to keep (default all)."""
    return DerivationView(derivation, certificate, sections)


def course_derivation():
    """The course's Elman derivation for T = 3 (all parameters): what ``bptt demo`` opens with."""
    from derive import derive, load_cell

    return derive(load_cell("rnn"), steps=3)


def course_view(brief: bool = False) -> DerivationView:
    """Renderable of :func:`course_derivation` — for ``bptt demo``.

    Args:
        brief: Only the course's E₃ steps (about 40 lines at 100 columns) instead of all (~110).
    """
    return render(course_derivation(), sections=("The course's example",) if brief else None)


def to_text(derivation, width: int = 100, certificate=None) -> str:
    """Plain text of the view at a fixed width (tests, files)."""
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(render(derivation, certificate))
    return console.export_text()
