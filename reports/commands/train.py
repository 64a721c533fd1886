"""`bptt train MODEL|CELLFILE`: train the generated gradient code — a char-level LM or a long-lag task."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from reports.exits import EXIT_FAILED, EXIT_OK, UsageError
from reports.commands._args import (add_bias, add_json, check_json_destination, existing_file, file_name,
                                   finite_float, model_or_cell, non_negative_int, positive_float, positive_int,
                                   refuse_unused_forget_bias, seed, write_json_document)


def add_parser(sub) -> None:
    from numeric.training.init import SCHEMES
    from numeric.training.optim import DEFAULT_LR, OPTIMIZERS
    from numeric.training.tasks import TASKS

    p = sub.add_parser(
        "train", help="train the generated BPTT code: a character-level language model or a long-lag task",
        description="Train a cell with the gradient code `bptt codegen` generates. Default: a character-level "
                    "language model on a generated arithmetic corpus ((3+4)*2=14 …) or --data FILE, minibatches "
                    "of parallel streams, truncated BPTT over --seq-len steps with the state carried across "
                    "chunks. --task copy|adding|temporal-order --lag L trains on a synthetic task whose "
                    "targets are masked except where the task asks, and reports held-out accuracy. "
                    "Exit 0, 1 if the run diverged (or a task was not solved), 2 unusable input.")
    p.add_argument("cell", metavar="MODEL|CELLFILE", type=model_or_cell, help="built-in cell (rnn, lstm, gru, …) or a .cell file")
    p.add_argument("--data", metavar="FILE", default=None, type=file_name, help="UTF-8 text to train on (default: generated)")
    p.add_argument("--task", choices=TASKS, default=None, help="a synthetic long-lag task instead of text")
    p.add_argument("--lag", type=positive_int, default=50, help="the task's lag L (default 50)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="adam", help="default adam")
    p.add_argument("--lr", type=positive_float, default=None,
                   help="learning rate (default by optimizer: " +
                        ", ".join(f"{k} {v:g}" for k, v in DEFAULT_LR.items()) + ")")
    p.add_argument("--clip-norm", type=positive_float, default=None, metavar="C",
                   help="rescale the gradient to norm ≤ C (its direction kept)")
    p.add_argument("--clip-value", type=positive_float, default=None, metavar="C",
                   help="clamp every gradient entry to [−C, C]")
    p.add_argument("--init", choices=SCHEMES, default="xavier", help="initialisation (default xavier)")
    p.add_argument("--forget-bias", type=finite_float, default=None,
                   help="LSTM b_f / GRU b_u at start (default +1; tasks: ln L, the chrono initialisation's "
                        "scale, so that the memory lasts about L steps)")
    p.add_argument("--H", "--hidden", dest="hidden", metavar="H", type=positive_int, default=None, help="hidden size (default 128; tasks 32)")
    p.add_argument("--batch", type=positive_int, default=32, help="sequences per step (default 32)")
    p.add_argument("--seq-len", type=positive_int, default=50, help="truncated BPTT window (default 50)")
    p.add_argument("--updates", "--steps", dest="steps", metavar="N", type=positive_int, default=None,
                   help="parameter updates (default 1000; --steps is the old spelling)")
    add_bias(p)
    p.add_argument("--seed", type=seed, default=0, help="initialisation, data order, samples (default 0)")
    p.add_argument("--sample", type=non_negative_int, default=300, metavar="N", help="characters to sample at the end")
    p.add_argument("--out", metavar="DIR", default=None, type=file_name,
                   help="write history.json, curves.png, checkpoint.npz, sample.txt here")
    p.add_argument("--checkpoint-every", type=positive_int, default=None, metavar="N",
                   help="also write --out DIR/checkpoint-<step>.npz every N steps")
    add_json(p, "the result", "in place of the report and the progress bar")
    p.set_defaults(run=run)


def run(args) -> int:
    from derive.errors import CellError
    from numeric.training.corpus import arithmetic_corpus, read_text
    from reports.recurrence import load_recurrence
    from reports.training_run import Settings, save_outputs, train_language_model, train_task

    if args.task and args.data:
        raise UsageError("--task and --data: expected one of them (a task makes its own data)")
    if args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        raise UsageError(f"--out {args.out}: expected a directory, got a file")
    if args.checkpoint_every and not args.out:
        raise UsageError("--checkpoint-every: expected --out DIR as well (where the checkpoints go)")
    check_json_destination(args.json)
    out = Path(args.out) if args.out else None
    try:
        rec = load_recurrence(args.cell, bias=args.bias)
    except CellError as err:
        raise UsageError(str(err)) from None
    if args.forget_bias is not None:
        refuse_unused_forget_bias(args.bias, [rec])
    if "h0" not in rec.state_names:
        raise UsageError(f"{rec.name}: bptt train carries the hidden state h across chunks; this cell's state is "
                         f"{', '.join(rec.state_names)}")
    settings = Settings(optimizer=args.optimizer, lr=args.lr, clip_norm=args.clip_norm, clip_value=args.clip_value,
                        init=args.init, forget_bias=_forget_bias(args),
                        hidden=args.hidden or (32 if args.task else 128), batch=args.batch, seq_len=args.seq_len,
                        steps=args.steps or 1000, seed=args.seed)
    progress, on_step = _progress(settings.steps, quiet=args.json == "-")
    try:
        # the text is read before the progress bar appears: an unreadable file is one line, nothing else
        text = None if args.task else read_text(args.data) if args.data else arithmetic_corpus(seed=args.seed)
        with progress:
            if args.task:
                result = train_task(rec, args.task, args.lag, settings, on_step, out=out,
                                    checkpoint_every=args.checkpoint_every)
            else:
                result = train_language_model(rec, text, settings, on_step, sample_chars=args.sample, out=out,
                                              checkpoint_every=args.checkpoint_every)
    except ValueError as err:
        raise UsageError(str(err)) from None
    written = save_outputs(result, out) if out else []
    if args.json:
        write_json_document(args.json, json.dumps(result.as_dict()))
    if args.json != "-":
        _report(result, written)
    failed = result.history.diverged_at is not None or (result.kind == "task" and not result.numbers["solved"])
    return EXIT_FAILED if failed else EXIT_OK


def _forget_bias(args) -> float:
    """+1 (Gers et al. 2000) for text; ln L for a task at lag L (Tallec & Ollivier 2018: a forget gate
    σ(b) = 1 − 1/(1 + e^b) keeps a memory for about 1 + e^b steps, so b = ln L reaches the lag)."""
    if args.forget_bias is not None:
        return args.forget_bias
    return max(1.0, math.log(args.lag)) if args.task else 1.0


def _progress(steps: int, quiet: bool):
    """A rich progress bar showing loss and gradient norm (stderr), or nothing."""
    from contextlib import nullcontext

    if quiet:
        return nullcontext(), None
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(TextColumn("step {task.completed}/{task.total}"), BarColumn(),
                        TextColumn("{task.fields[status]}"), TimeRemainingColumn(),
                        console=Console(stderr=True), transient=False)
    task = progress.add_task("train", total=steps, status="")

    def on_step(step, history):
        if step % 10 == 0 or step == steps - 1:
            n = min(len(history.loss), 20)
            loss = sum(history.loss[-n:]) / n
            progress.update(task, completed=step + 1,
                            status=f"loss {loss:.3f}  ‖g‖ {history.grad_norm[-1]:.3g}")

    return progress, on_step


def _report(result, written) -> None:
    h, n = result.history, result.numbers
    s = result.settings
    say = _wrapped_printer()
    say(f"{result.model}: {len(h.loss)} steps, {s['optimizer']} lr {s['lr']:g}, clip-norm {s['clip_norm']}, "
        f"clip-value {s['clip_value']}, init {s['init']}, hidden {s['hidden']}, seed {s['seed']}")
    if h.diverged_at is not None:
        say(f"DIVERGED at step {h.diverged_at}: loss {h.loss[-1]:.4g} (first step {h.loss[0]:.4g}; diverged means "
            f"non-finite or above 10× the first loss), largest gradient norm {max(h.grad_norm):.3g}; "
            "try --clip-norm or a smaller --lr")
    say(f"{h.tokens_per_second:,.0f} tokens/s ({h.tokens:,} loss terms in {h.seconds:.1f} s)")
    if result.kind == "lm":
        ratio = n["final_loss"] / n["unigram_entropy"]
        say(f"loss {n['final_loss']:.3f} nats/char (mean of the last 10% of steps) vs unigram entropy "
            f"{n['unigram_entropy']:.3f}: {ratio:.0%} of it ({n['characters']:,} characters, "
            f"{n['vocabulary']} distinct)")
        if result.sample:
            print("sample:\n" + result.sample)
    else:
        verdict = "SOLVED" if n["solved"] else "NOT solved"
        say(f"{n['task']} at lag {n['lag']}: held-out accuracy {n['accuracy']:.1%} (chance {n['chance']:.0%}, "
            f"solved at ≥ 90%): {verdict}; final loss {n['final_loss']:.3f}")
    for path in written:
        say(f"wrote {path}")
    sys.stdout.flush()


def _wrapped_printer():
    """print, with lines wrapped between words to the terminal's width (COLUMNS; 80 in a file) and
    continued two spaces in: a terminal would otherwise break them mid-word."""
    import shutil
    import textwrap

    wrap = textwrap.TextWrapper(width=shutil.get_terminal_size((80, 24)).columns, subsequent_indent="  ",
                                break_long_words=False, break_on_hyphens=False)

    def say(text: str) -> None:
        print("\n".join(wrap.wrap(text)))

    return say
