"""The oracles themselves: stacking is exact, the checks can fail, and failures are localised."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from numeric import models
from numeric.gradcheck import (LoopObjective, StackedObjective, compare, directional_derivatives,
                               numerical_gradient, relative_error, tolerance)
from numeric.gradcheck.verify import random_point
from numeric.perturb import Perturbed, stack_rows


@given(m=st.integers(1, 5), n=st.integers(1, 5), P=st.integers(1, 6), B=st.integers(1, 3),
       lead=st.integers(0, 2), seed=st.integers(0, 1000))
def test_perturbed_matmul_equals_one_product_per_copy(m, n, P, B, lead, seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n))
    rows, cols = rng.integers(0, m, P), rng.integers(0, n, P)
    steps = rng.standard_normal(P)
    v = rng.standard_normal((*(2,) * lead, n, P * B))
    got = Perturbed(A, rows, cols, steps, B) @ v
    for p in range(P):
        Ap = A.copy()
        Ap[rows[p], cols[p]] += steps[p]
        np.testing.assert_allclose(got[..., p * B:(p + 1) * B], Ap @ v[..., p * B:(p + 1) * B], rtol=1e-13, atol=1e-13)


def test_perturbed_column_vector_is_used_elementwise():
    b = np.arange(3.0)[:, None]
    p = Perturbed(b, np.array([0, 2]), np.array([0, 0]), np.array([10.0, 20.0]), B=2)
    dense = np.zeros((3, 4)) + p
    np.testing.assert_array_equal(dense, [[10, 10, 0, 0], [1, 1, 1, 1], [2, 2, 22, 22]])
    with pytest.raises(TypeError, match="column-vector"):
        Perturbed(np.zeros((2, 2)), np.array([0]), np.array([0]), np.array([1.0]), 1).dense()


def test_stack_rows_offsets_the_perturbed_block():
    a, b = np.ones((2, 3)), np.zeros((4, 3))
    p = stack_rows([a, Perturbed(b, np.array([1]), np.array([2]), np.array([5.0]), 1)])
    assert isinstance(p, Perturbed) and p.base.shape == (6, 3) and p.rows.tolist() == [3]


@pytest.mark.parametrize("name", models.names())
def test_stacked_and_loop_objectives_agree(name):
    """The vectorised evaluation is the same function as calling the loss once per entry."""
    m = models.get(name)
    pt = random_point(m, 3, 4, 3, 4, 2, seed=7)
    stacked = StackedObjective(m, pt.params, pt.xs, pt.targets, pt.state0, max_columns=6)  # forces chunks
    loop = LoopObjective(m.loss, pt.params, pt.xs, pt.targets, pt.state0)
    for arg in [next(iter(pt.params)), "W", "xs", *pt.state0]:
        n = stacked.args[arg].size
        entries = np.arange(n)
        for steps in (np.full(n, 1e-3), np.full(n, 1e-20j)):
            np.testing.assert_allclose(stacked.values(arg, entries, steps), loop.values(arg, entries, steps),
                                       rtol=1e-13, err_msg=f"{arg} {steps.dtype}")


def test_loop_objective_gives_the_same_gradient_estimates():
    m = models.get("gru")
    pt = random_point(m, 2, 3, 3, 3, 2, seed=8)
    loop = LoopObjective(m.loss, pt.params, pt.xs, pt.targets, pt.state0)
    stacked = StackedObjective(m, pt.params, pt.xs, pt.targets, pt.state0)
    for oracle in ("complex-step", "central", "richardson"):
        np.testing.assert_allclose(numerical_gradient(loop, "V_g", oracle), numerical_gradient(stacked, "V_g", oracle),
                                   rtol=1e-9)


@pytest.mark.parametrize("oracle", ["complex-step", "central", "richardson"])
def test_a_wrong_entry_fails_and_is_located(oracle):
    m = models.get("lstm")
    pt = random_point(m, 3, 4, 3, 5, 2, seed=9)
    E, grads = m.loss_and_grads(pt.params, pt.xs, pt.targets, **pt.state0)
    wrong = grads["V_i"].copy()
    wrong[2, 1] *= 1.5  # a plausible bug: one entry off by half
    objective = StackedObjective(m, pt.params, pt.xs, pt.targets, pt.state0)
    c = compare("V_i", wrong, numerical_gradient(objective, "V_i", oracle), oracle, np.float64, float(E))
    assert not c.passed
    assert c.worst_index == (2, 1)
    assert c.ratio == pytest.approx(1.5, rel=1e-4)
    assert "MISMATCH" in str(c) and "(2, 1)" in str(c)


def test_directional_test_sees_a_wrong_gradient():
    m = models.get("rnn")
    pt = random_point(m, 3, 4, 3, 5, 2, seed=10)
    _, grads = m.loss_and_grads(pt.params, pt.xs, pt.targets, **pt.state0)
    objective = StackedObjective(m, pt.params, pt.xs, pt.targets, pt.state0)
    good = directional_derivatives(objective, grads, 2)
    bad = directional_derivatives(objective, {**grads, "V": grads["V"].T.copy()}, 2)  # transposed dV
    assert all(relative_error(a, n) < 1e-12 for a, n in good)
    assert all(relative_error(a, n) > 1e-4 for a, n in bad)


def test_relative_error_definition():
    assert relative_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0  # 0/0 is agreement, not NaN
    assert relative_error(np.array([1.0]), np.array([-1.0])) == pytest.approx(1.0)
    assert relative_error(np.array([3.0]), np.array([1.0])) == pytest.approx(0.5)
    assert relative_error(np.array([1e-12]), np.array([0.0]), floor=1.0) < 1e-11  # noise floor


def test_tolerance_table_errors():
    assert tolerance(np.float64, "complex-step").rtol <= 1e-11
    assert tolerance(np.complex64, "central") == tolerance(np.float32, "central")
    with pytest.raises(ValueError, match="dtype: expected float32 or float64, got float16"):
        tolerance(np.float16, "central")
    with pytest.raises(ValueError, match="oracle: expected one of"):
        tolerance(np.float64, "forward")
    with pytest.raises(ValueError, match="analytic gradient has shape"):
        compare("V", np.zeros(2), np.zeros(3), "central", np.float64)


@given(P=st.integers(1, 4), B=st.integers(1, 3), seed=st.integers(0, 1000))
def test_tiled_inputs_behave_like_their_dense_copy(P, B, seed):
    from numeric.perturb import Tiled

    rng = np.random.default_rng(seed)
    xs = rng.standard_normal((3, 2, B))
    tiled, dense = Tiled(xs, P), np.tile(xs, (1, 1, P))
    U, b = rng.standard_normal((4, 2)), rng.standard_normal((4, 1))
    full = rng.standard_normal((4, P * B))
    assert tiled.shape == dense.shape
    as_dense = lambda a: a.dense() if isinstance(a, Tiled) else a  # noqa: E731 (P·B = 1 gives a plain array)
    np.testing.assert_allclose(as_dense(U @ tiled + b), U @ dense + b)
    np.testing.assert_allclose((U @ tiled)[1] + full, (U @ dense)[1] + full)
    np.testing.assert_allclose(tiled[0:2].dense(), dense[0:2])
    pert = Perturbed(U, rng.integers(0, 4, P), rng.integers(0, 2, P), rng.standard_normal(P), B)
    np.testing.assert_allclose(pert @ tiled, pert @ dense, rtol=1e-13, atol=1e-13)
    with pytest.raises(IndexError):
        tiled[0, 0, 0]
