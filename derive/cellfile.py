"""The cell-file format: parse, check and normalise one recurrent cell (format: docs/cells.md).

Pure Python — no SymPy here, so loading a cell is cheap and every error carries its line number.
A parsed :class:`Cell` holds the equations as a tiny expression tree (:class:`Name`, :class:`Num`,
:class:`Bin`, :class:`Neg`, :class:`Call`), normalised so that every function application is a
named node of its own (``f = sigmoid(U_f @ x + …)`` becomes ``a_f = U_f @ x + …; f = sigmoid(a_f)``).
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from pathlib import Path

from derive.errors import CellError
from derive.functions import KNOWN, VECTOR
from derive.naming import PREV, current, is_previous, previous
_IDENT = r"[A-Za-z][A-Za-z0-9_]*"
#: names the derivation's notation gives a meaning (docs/cells.md, "Reserved names"); x and o only as
#: the input's and the target's names
_RESERVED = {"E": "the loss E = Σ_t E_t", "o": "the target o_t (allowed only as the target's name)",
             "t": "the time step", "k": "a summation index (Σ_k)", "j": "a summation index",
             "T": "the number of steps", "delta": "δ, the adjoint of a pre-activation",
             "x": "the input x_t (allowed only as the input's name)"}
#: identifiers of the generated module's own (its locals, NumPy, and the builtins it calls)
_CODE_NAMES = {"np", "B", "xs", "params", "targets", "dtype", "grads", "truncate", "t_in", "sizes", "state0",
               "tape", "full", "loss", "forward", "range", "max", "min", "sum", "zip", "dict", "float", "int",
               "len", "reversed", "isinstance", "any", "all", "tuple", "list", "set", "type", "print", "bool",
               "str", "object", "super", "None", "True", "False"}


_RESERVED_HINT = ("another name; reserved: " + ", ".join(_RESERVED) + " (x and o only as input and target), "
                  "Python keywords and the generated code's own names (docs/cells.md)")


def reserved_reason(name: str, kind: str) -> str | None:
    """Why ``name`` may not be used for a quantity of ``kind`` ("param", "input", "target", "state",
    "equation"), or None when it may."""
    if keyword.iskeyword(name):
        return "a Python keyword (the generated code could not name it)"
    if name == "x" and kind == "input" or name == "o" and kind == "target":
        return None
    if name in _RESERVED:
        return f"reserved for {_RESERVED[name]}"
    if name in _CODE_NAMES:
        return "reserved: the generated code uses it for its own purposes"
    return None


# --------------------------------------------------------------------------------------------
# Expression tree


@dataclass(frozen=True)
class Name:
    id: str
    col: int = 0


@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Neg:
    x: object


@dataclass(frozen=True)
class Bin:
    op: str  # "+", "-", "*" (elementwise ⊙), "@" (matrix product)
    left: object
    right: object


@dataclass(frozen=True)
class Call:
    fn: str
    arg: object
    col: int = 0


def names_in(expr) -> set[str]:
    """Every identifier an expression refers to."""
    if isinstance(expr, Name):
        return {expr.id}
    if isinstance(expr, Num):
        return set()
    if isinstance(expr, Neg):
        return names_in(expr.x)
    if isinstance(expr, Call):
        return names_in(expr.arg)
    return names_in(expr.left) | names_in(expr.right)


def to_text(expr) -> str:
    """The expression in cell-file syntax (fully parenthesised where needed)."""
    if isinstance(expr, Name):
        return expr.id
    if isinstance(expr, Num):
        v = expr.value
        return str(int(v)) if float(v).is_integer() else repr(v)
    if isinstance(expr, Neg):  # unary minus binds tightest: -(M @ x), -(a * b) keep their parentheses
        return f"-({to_text(expr.x)})" if isinstance(expr.x, Bin) else f"-{to_text(expr.x)}"
    if isinstance(expr, Call):
        return f"{expr.fn}({to_text(expr.arg)})"
    if expr.op in "+-":
        return f"{to_text(expr.left)} {expr.op} {_wrap(expr.right) if expr.op == '-' else to_text(expr.right)}"
    if expr.op == "@":  # '@' binds tighter than '*': M @ (f * h) must keep its parentheses
        right = f"({to_text(expr.right)})" if isinstance(expr.right, (Bin, Neg)) else to_text(expr.right)
        return f"{to_text(expr.left)} @ {right}"
    return f"{_wrap(expr.left)} {expr.op} {_wrap(expr.right)}"


def _wrap(e) -> str:
    return f"({to_text(e)})" if isinstance(e, Bin) and e.op in "+-" else to_text(e)


# --------------------------------------------------------------------------------------------
# Declarations and the cell


@dataclass(frozen=True)
class Decl:
    """A declared quantity: parameter, input, target or state.

    ``shape`` holds dimension names, e.g. ``("H", "D")`` or ``("H", "1")`` for a column vector.
    """

    name: str
    kind: str  # "param" | "input" | "target" | "state"
    shape: tuple[str, str]
    line: int
    bias: bool = False
    init: str = ""


@dataclass(frozen=True)
class Node:
    """One named quantity computed in a time step.

    ``expr`` is either ``Call(fn, Name(arg))`` (a function node) or a tree of ``+ - * @`` over
    names and numbers (a linear/bilinear node). ``auto`` marks names the normaliser invented.
    """

    name: str
    expr: object
    shape: tuple[str, str]
    line: int
    auto: bool = False

    @property
    def fn(self) -> str | None:
        return self.expr.fn if isinstance(self.expr, Call) else None


@dataclass(frozen=True)
class Cell:
    """A parsed, checked recurrent cell (one time step plus output layer and loss)."""

    name: str
    description: str
    path: str
    dims: tuple[str, ...]
    input: Decl
    target: Decl
    params: tuple[Decl, ...]
    states: tuple[Decl, ...]
    nodes: tuple[Node, ...]
    softmax: str  # node holding ô (the prediction)
    logits: str  # node holding z (softmax argument); for an mse loss the prediction itself
    bias: bool = True
    dropped: tuple[str, ...] = ()  # bias parameters removed by bias=False
    source: tuple[str, ...] = field(default=(), repr=False)
    layers: int = 1  # stacked copies (derive/layers.py); the equations are then those of all layers
    loss: str = "cross_entropy"  # or "mse": E = Σ_t Σ_b ½‖ŷ_t − y_t‖²; "linear": E = Σ_t g_tᵀ ŷ_t (docs/cells.md)

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def shape(self, name: str) -> tuple[str, str]:
        """Shape of any parameter, input, target, state (or ``<state>_prev``) or node."""
        for d in (self.input, self.target, *self.params, *self.states):
            if name in (d.name, previous(d.name)):
                return d.shape
        return self.node(name).shape

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    @property
    def state_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.states)


# --------------------------------------------------------------------------------------------
# Tokenizer and expression parser

_TOKEN = re.compile(r"\s*(?:(?P<num>\d+(?:\.\d*)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>[-+*@()⊙·]))")


class _Parser:
    def __init__(self, text: str, offset: int, err):
        self.text, self.offset, self.err = text, offset, err
        self.tokens = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = _TOKEN.match(text, pos)
            if not m:
                bad = text[pos:].lstrip()[0]
                col = offset + len(text[:pos]) + (len(text[pos:]) - len(text[pos:].lstrip())) + 1
                raise err(f"syntax error: unexpected character {bad!r}",
                          "an expression of names, numbers, + - * @ and f(...)", col)
            kind = m.lastgroup
            val = m.group(kind)
            if kind == "op" and val in "⊙·":
                val = "*"
            self.tokens.append((kind, val, offset + m.start(kind) + 1))
            pos = m.end()
        self.i = 0

    def peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else ("end", "", self.offset + len(self.text) + 1)

    def take(self):
        tok = self.peek()
        self.i += 1
        return tok

    def parse(self):
        if not self.tokens:
            raise self.err("syntax error: empty right-hand side", "an expression after '='",
                           self.offset + len(self.text) + 1)
        e = self.expr()
        kind, val, col = self.peek()
        if kind != "end":
            raise self.err(f"syntax error: unexpected {val!r}", "an operator (+ - * @) or end of line", col)
        return e

    def expr(self):
        e = self.term()
        while self.peek()[1] in ("+", "-") and self.peek()[0] == "op":
            op = self.take()[1]
            e = Bin(op, e, self.term())
        return e

    def term(self):
        e = self.matprod()
        while self.peek()[:2] == ("op", "*"):
            self.take()
            e = Bin("*", e, self.matprod())
        return e

    def matprod(self):
        e = self.unary()
        while self.peek()[:2] == ("op", "@"):
            self.take()
            e = Bin("@", e, self.unary())
        return e

    def unary(self):
        if self.peek()[:2] == ("op", "-"):
            self.take()
            return Neg(self.unary())
        return self.atom()

    def atom(self):
        kind, val, col = self.take()
        if kind == "num":
            return Num(float(val))
        if kind == "name":
            if self.peek()[:2] == ("op", "("):
                self.take()
                arg = self.expr()
                self._close()
                return Call(val, arg, col)
            return Name(val, col)
        if (kind, val) == ("op", "("):
            e = self.expr()
            self._close()
            return e
        what = "end of line" if kind == "end" else repr(val)
        raise self.err(f"syntax error: unexpected {what}", "a name, a number, '(' or '-'", col)

    def _close(self):
        kind, val, col = self.take()
        if (kind, val) != ("op", ")"):
            what = "end of line" if kind == "end" else repr(val)
            raise self.err(f"syntax error: unexpected {what}", "')'", col)


# --------------------------------------------------------------------------------------------
# The file


def _strip_comment(line: str) -> str:
    return line.split("#", 1)[0].rstrip()


def parse(text: str, path: str = "<string>", bias: bool = True, name: str | None = None,
          layers: int | None = None) -> Cell:
    """Parse and check a cell file.

    Args:
        text: The file's contents (format: docs/cells.md).
        path: Shown in error messages.
        bias: ``False`` drops every parameter declared ``bias`` (its terms vanish from the sums).
        name: Cell name when the file has no ``cell`` line (default: the file's stem).
        layers: Stack this many copies of the cell (derive/layers.py); None: as the file's
            ``layers`` line says (1 without one).

    Returns:
        The checked, normalised :class:`Cell`.

    Raises:
        CellError: with the line number and what was expected.
    """
    if layers is not None and (isinstance(layers, bool) or not isinstance(layers, int) or layers < 1):
        raise CellError(path, 0, f"layers: got {layers!r}", "an integer >= 1")
    return _CellBuilder(text, path, bias, name, requested_layers=layers).build()


class _CellBuilder:
    """Reads a cell file line by line (pass 1), then checks and normalises it into a :class:`Cell` (pass 2).

    Attributes (pass 1, as written): ``name``, ``description`` (the leading comment), ``dims`` and the
    line declaring them, ``decls`` by name, ``equations`` as (name, tree, line), ``loss`` as
    (prediction, target, line, kind), ``layers`` and its line (0: no ``layers`` line);
    ``requested_layers``: the caller's layer count (None: the file's).
    """

    def __init__(self, text, path, bias, name, requested_layers: int | None = None):
        self.lines = text.splitlines()
        self.path, self.bias = path, bias
        self.name = name or Path(path).stem
        self.description = ""
        self.dims: list[str] = []
        self.decls: dict[str, Decl] = {}
        self.equations: list[tuple[str, object, int]] = []
        self.loss: tuple[str, str, int, str] | None = None
        self.dims_line = 0
        self.layers, self.layers_line = 1, 0
        self.requested_layers = requested_layers

    def err(self, lineno, message, expected="", column=0):
        src = self.lines[lineno - 1].rstrip() if 0 < lineno <= len(self.lines) else ""
        return CellError(self.path, lineno, message, expected, src, column)

    # -- pass 1: read every line ---------------------------------------------------------------
    def build(self) -> Cell:
        self.read()
        if self.requested_layers is not None:
            if self.layers_line and self.layers != self.requested_layers:
                raise self.err(self.layers_line, f"the file declares {self.layers} layers but "
                               f"{self.requested_layers} were asked for", "one layer count (drop one of them)")
            self.layers = self.requested_layers
        if self.layers > 1:  # 'layers N': the file is one layer; stack N of it (derive/layers.py)
            from derive.layers import stacked_text
            # line numbers then refer to the stacked text, kept as the cell's source
            from dataclasses import replace

            return replace(parse(stacked_text(self, self.layers), f"{self.path} (stacked, {self.layers} layers)",
                                 bias=self.bias, name=self.name), layers=self.layers)
        return self._check()

    def read(self) -> "_CellBuilder":
        """Pass 1 alone: the declarations, equations and loss line as written (no checks across lines)."""
        doc = []
        for no, raw in enumerate(self.lines, 1):
            stripped = raw.strip()
            if stripped.startswith("#") and not self.decls and not self.equations and not self.dims:
                doc.append(stripped.lstrip("#").strip())
            line = _strip_comment(raw)
            if not line.strip():
                continue
            head = line.split()[0]
            handler = {"cell": self._cell, "dims": self._dims, "input": self._decl, "target": self._decl,
                       "param": self._decl, "state": self._decl, "loss": self._loss,
                       "layers": self._layers}.get(head)
            if handler is not None:
                handler(no, line)
            elif "=" in line:
                self._equation(no, line)
            else:
                raise self.err(no, f"syntax error: cannot read {head!r}",
                               "a declaration (cell, dims, input, target, param, state, loss, layers) "
                               "or an equation 'name = expression'", raw.index(head) + 1)
        self.description = " ".join(d for d in doc if d)
        return self

    def _cell(self, no, line):
        parts = line.split(None, 1)
        if len(parts) != 2 or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", parts[1].strip()):
            raise self.err(no, "syntax error in 'cell' line", "'cell NAME'")
        self.name = parts[1].strip()

    def _layers(self, no, line):
        m = re.fullmatch(r"\s*layers\s+(\d+)\s*", line)
        if not m or int(m[1]) < 1:
            raise self.err(no, "syntax error in 'layers' line", "'layers N' with N >= 1 (stacked copies of the cell)")
        self.layers, self.layers_line = int(m[1]), no

    def _dims(self, no, line):
        names = line.split()[1:]
        if not names or not all(re.fullmatch(_IDENT, n) for n in names):
            raise self.err(no, "syntax error in 'dims' line", "'dims D H K' (dimension names)")
        self.dims, self.dims_line = names, no

    _DECL = re.compile(
        r"^\s*(?P<kind>param|input|target|state)\s+(?P<name>\S+)\s*:\s*(?P<rows>[A-Za-z0-9_]+)"
        r"(?:\s*[x×]\s*(?P<cols>[A-Za-z0-9_]+))?(?P<rest>.*)$")

    def _decl(self, no, line):
        m = self._DECL.match(line)
        kind = line.split()[0]
        forms = {"param": "'param NAME : ROWS x COLS' or 'param NAME : ROWS [bias]'",
                 "input": "'input NAME : ROWS'", "target": "'target NAME : ROWS'",
                 "state": "'state NAME : ROWS [init NAME0]'"}
        if not m:
            raise self.err(no, f"syntax error in '{kind}' declaration", forms[kind])
        name, rows, cols, rest = m["name"], m["rows"], m["cols"] or "1", m["rest"].split()
        col = line.index(name, len(kind)) + 1
        if not re.fullmatch(_IDENT, name) or is_previous(name):
            raise self.err(no, f"bad name {name!r}", f"an identifier not ending in '{PREV}'", col)
        if name in self.decls or name in self.dims:
            raise self.err(no, f"{name!r} is declared twice", "one declaration per name", col)
        if (why := reserved_reason(name, kind)) is not None:
            raise self.err(no, f"{name!r} is {why}", _RESERVED_HINT, col)
        for d in (rows, cols):
            if d != "1" and d not in self.dims:
                raise self.err(no, f"unknown dimension {d!r}",
                               f"one of the dims ({', '.join(self.dims) or 'none declared yet'}) or 1",
                               line.index(d, col) + 1)
        bias, init = False, ""
        if kind == "param" and rest == ["bias"]:
            bias = True
        elif kind == "state" and len(rest) == 2 and rest[0] == "init" and re.fullmatch(_IDENT, rest[1]):
            init = rest[1]
        elif rest:
            raise self.err(no, f"unexpected {' '.join(rest)!r} in '{kind}' declaration", forms[kind])
        if bias and cols != "1":
            raise self.err(no, f"bias parameter {name!r} must be a column vector", "'param NAME : ROWS bias'")
        if kind in ("input", "target", "state") and cols != "1":
            raise self.err(no, f"{kind} {name!r} must be a column vector", forms[kind])
        self.decls[name] = Decl(name, kind, (rows, cols), no, bias, init or (name + "0" if kind == "state" else ""))

    def _loss(self, no, line):
        m = re.fullmatch(r"\s*loss\s+(cross_entropy|mse|linear)\s*\(\s*(%s)\s*,\s*(%s)\s*\)\s*" % (_IDENT, _IDENT), line)
        if not m:
            raise self.err(no, "syntax error in 'loss' line",
                           "'loss cross_entropy(PREDICTION, TARGET)' or 'loss mse(PREDICTION, TARGET)'")
        self.loss = (m[2], m[3], no, m[1])

    def _equation(self, no, line):
        lhs, rhs = line.split("=", 1)
        name = lhs.strip()
        if not re.fullmatch(_IDENT, name):
            raise self.err(no, f"syntax error: {name!r} cannot be assigned", "'name = expression'", 1)
        offset = len(lhs) + 1
        parser = _Parser(rhs, offset, lambda msg, exp, col: self.err(no, msg, exp, col))
        self.equations.append((name, parser.parse(), no))

    # -- pass 2: check and normalise --------------------------------------------------------------
    def _check(self) -> Cell:
        """Pass 2 in its phases: declarations, equations (into nodes), the loss line, nothing unused."""
        by_kind = self._check_declarations()
        dropped = tuple(d.name for d in by_kind["param"] if d.bias and not self.bias)
        states = {d.name: d for d in by_kind["state"]}
        target = by_kind["target"][0]
        nodes, defined_line, used = self._nodes(states, target, dropped)
        pred, kind, pred_node = self._check_loss(nodes, defined_line, states, target)
        self._check_all_used(by_kind, states, defined_line, used, dropped, pred)
        return Cell(
            name=self.name, description=_without_terms(self.description, dropped), path=self.path, dims=tuple(self.dims),
            input=by_kind["input"][0], target=target, params=tuple(p for p in by_kind["param"] if p.name not in dropped),
            states=tuple(by_kind["state"]), nodes=tuple(nodes), softmax=pred,
            logits=pred if kind != "cross_entropy" else pred_node.expr.arg.id, bias=self.bias, dropped=dropped,
            source=tuple(self.lines), loss=kind)

    def _check_declarations(self) -> dict[str, list[Decl]]:
        """Dims, one input, one target, at least one state and a loss line; the declarations by kind."""
        if not self.dims:
            raise self.err(0, "no 'dims' line", "'dims D H K' before the declarations")
        by_kind = {k: [d for d in self.decls.values() if d.kind == k] for k in ("param", "input", "target", "state")}
        for kind in ("input", "target"):
            if len(by_kind[kind]) != 1:
                raise self.err(0, f"{len(by_kind[kind])} '{kind}' declarations", f"exactly one '{kind}' line")
        if not by_kind["state"]:
            raise self.err(0, "no 'state' declaration", "at least one 'state NAME : ROWS'")
        if self.loss is None:
            raise self.err(0, "no 'loss' line", "'loss cross_entropy(ohat, o)' after the equations")
        return by_kind

    def _nodes(self, states, target, dropped) -> tuple[list[Node], dict[str, int], set[str]]:
        """Every equation checked (name, shape) and normalised into nodes; where each quantity is defined
        and every name the equations read."""
        shapes: dict[str, tuple[str, str]] = {}
        for d in self.decls.values():
            if d.kind != "target":
                shapes[d.name if d.kind != "state" else previous(d.name)] = d.shape
        defined_line: dict[str, int] = {}
        used: set[str] = set()
        nodes: list[Node] = []
        for name, expr, no in self.equations:
            if name in self.decls and self.decls[name].kind != "state":
                raise self.err(no, f"{name!r} is a {self.decls[name].kind} and cannot be assigned",
                               "a new name or a state name on the left of '='", 1)
            if is_previous(name) or name in self.dims:
                raise self.err(no, f"{name!r} cannot be assigned", "a new identifier (not a dimension, not *_prev)", 1)
            if name not in states and (why := reserved_reason(name, "equation")) is not None:
                raise self.err(no, f"{name!r} is {why}", _RESERVED_HINT, 1)
            if name in defined_line:
                raise self.err(no, f"{name!r} is assigned twice (first on line {defined_line[name]})",
                                   "one equation per quantity", 1)
            expr = self._drop_biases(expr, dropped, no)
            shape = self._shape(expr, shapes, no, target.name, top=True)
            if name in states and shape != states[name].shape:
                raise self.err(no, f"shape mismatch: state {name!r} is declared {_fmt(states[name].shape)} "
                               f"but the right-hand side is {_fmt(shape)}",
                               f"an expression of shape {_fmt(states[name].shape)}")
            used |= names_in(expr)
            defined_line[name] = no
            shapes[name] = shape
            nodes.extend(self._normalise(name, expr, shape, no, shapes))
        return nodes, defined_line, used

    def _check_loss(self, nodes, defined_line, states, target) -> tuple[str, str, Node]:
        """The loss line against the equations: (prediction, loss kind, the prediction's node)."""
        pred, tgt, loss_no, kind = self.loss
        if tgt != target.name:
            raise self.err(loss_no, f"unknown target {tgt!r}", f"the declared target {target.name!r}")
        if pred not in defined_line:
            raise self.err(loss_no, f"undefined symbol {pred!r}", "a quantity defined as 'NAME = softmax(...)'")
        pred_node = next(n for n in nodes if n.name == pred)
        if kind in ("mse", "linear") and pred_node.fn == "softmax":
            raise self.err(loss_no, f"{pred!r} is a softmax output",
                           "cross_entropy for a softmax prediction, mse for a real-valued one")
        if kind == "mse" and pred in states:
            raise self.err(loss_no, f"the mse prediction {pred!r} is a state",
                           "a prediction computed from the states (e.g. 'yhat = W @ h + c')")
        if kind == "cross_entropy" and pred_node.fn != "softmax":
            raise self.err(loss_no, f"{pred!r} is not a softmax output",
                           "the cross-entropy of a quantity defined as 'NAME = softmax(z)'")
        if pred_node.shape != target.shape:
            raise self.err(loss_no, f"shape mismatch: {pred!r} is {_fmt(pred_node.shape)}, "
                           f"target {tgt!r} is {_fmt(target.shape)}", "equal shapes")
        return pred, kind, pred_node

    def _check_all_used(self, by_kind, states, defined_line, used, dropped, pred) -> None:
        """Every state updated, every parameter and the input read, no name collisions, nothing computed
        that nothing reads."""
        for s in states.values():
            if s.name not in defined_line:
                raise self.err(s.line, f"state {s.name!r} is never updated",
                               f"an equation '{s.name} = ...' giving its new value")
        for p in by_kind["param"]:
            if p.name not in used and p.name not in dropped:
                raise self.err(p.line, f"parameter {p.name!r} is never used",
                               "every declared parameter to appear in an equation")
        self._check_collisions(by_kind, [(name, no) for name, _, no in self.equations])
        read = set().union(*(names_in(expr) for _, expr, _ in self.equations)) | {pred}
        for name, _, no in self.equations:  # a quantity nothing reads has no adjoint to give
            if name not in states and name not in read:
                raise self.err(no, f"{name!r} is computed but never used",
                               "every quantity read by a later equation, a state or the loss", 1)
        inp = by_kind["input"][0]
        if inp.name not in used:
            raise self.err(inp.line, f"input {inp.name!r} is never used", "the input in some equation")

    def _check_collisions(self, by_kind, assigned) -> None:
        """Names the generated code derives from others: NAMEs is NAME's all-steps array (z → zs), an
        initial state is a keyword argument (h0)."""
        lines = {d.name: d.line for d in self.decls.values()} | {n: no for n, no in assigned}
        inits = {s.init: s.name for s in by_kind["state"]}
        for name, no in lines.items():
            if name.endswith("s") and name[:-1] in lines:
                raise self.err(no, f"{name!r} collides with the all-steps array of {name[:-1]!r} in the generated "
                               "code", f"another name than {name[:-1]!r} + 's'", 1)
            if name in inits:
                raise self.err(no, f"{name!r} is the initial value of state {inits[name]!r}",
                               f"another name (or 'state {inits[name]} : ROWS init OTHER')", 1)

    def _drop_biases(self, expr, dropped, no):
        """Remove dropped bias parameters; they may only appear as summands."""
        if not dropped:
            return expr

        def walk(e, additive):
            if isinstance(e, Name):
                if e.id in dropped:
                    if not additive:
                        raise self.err(no, f"bias parameter {e.id!r} is used in a product",
                                       "bias parameters only as terms of a sum (so bias=False can drop them)",
                                       e.col)
                    return None
                return e
            if isinstance(e, Num):
                return e
            if isinstance(e, Neg):
                x = walk(e.x, additive)
                return None if x is None else Neg(x)
            if isinstance(e, Call):
                arg = walk(e.arg, True)
                if arg is None:
                    raise self.err(no, "the function's argument is only bias terms", "a non-bias term", e.col)
                return Call(e.fn, arg, e.col)
            if e.op in "+-":
                left, right = walk(e.left, additive), walk(e.right, additive)
                if right is None:
                    return left
                if left is None:
                    return right if e.op == "+" else Neg(right)
                return Bin(e.op, left, right)
            # A product keeps its operands; a bias inside a sum inside it (r * (V @ h + b)) still drops.
            left = walk(e.left, isinstance(e.left, Bin) and e.left.op in "+-")
            right = walk(e.right, isinstance(e.right, Bin) and e.right.op in "+-")
            if left is None or right is None:
                raise self.err(no, "an operand of a product is only bias terms", "a non-bias term")
            return Bin(e.op, left, right)

        out = walk(expr, True)
        if out is None:
            raise self.err(no, "the right-hand side is only bias terms", "a non-bias term")
        return out

    def _shape(self, e, shapes, no, target, top=False):
        """Infer the shape of an expression (None: a scalar number) or raise a line-numbered error."""
        if isinstance(e, Num):
            return None
        if isinstance(e, Name):
            if e.id == target:
                raise self.err(no, f"the target {target!r} can only appear in the loss",
                               "parameters, the input, *_prev states and earlier quantities", e.col)
            if e.id not in shapes:
                hint = ""
                if e.id in self.decls and self.decls[e.id].kind == "state":
                    hint = f" (use {previous(e.id)} for the previous step's value, or define {e.id} first)"
                elif is_previous(e.id):
                    hint = f" ({current(e.id)!r} is not a declared state)"
                raise self.err(no, f"undefined symbol {e.id!r}{hint}",
                               "a declared parameter, input, state_prev or a quantity defined above", e.col)
            return shapes[e.id]
        if isinstance(e, Neg):
            return self._shape(e.x, shapes, no, target)
        if isinstance(e, Call):
            if e.fn not in KNOWN:
                raise self.err(no, f"unknown function {e.fn!r}", f"one of {', '.join(KNOWN)}", e.col)
            if e.fn in VECTOR and not top:
                raise self.err(no, f"{e.fn} must be the whole right-hand side",
                               f"'NAME = {e.fn}(expression)'", e.col)
            s = self._shape(e.arg, shapes, no, target)
            if s is None or s[1] != "1":
                raise self.err(no, f"shape mismatch: {e.fn} needs a column vector, got {_fmt(s)}",
                               "a column-vector argument", e.col)
            return s
        left = self._shape(e.left, shapes, no, target)
        right = self._shape(e.right, shapes, no, target)
        if e.op == "@":
            if not isinstance(e.left, Name) or self.decls.get(e.left.id, Decl("", "", ("", ""), 0)).kind != "param":
                raise self.err(no, "the left operand of '@' must be a parameter",
                               "'PARAM @ expression' (e.g. V @ h_prev)", getattr(e.left, "col", 0))
            if right is None or left[1] != right[0] or right[1] != "1":
                raise self.err(no, f"shape mismatch in '@': {_fmt(left)} @ {_fmt(right)}",
                               f"a right operand of shape ({left[1]}, 1)", getattr(e.left, "col", 0))
            return (left[0], "1")
        for s, side in ((left, e.left), (right, e.right)):
            if s is not None and s[1] != "1":
                raise self.err(no, f"shape mismatch: matrix {to_text(side)!r} {_fmt(s)} used elementwise",
                               "column vectors on both sides of + - * (matrices only left of '@')",
                               getattr(side, "col", 0))
        if left is not None and right is not None and left != right:
            sym = {"*": "*", "+": "+", "-": "-"}[e.op]
            raise self.err(no, f"shape mismatch: {to_text(e.left)} {_fmt(left)} {sym} {to_text(e.right)} {_fmt(right)}",
                           "operands of equal shape", getattr(e.left, "col", 0))
        return left if left is not None else right

    def _normalise(self, name, expr, shape, no, shapes) -> list[Node]:
        """Give every function application a name of its own (returns the new nodes in order)."""
        out: list[Node] = []
        taken = set(shapes) | set(self.decls)

        def fresh(base):
            cand, i = base, 2
            while cand in taken and cand != name:
                cand, i = f"{base}{i}", i + 1
            taken.add(cand)
            return cand

        def lift(e, top_name=None):
            if isinstance(e, (Name, Num)):
                return e
            if isinstance(e, Neg):
                return Neg(lift(e.x))
            if isinstance(e, Bin):
                return Bin(e.op, lift(e.left), lift(e.right))
            arg = lift(e.arg)
            if not isinstance(arg, Name):
                owner = top_name or e.fn
                pre = fresh(f"a_{owner}")
                s = self._shape(arg, shapes, no, "")
                shapes[pre] = s
                out.append(Node(pre, arg, s, no, auto=True))
                arg = Name(pre)
            call = Call(e.fn, arg)
            if top_name:
                return call
            node = fresh(f"{e.fn}_{arg.id}")
            shapes[node] = shapes[arg.id]
            out.append(Node(node, call, shapes[arg.id], no, auto=True))
            return Name(node)

        body = lift(expr, top_name=name if isinstance(expr, Call) else None)
        out.append(Node(name, body, shape, no))
        return out


def _fmt(shape) -> str:
    return "a scalar" if shape is None else f"({shape[0]}, {shape[1]})"


# --------------------------------------------------------------------------------------------
# Loading

CELLS_DIR = Path(__file__).parent / "cells"
BUILTIN = ("rnn", "jordan", "lstm", "lstm-peephole", "gru", "gru-reset-after")


def builtin_names() -> tuple[str, ...]:
    """The six built-in cells, in the order of docs/models.md."""
    return BUILTIN


def example_paths() -> list[Path]:
    """The documented example cells shipped beyond the built-ins."""
    return sorted((CELLS_DIR / "examples").glob("*.cell"))


def load(spec: str | Path, bias: bool = True, layers: int | None = None) -> Cell:
    """Load a built-in cell by name, or a cell file by path.

    Args:
        spec: ``"rnn"``, ``"lstm"``, … or a path to a ``.cell`` file.
        bias: ``False`` drops every parameter declared ``bias``.
        layers: stack this many layers of the cell (None: as the file says, else one).

    Raises:
        CellError: unreadable or invalid file, or an unknown name.
    """
    spec = str(spec)
    if spec in BUILTIN:
        path = CELLS_DIR / f"{spec}.cell"
        return parse(path.read_text(), f"{spec}.cell", bias=bias, name=spec, layers=layers)
    path = Path(spec)
    if not path.is_file():
        raise CellError(spec, 0, "no such built-in cell or file",
                        f"one of {', '.join(BUILTIN)} or a path to a .cell file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise CellError(spec, 0, f"cannot read the file ({err.__class__.__name__})", "a UTF-8 text file") from None
    return parse(text, str(path), bias=bias, layers=layers)


def _without_terms(text: str, names: tuple[str, ...]) -> str:
    """The description without the summands ``+ b`` of dropped biases, so that the title of a
    ``--no-bias`` derivation shows the equations it derives.

    >>> _without_terms("h_t = tanh(U x_t + V h_{t-1} + b), ô_t = softmax(W h_t + c)", ("b", "c"))
    'h_t = tanh(U x_t + V h_{t-1}), ô_t = softmax(W h_t)'
    """
    for name in names:
        text = re.sub(rf"\s*\+\s*{re.escape(name)}(?![\w{{])", "", text)
    return text
