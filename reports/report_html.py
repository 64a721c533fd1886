"""`bptt report`: one self-contained HTML page — derivation (MathML), generated code, its verification, the
gradient-flow plot and, given a training log, the training curves.

Nothing is fetched when the page is viewed: equations are MathML (rendered natively by browsers), plots are
inline SVG, the verification table is rich's HTML export with inline styles, and there is no script.
"""

from __future__ import annotations

import io
import json
import tempfile
from html import escape
from pathlib import Path

_STYLE = """
body { font-family: Georgia, 'Times New Roman', serif; max-width: 64rem; margin: 2rem auto; padding: 0 1rem;
       color: #1b1b1b; line-height: 1.45; }
nav { background: #f4f4f4; padding: .5rem 1rem; }
nav a { margin-right: 1rem; }
section { margin-top: 2.5rem; }
h1 { font-weight: normal; margin-bottom: .2rem; }
h2 { font-size: 1.15rem; border-bottom: 1px solid #ccc; padding-bottom: .2rem; margin-top: 2rem; }
.info { color: #555; margin-top: 0; }
ol { padding-left: 2.5rem; }
li { margin: .9rem 0; }
.rule { font-style: italic; color: #2a4d8f; }
.why { color: #444; }
math[display=block] { margin: .35rem 0 0 1rem; font-size: 1.1rem; }
pre.code { background: #f7f7f7; border: 1px solid #ddd; padding: .6rem; overflow-x: auto; font-size: .8rem;
           max-height: 40rem; }
figure { margin: 1rem 0; }
figure svg { width: 100%; height: auto; }
.verdict.ok { color: #2c6e2c; } .verdict.failed { color: #b03030; }
"""


def _svg(save, *args) -> str:
    """The SVG text a matplotlib-based ``save(*args, path)`` writes, without its XML prologue."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plot.svg"
        save(*args, path)
        text = path.read_text(encoding="utf-8")
    return text[text.index("<svg"):]


def _verification_html(result, title: str) -> str:
    from rich.console import Console

    from reports.verification import RunsSummaryView

    console = Console(record=True, width=110, file=io.StringIO(), color_system="truecolor")
    console.print(RunsSummaryView(result, title=title))
    return console.export_html(inline_styles=True, code_format='<pre class="table">{code}</pre>')


def training_result(path: str | Path):
    """A :class:`reports.training_run.Result` rebuilt from a ``history.json`` that `bptt train --out` wrote.

    Raises:
        ValueError: not a readable `bptt train` history.
    """
    from numeric.training.loop import History
    from reports.training_run import Result

    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        h = doc["history"]
        history = History(h["loss"], h["grad_norm"], h["clipped"], h["tokens"], h["seconds"], h["diverged_at"])
        numbers = {k: v for k, v in doc.items() if k not in ("kind", "model", "settings", "sample", "history")}
        return Result(doc["kind"], doc["model"], doc["settings"], history, {}, numbers, doc.get("sample", ""))
    except FileNotFoundError:
        raise ValueError(f"--training {path}: no such file (expected the history.json of `bptt train --out`)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as err:
        raise ValueError(f"--training {path}: expected the history.json that `bptt train --out DIR` writes, "
                         f"got unreadable content ({type(err).__name__}: {err})") from None


def report(spec: str, *, flow_scales=(0.5, 1.0, 2.0), training=None, seed: int = 0,
           bias: bool = True) -> tuple[str, bool]:
    """The page for the cell ``spec`` and whether every check on it passed.

    Args:
        spec: built-in cell name or .cell path.
        flow_scales: recurrent-weight factors of the gradient-flow plot.
        training: a training :class:`~reports.training_run.Result` (see :func:`training_result`) or None.
        bias: False drops every parameter declared ``bias`` (as ``--no-bias``).
    """
    from derive.cellfile import load
    from derive.codegen import generate
    from derive.derivation import derive
    from reports import derivation_html
    from reports.codegen_verify import verify_generated
    from reports.flow_analysis import measure_flow
    from reports.flow_plot import save_plot
    from reports.recurrence import load_recurrence

    from reports.version import bptt_version

    cell = load(spec, bias=bias)
    verification = verify_generated(generate(cell))
    gen = generate(cell, verification=verification.header_lines(bptt_version()))  # the header says how it was checked
    rec = load_recurrence(spec, bias=bias)
    try:
        runs = [measure_flow(rec, D=8, H=32, K=8, T=60, init="xavier", seed=seed, factor=f) for f in flow_scales]
    except ValueError as err:  # Jordan: the state is ô, not h
        runs, no_flow = [], str(err)
    passed = verification.passed and all(r.passed for r in runs)
    title = f"bptt report: {cell.name}"
    parts = [f"<h1>{escape(title)}</h1>",
             '<nav><a href="#derivation">derivation</a><a href="#code">generated code</a>'
             '<a href="#verification">verification</a><a href="#flow">gradient flow</a>'
             + ('<a href="#training">training</a>' if training is not None else "") + "</nav>",
             '<section id="derivation">', *derivation_html.body(derive(cell)), "</section>",
             '<section id="code"><h2>Generated code (<code>bptt codegen</code>)</h2>',
             f'<pre class="code"><code>{escape(gen.source)}</code></pre></section>',
             '<section id="verification"><h2>Verification of the generated code</h2>',
             _verification_html(verification, f"generated {cell.name}"),
             f'<p class="verdict {"ok" if verification.passed else "failed"}">'
             f'{"every run agrees with every oracle" if verification.passed else "verification FAILED"}</p>',
             "</section>",
             '<section id="flow"><h2>Gradient flow through time</h2>',
             f"<p>‖∂h_T/∂h_k‖₂ and ‖∂E_T/∂h_k‖₂ against the lag T − k, one random sequence (T = 60, H = 32, "
             f"Xavier initialisation, recurrent weights ×{', ×'.join(f'{s:g}' for s in flow_scales)}); "
             "the dashed lines are the bound (γ‖V‖₂)^(T−k) where the cell has the Elman form.</p>",
             (f'<figure id="flow-plot">{_svg(save_plot, runs)}</figure>' + _flow_checks(runs) if runs
              else f"<p>not measured: {escape(no_flow)}</p>"), "</section>"]
    if training is not None:
        from reports.train_plot import save_curves

        n = training.numbers
        summary = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in n.items())
        parts += ['<section id="training"><h2>Training</h2>',
                  f"<p>{escape(training.model)}: {escape(summary)}</p>",
                  f'<figure id="training-plot">{_svg(save_curves, training)}</figure>',
                  (f'<pre class="code">{escape(training.sample)}</pre>' if training.sample else ""), "</section>"]
    page = ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
            + "\n".join(parts) + "\n</body>\n</html>\n")
    return page, passed


def _flow_checks(runs) -> str:
    rows = "".join(
        f"<tr><td>×{r.scale:g}</td><td>{max(r.checks['complex step'].values()):.1e}</td>"
        f"<td>{max(r.checks['BPTT'].values()):.1e}</td><td>{'ok' if r.passed else 'FAILED'}</td></tr>"
        for r in runs)
    return ("<table><tr><th>scale</th><th>vs complex step</th><th>vs generated BPTT</th><th></th></tr>"
            + rows + "</table>")
