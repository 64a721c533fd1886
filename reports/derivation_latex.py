"""LaTeX output of a derivation: a complete pdflatex document, or a fragment for lecture notes.

Every equation and every piece of mathematics in a justification comes from the LaTeX printer
(:class:`derive.notation.LatexPrinter`); plain words are only escaped (:func:`derive.notation.latex_text`).
Text written by people — a cell's description, a section title — passes through unchanged: the document
declares each Unicode glyph of the notation it contains (⊙, →, ₜ, δ …) to pdflatex as what the LaTeX printer
prints for it, and inputenc typesets the letters of Latin scripts (é, ü) itself.
"""

from __future__ import annotations

from derive.notation import Neg, Plus, glyph_latex, latex, latex_text


def text(s: str) -> str:
    """Plain text (a title, a rule, a description) as LaTeX text."""
    return latex_text(s)


def prose(why) -> str:
    """A justification (:class:`derive.notation.Prose`): words as text, mathematics as ``$…$``."""
    return why.render(latex_text, lambda e: f"${latex(e)}$")


def _side_lines(side, width=90):
    """Split a long sum over several lines (LaTeX does not break display maths)."""
    full = latex(side)
    if not isinstance(side, Plus) or len(full) < width * 1.3:
        return [full]
    lines, cur = [], ""
    for i, term in enumerate(side.args):
        if not i:
            piece = latex(term)
        elif isinstance(term, Neg):
            inner = term.args[0]
            piece = "- " + (r"\left(" + latex(inner) + r"\right)" if isinstance(inner, Plus) else latex(inner))
        else:
            piece = "+ " + latex(term)
        if cur and len(cur) + len(piece) > width:
            lines.append(cur)
            cur = piece
        else:
            cur = f"{cur} {piece}".strip()
    lines.append(cur)
    return lines


def step_latex(step) -> str:
    """One step as an ``align*`` block with its rule and justification."""
    head = f"\\noindent\\textbf{{({step.number})}} \\textit{{{text(step.rule)}}} --- {prose(step.why)}\n"
    lhs, *rest = step.sides
    rendered = [latex(x) for x in step.sides]
    if len(rest) > 1 and sum(map(len, rendered)) < 110:  # a short chain reads best on one line
        body = rendered[0] + " &= " + " = ".join(rendered[1:])
        return head + f"\\begin{{align*}}\n{body}\n\\end{{align*}}\n"
    rows = []
    first = True
    for side in rest:
        for i, line in enumerate(_side_lines(side)):
            prefix = (rendered[0] if first else "") + (" &= " if i == 0 else r" &\quad ")
            rows.append(prefix + line)
            first = False
    if not rest:
        rows.append(rendered[0] + " &")
    body = " \\\\\n".join(rows)
    return head + f"\\begin{{align*}}\n{body}\n\\end{{align*}}\n"


def fragment(derivation, certificate=None) -> str:
    """The derivation's sections and steps, ready to ``\\input`` (needs amsmath; it defines the Unicode glyphs
    it contains itself)."""
    steps = _sections(derivation, certificate)
    return declarations(steps, preamble=False) + steps


def _sections(derivation, certificate=None) -> str:
    parts = []
    for section, steps in derivation.sections():
        parts.append(f"\\subsection*{{{text(section)}}}\n")
        parts.extend(step_latex(s) for s in steps)
    if certificate is not None:
        parts.append(f"\\paragraph{{Certificate.}} {text(certificate.summary())}\n")
    return "\n".join(parts)


def declarations(body: str, preamble: bool = True) -> str:
    """LaTeX that defines the glyphs of ``body`` pdflatex does not know: ``\\DeclareUnicodeCharacter`` lines
    for a preamble, or (``preamble=False``, for a fragment that is ``\\input`` after ``\\begin{document}``,
    where that command is refused) the same definitions made the way it makes them.

    A glyph of the notation (or a Greek letter) is declared as the LaTeX printer's maths for it; Latin-1 and
    Latin Extended-A letters (é, ô, ł) and common punctuation are left to inputenc; any other character is
    shown by its code point, ``[U+2603]``, rather than stopping pdflatex or being dropped.
    """
    glyphs = []
    for ch in sorted({c for c in body if ord(c) > 127}):
        if _inputenc_knows(ch):
            continue
        maths = glyph_latex(ch)
        if maths is None and 0x100 <= ord(ch) <= 0x17F:  # Latin Extended-A (ā, ł, ő): inputenc's
            continue
        glyphs.append((ch, f"\\ensuremath{{{maths}}}" if maths else f"\\texttt{{[U+{ord(ch):04X}]}}"))
    if preamble:
        return "".join(f"\\DeclareUnicodeCharacter{{{ord(ch):04X}}}{{{shown}}}\n" for ch, shown in glyphs)
    if not glyphs:
        return ""
    return ("% the Unicode glyphs below, defined as \\DeclareUnicodeCharacter would (it works in a preamble only)\n"
            "\\makeatletter\n"
            + "".join(f"\\@namedef{{u8:\\detokenize{{{ch}}}}}{{{shown}}}\n" for ch, shown in glyphs)
            + "\\makeatother\n")


def _inputenc_knows(ch: str) -> bool:
    """Latin-1 (é, ô, ², ×) and the punctuation pdflatex's utf8 input encoding typesets itself."""
    return 0xA0 <= ord(ch) <= 0xFF or ch in "–—‘’‚“”„†‡•‰‹›€"


def document(derivation, certificate=None) -> str:
    """A complete document that compiles with pdflatex."""
    d = derivation
    desc = f"\\noindent {text(d.cell.description)}\n\n" if d.cell.description else ""
    body = (
        f"\\title{{{text(d.title)}}}\n\\author{{bptt derive}}\n\\date{{}}\n"
        "\\begin{document}\n\\maketitle\n"
        f"{desc}"
        f"\\noindent $T = {d.steps_T}$" + (f", truncated BPTT with $k = {d.truncate}$" if d.truncate else "")
        + (", without biases" if not d.cell.bias else "") + ".\n\n"
        + _sections(d, certificate)
        + "\\end{document}\n"
    )
    return (
        "\\documentclass[10pt]{article}\n"
        "\\usepackage[utf8]{inputenc}\n"
        "\\usepackage{amsmath,amssymb}\n"
        "\\usepackage[margin=2cm]{geometry}\n"
        "\\allowdisplaybreaks\n"
        + declarations(body)
        + body
    )
