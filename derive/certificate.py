"""The component certificate: SymPy ``diff`` of the fully explicit loss vs the derived program.

For small explicit sizes every parameter, input and initial state becomes a matrix of scalar
symbols, the cell's equations are unrolled into one explicit scalar loss, and ``sympy.diff``
differentiates it entry by entry. The derivation's adjoint program is evaluated at the same
random rational point with mpmath at high precision; both must agree to ``digits`` significant
digits (default 40) in every entry. For gated cells one step is certified (unrolled LSTMs swell,
DESIGN.md §4) with random upstream adjoints on h_1 (and c_1), which exercises the carried terms.

>>> from derive import load_cell
>>> cert = certify(load_cell("rnn", bias=False), steps=1, entries=0)
>>> cert.passed, cert.sizes, [row.name for row in cert.rows]
(True, {'D': 2, 'H': 2, 'K': 2, 'T': 1}, ['U', 'V', 'W', 'x1', 'h0'])
"""

from __future__ import annotations

import ctypes
import random
import threading
import time
from dataclasses import dataclass, field

import mpmath
import sympy as sp
from sympy import (HadamardPower, HadamardProduct, MatAdd, MatMul, MatrixSymbol, OneMatrix, Transpose,
                   ZeroMatrix)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from derive.cellfile import Call, Cell, Name, Neg, Num
from derive.functions import REGISTRY, entry_of, sympy_function
from derive.naming import adjoint, incoming, previous
from derive.program import Softmax, adjoint_program


@dataclass(frozen=True)
class Row:
    """One certified quantity: ∂E/∂name with ``entries`` components."""

    name: str
    entries: int
    max_rel_error: float
    passed: bool


@dataclass(frozen=True)
class Certificate:
    """Outcome of :func:`certify`.

    Attributes:
        cell: Cell name.
        sizes: The explicit sizes, e.g. ``{"D": 2, "H": 2, "K": 2, "T": 3}``.
        digits: Significant digits required.
        rows: One row per parameter, input and initial state.
        seconds: Wall time.
    """

    cell: str
    sizes: dict
    digits: int
    rows: tuple[Row, ...]
    seconds: float
    componentwise: int | None = None  # entries per quantity checked one by one (None: all)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.rows)

    @property
    def entries(self) -> int:
        return sum(r.entries for r in self.rows)

    def summary(self) -> str:
        worst = max((r.max_rel_error for r in self.rows), default=0.0)
        sizes = ", ".join(f"{k}={v}" for k, v in self.sizes.items())
        verdict = "PASS" if self.passed else "FAIL"
        how = ("each by component" if self.componentwise is None else
               f"{self.componentwise} per quantity by component, all by a random projection")
        return (f"certificate {verdict}: {self.cell} ({sizes}), {self.entries} gradient entries "
                f"({how}), "
                f"SymPy diff of the explicit loss vs the derived formulas, worst relative difference "
                f"{worst:.1e} (required < 1e-{self.digits}), {self.seconds:.2f} s")


class _Opaque(sp.Function):
    """SymPy's own functions (exp, tanh, log) for the explicit loss: SymPy's own ask whether a huge
    argument is real when built (exp.eval → tanh._eval_is_real → Mod → gcd → expand: minutes for a cell
    with relu, exp and tanh together). These differentiate the same way and evaluate only when their
    argument is a number."""

    @classmethod
    def eval(cls, x):
        return cls._numeric(x) if x.is_Number else None

    def _eval_evalf(self, prec):
        return self._numeric(self.args[0].evalf(prec))


def _opaque(entry):
    """The opaque stand-in of a registry function SymPy defines itself (named ``_<name>``, e.g. ``_tanh``):
    its derivative is SymPy's, written in the function's own value (tanh′ = 1 − tanh²)."""
    x, y = sp.Dummy("x"), sp.Dummy("y")
    derivative = sp.diff(entry.sympy(x), x).subs(entry.sympy(x), y)

    def fdiff(self, argindex=1):
        return derivative.xreplace({y: self, x: self.args[0]})

    return type(f"_{entry.name}", (_Opaque,), {"_numeric": staticmethod(entry.sympy), "fdiff": fdiff})


