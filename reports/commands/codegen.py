"""`bptt codegen MODEL|CELLFILE`: generate the NumPy module of a cell, verify it, then write it."""

from __future__ import annotations

import sys
from pathlib import Path

from reports.version import bptt_version
from reports.exits import EXIT_FAILED, EXIT_OK, UsageError
from reports.commands._args import add_seed_and_dims, add_truncate_and_bias, model_or_cell


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
    p.add_argument("-o", "--output", metavar="FILE", default=None,
                   help="where to write the module (default: standard output)")
    add_truncate_and_bias(p, "verify truncated BPTT with k steps (the module takes truncate= at run time)")
    p.add_argument("--unverified", action="store_true", help="write the code even if verification fails")
    add_seed_and_dims(p, "added to the seeds of the verification's random points (default 0)")
    p.set_defaults(run=run)


def run(args) -> int:
    from rich.console import Console

    from derive.codegen import generate
    from derive.errors import CellError
    from reports.codegen_verify import verify_generated
    from reports.verification import RunsSummaryView
    from reports.verification import VerificationView

    out = Path(args.output) if args.output else None  # None: standard output
    if out is not None and (out.is_dir() or not out.parent.exists()):
        raise UsageError(f"-o {out}: not a writable file path (the directory "
                         f"{'is the target' if out.is_dir() else 'does not exist'})")
    try:
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
