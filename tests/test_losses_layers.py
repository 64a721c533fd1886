"""`loss mse(...)` and stacked layers (`layers N`, `--layers N`): parsing, derivation, generated code with
masks against the complex step and the SymPy program, refusals, and the CLI (docs/cells.md)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from derive import CellError, derive, load_cell
from derive.cellfile import CELLS_DIR, parse
from derive.codegen import generate
from derive.evaluate import Evaluator
from derive.layers import layer_name
from derive.output import mse_gradient
from reports.cli import main

REGRESSION = CELLS_DIR / "examples" / "elman-regression.cell"
RNN_TEXT = (CELLS_DIR / "rnn.cell").read_text()
HEAD = "dims D H K\ninput x : D\ntarget y : K\nparam U : H x D\nparam V : H x H\nparam W : K x H\nstate h : H\n" \
       "h = tanh(U @ x + V @ h_prev)\n"


# ---- the loss line -------------------------------------------------------------------------------

@pytest.mark.parametrize("tail,message", [
    ("p = softmax(W @ h)\nloss mse(p, y)\n", "is a softmax output"),
    ("z = W @ h\nloss cross_entropy(z, y)\n", "is not a softmax output"),
    ("z = V @ h\nloss mse(z, y)\n", "shape mismatch"),
    ("z = W @ h\nloss squared(z, y)\n", "'loss mse(PREDICTION, TARGET)'"),
    ("z = W @ h\nloss mse(z, q)\n", "unknown target 'q'"),
])
def test_bad_loss_lines_are_named(tail, message):
    with pytest.raises(CellError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(HEAD + tail)


def test_mse_gradient_is_derived_by_sympy():
    derived, expected = mse_gradient()
    assert str(expected) == "-y1 + yhat1" and derived == expected


def test_mse_derivation_shows_the_half_square_and_the_residual():
    d = derive(load_cell(REGRESSION))
    texts = [s.text() for s in d.steps]
    assert any("Eₜ = 1/2 (ŷₜ − yₜ)ᵀ (ŷₜ − yₜ)" in t for t in texts)
    step = next(s for s in d.steps if s.rule == "mean squared error")
    assert step.text().endswith("= ŷₜ − yₜ")
    assert not any("cross-entropy" in s.justification or "log" in s.text() for s in d.steps)


# ---- generated code of an mse cell: masks, bad targets, the oracles -----------------------------------

@pytest.fixture(scope="module")
def regression():
    return generate(str(REGRESSION)).module


def _point(m, seed, T=4, B=3):
    rng = np.random.default_rng(seed)
    p = m.init_params(2, 3, 2, rng=rng)
    xs = rng.standard_normal((T, 2, B))
    y = rng.standard_normal((T, 2, B))
    y[rng.random(y.shape) < 0.3] = np.nan
    return p, xs, y, {"h0": 0.5 * rng.standard_normal((3, B))}


def test_nan_targets_contribute_nothing(regression):
    m = regression
    p, xs, y, s0 = _point(m, 1)
    yhat = m.forward(p, xs, **s0)["yhat"]
    expected = 0.5 * np.nansum((yhat - y) ** 2)  # computed apart from the module's own masking
    assert float(m.loss(p, xs, y, **s0)) == pytest.approx(expected, rel=1e-14)
    y2 = y.copy()
    y2[np.isnan(y)] = 123.0  # what the masked entries would be
    assert float(m.loss(p, xs, y2, **s0)) > expected + 1.0


@pytest.mark.parametrize("truncate", [None, 1, 2])
def test_masked_mse_gradients_match_the_complex_step(regression, truncate):
    m = regression
    p, xs, y, s0 = _point(m, 2)
    _, g = m.loss_and_grads(p, xs, y, truncate=truncate, **s0)
    if truncate is not None:  # the truncated objective: E_t from the frozen state k steps back
        return _check_truncated(m, p, xs, y, s0, g, truncate)
    h = 1e-30
    for name in [*p, "xs", "h0"]:
        est = np.zeros_like(g[name])
        for idx in np.ndindex(est.shape):
            args = {**{k: v.astype(complex) for k, v in p.items()}, "xs": xs.astype(complex),
                    "h0": s0["h0"].astype(complex)}
            args[name][idx] += 1j * h
            est[idx] = m.loss({k: args[k] for k in p}, args["xs"], y, h0=args["h0"]).imag / h
        assert np.abs(est - g[name]).max() <= 1e-13 * max(1.0, np.abs(est).max()), name


def _check_truncated(m, p, xs, y, s0, g, k):
    from reports.codegen_verify import TruncatedLoss
    from numeric.gradcheck import LoopObjective, numerical_gradients

    loss = TruncatedLoss(m, p, xs, y, s0, k)
    est = numerical_gradients(LoopObjective(loss, p, xs, y, s0), list(g), "complex-step")
    for name in g:
        assert np.abs(est[name] - g[name]).max() <= 1e-13 * max(1.0, np.abs(est[name]).max()), name


@pytest.mark.parametrize("bad,message", [
    (lambda y: y.astype(int), "float array of real targets"),
    (lambda y: y[:, :1], r"shape \(T, K, B\)"),
    (lambda y: np.where(np.isnan(y), np.inf, y), "finite values or NaN"),
])
def test_bad_mse_targets_are_named(regression, bad, message):
    p, xs, y, s0 = _point(regression, 3)
    y = np.nan_to_num(y) if message != "finite values or NaN" else y
    with pytest.raises(ValueError, match=message):
        regression.loss(p, xs, bad(y), **s0)


# ---- stacked layers ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,expected", [("U", "U_1"), ("U_f", "U_f1"), ("b_gh", "b_gh1"), ("h", "h_1"),
                                           ("b_g2", "b_g2_1"), ("C", "C_1")])
def test_layer_names(name, expected):
    assert layer_name(name, 1) == expected


def test_three_layers_of_lstm_have_per_layer_parameters_and_one_output_layer():
    cell = load_cell("lstm", layers=3)
    assert cell.param_names[:3] == ("U_f1", "V_f1", "b_f1") and cell.param_names[-2:] == ("W", "c")
    assert [s.init for s in cell.states] == ["h0_1", "c0_1", "h0_2", "c0_2", "h0_3", "c0_3"]
    shapes = {p.name: p.shape for p in cell.params}
    assert shapes["U_f1"] == ("H", "D") and shapes["U_f2"] == shapes["U_f3"] == ("H", "H")
    assert cell.node("z").expr.left.left.id == "W" and "h_3" in str(cell.node("z").expr)


def test_a_layers_line_in_the_file_equals_the_argument():
    from_file = parse(RNN_TEXT + "layers 2\n", "rnn2.cell")
    assert from_file.param_names == load_cell("rnn", layers=2).param_names
    assert load_cell("rnn", layers=1).param_names == load_cell("rnn").param_names
    with pytest.raises(CellError, match="declares 2 layers but 3 were asked for"):
        parse(RNN_TEXT + "layers 2\n", "rnn2.cell", layers=3)
    with pytest.raises(CellError, match="'layers N' with N >= 1"):
        parse(RNN_TEXT + "layers 0\n")


@pytest.mark.parametrize("text,message", [
    ((CELLS_DIR / "jordan.cell").read_text(), "the prediction 'ohat' feeds back"),
    (RNN_TEXT.replace("z = W @ h + c", "z = W @ h + c + P @ x").replace("param  c : K bias",
                                                                       "param  c : K bias\nparam P : K x D"),
     "the output layer reads h, x"),
])
def test_cells_without_one_output_state_are_not_stacked(text, message):
    with pytest.raises(CellError, match=message):
        parse(text, layers=2)


def test_the_derivation_passes_delta_down_a_layer_and_back_in_time():
    d = derive(load_cell("rnn", layers=2))
    step = next(s for s in d.steps if s.text().startswith("∂E/∂h_1ₜ ="))
    assert step.text() == "∂E/∂h_1ₜ = U_2ᵀ δ_2ₜ + V_1ᵀ δ_1ₜ₊₁"  # from the layer above + from step t + 1
    assert "δ comes down from the layer above (a_2ₜ) as well as back in time" in step.justification
    top = next(s for s in d.steps if s.text().startswith("∂E/∂h_2ₜ ="))
    assert "layer above" not in top.justification


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(["rnn", "gru", "lstm-peephole"]), layers=st.integers(2, 3),
       sizes=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(2, 3)), seed=st.integers(0, 2**16))
def test_stacked_generated_code_matches_its_program_and_the_complex_step(kind, layers, sizes, seed):
    cell = load_cell(kind, layers=layers)
    m = generate(cell).module
    D, H, K = sizes
    rng = np.random.default_rng(seed)
    p = m.init_params(D, H, K, rng=rng)
    xs = rng.standard_normal((3, D, 2))
    targets = rng.integers(-1, K, size=(3, 2))
    fwd = Evaluator(cell).forward(p, xs)
    got = m.forward(p, xs)
    for s in cell.state_names:
        assert np.allclose(got[s], fwd[s], rtol=1e-13, atol=1e-15)
    _, g = m.loss_and_grads(p, xs, targets)
    direction = {k: rng.standard_normal(v.shape) for k, v in p.items()}
    moved = {k: p[k] + 1e-30j * direction[k] for k in p}
    slope = float(m.loss(moved, xs.astype(complex), targets).imag / 1e-30)
    analytic = sum(float(np.sum(g[k] * direction[k])) for k in p)
    assert analytic == pytest.approx(slope, rel=1e-12, abs=1e-14)


# ---- the command line ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv,code,needle", [
    (["verify", "rnn", "--layers", "2", "--T", "3"], 0, "∂E/∂U_2"),
    (["verify", str(REGRESSION), "--truncate", "2"], 0, "forward yhat"),
    (["verify", "jordan", "--layers", "2"], 2, "cannot stack jordan"),
    (["derive", "gru", "--layers", "2", "--wrt", "U_r2"], 0, "∂E/∂U_r2"),
    (["derive", str(REGRESSION)], 0, "mean squared error"),
    (["derive", "rnn", "--layers", "0"], 2, "expected a positive integer"),
])
def test_cli(argv, code, needle, capsys):
    try:
        rc = main(argv)
    except SystemExit as exc:
        rc = exc.code
    out = capsys.readouterr()
    assert rc == code, out
    assert needle in out.out + out.err


def test_codegen_writes_a_stacked_module(tmp_path, capsys):
    out = tmp_path / "m.py"
    assert main(["codegen", "lstm", "--layers", "2", "-o", str(out)]) == 0
    text = out.read_text()
    assert "'U_f2': ('H', 'H')" in text and "lstm with --layers 2" in text


ONE_LAYER = ["rnn", "lstm", "lstm-peephole", "gru", "gru-reset-after",
             *[str(p) for p in sorted((CELLS_DIR / "examples").glob("*.cell"))]]


@pytest.mark.parametrize("spec", ONE_LAYER, ids=lambda s: s.rsplit("/", 1)[-1])
def test_layer_one_of_a_stack_is_the_cell_itself(spec):
    """The stacked text keeps every equation's meaning (regression: `V_g @ (r * h_prev)` printed without its
    parentheses became (V_g @ r) * h_prev in gru and mgu stacks, and every check of the stacked cell
    against itself passed)."""
    one, two = generate(load_cell(spec)).module, generate(load_cell(spec, layers=2)).module
    rng = np.random.default_rng(4)
    p2 = two.init_params(3, 4, 2, rng=rng)
    p1 = {k: p2[layer_name(k, 1) if layer_name(k, 1) in p2 else k] for k in one.PARAM_SHAPES}
    xs = rng.standard_normal((4, 3, 2))
    out = one.forward(p1, xs)
    stacked = two.forward(p2, xs)
    for s in load_cell(spec).state_names:
        assert np.allclose(stacked[layer_name(s, 1)], out[s], rtol=1e-14, atol=1e-15), s


@pytest.mark.parametrize("rhs", ["V @ (f * h_prev) + b", "-(V @ h_prev) + 2 * h_prev", "f * (1 - g) - (a - b)",
                                 "V @ (V @ (h_prev * h_prev))", "-(f * g) + tanh(V @ -h_prev)"])
def test_to_text_reads_back_as_the_same_tree(rhs):
    from derive.cellfile import _Parser, to_text

    from derive.cellfile import Bin, Call, Name, Neg

    def strip(e):  # the tree without column numbers
        if isinstance(e, Name):
            return Name(e.id)
        if isinstance(e, Neg):
            return Neg(strip(e.x))
        if isinstance(e, Call):
            return Call(e.fn, strip(e.arg))
        return Bin(e.op, strip(e.left), strip(e.right)) if isinstance(e, Bin) else e

    def read(text):
        return strip(_Parser(text, 0, lambda *a: AssertionError(a)).parse())

    assert read(to_text(read(rhs))) == read(rhs)
