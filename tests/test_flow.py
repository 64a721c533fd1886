"""`bptt flow`: Jacobian products against independent computations, the bound, and the LSTM's memory."""

from __future__ import annotations

import json

import numpy as np
import pytest

from numeric import flow, models
from reports.cli import main
from reports.flow_analysis import measure_flow
from reports.recurrence import load_recurrence

CELLS = ["rnn", "lstm", "lstm-peephole", "gru", "gru-reset-after",
         "derive/cells/examples/elman-course.cell", "derive/cells/examples/mgu.cell"]


@pytest.mark.parametrize("name", ["rnn", "lstm", "lstm-peephole", "gru", "gru-reset-after"])
@pytest.mark.parametrize("seed", [0, 1])
def test_closed_form_local_jacobians_equal_the_complex_step(name, seed):
    """The hand-derived ∂s_t/∂s_{t−1} against forward-mode differentiation of the hand-written forward pass."""
    m = models.get(name)
    rng = np.random.default_rng(seed)
    params = m.init_params(3, 5, 4, rng=rng)
    for p in ("p_f", "p_i", "p_q"):  # peepholes nonzero, so their terms are exercised
        if p in params:
            params[p] = 3 * params[p]
    xs = rng.standard_normal((7, 3, 1))
    state0 = {k: 0.5 * rng.standard_normal(s) for k, s in m.initial_state_shapes(5, 4, 1).items()}
    closed = flow.analytic_jacobians(name, params, m.forward(params, xs, **state0))
    stepped = flow.complex_step_jacobians(flow.model_runner(m), params, xs, state0)
    assert closed.shape == (7, 5 * len(state0), 5 * len(state0))
    assert flow.relative_error(closed, stepped) < 1e-13


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("factor", [0.5, 2.0])
def test_products_agree_with_complex_step_and_bptt_of_the_generated_code(cell, factor):
    run = measure_flow(load_recurrence(cell), D=3, H=6, K=4, T=20, init="xavier", seed=2, factor=factor,
                       check_lags=(1, 7, 20))
    assert run.passed, run.checks
    assert max(run.checks["complex step"].values()) <= 1e-10
    assert max(run.checks["BPTT"].values()) <= 1e-10
    resolved = run.checks["central differences"]
    assert resolved and max(resolved.values()) <= 1e-5  # central differences where they can resolve the norm


@pytest.mark.parametrize("init", ["xavier", "orthogonal", "normal"])
@pytest.mark.parametrize("norm", [0.5, 0.8, 0.95])
def test_rnn_never_exceeds_the_bound_and_decays_geometrically(init, norm):
    """Small scales (γ‖V‖₂ < 1): ‖∂h_T/∂h_k‖₂ ≤ (γ‖V‖₂)^{T−k}, shrinking by at least γ‖V‖₂ each step."""
    kw = dict(D=4, H=16, K=4, T=40, init=init, seed=0, check_lags=(1,))
    unscaled = measure_flow(load_recurrence("rnn"), **kw).flow.norm_V
    f = measure_flow(load_recurrence("rnn"), factor=norm / unscaled, **kw).flow
    assert f.norm_V == pytest.approx(norm)
    assert f.gamma == 1.0 and f.gamma * f.norm_V < 1, f.norm_V
    assert np.all(f.spectral <= f.bound * (1 + 1e-12))
    steps = f.spectral[1:] / f.spectral[:-1]
    assert np.all(steps <= f.gamma * f.norm_V * (1 + 1e-12))  # submultiplicativity, step by step
    slope = np.polyfit(f.lags[5:], np.log(f.spectral[5:]), 1)[0]
    assert slope < np.log(f.gamma * f.norm_V)  # geometric: a straight line on a log scale, below the bound


def test_lstm_with_forget_bias_keeps_the_gradient_orders_of_magnitude_above_the_rnn():
    """At lag 50, same size and scale, the LSTM's ‖∂E_T/∂h_k‖ is ≥ 1e6 times the RNN's."""
    kw = dict(D=8, H=32, K=8, T=60, init="xavier", seed=0, factor=0.5, check_lags=(1,))
    rnn = measure_flow(load_recurrence("rnn"), **kw).flow
    lstm = measure_flow(load_recurrence("lstm"), forget_bias=1.0, **kw).flow
    assert lstm.dE_dh[50] > 1e6 * rnn.dE_dh[50], (lstm.dE_dh[50], rnn.dE_dh[50])
    assert lstm.carry[50] > 1e-9  # the forget gates σ(≈1) ≈ 0.73 keep a product ~0.73^50


def test_sigmoid_elman_cell_uses_gamma_one_quarter(tmp_path):
    cell = tmp_path / "sig.cell"
    text = open("derive/cells/rnn.cell").read().replace("cell rnn", "cell sig").replace("h = tanh(a)",
                                                                                       "h = sigmoid(a)")
    cell.write_text(text)
    rec = load_recurrence(str(cell))
    assert rec.elman == ("V", 0.25)
    f = measure_flow(rec, D=3, H=8, K=3, T=15, init="xavier", seed=1, factor=2.0).flow
    assert np.all(f.spectral <= f.bound * (1 + 1e-12))


