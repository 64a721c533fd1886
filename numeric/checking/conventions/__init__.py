"""The declared conventions: how a submission's functions map onto the reference (docs/checking.md).

Each convention module provides ``cases(...) -> list[Case]``; this registry knows their models and how
the sandbox loads the file.
"""

from __future__ import annotations

from dataclasses import dataclass


class CheckUsageError(ValueError):
    """The checker was asked something it cannot do (unknown convention or model, missing file)."""


@dataclass(frozen=True)
class Convention:
    name: str
    models: tuple[str, ...]
    default_models: tuple[str, ...]
    load_mode: str = "module"  # "library": run only imports/defs/assignments (min-char-rnn)
    summary: str = ""


CONVENTIONS = {
    "course": Convention("course", ("rnn", "lstm", "lstm-peephole", "gru", "gru-reset-after"), ("rnn",),
                         summary="bptt(x, o, h0, U, V, W) -> (dU, dV, dW); dict parameters for LSTM/GRU"),
    "cs231n": Convention("cs231n", ("rnn", "lstm"), ("rnn", "lstm"),
                         summary="rnn_/lstm_ step_forward/backward, forward/backward, row-major"),
    "deeplearning-ai": Convention("deeplearning-ai", ("rnn", "lstm"), ("rnn", "lstm"),
                                  summary="rnn_/lstm_ cell_forward/backward, forward/backward, column-major "
                                          "(n, m), parameter dicts, gradients in dicts"),
    "min-char-rnn": Convention("min-char-rnn", ("rnn",), ("rnn",), load_mode="library",
                               summary="lossFun(inputs, targets, hprev) reading module globals"),
    "adapter": Convention("adapter", (), (), summary="an instructor's adapter file maps the API"),
}


def names() -> tuple[str, ...]:
    return tuple(CONVENTIONS)


def get(name: str) -> Convention:
    if name not in CONVENTIONS:
        raise CheckUsageError(f"unknown convention {name!r}; expected one of: {', '.join(CONVENTIONS)}")
    return CONVENTIONS[name]


def cases(name: str, models: tuple[str, ...], adapter: str | None = None):
    """The Case list of convention ``name`` for ``models``."""
    if name == "cs231n":
        from numeric.checking.conventions import cs231n
        return cs231n.cases(models)
    if name == "course":
        from numeric.checking.conventions import course
        return course.cases(models)
    if name == "deeplearning-ai":
        from numeric.checking.conventions import deeplearning_ai
        return deeplearning_ai.cases(models)
    if name == "min-char-rnn":
        from numeric.checking.conventions import minchar
        return minchar.cases()
    from numeric.checking.conventions import adapter as adapter_mod
    return adapter_mod.cases(adapter)
