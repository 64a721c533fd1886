"""One `bptt train` run: a cell's generated code trained as a character-level language model (truncated BPTT,
state carried across chunks) or on a synthetic long-lag task; results, samples, curves and checkpoints.

The numbers come from :mod:`numeric.training`; this module wires them to a :class:`~reports.recurrence.Recurrence`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from numeric.training import corpus, loop, tasks
from numeric.training.init import initialise
from numeric.training.optim import DEFAULT_LR, Optimizer
from reports.recurrence import Recurrence

SOLVED = 0.9  # a task counts as solved at this held-out accuracy


@dataclass
class Settings:
    optimizer: str = "adam"
    lr: float | None = None
    clip_norm: float | None = None
    clip_value: float | None = None
    init: str = "xavier"
    forget_bias: float = 1.0
    hidden: int = 128
    batch: int = 32
    seq_len: int = 50
    steps: int = 1000
    seed: int = 0


@dataclass
class Result:
    """What a run measured: the history and, by kind, the language-model or task numbers."""

    kind: str  # "lm" or "task"
    model: str
    settings: dict
    history: loop.History
    params: dict = field(repr=False, default_factory=dict)
    numbers: dict = field(default_factory=dict)
    sample: str = ""

    def as_dict(self) -> dict:
        return {"kind": self.kind, "model": self.model, "settings": self.settings, **self.numbers,
                "sample": self.sample, "history": self.history.as_dict()}


def _params(rec: Recurrence, D: int, K: int, s: Settings) -> dict[str, np.ndarray]:
    return initialise(rec.param_shapes(D, s.hidden, K), s.init, np.random.default_rng(s.seed),
                      recurrent=rec.recurrent, biases=rec.biases, forget_biases=rec.forget_biases,
                      forget_bias=s.forget_bias)


def _optimizer(s: Settings) -> Optimizer:
    if s.lr is None:
        s.lr = DEFAULT_LR[s.optimizer] if s.optimizer in DEFAULT_LR else 0.0
    return Optimizer(s.optimizer, s.lr)


def checkpointing(on_step, params: dict, settings: Settings, out: Path | None, every: int | None):
    """``on_step`` that also writes ``out/checkpoint-<step>.npz`` every ``every`` steps (params + settings)."""
    if not every or out is None:
        return on_step

    def step(n, history):
        if on_step is not None:
            on_step(n, history)
        if (n + 1) % every == 0:
            out.mkdir(parents=True, exist_ok=True)
            np.savez(out / f"checkpoint-{n + 1}.npz", **params, settings=json.dumps(vars(settings)))
    return step


def train_language_model(rec: Recurrence, text: str, s: Settings, on_step=None, sample_chars: int = 200,
                         out: Path | None = None, checkpoint_every: int | None = None) -> Result:
    """Train on ``text`` (character ids, B streams, chunks of ``seq_len`` steps, state carried across chunks)."""
    vocab = corpus.Vocabulary.of(text)
    ids = vocab.encode(text)
    V = len(vocab)
    batches = corpus.StreamBatches(ids, s.batch, s.seq_len)
    params = _params(rec, V, V, s)

    def next_batch(final):
        inputs, targets, restarted = batches.next()
        state = rec.zero_states(V, s.hidden, V, s.batch) if final is None or restarted else final
        return corpus.one_hot(inputs, V), targets, state

    optimizer = _optimizer(s)
    on_step = checkpointing(on_step, params, s, out, checkpoint_every)
    with threadpool_limits(limits=1):  # one BLAS thread: small matrices, and the machine is shared
        history = loop.train(rec.loss_and_grads, params, next_batch, optimizer, s.steps,
                             clip_norm_at=s.clip_norm, clip_value_at=s.clip_value, on_step=on_step)
        sample = ("" if history.diverged_at is not None or not sample_chars
                  else _sample(rec, params, vocab, sample_chars, s.hidden, s.seed))
    entropy = corpus.unigram_entropy(ids, V)
    numbers = {"vocabulary": len(vocab), "characters": len(text), "unigram_entropy": entropy,
               "final_loss": history.tail_loss(), "tokens_per_second": history.tokens_per_second,
               "diverged_at": history.diverged_at}
    return Result("lm", rec.name, vars(s).copy(), history, params, numbers, sample)


def _sample(rec: Recurrence, params, vocab: corpus.Vocabulary, n: int, H: int, seed: int) -> str:
    """``n`` characters drawn from the model, one at a time, starting after a newline (or the first char)."""
    rng = np.random.default_rng([seed, 7])
    V = len(vocab)
    state = rec.zero_states(V, H, V, 1)
    current = vocab.chars.index("\n") if "\n" in vocab.chars else 0
    out = []
    for _ in range(n):
        ohat, state = rec.predict(params, corpus.one_hot(np.array([[current]]), V), state)
        p = np.asarray(ohat[0, :, 0], float)
        current = int(rng.choice(V, p=p / p.sum()))
        out.append(vocab.chars[current])
    return "".join(out)


def train_task(rec: Recurrence, task: str, lag: int, s: Settings, on_step=None, eval_batch: int = 1000,
               out: Path | None = None, checkpoint_every: int | None = None) -> Result:
    """Train on fresh batches of ``task`` (full BPTT over each sequence) and measure held-out accuracy."""
    D, K = tasks.sizes(task)
    params = _params(rec, D, K, s)
    rng = np.random.default_rng([s.seed, 1])

    def next_batch(final):
        b = tasks.make_batch(task, lag, s.batch, rng)
        return b.xs, b.targets, rec.zero_states(D, s.hidden, K, s.batch)

    optimizer = _optimizer(s)
    on_step = checkpointing(on_step, params, s, out, checkpoint_every)
    with threadpool_limits(limits=1):
        history = loop.train(rec.loss_and_grads, params, next_batch, optimizer, s.steps,
                             clip_norm_at=s.clip_norm, clip_value_at=s.clip_value, on_step=on_step)
        held_out = tasks.make_batch(task, lag, eval_batch, np.random.default_rng([s.seed, 2]))
        accuracy = float("nan")
        if history.diverged_at is None:
            ohats, _ = rec.predict(params, held_out.xs, rec.zero_states(D, s.hidden, K, eval_batch))
            accuracy = tasks.accuracy(ohats, held_out.targets)
    numbers = {"task": task, "lag": lag, "accuracy": accuracy, "chance": held_out.chance,
               "solved": bool(accuracy >= SOLVED), "final_loss": history.tail_loss(),
               "tokens_per_second": history.tokens_per_second, "diverged_at": history.diverged_at}
    return Result("task", rec.name, vars(s).copy(), history, params, numbers)


def save_outputs(result: Result, out: Path) -> list[Path]:
    """history.json, curves.png (loss and gradient norm), checkpoint.npz, sample.txt in ``out``."""
    from reports.train_plot import save_curves

    out.mkdir(parents=True, exist_ok=True)
    written = [out / "history.json", out / "checkpoint.npz"]
    written[0].write_text(json.dumps(result.as_dict(), indent=1), encoding="utf-8")
    np.savez(written[1], **result.params, settings=json.dumps(result.settings))
    written.append(save_curves(result, out / "curves.png"))
    if result.sample:
        written.append(out / "sample.txt")
        written[-1].write_text(result.sample, encoding="utf-8")
    return written
