"""Display-side mathematics: time-indexed quantities and the operators of a derivation.

Derivation steps are SymPy objects built from the classes below (all non-commutative, so products
keep their order). Identifiers stay identifiers (``ohat``, ``a_f``, ``C``); how they *look* comes
from the display map :data:`BASES` — ô, a_{f,t}, c_t — never from the identifier itself.
Each class renders itself in two dialects, LaTeX (``sympy.latex`` / ``_repr_latex_``) and Unicode
(``str``), through :func:`render`.
"""

from __future__ import annotations

import sympy as sp
from sympy.core.containers import Tuple

from derive.functions import REGISTRY

#: identifier base → (LaTeX, Unicode). Anything else is shown as written.
BASES = {
    "ohat": (r"\hat{o}", "ô"),
    "C": ("c", "c"),
    "delta": (r"\delta", "δ"),
    "E": ("E", "E"),
    "θ": (r"\theta", "θ"),
    "ones": (r"\mathbf{1}", "𝟏"),
    "hfw": (r"\overrightarrow{h}", "h→"),  # the two directions of a bidirectional network
    "hbw": (r"\overleftarrow{h}", "h←"),
}
FUNCTIONS = {**{name: (e.latex, e.unicode) for name, e in REGISTRY.items()},
             "softmax": (r"\operatorname{softmax}", "softmax"), "log": (r"\log", "log"),
             "cell": (r"\operatorname{cell}", "cell")}

