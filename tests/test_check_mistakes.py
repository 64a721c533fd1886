"""Case table: convention × model × mistake. Each mistake is planted alone into a correct example
(by editing its source text, independently of numeric.checking.mistakes); the checker must fail it and
name the planted mistake first. Plus the mutation engine against numeric.models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from numeric import models
from numeric.checking import backward, check, mistakes
from numeric.checking.demo import EXAMPLES

CS = "cs231n_correct.py"
RNN = "course_rnn_correct.py"
LSTM = "course_lstm_correct.py"
MC = "minchar_correct.py"

# (example, convention, model, mistake, [(old, new), ...])
# in-place changes (a warning unless --strict-inputs) and min-char-rnn's own clipping (a warning):
# tests/test_check_grading.py
TABLE = [
    (CS, "cs231n", "rnn", "dh-next-not-added",
     [("rnn_step_backward(dh[:, t] + dprev, cache[t])", "rnn_step_backward(dh[:, t], cache[t])")]),
    (CS, "cs231n", "rnn", "weight-grads-not-summed", [("        dWh += dWh_t\n", "        dWh = dWh_t\n")]),
    (CS, "cs231n", "rnn", "tanh-derivative-of-wrong-quantity",
     [("da = dnext_h * (1 - next_h ** 2)", "da = dnext_h * (1 - np.tanh(next_h) ** 2)")]),
    (CS, "cs231n", "rnn", "transposed-weight-gradient",
     [("prev_h.T @ da, da.sum(axis=0)\n\n\ndef rnn_forward", "(prev_h.T @ da).T, da.sum(axis=0)\n\n\ndef rnn_forward")]),
    (CS, "cs231n", "rnn", "mean-instead-of-sum",
     [("prev_h.T @ da, da.sum(axis=0)\n\n\ndef rnn_forward", "prev_h.T @ da, da.mean(axis=0)\n\n\ndef rnn_forward")]),
    (CS, "cs231n", "rnn", "clipping-in-backward",
     [("    return dx, dprev, dWx, dWh, db\n",
       "    for g in (dx, dprev, dWx, dWh, db):\n        np.clip(g, -5, 5, out=g)\n    return dx, dprev, dWx, dWh, db\n")]),
    (CS, "cs231n", "rnn", "truncated-bptt",
     [("    for t in reversed(range(T)):\n        dx[:, t], dprev,", "    for t in reversed(range(T)):\n        if (T - 1 - t) % 3 == 0:\n            dprev = dprev * 0\n        dx[:, t], dprev,")]),
    (CS, "cs231n", "lstm", "sigmoid-derivative-of-wrong-quantity", [("do * o * (1 - o)", "do * (1 - o)")]),
    (CS, "cs231n", "lstm", "tanh-derivative-of-wrong-quantity",
     [("dc = dnext_c + dnext_h * o * (1 - tc ** 2)", "dc = dnext_c + dnext_h * o * (1 - next_c ** 2)")]),
    (CS, "cs231n", "lstm", "gate-order",
     [("do * o * (1 - o), dg * (1 - g ** 2)])", "dg * (1 - g ** 2), do * o * (1 - o)])")]),
    (CS, "cs231n", "lstm", "dc-not-carried", [("dc = dnext_c + dnext_h", "dc = dnext_h")]),
    (CS, "cs231n", "lstm", "dc-missing-forget-factor", [("dc * f, x.T @ da", "dc, x.T @ da")]),
    (CS, "cs231n", "lstm", "dh-to-dc-path-missing",
     [("dc = dnext_c + dnext_h * o * (1 - tc ** 2)", "dc = dnext_c")]),
    (CS, "cs231n", "lstm", "dh-next-not-added",
     [("lstm_step_backward(dh[:, t] + dprev_h, dprev_c, cache[t])", "lstm_step_backward(dh[:, t], dprev_c, cache[t])")]),
    (RNN, "course", "rnn", "dh-next-not-added", [("dh = W.T @ dz + V.T @ delta_next", "dh = W.T @ dz")]),
    (RNN, "course", "rnn", "weight-grads-not-summed", [("dV += np.outer(delta, h_prev)", "dV = np.outer(delta, h_prev)")]),
    (RNN, "course", "rnn", "tanh-derivative-of-wrong-quantity", [("(1.0 - h[t] ** 2)", "(1.0 - h[t])")]),
    (RNN, "course", "rnn", "transposed-weight-gradient", [("np.outer(delta, h_prev)", "np.outer(h_prev, delta)")]),
    (RNN, "course", "rnn", "off-by-one-h-prev", [("dV += np.outer(delta, h_prev)", "dV += np.outer(delta, h[t])")]),
    (RNN, "course", "rnn", "mean-instead-of-sum", [("    return dU, dV, dW\n", "    return dU / T, dV / T, dW / T\n")]),
    (RNN, "course", "rnn", "clipping-in-backward",
     [("    return dU, dV, dW\n", "    return np.clip(dU, -1, 1), np.clip(dV, -1, 1), np.clip(dW, -1, 1)\n")]),
    (RNN, "course", "rnn", "truncated-bptt",
     [("    for t in reversed(range(T)):\n", "    for t in reversed(range(max(0, T - 4), T)):\n")]),
    (LSTM, "course", "lstm", "dc-missing-forget-factor", [("dc_next = dc * f", "dc_next = dc")]),
    (LSTM, "course", "lstm", "sigmoid-derivative-of-wrong-quantity", [('dc * cp * f * (1 - f)', 'dc * cp * (1 - f ** 2)')]),
    (LSTM, "course", "lstm", "dh-to-dc-path-missing", [("dc = dc_next + dh * q * (1 - tc ** 2)", "dc = dc_next")]),
    (LSTM, "course", "lstm", "gate-order", [('"g": dc * i * (1 - g ** 2), "q"', '"q": dc * i * (1 - g ** 2), "g"')]),
    (MC, "min-char-rnn", None, "dh-next-not-added", [("dh = np.dot(Why.T, dy) + dhnext", "dh = np.dot(Why.T, dy)")]),
    (MC, "min-char-rnn", None, "tanh-derivative-of-wrong-quantity",
     [("dhraw = (1 - hs[t] * hs[t]) * dh", "dhraw = (1 - np.tanh(hs[t]) ** 2) * dh")]),
    (MC, "min-char-rnn", None, "weight-grads-not-summed", [("dWhh += np.dot(dhraw, hs[t - 1].T)", "dWhh = np.dot(dhraw, hs[t - 1].T)")]),
    (MC, "min-char-rnn", None, "off-by-one-h-prev", [("dWhh += np.dot(dhraw, hs[t - 1].T)", "dWhh += np.dot(dhraw, hs[t].T)")]),
    (MC, "min-char-rnn", None, "sign-flipped", [("dy[targets[t]] -= 1  # backprop into y", "dy[targets[t]] -= 1\n        dy = -dy")]),
    (CS, "cs231n", "rnn", "sign-flipped", [("    return dx, dprev, dWx, dWh, db\n", "    return dx, dprev, -dWx, dWh, db\n")]),
    (RNN, "course", "rnn", "sign-flipped", [("dz[o[t]] -= 1.0", "dz[o[t]] -= 1.0\n        dz = -dz")]),
]


def _plant(tmp_path: Path, example: str, edits) -> Path:
    src = (EXAMPLES / example).read_text()
    for old, new in edits:
        assert old in src, f"edit target not found in {example}: {old!r}"
        src = src.replace(old, new, 1)
    path = tmp_path / f"planted_{example}"
    path.write_text(src)
    return path


@pytest.mark.parametrize("example, convention, model, mistake, edits", TABLE,
                         ids=[f"{c}-{m or 'rnn'}-{k}" for _e, c, m, k, _d in TABLE])
def test_planted_mistake_fails_and_is_named(tmp_path, example, convention, model, mistake, edits):
    path = _plant(tmp_path, example, edits)
    report = check(path, convention, model, numerical=False)
    failed = [t for t in report.tests if not t.passed]
    assert failed, f"{mistake} planted but every test passed"
    tops = [t.diagnosis[0].mistake for t in failed if t.diagnosis]
    assert mistake in tops, f"planted {mistake}, diagnosed {[(t.name, t.diagnosis) for t in failed]}"


@pytest.mark.parametrize("name", mistakes.MODELS)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("truncate", [None, 2, 3])
def test_engine_without_mistake_is_the_reference(name, bias, truncate):
    rng = np.random.default_rng(7)
    m = models.get(name, bias=bias)
    params = m.init_params(3, 4, 5, rng=rng)
    xs, targets = rng.standard_normal((6, 3, 2)), rng.integers(0, 5, (6, 2))
    h0 = rng.standard_normal((4, 2))
    c0 = rng.standard_normal((4, 2)) if name.startswith("lstm") else None
    states = {"c0": c0} if c0 is not None else {}
    E, grads = m.loss_and_grads(params, xs, targets, h0=h0, truncate=truncate, **states)
    variant = next(v for v in mistakes.variants(name, 6, False)
                   if v.label == f"each loss term goes back at most {truncate} steps") if truncate else None
    got = mistakes.run(name, params, xs, h0, c0, targets=targets, variant=variant)
    assert abs(float(got["E"]) - float(E)) < 1e-12
    for key, value in grads.items():
        np.testing.assert_allclose(got[key], value, rtol=1e-10, atol=1e-13, err_msg=key)


@pytest.mark.parametrize("name", mistakes.MODELS)
def test_every_engine_variant_changes_something(name):
    rng = np.random.default_rng(3)
    m = models.get(name)
    params = m.init_params(3, 4, 5, rng=rng)
    xs, h0 = rng.standard_normal((6, 3, 2)), rng.standard_normal((4, 2))
    c0 = rng.standard_normal((4, 2)) if name.startswith("lstm") else None
    dhs = 30 * rng.standard_normal((6, 4, 2))
    dcl = rng.standard_normal((4, 2)) if name.startswith("lstm") else None
    big = 100 * dhs  # a clipping threshold only bites on large enough gradients
    bases = [mistakes.run(name, params, xs, h0, c0, dhs=d, dc_last=dcl) for d in (dhs, big)]
    for variant in mistakes.variants(name, 6, upstream=True):
        clip = variant.mistake == "clipping-in-backward"
        got = mistakes.run(name, params, xs, h0, c0, dhs=big if clip else dhs, dc_last=dcl, variant=variant)
        base = bases[clip]
        assert any(got[k].shape != base[k].shape or not np.allclose(got[k], base[k]) for k in base), variant


def test_the_docs_table_lists_every_registered_mistake():
    docs = (Path(__file__).parents[1] / "docs" / "checking.md").read_text()
    table = docs[docs.index("## Diagnosis: the known mistakes"):docs.index("## The sandbox")]
    rows = {line.split("`")[1] for line in table.splitlines() if line.startswith("| `")}
    assert rows == set(mistakes.REGISTRY)


def test_every_documented_identifier_has_a_description():
    documented = {"dh-next-not-added", "weight-grads-not-summed", "tanh-derivative-of-wrong-quantity",
                  "sigmoid-derivative-of-wrong-quantity", "transposed-weight-gradient", "gate-order",
                  "dc-not-carried", "dc-missing-forget-factor", "dh-to-dc-path-missing", "truncated-bptt",
                  "mean-instead-of-sum", "off-by-one-h-prev", "mutates-upstream-gradient", "clipping-in-backward"}
    assert documented <= set(mistakes.MISTAKES)


@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(mistakes.MODELS), T=st.integers(1, 6), D=st.integers(1, 4), H=st.integers(1, 4),
       B=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_engine_matches_the_reference_backward_on_random_sizes(name, T, D, H, B, seed):
    rng = np.random.default_rng(seed)
    m = models.get(name)
    params = m.init_params(D, H, 2, rng=rng)
    xs, h0, dhs = rng.standard_normal((T, D, B)), rng.standard_normal((H, B)), rng.standard_normal((T, H, B))
    c0 = rng.standard_normal((H, B)) if name.startswith("lstm") else None
    dcl = rng.standard_normal((H, B)) if name.startswith("lstm") else None
    tape = m.forward(params, xs, h0=h0, **({"c0": c0} if c0 is not None else {}))
    want = m.backward(params, tape, dhs, dc_last=dcl)
    got = mistakes.run(name, params, xs, h0, c0, dhs=dhs, dc_last=dcl)
    for key, value in want.items():
        np.testing.assert_allclose(got[key], value, rtol=1e-10, atol=1e-12, err_msg=key)


# ------------------------------------------------------------------------------------------ GRU, peephole LSTM
# Mistakes planted into the course-convention GRU (both forms) and peephole LSTM of tests/_gated_submissions.py,
# written for these tests; the diagnosis must name each one first (they had no mutated backward before).

from _gated_submissions import GRU_CHO, GRU_RESET_AFTER, LSTM_PEEPHOLE  # noqa: E402

GATED = [  # (source, model, mistake, [(old, new), ...])
    (GRU_CHO, "gru", "dh-next-not-added", [('dh = P["W"].T @ dz + dh_next', 'dh = P["W"].T @ dz')]),
    (GRU_CHO, "gru", "sigmoid-derivative-of-wrong-quantity",
     [("du = dh * (hp - g) * u * (1 - u)", "du = dh * (hp - g) * (1 - u)")]),
    (GRU_CHO, "gru", "tanh-derivative-of-wrong-quantity", [("(1 - u) * (1 - g ** 2)", "(1 - u) * (1 - g)")]),
    (GRU_CHO, "gru", "truncated-bptt", [("for t in reversed(range(T)):", "for t in reversed(range(T - 3, T)):")]),
    (GRU_CHO, "gru", "sign-flipped", [("dz[o[t]] -= 1\n", "dz[o[t]] -= 1\n        dz = -dz\n")]),
    (GRU_CHO, "gru", "recurrent-weight-not-transposed",
     [('P["V_g"].T @ dg', 'P["V_g"] @ dg'), ('P["V_r"].T @ dr + P["V_u"].T @ du', 'P["V_r"] @ dr + P["V_u"] @ du')]),
    (GRU_CHO, "gru", "off-by-one-h-prev",
     [('grads["V_r"] += np.outer(dr, hp)', 'grads["V_r"] += np.outer(dr, hs[t])'),
      ('grads["V_u"] += np.outer(du, hp)', 'grads["V_u"] += np.outer(du, hs[t])'),
      ('grads["V_g"] += np.outer(dg, r * hp)', 'grads["V_g"] += np.outer(dg, r * hs[t])')]),
    (GRU_CHO, "gru", "clipping-in-backward",
     [("    return grads\n", "    return {k: np.clip(v, -0.5, 0.5) for k, v in grads.items()}\n")]),
    (GRU_RESET_AFTER, "gru-reset-after", "dh-next-not-added", [("dh = P[\"W\"].T @ dz + carry", "dh = P[\"W\"].T @ dz")]),
    (GRU_RESET_AFTER, "gru-reset-after", "sigmoid-derivative-of-wrong-quantity",
     [("dr = dg * n * r * (1 - r)", "dr = dg * n * r")]),
    (GRU_RESET_AFTER, "gru-reset-after", "tanh-derivative-of-wrong-quantity",
     [("dg = dh * (1 - u) * (1 - g * g)", "dg = dh * (1 - u) * (1 - np.tanh(g) ** 2)")]),
    (GRU_RESET_AFTER, "gru-reset-after", "weight-grads-not-summed",
     [('grads["W"] += np.outer(dz, h)', 'grads["W"] = np.outer(dz, h)')]),
    (GRU_RESET_AFTER, "gru-reset-after", "mean-instead-of-sum",
     [("    return grads\n", "    return {k: v / T for k, v in grads.items()}\n")]),
    (LSTM_PEEPHOLE, "lstm-peephole", "dh-next-not-added", [('dh = P["W"].T @ dz + dh_next', 'dh = P["W"].T @ dz')]),
    (LSTM_PEEPHOLE, "lstm-peephole", "dc-missing-forget-factor",
     [("dc_next = dc * f + pf", "dc_next = dc + pf")]),
    (LSTM_PEEPHOLE, "lstm-peephole", "dc-not-carried",
     [("dc = dc_next + dh * q", "dc = dh * q")]),
    (LSTM_PEEPHOLE, "lstm-peephole", "tanh-derivative-of-wrong-quantity",
     [("dh * q * (1 - tc ** 2)", "dh * q * (1 - c ** 2)")]),
    (LSTM_PEEPHOLE, "lstm-peephole", "sigmoid-derivative-of-wrong-quantity",
     [('"f": dc * cp * f * (1 - f)', '"f": dc * cp * (1 - f ** 2)')]),
    (LSTM_PEEPHOLE, "lstm-peephole", "off-by-one-h-prev", [('"f": dc * cp * f', '"f": dc * c * f')]),
    (LSTM_PEEPHOLE, "lstm-peephole", "gate-order",
     [('"g": dc * i * (1 - g ** 2), "q": dq}', '"q": dc * i * (1 - g ** 2), "g": dq}')]),
    (LSTM_PEEPHOLE, "lstm-peephole", "sign-flipped",
     [('    grads["p_f"], grads["p_i"], grads["p_q"] = (v.reshape(-1, 1) for v in (dpf, dpi, dpq))\n',
       '    grads["p_f"], grads["p_i"], grads["p_q"] = (-v.reshape(-1, 1) for v in (dpf, dpi, dpq))\n')]),
]


@pytest.mark.parametrize("source, model, mistake, edits", GATED,
                         ids=[f"{m}-{k}" for _s, m, k, _e in GATED])
def test_gated_models_planted_mistake_is_named(tmp_path, source, model, mistake, edits):
    for old, new in edits:
        assert old in source, f"edit target not found: {old!r}"
        source = source.replace(old, new, 1)
    path = tmp_path / f"{model}.py"
    path.write_text(source)
    report = check(path, "course", model, numerical=False)
    failed = [t for t in report.tests if not t.passed]
    assert failed, f"{mistake} planted but every test passed"
    tops = [t.diagnosis[0].mistake for t in failed if t.diagnosis]
    assert mistake in tops, f"planted {mistake}, diagnosed {[(t.name, t.diagnosis) for t in failed]}"


@pytest.mark.parametrize("source, model", [(GRU_CHO, "gru"), (GRU_RESET_AFTER, "gru-reset-after"),
                                           (LSTM_PEEPHOLE, "lstm-peephole")])
def test_gated_fixtures_are_correct(tmp_path, source, model):
    path = tmp_path / f"{model}.py"
    path.write_text(source)
    assert check(path, "course", model, numerical=False).passed


def test_registry_entries_are_complete():
    for mistake in mistakes.REGISTRY.values():
        assert mistake.description and mistake.step and mistake.reproduced, mistake.id
        kinds = [mistake.variants is not None, mistake.posthoc is not None, mistake.reproduced.startswith("observed")]
        assert any(kinds), f"{mistake.id}: neither reproduced nor observed"
    assert {"mutates-input", "mutates-upstream-gradient", "sign-flipped"} <= set(mistakes.MISTAKES)
    for model in mistakes.MODELS:  # every engine variant names a registered mistake and only known steps
        for variant in mistakes.variants(model, 5, upstream=True):
            assert variant.mistake in mistakes.REGISTRY
            assert all(step in backward.STEPS for step, _fn in variant.hooks), variant


def test_sign_flip_variant_is_minus_the_reference():
    rng = np.random.default_rng(5)
    m = models.get("gru")
    params = m.init_params(3, 4, 5, rng=rng)
    xs, targets, h0 = rng.standard_normal((5, 3, 2)), rng.integers(0, 5, (5, 2)), rng.standard_normal((4, 2))
    flip = next(v for v in mistakes.variants("gru", 5, False) if v.mistake == "sign-flipped")
    right = mistakes.run("gru", params, xs, h0, targets=targets)
    wrong = mistakes.run("gru", params, xs, h0, targets=targets, variant=flip)
    for name in list(params) + ["xs", "h0"]:
        np.testing.assert_array_equal(wrong[name], -right[name])
    assert float(wrong["E"]) == float(right["E"])


def test_numerical_gradient_in_backward_is_a_declared_entry():
    """It used to be described only in policy.py; now it is one REGISTRY entry like every other (observed:
    the policy names it from a call that did not finish the large probe)."""
    entry = mistakes.REGISTRY["numerical-gradient-in-backward"]
    assert entry.reproduced.startswith("observed") and entry.variants is None and entry.posthoc is None
    assert entry.description == mistakes.MISTAKES["numerical-gradient-in-backward"]
