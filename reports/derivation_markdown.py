"""Markdown output of a derivation: ``$…$`` maths that renders in Jupyter and on GitHub."""

from __future__ import annotations


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
            lines.append(f"   *{s.rule}* — {s.justification}")
        lines.append("")
    if certificate is not None:
        lines += [f"**Certificate:** {certificate.summary()}", ""]
    return "\n".join(lines)
