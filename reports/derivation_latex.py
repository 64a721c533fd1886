"""LaTeX output of a derivation: a complete pdflatex document, or a fragment for lecture notes."""

from __future__ import annotations

import re

from derive.notation import Plus, render

# Unicode in justifications (ô, ∂, σ, subscripts…) → LaTeX, declared so pdflatex accepts it.
_UNICODE = {
    "ô": r"\^{o}", "∂": r"\ensuremath{\partial}", "δ": r"\ensuremath{\delta}", "σ": r"\ensuremath{\sigma}",
    "Σ": r"\ensuremath{\Sigma}", "Π": r"\ensuremath{\Pi}", "θ": r"\ensuremath{\theta}", "ᵀ": r"\ensuremath{^{\top}}",
    "⊙": r"\ensuremath{\odot}", "⊗": r"\ensuremath{\otimes}", "−": r"\ensuremath{-}", "≥": r"\ensuremath{\geq}",
    "…": r"\ldots{}", "—": "---", "²": r"\ensuremath{^2}", "′": r"\ensuremath{'}", "×": r"\ensuremath{\times}",
    "·": r"\ensuremath{\cdot}", "⁽": r"\ensuremath{^{(}}", "⁾": r"\ensuremath{^{)}}", "→": r"\ensuremath{\to}",
    **{chr(0x2080 + i): r"\ensuremath{_{%d}}" % i for i in range(10)},
    **{chr(c): r"\ensuremath{^{%d}}" % i for i, c in enumerate((0x2070, 0xB9, 0xB2, 0xB3, 0x2074, 0x2075, 0x2076,
                                                                  0x2077, 0x2078, 0x2079))},
    "ᵗ": r"\ensuremath{^{t}}", "≤": r"\ensuremath{\leq}", "‖": r"\ensuremath{\|}", "γ": r"\ensuremath{\gamma}",
    "₊": r"\ensuremath{_{+}}", "₋": r"\ensuremath{_{-}}", "₌": r"\ensuremath{_{=}}",
    "ₜ": r"\ensuremath{_{t}}", "ₖ": r"\ensuremath{_{k}}", "ⱼ": r"\ensuremath{_{j}}", "ₐ": r"\ensuremath{_{a}}",
}
_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
            "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}


# U_f, x_t, h_{t-1}, ô_t: a one-letter base with a short or braced subscript
_IDENT_SUB = re.compile(r"(?<![A-Za-z])([A-Za-zô])_(?:\{([^{}]{1,8})\}|([A-Za-z0-9]{1,3})\b)")


def text(s: str) -> str:
    """Plain text (with the Unicode maths of justifications) as LaTeX text; U_f becomes $U_{f}$."""
    out, last = [], 0
    for m in _IDENT_SUB.finditer(s):
        base = r"\hat{o}" if m.group(1) == "ô" else m.group(1)
        sub = m.group(2) or m.group(3)  # ASCII, read in maths mode: t-1 prints as t − 1
        out += [_plain(s[last:m.start()]), r"\ensuremath{%s_{%s}}" % (base, sub)]
        last = m.end()
    return "".join(out) + _plain(s[last:])


def _plain(s: str) -> str:
    out = []
    for ch in s:
        if ch in _SPECIAL:
            out.append(_SPECIAL[ch])
        elif ord(ch) < 128:
            out.append(ch)
        else:
            out.append(_UNICODE.get(ch, "?"))
    return "".join(out)


def _side_lines(side, width=90):
    """Split a long sum over several lines (LaTeX does not break display maths)."""
    full = render(side, "latex")
    if not isinstance(side, Plus) or len(full) < width * 1.3:
        return [full]
    lines, cur = [], ""
    for i, term in enumerate(side.args):
        piece = render(term, "latex")
        if i:
            if term.__class__.__name__ == "Neg":
                piece = "- " + render(term.args[0], "latex") if not isinstance(term.args[0], Plus) else \
                    r"- \left(" + render(term.args[0], "latex") + r"\right)"
            else:
                piece = "+ " + piece
        if cur and len(cur) + len(piece) > width:
            lines.append(cur)
            cur = piece
        else:
            cur = f"{cur} {piece}".strip()
    lines.append(cur)
    return lines


def step_latex(step) -> str:
    """One step as an ``align*`` block with its rule and justification."""
    rows = []
    lhs, *rest = step.sides
    rendered = [render(x, "latex") for x in step.sides]
    if len(rest) > 1 and sum(map(len, rendered)) < 110:  # a short chain reads best on one line
        body = rendered[0] + " &= " + " = ".join(rendered[1:])
        return (f"\\noindent\\textbf{{({step.number})}} \\textit{{{text(step.rule)}}} --- {text(step.justification)}\n"
                f"\\begin{{align*}}\n{body}\n\\end{{align*}}\n")
    first = True
    for side in rest:
        for i, line in enumerate(_side_lines(side)):
            prefix = (render(lhs, "latex") if first else "") + (" &= " if i == 0 else r" &\quad ")
            rows.append(prefix + line)
            first = False
    if not rest:
        rows.append(render(lhs, "latex") + " &")
    body = " \\\\\n".join(rows)
    return (f"\\noindent\\textbf{{({step.number})}} \\textit{{{text(step.rule)}}} --- {text(step.justification)}\n"
            f"\\begin{{align*}}\n{body}\n\\end{{align*}}\n")


def fragment(derivation, certificate=None) -> str:
    """The derivation's sections and steps, ready to ``\\input`` (needs amsmath)."""
    parts = []
    for section, steps in derivation.sections():
        parts.append(f"\\subsection*{{{text(section)}}}\n")
        parts.extend(step_latex(s) for s in steps)
    if certificate is not None:
        parts.append(f"\\paragraph{{Certificate.}} {text(certificate.summary())}\n")
    return "\n".join(parts)


def document(derivation, certificate=None) -> str:
    """A complete document that compiles with pdflatex."""
    d = derivation
    desc = f"\\noindent {text(d.cell.description)}\n\n" if d.cell.description else ""
    return (
        "\\documentclass[10pt]{article}\n"
        "\\usepackage[utf8]{inputenc}\n"
        "\\usepackage{amsmath,amssymb}\n"
        "\\usepackage[margin=2cm]{geometry}\n"
        "\\allowdisplaybreaks\n"
        f"\\title{{{text(d.title)}}}\n\\author{{bptt derive}}\n\\date{{}}\n"
        "\\begin{document}\n\\maketitle\n"
        f"{desc}"
        f"\\noindent $T = {d.steps_T}$" + (f", truncated BPTT with $k = {d.truncate}$" if d.truncate else "")
        + (", without biases" if not d.cell.bias else "") + ".\n\n"
        + fragment(d, certificate)
        + "\\end{document}\n"
    )
