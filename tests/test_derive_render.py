"""Derivation output: terminal text at 100 columns, LaTeX (compiled when pdflatex exists), Markdown, JSON."""

from __future__ import annotations

import html
import json
import shutil
import subprocess

import pytest
import sympy

from derive import derive, load_cell
from derive.cellfile import BUILTIN, CELLS_DIR, example_paths
from derive.notation import from_display_tree
from reports import derivation_html, derivation_json, derivation_latex, derivation_markdown
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
    assert {"number", "section", "rule", "justification", "justification_latex", "sides"} <= set(step)
    side = step["sides"][0]
    assert side["latex"] == "a_{t}" and side["display_tree"].startswith("Q(Symbol('a')")
    chain = next(s for s in data["steps"] if s["justification"].startswith("E₃ depends on"))
    assert chain["justification_latex"].startswith("$E_{3}$ depends on $h_{3}$")


_EVERY_MODEL = [(name, {}) for name in BUILTIN] + [(p, {}) for p in example_paths()] + [("rnn", {"truncate": 2})]


@pytest.mark.parametrize("model,options", _EVERY_MODEL, ids=lambda m: getattr(m, "stem", str(m)))
def test_json_display_tree_evaluates_back_to_every_side(model, options):
    d = derive(load_cell(model), **options)
    data = json.loads(derivation_json.dumps(d))
    for step, row in zip(d.steps, data["steps"]):
        for side, shown in zip(step.sides, row["sides"]):
            assert from_display_tree(shown["display_tree"]) == side, (step.number, shown["display_tree"])


def test_json_display_tree_of_a_bidirectional_derivation_evaluates():
    from derive.bidirectional import bidirectional, derivation

    d = derivation(bidirectional("rnn"))
    for step in d.steps:
        for side in step.sides:
            assert from_display_tree(sympy.srepr(side)) == side


_DESCRIPTION = "Café cell: h_t = tanh(a_t) ⊙ g_t → ô_t, 50% & #1 {x} ~ ^ \\ with ☃"


@pytest.fixture(scope="module")
def described(tmp_path_factory):
    """The rnn cell under another name, with a description full of non-ASCII and LaTeX specials."""
    text = ((CELLS_DIR / "rnn.cell").read_text(encoding="utf-8").split("\n", 1)[1]
            .replace("cell rnn", "cell cafe"))
    path = tmp_path_factory.mktemp("cell") / "cafe.cell"
    path.write_text(f"# {_DESCRIPTION}\n{text}", encoding="utf-8")
    cell = load_cell(path)
    assert cell.description == _DESCRIPTION
    return derive(cell, wrt=("V",))


def test_description_passes_through_unchanged_in_every_format(described):
    assert _DESCRIPTION in to_text(described, width=200)
    assert _DESCRIPTION in derivation_markdown.document(described)
    assert json.loads(derivation_json.dumps(described))["description"] == _DESCRIPTION
    assert html.escape(_DESCRIPTION) in derivation_html.document(described)
    assert derivation_latex.text(_DESCRIPTION) in derivation_latex.document(described)
    assert "?" not in derivation_latex.document(described).split("\\maketitle")[1].split("\n\n")[0]


def test_jupyter_reprs(rnn):
    assert rnn._repr_latex_().startswith("$$\\begin{aligned}")
    assert "$\\frac{\\partial" in rnn._repr_markdown_()


def test_latex_document_and_fragment(rnn):
    doc = derivation_latex.document(rnn)
    assert doc.startswith("\\documentclass") and doc.rstrip().endswith("\\end{document}")
    frag = derivation_latex.fragment(rnn)
    assert "\\documentclass" not in frag and "\\begin{align*}" in frag


def test_latex_text_escapes_the_specials_and_keeps_every_other_character():
    assert derivation_latex.text("∂h₀/∂θ = 0 & 5% é_t {x} #1 $ ~ ^ \\") == (
        r"∂h₀/∂θ = 0 \& 5\% é\_t \{x\} \#1 \$ \textasciitilde{} \textasciicircum{} \textbackslash{}")


def test_latex_declares_the_notation_glyphs_as_the_latex_printer_prints_them():
    decl = derivation_latex.declarations("aₜ ⊙ b → c, é, ☃, δ")
    assert r"\DeclareUnicodeCharacter{2299}{\ensuremath{\odot}}" in decl
    assert r"\DeclareUnicodeCharacter{209C}{\ensuremath{_{t}}}" in decl
    assert r"\DeclareUnicodeCharacter{03B4}{\ensuremath{\delta}}" in decl
    assert r"\DeclareUnicodeCharacter{2603}{\texttt{[U+2603]}}" in decl  # unknown: its code point, not dropped
    assert "00E9" not in decl  # é: a Latin letter, inputenc typesets it


def test_justification_mathematics_comes_from_the_latex_printer(rnn):
    doc = derivation_latex.document(rnn)
    assert r"$E_{3}$ depends on $h_{3}$ only through $z_{3} = W\,h_{3} + c$" in doc
    assert r"back one step: $\left(\frac{\partial a_{3}}{\partial h_{2}}\right)^{\top}$" in doc
    assert "\\ensuremath{_{" not in doc.split("\\begin{document}")[1]  # no Unicode post-processing in the body


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed (.ci/install-latex installs it)")
@pytest.mark.parametrize("name,truncate", [("rnn", None), ("rnn", 2), ("lstm-peephole", None), ("jordan", None),
                                           ("gru-reset-after", None)])
def test_latex_compiles(tmp_path, name, truncate):
    _compiles(tmp_path, derivation_latex.document(derive(load_cell(name), truncate=truncate)))


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed (.ci/install-latex installs it)")
def test_latex_with_a_non_ascii_description_compiles(tmp_path, described):
    _compiles(tmp_path, derivation_latex.document(described))


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed (.ci/install-latex installs it)")
def test_latex_fragment_compiles_when_input_after_begin_document(tmp_path):
    (tmp_path / "steps.tex").write_text(derivation_latex.fragment(derive(load_cell("lstm"))), encoding="utf-8")
    _compiles(tmp_path, "\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n\\begin{document}\n"
                        "Lecture notes.\n\\input{steps}\n\\end{document}\n")


def _compiles(tmp_path, document: str) -> None:
    tex = tmp_path / "d.tex"
    tex.write_text(document, encoding="utf-8")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]
    assert (tmp_path / "d.pdf").stat().st_size > 1000