class _log(_Opaque):  # noqa: N801
    _numeric = staticmethod(sp.log)

    def fdiff(self, argindex=1):
        return 1 / self.args[0]


#: the explicit loss's stand-ins for the registry's functions that are SymPy's own (see _Opaque)
_OPAQUE = {entry.name: _opaque(entry) for entry in REGISTRY.values() if entry.callable and entry.builtin}
_exp = _OPAQUE["exp"]  # the softmax of the explicit loss is written with it


def _explicit(e, env, shape):
    """Evaluate a cell expression tree on explicit matrices (lists of rows of SymPy numbers/exprs)."""
    if isinstance(e, Name):
        return env[e.id]
    if isinstance(e, Num):
        v = sp.nsimplify(e.value)
        return [[v] * shape[1] for _ in range(shape[0])]
    if isinstance(e, Neg):
        return [[-v for v in row] for row in _explicit(e.x, env, shape)]
    if isinstance(e, Call):
        v = env[e.arg.id] if isinstance(e.arg, Name) else _explicit(e.arg, env, shape)
        if e.fn == "softmax":
            ex = [_exp(row[0]) for row in v]
            total = sp.Add(*ex)
            return [[q / total] for q in ex]
        f = _OPAQUE.get(e.fn) or sympy_function(e.fn)
        return [[f(q) for q in row] for row in v]
    if e.op == "@":
        A = env[e.left.id]
        y = _explicit(e.right, env, (len(A[0]), 1))
        return [[sp.Add(*[A[i][k] * y[k][0] for k in range(len(y))])] for i in range(len(A))]
    left, right = _explicit(e.left, env, shape), _explicit(e.right, env, shape)
    op = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b}[e.op]
    return [[op(a, b) for a, b in zip(ra, rb)] for ra, rb in zip(left, right)]


def _rows(m):
    return [[m[i, j] for j in range(m.cols)] for i in range(m.rows)]




def evaluate(expr, env: dict, dimvals: dict):
    """Evaluate a program matrix expression with mpmath matrices (``env``: name → mp.matrix)."""
    def shape(m):
        return tuple(int(sp.sympify(s).subs(dimvals)) for s in m.shape)

    def ev(e):
        if isinstance(e, MatrixSymbol):
            return env[e.name]
        if e.is_Number:
            return mpmath.mpf(sp.Rational(e).p) / sp.Rational(e).q
        if isinstance(e, OneMatrix):
            r, c = shape(e)
            return mpmath.ones(r, c)
        if isinstance(e, ZeroMatrix):
            r, c = shape(e)
            return mpmath.zeros(r, c)
        if isinstance(e, MatAdd):
            out = ev(e.args[0])
            for a in e.args[1:]:
                out = out + ev(a)
            return out
        if isinstance(e, MatMul):
            out = ev(e.args[0])
            for a in e.args[1:]:
                out = out * ev(a)
            return out
        if isinstance(e, Transpose):
            return ev(e.arg).T
        if isinstance(e, sp.MatPow):
            return ev(e.base) ** int(e.exp)
        if isinstance(e, HadamardProduct):
            out = ev(e.args[0])
            for a in e.args[1:]:
                v = ev(a)
                out = mpmath.matrix([[out[i, j] * v[i, j] for j in range(out.cols)] for i in range(out.rows)])
            return out
        if isinstance(e, HadamardPower):
            v, p = ev(e.base), int(e.exp)
            return mpmath.matrix([[v[i, j] ** p for j in range(v.cols)] for i in range(v.rows)])
        if isinstance(e, ElementwiseApplyFunction):
            f = entry_of(e.function.expr).mpmath
            v = ev(e.expr)
            return mpmath.matrix([[f(v[i, j]) for j in range(v.cols)] for i in range(v.rows)])
        if isinstance(e, Softmax):
            v = ev(e.arg)
            ex = [mpmath.exp(v[i, 0]) for i in range(v.rows)]
            s = sum(ex)
            return mpmath.matrix([[q / s] for q in ex])
        raise TypeError(f"cannot evaluate {type(e).__name__}")

    return ev(expr)


