"""Derivations: every built-in cell and parameter derives; the Elman T = 3 steps are the course's."""

from __future__ import annotations

import pytest
import sympy
from sympy.printing.latex import LatexPrinter as SympyLatexPrinter
from sympy.printing.str import StrPrinter

from derive import derive, load_cell
from derive.cellfile import BUILTIN, example_paths
from derive.derivation import T_, Step
from derive.notation import (AbsVal, Equals, Fn, Geq, Had, LatexPrinter, Leq, Neg, Norm, Paren, Partial, PartialOp,
                             Power, Prime, Prose, Q, Sq, SumOver, Tr, TSum, UnicodePrinter, latex, plus, times,
                             unicode)

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


# --------------------------------------------------------------------------------------------------
# One notation system: the printers, the δ rule, justifications built from display nodes

t, k = sympy.symbols("t k", integer=True)

PRINTED = [  # display node, Unicode printer, LaTeX printer
    (Q("h", t - 1), "hₜ₋₁", "h_{t - 1}"),
    (Q("a_f", t), "a_fₜ", "a_{f,t}"),
    (Q("delta", k, 3), "δₖ⁽³⁾", r"\delta_{k}^{(3)}"),
    (Q("h", T_ + 1), "h_{T+1}", "h_{T + 1}"),
    (Partial(Q("E"), Q("ohat", t)), "∂E/∂ôₜ", r"\frac{\partial E}{\partial \hat{o}_{t}}"),
    (PartialOp(Q("z", 1)), "∂/∂z₁", r"\frac{\partial}{\partial z_{1}}"),
    (Had(Sq(Q("h", t)), plus(Q("ohat", t), Neg(Q("o", t)))), "hₜ² ⊙ (ôₜ − oₜ)",
     r"h_{t}^{2} \odot \left(\hat{o}_{t} - o_{t}\right)"),
    (times(Tr(Q("W")), Q("delta", t)), "Wᵀ δₜ", r"W^{\top}\,\delta_{t}"),
    (Tr(Paren(Partial(Q("a", 3), Q("h", 2)))), "(∂a₃/∂h₂)ᵀ",
     r"\left(\frac{\partial a_{3}}{\partial h_{2}}\right)^{\top}"),
    (TSum(Q("E", t), t, 1, T_), "Σ_{t=1..T} Eₜ", r"\sum_{t=1}^{T} E_{t}"),
    (SumOver(Q("delta", k, t), t >= k), "Σ_{t≥k} δₖ⁽ᵗ⁾", r"\sum_{t \geq k} \delta_{k}^{(t)}"),
    (Fn("softmax", Q("z"), k), "softmaxₖ(z)", r"\operatorname{softmax}_{k}\left(z\right)"),
    (Fn("sigmoid", Q("a_f", t)), "σ(a_fₜ)", r"\sigma\left(a_{f,t}\right)"),
    (Leq(AbsVal(Prime("tanh")), Equals(Q("gamma"), 1)), "|tanh′| ≤ γ = 1",
     r"\left|\tanh'\right| \leq \gamma = 1"),
    (Geq(k, 2), "k ≥ 2", r"k \geq 2"),
    (Power(Norm(Q("V")), 3 - k), "(‖V‖₂)^(3−k)", r"\left(\left\|V\right\|_{2}\right)^{3 - k}"),
    (Q("yhat", t), "ŷₜ", r"\hat{y}_{t}"),
]


@pytest.mark.parametrize("node,text,tex", PRINTED, ids=[p[1] for p in PRINTED])
def test_the_two_printers(node, text, tex):
    assert unicode(node) == text == str(node)
    assert latex(node) == tex == sympy.latex(node)


def test_printers_are_sympy_printers():
    assert issubclass(UnicodePrinter, StrPrinter) and issubclass(LatexPrinter, SympyLatexPrinter)
    from derive.codegen.notation import _DisplayPrinter

    assert issubclass(_DisplayPrinter, UnicodePrinter)  # the comments of generated code use the same printer


ODD_CELL = """# A cell whose pre-activation is not called a, and whose a_x is not a pre-activation.
cell odd
dims D H K

input  x : D
target o : K
param  U : H x D
param  V : H x H
param  W : K x H
state  h : H init h0

a_x = U @ x
s = a_x + V @ h_prev
h = tanh(s)
z = W @ h
ohat = softmax(z)
loss cross_entropy(ohat, o)
"""


@pytest.mark.parametrize("spec", [*BUILTIN, "odd"])
def test_one_delta_rule_for_derivation_and_generated_code(spec, tmp_path):
    """An adjoint is δ in the derivation exactly when it is δ in the comments of the generated code."""
    from derive.codegen.notation import Notation
    from derive.display import DisplayConverter

    if spec == "odd":
        (tmp_path / "odd.cell").write_text(ODD_CELL, encoding="utf-8")
        spec = tmp_path / "odd.cell"
    cell = load_cell(spec)
    show, comments = DisplayConverter(cell), Notation(cell)
    for node in cell.nodes:
        in_derivation = unicode(show.adjoint(node.name, t))
        in_code = comments.adjoint("d" + node.name)
        assert in_derivation.startswith("δ") == in_code.startswith("δ"), (node.name, in_derivation, in_code)


def test_the_delta_rule_follows_the_equations_not_the_names(tmp_path):
    (tmp_path / "odd.cell").write_text(ODD_CELL, encoding="utf-8")
    texts = _texts(derive(load_cell(tmp_path / "odd.cell")))
    assert "δ_sₜ = (1 − hₜ²) ⊙ ∂E/∂hₜ" in texts  # s is the argument of tanh: a pre-activation
    assert "∂E/∂a_xₜ = δ_sₜ" in texts  # a_x is not, whatever its name


def test_justifications_are_built_from_words_and_display_nodes(rnn3):
    step = next(s for s in rnn3.values() if s.justification.startswith("E₃ depends on h₃"))
    assert isinstance(step.why, Prose)
    assert [p for p in step.why.parts if not isinstance(p, str)][:2] == [Q("E", 3), Q("h", 3)]
    assert step.justification == "E₃ depends on h₃ only through z₃ = W h₃ + c"


def test_a_step_takes_a_plain_sentence_too():
    s = Step(1, "section", "rule", (Q("E"),), "words only")
    assert s.why == Prose("words only") and s.justification == "words only"


def test_notation_doctests():
    import doctest

    import derive.codegen.notation
    import derive.notation

    for module in (derive.notation, derive.codegen.notation):
        result = doctest.testmod(module)
        assert result.attempted >= 1 and result.failed == 0, module.__name__


def test_a_cross_entropy_prediction_is_o_hat_in_derivation_and_generated_code_alike(tmp_path):
    """The display map, not the identifier: a softmax prediction called p shows as ô in both."""
    from derive.codegen.notation import Notation

    (tmp_path / "p.cell").write_text(ODD_CELL.replace("ohat", "p"), encoding="utf-8")
    cell = load_cell(tmp_path / "p.cell")
    assert "ôₜ = softmax(zₜ)" in _texts(derive(cell))
    assert Notation(cell).value("p") == "ô_t"
