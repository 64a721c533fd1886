"""``bptt list [WHAT]``: the names the other commands accept — models, example cells, check
conventions and the mistakes the checker recognises."""

from __future__ import annotations

import shutil
import textwrap

from reports.exits import EXIT_OK

SECTIONS = ("models", "cells", "conventions", "mistakes")


def add_parser(sub) -> None:
    p = sub.add_parser("list", help="list the built-in models, example cells, check conventions and known mistakes",
                       description="List the names the other commands accept: built-in models (MODEL), the "
                                   "example cell files shipped with bptt (CELLFILE), the conventions of "
                                   "`bptt check --convention` and the mistakes its reports can name.")
    p.add_argument("what", nargs="?", choices=SECTIONS, default=None, help="one section only (default: all)")
    p.set_defaults(run=run)


def _models() -> list[tuple[str, str]]:
    from derive.cellfile import BUILTIN, load  # SymPy-free: parsing only

    return [(name, load(name).description) for name in BUILTIN]


def _cells() -> list[tuple[str, str]]:
    from derive.cellfile import example_paths, parse

    return [(str(path), parse(path.read_text(encoding="utf-8"), str(path)).description)
            for path in example_paths()]


def _conventions() -> list[tuple[str, str]]:
    from numeric.checking.conventions import CONVENTIONS

    return [(name, f"{c.summary} (models: {', '.join(c.models) or 'as the adapter says'})".strip())
            for name, c in CONVENTIONS.items()]


def _mistakes() -> list[tuple[str, str]]:
    from numeric.checking.mistakes import MISTAKES

    return list(MISTAKES.items())


def _section(title: str, rows: list[tuple[str, str]], width: int) -> str:
    # whole words and whole paths per line: never cut a name or a path in two
    wrap = textwrap.TextWrapper(width=width, initial_indent="    ", subsequent_indent="    ",
                                break_long_words=False, break_on_hyphens=False)
    lines = [title]
    for name, text in rows:
        lines.append(f"  {name}")
        lines += wrap.wrap(text) if text else []
    return "\n".join(lines)


def run(args) -> int:
    width = min(shutil.get_terminal_size((80, 24)).columns, 100)
    makers = {"models": ("Models (MODEL)", _models), "cells": ("Example cells (CELLFILE)", _cells),
              "conventions": ("Check conventions (bptt check --convention)", _conventions),
              "mistakes": ("Mistakes the checker names", _mistakes)}
    chosen = [args.what] if args.what else list(SECTIONS)
    print("\n\n".join(_section(makers[s][0], makers[s][1](), width) for s in chosen))
    return EXIT_OK
