"""Markdown output of a derivation: ``$…$`` maths that renders in Jupyter and on GitHub.

Equations and the mathematics inside justifications come from the LaTeX printer; the cell's description
passes through unchanged.
"""

from __future__ import annotations

from derive.notation import latex


def prose(why) -> str:
    """A justification (:class:`derive.notation.Prose`): words as they are, mathematics as ``$…$``."""
    return why.render(str, lambda e: f"${latex(e)}$")


def document(derivation, certificate=None) -> str:
    d = derivation
    lines = [f"# {d.title}", ""]
    if d.cell.description:
        lines += [d.cell.description, ""]
    info = f"$T = {d.steps_T}$" + (f", truncated BPTT with $k = {d.truncate}$" if d.truncate else "")
    lines += [info + ("; without biases" if not d.cell.bias else "") + ".", ""]
    for section, steps in d.sections():
        lines += [f"## {section}", ""]
        for s in steps:
            lines.append(f"{s.number}. ${s.latex()}$  ")
            lines.append(f"   *{s.rule}* — {prose(s.why)}")
        lines.append("")
    if certificate is not None:
        lines += [f"**Certificate:** {certificate.summary()}", ""]
    return "\n".join(lines)
