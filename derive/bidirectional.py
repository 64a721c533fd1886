"""Bidirectional networks: a forward and a backward pass of one cell with a joint output layer.

    h→_t = cell(x_t, h→_{t−1}),   h←_t = cell(x_t, h←_{t+1}),   z_t = W_fw h→_t + W_bw h←_t + c,

then the cell's own loss: ô_t = softmax(z_t) with cross-entropy, or ŷ_t = z_t with mse. Each direction is
the cell without its output layer — a *direction cell* whose loss is ``linear(h, up)``, E = Σ_t up_tᵀ h_t —
so its BPTT is derived, certified and generated like any cell, driven by the gradient the joint output
layer sends it: up→_t = W_fwᵀ ∂E_t/∂z_t and up←_t = W_bwᵀ ∂E_t/∂z_t. The backward direction is the same
cell run on the reversed sequence (its δ recursion runs forward in time: the carry comes from step t − 1).

Naming (docs/cells.md, "Bidirectional"): each parameter and initial state of the cell appears twice with
the suffix ``_fw`` / ``_bw`` (``U_fw``, ``U_f_fw``, ``h0_bw``); the output layer is ``W_fw``, ``W_bw``, ``c``.
(The brief's W_f/W_b would collide with the LSTM's forget-gate subscript f.)

The generated module is the direction cell's module with the bidirectional network appended; its public
``param_shapes``, ``init_params``, ``initial_state_shapes``, ``forward``, ``loss`` and ``loss_and_grads``
are the network's (the direction cell's stay as ``_cell_*``).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from derive.cellfile import Cell, _CellBuilder, load, parse
from derive.derivation import T_, Derivation, Step, derive, t_
from derive.errors import CellError
from derive.layers import split

UP = "up"  # the direction cell's target: the gradient arriving from the output layer


@dataclass(frozen=True)
class BidirectionalDerivation(Derivation):
    """A :class:`~derive.derivation.Derivation` titled after the network (``cell`` is the direction cell)."""

    network: str = ""

    @property
    def title(self) -> str:
        return f"BPTT for the bidirectional {self.network} network"


@dataclass(frozen=True)
class Bidirectional:
    """The pieces of a bidirectional network over ``cell``.

    Attributes:
        cell: the one-direction cell as written (with its output layer).
        direction: the direction cell (no output layer, loss linear(h, up)).
        out: the state the output layer reads (h).
        loss: "cross_entropy" or "mse".
        matrix, bias: the cell's output-layer parameter names (W, c), or bias None.
    """

    cell: Cell
    direction: Cell
    out: str
    loss: str
    matrix: str
    bias: str | None


def bidirectional(spec: str, bias: bool = True) -> Bidirectional:
    """The bidirectional network of a built-in cell or a cell file.

    Raises:
        CellError: the cell's output layer is not a readout z = W h (+ c) (then softmax or the mse
            prediction itself), or it has no single state to read (Jordan).
    """
    cell = load(spec, bias=bias)
    source = _CellBuilder("\n".join(cell.source), cell.path, bias, cell.name).read()
    if source.layers > 1:
        raise CellError(cell.path, source.layers_line, "cannot make a stacked cell bidirectional",
                        "one layer ('layers' line removed)")
    s = split(source, "make {} bidirectional")
    kept = [p for p in s.head_params if p in cell.param_names]  # without the biases --no-bias dropped
    head_matrix = [p for p in kept if source.decls[p].shape[1] != "1"]
    head_bias = [p for p in kept if source.decls[p].shape[1] == "1"]
    logits = cell.logits
    node = cell.node(logits)
    shape_ok = (len(head_matrix) == 1 and len(head_bias) <= 1
                and _is_readout(node.expr, head_matrix[0], s.out, head_bias[0] if head_bias else None)
                and len(s.head) == (2 if cell.loss == "cross_entropy" else 1))
    if cell.loss not in ("cross_entropy", "mse") or not shape_ok:
        raise CellError(cell.path, 0, f"cannot make {cell.name} bidirectional: its output layer is not a readout",
                        "z = W @ h (+ c), then softmax with cross_entropy, or z itself with mse")
    if UP in source.decls or UP in {n for n, _, _ in source.equations}:
        raise CellError(cell.path, 0, f"cannot make {cell.name} bidirectional: it uses the name {UP!r}",
                        f"another name ({UP!r} is the direction cell's upstream gradient)")
    direction = parse(_direction_text(source, s), f"{cell.path} (one direction, no output layer)", bias=bias,
                      name=f"{cell.name}-direction")
    return Bidirectional(cell, direction, s.out, cell.loss, head_matrix[0], head_bias[0] if head_bias else None)


def _is_readout(expr, W, h, c) -> bool:
    from derive.cellfile import Bin, Name

    prod = Bin("@", Name(W), Name(h))

    def same(a, b):
        if isinstance(a, Name) and isinstance(b, Name):
            return a.id == b.id
        return isinstance(a, Bin) and isinstance(b, Bin) and a.op == b.op and same(a.left, b.left) \
            and same(a.right, b.right)

    if c is None:
        return same(expr, prod)
    return same(expr, Bin("+", prod, Name(c))) or same(expr, Bin("+", Name(c), prod))


def _direction_text(source, s) -> str:
    from derive.cellfile import to_text

    used = {d for n in (*s.rec_params, *s.states, s.inp.name) for d in source.decls[n].shape if d != "1"}
    out_rows = source.decls[s.out].shape[0]
    lines = [f"# {source.description or source.name}: one direction, no output layer (bidirectional)",
             f"dims {' '.join(d for d in source.dims if d in used | {out_rows})}",
             f"input {s.inp.name} : {s.inp.shape[0]}", f"target {UP} : {out_rows}"]
    for d in source.decls.values():
        if d.kind == "param" and d.name in s.rec_params:
            shape = d.shape[0] if d.shape[1] == "1" else f"{d.shape[0]} x {d.shape[1]}"
            lines.append(f"param {d.name} : {shape}" + (" bias" if d.bias else ""))
        elif d.kind == "state":
            lines.append(f"state {d.name} : {d.shape[0]} init {d.init}")
    lines += [f"{name} = {to_text(expr)}" for name, expr, _ in s.recurrent]
    lines.append(f"loss linear({s.out}, {UP})")
    return "\n".join(lines) + "\n"


def param_names(net: Bidirectional) -> list[str]:
    """Every parameter of the network, in order: the cell's ``_fw``, the cell's ``_bw``, W_fw, W_bw, c."""
    cell = net.direction.param_names
    out = [f"{p}_fw" for p in cell] + [f"{p}_bw" for p in cell] + [f"{net.matrix}_fw", f"{net.matrix}_bw"]
    return out + ([net.bias] if net.bias else [])


def module_source(net: Bidirectional, origin: str, version: str, verification: list[str] | None) -> str:
    """The direction cell's generated module with the bidirectional network appended."""
    from derive.codegen import Lowering, adjoint_program
    from derive.codegen.assemble import module_source as cell_source

    low = Lowering(adjoint_program(net.direction))
    head = cell_source(low, f"{origin} (one direction of the bidirectional network)", version, verification,
                       appended=_WRAPPER)
    cell = net.cell
    W = cell.shape(net.matrix)
    shapes = {f"{p.name}_{d}": tuple(p.shape) for d in ("fw", "bw") for p in net.direction.params}
    shapes.update({f"{net.matrix}_fw": tuple(W), f"{net.matrix}_bw": tuple(W)})
    if net.bias:
        shapes[net.bias] = tuple(cell.shape(net.bias))
    dims = [d for d in cell.dims if any(d in s for s in shapes.values())]
    return head + _WRAPPER.format(
        name=cell.name, origin=origin, loss=net.loss, out=net.out, W=net.matrix, c=net.bias,
        W_fw=f"{net.matrix}_fw", W_bw=f"{net.matrix}_bw",
        shapes=shapes, dims=", ".join(dims), dim_names=dims, class_dim=cell.target.shape[0],
        inits=[s.init for s in net.direction.states], pred=cell.softmax,
        hidden=net.direction.shape(net.out)[0])


