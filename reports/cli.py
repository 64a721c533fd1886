"""The ``bptt`` command: one sub-command per module in :data:`COMMANDS`.

Each command module provides ``add_parser(subparsers)`` and ``run(args) -> int``.
Exit codes (DEVELOPERS.md): 0 success, 1 a check failed, 2 unusable input, 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import textwrap

# Exit codes and UsageError are re-exported for code written against the old place; commands import
# reports.exits (importing this module from a command would load it twice under `python -m reports.cli`).
from reports.exits import (EXIT_BROKEN_PIPE, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE,  # noqa: F401
                           UsageError)
from reports.version import bptt_version

# Sub-command modules under reports/commands/, in the order `bptt --help` lists them.
COMMANDS = ["demo", "list", "verify", "derive", "codegen", "check", "autograder", "flow", "train", "report"]


class ArgumentsRefused(UsageError):
    """A flag or argument argparse refused; ``prog`` is the (sub-)command that refused it."""

    def __init__(self, prog: str, message: str):
        super().__init__(message)
        self.prog = prog


class WholeWords(argparse.HelpFormatter):
    """--help text wrapped between words only: argparse's own wrapping breaks at hyphens, which cuts
    paths and flags (``./bptt-`` / ``summary.json``, ``--no-`` / ``bias``) at a narrow terminal."""

    def _split_lines(self, text, width):
        return textwrap.wrap(self._whitespace_matcher.sub(" ", text).strip(), width,
                             break_on_hyphens=False, break_long_words=False)

    def _fill_text(self, text, width, indent):
        return textwrap.fill(self._whitespace_matcher.sub(" ", text).strip(), width, initial_indent=indent,
                             subsequent_indent=indent, break_on_hyphens=False, break_long_words=False)


class Parser(argparse.ArgumentParser):
    """argparse whose errors reach :func:`main` as a :class:`UsageError`: one line, exit 2, no usage block
    (and ``main`` returns 2 instead of raising SystemExit, as for every other unusable input)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", WholeWords)  # sub-commands' parsers are made by this class too
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        raise ArgumentsRefused(self.prog, f"{message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="bptt",
        description="Derive, print, generate and verify the gradients of recurrent networks.",
    )
    parser.add_argument("--version", action="version", version=f"bptt {bptt_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")  # sub-parsers are Parser too
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"reports.commands.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"reports.commands.{name}":
                raise
            continue  # command not built yet
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from reports import interrupt
    from reports.pipe import StripTrailingSpaces

    real = sys.stdout, sys.stderr
    # padding to the terminal's width has no place in a file or a pipe
    if not sys.stdout.isatty():
        sys.stdout = StripTrailingSpaces(sys.stdout)
    if not sys.stderr.isatty():
        sys.stderr = StripTrailingSpaces(sys.stderr)
    command = "bptt"
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return EXIT_USAGE
        command = f"bptt {args.command}"
        with interrupt.children_die_with_ctrl_c():
            return args.run(args)
    except UsageError as err:
        print(f"{getattr(err, 'prog', command)}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `bptt … | head`: the reader left; say nothing more, like a killed pipe member
        import os

        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), real[0].fileno())  # no second error at exit
        except (OSError, ValueError, AttributeError):  # a stream without a descriptor (tests)
            pass
        return EXIT_BROKEN_PIPE
    except SystemExit:
        if getattr(sys.stdout, "broken", False):  # Rich's answer to a broken pipe is SystemExit(1)
            return EXIT_BROKEN_PIPE
        raise
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        for stream in (sys.stdout, sys.stderr):
            if isinstance(stream, StripTrailingSpaces):
                try:
                    stream.close()
                except (BrokenPipeError, ValueError):  # the reader left; the stream was closed
                    pass
        sys.stdout, sys.stderr = real


if __name__ == "__main__":
    sys.exit(main())
