"""Generated NumPy code (derive.codegen): agreement with the hand-written models, contract, dtype, bad input,
standalone-ness and the verification's power to fail."""

import ast
import inspect
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from derive.codegen import Generated, generate, load_source
from numeric import models
from numeric.gradcheck import relative_error
from numeric.gradcheck.verify import random_point
from reports.codegen_verify import verify_generated

CELLS = models.names()
_CACHE: dict = {}


def gen(name, bias=True) -> Generated:
    if (name, bias) not in _CACHE:
        _CACHE[name, bias] = generate(name, bias=bias)
    return _CACHE[name, bias]


def both(name, bias, sizes, dtype, seed, truncate):
    m, g = models.get(name, bias=bias), gen(name, bias).module
    pt = random_point(m, *sizes, dtype=dtype, seed=seed)
    ref = m.loss_and_grads(pt.params, pt.xs, pt.targets, truncate=truncate, **pt.state0)
    out = g.loss_and_grads(pt.params, pt.xs, pt.targets, truncate=truncate, **pt.state0)
    return ref, out


# cell × dtype × truncate × bias: generated vs hand-written, every gradient ("exact" tolerance)
CASES = [(c, d, k, b) for c in CELLS for d, k, b in
         [("float64", None, True), ("float64", 2, True), ("float64", None, False), ("float32", 3, True)]]


@pytest.mark.parametrize("cell, dtype, truncate, bias", CASES, ids=[f"{c}-{d}-k{k}-{'b' if b else 'nob'}"
                                                                    for c, d, k, b in CASES])
def test_generated_matches_hand_written(cell, dtype, truncate, bias):
    (E1, g1), (E2, g2) = both(cell, bias, (3, 4, 5, 6, 2), dtype, 3, truncate)
    assert set(g1) == set(g2)
    tol = 1e-12 if dtype == "float64" else 1e-5
    assert abs(float(E1) - float(E2)) <= tol * abs(float(E1))
    for k in g1:
        assert g2[k].shape == g1[k].shape and g2[k].dtype == np.dtype(dtype), k
        assert relative_error(g1[k], g2[k]) <= tol, (k, relative_error(g1[k], g2[k]))


@given(cell=st.sampled_from(["rnn", "lstm", "gru", "lstm-peephole"]), D=st.integers(1, 4), H=st.integers(1, 5),
       K=st.integers(2, 4), T=st.integers(1, 6), B=st.integers(1, 3), seed=st.integers(0, 2 ** 16),
       truncate=st.sampled_from([None, 1, 2, 5]))
def test_random_sizes_and_seeds(cell, D, H, K, T, B, seed, truncate):
    (_, g1), (_, g2) = both(cell, True, (D, H, K, T, B), "float64", seed, truncate)
    for k in g1:
        assert relative_error(g1[k], g2[k]) <= 1e-12, k


def test_contract_matches_numeric_models():
    for cell in CELLS:
        m, g = models.get(cell), gen(cell).module
        assert g.param_shapes(D=3, H=4, K=5) == m.param_shapes(D=3, H=4, K=5)
        assert g.initial_state_shapes(H=4, K=5, B=2) == m.initial_state_shapes(H=4, K=5, B=2)
        p1, p2 = m.init_params(3, 4, 5, np.random.default_rng(1)), g.init_params(3, 4, 5, np.random.default_rng(1))
        assert all(np.array_equal(p1[k], p2[k]) for k in p1)
        pt = random_point(m, 3, 4, 5, 3, 2, seed=0)
        assert float(g.loss(pt.params, pt.xs, pt.targets, **pt.state0)) == pytest.approx(
            float(m.loss(pt.params, pt.xs, pt.targets, **pt.state0)), rel=1e-13)


