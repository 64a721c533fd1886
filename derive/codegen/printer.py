"""The NumPy printer of the derivation: SymPy matrix expressions of one time step → NumPy source.

A subclass of SymPy's ``NumPyPrinter`` with a ``_print_<Node>`` method for every node the adjoint
program uses (DESIGN.md §4, §7: extend by subclassing, never by post-processing strings).
Symbols print through a *names* map (symbol → code), so one expression prints as a step of the time
loop (``h_prevs[t]``) or vectorised over all steps (``h_prevs``) just by changing the map.

Conventions of the printed code: column vectors with the batch on the last axis, so every quantity of a
step is (rows, B) and of all steps (T, rows, B); parameters that are column vectors broadcast.

>>> import sympy as sp
>>> H, B = sp.symbols("H B")
>>> h, V = sp.MatrixSymbol("h", H, 1), sp.MatrixSymbol("V", H, H)
>>> NumPyCodePrinter({"h": "hs[t]"}).doprint(V.T * h)
'V.T @ hs[t]'
"""

from __future__ import annotations

import sympy as sp
from sympy import HadamardPower, HadamardProduct, MatAdd, MatMul, MatrixSymbol, OneMatrix
from sympy.printing.numpy import NumPyPrinter

from derive.functions import REGISTRY

# precedence of the printed Python: higher binds tighter
_ADD, _MUL, _NEG, _POW, _ATOM = 10, 20, 25, 30, 40

#: elementwise functions by SymPy name → the code that applies them (helpers live in the module)
FUNCTIONS = {name: entry.numpy for name, entry in REGISTRY.items()}


