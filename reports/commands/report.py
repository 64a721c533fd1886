"""`bptt report MODEL|CELLFILE -o report.html`: derivation, code, verification, gradient flow — one page."""

from __future__ import annotations

from pathlib import Path

from reports.commands._args import add_bias, existing_file, file_name, model_or_cell
from reports.exits import EXIT_FAILED, EXIT_OK, UsageError


def add_parser(sub) -> None:
    p = sub.add_parser(
        "report", help="one self-contained HTML page: derivation, generated code, verification, gradient flow",
        description="Write one HTML page that needs no network to view: the derivation (MathML), the generated "
                    "NumPy code, its verification table, the gradient-flow plot (inline SVG) and, with "
                    "--training, the curves of a `bptt train --out DIR` run. Exit 0, 1 if a check on the page "
                    "failed, 2 unusable input.")
    p.add_argument("cell", metavar="MODEL|CELLFILE", type=model_or_cell, help="built-in cell (rnn, lstm, gru, …) or a .cell file")
    p.add_argument("-o", "--output", metavar="FILE", default="report.html", type=file_name, help="default report.html")
    p.add_argument("--training", metavar="HISTORY.json", default=None, type=existing_file,
                   help="the history.json of a `bptt train --out DIR` run, for the training curves")
    add_bias(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from derive.errors import CellError
    from reports.report_html import report, training_result

    out = Path(args.output)
    if out.is_dir() or not out.parent.exists():
        raise UsageError(f"-o {out}: expected a file path in an existing directory")
    try:
        training = training_result(args.training) if args.training else None
        page, passed = report(args.cell, training=training, bias=args.bias)
    except (CellError, ValueError) as err:
        raise UsageError(str(err)) from None
    out.write_text(page, encoding="utf-8")
    print(f"wrote {out} ({len(page) // 1024} KiB){'' if passed else ': a check on the page FAILED'}")
    return EXIT_OK if passed else EXIT_FAILED