_WRAPPER = '''

# ======================================================================================================
# The bidirectional network over the cell above (derive/bidirectional.py):
#     h→_t = cell(x_t, h→_(t−1)),  h←_t = cell(x_t, h←_(t+1)),  z_t = {W}_fw h→_t + {W}_bw h←_t (+ {c}),
# then {loss} on z_t. Each direction's BPTT is the cell's above, driven by up_t = {W}_·ᵀ ∂E_t/∂z_t; the
# backward direction runs the cell on the reversed sequence.

_cell_forward, _cell_loss_and_grads = forward, loss_and_grads
_cell_param_shapes, _cell_init_params, _cell_initial_state_shapes = param_shapes, init_params, initial_state_shapes
CELL = {name!r}
BIDIRECTIONAL = True
OUTPUT_LOSS = {loss!r}
NET_PARAM_SHAPES = {shapes!r}
NET_DIMS = {dim_names!r}
OUT_DIM = {class_dim!r}
CELL_INITS = {inits!r}
OUT_BIAS = {c!r}  # the output layer's bias (None without one)
OUT_STATE = {out!r}  # the state the output layer reads


def param_shapes({dims}):
    """Every parameter's shape: the cell's with _fw and _bw, then {W}_fw, {W}_bw, {c}."""
    sizes = {{**dict(zip(NET_DIMS, ({dims},))), "1": 1}}
    for label, n in sizes.items():
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"{{label}}: expected a positive integer, got {{n!r}}")
    return {{k: (sizes[r], sizes[c]) for k, (r, c) in NET_PARAM_SHAPES.items()}}


def init_params({dims}, rng=None, dtype=np.float64):
    """Random parameters, uniform in ±1/√{hidden} (biases too)."""
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype: expected float32 or float64, got {{dtype}}")
    rng = np.random.default_rng(0) if rng is None else rng
    sizes = dict(zip(NET_DIMS, ({dims},)))
    scale = 1.0 / np.sqrt(sizes[{hidden!r}])
    return {{k: rng.uniform(-scale, scale, size=s).astype(dtype) for k, s in param_shapes({dims}).items()}}


def initial_state_shapes({hidden}, B):
    """Shapes of the initial states of both directions (h0_fw, h0_bw, …), each defaulting to zeros."""
    return {{f"{{i}}_{{d}}": ({hidden}, B) for d in ("fw", "bw") for i in CELL_INITS}}


def _split(params, state0):
    if not isinstance(params, dict):
        raise ValueError(f"params: expected a dict of arrays, got {{type(params).__name__}}")
    missing = [k for k in NET_PARAM_SHAPES if k not in params]
    extra = [k for k in params if k not in NET_PARAM_SHAPES]
    if missing or extra:
        raise ValueError(f"params for bidirectional {{CELL}}: missing {{missing}}, unexpected {{extra}}; expected "
                         f"exactly {{list(NET_PARAM_SHAPES)}}")
    names = [f"{{i}}_{{d}}" for d in ("fw", "bw") for i in CELL_INITS]
    unknown = [k for k, v in state0.items() if k not in names and v is not None]
    if unknown:
        raise ValueError(f"bidirectional {{CELL}} has initial states {{names}}, got unexpected {{unknown}}")
    cell = {{d: {{k: params[f"{{k}}_{{d}}"] for k in PARAM_SHAPES}} for d in ("fw", "bw")}}
    s0 = {{d: {{i: state0.get(f"{{i}}_{{d}}") for i in CELL_INITS}} for d in ("fw", "bw")}}
    return cell, s0


def _directions(cell, xs, s0):
    """h→ and h← for every step, (T, rows, B) each; h← from the cell run on the reversed sequence."""
    h_fw = _cell_forward(cell["fw"], xs, **s0["fw"])[{out!r}]
    h_bw = _cell_forward(cell["bw"], xs[::-1], **s0["bw"])[{out!r}][::-1]
    return h_fw, h_bw


def _logits(params, h_fw, h_bw):
    z = _each_step(params[{W_fw!r}], h_fw) + _each_step(params[{W_bw!r}], h_bw)
    return z + params[OUT_BIAS] if OUT_BIAS is not None else z


def _output_loss(z, targets, dtype):
    """E and ∂E/∂z_t of the joint output layer, masks applied."""
    T, K, B = z.shape
    if OUTPUT_LOSS == "mse":
        _check_mse_targets(targets, (T, K, B))
        r = np.where(np.isnan(targets), 0, z - np.nan_to_num(targets))
        return 0.5 * np.sum(r ** 2), r
    if not isinstance(targets, np.ndarray) or targets.dtype.kind not in "iu" or targets.shape != (T, B):
        raise ValueError(f"targets: expected a NumPy integer array of class ids, shape ({{T}}, {{B}}), got "
                         f"{{getattr(targets, 'dtype', type(targets).__name__)}} {{getattr(targets, 'shape', '')}}")
    if ((targets < -1) | (targets >= K)).any():
        raise ValueError(f"targets: expected class ids in [0, {{K}}) or -1 (no loss term)")
    logp = _log_softmax(z)
    o = _one_hot(targets, K, dtype)
    return -np.sum(o * logp), np.where((targets < 0)[:, None, :], 0, np.exp(logp) - o)


def forward(params, xs, **state0):
    """The forward pass: {{"{out}_fw": h→ (T, rows, B), "{out}_bw": h← (T, rows, B), "{pred}": (T, K, B)}}."""
    cell, s0 = _split(params, state0)
    h_fw, h_bw = _directions(cell, xs, s0)
    z = _logits(params, h_fw, h_bw)
    return {{"{out}_fw": h_fw, "{out}_bw": h_bw, "{pred}": z if OUTPUT_LOSS == "mse" else _softmax(z)}}


def loss(params, xs, targets, **state0):
    """E = Σ_t E_t of the joint output layer (cross-entropy: class ids (T, B), −1 masked; mse: real
    targets (T, K, B), NaN masked)."""
    cell, s0 = _split(params, state0)
    h_fw, h_bw = _directions(cell, xs, s0)
    return _output_loss(_logits(params, h_fw, h_bw), targets, h_fw.dtype)[0]


def loss_and_grads(params, xs, targets, truncate=None, **state0):
    """E and ∂E/∂(every parameter, xs, both directions' initial states).

    truncate: None, or k >= 1: each E_t sends its gradient back at most k steps in each direction
    (k steps into the past through h→, k steps into the future through h←).
    """
    cell, s0 = _split(params, state0)
    h_fw, h_bw = _directions(cell, xs, s0)
    E, dz = _output_loss(_logits(params, h_fw, h_bw), targets, h_fw.dtype)
    up_fw = _each_step(params[{W_fw!r}].T, dz)  # ∂E/∂h→_t from the output layer
    up_bw = _each_step(params[{W_bw!r}].T, dz)  # ∂E/∂h←_t from the output layer
    _, g_fw = _cell_loss_and_grads(cell["fw"], xs, np.ascontiguousarray(up_fw), truncate=truncate, **s0["fw"])
    _, g_bw = _cell_loss_and_grads(cell["bw"], np.ascontiguousarray(xs[::-1]), np.ascontiguousarray(up_bw[::-1]),
                                   truncate=truncate, **s0["bw"])
    grads = {{f"{{k}}_{{d}}": g[k] for d, g in (("fw", g_fw), ("bw", g_bw)) for k in PARAM_SHAPES}}
    grads[{W_fw!r}] = _accumulate(dz, h_fw)
    grads[{W_bw!r}] = _accumulate(dz, h_bw)
    if OUT_BIAS is not None:
        grads[OUT_BIAS] = _sum_steps(dz)
    grads = {{k: grads[k] for k in NET_PARAM_SHAPES}}
    grads["xs"] = g_fw["xs"] + g_bw["xs"][::-1]
    for d, g in (("fw", g_fw), ("bw", g_bw)):
        for i in CELL_INITS:
            grads[f"{{i}}_{{d}}"] = g[i]
    return E, grads
'''