_SUB = str.maketrans("0123456789+-=()aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ")
_SUP = str.maketrans("0123456789+-=()tkj", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ᵗᵏʲ")


def _sub(text: str) -> str:
    """``text`` in Unicode subscripts, or ``""`` when some character has none (e.g. T)."""
    out = text.translate(_SUB)
    return out if all(ord(c) > 127 for c in out) else ""


def _time_text(t) -> str:
    return str(t).replace(" ", "")


class Disp(sp.Expr):
    """Base class: a non-commutative display expression rendered by :func:`render`."""

    is_commutative = False
    prec = 3

    def _latex(self, printer=None):
        return render(self, "latex")

    def _sympystr(self, printer=None):
        return render(self, "unicode")



class Q(Disp):
    """A quantity: ``Q("h", t - 1)`` is h_{t−1}; ``Q("delta", 2, 3)`` is δ_2^{(3)}; ``Q("W")`` is W."""

    def __new__(cls, name, time=None, sup=None):
        t = Tuple() if time is None else Tuple(sp.sympify(time))
        s = Tuple() if sup is None else Tuple(sp.sympify(sup))
        return super().__new__(cls, sp.Symbol(name), t, s)

    @property
    def name(self):
        return self.args[0].name

    @property
    def time(self):
        return self.args[1][0] if self.args[1] else None

    @property
    def sup(self):
        return self.args[2][0] if self.args[2] else None


class Partial(Disp):
    """∂num/∂den."""


class Plus(Disp):
    prec = 1


class Neg(Disp):
    prec = 1


class Times(Disp):
    """Matrix product in the written order."""

    prec = 2


class Had(Disp):
    """Elementwise (Hadamard) product ⊙."""

    prec = 2


class Outer(Disp):
    """Outer product u ⊗ v = u vᵀ."""

    prec = 2


class Tr(Disp):
    """Transpose."""


class Diag(Disp):
    """diag(v): the diagonal matrix of a vector."""


class Sq(Disp):
    """Elementwise square v²."""


class Fn(Disp):
    """f(v) for a named function, applied elementwise (softmax: to the vector)."""

    def __new__(cls, name, arg):
        return super().__new__(cls, sp.Symbol(name), arg)


class TSum(Disp):
    """Σ_{var=lo}^{hi} body."""

    prec = 1


class TProd(Disp):
    """Π_{var=lo}^{hi} body, ordered: later factors to the left."""

    prec = 2


class Norm(Disp):
    """‖x‖₂: the spectral norm of a matrix (the 2-norm of a vector)."""


class Power(Disp):
    """base^exponent (a scalar raised to a number of steps)."""

    prec = 3


class Leq(Disp):
    """a ≤ b ≤ …: a chain of inequalities, as one side of a step."""

    prec = 0


class Args(Disp):
    """a, b, …: the arguments of a function of several vectors (cell(x_t, h_{t−1}))."""


class Text(Disp):
    """A short word inside an equation (e.g. ``0``-like remarks); rendered as text."""

    def __new__(cls, text):
        return super().__new__(cls, sp.Symbol(text))


def plus(*terms):
    """Sum of display terms, dropping zeros; a single term is returned as is."""
    terms = [t for t in terms if t is not None and t != 0]
    if not terms:
        return sp.Integer(0)
    return terms[0] if len(terms) == 1 else Plus(*terms)


def times(*factors):
    fs = []
    for f in factors:
        if f is None or f == 1:
            continue
        if f == 0:
            return sp.Integer(0)
        fs.extend(f.args if isinstance(f, Times) else [f])
    if not fs:
        return sp.Integer(1)
    return fs[0] if len(fs) == 1 else Times(*fs)


# --------------------------------------------------------------------------------------------
# Rendering


def _name(name: str, dialect: str):
    """Identifier → (base, subscript parts) in the dialect."""
    base, _, sub = name.partition("_")
    if name in BASES:
        base, sub = name, ""
    lat, uni = BASES.get(base, (base, base))
    return (lat if dialect == "latex" else uni), sub


def _prec(e):
    if isinstance(e, Disp):
        return e.prec
    if isinstance(e, sp.Number) and e < 0:
        return 1
    return 3


def render(e, dialect: str = "unicode") -> str:
    """Render a display expression (or a plain SymPy number) as LaTeX or Unicode text."""
    L = dialect == "latex"
    r = lambda x: render(x, dialect)  # noqa: E731

    def wrap(x, level):
        s = r(x)
        if _prec(x) < level:
            return (r"\left(" + s + r"\right)") if L else f"({s})"
        return s

    if isinstance(e, Q):
        base, sub = _name(e.name, dialect)
        t = e.time
        if L:
            parts = [p for p in (sub, sp.latex(t) if t is not None else "") if p]
            s = base + ("_{" + ",".join(parts) + "}" if parts else "")
            if e.sup is not None:
                s += "^{(" + sp.latex(e.sup) + ")}"
            return s
        s = base
        tt = _time_text(t) if t is not None else ""
        if t is not None and not _sub(tt):
            s += "_{" + ",".join(p for p in (sub, tt) if p) + "}"
        else:
            s += ("_" + sub if sub else "") + (_sub(tt) if tt else "")
        if e.sup is not None:
            st = _time_text(e.sup)
            s += ("⁽" + st.translate(_SUP) + "⁾") if st.translate(_SUP) != st or st.isdigit() else f"^({st})"
        return s
    if isinstance(e, Partial):
        num, den = e.args
        if L:
            return r"\frac{\partial " + r(num) + r"}{\partial " + r(den) + "}"
        return "∂" + r(num) + "/∂" + r(den)
    if isinstance(e, Plus):
        out = r(e.args[0])
        for t in e.args[1:]:
            if isinstance(t, Neg):
                out += " - " + wrap(t.args[0], 2) if L else " − " + wrap(t.args[0], 2)
            elif isinstance(t, sp.Number) and t < 0:
                out += (" - " if L else " − ") + r(-t)
            else:
                out += " + " + r(t)
        return out
    if isinstance(e, Neg):
        return ("-" if L else "−") + wrap(e.args[0], 2)
    if isinstance(e, Times):
        return (r"\," if L else " ").join(wrap(f, 3) if isinstance(f, (Had, Outer)) else wrap(f, 2)
                                           for f in e.args)
    if isinstance(e, Had):
        return (r" \odot " if L else " ⊙ ").join(wrap(f, 3) for f in e.args)
    if isinstance(e, Outer):
        return (r" \otimes " if L else " ⊗ ").join(wrap(f, 3) for f in e.args)
    if isinstance(e, Tr):
        return wrap(e.args[0], 3) + (r"^{\top}" if L else "ᵀ")
    if isinstance(e, Sq):
        return wrap(e.args[0], 3) + ("^{2}" if L else "²")
    if isinstance(e, Diag):
        return (r"\operatorname{diag}\left(" + r(e.args[0]) + r"\right)") if L else f"diag({r(e.args[0])})"
    if isinstance(e, Fn):
        lat, uni = FUNCTIONS.get(e.args[0].name, (e.args[0].name, e.args[0].name))
        return (lat + r"\left(" + r(e.args[1]) + r"\right)") if L else f"{uni}({r(e.args[1])})"
    if isinstance(e, (TSum, TProd)):
        body, var, lo, hi = e.args
        inner = r(body) if isinstance(body, type(e)) else wrap(body, 2)  # Σ_t Σ_k …: no parentheses
        if L:
            op = r"\sum" if isinstance(e, TSum) else r"\prod"
            return f"{op}_{{{sp.latex(var)}={sp.latex(lo)}}}^{{{sp.latex(hi)}}} " + inner
        op = "Σ" if isinstance(e, TSum) else "Π"
        bound = lambda b: _time_text(b).replace("Max", "max").replace(",", ", ").replace("-", "−")  # noqa: E731
        return f"{op}_{{{var}={bound(lo)}..{bound(hi)}}} " + inner
    if isinstance(e, Norm):
        return (r"\left\|" + r(e.args[0]) + r"\right\|_{2}") if L else f"‖{r(e.args[0])}‖₂"
    if isinstance(e, Power):
        base, exponent = e.args
        if L:
            return wrap(base, 4) + "^{" + sp.latex(exponent) + "}"
        return wrap(base, 4) + "^(" + str(exponent).replace("-", "−").replace(" ", "") + ")"
    if isinstance(e, Leq):
        return (r" \leq " if L else " ≤ ").join(r(x) for x in e.args)
    if isinstance(e, Args):
        return ", ".join(r(x) for x in e.args)
    if isinstance(e, Text):
        if L:
            return r"\text{" + e.args[0].name.replace("≥", r"$\geq$").replace("≤", r"$\leq$") + "}"
        return e.args[0].name
    if isinstance(e, sp.Basic):
        return sp.latex(e) if L else str(e).replace("-", "−")
    return str(e)
