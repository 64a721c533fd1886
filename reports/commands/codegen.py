"""`bptt codegen MODEL|CELLFILE`: generate the NumPy module of a cell, verify it, then write it."""

from __future__ import annotations

import sys
from pathlib import Path

from reports.commands._args import (add_bidirectional, add_layers, add_seed_and_dims, add_truncate_and_bias,
                                   file_name, model_or_cell)
from reports.exits import EXIT_FAILED, EXIT_OK, UsageError
from reports.version import bptt_version


def add_parser(sub) -> None:
    p = sub.add_parser(
        "codegen",
        help="generate verified NumPy forward+BPTT code from a cell's derivation",
        description="Generate a standalone NumPy module (forward pass, loss, BPTT gradients of every "
                    "parameter, xs and initial state) from the derivation of a built-in cell or a cell file, "
                    "verify it against the hand-written model (built-ins), the complex step and central "
                    "differences, and write it. Code that fails verification is not written unless "
                    "--unverified. Exit 0 written, 1 verification failed, 2 unusable input.",
    )
    p.add_argument("cell", metavar="MODEL|CELLFILE", type=model_or_cell,
                   help="built-in cell (rnn, jordan, lstm, lstm-peephole, gru, gru-reset-after) or a .cell file")
    p.add_argument("-o", "--output", metavar="FILE", default=None, type=file_name,
                   help="where to write the module (default: standard output)")
    add_truncate_and_bias(p, "verify truncated BPTT with k steps (the module takes truncate= at run time)")
    p.add_argument("--unverified", action="store_true", help="write the code even if verification fails")
    add_seed_and_dims(p, "added to the seeds of the verification's random points (default 0)")
    add_layers(p)
    add_bidirectional(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from rich.console import Console

    from derive.codegen import generate
    from derive.errors import CellError
    from reports.codegen_verify import verify_generated
    from reports.verification import RunsSummaryView
    from reports.verification import VerificationView

    out = Path(args.output) if args.output is not None else None  # None: standard output ("" is refused)
    if getattr(args, "bidirectional", False):
        return _run_bidirectional(args, out)
    if out is not None and (out.is_dir() or not out.parent.exists()):
        raise UsageError(f"-o {out}: not a writable file path (the directory "
                         f"{'is the target' if out.is_dir() else 'does not exist'})")
    from derive import load_cell

    try:
        if getattr(args, "layers", None):
            gen = generate(load_cell(args.cell, bias=args.bias, layers=args.layers), bias=args.bias,
                           origin=f"{args.cell} with --layers {args.layers}")
        else:
            gen = generate(args.cell, bias=args.bias)
    except CellError as err:
        raise UsageError(str(err)) from None
    result = verify_generated(gen, truncate=args.truncate, seed=args.seed, dims=dict(args.dim))
    console = Console(stderr=True)
    console.print(RunsSummaryView(result, title=f"generated {gen.name}: verification before writing"))
    for note in result.notes:
        console.print(f"note: {note}", highlight=False)
    if not result.hand_written:
        console.print(f"{gen.name}: no hand-written model exists for this cell; checked with the numerical "
                      "oracles only")
    if not result.passed and not args.unverified:
        console.print(f"[bold red]verification failed: {out or 'the module'} not written[/] "
                      "(--unverified writes it anyway)")
        return EXIT_FAILED
    final = generate(gen.cell, verification=result.header_lines(bptt_version()), origin=gen.origin)
    verdict = "verified" if result.passed else "NOT verified (written with --unverified)"
    if out is None:
        sys.stdout.write(final.source)
        console.print(f"{gen.name}: {verdict}; the module went to standard output (-o FILE writes a file)")
        return EXIT_OK if result.passed else EXIT_FAILED
    try:
        final.write(out)
    except OSError as err:
        raise UsageError(f"-o {out}: cannot write ({err.strerror or err})") from None
    print(f"wrote {out}: {gen.name}, {verdict}", file=sys.stdout)
    return EXIT_OK if result.passed else EXIT_FAILED


def _run_bidirectional(args, out: Path | None) -> int:
    """--bidirectional: verify the direction cell and the network (reports/bidirectional_verify.py), then write."""
    from derive.bidirectional import generate
    from derive.codegen import generate as generate_cell
    from derive.errors import CellError
    from reports.bidirectional_verify import verify_bidirectional
    from reports.codegen_verify import verify_generated

    if getattr(args, "layers", None):
        raise UsageError("--bidirectional with --layers: not supported (one or the other)")
    if out is not None and (out.is_dir() or not out.parent.exists()):
        raise UsageError(f"-o {out}: not a writable file path")
    try:
        gen = generate(args.cell, bias=args.bias)
    except CellError as err:
        raise UsageError(str(err)) from None
    cell = verify_generated(generate_cell(gen.cell), truncate=args.truncate, seed=args.seed, large=None)
    net = verify_bidirectional(gen, truncate=args.truncate, seed=args.seed)
    passed = cell.passed and net.passed
    worst = max(c.error for c in net.comparisons if c.oracle == "complex-step")
    lines = [*cell.header_lines(bptt_version()),
             f"the whole network (float64, {net.sizes}): complex step {worst:.1e}, "
             f"{'passed' if net.passed else 'FAILED'}"]
    print(f"{gen.name}: direction cell {'passed' if cell.passed else 'FAILED'}, network "
          f"{'passed' if net.passed else 'FAILED'}", file=sys.stderr)
    if not passed and not args.unverified:
        print(f"verification failed: {out or 'the module'} not written (--unverified writes it anyway)",
              file=sys.stderr)
        return EXIT_FAILED
    final = generate(args.cell, bias=args.bias, verification=lines if passed else None)
    if out is None:
        sys.stdout.write(final.source)
        print(f"{gen.name}: the module went to standard output (-o FILE writes a file)", file=sys.stderr)
        return EXIT_OK if passed else EXIT_FAILED
    try:
        final.write(out)
    except OSError as err:
        raise UsageError(f"-o {out}: cannot write ({err.strerror or err})") from None
    print(f"wrote {out}: {gen.name}, {'verified' if passed else 'NOT verified (written with --unverified)'}")
    return EXIT_OK if passed else EXIT_FAILED
