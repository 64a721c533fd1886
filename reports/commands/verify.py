"""`bptt verify MODEL`: hand-written BPTT against every numerical oracle, as a table or JSON."""

from __future__ import annotations

import json

from rich.console import Console

from reports.commands._args import (add_bidirectional, add_json, add_layers, add_steps, add_truncate_and_bias,
                                   check_json_destination, dim_size, model_or_cell, positive_int, seed,
                                   write_json_document)
from reports.exits import EXIT_FAILED, EXIT_OK, UsageError


def add_parser(sub) -> None:
    p = sub.add_parser(
        "verify",
        help="check BPTT gradients (hand-written and generated) against complex step, differences, Richardson",
        description="Check the hand-written BPTT gradients of a built-in model, entry by entry, against the "
                    "complex-step derivative, central differences and Richardson extrapolation, plus the "
                    "directional test. Exit 0 when all agree, 1 when any does not.",
    )
    p.add_argument("model", metavar="MODEL|CELLFILE", type=model_or_cell,
                   help="built-in model: rnn, jordan, lstm, lstm-peephole, gru, gru-reset-after; or a .cell file "
                        "(its generated code is checked with the numerical oracles)")
    for size, default, meaning in (("D", 3, "input size"), ("H", 4, "hidden size"), ("K", 3, "classes")):
        p.add_argument(f"--{size}", type=positive_int, default=default, help=f"{meaning} (default {default})")
    add_steps(p, 4)
    p.add_argument("--B", type=positive_int, default=2, help="batch size (default 2)")
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    p.add_argument("--seed", type=seed, default=0, help="seed of the random point (default 0)")
    p.add_argument("--dim", type=dim_size, action="append", default=[], metavar="NAME=N",
                   help="a cell file: size of a dimension other than D, H, K (repeatable; default H + 1)")
    add_truncate_and_bias(p, "truncated BPTT: each E_t sends its gradient back at most k steps")
    add_layers(p)
    add_bidirectional(p)
    add_json(p, "the verification", "in place of the tables")
    p.add_argument("--force", action="store_true",
                   help="run even when the estimated memory or time is beyond the guard (exit 2 otherwise)")
    p.set_defaults(run=run)


def run(args) -> int:
    from numeric import models
    from numeric.gradcheck.verify import verify
    from reports.verification import VerificationView

    check_json_destination(args.json)
    if getattr(args, "bidirectional", False):
        return _run_bidirectional(args)
    if args.model not in models.names() or getattr(args, "layers", None):  # stacked: no hand-written model
        return _run_cell_file(args)  # MODEL|CELLFILE was resolved: not a built-in name, so an existing file
    if args.dim:
        raise UsageError(f"--dim {args.dim[0][0]}={args.dim[0][1]}: the built-in {args.model} has no dimension "
                         "beyond D, H, K (--dim sizes a cell file's own dimensions)")
    model = models.get(args.model, bias=args.bias)
    _guard(args, model.param_shapes(D=args.D, H=args.H, K=args.K),
           sum(r for r, _ in model.initial_state_shapes(args.H, args.K, 1).values()))
    from derive.codegen import generate
    from reports.codegen_verify import verify_generated
    from reports.verification import RunsSummaryView

    gen = generate(args.model, bias=args.bias)  # the code generated from the derivation, beside
    result = verify(args.model, D=args.D, H=args.H, K=args.K, T=args.T, B=args.B, dtype=args.dtype,
                    seed=args.seed, truncate=args.truncate, bias=args.bias,
                    references={"generated": gen.module.loss_and_grads})
    # the generated code on its own: several sizes, float64 and float32, the directional test at a large size
    suite = verify_generated(gen, truncate=args.truncate, seed=args.seed)
    passed = result.passed and suite.passed
    if args.json:
        doc = result.as_dict()
        doc["generated_runs"] = [r.as_dict() for r in suite.runs]
        doc["passed"] = passed
        write_json_document(args.json, json.dumps(doc, indent=2))
    if args.json != "-":
        console = Console()
        console.print(VerificationView(result))
        console.print()
        console.print(RunsSummaryView(suite, title=f"generated {args.model} at several sizes, float64 and float32"))
    return EXIT_OK if passed else EXIT_FAILED


