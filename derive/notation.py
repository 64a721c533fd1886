"""The one notation system: display mathematics as SymPy nodes, printed by two SymPy printers.

Derivation steps, their justifications and the comments of generated code are built from the node
classes below (all non-commutative, so products keep their written order). Identifiers stay
identifiers (``ohat``, ``a_f``, ``C``); how they *look* comes from the display map :data:`BASES` —
ô, a_{f,t}, c_t — never from the identifier itself. Two printers, subclasses of SymPy's own, give
every node its look (one ``_print_<Node>`` method per node, SymPy's extension mechanism):

- :class:`UnicodePrinter` (a ``StrPrinter``): terminal text, ``aₜ = U xₜ + V hₜ₋₁ + b``;
- :class:`LatexPrinter` (a ``sympy.printing.latex.LatexPrinter``): ``a_{t} = U\\,x_{t} + …``.

Both take their symbols from one table, :data:`SYMBOLS`, so the Unicode and the LaTeX of a node never
drift apart, and the LaTeX writer can declare each Unicode glyph to pdflatex as exactly what the LaTeX
printer prints for it. A justification is :class:`Prose`: plain words and display nodes, rendered
by the same printers, never a pre-rendered string.

An adjoint shows as δ by one rule, :func:`delta_name`, shared by the derivation and the comments of
generated code.

>>> t = sp.Symbol("t", integer=True)
>>> unicode(Partial(Q("E"), Q("h", t - 1)))
'∂E/∂hₜ₋₁'
>>> latex(Had(Q("ohat", t), Tr(Q("W"))))
'\\\\hat{o}_{t} \\\\odot W^{\\\\top}'
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import sympy as sp
from sympy.core.containers import Tuple
from sympy.printing.latex import LatexPrinter as _SympyLatexPrinter
from sympy.printing.str import StrPrinter

from derive.functions import REGISTRY

#: identifier base → (LaTeX, Unicode): the display map (DESIGN.md §2). Anything else is shown as written.
BASES = {
    "ohat": (r"\hat{o}", "ô"),
    "C": ("c", "c"),
    "delta": (r"\delta", "δ"),
    "E": ("E", "E"),
    "θ": (r"\theta", "θ"),
    "gamma": (r"\gamma", "γ"),
    "yhat": (r"\hat{y}", "ŷ"),
    "ones": (r"\mathbf{1}", "𝟏"),
    "hfw": (r"\overrightarrow{h}", "h→"),  # the two directions of a bidirectional network
    "hbw": (r"\overleftarrow{h}", "h←"),
}
#: function name → (LaTeX, Unicode): the elementwise registry's displays, plus the vector functions
FUNCTIONS = {**{name: (e.latex, e.unicode) for name, e in REGISTRY.items()},
             "softmax": (r"\operatorname{softmax}", "softmax"), "log": (r"\log", "log"),
             "cell": (r"\operatorname{cell}", "cell")}

#: The notation's operator symbols: role → (Unicode, LaTeX). Both printers print from this one table.
SYMBOLS = {
    "minus": ("−", "-"), "odot": ("⊙", r"\odot"), "otimes": ("⊗", r"\otimes"), "top": ("ᵀ", r"^{\top}"),
    "squared": ("²", "^{2}"), "leq": ("≤", r"\leq"), "geq": ("≥", r"\geq"), "partial": ("∂", r"\partial"),
    "sum": ("Σ", r"\sum"), "prod": ("Π", r"\prod"), "norm": ("‖", r"\|"), "prime": ("′", "'"),
}
#: Unicode glyph → LaTeX (maths mode): the operator symbols, the display map's one-character names, the
#: subscripts and superscripts of the Unicode printer, and a few more a sentence uses. The LaTeX writer
#: declares these glyphs to pdflatex with it, so text that uses them (a cell's description) compiles and
#: shows them as the LaTeX printer would.
GLYPHS = {
    **{uni: lat for uni, lat in SYMBOLS.values()},
    **{uni: lat for lat, uni in BASES.values() if len(uni) == 1},
    "Σ": r"\Sigma", "Π": r"\Pi",  # in a sentence the letter, not the big operator
    "×": r"\times", "·": r"\cdot", "→": r"\to", "←": r"\leftarrow", "…": r"\ldots",
}
_SUB_ASCII = "0123456789+-=()aehijklmnoprstuvx"
_SUB_UNI = "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ"
_SUP_ASCII = "0123456789+-=()tkj"
_SUP_UNI = "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ᵗᵏʲ"
_SUB = str.maketrans(_SUB_ASCII, _SUB_UNI)
_SUP = str.maketrans(_SUP_ASCII, _SUP_UNI)
# subscript and superscript glyphs are the printer's too: ₜ is _{t}, ⁽ is ^{(}
GLYPHS.update({u: "_{%s}" % a for a, u in zip(_SUB_ASCII, _SUB_UNI) if u not in GLYPHS})
GLYPHS.update({u: "^{%s}" % a for a, u in zip(_SUP_ASCII, _SUP_UNI) if u not in GLYPHS})


_GREEK_CAPITALS = {"Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega"}


def glyph_latex(ch: str) -> str | None:
    """The LaTeX (maths mode) of one Unicode character of the notation, or of a Greek letter; else None.

    >>> glyph_latex("⊙"), glyph_latex("γ"), glyph_latex("é")
    ('\\\\odot', '\\\\gamma', None)
    """
    if ch in GLYPHS:
        return GLYPHS[ch]
    name = unicodedata.name(ch, "")
    if name.startswith("GREEK SMALL LETTER ") and " " not in name[19:]:
        letter = name[19:].lower().replace("lamda", "lambda")
        return "o" if letter == "omicron" else "\\" + letter
    if name.startswith("GREEK CAPITAL LETTER ") and " " not in name[21:]:
        letter = name[21:].capitalize().replace("Lamda", "Lambda")
        return "\\" + letter if letter in _GREEK_CAPITALS else letter[0]
    return None


def superscript(text: str) -> str:
    """``text`` in Unicode superscripts where they exist (``"2"`` → ``"²"``)."""
    return text.translate(_SUP)


def _sub(text: str) -> str:
    """``text`` in Unicode subscripts, or ``""`` when some character has none (e.g. T)."""
    out = text.translate(_SUB)
    return out if all(ord(c) > 127 for c in out) else ""


# --------------------------------------------------------------------------------------------
# The display nodes


class Disp(sp.Expr):
    """Base class: a non-commutative display expression; ``str`` is its Unicode, ``sympy.latex`` its LaTeX."""

    is_commutative = False
    prec = 3  # binding strength: 1 sums, 2 products, 3 atoms (an operand weaker than needed is parenthesised)

    def _sympystr(self, printer=None):
        return unicode(self)

    def _latex(self, printer=None):
        return latex(self)


def _symbol(name) -> sp.Symbol:
    """A node's name as a Symbol; a Symbol passes (so ``node.func(*node.args)`` rebuilds the node)."""
    return name if isinstance(name, sp.Symbol) else sp.Symbol(name)


