"""Argument types shared by sub-commands; argparse turns their ValueErrors into exit code 2."""

from __future__ import annotations

import argparse
import math


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
    add_bias(p)


def add_bias(p: argparse.ArgumentParser) -> None:
    """--bias/--no-bias, the same for every command whose cells have biases."""
    p.add_argument("--bias", action=argparse.BooleanOptionalAction, default=True,
                   help="include the biases b…, c (default); --no-bias gives the course's equations")


def dim_size(text: str) -> tuple[str, int]:
    """``NAME=N`` for --dim: the size of a dimension a cell file declares beyond D, H, K."""
    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=N (a dimension of the cell and its size), got {text!r}")
    return name, positive_int(value)


def add_seed_and_dims(p: argparse.ArgumentParser, seed_help: str) -> None:
    """--seed and --dim NAME=N, the same for `bptt codegen` and `bptt verify CELLFILE`."""
    p.add_argument("--seed", type=seed, default=0, help=seed_help)
    p.add_argument("--dim", type=dim_size, action="append", default=[], metavar="NAME=N",
                   help="size of a dimension other than D, H, K declared by the cell file's dims line "
                        "(repeatable; default: H + 1)")


def add_bidirectional(p: argparse.ArgumentParser) -> None:
    """--bidirectional: a forward and a backward pass of the cell with a joint output layer."""
    p.add_argument("--bidirectional", action="store_true",
                   help="a forward and a backward pass of the cell, joint output layer z = W_fw h→ + W_bw h← + c "
                        "(parameters U_fw, U_bw, …; derive/bidirectional.py)")


def add_layers(p: argparse.ArgumentParser) -> None:
    """--layers N: stack N layers of the cell (derive/layers.py, docs/cells.md "Stacked layers")."""
    p.add_argument("--layers", type=positive_int, default=None, metavar="N",
                   help="stack N layers of the cell: layer l reads layer l-1's h, the top layer feeds the "
                        "output layer; parameters U_1, V_1, …, U_f2, … (default: as the cell file says, else 1)")


def seed(text: str) -> int:
    """A random seed: NumPy takes 0 … 2**32 − 1."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2 ** 32:
        raise argparse.ArgumentTypeError(f"expected a seed, an integer from 0 to {2 ** 32 - 1}, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer ≥ 0, got {text!r}")
    return value


def finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_float(text: str) -> float:
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


class CommaList(argparse.Action):
    """A flag taking several values, space- or comma-separated alike (``--wrt W,V,U`` = ``--wrt W V U``);
    repeating the flag adds to the list."""

    def __call__(self, parser, namespace, values, option_string=None):
        items = [item.strip() for value in values for item in value.split(",")]
        if not all(items):
            raise argparse.ArgumentError(self, f"empty name in {','.join(values)!r}")
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest) or []), *items])


def add_steps(p: argparse.ArgumentParser, default: int, dest: str = "T") -> None:
    """--T (alias --steps): the sequence length T, the same flag in every command."""
    p.add_argument("--T", "--steps", dest=dest, type=positive_int, default=default, metavar="T",
                   help=f"sequence length T, time steps (default {default})")


def model_or_cell(text: str) -> str:
    """MODEL|CELLFILE: a built-in cell name (any case, '-' or '_') or a path to a cell file."""
    from reports.names import resolve_cell

    try:
        return resolve_cell(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def convention(text: str) -> str:
    """--convention: a check convention by name (any case, '-' or '_'), with "did you mean"."""
    from numeric.checking.conventions import names
    from reports.names import resolve

    try:
        return resolve(text, names(), what="convention")
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def model_list(text: str) -> str:
    """--model rnn,LSTM: built-in model names, comma-separated, each resolved; returned comma-joined."""
    from numeric.models import names
    from reports.names import resolve

    try:
        return ",".join(resolve(item, names()) for item in text.split(",") if item.strip())
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
