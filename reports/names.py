"""Model names as people type them: ``LSTM``, ``gru_reset_after`` and ``lstm-peephole`` all work, and a
near miss (``lstn``) is answered with "did you mean 'lstm'?"."""

from __future__ import annotations

import difflib
from pathlib import Path


def normalise(name: str) -> str:
    """Lower case, '_' read as '-', surrounding spaces dropped.

    >>> normalise(" GRU_Reset_After ")
    'gru-reset-after'
    """
    return name.strip().lower().replace("_", "-")


def resolve(name: str, known, what: str = "model", also: str = "") -> str:
    """The entry of ``known`` that ``name`` means, or ValueError with the closest spellings.

    >>> resolve("LSTM_peephole", ("rnn", "lstm", "lstm-peephole"))
    'lstm-peephole'
    >>> resolve("lstn", ("rnn", "lstm"))
    Traceback (most recent call last):
    ...
    ValueError: unknown model 'lstn'; did you mean 'lstm'? (expected one of: rnn, lstm)
    """
    by_key = {normalise(k): k for k in known}
    key = normalise(name)
    if key in by_key:
        return by_key[key]
    close = difflib.get_close_matches(key, by_key, n=2, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(by_key[c]) for c in close)}?" if close else ""
    raise ValueError(f"unknown {what} {name!r}{hint} (expected one of: {', '.join(known)}{also})")


def resolve_cell(spec: str) -> str:
    """A built-in cell's canonical name, or ``spec`` unchanged when it names a cell file.

    Raises:
        ValueError: neither a built-in cell nor an existing file; names the closest built-ins.
    """
    from derive.cellfile import BUILTIN  # SymPy-free

    try:
        return resolve(spec, BUILTIN, also=", or a path to a .cell file")
    except ValueError:
        if Path(spec).is_file():
            return spec
        if spec.endswith(".cell") or "/" in spec:
            raise ValueError(f"no such cell file {spec!r}") from None
        raise
