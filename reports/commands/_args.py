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

    items = [item.strip() for item in text.split(",")]
    if not any(items):
        raise argparse.ArgumentTypeError(f"expected models separated by commas, e.g. rnn,lstm; got {text!r}")
    try:
        return ",".join(resolve(item, names()) for item in items if item)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def file_name(text: str) -> str:
    """A path to write (its folder and what is at it are checked when writing): not empty."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a file name, got {text!r}")
    return text


def existing_file(text: str) -> str:
    """A file to read: it must exist and not be a folder."""
    from pathlib import Path

    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a file, got {text!r}")
    if Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; expected a file")
    if not Path(text).exists():
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    return text


def existing_folder(text: str) -> str:
    """A folder to read (``check --batch DIR``): it must exist and be a folder."""
    from pathlib import Path

    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a folder, got {text!r}")
    if not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"no such folder: {text}" if not Path(text).exists()
                                         else f"{text} is a file; expected a folder")
    return text


#: what ``--json FILE`` never writes over: code, notebooks, cell files (``check --json sub.py`` would
#: replace the submission with its own report)
NOT_JSON = (".py", ".ipynb", ".cell")


def json_destination(text: str) -> str:
    """``--json FILE``: where the JSON document goes, ``-`` for standard output.

    Refuses an empty name, a file of code (:data:`NOT_JSON`) and a bare built-in model name, which is
    what ``bptt verify --json rnn`` means: the optional FILE took the model.
    """
    from pathlib import Path

    if text == "-":
        return text
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a file name or - (standard output), got {text!r}")
    if Path(text).suffix.lower() in NOT_JSON:
        raise argparse.ArgumentTypeError(f"{text} is a {Path(text).suffix.lower()} file; expected a file for the JSON "
                                         "document (e.g. report.json) or - for standard output")
    from derive.cellfile import BUILTIN  # SymPy-free
    from reports.names import normalise

    if normalise(text) in {normalise(name) for name in BUILTIN} and not Path(text).exists():
        raise argparse.ArgumentTypeError(f"{text!r} is a model, not a file; put the model before --json, or "
                                         "write --json=FILE.json (--json alone: standard output)")
    return text


def add_json(p: argparse.ArgumentParser, what: str, on_stdout: str, dest: str = "json") -> None:
    """--json [FILE], the same in every command with a JSON document: FILE, or standard output when
    there is no FILE or it is ``-`` (``on_stdout``: what happens to the usual output then)."""
    p.add_argument("--json", dest=dest, nargs="?", const="-", default=None, type=json_destination,
                   metavar="FILE", help=f"{what} as JSON, to FILE or, with no FILE or -, to standard output "
                                        f"({on_stdout})")


def write_json_document(destination: str, text: str) -> None:
    """The JSON document ``text`` to ``destination`` (``-``: standard output).

    Raises:
        UsageError: the destination cannot be written (its flag is named).
    """
    import sys

    from reports.exits import UsageError

    if destination == "-":
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    from numeric.checking.writers import ReportWriteError, safe_write  # refuses links, FIFOs, folders

    try:
        safe_write(destination, text if text.endswith("\n") else text + "\n")
    except ReportWriteError as err:
        raise UsageError(f"--json {err}") from None


def check_json_destination(destination: str | None) -> None:
    """Refuse (UsageError naming --json) a destination that cannot be written, before any work."""
    if destination in (None, "-"):
        return
    from numeric.checking.writers import ReportWriteError, check_destination
    from reports.exits import UsageError

    try:
        check_destination(destination)
    except ReportWriteError as err:
        raise UsageError(f"--json {err}") from None


def cell_list(text: str) -> list[str]:
    """--models rnn,LSTM,gru: built-in cells or cell files, comma-separated, each resolved."""
    from reports.names import resolve_cell

    items = [item.strip() for item in text.split(",")]
    if not any(items):
        raise argparse.ArgumentTypeError(f"expected cells separated by commas, e.g. rnn,lstm; got {text!r}")
    try:
        return [resolve_cell(item) for item in items if item]
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def refuse_unused_forget_bias(bias: bool, recurrences) -> None:
    """--forget-bias sets the bias of a gate that carries a state; a run where no cell has that bias
    would silently ignore it, so it is refused (UsageError)."""
    from reports.exits import UsageError

    if not bias:
        raise UsageError("--forget-bias with --no-bias: without biases there is no forget-gate bias to set; "
                         "expected one of them")
    if not any(rec.forget_biases for rec in recurrences):
        names = ", ".join(rec.name for rec in recurrences)
        raise UsageError(f"--forget-bias: {names} has no gate that carries a state (LSTM f, GRU u), so no "
                         "forget-gate bias; expected a gated cell such as lstm or gru")
