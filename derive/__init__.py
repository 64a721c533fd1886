"""SymPy half of the toolkit: cells declared as equations, step-by-step BPTT derivations, code generation.

Public API (imported lazily, so ``import derive`` does not import SymPy):

- :func:`load_cell` (``derive.cellfile.load``): a built-in cell by name or a ``.cell`` file.
- :func:`adjoint_program` (``derive.program``): the per-step reverse-mode program for codegen.
- :func:`derive` (``derive.derivation``): the numbered, step-by-step derivation.
- :func:`certify` (``derive.certificate``): SymPy ``diff`` of the explicit loss vs the derivation.
- :func:`lambdify` (``derive.lambdified``): in-memory ``loss``/``loss_and_grads`` by ``sympy.lambdify``.
- :class:`CellError`: a bad cell file, with its line number.
"""

from __future__ import annotations

from derive.errors import CellError

_LAZY = {
    "load_cell": ("derive.cellfile", "load"),
    "parse_cell": ("derive.cellfile", "parse"),
    "builtin_names": ("derive.cellfile", "builtin_names"),
    "adjoint_program": ("derive.program", "adjoint_program"),
    "AdjointProgram": ("derive.program", "AdjointProgram"),
    "derive": ("derive.derivation", "derive"),
    "Derivation": ("derive.derivation", "Derivation"),
    "certify": ("derive.certificate", "certify"),
    "lambdify": ("derive.lambdified", "lambdify"),
}

__all__ = ["CellError", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'derive' has no attribute {name!r}")