def _optional(value) -> Tuple:
    """``None`` → ``()``, ``x`` → ``(x,)``, a Tuple passes (SymPy keeps ``None`` out of ``args``)."""
    if isinstance(value, Tuple):
        return value
    return Tuple() if value is None else Tuple(sp.sympify(value))


class Q(Disp):
    """A quantity: ``Q("h", t - 1)`` is h_{t−1}; ``Q("delta", 2, 3)`` is δ_2^{(3)}; ``Q("W")`` is W."""

    def __new__(cls, name, time=None, sup=None):
        return super().__new__(cls, _symbol(name), _optional(time), _optional(sup))

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


class PartialOp(Disp):
    """∂/∂var, the operator (``PartialOp(Q("z", 1))`` is ∂/∂z₁)."""


class Plus(Disp):
    """A sum in the written order (use :func:`plus`)."""

    prec = 1


class Neg(Disp):
    """−x."""

    prec = 1


class Times(Disp):
    """Matrix product in the written order (use :func:`times`)."""

    prec = 2


class Had(Disp):
    """Elementwise (Hadamard) product ⊙."""

    prec = 2


class Outer(Disp):
    """Outer product u ⊗ v = u vᵀ."""

    prec = 2


class Tr(Disp):
    """Transpose."""


class Paren(Disp):
    """(x): parentheses the binding strengths would not give (``Tr(Paren(Partial(a, h)))`` is (∂a/∂h)ᵀ)."""


