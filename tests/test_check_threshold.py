"""The verdict's threshold, pinned from both sides (docs/checking.md, "What is compared, and the tolerance").

Every planted mistake elsewhere in the tests changes gradients by order 1, so a pass threshold loosened
from 1e-6 to 0.1 would fail none of them. Here:

- must FAIL: real mistakes whose norm-wise relative error lies between 1e-5 and 1e-2 (gradient clipping
  at ±5 touching a few entries, the first of fifty steps left out of the weight sums, a float16 round trip,
  a bias gradient that follows each upstream gradient back 35 or 45 of 50 steps only: 2.7e-5..4.3e-3);
- must PASS: correct code on ill-conditioned probes (saturated tanh with tanh' written as 1/cosh², tiny
  entries, T = 400 with the weight gradients summed in one einsum, everything computed in float32).

One cs231n RNN submission (written for this file) with a ``MISTAKE`` switch; the convention's sequence
probes are replaced by one probe built for the case, so the real pipeline (sandbox, converters,
``compare``) gives the verdict.
"""

from __future__ import annotations

import numpy as np
import pytest

from numeric.checking import check
from numeric.checking.conventions import cs231n
from numeric.checking.reference import make_probe, reference_outputs

STUDENT = '''
import numpy as np

MISTAKE = None
LAG = 35


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    if MISTAKE == "float32":
        x, prev_h, Wx, Wh, b = (v.astype(np.float32) for v in (x, prev_h, Wx, Wh, b))
    a = x @ Wx + prev_h @ Wh + b
    next_h = np.tanh(a)
    return next_h, (x, prev_h, Wx, Wh, a, next_h)


def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, a, next_h = cache
    if MISTAKE == "float32":
        dnext_h = dnext_h.astype(np.float32)
    if MISTAKE == "cosh":
        da = dnext_h / np.cosh(a) ** 2
    else:
        da = dnext_h * (1 - next_h ** 2)
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def rnn_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    dtype = np.float32 if MISTAKE == "float32" else np.float64
    h, caches, prev = np.zeros((N, T, Wh.shape[0]), dtype=dtype), [], h0
    for t in range(T):
        prev, cache = rnn_step_forward(x[:, t], prev, Wx, Wh, b)
        h[:, t] = prev
        caches.append(cache)
    return h, caches


def rnn_backward(dh, cache):
    N, T, H = dh.shape
    D = cache[0][0].shape[1]
    dtype = np.float32 if MISTAKE == "float32" else np.float64
    dx, dWx, dWh, db = (np.zeros(s, dtype=dtype) for s in ((N, T, D), (D, H), (H, H), (H,)))
    dprev = np.zeros((N, H), dtype=dtype)
    for t in reversed(range(T)):
        dx[:, t], dprev, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t] + dprev, cache[t])
        if MISTAKE == "first-step-weights" and t == 0:
            continue  # "h_0 is not a step of the sequence"
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    if MISTAKE == "einsum":  # the same sums, in one go at the end (another summation order)
        xs = np.stack([c[0] for c in cache], axis=1)
        hp = np.stack([c[1] for c in cache], axis=1)
        da = np.stack([(dh[:, t] + 0) for t in range(T)], axis=1)
        back = np.zeros((N, H))
        for t in reversed(range(T)):
            da[:, t] = (da[:, t] + back) * (1 - cache[t][5] ** 2)
            back = da[:, t] @ cache[t][3].T
        dWx, dWh, db = np.einsum("ntd,nth->dh", xs, da), np.einsum("ntk,nth->kh", hp, da), da.sum(axis=(0, 1))
    if MISTAKE == "bias-long-lags":  # db from a second pass following each dh[:, s] back LAG steps only
        db = np.zeros(H)
        for s in range(T):
            g = dh[:, s]
            for t in range(s, max(s - LAG, -1), -1):
                _, g, _, _, db_t = rnn_step_backward(g, cache[t])
                db += db_t
    grads = [dx, dprev, dWx, dWh, db]
    if MISTAKE == "clip":
        for g in grads:
            np.clip(g, -5, 5, out=g)
    if MISTAKE == "float16":
        grads = [g.astype(np.float16).astype(np.float64) for g in grads]
    return tuple(grads)
'''

OUTPUTS = ("dx", "dh0", "dWx", "dWh", "db")


def _backward_reference(probe) -> dict:
    case = next(c for c in cs231n.cases(("rnn",)) if c.name == "rnn_backward")
    return {k: v for k, v in case.convert(reference_outputs(probe), probe).items() if k in OUTPUTS}


def _rel(a, b) -> float:
    """‖a − b‖ / (‖a‖ + ‖b‖), written out here so the band does not rest on the checker's own function."""
    return float(np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b)))


# ------------------------------------------------------------------------------------------ probes

def _plain(seed=7, T=50, **kw):
    return make_probe("rnn", True, seed, T=T, D=4, H=6, K=2, B=3, upstream=True, **kw)


