"""derive.lambdify: in-memory loss / loss_and_grads by sympy.lambdify with the project's printer, against
the written module (bptt codegen) — ≤ 1e-15 relative on every built-in model, with and without biases,
full and truncated — and on cells outside the built-ins."""

from pathlib import Path

import numpy as np
import pytest

from derive import lambdify
from derive.codegen import generate
from numeric import models
from numeric.gradcheck.verify import random_point

HELD_OUT = Path(__file__).parent / "heldout_cells"


def rel(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)


def agree(spec, bias, truncate, seed=3, dims=None):
    f, m = lambdify(spec, bias=bias), generate(spec, bias=bias).module
    pt = random_point(m, 3, 4, 3, 5, 2, seed=seed, dims=dims)
    E1, g1 = f.loss_and_grads(pt.params, pt.xs, pt.targets, truncate=truncate, **pt.state0)
    E2, g2 = m.loss_and_grads(pt.params, pt.xs, pt.targets, truncate=truncate, **pt.state0)
    assert set(g1) == set(g2)
    assert abs(float(E1) - float(E2)) <= 1e-15 * abs(float(E2))
    assert abs(float(f.loss(pt.params, pt.xs, pt.targets, **pt.state0)) - float(E2)) <= 1e-15 * abs(float(E2))
    return max(rel(g1[k], g2[k]) for k in g2)


@pytest.mark.parametrize("truncate", [None, 2])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("name", models.names())
def test_lambdify_agrees_with_the_written_module_on_every_builtin(name, bias, truncate):
    assert agree(name, bias, truncate) <= 1e-15


@pytest.mark.parametrize("path", sorted(HELD_OUT.glob("*.cell")), ids=lambda p: p.stem)
def test_lambdify_agrees_on_cells_outside_the_builtins(path):
    assert agree(str(path), True, None, dims={"S": 2}) <= 1e-14


def test_lambdify_gradient_that_cancels_is_zero(tmp_path):
    cell = tmp_path / "cancel.cell"
    cell.write_text(open(HELD_OUT / "no-readout.cell").read().replace(
        "h = tanh(U @ x + V @ h_prev + b)", "h = tanh(U @ x + V @ h_prev + b - b)"))
    f = lambdify(str(cell))
    pt = random_point(generate(str(cell)).module, 3, 4, 3, 4, 2)
    _, g = f.loss_and_grads(pt.params, pt.xs, pt.targets, **pt.state0)
    assert not g["b"].any()