class Diag(Disp):
    """diag(v): the diagonal matrix of a vector."""


class Sq(Disp):
    """Elementwise square v²."""


class AbsVal(Disp):
    """|x|."""


class Fn(Disp):
    """f(v) for a named function, applied elementwise (softmax: to the vector); ``index`` subscripts it."""

    def __new__(cls, name, arg, index=None):
        return super().__new__(cls, _symbol(name), arg, _optional(index))


class Prime(Disp):
    """f′: the derivative of a named function (``Prime("tanh")`` is tanh′)."""

    def __new__(cls, name):
        return super().__new__(cls, _symbol(name))


class TSum(Disp):
    """Σ_{var=lo}^{hi} body."""

    prec = 1


class TProd(Disp):
    """Π_{var=lo}^{hi} body, ordered: later factors to the left."""

    prec = 2


class SumOver(Disp):
    """Σ over an index with a condition or none: ``SumOver(body, k)`` is Σₖ body, ``SumOver(body, t >= k)``
    is Σ_{t≥k} body."""

    prec = 2


class Norm(Disp):
    """‖x‖₂: the spectral norm of a matrix (the 2-norm of a vector)."""


class Power(Disp):
    """base^exponent (a scalar raised to a number of steps)."""

    prec = 3


class Leq(Disp):
    """a ≤ b ≤ …: a chain of inequalities, as one side of a step."""

    prec = 0


class Geq(Disp):
    """a ≥ b."""

    prec = 0


class Equals(Disp):
    """a = b = …: an equation inside a sentence (a step's own sides are a tuple, not this)."""

    prec = 0


class Args(Disp):
    """a, b, …: the arguments of a function of several vectors (cell(x_t, h_{t−1}))."""


class Text(Disp):
    """A few words standing in an equation, rendered as text."""

    def __new__(cls, text):
        return super().__new__(cls, _symbol(text))


def plus(*terms):
    """Sum of display terms, dropping zeros; a single term is returned as is."""
    terms = [t for t in terms if t is not None and t != 0]
    if not terms:
        return sp.Integer(0)
    return terms[0] if len(terms) == 1 else Plus(*terms)


def times(*factors):
    """Product of display factors in the written order, dropping ones; a zero factor gives 0."""
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


def delta_name(name: str, pre_activations, states=()) -> str | None:
    """The δ of an adjoint, by the one rule: ∂E/∂n shows as δ exactly when n is a *pre-activation* (the
    argument of an elementwise function) and not a state; δ takes n's subscripts (a → δ, a_f → δ_f; a
    pre-activation with another base keeps its whole name, s → δ_s). None: show ∂E/∂n.

    Returns the display identifier (``"delta_f"``), to be shown through :data:`BASES` like any quantity.

    >>> delta_name("a_f", {"a_f", "C"}, {"h", "C"}), delta_name("C", {"a_f", "C"}, {"h", "C"})
    ('delta_f', None)
    """
    if name not in pre_activations or name in states:
        return None
    base, _, sub = name.partition("_")
    if base != "a":
        sub = name
    return "delta" + ("_" + sub if sub else "")


# --------------------------------------------------------------------------------------------
# Prose: a justification


