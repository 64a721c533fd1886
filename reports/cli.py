"""The ``bptt`` command: one sub-command per module in :data:`COMMANDS`.

Each command module provides ``add_parser(subparsers)`` and ``run(args) -> int``.
Exit codes (DEVELOPERS.md): 0 success, 1 a check failed, 2 unusable input.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from importlib.metadata import PackageNotFoundError, version

# Sub-command modules under reports/commands/, in the order `bptt --help` lists them.
COMMANDS = ["demo", "verify", "derive", "codegen", "check", "autograder", "flow", "train", "report"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Unusable input (bad flag value, unreadable file): reported in one line, exit code 2."""


def _version() -> str:
    try:
        return version("bptt")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bptt",
        description="Derive, print, generate and verify the gradients of recurrent networks.",
    )
    parser.add_argument("--version", action="version", version=f"bptt {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
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
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.run(args)
    except UsageError as err:
        print(f"bptt {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
