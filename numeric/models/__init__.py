"""The six built-in recurrent models, hand-written in NumPy (docs/models.md).

>>> from numeric import models
>>> models.names()
('rnn', 'jordan', 'lstm', 'lstm-peephole', 'gru', 'gru-reset-after')
>>> models.get("rnn").param_shapes(D=3, H=4, K=5)
{'U': (4, 3), 'V': (4, 4), 'b': (4, 1), 'W': (5, 4), 'c': (5, 1)}
"""

from __future__ import annotations

from functools import partial

from numeric.models.base import RecurrentModel, Tape
from numeric.models.elman import Elman
from numeric.models.gru import GRU
from numeric.models.jordan import Jordan
from numeric.models.lstm import LSTM

_BUILDERS = {
    "rnn": Elman,
    "jordan": Jordan,
    "lstm": partial(LSTM, peephole=False),
    "lstm-peephole": partial(LSTM, peephole=True),
    "gru": partial(GRU, reset_after=False),
    "gru-reset-after": partial(GRU, reset_after=True),
}

__all__ = ["get", "names", "RecurrentModel", "Tape"]


def names() -> tuple[str, ...]:
    """The built-in model names, in documentation order."""
    return tuple(_BUILDERS)


def get(name: str, bias: bool = True) -> RecurrentModel:
    """The built-in model called ``name``; ``bias=False`` gives the course's bias-free equations.

    Raises:
        ValueError: ``name`` is not a built-in model (the message lists the known names).
    """
    if name not in _BUILDERS:
        raise ValueError(f"unknown model {name!r}; expected one of: {', '.join(_BUILDERS)}")
    return _BUILDERS[name](bias=bias)
