"""In-place changes that make the student's own results wrong are named for what they are (issue 8).

- ``dprev_c = dnext_c; dprev_c *= f`` in an LSTM step backward is an alias: the caller's dnext_c becomes
  dc ⊙ f, and every gate delta computed after that line reads dc ⊙ f for dc. The returned dprev_c is right;
  dWx, dWh, db, dx, dprev_h are wrong because of the in-place change: ``mutates-upstream-gradient``
  (it used to come out as ``clipping-in-backward``, the closest post-hoc form).
- ``next_c = prev_c; next_c *= f; next_c += i * g`` in the step forward changes the caller's prev_c, and
  the cache holds that same array: the backward then reads c_t where c_{t−1} belongs, exactly the numbers
  of ``off-by-one-h-prev``. The cause is the forward's in-place change: ``mutates-input`` first.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from numeric.checking import check

EXAMPLES = Path(__file__).parents[1] / "numeric/checking/examples"

CS231N_DC = "    dc = dnext_c + dnext_h * o * (1 - tc ** 2)\n    di, df, dg = dc * g, dc * prev_c, dc * i\n"
ALIASES = {  # the alias written at three places of the step backward: the gates read after it see dc ⊙ f
    "before-g": "    dnext_c += dnext_h * o * (1 - tc ** 2)\n    dc = dnext_c\n    di, df = dc * g, dc * prev_c\n"
                "    dprev_c = dnext_c\n    dprev_c *= f\n    dg = dnext_c * i\n",
    "before-all": "    dnext_c += dnext_h * o * (1 - tc ** 2)\n    dc = dnext_c.copy()\n    dprev_c = dnext_c\n"
                  "    dprev_c *= f\n    di, df, dg = dnext_c * g, dnext_c * prev_c, dnext_c * i\n",
    "before-f-g": "    dnext_c += dnext_h * o * (1 - tc ** 2)\n    dc = dnext_c\n    di = dc * g\n"
                  "    dprev_c = dnext_c\n    dprev_c *= f\n    df, dg = dnext_c * prev_c, dnext_c * i\n",
}


def _cs231n_alias(where: str) -> str:
    source = (EXAMPLES / "cs231n_correct.py").read_text()
    assert source.count(CS231N_DC) == 1
    source = source.replace(CS231N_DC, ALIASES[where])
    return source.replace("return da @ Wx.T, da @ Wh.T, dc * f, x.T @ da", "return da @ Wx.T, da @ Wh.T, dprev_c, x.T @ da")


@pytest.mark.parametrize("where", list(ALIASES))
def test_an_aliased_upstream_gradient_is_named_mutates_upstream_gradient(tmp_path, where):
    path = tmp_path / "rnn_layers.py"
    path.write_text(_cs231n_alias(where))
    report = check(path, "cs231n", "lstm", numerical=False, seed=7)
    step = next(t for t in report.tests if t.name == "lstm_step_backward")
    assert not step.passed
    assert step.diagnosis[0].mistake == "mutates-upstream-gradient", step.diagnosis[:2]
    assert any("dnext_c was changed in place" in w for w in step.warnings), step.warnings


FORWARDS = {  # convention, file, the correct line, the in-place version, the test that fails
    "cs231n": ("cs231n_correct.py", "    next_c = f * prev_c + i * g\n",
               "    next_c = prev_c\n    next_c *= f\n    next_c += i * g\n", "lstm_step_backward"),
    "deeplearning-ai": ("dlai_correct.py", "    c_next = ft * c_prev + it * cct\n",
                        "    c_next = c_prev\n    c_next *= ft\n    c_next += it * cct\n", "lstm_cell_backward"),
}


@pytest.mark.parametrize("convention", list(FORWARDS))
def test_a_forward_changing_c_prev_in_place_is_named_mutates_input(tmp_path, convention):
    name, old, new, backward = FORWARDS[convention]
    source = (EXAMPLES / name).read_text()
    assert source.count(old) == 1
    path = tmp_path / "submission.py"
    path.write_text(source.replace(old, new))
    report = check(path, convention, "lstm", numerical=False, seed=3,
                   with_files=(str(EXAMPLES / "rnn_utils.py"),) if convention == "deeplearning-ai" else ())
    test = next(t for t in report.tests if t.name == backward)
    assert not test.passed
    assert [d.mistake for d in test.diagnosis[:2]] == ["mutates-input", "off-by-one-h-prev"], test.diagnosis
    assert "in place" in test.diagnosis[0].evidence
