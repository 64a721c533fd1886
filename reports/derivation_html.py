"""HTML output of a derivation: one self-contained page, the mathematics as MathML.

Browsers render MathML natively (no script, no network), so the page works offline. The MathML comes
from each step's LaTeX (the same LaTeX printer as ``--format latex``) through latex2mathml; the mathematics
inside a justification becomes inline MathML the same way, its words escaped text. The cell's description
passes through unchanged (escaped).
"""

from __future__ import annotations

from html import escape

from latex2mathml.converter import convert

from derive.notation import latex

_STYLE = """
body { font-family: Georgia, 'Times New Roman', serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #1b1b1b; line-height: 1.45; }
h1 { font-weight: normal; margin-bottom: .2rem; }
.info { color: #555; margin-top: 0; }
h2 { font-size: 1.15rem; border-bottom: 1px solid #ccc; padding-bottom: .2rem; margin-top: 2rem; }
ol { padding-left: 2.5rem; }
li { margin: .9rem 0; }
.rule { font-style: italic; color: #2a4d8f; }
.why { color: #444; }
math[display=block] { margin: .35rem 0 0 1rem; font-size: 1.1rem; }
.certificate { background: #f3f7f0; border-left: 4px solid #4a8a3a; padding: .5rem 1rem; }
.certificate.failed { background: #fbf0f0; border-color: #b03030; }
"""


def _math(latex: str) -> str:
    return convert(latex, display="block")


def _prose(why) -> str:
    """A justification (:class:`derive.notation.Prose`): escaped words, inline MathML."""
    return why.render(escape, lambda e: convert(latex(e), display="inline"))


def document(derivation, certificate=None) -> str:
    """A complete HTML5 page: title, the cell's description, numbered steps by section.

    Args:
        derivation: a :class:`derive.derivation.Derivation`.
        certificate: optional result of ``derive.certify`` to show at the end.
    """
    d = derivation
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{escape(d.title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
            + "\n".join(body(d, certificate)) + "\n</body>\n</html>\n")


def body(derivation, certificate=None) -> list[str]:
    """The page's body as HTML lines (also embedded by `bptt report`)."""
    d = derivation
    info = f"T = {d.steps_T}" + (f", truncated BPTT with k = {d.truncate}" if d.truncate else "")
    info += "; without biases" if not d.cell.bias else ""
    lines = [f"<h1>{escape(d.title)}</h1>"]
    if d.cell.description:
        lines.append(f"<p>{escape(d.cell.description)}</p>")
    lines.append(f'<p class="info">{escape(info)}</p>')
    for section, steps in d.sections():
        lines.append(f"<h2>{escape(section)}</h2>")
        lines.append(f'<ol start="{steps[0].number}">' if steps else "<ol>")
        for s in steps:
            lines.append(f'<li><span class="rule">{escape(s.rule)}</span> — '
                         f'<span class="why">{_prose(s.why)}</span>{_math(s.latex())}</li>')
        lines.append("</ol>")
    if certificate is not None:
        css = "certificate" if certificate.passed else "certificate failed"
        lines.append(f'<p class="{css}"><strong>Certificate:</strong> {escape(certificate.summary())}</p>')
    return lines