class NumPyCodePrinter(NumPyPrinter):
    """Prints the program's matrix expressions as NumPy code over (rows, B) or (T, rows, B) arrays.

    Args:
        names: symbol name → the code it prints as (e.g. ``{"h_prev": "h_prevs[t]"}``); symbols not in
            the map print as their own name.
        steps: the symbols are all-steps (T, rows, B) arrays: a matrix product prints as
            ``_each_step(A, y)``, one 2-d product for every step.
    """

    def __init__(self, names: dict[str, str] | None = None, steps: bool = False):
        super().__init__({"fully_qualified_modules": False, "inline": True, "allow_unknown_functions": True})
        self.names = names or {}
        self.steps = steps

    # ---- precedence helpers -------------------------------------------------------------------------

    def _prec(self, e) -> int:
        if isinstance(e, MatAdd) or (isinstance(e, sp.Add)):
            return _ADD
        if isinstance(e, (MatMul, HadamardProduct, sp.Mul)):
            coeff = _coeff(e)
            return _NEG if coeff is not None and coeff < 0 else _MUL
        if isinstance(e, (HadamardPower, sp.Pow)):
            return _POW
        if isinstance(e, sp.Number) and e < 0:
            return _NEG
        return _ATOM

    def _wrap(self, e, prec: int) -> str:
        text = self._print(e)
        return f"({text})" if self._prec(e) < prec else text

    # ---- leaves ---------------------------------------------------------------------------------------

    def _print_MatrixSymbol(self, e):
        return self.names.get(e.name, e.name)

    def _print_OneMatrix(self, e):
        return "1"

    def _print_ZeroMatrix(self, e):
        return "0"

    def _print_Integer(self, e):
        return str(int(e))

    def _print_Rational(self, e):
        return f"{e.p}/{e.q}"

    def _print_Float(self, e):
        return repr(float(e))

    # ---- operators ------------------------------------------------------------------------------------

    def _print_MatAdd(self, e):
        # constants first, then the rest in SymPy's order: "1 - h**2" reads like the maths
        def rank(a):
            negative = bool((_coeff(a) or 1) < 0)
            return (not (isinstance(a, OneMatrix) or _is_scaled_one(a)), negative)
        terms = sorted(e.args, key=rank)
        out = self._print(terms[0])
        for term in terms[1:]:
            coeff = _coeff(term)
            if coeff is not None and coeff < 0:
                out += " - " + self._wrap(_negate(term), _MUL + 1 if isinstance(_negate(term), MatAdd) else _MUL)
            else:
                out += " + " + self._wrap(term, _ADD + 1)
        return out

    def _print_HadamardProduct(self, e):
        # c·1 ⊙ y is c·y: the all-ones factor is the printer's way of broadcasting a number
        args = [a for a in e.args if not isinstance(a, OneMatrix)]
        args = [a.as_coeff_matrices()[0] if _is_scaled_one(a) else a for a in args]
        if len(args) < len(e.args) or any(isinstance(a, sp.Number) for a in args):
            return "*".join(self._wrap(a, _MUL + 1 if isinstance(a, (MatAdd, MatMul)) and not _is_scalar_multiple(a)
                                       else _MUL) for a in args)
        # `*` and `@` share one precedence level in Python: a product operand is always parenthesised
        return "*".join(self._wrap(a, _MUL + 1 if isinstance(a, (MatAdd, MatMul)) and not _is_scalar_multiple(a)
                                   else _MUL) for a in e.args)

    def _print_HadamardPower(self, e):
        return f"{self._wrap(e.base, _POW + 1)}**{self._print(e.exp)}"

    def _print_Transpose(self, e):
        return f"{self._wrap(e.arg, _ATOM)}.T"

    def _print_MatMul(self, e):
        coeff, mats = e.as_coeff_matrices()
        if coeff == -1:
            return "-" + self._wrap(MatMul(*mats) if len(mats) > 1 else mats[0], _POW)
        parts, out = [], []
        if coeff != 1:
            parts.append(self._wrap(coeff, _MUL))
        # 1 @ y with the all-ones (K, K) matrix: every row gets the column sum of y
        if mats and isinstance(mats[0], OneMatrix) and len(mats) == 2:
            body = f"{self._wrap(mats[1], _ATOM)}.sum(axis=-2, keepdims=True)"
        elif len(mats) == 1:
            body = self._wrap(mats[0], _MUL)
        elif self.steps and len(mats) == 2 and any(a.name in self.names for a in mats[1].atoms(MatrixSymbol)):
            # all steps at once: one 2-d product instead of T small ones (A y_t for every t)
            body = f"_each_step({self._print(mats[0])}, {self._print(mats[1])})"
        else:
            # a right factor is parenthesised unless atomic: A @ (−1/2*y), never A @ -1/2*y
            body = " @ ".join(self._wrap(m, _ATOM + 1 if i and not isinstance(m, MatrixSymbol) else
                                         _MUL + 1 if (i or isinstance(m, HadamardProduct)) else _MUL)
                              for i, m in enumerate(mats))
            if parts:
                body = f"({body})"
        out = parts + [body]
        return "*".join(out)

    def _print_MatPow(self, e):  # M @ (M @ y) reaches here as M**2 @ y (SymPy joins equal factors)
        return f"np.linalg.matrix_power({self._print(e.base)}, {self._print(e.exp)})"

    def _print_Mul(self, e):  # scalar products inside a matrix expression
        coeff, rest = e.as_coeff_Mul()
        if coeff == -1:
            return "-" + self._wrap(rest, _POW)
        return "*".join(self._wrap(a, _MUL) for a in e.args)

    def _print_ElementwiseApplyFunction(self, e):
        d = e.function.variables[0]
        body = e.function.expr
        if isinstance(body, sp.Heaviside) and body.args[0] == d:  # relu′ = H(relu(a)), H(0) = 0
            return f"{FUNCTIONS['Heaviside']}({self._print(e.expr)})"
        if not (isinstance(body, sp.Function) and body.args == (d,)):
            raise NotImplementedError(f"elementwise function {e.function} is not a single named function")
        name = type(body).__name__
        if name not in FUNCTIONS:
            raise NotImplementedError(f"no NumPy code for the elementwise function {name!r}")
        return f"{FUNCTIONS[name]}({self._print(e.expr)})"

    def _print_Softmax(self, e):
        return f"_softmax({self._print(e.arg)})"


def _coeff(e):
    """The numeric coefficient of a scaled term (−1 for −y), or None."""
    if isinstance(e, MatMul):
        c = e.as_coeff_matrices()[0]
        return c if c != 1 else None
    if isinstance(e, (sp.Mul,)):
        c = e.as_coeff_Mul()[0]
        return c if c != 1 else None
    if isinstance(e, sp.Number):
        return e
    return None


def _negate(e):
    if isinstance(e, MatMul):
        coeff, mats = e.as_coeff_matrices()
        return MatMul(-coeff, *mats) if coeff != -1 else (MatMul(*mats) if len(mats) > 1 else mats[0])
    return -e


def _is_scalar_multiple(e) -> bool:
    """c·y (one matrix): prints as ``c*y``, safe next to ``*``."""
    return isinstance(e, MatMul) and len(e.as_coeff_matrices()[1]) == 1


def _is_scaled_one(e) -> bool:
    return isinstance(e, MatMul) and len(e.as_coeff_matrices()[1]) == 1 and isinstance(e.as_coeff_matrices()[1][0], OneMatrix)


def code(expr, names: dict[str, str] | None = None, steps: bool = False) -> str:
    """``expr`` as NumPy source with symbols printed through ``names``."""
    return NumPyCodePrinter(names, steps).doprint(expr)