def test_cli_json_and_plot(tmp_path, capsys):
    plot = tmp_path / "flow.png"
    code = main(["flow", "rnn", "--models", "lstm", "--scale", "0.5,1", "--T", "12", "--H", "6",
                 "--json", "--plot", str(plot)])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["passed"]
    assert [(r["model"], r["scale"]) for r in doc["runs"]] == [("rnn", 0.5), ("rnn", 1.0), ("lstm", 0.5),
                                                               ("lstm", 1.0)]
    rnn = doc["runs"][0]
    assert len(rnn["spectral"]) == 13 and rnn["bound"][3] == pytest.approx((rnn["gamma"] * rnn["norm_V"]) ** 3)
    assert doc["runs"][2]["bound"] is None and doc["runs"][2]["carry"] is not None
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 20_000


def test_cli_table(capsys):
    assert main(["flow", "gru", "--radius", "0.9", "--T", "10", "--H", "5"]) == 0
    out = capsys.readouterr().out
    assert "‖∂E_T/∂h_k‖₂" in out and "Π gate" in out and "ρ=0.9" in out


@pytest.mark.parametrize("argv, message", [
    (["flow"], "expected MODEL|CELLFILE or --models"),
    (["flow", "nosuch.cell"], "nosuch.cell"),
    (["flow", "jordan"], "Jordan feeds back"),
    (["flow", "rnn", "--scale", "1", "--radius", "1"], "expected one of them"),
    (["flow", "rnn", "--plot", "x.pdf"], "expected a .png or .svg"),
])
def test_cli_unusable_input(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_cli_bad_scale_is_a_usage_error(capsys):
    assert main(["flow", "rnn", "--scale", "0,x"]) == 2


# ---- the derivation explains it ---------------------------------------------------------------------------

@pytest.mark.parametrize("cell, gamma_text", [("rnn", "(‖V‖₂)^(3−k)"), ("sigmoid", "(1/4 ‖V‖₂)^(3−k)")])
def test_derivation_has_the_norm_bound(cell, gamma_text, tmp_path):
    from derive import derivation
    from derive.cellfile import load

    if cell == "sigmoid":
        path = tmp_path / "sig.cell"
        path.write_text(open("derive/cells/rnn.cell").read().replace("cell rnn", "cell sig")
                        .replace("h = tanh(a)", "h = sigmoid(a)"))
        cell = str(path)
    steps = derivation.derive(load(cell)).steps
    rules = [s.rule for s in steps]
    product = rules.index("chain rule through time")
    assert rules[product + 1] == "norm bound"
    bound = steps[product + 1]
    derivative = "hⱼ ⊙ (1 − hⱼ)" if gamma_text.startswith("(1/4") else "1 − hⱼ²"
    assert bound.text() == f"‖∂h₃/∂hₖ‖₂ ≤ Π_{{j=k+1..3}} ‖diag({derivative})‖₂ ‖V‖₂ ≤ {gamma_text}"
    assert r"\leq" in bound.latex() and r"\right\|_{2}" in bound.latex()


def test_lstm_derivation_carries_the_memory_through_diag_f():
    from derive import derivation
    from derive.cellfile import load

    steps = derivation.derive(load("lstm")).steps
    carry = [s for s in steps if s.rule == "carry through time"]
    assert len(carry) == 1 and carry[0].text() == "∂c_{T}/∂cₖ = Π_{j=k+1..T} diag(fⱼ)"
    assert not any(s.rule == "norm bound" for s in steps)  # no single V: the Elman bound does not apply


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=12, deadline=None)
@given(name=st.sampled_from(["rnn", "lstm", "gru", "gru-reset-after"]), H=st.integers(1, 6), D=st.integers(1, 4),
       T=st.integers(1, 8), seed=st.integers(0, 10_000))
def test_products_equal_the_complex_step_over_the_whole_lag_at_random_sizes(name, H, D, T, seed):
    m = models.get(name)
    rng = np.random.default_rng(seed)
    params = m.init_params(D, H, 3, rng=rng)
    xs = rng.standard_normal((T, D, 1))
    state0 = {k: rng.standard_normal(s) for k, s in m.initial_state_shapes(H, 3, 1).items()}
    J = flow.analytic_jacobians(name, params, m.forward(params, xs, **state0))
    f = flow.measure(J, np.zeros(J.shape[1]), H)
    run = flow.model_runner(m)
    for k in (0, T - 1):
        direct = flow.jacobian_over_lag(run, params, xs, state0, k)
        assert flow.relative_error(f.products[T - k][:H, :H], direct) < 1e-12
