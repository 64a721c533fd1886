"""`bptt report`: one self-contained HTML page, checked in headless Chromium where it is installed."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

from reports.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (Debian package chromium)")


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """The report of the rnn cell with the curves of a tiny training run."""
    tmp = tmp_path_factory.mktemp("report")
    assert main(["train", "rnn", "--hidden", "8", "--batch", "4", "--seq-len", "10", "--steps", "15",
                 "--sample", "20", "--out", str(tmp / "run"), "--json"]) == 0
    out = tmp / "report.html"
    assert main(["report", "rnn", "-o", str(out), "--training", str(tmp / "run" / "history.json")]) == 0
    return out


def test_page_is_self_contained(page):
    html = page.read_text(encoding="utf-8")
    assert "<script" not in html and not re.search(r"(src|href)=\"(https?:)?//", html)
    for anchor in ("derivation", "code", "verification", "flow", "training"):
        assert f'id="{anchor}"' in html
    assert html.count("<math") > 30 and html.count("<svg") == 2
    assert "every run agrees with every oracle" in html and "norm bound" in html
    assert "def loss_and_grads" in html and "Verification before this file was written" in html


def _shot(html_path, tmp_path, size="1000,1400") -> np.ndarray:
    """Grey levels of a headless-Chromium screenshot; fails on console errors or failed loads."""
    from PIL import Image

    png = tmp_path / "shot.png"
    run = subprocess.run([CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars",
                          "--enable-logging=stderr", "--v=0", f"--window-size={size}", f"--screenshot={png}",
                          html_path.as_uri()], capture_output=True, text=True, timeout=120)
    log = run.stderr
    assert "CONSOLE" not in log and "net::ERR" not in log and "Uncaught" not in log, log[-2000:]
    return np.asarray(Image.open(png).convert("RGB"))


def _fragment(page, tmp_path, pattern: str, name: str):
    """A page holding only one part of the report (so that its screenshot shows that part)."""
    html = page.read_text(encoding="utf-8")
    part = re.search(pattern, html, re.S).group(0)
    path = tmp_path / f"{name}.html"
    path.write_text(f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="margin:0">{part}'
                    "</body></html>", encoding="utf-8")
    return path


@needs_chromium
def test_page_loads_and_is_not_blank(page, tmp_path):
    pixels = _shot(page, tmp_path)
    ink = (pixels.min(axis=2) < 200).mean()
    assert 0.005 < ink < 0.5, ink


@needs_chromium
@pytest.mark.parametrize("figure", ["flow-plot", "training-plot"])
def test_plots_are_visible(page, tmp_path, figure):
    pixels = _shot(_fragment(page, tmp_path, f'<figure id="{figure}">.*?</figure>', figure), tmp_path)
    r, g, b = (pixels[..., i].astype(int) for i in range(3))
    colored = ((np.abs(r - b) > 60) | (np.abs(r - g) > 60)).mean()  # the plotted lines (C0 blue, C1 orange…)
    assert (pixels.min(axis=2) < 200).mean() > 0.003 and colored > 0.0005, colored  # blank: both 0


@needs_chromium
def test_equations_render_as_mathematics(page, tmp_path):
    """A fraction typeset by MathML is two lines tall; unrendered it would be one line of text."""
    fraction = _fragment(page, tmp_path, r"<math[^>]*>(?:(?!</math>).)*<mfrac>.*?</math>", "fraction")
    text = tmp_path / "text.html"
    text.write_text('<!DOCTYPE html><html><body style="margin:0"><p style="font-size:1.1rem">∂E∂V x</p>'
                    "</body></html>", encoding="utf-8")

    def ink_height(path):
        rows = np.nonzero((_shot(path, tmp_path, "600,300").min(axis=2) < 160).any(axis=1))[0]
        return rows.max() - rows.min() + 1

    assert ink_height(fraction) > 1.6 * ink_height(text)


def test_report_bad_training_log(tmp_path, capsys):
    bad = tmp_path / "history.json"
    bad.write_text("{}")
    assert main(["report", "rnn", "-o", str(tmp_path / "r.html"), "--training", str(bad)]) == 2
    assert "expected the history.json" in capsys.readouterr().err
