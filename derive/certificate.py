"""The component certificate: SymPy ``diff`` of the fully explicit loss vs the derived program.

For small explicit sizes every parameter, input and initial state becomes a matrix of scalar
symbols, the cell's equations are unrolled into one explicit scalar loss, and ``sympy.diff``
differentiates it entry by entry. The derivation's adjoint program is evaluated at the same
random rational point with mpmath at high precision; both must agree to ``digits`` significant
digits (default 40) in every entry. For gated cells one step is certified (unrolled LSTMs swell,
DESIGN.md §4) with random upstream adjoints on h_1 (and c_1), which exercises the carried terms.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

import mpmath
import sympy as sp
from sympy import (HadamardPower, HadamardProduct, MatAdd, MatMul, MatrixSymbol, OneMatrix, Transpose,
                   ZeroMatrix)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from derive.cellfile import PREV, Call, Cell, Name, Neg, Num
from derive.functions import ELEMENTWISE, REGISTRY
from derive.program import NEXT, Softmax, adjoint_program


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
    """exp/tanh/log for the explicit loss: SymPy's own ask whether a huge argument is real when built
    (exp.eval → tanh._eval_is_real → Mod → gcd → expand: minutes for a cell with relu, exp and tanh
    together). These differentiate the same way and evaluate only when their argument is a number."""

    @classmethod
    def eval(cls, x):
        return cls._numeric(x) if x.is_Number else None

    def _eval_evalf(self, prec):
        return self._numeric(self.args[0].evalf(prec))


class _exp(_Opaque):  # noqa: N801
    _numeric = staticmethod(sp.exp)

    def fdiff(self, argindex=1):
        return self


class _tanh(_Opaque):  # noqa: N801
    _numeric = staticmethod(sp.tanh)

    def fdiff(self, argindex=1):
        return 1 - self ** 2


class _log(_Opaque):  # noqa: N801
    _numeric = staticmethod(sp.log)

    def fdiff(self, argindex=1):
        return 1 / self.args[0]


_EXPLICIT = {**ELEMENTWISE, "exp": _exp, "tanh": _tanh}


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
        f = _EXPLICIT[e.fn]
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


_MP = {name: entry.mpmath for name, entry in REGISTRY.items()}


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
            body = e.function.expr
            f = _MP[type(body).__name__]
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


@contextmanager
def _time_limit(seconds: float | None, what: str):
    """Raise :class:`CertificateTimeout` inside SymPy's (pure Python) work after ``seconds``, by SIGALRM
    where that is possible (the main thread of a POSIX process); elsewhere ``certify`` checks between
    entries only."""
    if seconds is None or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise CertificateTimeout(f"{what}: stopped after {seconds:g} s without finishing (SymPy's explicit "
                                 f"unrolled loss grew too large); the derivation itself is not affected — "
                                 f"try fewer steps or a smaller cell, or a larger budget")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


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
            limit); SIGALRM interrupts SymPy's work in the main thread, elsewhere entries are checked
            between ``diff`` calls.
    """
    with _time_limit(budget, f"certificate of {cell.name}"):
        return _certify(cell, steps, size, digits, seed, entries, budget)