#: seconds `certify` may take before it stops (every cell in the repository takes well under 30 s)
BUDGET = 120.0


class CertificateTimeout(RuntimeError):
    """The certificate did not finish within its time budget (SymPy's explicit expression swelled)."""


class _Expired(BaseException):
    """Raised inside the certifying thread when its budget is spent. A BaseException, so that SymPy's own
    ``except Exception`` clauses cannot swallow it; :func:`certify` turns it into CertificateTimeout."""


class _Deadline:
    """A time budget for the work done inside ``with``, in whichever thread runs it, without signals.

    ``check()`` stops between the steps the certificate controls. Inside one long SymPy call (pure
    Python), a timer thread raises :class:`_Expired` in the certifying thread when the budget is spent
    (CPython's ``PyThreadState_SetAsyncExc``: delivered at the next bytecode, so it needs no signal
    handler and works in any thread); where that API is missing, only ``check()`` stops the work.
    """

    def __init__(self, seconds: float | None, what: str):
        self.seconds, self.what = seconds, what
        self._end: float | None = None  # perf_counter() when the budget is spent
        self._thread = 0  # the certifying thread's id
        self._lock = threading.Lock()  # between the timer (arms/fires) and the certifying thread (disarms)
        self._armed = False
        self._timer: threading.Timer | None = None

    def message(self) -> str:
        return (f"{self.what}: stopped after {self.seconds:g} s without finishing (SymPy's explicit unrolled "
                f"loss grew too large); the derivation itself is not affected — try fewer steps or a smaller "
                f"cell, or a larger budget")

    def __enter__(self) -> _Deadline:
        self._end = None if self.seconds is None else time.perf_counter() + self.seconds
        if self.seconds is not None and _SET_ASYNC_EXC is not None:
            self._thread = threading.get_ident()
            self._armed = True
            self._timer = threading.Timer(self.seconds, self._expire)
            self._timer.daemon = True
            self._timer.start()
        return self

    def _expire(self) -> None:
        with self._lock:
            if self._armed:
                _SET_ASYNC_EXC(ctypes.c_ulong(self._thread), ctypes.py_object(_Expired))
                self._armed = False

    def _disarm(self) -> None:
        if self._timer is None:
            return
        with self._lock:
            armed, self._armed = self._armed, False
        self._timer.cancel()
        if not armed:  # the timer fired: drop the exception if it is still pending (not yet delivered)
            _SET_ASYNC_EXC(ctypes.c_ulong(self._thread), None)

    def __exit__(self, kind, value, traceback) -> bool:
        self._disarm()
        return False

    def check(self) -> None:
        """Stop with :class:`_Expired` if the budget is spent (between steps)."""
        if self._end is not None and time.perf_counter() > self._end:
            raise _Expired


# CPython's way to raise an exception in a given thread; None elsewhere (then deadlines stop between steps)
_SET_ASYNC_EXC = getattr(getattr(ctypes, "pythonapi", None), "PyThreadState_SetAsyncExc", None)