def test_default_initial_states_are_zeros_and_float32_stays_float32():
    g, m = gen("lstm").module, models.get("lstm")
    pt = random_point(m, 3, 4, 5, 3, 2, dtype="float32", seed=0)
    E, grads = g.loss_and_grads(pt.params, pt.xs, pt.targets)
    E_ref, _ = m.loss_and_grads(pt.params, pt.xs, pt.targets)
    assert E.dtype == np.float32 and all(v.dtype == np.float32 for v in grads.values())
    assert float(E) == pytest.approx(float(E_ref), rel=1e-5)


BAD = [
    (lambda p, x, t: ({**p, "V": p["V"][:, :2]}, x, t), "V: expected shape (H, H) with H=4"),
    (lambda p, x, t: ({**p, "U": p["U"][:, :1]}, x, t), "xs: expected shape (T, D=1, B)"),
    (lambda p, x, t: ({k: v for k, v in p.items() if k != "W"}, x, t), "missing ['W']"),
    (lambda p, x, t: (p, x[:, :2], t), "xs: expected shape (T, D=3, B)"),
    (lambda p, x, t: (p, x, t.astype(float)), "targets: expected a NumPy integer array"),
    (lambda p, x, t: (p, x, t + 5), "targets: expected class ids in [0, K=5)"),
    (lambda p, x, t: ({**p, "V": np.full_like(p["V"], np.nan)}, x, t), "V: expected finite values"),
    (lambda p, x, t: ({**p, "b": p["b"].astype(np.float32)}, x, t), "expected one precision"),
    (lambda p, x, t: (p, x.astype(int), t), "xs: expected a floating-point array"),
]


@pytest.mark.parametrize("spoil, message", BAD, ids=[m for _, m in BAD])
def test_bad_input_is_a_clear_value_error(spoil, message):
    g, m = gen("rnn").module, models.get("rnn")
    pt = random_point(m, 3, 4, 5, 3, 2, seed=0)
    with pytest.raises(ValueError, match=None) as err:
        g.loss_and_grads(*spoil(pt.params, pt.xs, pt.targets))
    assert message in str(err.value)


def test_bad_truncate_and_initial_state():
    g, m = gen("lstm").module, models.get("lstm")
    pt = random_point(m, 3, 4, 5, 3, 2, seed=0)
    with pytest.raises(ValueError, match="truncate: expected None or an integer >= 1"):
        g.loss_and_grads(pt.params, pt.xs, pt.targets, truncate=0)
    with pytest.raises(ValueError, match=r"c0: expected shape \(4, 2\)"):
        g.loss_and_grads(pt.params, pt.xs, pt.targets, c0=np.zeros((4, 3)))
    with pytest.raises(ValueError, match="unexpected \\['q0'\\]"):
        g.loss_and_grads(pt.params, pt.xs, pt.targets, q0=np.zeros((4, 2)))


def test_source_is_inspectable_and_commented():
    g = gen("lstm")
    src = inspect.getsource(g.module.loss_and_grads)
    assert "for t in reversed(range(T)):" in src
    # the equation above the statement, after the cell-file line it comes from
    assert re.search(r"# lstm\.cell:\d+  δ_f,t = f_t ⊙ \(1 − f_t\) ⊙ ∂E/∂f_t\n", src)
    assert "dh_prev = V.T @ da" in src  # one stacked product per step for the four gates
    assert "a_in = _each_step(U, xs) + b" in inspect.getsource(g.module._forward)  # input projections hoisted


def test_generated_file_imports_only_numpy():
    tree = ast.parse(gen("gru-reset-after").source)
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported == {"numpy"}