def _certify(cell: Cell, steps: int | None = None, size: int = 2, digits: int = 40, seed: int = 0,
            entries: int | None = 1, budget: float | None = None) -> Certificate:
    """:func:`certify` without the alarm (``budget`` is still checked between entries)."""
    start = time.perf_counter()
    prog = adjoint_program(cell)
    if steps is None:
        gated = len(cell.states) > 1 or any(n.fn == "sigmoid" for n in cell.nodes)
        feedback = cell.softmax in cell.state_names  # Jordan: ô feeds back, the unrolled loss swells fastest
        steps = 1 if gated else 2 if feedback else 3
    rng = random.Random(seed)
    dimvals = {sp.Symbol(d, integer=True, positive=True): size for d in cell.dims}
    dims = {d: size for d in cell.dims}

    def rows_cols(decl_shape):
        return tuple(1 if s == "1" else dims[s] for s in decl_shape)

    def rand():
        return sp.Rational(rng.randint(-900, 900), 1000)

    # The point: every parameter, input and initial state entry a random rational.
    prec = digits + 20
    point: dict[str, sp.Matrix] = {}
    for p in cell.params:
        point[p.name] = sp.Matrix(*rows_cols(p.shape), lambda i, j: rand())
    for t in range(1, steps + 1):
        point[f"x{t}"] = sp.Matrix(rows_cols(cell.input.shape)[0], 1, lambda i, j: rand())
    for s in cell.states:
        point[s.init] = sp.Matrix(rows_cols(s.shape)[0], 1, lambda i, j: rand())
    K = rows_cols(cell.target.shape)[0]
    mse = cell.loss in ("mse", "linear")
    if mse:  # real targets y_t: random rationals
        targets = [sp.Matrix(K, 1, lambda i, j: rand()) for _ in range(steps)]
    else:
        targets = [rng.randrange(K) for _ in range(steps)]
    upstream = {s.name: sp.Matrix(rows_cols(s.shape)[0], 1, lambda i, j: rand()) for s in cell.states}

    def explicit_loss(values):
        """E = Σ_t −log ô_t[target_t] (mse: Σ_t ½‖ŷ_t − y_t‖²) (+ upstreamᵀ · last states), fully explicit."""
        prev = {s.name: values[s.init] for s in cell.states}
        E = sp.Integer(0)
        for t in range(1, steps + 1):
            env = {p.name: values[p.name] for p in cell.params}
            env[cell.input.name] = values[f"x{t}"]
            for s in cell.states:
                env[s.name + PREV] = prev[s.name]
            for node in cell.nodes:
                env[node.name] = _explicit(node.expr, env, rows_cols(cell.shape(node.name)))
            if cell.loss == "linear":  # E_t = g_tᵀ ŷ_t
                E += sp.Add(*[v[0] * g for v, g in zip(env[cell.softmax], targets[t - 1])])
            elif mse:  # E_t = ½ Σ_k (ŷ_tk − y_tk)²
                E += sp.Rational(1, 2) * sp.Add(*[(v[0] - y) ** 2 for v, y in zip(env[cell.softmax],
                                                                                 targets[t - 1])])
            else:
                E += -_log(env[cell.softmax][targets[t - 1]][0])
            prev = {s.name: env[s.name] for s in cell.states}
        for s in cell.states:  # an upstream adjoint entering the last states from outside
            E += sp.Add(*[g * v[0] for g, v in zip(upstream[s.name], prev[s.name])])
        return E

    # ∂E/∂θ_i = d/dε E(θ + ε e_i) at ε = 0: SymPy differentiates the explicit expression along one
    # component at a time, with every other number substituted early (Floats at `prec` digits), so
    # the expression stays small (DESIGN.md §4: full symbolic unrolling swells).
    eps, eta = sp.Symbol("epsilon", real=True), sp.Symbol("eta", real=True)
    floats = {k: m.applyfunc(lambda v: sp.Float(v, prec)) for k, m in point.items()}
    explicit: dict[str, list] = {}
    chosen: dict[str, list[int]] = {}
    projections: dict[str, tuple[list, sp.Float]] = {}
    for name, m in floats.items():
        col = []
        idxs = list(range(len(m)))
        if entries is not None and entries < len(idxs):
            idxs = sorted(rng.sample(idxs, entries))
        chosen[name] = idxs
        # Every entry not checked one by one is checked through one random projection:
        # d/dη E(θ + η u) = Σ_ij u_ij ∂E/∂θ_ij with rational u, against the same combination of the
        # derived entries. It shares the explicit loss with the first single-entry check (ε).
        u = [sp.Rational(rng.randint(1, 999), 1000) for _ in range(len(m))] if len(idxs) < len(m) else None
        for n, idx in enumerate(idxs):
            if budget is not None and time.perf_counter() - start > budget:  # where no alarm can interrupt
                raise CertificateTimeout(f"certificate of {cell.name}: stopped after {budget:g} s without "
                                         f"finishing; the derivation itself is not affected")
            values = {k: _rows(v) for k, v in floats.items()}
            values[name][idx // m.cols][idx % m.cols] += eps
            if n == 0 and u is not None:
                for j, w in enumerate(u):
                    values[name][j // m.cols][j % m.cols] += w * eta
            E = explicit_loss(values)
            zero = {eps: 0, eta: 0}
            col.append(sp.diff(E, eps).xreplace(zero).evalf(prec))
            if n == 0 and u is not None:
                projections[name] = (u, sp.diff(E, eta).xreplace(zero).evalf(prec))
        if not idxs and u is not None:
            values = {k: _rows(v) for k, v in floats.items()}
            for j, w in enumerate(u):
                values[name][j // m.cols][j % m.cols] += w * eta
            projections[name] = (u, sp.diff(explicit_loss(values), eta).xreplace({eta: 0}).evalf(prec))
        explicit[name] = col
    variables = point

    # Program at the same point, with mpmath.
    mpmath.mp.dps = prec

    def mp(m):
        return mpmath.matrix([[mpmath.mpf(m[i, j].p) / m[i, j].q for j in range(m.cols)]
                              for i in range(m.rows)])

    params = {p.name: mp(variables[p.name]) for p in cell.params}
    fwd = []
    prev_num = {s.name: mp(variables[s.init]) for s in cell.states}
    for t in range(1, steps + 1):
        env = dict(params)
        env[cell.input.name] = mp(variables[f"x{t}"])
        if mse:
            env[cell.target.name] = mp(targets[t - 1])
        else:
            onehot = mpmath.zeros(K, 1)
            onehot[targets[t - 1], 0] = 1
            env[cell.target.name] = onehot
        for s in cell.states:
            env[s.name + PREV] = prev_num[s.name]
        for a in prog.forward:
            env[a.target.name] = evaluate(a.expr, env, dimvals)
        prev_num = {s.name: env[s.name] for s in cell.states}
        fwd.append(env)
    grads = {p.name: mpmath.zeros(*rows_cols(p.shape)) for p in cell.params}
    carry = {s.name: mpmath.matrix([[mpmath.mpf(v.p) / v.q] for v in upstream[s.name]]) for s in cell.states}
    dx = {}
    for t in range(steps, 0, -1):
        env = dict(fwd[t - 1])
        for s in cell.states:
            env["d" + s.name + NEXT] = carry[s.name]
        for a in prog.backward:
            env[a.target.name] = evaluate(a.expr, env, dimvals)
        for p, a in prog.grads.items():
            grads[p] = grads[p] + evaluate(a.expr, env, dimvals)
        carry = {s.name: env[prog.carries[s.name].name] for s in cell.states}
        dx[t] = env["d" + cell.input.name]
    derived = {p: [grads[p][i, j] for i in range(grads[p].rows) for j in range(grads[p].cols)] for p in grads}
    for t in range(1, steps + 1):
        derived[f"x{t}"] = [dx[t][i, 0] for i in range(dx[t].rows)]
    for s in cell.states:
        derived[s.init] = [carry[s.name][i, 0] for i in range(carry[s.name].rows)]

    rows = []
    tol = mpmath.mpf(10) ** (-digits)
    for name in variables:
        worst = mpmath.mpf(0)
        pairs = list(zip(explicit[name], [derived[name][i] for i in chosen[name]]))
        if name in projections:
            u, want = projections[name]
            pairs.append((want, sum(mpmath.mpf(w.p) / w.q * g for w, g in zip(u, derived[name]))))
        for want, got in pairs:
            want = mpmath.mpf(sp.Float(want, prec)._mpf_) if want != 0 else mpmath.mpf(0)
            err = abs(want - got) / max(abs(want) + abs(got), mpmath.mpf(10) ** (-prec // 2))
            worst = max(worst, err)
        rows.append(Row(name, len(derived[name]), float(worst), bool(worst < tol)))
    sizes = {**dims, "T": steps}
    return Certificate(cell.name, sizes, digits, tuple(rows), time.perf_counter() - start, entries)
