"""The names the engine gives to what it creates: adjoints, neighbouring steps, temporaries.

One place for every naming rule (as tangent's ``naming`` module), so that a rule is changed once and
a name is recognised by the function that made it, never by a string prefix written at the call site.
SymPy-free: the cell-file parser uses it.

>>> adjoint("h"), primal("dh"), previous("h"), current("h_prev"), incoming("h"), carried("h")
('dh', 'h', 'h_prev', 'h', 'dh_next', 'dh_prev')
>>> is_adjoint("dh"), is_adjoint("dW", primals={"h"}), is_adjoint("h")
(True, False, False)
>>> matmul_temporary("U", "x"), is_matmul_temporary("__mm_U__x"), input_temporary("a")
('__mm_U__x', True, '__in_a')
"""

from __future__ import annotations

from collections.abc import Container

#: suffix of a state's value at the previous step, s_{t−1} (a cell file writes ``h_prev``)
PREV = "_prev"
#: suffix of a state's value at the next step, s_{t+1} (only its adjoint appears: ``dh_next``)
NEXT = "_next"
#: prefix of an adjoint: ``dn`` is ∂E/∂n (E the loss summed over every step), as in min-char-rnn
ADJOINT = "d"
#: prefix of a generated module's product temporary ``__mm_<param>__<operand>`` (P @ y, hoisted)
MATMUL_TEMP = "__mm_"
#: prefix of a generated module's input temporary ``__in_<node>`` (the part of a node computed from x)
INPUT_TEMP = "__in_"


def adjoint(name: str) -> str:
    """The adjoint's name of quantity ``name``: ∂E/∂name."""
    return ADJOINT + name


def primal(name: str) -> str:
    """The quantity whose adjoint is ``name`` (the inverse of :func:`adjoint`)."""
    if not name.startswith(ADJOINT):
        raise ValueError(f"{name!r} is not an adjoint's name; expected one starting with {ADJOINT!r}")
    return name[len(ADJOINT):]


def is_adjoint(name: str, primals: Container[str] | None = None) -> bool:
    """Whether ``name`` names an adjoint. A cell may call its own quantities ``delta`` or ``dW``: pass
    the names of the quantities (``primals``) to recognise only adjoints of those."""
    if not name.startswith(ADJOINT):
        return False
    return primals is None or name[len(ADJOINT):] in primals


def previous(state: str) -> str:
    """The name of state s at the previous step, s_{t−1}."""
    return state + PREV


def is_previous(name: str) -> bool:
    """Whether ``name`` is a state's previous-step value (:func:`previous`)."""
    return name.endswith(PREV)


def current(name: str) -> str:
    """The state whose previous-step value is ``name`` (the inverse of :func:`previous`)."""
    if not name.endswith(PREV):
        raise ValueError(f"{name!r} is not a previous-step name; expected one ending in {PREV!r}")
    return name[: -len(PREV)]


def incoming(state: str) -> str:
    """The adjoint arriving at state s_t from step t + 1 (zeros at t = T)."""
    return adjoint(state + NEXT)


def carried(state: str) -> str:
    """The adjoint a step passes back to step t − 1: ∂E/∂s_{t−1} (after step 1, the initial state's)."""
    return adjoint(previous(state))


def is_incoming(name: str) -> bool:
    """Whether ``name`` is an adjoint arriving from the next step (:func:`incoming`)."""
    return name.startswith(ADJOINT) and name.endswith(NEXT)


def matmul_temporary(param: str, operand: str) -> str:
    """The generated module's name for the hoisted product ``param @ operand``."""
    return f"{MATMUL_TEMP}{param}__{operand}"


def is_matmul_temporary(name: str) -> bool:
    return name.startswith(MATMUL_TEMP)


def input_temporary(node: str) -> str:
    """The generated module's name for the part of ``node`` computed from the input alone."""
    return INPUT_TEMP + node


def is_input_temporary(name: str) -> bool:
    return name.startswith(INPUT_TEMP)