def test_generated_file_runs_in_a_fresh_interpreter_with_only_numpy(tmp_path):
    """python -I with sys.path = the output directory + a directory holding NumPy alone."""
    path = gen("lstm").write(tmp_path / "lstm_gen.py")
    site = tmp_path / "site"
    site.mkdir()
    numpy_site = os.path.dirname(os.path.dirname(np.__file__))
    for entry in os.listdir(numpy_site):
        if entry == "numpy" or entry.startswith("numpy.") or entry.startswith("numpy-"):
            os.symlink(os.path.join(numpy_site, entry), site / entry)
    stdlib = [p for p in sys.path if p and "site-packages" not in p and os.path.isdir(p)]
    code = ("import sys; sys.path[:] = %r\n"
            "import lstm_gen, numpy as np\n"
            "p = lstm_gen.init_params(3, 4, 5)\n"
            "E, g = lstm_gen.loss_and_grads(p, np.ones((2, 3, 1)), np.zeros((2, 1), int), truncate=1)\n"
            "print('OK', sorted(g)[:2])\n"
            "import sympy\n") % ([str(tmp_path), str(site)] + stdlib,)
    done = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)
    assert "OK ['U_f', 'U_g']" in done.stdout, done.stderr
    assert "No module named 'sympy'" in done.stderr  # the toolkit and SymPy were out of reach


def plant(g: Generated, old: str, new: str) -> Generated:
    assert old in g.source
    source = g.source.replace(old, new, 1)
    return Generated(g.name, g.origin, source, load_source(source, g.name), g.cell)


def test_a_planted_bug_is_caught():
    """dh_{t+1} not added (the classic): the verification fails and names the gradients."""
    bad = plant(gen("rnn"), "dh = dh_next + dh_in_t", "dh = dh_in_t")
    result = verify_generated(bad, runs=[("float64", (3, 4, 3, 4, 2), 0)], large=None)
    assert not result.passed
    failed = {c.name for r in result.runs for c in r.comparisons if not c.passed}
    assert {"V", "U", "h0"} <= failed


def test_user_cell_without_hand_written_model(tmp_path):
    cell = (gen("gru").cell.source)
    path = tmp_path / "mygru.cell"
    path.write_text("\n".join(cell).replace("cell gru", "cell mygru"))
    g = generate(str(path))
    result = verify_generated(g, runs=[("float64", (2, 3, 3, 3, 2), 0)], large=None)
    assert result.passed and not result.hand_written
    assert {c.oracle for r in result.runs for c in r.comparisons} == {"SymPy program", "complex-step", "central"}


def test_verification_of_every_cell_passes_with_truncation():
    for cell in ["lstm-peephole", "jordan"]:
        result = verify_generated(gen(cell), truncate=2, runs=[("float64", (2, 3, 3, 4, 2), 0)], large=None)
        assert result.passed, [str(c) for r in result.runs for c in r.comparisons if not c.passed]


EXAMPLES = __import__("derive.cellfile", fromlist=["example_paths"]).example_paths()


@pytest.mark.skipif(not EXAMPLES, reason="no example cells shipped under derive/cells/examples yet")
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_shipped_example_cells_generate_and_verify(path):
    """User cells go through the same path: generated, then checked by complex step and differences."""
    g = generate(str(path))
    for truncate in (None, 2):
        result = verify_generated(g, truncate=truncate, runs=[("float64", (2, 3, 3, 4, 2), 0)], large=None)
        assert result.passed, [str(c) for r in result.runs for c in r.comparisons if not c.passed]


@pytest.mark.parametrize("cell", [c for c in CELLS if c != "jordan"])
def test_generated_forward_matches_the_hand_written_forward(cell):
    """The generated module's public forward(): every step's states against numeric.models' forward tape."""
    m, g = models.get(cell), gen(cell).module
    pt = random_point(m, 3, 4, 5, 6, 2, seed=4)
    tape = m.forward(pt.params, pt.xs, **pt.state0)
    out = g.forward(pt.params, pt.xs, **pt.state0)
    assert relative_error(out["h"], tape.hs) <= 1e-13
    if "C" in out:
        assert relative_error(out["C"], tape.cs) <= 1e-13
    assert out["ohat"].shape == (6, 5, 2) and np.allclose(out["ohat"].sum(axis=1), 1)
