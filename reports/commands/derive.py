"""``bptt derive MODEL|CELLFILE``: the step-by-step BPTT derivation of a cell."""

from __future__ import annotations

import argparse
import sys

from reports.commands._args import (CommaList, add_json, add_steps, check_json_destination, model_or_cell,
                                   positive_float, positive_int, write_json_document)

FORMATS = ("text", "latex", "markdown", "html", "json")


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "derive",
        help="derive the BPTT gradients of a cell step by step",
        description="Derive ∂E/∂θ of a recurrent cell step by step with SymPy: the course's E_T "
                    "example, the δ recursion and the sum over time. MODEL is a built-in cell "
                    "(rnn, jordan, lstm, lstm-peephole, gru, gru-reset-after) or a .cell file "
                    "(format: docs/cells.md).",
    )
    p.add_argument("cell", metavar="MODEL|CELLFILE", type=model_or_cell,
                   help="built-in cell name or path to a .cell file")
    p.add_argument("--wrt", metavar="PARAM", nargs="+", action=CommaList, default=None,
                   help="parameters to derive, space- or comma-separated (default: all)")
    add_steps(p, 3, dest="steps")
    p.add_argument("--truncate", metavar="k", type=positive_int, default=None,
                   help="truncated BPTT: each E_t reaches back at most k steps")
    p.add_argument("--format", choices=FORMATS, default=None, help="output format (default text)")
    add_json(p, "the derivation", "as --format json")
    p.add_argument("--fragment", action="store_true", help="with --format latex: no preamble, for \\input")
    p.add_argument("--certify", action="store_true",
                   help="check the derivation against SymPy diff of the explicit loss (small sizes)")
    p.add_argument("--certify-budget", metavar="SECONDS", type=positive_float, default=None,
                   help="stop --certify after this many seconds with a message and exit 1 (default 120)")
    p.add_argument("--force", action="store_true",
                   help="derive even when the estimated output is beyond the guard (exit 2 otherwise)")
    p.add_argument("--bias", dest="no_bias", action="store_false", default=False, help="include the biases (default)")
    p.add_argument("--no-bias", action="store_true", help="drop every parameter declared 'bias' (b…, c, b_gh)")
    from reports.commands._args import add_bidirectional, add_layers

    add_layers(p)
    add_bidirectional(p)
    p.set_defaults(run=run)
    return p


def run(args) -> int:
    from reports.exits import EXIT_FAILED, EXIT_OK, UsageError

    if args.fragment and args.format != "latex":
        raise UsageError("--fragment only applies to --format latex")
    if args.json == "-" and args.format not in (None, "json"):
        raise UsageError(f"--json to standard output and --format {args.format}: expected one document on "
                         "standard output (--json FILE writes the JSON to a file)")
    check_json_destination(args.json)
    fmt = args.format or ("json" if args.json == "-" else "text")

    from derive import CellError, derive, load_cell

    net = None
    try:
        cell = load_cell(args.cell, bias=not args.no_bias, layers=getattr(args, "layers", None))
        if getattr(args, "bidirectional", False):
            if getattr(args, "layers", None):
                raise UsageError("--bidirectional with --layers: not supported (one or the other)")
            from derive.bidirectional import bidirectional

            net = bidirectional(args.cell, bias=not args.no_bias)
            cell = net.direction  # --wrt and --certify: the direction cell (names without _fw/_bw)
    except CellError as err:
        raise UsageError(str(err)) from None
    if args.wrt:
        unknown = [p for p in args.wrt if p not in cell.param_names]
        if unknown:
            dropped = f" ({unknown[0]} is a bias, dropped by --no-bias)" if unknown[0] in cell.dropped else ""
            raise UsageError(f"--wrt {unknown[0]}: no such parameter in cell {cell.name}{dropped}; "
                             f"expected one of {', '.join(cell.param_names)}")
    wrt = tuple(dict.fromkeys(args.wrt or ()))
    if not args.force:
        _guard(cell, wrt, args)
    if net is not None:
        from derive.bidirectional import derivation as bidirectional_derivation

        derivation = bidirectional_derivation(net, wrt=wrt or None, steps=args.steps, truncate=args.truncate)
    else:
        derivation = derive(cell, wrt=wrt, steps=args.steps, truncate=args.truncate)
    certificate, timed_out = None, None
    if args.certify:
        from derive.certificate import BUDGET, CertificateTimeout, certify

        try:
            certificate = certify(cell, budget=args.certify_budget or BUDGET)
        except CertificateTimeout as err:
            timed_out = str(err)

    if args.json and args.json != "-":
        from reports import derivation_json

        write_json_document(args.json, derivation_json.dumps(derivation, certificate))
    if fmt == "text":
        from rich.console import Console

        from reports.derivation_text import render

        Console().print(render(derivation, certificate))
    elif fmt == "latex":
        from reports import derivation_latex

        out = derivation_latex.fragment if args.fragment else derivation_latex.document
        sys.stdout.write(out(derivation, certificate))
    elif fmt == "markdown":
        from reports import derivation_markdown

        sys.stdout.write(derivation_markdown.document(derivation, certificate) + "\n")
    elif fmt == "html":
        from reports import derivation_html

        sys.stdout.write(derivation_html.document(derivation, certificate))
    else:
        from reports import derivation_json

        sys.stdout.write(derivation_json.dumps(derivation, certificate) + "\n")
    if timed_out:
        print(f"bptt derive: {timed_out}", file=sys.stderr)
        return EXIT_FAILED
    if certificate is not None and not certificate.passed:
        return EXIT_FAILED
    return EXIT_OK


#: refuse a derivation whose output would exceed this (--force proceeds)
MAX_OUTPUT = 10 * 2 ** 20


def _guard(cell, wrt, args) -> None:
    """Refuse (exit 2, one line) a derivation too long to be useful, before writing any of it: the output
    grows linearly with --steps, so two small derivations (8 and 16 steps) give its size per step."""
    from derive import derive
    from reports import derivation_json
    from reports.exits import UsageError

    if args.steps <= 16:
        return
    size = {T: len(derivation_json.dumps(derive(cell, wrt=wrt, steps=T, truncate=args.truncate))) for T in (8, 16)}
    per_step = max((size[16] - size[8]) / 8, 1.0)
    estimate = size[16] + per_step * (args.steps - 16)
    if estimate > MAX_OUTPUT:
        raise UsageError(f"--T {args.steps}: the derivation would be ~{estimate / 2 ** 20:.0f} MB "
                         f"(~{per_step / 1024:.1f} KB per step, limit {MAX_OUTPUT // 2 ** 20} MB); "
                         f"use fewer steps or --force")
