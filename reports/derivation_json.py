"""JSON output of a derivation: every step with its rule, each side as LaTeX, text and its display tree.

``display_tree`` is ``sympy.srepr`` of the side's display expression; :func:`derive.notation.from_display_tree`
turns it back into the same expression (it is evaluated with SymPy's names and the display node classes).
``justification`` is Unicode text, ``justification_latex`` the same sentence with its mathematics as ``$…$``.
"""

from __future__ import annotations

import json

import sympy as sp

from derive.notation import latex, unicode


def to_dict(derivation, certificate=None) -> dict:
    d = derivation
    out = {
        "cell": d.cell.name,
        "description": d.cell.description,
        "bias": d.cell.bias,
        "T": d.steps_T,
        "truncate": d.truncate,
        "wrt": list(d.wrt),
        "steps": [
            {
                "number": s.number,
                "section": s.section,
                "rule": s.rule,
                "justification": s.justification,
                "justification_latex": s.why.render(str, lambda e: f"${latex(e)}$"),
                "sides": [{"latex": latex(side), "text": unicode(side), "display_tree": sp.srepr(side)}
                          for side in s.sides],
            }
            for s in d.steps
        ],
    }
    if certificate is not None:
        out["certificate"] = {
            "passed": certificate.passed,
            "sizes": certificate.sizes,
            "digits": certificate.digits,
            "seconds": round(certificate.seconds, 3),
            "rows": [{"name": r.name, "entries": r.entries, "max_rel_error": r.max_rel_error, "passed": r.passed}
                     for r in certificate.rows],
        }
    return out


def dumps(derivation, certificate=None) -> str:
    return json.dumps(to_dict(derivation, certificate), indent=2, ensure_ascii=False)
