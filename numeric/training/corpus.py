"""Character-level text: the built-in arithmetic corpus, user text files, and batches for truncated BPTT.

The default corpus needs no download and has long-range structure: lines such as ``((3+4)*2-5)=9`` where a
bracket opened early must be closed later and the result after ``=`` depends on the whole line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


def _expression(rng: np.random.Generator, depth: int) -> tuple[str, int]:
    """A random expression over small integers with + − *, brackets nested up to ``depth``; and its value."""
    if depth == 0 or rng.random() < 0.3:
        n = int(rng.integers(1, 10))
        return str(n), n
    left, a = _expression(rng, depth - 1)
    right, b = _expression(rng, depth - 1)
    op = "+-*"[int(rng.integers(3))]
    value = a + b if op == "+" else a - b if op == "-" else a * b
    return f"({left}{op}{right})", value


def arithmetic_corpus(n_lines: int = 4000, max_depth: int = 3, seed: int = 0) -> str:
    """``n_lines`` lines ``expression=value``, brackets nested up to ``max_depth`` (outer brackets dropped)."""
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(n_lines):
        text, value = _expression(rng, max_depth)
        if text.startswith("(") and text.endswith(")"):
            text = text[1:-1]
        lines.append(f"{text}={value}")
    return "\n".join(lines) + "\n"


def read_text(path: str | Path) -> str:
    """The UTF-8 text in ``path``.

    Raises:
        ValueError: missing or unreadable file, binary (NUL bytes or not UTF-8) or empty text — the message
            names the file and what was expected.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ValueError(f"--data {path}: no such file (expected a UTF-8 text file)") from None
    except OSError as err:
        raise ValueError(f"--data {path}: cannot read it ({err.strerror or err})") from None
    if b"\0" in data:
        raise ValueError(f"--data {path}: expected UTF-8 text, got a binary file (it contains NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"--data {path}: expected UTF-8 text, got invalid byte {data[err.start]:#04x} at "
                         f"offset {err.start}") from None
    if len(text) < 2:
        raise ValueError(f"--data {path}: expected at least 2 characters of text, got {len(text)}")
    return text


@dataclass
class Vocabulary:
    """The characters of a text, sorted; ids are positions."""

    chars: tuple[str, ...]

    @classmethod
    def of(cls, text: str) -> "Vocabulary":
        return cls(tuple(sorted(set(text))))

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        index = {c: i for i, c in enumerate(self.chars)}
        return np.array([index[c] for c in text], dtype=np.int64)

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)


def unigram_entropy(ids: np.ndarray, size: int) -> float:
    """−Σ p log p (nats) of the character frequencies: the loss of the best model without context."""
    p = np.bincount(ids, minlength=size) / len(ids)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def one_hot(ids: np.ndarray, size: int, dtype=np.float64) -> np.ndarray:
    """ids (T, B) → x_t one-hot columns (T, size, B)."""
    x = np.zeros((ids.shape[0], size, ids.shape[1]), dtype)
    np.put_along_axis(x, ids[:, None, :], 1, axis=1)
    return x


class StreamBatches:
    """B parallel streams through the text, cut into chunks of ``seq_len`` steps, for truncated BPTT.

    Stream b reads the text from offset b·len/B; chunk n of every stream follows chunk n−1 directly, so the
    state at the end of one chunk is the right initial state of the next (carried by the training loop).
    When a stream reaches its end, all streams start over (``restarted`` is True: reset the state).

    Args:
        ids: the text as character ids (N,).
        batch: B streams; seq_len: steps per chunk.
    """

    def __init__(self, ids: np.ndarray, batch: int, seq_len: int):
        span = (len(ids) - 1) // batch
        if span < seq_len:
            raise ValueError(f"text of {len(ids)} characters is too short for --batch {batch} × --seq-len "
                             f"{seq_len} (expected at least {batch * seq_len + 1} characters)")
        self.ids, self.batch, self.seq_len, self.span = ids, batch, seq_len, span
        self.position = 0

    def next(self) -> tuple[np.ndarray, np.ndarray, bool]:
        """(inputs (T, B), targets (T, B), restarted): targets are the next characters."""
        restarted = self.position + self.seq_len > self.span
        if restarted:
            self.position = 0
        starts = np.arange(self.batch) * self.span + self.position
        window = starts[None, :] + np.arange(self.seq_len + 1)[:, None]  # (T + 1, B)
        chunk = self.ids[window]
        self.position += self.seq_len
        return chunk[:-1], chunk[1:], restarted or self.position == self.seq_len
