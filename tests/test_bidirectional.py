"""--bidirectional (derive/bidirectional.py): the direction cell, the appended network, its derivation,
verification and command line. The PyTorch referee is in tests/test_layers_torch_referee.py."""

import subprocess
import sys

import numpy as np
import pytest

from derive import CellError
from derive.bidirectional import bidirectional, derivation, generate
from derive.cellfile import CELLS_DIR
from reports.bidirectional_verify import random_bidirectional_point, verify_bidirectional
from reports.cli import main

REGRESSION = str(CELLS_DIR / "examples" / "elman-regression.cell")
HELD_OUT = str(CELLS_DIR.parent.parent / "tests" / "heldout_cells")


@pytest.fixture(scope="module")
def lstm():
    return generate("lstm")


def test_the_direction_cell_has_no_output_layer_and_a_linear_loss():
    net = bidirectional("lstm")
    d = net.direction
    assert d.loss == "linear" and d.softmax == "h" and d.target.name == "up"
    assert "W" not in d.param_names and "c" not in d.param_names and d.dims == ("D", "H")
    assert (net.matrix, net.bias, net.out) == ("W", "c", "h")


def test_parameter_names_and_forward(lstm):
    m = lstm.module
    shapes = m.param_shapes(3, 4, 2)
    assert shapes["U_f_fw"] == shapes["U_f_bw"] == (4, 3) and shapes["W_fw"] == shapes["W_bw"] == (2, 4)
    assert set(m.initial_state_shapes(4, 5)) == {"h0_fw", "c0_fw", "h0_bw", "c0_bw"}
    params, xs, targets, state0, _ = random_bidirectional_point(m, 3, 4, 2, 5, 2, seed=1)
    out = m.forward(params, xs, **state0)
    assert set(out) == {"h_fw", "h_bw", "ohat"} and out["ohat"].shape == (5, 2, 2)
    assert np.allclose(out["ohat"].sum(axis=1), 1)
    # h← at the last step depends only on x_T: changing x_1 leaves it alone, h→ at the last step moves
    xs2 = xs.copy()
    xs2[0] += 1.0
    out2 = m.forward(params, xs2, **state0)
    assert np.array_equal(out2["h_bw"][-1], out["h_bw"][-1]) and not np.allclose(out2["h_fw"][-1], out["h_fw"][-1])


@pytest.mark.parametrize("spec,truncate", [("rnn", None), ("gru", 2), ("lstm-peephole", 1), (REGRESSION, None),
                                           (REGRESSION, 2)])
def test_network_gradients_pass_the_oracles(spec, truncate):
    result = verify_bidirectional(generate(spec), D=2, H=3, K=2, T=4, B=2, truncate=truncate, seed=3)
    assert result.passed, [str(c) for c in result.comparisons if not c.passed]


def test_masked_targets_send_no_gradient(lstm):
    m = lstm.module
    params, xs, targets, state0, _ = random_bidirectional_point(m, 3, 4, 2, 4, 2, seed=2)
    targets[:] = -1
    E, grads = m.loss_and_grads(params, xs, targets, **state0)
    assert E == 0 and all(not np.any(g) for g in grads.values())


@pytest.mark.parametrize("spec,message", [
    ("jordan", "the prediction 'ohat' feeds back"),
    (f"{HELD_OUT}/bottleneck.cell", "its output layer is not a readout"),
    (f"{HELD_OUT}/skip-memory.cell", "the output layer reads"),
])
def test_cells_that_cannot_be_made_bidirectional(spec, message):
    with pytest.raises(CellError, match=message):
        bidirectional(spec)


def test_the_derivation_splits_the_output_gradient_between_the_directions():
    d = derivation(bidirectional("rnn"))
    texts = [s.text() for s in d.steps]
    assert d.title == "BPTT for the bidirectional rnn network"
    assert "zₜ = W_fw h→ₜ + W_bw h←ₜ + c" in texts
    assert "∂Eₜ/∂h→ₜ = W_fwᵀ ∂Eₜ/∂zₜ" in texts and "∂Eₜ/∂h←ₜ = W_bwᵀ ∂Eₜ/∂zₜ" in texts
    assert "Eₜ = upₜᵀ hₜ" in texts and "∂E/∂hₜ = upₜ + Vᵀ δₜ₊₁" in texts  # the direction cell, driven by up_t
    assert [s.number for s in d.steps] == list(range(1, len(d.steps) + 1))


@pytest.mark.parametrize("argv,code,needle", [
    (["verify", "rnn", "--bidirectional", "--T", "3", "--truncate", "2"], 0, "∂E/∂W_bw"),
    (["verify", "jordan", "--bidirectional"], 2, "cannot make jordan bidirectional"),
    (["verify", "rnn", "--bidirectional", "--layers", "2"], 2, "not supported"),
    (["verify", "rnn", "--bidirectional", "--dtype", "float32"], 2, "float64"),
    (["derive", "gru-reset-after", "--bidirectional", "--wrt", "b_gh"], 0, "h←"),
    (["derive", REGRESSION, "--bidirectional", "--certify"], 0, "certificate PASS"),
])
def test_cli(argv, code, needle, capsys):
    rc = main(argv)
    out = capsys.readouterr()
    assert rc == code, out
    assert needle in out.out + out.err


def test_codegen_writes_a_standalone_module(tmp_path, capsys):
    path = tmp_path / "bi_rnn.py"
    assert main(["codegen", "rnn", "--bidirectional", "-o", str(path)]) == 0
    text = path.read_text()
    assert "the whole network (float64" in text and "NOT VERIFIED" not in text
    script = ("import numpy as np, bi_rnn as m; p = m.init_params(2, 3, 2); "
              "xs = np.random.default_rng(0).standard_normal((4, 2, 1)); "
              "E, g = m.loss_and_grads(p, xs, np.array([[0], [1], [-1], [1]])); print(sorted(g)[:3])")
    out = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(tmp_path)!r}); " + script],
                         capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "'U_bw', 'U_fw', 'V_bw'" in out.stdout


ONE_LAYER = ["rnn", "lstm", "lstm-peephole", "gru", "gru-reset-after",
             *[str(p) for p in sorted((CELLS_DIR / "examples").glob("*.cell"))]]


@pytest.mark.parametrize("spec", ONE_LAYER, ids=lambda s: s.rsplit("/", 1)[-1])
def test_each_direction_is_the_cell_itself(spec):
    """h→ is the one-direction cell's h with the _fw parameters, h← the cell's h on the reversed sequence."""
    from derive.codegen import generate as generate_cell

    one, bi = generate_cell(spec).module, generate(spec).module
    rng = np.random.default_rng(6)
    params = bi.init_params(3, 4, 2, rng=rng)
    xs = rng.standard_normal((4, 3, 2))
    out = bi.forward(params, xs)
    for d, x in (("fw", xs), ("bw", xs[::-1])):
        p1 = {k: params[f"{k}_{d}"] if f"{k}_{d}" in params else params[k] for k in one.PARAM_SHAPES}
        h = one.forward(p1, x)["h"]
        assert np.allclose(out[f"h_{d}"], h if d == "fw" else h[::-1], rtol=1e-14, atol=1e-15)