@dataclass(frozen=True)
class Prose:
    """A sentence of plain words and display mathematics, e.g. ``Prose(Q("E", 3), " depends on ", …)``.

    Every format renders it its own way (the words as text, the mathematics by its printer); ``str``
    is the Unicode text.
    """

    parts: tuple

    def __init__(self, *parts):
        flat = []
        for p in parts:
            if isinstance(p, Prose):
                flat.extend(p.parts)
            elif isinstance(p, str) and flat and isinstance(flat[-1], str):
                flat[-1] += p
            elif p != "":
                flat.append(p)
        object.__setattr__(self, "parts", tuple(flat))

    def __add__(self, other) -> Prose:
        return Prose(self, other)

    def render(self, words, maths) -> str:
        """The sentence with each plain part through ``words`` and each display part through ``maths``."""
        return "".join(words(p) if isinstance(p, str) else maths(p) for p in self.parts)

    def __str__(self) -> str:
        return self.render(str, unicode)


def prose(*parts) -> Prose:
    """``Prose(*parts)``; a string alone is a sentence without mathematics."""
    return Prose(*parts)


# --------------------------------------------------------------------------------------------
# The printers


def _prec(e):
    if isinstance(e, Disp):
        return e.prec
    if isinstance(e, sp.Number) and e < 0:
        return 1
    return 3


class _DisplayPrinting:
    """What both printers share: parenthesising by binding strength, chains of the written order."""

    def _wrap(self, x, level: int) -> str:
        s = self._print(x)
        return self._paren(s) if _prec(x) < level else s

    def _factor(self, f) -> str:
        return self._wrap(f, 3) if isinstance(f, (Had, Outer)) else self._wrap(f, 2)

    def _sum_body(self, e) -> str:
        body = e.args[0]
        return self._print(body) if isinstance(body, type(e)) else self._wrap(body, 2)  # Σ_t Σ_k …: no parentheses

    def _infix(self, role: str) -> str:
        return " " + self.symbol[role] + " "

    def _print_Plus(self, e):
        out = self._print(e.args[0])
        for t in e.args[1:]:
            if isinstance(t, Neg):
                out += self._infix("minus") + self._wrap(t.args[0], 2)
            elif isinstance(t, sp.Number) and t < 0:
                out += self._infix("minus") + self._print(-t)
            else:
                out += " + " + self._print(t)
        return out

    def _print_Neg(self, e):
        return self.symbol["minus"] + self._wrap(e.args[0], 2)

    def _print_Had(self, e):
        return self._infix("odot").join(self._wrap(f, 3) for f in e.args)

    def _print_Outer(self, e):
        return self._infix("otimes").join(self._wrap(f, 3) for f in e.args)

    def _print_Tr(self, e):
        return self._wrap(e.args[0], 3) + self.symbol["top"]

    def _print_Sq(self, e):
        return self._wrap(e.args[0], 3) + self.symbol["squared"]

    def _print_Paren(self, e):
        return self._paren(self._print(e.args[0]))

    def _print_Args(self, e):
        return ", ".join(self._print(x) for x in e.args)

    def _print_Leq(self, e):
        return self._infix("leq").join(self._print(x) for x in e.args)

    def _print_Geq(self, e):
        return self._infix("geq").join(self._print(x) for x in e.args)

    def _print_Equals(self, e):
        return " = ".join(self._print(x) for x in e.args)


