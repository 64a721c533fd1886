"""Argument types shared by sub-commands; argparse turns their ValueErrors into exit code 2."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def add_truncate_and_bias(p: argparse.ArgumentParser, truncate_help: str) -> None:
    """--truncate k and --bias/--no-bias, the same for every command that runs BPTT."""
    p.add_argument("--truncate", type=positive_int, default=None, metavar="k", help=truncate_help)
    p.add_argument("--bias", action=argparse.BooleanOptionalAction, default=True,
                   help="include the biases b…, c (default); --no-bias gives the course's equations")