def certify(cell: Cell, steps: int | None = None, size: int = 2, digits: int = 40, seed: int = 0,
            entries: int | None = 1, budget: float | None = BUDGET) -> Certificate:
    """Check the derivation of ``cell`` against SymPy ``diff`` of the explicit unrolled loss.

    Args:
        cell: The parsed cell.
        steps: Time steps to unroll (default: 3 for single-state cells such as ``rnn``, 2 when
            the prediction is fed back (``jordan``), 1 for gated cells).
        size: Every dimension (D = H = K = size).
        digits: Significant digits that must agree.
        seed: Seed of the random rational point.
        entries: How many randomly chosen entries of each parameter, input and initial state to
            differentiate one by one (``None``: every entry). The remaining entries are checked
            all at once along a random rational direction u (d/dε E(θ + εu) = Σ u_ij ∂E/∂θ_ij).
            Each ``sympy.diff`` of the explicit loss costs ~0.05–0.3 s, so the default keeps
            ``--certify`` at a few seconds.
        budget: Seconds before it stops with :class:`CertificateTimeout` and a clear message (None: no
            limit). Works in any thread and leaves signal handlers alone (see :class:`_Deadline`).

    Returns:
        A :class:`Certificate` with one row per parameter, input and initial state.
    """
    deadline = _Deadline(budget, f"certificate of {cell.name}")
    try:
        with deadline:
            start = time.perf_counter()
            program = adjoint_program(cell)
            steps = _default_steps(cell) if steps is None else steps
            problem = _Problem.draw(cell, steps, size, digits + 20, random.Random(seed))
            explicit = _differentiate_explicit_loss(problem, entries, deadline)
            derived = _run_program(problem, program)
            rows = _compare(problem, explicit, derived, digits)
    except _Expired:
        raise CertificateTimeout(deadline.message()) from None
    return Certificate(cell.name, {**problem.dims, "T": problem.steps}, digits, rows, time.perf_counter() - start,
                       entries)


def _default_steps(cell: Cell) -> int:
    gated = len(cell.states) > 1 or any(n.fn == "sigmoid" for n in cell.nodes)
    feedback = cell.softmax in cell.state_names  # Jordan: ô feeds back, the unrolled loss swells fastest
    return 1 if gated else 2 if feedback else 3


@dataclass
class _Problem:
    """The random rational point both sides are evaluated at.

    Attributes:
        cell, steps: the cell and the number of steps unrolled.
        dims: every dimension's size; dimvals: the same keyed by the program's dimension symbols.
        prec: working digits (the required digits + 20).
        point: every parameter, input ``x1 … xT`` and initial state → its rational values.
        targets: per step, a class index (cross-entropy) or a rational vector (mse, linear).
        upstream: state → a rational adjoint entering the last state from outside.
        rng: the random source, shared on by the choice of entries (same sequence as ever).
    """

    cell: Cell
    steps: int
    dims: dict[str, int]
    dimvals: dict
    prec: int
    point: dict[str, sp.Matrix]
    targets: list
    upstream: dict[str, sp.Matrix]
    rng: random.Random

    @property
    def real_targets(self) -> bool:
        return self.cell.loss in ("mse", "linear")

    def rows_cols(self, decl_shape) -> tuple[int, ...]:
        return tuple(1 if s == "1" else self.dims[s] for s in decl_shape)

    @classmethod
    def draw(cls, cell: Cell, steps: int, size: int, prec: int, rng: random.Random) -> _Problem:
        dims = {d: size for d in cell.dims}
        dimvals = {sp.Symbol(d, integer=True, positive=True): size for d in cell.dims}

        def shape(decl_shape):
            return tuple(1 if s == "1" else dims[s] for s in decl_shape)

        def rand():
            return sp.Rational(rng.randint(-900, 900), 1000)

        point: dict[str, sp.Matrix] = {}
        for p in cell.params:
            point[p.name] = sp.Matrix(*shape(p.shape), lambda i, j: rand())
        for t in range(1, steps + 1):
            point[f"x{t}"] = sp.Matrix(shape(cell.input.shape)[0], 1, lambda i, j: rand())
        for s in cell.states:
            point[s.init] = sp.Matrix(shape(s.shape)[0], 1, lambda i, j: rand())
        K = shape(cell.target.shape)[0]
        if cell.loss in ("mse", "linear"):  # real targets y_t: random rationals
            targets = [sp.Matrix(K, 1, lambda i, j: rand()) for _ in range(steps)]
        else:
            targets = [rng.randrange(K) for _ in range(steps)]
        upstream = {s.name: sp.Matrix(shape(s.shape)[0], 1, lambda i, j: rand()) for s in cell.states}
        return cls(cell, steps, dims, dimvals, prec, point, targets, upstream, rng)

    def explicit_loss(self, values) -> sp.Expr:
        """E = Σ_t −log ô_t[target_t] (mse: Σ_t ½‖ŷ_t − y_t‖²) (+ upstreamᵀ · last states), fully explicit."""
        cell = self.cell
        prev = {s.name: values[s.init] for s in cell.states}
        E = sp.Integer(0)
        for t in range(1, self.steps + 1):
            env = {p.name: values[p.name] for p in cell.params}
            env[cell.input.name] = values[f"x{t}"]
            for s in cell.states:
                env[previous(s.name)] = prev[s.name]
            for node in cell.nodes:
                env[node.name] = _explicit(node.expr, env, self.rows_cols(cell.shape(node.name)))
            target = self.targets[t - 1]
            if cell.loss == "linear":  # E_t = g_tᵀ ŷ_t
                E += sp.Add(*[v[0] * g for v, g in zip(env[cell.softmax], target)])
            elif cell.loss == "mse":  # E_t = ½ Σ_k (ŷ_tk − y_tk)²
                E += sp.Rational(1, 2) * sp.Add(*[(v[0] - y) ** 2 for v, y in zip(env[cell.softmax], target)])
            else:
                E += -_log(env[cell.softmax][target][0])
            prev = {s.name: env[s.name] for s in cell.states}
        for s in cell.states:  # an upstream adjoint entering the last states from outside
            E += sp.Add(*[g * v[0] for g, v in zip(self.upstream[s.name], prev[s.name])])
        return E


