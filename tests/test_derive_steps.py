"""Derivations: every built-in cell and parameter derives; the Elman T = 3 steps are the course's."""

from __future__ import annotations

import pytest

from derive import derive, load_cell
from derive.cellfile import BUILTIN, example_paths

CASES = [(name, p) for name in BUILTIN for p in load_cell(name).param_names]


@pytest.mark.parametrize("name,param", CASES)
def test_every_cell_every_parameter(name, param):
    d = derive(load_cell(name), wrt=(param,))
    grads = [s for s in d.steps if s.sides[0].__class__.__name__ == "Partial" and s.text().startswith(f"∂E/∂{param} =")]
    assert grads, "no gradient step"
    assert all(s.rule and s.justification for s in d.steps)
    assert [s.number for s in d.steps] == list(range(1, len(d.steps) + 1))


@pytest.fixture(scope="module")
def rnn3():
    return {s.number: s for s in derive(load_cell("rnn"), steps=3).steps}


def _texts(d):
    return [s.text() for s in d.values()] if isinstance(d, dict) else [s.text() for s in d.steps]


# The course's formulas (issue 3), as they must appear in the rnn T = 3 derivation.
COURSE = [
    "∂E₃/∂W = ∂E₃/∂ô₃ ∂ô₃/∂z₃ ∂z₃/∂W = (ô₃ − o₃) ⊗ h₃",
    "∂E₃/∂V = Σ_{k=0..3} ∂E₃/∂ô₃ ∂ô₃/∂h₃ ∂h₃/∂hₖ ∂hₖ/∂V",
    "∂h₃/∂hₖ = Π_{j=k+1..3} ∂hⱼ/∂hⱼ₋₁ = Π_{j=k+1..3} diag(1 − hⱼ²) V",
    "∂hⱼ/∂hⱼ₋₁ = ∂hⱼ/∂aⱼ ∂aⱼ/∂hⱼ₋₁ = diag(1 − hⱼ²) V",
    "δₖ⁽³⁾ = ∂E₃/∂aₖ",
    "δ₃⁽³⁾ = (1 − h₃²) ⊙ (Wᵀ (ô₃ − o₃))",
    "δ₂⁽³⁾ = (1 − h₂²) ⊙ (Vᵀ δ₃⁽³⁾)",
    "∂E₃/∂V = Σ_{k=1..3} δₖ⁽³⁾ hₖ₋₁ᵀ = δ₃⁽³⁾ h₂ᵀ + δ₂⁽³⁾ h₁ᵀ + δ₁⁽³⁾ h₀ᵀ",
    "∂E₃/∂U = Σ_{k=1..3} δₖ⁽³⁾ xₖᵀ = δ₃⁽³⁾ x₃ᵀ + δ₂⁽³⁾ x₂ᵀ + δ₁⁽³⁾ x₁ᵀ",
    "∂E₃/∂b = Σ_{k=1..3} δₖ⁽³⁾ = δ₃⁽³⁾ + δ₂⁽³⁾ + δ₁⁽³⁾",
    "∂h₀/∂θ = 0",
    "∂Eₜ/∂zₜ = ∂Eₜ/∂ôₜ ∂ôₜ/∂zₜ = ôₜ − oₜ",
    "δₜ = (1 − hₜ²) ⊙ ∂E/∂hₜ",
    "∂E/∂hₜ = Wᵀ ∂E/∂zₜ + Vᵀ δₜ₊₁",
    "∂E/∂V = Σ_{t=1..T} δₜ hₜ₋₁ᵀ",
]


@pytest.mark.parametrize("formula", COURSE)
def test_rnn_T3_shows_the_course_formulas(rnn3, formula):
    assert formula in _texts(rnn3)


def test_k0_term_vanishes_is_explained(rnn3):
    step = next(s for s in rnn3.values() if s.text() == "∂h₀/∂θ = 0")
    assert "k = 0 term vanishes" in step.justification
    assert step.rule == "initial state"


def test_rules_are_named(rnn3):
    rules = {s.rule for s in rnn3.values()}
    assert {"chain rule", "sum over time", "derivative of tanh", "softmax + cross-entropy", "δ recursion",
            "chain rule through time", "sum over paths"} <= rules