def generate(spec: str, bias: bool = True, verification: list[str] | None = None, origin: str | None = None):
    """Generate the bidirectional network's module (a :class:`derive.codegen.Generated`)."""
    from derive.codegen import Generated, _version, load_source

    net = bidirectional(spec, bias=bias)
    origin = origin or f"{spec} with --bidirectional"
    source = module_source(net, origin, _version(), verification)
    name = f"{net.cell.name}-bidirectional"
    return Generated(name, origin, source, load_source(source, name), net.direction)



# ---------------------------------------------------------------------------------------------------------
# The derivation: the joint output layer, then the direction cell's own derivation


def derivation(net: Bidirectional, wrt: tuple[str, ...] | None = None, steps: int = 3, truncate: int | None = None):
    """The derivation of the bidirectional network: how the joint output layer splits ∂E_t/∂z_t between the
    two directions, then the direction cell's BPTT (derive.derive of ``net.direction``), numbered on.

    Args:
        wrt: parameters of the direction cell to derive (names without _fw/_bw; default all).
    """
    from derive.notation import Args, Fn, Neg, Partial, Q, Text, Tr, TSum, plus, times

    t = t_
    out, W, c = net.out, net.matrix, net.bias
    hf, hb = (Q("hfw", t), Q("hbw", t)) if out == "h" else (Q(f"{out}fw", t), Q(f"{out}bw", t))
    hf_prev = Q("hfw" if out == "h" else f"{out}fw", t - 1)
    hb_next = Q("hbw" if out == "h" else f"{out}bw", t + 1)
    x, o, z = Q(net.cell.input.name, t), Q(net.cell.target.name, t), Q("z", t)
    pred = Q(net.cell.softmax, t) if net.loss == "cross_entropy" else z
    Et = Q("E", t)
    section = "Bidirectional network: the joint output layer"
    rows = [
        ("definition", (hf, Fn("cell", Args(x, hf_prev))), "the forward direction: the cell below, parameters *_fw"),
        ("definition", (hb, Fn("cell", Args(x, hb_next))),
         "the backward direction: the same cell on the reversed sequence, parameters *_bw, initial state at t = T + 1"),
        ("definition", (z, plus(times(Q(f"{W}_fw"), hf), times(Q(f"{W}_bw"), hb), *([Q(c)] if c else []))),
         "the joint output layer reads both directions"),
    ]
    if net.loss == "cross_entropy":
        rows += [("definition", (pred, Fn("softmax", z)), "the prediction"),
                 ("definition", (Et, Neg(times(Tr(o), Fn("log", pred)))), "cross-entropy; class id −1: no term"),
                 ("softmax + cross-entropy", (Partial(Et, z), plus(pred, Neg(o))), "as for one direction")]
    else:
        r = plus(z, Neg(o))
        rows += [("definition", (Et, times(sp.Rational(1, 2), Tr(r), r)), "squared error; NaN target entries: no term"),
                 ("mean squared error", (Partial(Et, z), r), "SymPy: ∂/∂ŷ of ½‖ŷ − y‖² is ŷ − y")]
    rows += [
        ("chain rule", (Partial(Et, hf), times(Tr(Q(f"{W}_fw")), Partial(Et, z))),
         "what the output layer sends the forward direction: the up_t of its derivation below, where what "
         "flows back from step t + 1 is added"),
        ("chain rule", (Partial(Et, hb), times(Tr(Q(f"{W}_bw")), Partial(Et, z))),
         "what the output layer sends the backward direction: its up_t; there the carry comes from step "
         "t − 1, because h← runs from T down to 1"),
        ("sum over time", (Partial(Q("E"), Q(f"{W}_fw")), TSum(times(Partial(Et, z), Tr(hf)), t, 1, T_)),
         "one term per step"),
        ("sum over time", (Partial(Q("E"), Q(f"{W}_bw")), TSum(times(Partial(Et, z), Tr(hb)), t, 1, T_)),
         "one term per step"),
        ("chain rule", (Partial(Q("E"), x), Text("the forward cell's + the backward cell's")),
         "x_t feeds both directions: the forward cell's ∂E/∂x_t plus the backward cell's"),
    ]
    head = [Step(i + 1, section, rule, tuple(sides), why) for i, (rule, sides, why) in enumerate(rows)]
    cell = derive(net.direction, wrt=wrt, steps=steps, truncate=truncate)
    n = len(head)
    tail = [Step(s.number + n, f"Each direction (the cell, up_t from the output layer): {s.section}", s.rule,
                 s.sides, s.why) for s in cell.steps]
    return BidirectionalDerivation(net.direction, cell.wrt, cell.steps_T, truncate, tuple(head + tail),
                                   cell.program, net.cell.name)