@dataclass
class _Explicit:
    """SymPy's side: per quantity, ∂E/∂ of the entries checked one by one, and the random projections.

    Attributes:
        entries: quantity → ∂E/∂θ_i for each chosen i, in the order of ``chosen``.
        chosen: quantity → the flat indices differentiated one by one.
        projections: quantity → (u, d/dη E(θ + η u)) for the entries not checked one by one.
    """

    entries: dict[str, list] = field(default_factory=dict)
    chosen: dict[str, list[int]] = field(default_factory=dict)
    projections: dict[str, tuple[list, sp.Float]] = field(default_factory=dict)


def _differentiate_explicit_loss(problem: _Problem, entries: int | None, deadline: _Deadline) -> _Explicit:
    """∂E/∂θ_i = d/dε E(θ + ε e_i) at ε = 0: SymPy differentiates the explicit expression along one
    component at a time, with every other number substituted early (Floats at ``prec`` digits), so the
    expression stays small (DESIGN.md §4: full symbolic unrolling swells)."""
    rng, prec = problem.rng, problem.prec
    eps, eta = sp.Symbol("epsilon", real=True), sp.Symbol("eta", real=True)
    floats = {k: m.applyfunc(lambda v: sp.Float(v, prec)) for k, m in problem.point.items()}
    out = _Explicit()

    def loss_along(name, idx=None, u=None):
        """E with ε added to entry ``idx`` and η·u to every entry of ``name``."""
        values = {k: _rows(v) for k, v in floats.items()}
        cols = floats[name].cols
        if idx is not None:
            values[name][idx // cols][idx % cols] += eps
        for j, w in enumerate(u or ()):
            values[name][j // cols][j % cols] += w * eta
        return problem.explicit_loss(values)

    for name, m in floats.items():
        idxs = list(range(len(m)))
        if entries is not None and entries < len(idxs):
            idxs = sorted(rng.sample(idxs, entries))
        out.chosen[name] = idxs
        # Every entry not checked one by one is checked through one random projection:
        # d/dη E(θ + η u) = Σ_ij u_ij ∂E/∂θ_ij with rational u, against the same combination of the
        # derived entries. It shares the explicit loss with the first single-entry check (ε).
        u = [sp.Rational(rng.randint(1, 999), 1000) for _ in range(len(m))] if len(idxs) < len(m) else None
        column = []
        for n, idx in enumerate(idxs):
            deadline.check()
            E = loss_along(name, idx, u if n == 0 else None)
            zero = {eps: 0, eta: 0}
            column.append(sp.diff(E, eps).xreplace(zero).evalf(prec))
            if n == 0 and u is not None:
                out.projections[name] = (u, sp.diff(E, eta).xreplace(zero).evalf(prec))
        if not idxs and u is not None:
            deadline.check()
            out.projections[name] = (u, sp.diff(loss_along(name, None, u), eta).xreplace({eta: 0}).evalf(prec))
        out.entries[name] = column
    return out


def _mp_matrix(m: sp.Matrix):
    """A rational SymPy matrix as an mpmath matrix (exact to the working precision)."""
    return mpmath.matrix([[mpmath.mpf(m[i, j].p) / m[i, j].q for j in range(m.cols)] for i in range(m.rows)])


def _run_program(problem: _Problem, prog) -> dict[str, list]:
    """The derivation's side: the adjoint program run forward t = 1 … T and backward t = T … 1 with
    mpmath at the problem's precision; quantity → every entry of ∂E/∂quantity (row-major)."""
    cell, point = problem.cell, problem.point
    with mpmath.workdps(problem.prec):
        params = {p.name: _mp_matrix(point[p.name]) for p in cell.params}
        tape = []
        prev = {s.name: _mp_matrix(point[s.init]) for s in cell.states}
        for t in range(1, problem.steps + 1):
            env = dict(params)
            env[cell.input.name] = _mp_matrix(point[f"x{t}"])
            env[cell.target.name] = _target(problem, t)
            for s in cell.states:
                env[previous(s.name)] = prev[s.name]
            for a in prog.forward:
                env[a.target.name] = evaluate(a.expr, env, problem.dimvals)
            prev = {s.name: env[s.name] for s in cell.states}
            tape.append(env)
        grads = {p.name: mpmath.zeros(*problem.rows_cols(p.shape)) for p in cell.params}
        carry = {s.name: _mp_matrix(problem.upstream[s.name]) for s in cell.states}
        dx = {}
        for t in range(problem.steps, 0, -1):
            env = dict(tape[t - 1])
            for s in cell.states:
                env[incoming(s.name)] = carry[s.name]
            for a in prog.backward:
                env[a.target.name] = evaluate(a.expr, env, problem.dimvals)
            for p, a in prog.grads.items():
                grads[p] = grads[p] + evaluate(a.expr, env, problem.dimvals)
            carry = {s.name: env[prog.carries[s.name].name] for s in cell.states}
            dx[t] = env[adjoint(cell.input.name)]
    derived = {p: [g[i, j] for i in range(g.rows) for j in range(g.cols)] for p, g in grads.items()}
    for t in range(1, problem.steps + 1):
        derived[f"x{t}"] = [dx[t][i, 0] for i in range(dx[t].rows)]
    for s in cell.states:
        derived[s.init] = [carry[s.name][i, 0] for i in range(carry[s.name].rows)]
    return derived


def _target(problem: _Problem, t: int):
    """The target at step t as the program reads it: the real vector, or the one-hot of the class."""
    if problem.real_targets:
        return _mp_matrix(problem.targets[t - 1])
    onehot = mpmath.zeros(problem.rows_cols(problem.cell.target.shape)[0], 1)
    onehot[problem.targets[t - 1], 0] = 1
    return onehot


def _compare(problem: _Problem, explicit: _Explicit, derived: dict[str, list], digits: int) -> tuple[Row, ...]:
    """One row per quantity: the worst relative difference between SymPy's and the program's entries."""
    prec = problem.prec
    rows = []
    with mpmath.workdps(prec):
        tol = mpmath.mpf(10) ** (-digits)
        tiny = mpmath.mpf(10) ** (-prec // 2)
        for name in problem.point:
            pairs = list(zip(explicit.entries[name], [derived[name][i] for i in explicit.chosen[name]]))
            if name in explicit.projections:
                u, want = explicit.projections[name]
                pairs.append((want, sum(mpmath.mpf(w.p) / w.q * g for w, g in zip(u, derived[name]))))
            worst = mpmath.mpf(0)
            for want, got in pairs:
                want = mpmath.mpf(sp.Float(want, prec)._mpf_) if want != 0 else mpmath.mpf(0)
                worst = max(worst, abs(want - got) / max(abs(want) + abs(got), tiny))
            rows.append(Row(name, len(derived[name]), float(worst), bool(worst < tol)))
    return tuple(rows)
