"""Training: target masks, optimizers, clipping, initialisation, corpora, tasks and the `bptt train` command."""

from __future__ import annotations

import numpy as np
import pytest

from numeric import models
from numeric.gradcheck.objective import LoopObjective
from numeric.gradcheck.oracles import numerical_gradients

# ---- target masks: a target of −1 contributes no loss term (hand-written and generated models) ----------

MASKED_MODELS = ["rnn", "jordan", "lstm", "lstm-peephole", "gru", "gru-reset-after"]


def _masked_point(name: str, seed: int = 0):
    m = models.get(name)
    rng = np.random.default_rng(seed)
    params = m.init_params(3, 4, 5, rng=rng)
    xs = rng.standard_normal((6, 3, 2))
    targets = rng.integers(0, 5, (6, 2))
    targets[[0, 2, 3], 0] = -1  # masked steps in column 0, and the last step of column 1
    targets[5, 1] = -1
    return m, params, xs, targets


@pytest.mark.parametrize("name", MASKED_MODELS)
def test_masked_gradients_agree_with_complex_step(name):
    m, params, xs, targets = _masked_point(name)
    E, grads = m.loss_and_grads(params, xs, targets)
    names = [*params, "xs"]
    estimate = numerical_gradients(LoopObjective(m.loss, params, xs, targets, {}), names, "complex-step")
    for k in names:
        np.testing.assert_allclose(grads[k], estimate[k], rtol=1e-9, atol=1e-12, err_msg=k)


@pytest.mark.parametrize("name", MASKED_MODELS)
def test_masked_loss_is_the_sum_over_unmasked_steps(name):
    """E with a mask equals the unmasked per-step losses summed where the target is not −1."""
    m, params, xs, targets = _masked_point(name)
    full = np.where(targets < 0, 0, targets)
    # E_t per (t, b): the loss of the prefix up to t minus the prefix up to t − 1, by column
    per_step = np.zeros(targets.shape)
    for t in range(targets.shape[0]):
        for b in range(targets.shape[1]):
            keep = np.full(targets.shape, -1)
            keep[t, b] = full[t, b]
            per_step[t, b] = m.loss(params, xs, keep)
    np.testing.assert_allclose(m.loss(params, xs, targets), per_step[targets >= 0].sum(), rtol=1e-13)
    assert m.loss(params, xs, np.full(targets.shape, -1)) == 0


@pytest.mark.parametrize("name", MASKED_MODELS)
def test_generated_module_masks_like_the_hand_written_model(name):
    from derive.codegen import generate

    gen = generate(name).module
    m, params, xs, targets = _masked_point(name, seed=3)
    for truncate in (None, 2):
        E1, g1 = gen.loss_and_grads(params, xs, targets, truncate=truncate)
        E2, g2 = m.loss_and_grads(params, xs, targets, truncate=truncate)
        assert abs(E1 - E2) <= 1e-12 * abs(E2)
        for k in g2:
            np.testing.assert_allclose(g1[k], g2[k], rtol=1e-11, atol=1e-14, err_msg=k)


def test_targets_below_minus_one_are_rejected():
    from derive.codegen import generate

    m, params, xs, targets = _masked_point("rnn")
    targets[1, 1] = -2
    with pytest.raises(ValueError, match=r"or −1 \(no loss term\), got -2"):
        m.loss(params, xs, targets)
    with pytest.raises(ValueError, match=r"or -1 \(no loss term\), got -2"):
        generate("rnn").module.loss(params, xs, targets)