def _run_cell_file(args) -> int:
    """A user's cell: no hand-written model exists, so its generated code meets the numerical oracles."""
    from derive.codegen import generate
    from derive.errors import CellError
    from reports.codegen_verify import verify_generated
    from reports.verification import VerificationView

    from derive import load_cell

    try:
        gen = generate(load_cell(args.model, bias=args.bias, layers=getattr(args, "layers", None)), bias=args.bias,
                       origin=args.model + (f" with --layers {args.layers}" if getattr(args, "layers", None) else ""))
    except CellError as err:
        raise UsageError(str(err)) from None
    from numeric.gradcheck.verify import point_sizes

    sizes = point_sizes(gen.module, args.D, args.H, args.K, dict(args.dim))
    rows = {**sizes, "1": 1}
    _guard(args, {k: (rows[r], rows[c]) for k, (r, c) in gen.module.PARAM_SHAPES.items()},
           sum(rows[d] for d in gen.module.STATE_ROWS.values()))
    runs = [(args.dtype, (args.D, args.H, args.K, args.T, args.B), args.seed)]
    result = verify_generated(gen, truncate=args.truncate, runs=runs, large=None,
                              oracles=("complex-step", "central", "richardson"), dims=dict(args.dim))
    (run_,) = result.runs
    if args.json:
        write_json_document(args.json, json.dumps({**run_.as_dict(), "hand_written": False, "notes": result.notes},
                                                  indent=2))
    if args.json != "-":
        console = Console()
        console.print(f"{gen.name}: no hand-written model exists for this cell; its generated code is checked "
                      "against the numerical oracles and its forward against the cell's SymPy program")
        console.print(VerificationView(run_))
        for note in result.notes:
            console.print(f"note: {note}", highlight=False)
    return EXIT_OK if result.passed else EXIT_FAILED


def _guard(args, param_shapes, state_rows) -> None:
    """Refuse (exit 2, one line) a verification too large to finish, before allocating anything."""
    from numeric.gradcheck.budget import verification_estimate

    if args.force:
        return
    reason = verification_estimate(param_shapes, args.D, args.T, args.B, state_rows).refusal()
    if reason:
        sizes = " ".join(f"--{k} {getattr(args, k)}" for k in ("D", "H", "K", "T", "B"))
        raise UsageError(f"{sizes}: {reason}; use smaller sizes or --force")


def _run_bidirectional(args) -> int:
    """--bidirectional: the direction cell as any generated cell, then the whole network against the oracles."""
    from derive.bidirectional import generate
    from derive.errors import CellError
    from reports.bidirectional_verify import verify_bidirectional
    from reports.codegen_verify import verify_generated
    from reports.verification import VerificationView

    if getattr(args, "layers", None):
        raise UsageError("--bidirectional with --layers: not supported (one or the other)")
    if args.dtype != "float64" or args.dim:
        raise UsageError("--bidirectional is verified in float64 at sizes D, H, K only (no --dtype float32, no --dim)")
    try:
        gen = generate(args.model, bias=args.bias)
    except CellError as err:
        raise UsageError(str(err)) from None
    from derive.codegen import generate as generate_cell

    cell = verify_generated(generate_cell(gen.cell), truncate=args.truncate, large=None, seed=args.seed,
                            runs=[("float64", (args.D, args.H, args.K, args.T, args.B), args.seed)],
                            oracles=("complex-step", "central"))
    net = verify_bidirectional(gen, D=args.D, H=args.H, K=args.K, T=args.T, B=args.B, truncate=args.truncate,
                               seed=args.seed)
    passed = cell.passed and net.passed
    if args.json:
        write_json_document(args.json, json.dumps({"direction_cell": [r.as_dict() for r in cell.runs],
                                                   "network": net.as_dict(), "passed": passed}, indent=2))
    if args.json != "-":
        console = Console()
        for r in cell.runs:
            console.print(VerificationView(r, title=f"{gen.cell.name} (one direction, driven by up_t)"))
        console.print(VerificationView(net, title=f"{gen.name}: the whole network"))
    return EXIT_OK if passed else EXIT_FAILED
