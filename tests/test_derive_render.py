"""Derivation output: terminal text at 100 columns, LaTeX (compiled when pdflatex exists), Markdown, JSON."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from derive import derive, load_cell
from reports import derivation_json, derivation_latex, derivation_markdown
from reports.derivation_text import course_derivation, course_view, to_text


@pytest.fixture(scope="module")
def rnn():
    return derive(load_cell("rnn"), steps=3)


@pytest.mark.parametrize("name", ["rnn", "lstm-peephole", "gru-reset-after", "jordan"])
def test_text_fits_100_columns(name):
    text = to_text(derive(load_cell(name)), width=100)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 100
    assert "(1)" in text and "∂" in text


def test_text_has_numbered_steps_rules_and_unicode(rnn):
    text = to_text(rnn, width=100)
    assert "BPTT for the rnn cell" in text
    assert "(9) ∂E₃/∂W = ∂E₃/∂ô₃ ∂ô₃/∂z₃ ∂z₃/∂W = (ô₃ − o₃) ⊗ h₃" in text
    assert "δ recursion —" in text
    body = text.split("The cell (one time step t)")[1]  # after the cell file's own description
    assert "h_{t-1}" not in body and "ohat" not in body and "h_prev" not in body  # display names only


def test_course_view_for_demo():
    d = course_derivation()
    assert d.cell.name == "rnn" and d.steps_T == 3
    assert hasattr(course_view(), "__rich_console__")
    from rich.console import Console

    console = Console(width=100, record=True, file=__import__("io").StringIO())
    console.print(course_view(brief=True))
    text = console.export_text()
    assert "(9) ∂E₃/∂W" in text and "Back through time" not in text


def test_markdown_uses_dollar_maths(rnn):
    md = derivation_markdown.document(rnn)
    assert md.startswith("# BPTT for the rnn cell")
    assert r"$\frac{\partial E_{3}}{\partial W} = " in md
    assert "(" not in md.split("\n")[0]


def test_json_has_every_step_with_latex_and_display_tree(rnn):
    data = json.loads(derivation_json.dumps(rnn))
    assert len(data["steps"]) == len(rnn.steps)
    step = data["steps"][0]
    assert {"number", "section", "rule", "justification", "sides"} <= set(step)
    side = step["sides"][0]
    assert side["latex"] == "a_{t}" and side["display_tree"].startswith("Q(Symbol('a')")


def test_jupyter_reprs(rnn):
    assert rnn._repr_latex_().startswith("$$\\begin{aligned}")
    assert "$\\frac{\\partial" in rnn._repr_markdown_()


def test_latex_document_and_fragment(rnn):
    doc = derivation_latex.document(rnn)
    assert doc.startswith("\\documentclass") and doc.rstrip().endswith("\\end{document}")
    frag = derivation_latex.fragment(rnn)
    assert "\\documentclass" not in frag and "\\begin{align*}" in frag


def test_latex_escapes_unicode_justifications():
    assert derivation_latex.text("∂h₀/∂θ = 0 & 5%") == (
        r"\ensuremath{\partial}h\ensuremath{_{0}}/\ensuremath{\partial}\ensuremath{\theta} = 0 \& 5\%")


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed (.ci/install-latex installs it)")
@pytest.mark.parametrize("name,truncate", [("rnn", None), ("rnn", 2), ("lstm-peephole", None), ("jordan", None),
                                           ("gru-reset-after", None)])
def test_latex_compiles(tmp_path, name, truncate):
    tex = tmp_path / "d.tex"
    tex.write_text(derivation_latex.document(derive(load_cell(name), truncate=truncate)), encoding="utf-8")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]
    assert (tmp_path / "d.pdf").stat().st_size > 1000
