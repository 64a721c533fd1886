"""The component certificate: SymPy diff of the explicit loss equals the derived formulas (≥ 40 digits)."""

from __future__ import annotations

import signal
import time
from concurrent.futures import ThreadPoolExecutor

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


# ---- the time budget: any thread, no signals --------------------------------------------------------


def _in(where: str, fn):
    """Run ``fn`` in the main thread or in a worker thread; return its result or raise its exception."""
    if where == "main":
        return fn()
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn).result()


@pytest.mark.parametrize("where", ["main", "worker"])
def test_the_budget_stops_certify_in_any_thread_and_leaves_signals_alone(where):
    from derive.certificate import CertificateTimeout

    def mine(signum, frame):  # the caller's own alarm: must neither fire early nor be cancelled
        raise AssertionError("the caller's alarm went off")

    previous = signal.signal(signal.SIGALRM, mine)
    signal.setitimer(signal.ITIMER_REAL, 60.0)
    try:
        t0 = time.monotonic()
        with pytest.raises(CertificateTimeout, match=r"certificate of lstm: stopped after 0.3 s .* not affected"):
            _in(where, lambda: certify(load_cell("lstm"), entries=None, budget=0.3))
        assert time.monotonic() - t0 < 5
        assert signal.getsignal(signal.SIGALRM) is mine
        assert 50.0 < signal.getitimer(signal.ITIMER_REAL)[0] <= 60.0  # still running, untouched
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("where", ["main", "worker"])
def test_the_deadline_interrupts_one_long_python_call(where):
    """Between-entry checks cannot stop one long SymPy call: the deadline raises inside it."""
    from derive.certificate import _Deadline, _Expired

    def spin():
        with _Deadline(0.2, "spin"):
            while True:  # stands for one long SymPy call the certificate cannot check inside
                pass

    t0 = time.monotonic()
    with pytest.raises(_Expired):
        _in(where, spin)
    assert time.monotonic() - t0 < 3


def test_a_finished_certificate_leaves_no_deadline_behind():
    from derive.certificate import _Deadline

    assert certify(load_cell("rnn", bias=False), steps=1, entries=0, budget=60).passed
    with _Deadline(0.05, "nothing"):
        pass
    time.sleep(0.3)  # past the budget: no exception may arrive once the work is done
