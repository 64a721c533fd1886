"""`bptt derive --format html`: one self-contained page, every step's equation as MathML."""

from html.parser import HTMLParser

import pytest

from derive import derive, load_cell
from reports import derivation_html
from reports.cli import main


class _Collector(HTMLParser):
    """Counts tags and checks that every opened element is closed in order."""

    VOID = {"meta", "br", "img", "hr", "link", "input", "mspace", "none", "mprescripts"}

    def __init__(self):
        super().__init__()
        self.stack, self.counts, self.problems = [], {}, []

    def handle_starttag(self, tag, attrs):
        self.counts[tag] = self.counts.get(tag, 0) + 1
        if tag == "math":
            key = f"math {dict(attrs).get('display')}"
            self.counts[key] = self.counts.get(key, 0) + 1
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
        else:
            self.stack.pop()


@pytest.mark.parametrize("cell", ["rnn", "lstm-peephole", "gru-reset-after", "jordan"])
def test_every_step_is_an_item_with_mathml(cell):
    d = derive(load_cell(cell), wrt=())
    page = derivation_html.document(d)
    parsed = _Collector()
    parsed.feed(page)
    assert parsed.problems == [] and parsed.stack == []
    n_steps = sum(len(steps) for _, steps in d.sections())
    assert parsed.counts["li"] == n_steps
    assert parsed.counts["math block"] == n_steps  # each step's equation
    assert parsed.counts.get("math inline", 0) > 0  # the mathematics inside justifications
    assert parsed.counts["h2"] == len(d.sections())
    assert "<script" not in page  # renders offline: MathML, no MathJax
    assert f"<title>{d.title}</title>" in page


def test_justification_mathematics_is_inline_mathml_and_words_are_escaped():
    page = derivation_html.document(derive(load_cell("rnn"), wrt=("W",)))
    # step ∂E₃/∂W: "only the last step's output layer; u ⊗ v = u vᵀ"
    why = page.split('<span class="why">only the last step&#x27;s output layer; ')[1].split("</span>")[0]
    assert why.startswith('<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline">')
    assert "&#x02297;" in why or "⊗" in why  # ⊗, inside the MathML


def test_cli_writes_html(capsys):
    assert main(["derive", "rnn", "--format", "html", "--wrt", "V"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("<!DOCTYPE html>")
    assert "<math" in out and "The course" in out


def test_fragment_is_only_for_latex(capsys):
    assert main(["derive", "rnn", "--format", "html", "--fragment"]) == 2
    assert "--fragment only applies to --format latex" in capsys.readouterr().err