GATED = [
    ("lstm", "∂cₜ/∂cₜ₋₁ = diag(fₜ)", "cell-state carry"),
    ("lstm", "∂E/∂U_f = Σ_{t=1..T} δ_fₜ xₜᵀ", "sum over time"),
    ("lstm", "δ_fₜ = fₜ ⊙ (1 − fₜ) ⊙ ∂E/∂fₜ", "derivative of sigmoid"),
    ("lstm", "∂E/∂fₜ = cₜ₋₁ ⊙ ∂E/∂cₜ", "product rule"),
    ("lstm-peephole", "∂E/∂p_f = Σ_{t=1..T} cₜ₋₁ ⊙ δ_fₜ", "sum over time"),
    ("lstm-peephole", "∂E/∂p_q = Σ_{t=1..T} cₜ ⊙ δ_qₜ", "sum over time"),
    ("lstm-peephole", "∂cₜ/∂cₜ₋₁ = diag(fₜ) + diag(cₜ₋₁) diag(fₜ ⊙ (1 − fₜ)) diag(p_f) + "
                      "diag(gₜ) diag(iₜ ⊙ (1 − iₜ)) diag(p_i)", "total derivative"),
    ("gru", "∂E/∂rₜ = hₜ₋₁ ⊙ (V_gᵀ δ_gₜ)", "product rule"),
    ("gru", "∂a_gₜ/∂rₜ = V_g diag(hₜ₋₁)", "product rule"),
    ("gru-reset-after", "∂E/∂b_gh = Σ_{t=1..T} rₜ ⊙ δ_gₜ", "sum over time"),
]


@pytest.mark.parametrize("name,formula,rule", GATED)
def test_gated_cells_show_gate_terms(name, formula, rule):
    steps = {s.text(): s for s in derive(load_cell(name)).steps}
    assert formula in steps, "\n".join(steps)
    assert steps[formula].rule == rule


def test_truncation_restricts_the_sums():
    d = derive(load_cell("rnn"), steps=3, truncate=2)
    texts = _texts(d)
    assert "∂E₃/∂V = Σ_{k=2..3} δₖ⁽³⁾ hₖ₋₁ᵀ = δ₃⁽³⁾ h₂ᵀ + δ₂⁽³⁾ h₁ᵀ" in texts
    assert "∂E/∂V = Σ_{t=1..T} Σ_{k=max(1, t−1)..t} δₖ⁽ᵗ⁾ hₖ₋₁ᵀ" in texts
    assert not any(t.startswith("∂E/∂W = Σ_{t=1..T} Σ") for t in texts)  # the output layer is not truncated
    unrolled = [t for t in texts if t.startswith("∂E/∂V = δ")][-1]
    assert unrolled.count("+") == 4  # (t, k) pairs: (3,3) (3,2) (2,2) (2,1) (1,1)


def test_truncate_at_least_T_is_full_bptt():
    full = _texts(derive(load_cell("rnn"), steps=3))
    assert _texts(derive(load_cell("rnn"), steps=3, truncate=3)) == full


@pytest.mark.parametrize("T", [1, 2, 5, 8])
def test_unrolled_part_grows_linearly_in_T(T):
    d = derive(load_cell("lstm"), wrt=("V_f",), steps=T)
    base = len(derive(load_cell("lstm"), wrt=("V_f",), steps=1).steps)
    assert len(d.steps) == base  # the number of steps does not depend on T …
    unrolled = [s for s in d.steps if s.section.startswith("Unrolled")][0]
    assert unrolled.text().count("+") == T - 1  # … only the written-out sum has T terms


@pytest.mark.parametrize("T", [1, 2, 4])
def test_rnn_course_delta_recursion_has_T_steps(T):
    d = derive(load_cell("rnn"), steps=T)
    assert sum(s.rule in ("δ recursion", "derivative of tanh") and "⁽" in s.text() for s in d.steps) == T


@pytest.mark.parametrize("path", example_paths(), ids=lambda p: p.stem)
def test_examples_derive(path):
    assert derive(load_cell(path)).steps


def test_bad_arguments():
    cell = load_cell("rnn")
    with pytest.raises(ValueError, match="unknown parameter 'Q'"):
        derive(cell, wrt=("Q",))
    with pytest.raises(ValueError, match="at least 1"):
        derive(cell, steps=0)
    with pytest.raises(ValueError, match="at least 1"):
        derive(cell, truncate=0)


def test_public_api_doctests():
    import doctest

    import derive.program

    result = doctest.testmod(derive.program)
    assert result.attempted >= 3 and result.failed == 0
