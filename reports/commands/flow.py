"""`bptt flow MODEL|CELLFILE`: how ‖∂h_T/∂h_k‖ and ‖∂E_T/∂h_k‖ vanish or explode with the lag (docs/flow.md)."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from reports.exits import EXIT_FAILED, EXIT_OK, UsageError
from reports.commands._args import (add_bias, add_json, add_steps, cell_list, check_json_destination, file_name,
                                   finite_float, model_or_cell, positive_int, refuse_unused_forget_bias, seed,
                                   write_json_document)

SHOWN_LAGS = (0, 1, 2, 5, 10, 20, 30, 40, 50, 75, 100, 150, 200)


def _floats(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, e.g. 0.5,1,2; got {text!r}") from None
    if not values or any(not 0 < v < math.inf for v in values):
        raise argparse.ArgumentTypeError(f"expected positive numbers, got {text!r}")
    return values


def add_parser(sub) -> None:
    from numeric.training.init import SCHEMES

    p = sub.add_parser(
        "flow", help="measure gradient flow through time: ‖∂h_T/∂h_k‖, ‖∂E_T/∂h_k‖ against the lag",
        description="Measure, on one random sequence, the Jacobian product ∂h_T/∂h_k (spectral and Frobenius "
                    "norms) and ‖∂E_T/∂h_k‖ for the loss of the last step, against the lag T − k; show the "
                    "bound (γ‖V‖₂)^(T−k) of Elman-form cells, ρ(V), and the forget-gate product of gated cells. "
                    "Every run is cross-checked against the complex step and the BPTT of the generated code "
                    "(1e-10). Exit 0, 1 if a cross-check fails, 2 unusable input.")
    p.add_argument("cell", metavar="MODEL|CELLFILE", nargs="?", default=None, type=model_or_cell,
                   help="built-in cell (rnn, lstm, gru, …) or a .cell file")
    p.add_argument("--models", default=None, metavar="A,B,…", type=cell_list,
                   help="several cells side by side, e.g. rnn,lstm,gru (added to MODEL)")
    p.add_argument("--scale", type=_floats, default=None, metavar="S,…",
                   help="factors the initialised recurrent weights are multiplied by (default 1)")
    p.add_argument("--radius", type=_floats, default=None, metavar="R,…",
                   help="instead of --scale: rescale every recurrent matrix to spectral radius R")
    p.add_argument("--init", choices=SCHEMES, default="xavier", help="initialisation (default xavier)")
    p.add_argument("--forget-bias", type=finite_float, default=None,
                   help="bias of the gate that carries a state (LSTM b_f, GRU b_u; default +1); refused with "
                        "--no-bias and for cells without such a gate")
    add_steps(p, 60)
    add_bias(p)
    p.add_argument("--H", type=positive_int, default=32, help="hidden size (default 32)")
    p.add_argument("--D", type=positive_int, default=8, help="input size (default 8)")
    p.add_argument("--K", type=positive_int, default=8, help="classes (default 8)")
    p.add_argument("--seed", type=seed, default=0, help="parameters and sequence (default 0)")
    add_json(p, "the measurements", "in place of the tables")
    p.add_argument("--plot", metavar="FILE.svg|png", default=None, type=file_name, help="save the log-norm vs lag plot")
    p.set_defaults(run=run)


def _cells(args) -> list[str]:
    cells = ([args.cell] if args.cell else []) + (args.models or [])  # --models: resolved by cell_list
    if not cells:
        raise UsageError("expected MODEL|CELLFILE or --models rnn,lstm,…")
    return list(dict.fromkeys(cells))


def run(args) -> int:
    from derive.errors import CellError
    from reports.flow_analysis import measure_flow
    from reports.recurrence import load_recurrence

    if args.scale and args.radius:
        raise UsageError("--scale and --radius: expected one of them, got both")
    if args.plot and Path(args.plot).suffix.lower() not in (".png", ".svg"):
        raise UsageError(f"--plot {args.plot}: expected a .png or .svg file name")
    if args.plot and not Path(args.plot).parent.exists():
        raise UsageError(f"--plot {args.plot}: the directory does not exist")
    check_json_destination(args.json)
    try:
        recurrences = [load_recurrence(spec, bias=args.bias) for spec in _cells(args)]
    except CellError as err:
        raise UsageError(str(err)) from None
    if args.forget_bias is not None:
        refuse_unused_forget_bias(args.bias, recurrences)
    forget_bias = 1.0 if args.forget_bias is None else args.forget_bias
    runs = []
    for rec in recurrences:
        settings = ([dict(radius=r) for r in args.radius] if args.radius else
                    [dict(factor=s) for s in (args.scale or [1.0])])
        for setting in settings:
            try:
                runs.append(measure_flow(rec, D=args.D, H=args.H, K=args.K, T=args.T, init=args.init,
                                         seed=args.seed, forget_bias=forget_bias, **setting))
            except ValueError as err:
                raise UsageError(str(err)) from None
    if args.plot:
        from reports.flow_plot import save_plot
        save_plot(runs, args.plot)
    passed = all(r.passed for r in runs)
    if args.json:
        doc = {"settings": {"T": args.T, "H": args.H, "D": args.D, "K": args.K, "seed": args.seed,
                            "init": args.init, "forget_bias": forget_bias},
               "runs": [r.as_dict() for r in runs], "passed": passed}
        write_json_document(args.json, json.dumps(doc, indent=1))
    if args.json != "-":
        _print_tables(runs, args)
        if args.plot:
            print(f"wrote {args.plot}")
    return EXIT_OK if passed else EXIT_FAILED


def _e(x) -> str:
    return "—" if x is None else f"{x:.2e}"


def _print_tables(runs, args) -> None:
    from rich.console import Console
    from rich.table import Table

    from reports.flow_analysis import TOLERANCE

    console = Console()
    summary = Table(title=f"gradient flow: T={args.T}, H={args.H}, init={args.init}, seed={args.seed}")
    # a cell's name is never cut ("gru-reset-after"); the other columns wrap between words (their
    # headers are short enough for the table to fit 80 columns with the longest built-in name)
    summary.add_column("cell", no_wrap=True, min_width=max(len(r.model) for r in runs))
    for col in ("scale", "Jacobians", "ρ(V)", "γ‖V‖₂", "regime", f"checks (≤ {TOLERANCE:g})"):
        summary.add_column(col)
    for r in runs:
        f = r.flow
        worst = {k: max(v.values(), default=None) for k, v in r.checks.items()}
        check = f"c-step {_e(worst['complex step'])}, BPTT {_e(worst['BPTT'])}"
        regime = {None: "—"}.get(f.regime, (f.regime or "").split(" (")[0])
        summary.add_row(r.model, _scale(r), r.jacobian_source.split(" (")[0].split(" of")[0],
                        "—" if f.radius_V is None else f"{f.radius_V:.3f}",
                        "—" if f.gamma is None else f"{f.gamma * f.norm_V:.3f}", regime,
                        ("[green]ok[/] " if r.passed else "[red]FAILED[/] ") + check)
    console.print(summary)
    lags = [lag for lag in SHOWN_LAGS if 0 < lag <= args.T]
    labels = [f"{r.model} {_scale(r)}" for r in runs]
    # the cell column wraps between words, never inside one ("gru-reset-after" stays whole)
    cell_width = max(len(word) for label in labels for word in label.split())
    chunks = _lag_chunks(lags, console.width, cell_width)
    caption = ("bound: (γ‖V‖₂)^(T−k); Π gate: max over units of the product of forget gates f_j (LSTM) or "
               "update gates u_j (GRU), j = k+1 … T")
    for n, chunk in enumerate(chunks):
        # a narrow terminal gets the lags in several tables rather than numbers cut short
        title = "norms by lag T − k" + (f" (continued, {n + 1} of {len(chunks)})" if n else "")
        table = Table(title=title, caption=caption if n == len(chunks) - 1 else None)
        table.add_column("cell", min_width=cell_width)
        table.add_column("quantity", no_wrap=True, min_width=QUANTITY_WIDTH)
        for lag in chunk:
            table.add_column(str(lag), justify="right", no_wrap=True)
        for r, label in zip(runs, labels):
            f = r.flow
            rows = [("‖∂h_T/∂h_k‖₂", f.spectral), ("  bound", f.bound), ("‖∂h_T/∂h_k‖_F", f.frobenius),
                    ("‖∂E_T/∂h_k‖₂", f.dE_dh), ("‖∂E_T/∂c_k‖₂", f.dE_dc), ("Π gate", f.carry)]
            first = True
            for name, values in rows:
                if values is None:
                    continue
                table.add_row(label if first else "", name, *[_e(values[lag]) for lag in chunk])
                first = False
            table.add_section()
        console.print(table)


#: the widest label of the quantity column, ‖∂h_T/∂h_k‖_F; a norm is printed as 1.23e-04
QUANTITY_WIDTH, NUMBER_WIDTH = len("‖∂h_T/∂h_k‖_F"), len("1.23e-04")


def _lag_chunks(lags: list[int], width: int, cell_width: int) -> list[list[int]]:
    """The lags in groups whose table fits ``width`` columns (each column: its text, 2 spaces of padding
    and a border; at least one lag per table).

    >>> _lag_chunks([1, 2, 5, 10, 20, 30, 40, 50], 80, 3)
    [[1, 2, 5, 10, 20], [30, 40, 50]]
    >>> _lag_chunks([1, 2, 5], 200, 3)
    [[1, 2, 5]]
    """
    fixed = 1 + (cell_width + 3) + (QUANTITY_WIDTH + 3)
    per_table = max(1, (width - fixed) // (NUMBER_WIDTH + 3))
    return [lags[i:i + per_table] for i in range(0, len(lags), per_table)] or [[]]


def _scale(r) -> str:
    return ("ρ=" if r.scale_kind == "radius" else "×") + f"{r.scale:g}"