class UnicodePrinter(_DisplayPrinting, StrPrinter):
    """Display nodes as Unicode text: ``∂E/∂hₜ₋₁``, ``(1 − hₜ²) ⊙ (Wᵀ (ôₜ − oₜ))``."""

    printmethod = "_display_unicode"  # not StrPrinter's "_sympystr": the nodes' str() comes here
    symbol = {role: uni for role, (uni, _) in SYMBOLS.items()}

    def _paren(self, s):
        return f"({s})"

    def _index(self, e) -> str:
        """A time index or bound as it stands in a subscript: no spaces (``t-1``, ``max(1,t-1)``)."""
        if isinstance(e, sp.Max):
            return "max(" + ",".join(self._index(a) for a in e.args) + ")"
        return "".join(StrPrinter().doprint(e).split())

    def _bound(self, e) -> str:
        return self._index(e).replace(",", ", ").replace("-", self.symbol["minus"])

    def _print_Q(self, e):
        base, sub = _name(e.name, "unicode")
        s = base
        if e.time is not None:
            tt = self._index(e.time)
            s += ("_" + sub if sub else "") + _sub(tt) if _sub(tt) else "_{" + ",".join(p for p in (sub, tt) if p) + "}"
        elif sub:
            s += "_" + sub
        if e.sup is not None:
            st = self._index(e.sup)
            s += "⁽" + st.translate(_SUP) + "⁾" if st.translate(_SUP) != st or st.isdigit() else f"^({st})"
        return s

    def _print_Partial(self, e):
        num, den = e.args
        d = self.symbol["partial"]
        return d + self._print(num) + "/" + d + self._print(den)

    def _print_PartialOp(self, e):
        d = self.symbol["partial"]
        return f"{d}/{d}" + self._print(e.args[0])

    def _print_Times(self, e):
        return " ".join(self._factor(f) for f in e.args)

    def _print_Diag(self, e):
        return f"diag({self._print(e.args[0])})"

    def _print_AbsVal(self, e):
        return f"|{self._print(e.args[0])}|"

    def _print_Fn(self, e):
        name, arg, index = e.args
        uni = FUNCTIONS.get(name.name, (name.name, name.name))[1]
        return uni + (_sub(self._index(index[0])) if index else "") + f"({self._print(arg)})"

    def _print_Prime(self, e):
        return FUNCTIONS.get(e.args[0].name, (None, e.args[0].name))[1] + self.symbol["prime"]

    def _print_TSum(self, e):
        return self._big(self.symbol["sum"], e)

    def _print_TProd(self, e):
        return self._big(self.symbol["prod"], e)

    def _big(self, op, e):
        _, var, lo, hi = e.args
        return f"{op}_{{{var}={self._bound(lo)}..{self._bound(hi)}}} " + self._sum_body(e)

    def _print_SumOver(self, e):
        over = e.args[1]
        if isinstance(over, sp.Symbol):
            return self.symbol["sum"] + (_sub(over.name) or f"_{over.name}") + " " + self._sum_body(e)
        cond = self._print(over.lhs) + self.symbol["geq"] + self._print(over.rhs)
        return self.symbol["sum"] + "_{" + cond + "} " + self._sum_body(e)

    def _print_Norm(self, e):
        return self.symbol["norm"] + self._print(e.args[0]) + self.symbol["norm"] + "₂"

    def _print_Power(self, e):
        base, exponent = e.args
        return self._wrap(base, 4) + "^(" + self._bound(exponent).replace(" ", "") + ")"

    def _print_Text(self, e):
        return e.args[0].name

    def _print_Integer(self, e):
        return (self.symbol["minus"] if e < 0 else "") + str(abs(int(e)))

    def _print_Rational(self, e):
        return (self.symbol["minus"] if e < 0 else "") + f"{abs(e.p)}/{e.q}"


