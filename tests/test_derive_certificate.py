"""The component certificate: SymPy diff of the explicit loss equals the derived formulas (≥ 40 digits)."""

from __future__ import annotations

import pytest

from derive import adjoint_program, certify, load_cell
from derive.program import Assign

# The bar: rnn with T = 3, one step of each gated cell (sizes H = D = K = 2).
BAR = [("rnn", 3), ("lstm", 1), ("lstm-peephole", 1), ("gru", 1), ("gru-reset-after", 1)]


@pytest.mark.parametrize("name,T", BAR)
def test_certificate_passes(name, T):
    cert = certify(load_cell(name))
    assert cert.passed, cert.summary()
    assert cert.sizes == {"D": 2, "H": 2, "K": 2, "T": T}
    assert cert.digits >= 40
    assert {r.name for r in cert.rows} >= set(load_cell(name).param_names)


def test_certificate_catches_a_wrong_formula(monkeypatch):
    """A deliberately wrong program (tanh′ = 1 − h instead of 1 − h²) must fail the certificate."""
    import sympy as sp

    from derive import program

    cell = load_cell("rnn", bias=False)
    good = adjoint_program(cell)
    bw = list(good.backward)
    i = next(k for k, a in enumerate(bw) if a.target.name == "da")
    h, dh = good.symbols["h"], good.symbols["dh"]
    bw[i] = Assign(bw[i].target, sp.HadamardProduct(sp.OneMatrix(*h.shape) - h, dh), "=", "wrong on purpose")
    bad = program.AdjointProgram(good.cell, good.symbols, good.forward, good.incoming, tuple(bw), good.grads,
                                 good.carries)
    monkeypatch.setattr("derive.certificate.adjoint_program", lambda c: bad)
    cert = certify(cell, steps=2, entries=0)
    assert not cert.passed
    assert "FAIL" in cert.summary()