def _long_memory(seed, rho, last_only):
    """Near-linear cell (small inputs, h_0 = 0) with V = ρ·orthogonal: a gradient fades as ρ^lag, so
    what happens 30–50 steps back is small but not negligible."""
    probe = _plain(seed)
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((6, 6)))
    probe.params["V"] = rho * q
    probe.params["U"] = 0.1 * probe.params["U"]
    probe.params["b"] = 0.0 * probe.params["b"]
    probe.h0[:] = 0.0
    if last_only:  # many-to-one: the upstream gradient arrives at the last step only
        probe.dhs[:-1] = 0.0
    return probe


def _just_above_five():
    """Upstream gradients scaled (the backward is linear in them) so that the largest gradient entry is
    5.1: clipping at ±5 touches only the entries between 5 and 5.1."""
    probe = _plain(8)
    largest = max(np.abs(v).max() for v in _backward_reference(probe).values())
    probe.dhs *= 5.1 / largest
    return probe


def _tiny():
    probe = _plain(9, T=20)
    probe.dhs *= 1e-12
    probe.params = {k: 1e-4 * v for k, v in probe.params.items()}
    return probe


MUST_FAIL = [  # (what, MISTAKE, probe builder, LAG)
    ("clipping at ±5 touches a few entries", "clip", _just_above_five, 35),
    ("the first of fifty steps left out of the weight sums", "first-step-weights",
     lambda: _long_memory(3, 0.9, last_only=True), 35),
    ("float16 round trip of every gradient", "float16", lambda: _plain(10), 35),
    ("bias gradient off at lags ≥ 35 of 50 only", "bias-long-lags", lambda: _long_memory(2, 0.85, last_only=False),
     35),
    ("bias gradient off at lags ≥ 45 of 50 only", "bias-long-lags", lambda: _long_memory(4, 0.85, last_only=False),
     45),
]

MUST_PASS = [
    ("saturated tanh, tanh' written as 1/cosh²", "cosh", lambda: _plain(11, T=20, scale=12.0)),
    ("tiny entries (gradients ~1e-12)", None, _tiny),
    ("T = 400, weight gradients summed in one einsum", "einsum", lambda: _plain(12, T=400)),
    ("everything in float32, T = 200", "float32", lambda: _plain(13, T=200)),
    ("the long-memory probe itself", None, lambda: _long_memory(3, 0.9, last_only=True)),
]


def _run(tmp_path, monkeypatch, mistake, probe, lag=35):
    original = cs231n._probes
    monkeypatch.setattr(cs231n, "_probes",
                        lambda model, step, upstream: original(model, step, upstream) if step else [probe])
    path = tmp_path / "rnn_layers.py"
    path.write_text(STUDENT.replace("MISTAKE = None", f"MISTAKE = {mistake!r}", 1).replace("LAG = 35", f"LAG = {lag}"))
    report = check(path, "cs231n", "rnn", numerical=False)
    return {t.name: t for t in report.tests}


@pytest.mark.parametrize("what, mistake, build, lag", MUST_FAIL, ids=[f"{m}-{lag}" if m == "bias-long-lags" else m
                                                                    for _w, m, _b, lag in MUST_FAIL])
def test_small_but_real_mistake_fails(tmp_path, monkeypatch, what, mistake, build, lag):
    tests = _run(tmp_path, monkeypatch, mistake, build(), lag)
    backward = tests["rnn_backward"]
    assert not backward.passed, f"{what}: passed"
    worst = max(c.error for c in backward.checks if c.error is not None)
    assert 1e-5 < worst < 1e-2, f"{what}: relative error {worst:.1e} is outside the band this test pins"
    assert all(t.passed for name, t in tests.items() if name != "rnn_backward"), "only the backward is wrong"


def test_the_clipping_case_touches_few_entries_and_lies_in_the_band():
    """Independent of the checker: the clipped reference differs from the reference by 1e-5..1e-2."""
    ref = _backward_reference(_just_above_five())
    touched = sum(int((np.abs(v) > 5).sum()) for v in ref.values())
    assert 1 <= touched <= 5
    worst = max(_rel(np.clip(v, -5, 5), v) for v in ref.values())
    assert 1e-5 < worst < 1e-2


def test_the_float16_case_lies_in_the_band():
    ref = _backward_reference(_plain(10))
    worst = max(_rel(v.astype(np.float16).astype(np.float64), v) for v in ref.values())
    assert 1e-5 < worst < 1e-2


@pytest.mark.parametrize("what, mistake, build", MUST_PASS, ids=[w.split(",")[0] for w, _m, _b in MUST_PASS])
def test_correct_code_on_ill_conditioned_probes_passes(tmp_path, monkeypatch, what, mistake, build):
    tests = _run(tmp_path, monkeypatch, mistake, build())
    failed = {n: (t.errors, [(c.name, c.error) for c in t.checks]) for n, t in tests.items() if not t.passed}
    assert not failed, f"{what}: {failed}"


def test_the_saturated_probe_is_saturated_and_the_tiny_one_tiny():
    probe = _plain(11, T=20, scale=12.0)
    hs = reference_outputs(probe)["hs"]
    assert np.mean(np.abs(hs) > 0.999) > 0.5  # most units sit where 1 − h² cancels
    assert max(np.abs(v).max() for v in _backward_reference(_tiny()).values()) < 1e-10
