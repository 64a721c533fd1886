"""Hand-written BPTT against the oracles: the bars of the foundation issue.

Every model, random sizes (B ≤ 4, D ≤ 5, H ≤ 6, K ≤ 5, T ≤ 7), with and without biases, full and
truncated: complex step ≤ 1e-11 and central differences ≤ 1e-6 (norm-wise, float64); float32 agrees
with float64 to ≤ 1e-4.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from numeric import models
from numeric.gradcheck.verify import verify

sizes = st.fixed_dictionaries({
    "D": st.integers(1, 5), "H": st.integers(1, 6), "K": st.integers(2, 5), "T": st.integers(1, 7),
    "B": st.integers(1, 4),
})


def assert_verified(result, bars):
    assert result.comparisons, "nothing was compared"
    for c in result.comparisons:
        bar = bars.get(c.oracle)
        assert bar is not None, c.oracle
        assert c.error <= bar, str(c)


@pytest.mark.parametrize("name", models.names())
@given(sizes=sizes, seed=st.integers(0, 2**16), bias=st.booleans(), truncate=st.none() | st.integers(1, 8))
def test_float64_gradients_match_complex_step_and_differences(name, sizes, seed, bias, truncate):
    result = verify(name, **sizes, seed=seed, bias=bias, truncate=truncate,
                    oracles=("complex-step", "central"), directions=2)
    assert_verified(result, {"complex-step": 1e-11, "central": 1e-6, "directional": 1e-10})


@pytest.mark.parametrize("name", models.names())
@given(sizes=sizes, seed=st.integers(0, 2**16), truncate=st.none() | st.integers(1, 3))
def test_float32_gradients_match_float64(name, sizes, seed, truncate):
    result = verify(name, **sizes, seed=seed, dtype="float32", truncate=truncate, oracles=(), directions=0)
    assert_verified(result, {"float64": 1e-4})


@pytest.mark.parametrize("name", models.names())
def test_richardson_is_tighter_than_central_differences(name):
    """Richardson removes the O(ε²) term: measured ~1e-11 against central's ~1e-10 (tolerance table)."""
    result = verify(name, D=4, H=5, K=3, T=5, B=3, seed=11, oracles=("central", "richardson"), directions=0)
    assert result.passed
    worst = {o: max(c.error for c in result.comparisons if c.oracle == o) for o in ("central", "richardson")}
    assert worst["richardson"] < 1e-8
    assert worst["richardson"] < worst["central"]


@pytest.mark.parametrize("name", models.names())
def test_saturated_units_do_not_fail_a_correct_gradient(name):
    """Large weights saturate tanh and σ: many gradient entries are tiny. Correct code must still pass."""
    m = models.get(name)
    rng = np.random.default_rng(5)
    from numeric.gradcheck import StackedObjective, compare, numerical_gradient
    params = {k: 8 * v for k, v in m.init_params(4, 5, 3, rng=rng).items()}
    xs = 3 * rng.standard_normal((5, 4, 2))
    targets = rng.integers(0, 3, (5, 2))
    E, grads = m.loss_and_grads(params, xs, targets)
    objective = StackedObjective(m, params, xs, targets, {k: np.zeros(s) for k, s in m.initial_state_shapes(5, 3, 2).items()})
    for key, g in grads.items():
        for oracle in ("complex-step", "central"):
            c = compare(key, g, numerical_gradient(objective, key, oracle), oracle, np.float64, float(E))
            assert c.passed, str(c)