class LatexPrinter(_DisplayPrinting, _SympyLatexPrinter):
    """Display nodes as LaTeX (maths mode): ``\\frac{\\partial E}{\\partial h_{t - 1}}``."""

    printmethod = "_display_latex"  # not "_latex": the nodes' sympy.latex() comes here
    symbol = {role: lat for role, (_, lat) in SYMBOLS.items()}

    def _paren(self, s):
        return r"\left(" + s + r"\right)"

    def _print_Q(self, e):
        base, sub = _name(e.name, "latex")
        parts = [p for p in (sub, self._print(e.time) if e.time is not None else "") if p]
        s = base + ("_{" + ",".join(parts) + "}" if parts else "")
        if e.sup is not None:
            s += "^{(" + self._print(e.sup) + ")}"
        return s

    def _print_Partial(self, e):
        num, den = e.args
        d = self.symbol["partial"]
        return r"\frac{" + d + " " + self._print(num) + "}{" + d + " " + self._print(den) + "}"

    def _print_PartialOp(self, e):
        d = self.symbol["partial"]
        return r"\frac{" + d + "}{" + d + " " + self._print(e.args[0]) + "}"

    def _print_Times(self, e):
        return r"\,".join(self._factor(f) for f in e.args)

    def _print_Diag(self, e):
        return r"\operatorname{diag}\left(" + self._print(e.args[0]) + r"\right)"

    def _print_AbsVal(self, e):
        return r"\left|" + self._print(e.args[0]) + r"\right|"

    def _print_Fn(self, e):
        name, arg, index = e.args
        lat = FUNCTIONS.get(name.name, (name.name, name.name))[0]
        return lat + ("_{" + self._print(index[0]) + "}" if index else "") + r"\left(" + self._print(arg) + r"\right)"

    def _print_Prime(self, e):
        return FUNCTIONS.get(e.args[0].name, (e.args[0].name, None))[0] + self.symbol["prime"]

    def _print_TSum(self, e):
        return self._big(self.symbol["sum"], e)

    def _print_TProd(self, e):
        return self._big(self.symbol["prod"], e)

    def _big(self, op, e):
        _, var, lo, hi = e.args
        return f"{op}_{{{self._print(var)}={self._print(lo)}}}^{{{self._print(hi)}}} " + self._sum_body(e)

    def _print_SumOver(self, e):
        over = e.args[1]
        cond = self._print(over) if isinstance(over, sp.Symbol) else \
            self._print(over.lhs) + " " + self.symbol["geq"] + " " + self._print(over.rhs)
        return self.symbol["sum"] + "_{" + cond + "} " + self._sum_body(e)

    def _print_Norm(self, e):
        return r"\left\|" + self._print(e.args[0]) + r"\right\|_{2}"

    def _print_Power(self, e):
        base, exponent = e.args
        return self._wrap(base, 4) + "^{" + self._print(exponent) + "}"

    def _print_Text(self, e):
        return r"\text{" + latex_text(e.args[0].name) + "}"


def _name(name: str, dialect: str):
    """Identifier → (base, subscript) in the dialect, through the display map."""
    base, _, sub = name.partition("_")
    if name in BASES:
        base, sub = name, ""
    lat, uni = BASES.get(base, (base, base))
    return (lat if dialect == "latex" else uni), sub


def unicode(e) -> str:
    """A display expression (or a plain SymPy number) as Unicode text."""
    return UnicodePrinter().doprint(e)


def latex(e) -> str:
    """A display expression (or a plain SymPy number) as LaTeX, maths mode."""
    return LatexPrinter().doprint(e)


def render(e, dialect: str = "unicode") -> str:
    """``unicode(e)`` or ``latex(e)`` by name (``dialect`` is ``"unicode"`` or ``"latex"``)."""
    return latex(e) if dialect == "latex" else unicode(e)


# --------------------------------------------------------------------------------------------
# LaTeX text

_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
            "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}


def latex_text(s: str) -> str:
    """Plain text as LaTeX text: the ten special characters escaped, every other character kept as it is
    (the LaTeX writer declares the notation's glyphs, :func:`glyph_latex`, to pdflatex).

    >>> latex_text("50% of a_t & more")
    '50\\\\% of a\\\\_t \\\\& more'
    """
    return "".join(_SPECIAL.get(ch, ch) for ch in s)


def from_display_tree(text: str):
    """Rebuild a display expression from its ``sympy.srepr`` (the ``display_tree`` of ``--format json``).

    >>> e = Partial(Q("E"), Q("h", sp.Symbol("t", integer=True)))
    >>> from_display_tree(sp.srepr(e)) == e
    True
    """
    namespace = {name: getattr(sp, name) for name in dir(sp) if not name.startswith("_")}
    namespace.update(Tuple=Tuple, **{cls.__name__: cls for cls in _NODES})
    return eval(text, {"__builtins__": {}}, namespace)  # noqa: S307 — only SymPy and the display nodes


_NODES = (Q, Partial, PartialOp, Plus, Neg, Times, Had, Outer, Tr, Paren, Diag, Sq, AbsVal, Fn, Prime, TSum, TProd,
          SumOver, Norm, Power, Leq, Geq, Equals, Args, Text)
