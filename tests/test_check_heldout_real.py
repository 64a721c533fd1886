"""Issue 8's bars on the real-style held-out set (numeric/checking/heldout/real/, real_measure.py).

A fast subset runs here: correct submissions in the habits students have must pass, planted mistakes
(including small ones, relative error 1e-5..1e-2) must fail, and the top diagnosis must name the mistake.
The whole set: ``python -m numeric.checking.heldout.real_measure``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from numeric.checking.heldout import real_measure as rm
from numeric.checking.mistakes import MISTAKES

MUTANTS = {m.name: m for m in rm.MUTANTS}


# ------------------------------------------------------------------------------ the tables themselves

@pytest.mark.parametrize("mutant", rm.MUTANTS, ids=lambda m: m.name)
def test_each_mutant_is_one_edit_of_a_correct_fixture(mutant):
    assert mutant.base in rm.CORRECT
    assert mutant.expect is None or mutant.expect in MISTAKES
    assert rm.mutant_source(mutant) != rm.fixture_text(mutant.base)


def test_every_fixture_and_helper_file_exists():
    for name, run in rm.CORRECT.items():
        assert (rm.REAL / f"{name}.txt").is_file(), name
        for helper in run.with_files:
            assert (rm.REAL / f"{helper}.txt").is_file(), helper


def test_an_edit_that_does_not_match_exactly_once_is_refused():
    bad = rm.Mutant("bad", "cs231n_2019_matmul.py", "dWh += dWh_t", "dWh = dWh_t", "weight-grads-not-summed")
    with pytest.raises(ValueError, match="exactly once"):
        rm.mutant_source(bad)


def test_the_set_is_as_large_as_the_issue_asks():
    kinds = [m.expect is None for m in rm.MUTANTS]
    assert len(rm.CORRECT) >= 20 and kinds.count(False) >= 30 and kinds.count(True) >= 3


# ----------------------------------------------- the correct cs231n fixtures, by our own finite differences

def _load(name: str) -> dict:
    """Run one of OUR fixtures in-process (they are ours, not students'), keeping NumPy's global seed."""
    state = np.random.get_state()
    namespace: dict = {"__name__": "fixture"}
    if name == "cs231n_with_helpers.py":
        exec(rm.fixture_text("lstm_helpers.py"), namespace)
        source = rm.fixture_text(name).replace("from lstm_helpers import sigmoid, split_gates, dtanh_from_output", "")
    else:
        source = rm.fixture_text(name)
    exec(compile(source, name, "exec"), namespace)
    np.random.set_state(state)
    return namespace


def _numerical(f, arrays, eps=1e-6):
    grads = []
    for a in arrays:
        g = np.zeros_like(a)
        for idx in np.ndindex(*a.shape):
            old = a[idx]
            a[idx] = old + eps
            plus = f()
            a[idx] = old - eps
            minus = f()
            a[idx] = old
            g[idx] = (plus - minus) / (2 * eps)
        grads.append(g)
    return grads


def _rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b))


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _rnn(x, h0, Wx, Wh, b):
    h, out = h0, []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ Wx + h @ Wh + b)
        out.append(h)
    return np.stack(out, 1)


def _lstm(x, h0, Wx, Wh, b):
    H = h0.shape[1]
    h, c, out = h0, np.zeros_like(h0), []
    for t in range(x.shape[1]):
        a = x[:, t] @ Wx + h @ Wh + b
        c = _sigmoid(a[:, H:2 * H]) * c + _sigmoid(a[:, :H]) * np.tanh(a[:, 3 * H:])
        h = _sigmoid(a[:, 2 * H:3 * H]) * np.tanh(c)
        out.append(h)
    return np.stack(out, 1)


CS231N = [n for n, run in rm.CORRECT.items() if run.convention == "cs231n" and n.endswith(".py")]


def _skip_without_scipy(name):
    """SciPy is allowed in submissions but not a dependency of the toolkit (a fresh venv lacks it)."""
    import importlib.util
    if "scipy" in name and importlib.util.find_spec("scipy") is None:
        pytest.skip("this fixture imports scipy, which is not installed")


@pytest.mark.parametrize("name", CS231N)
def test_correct_cs231n_fixtures_are_correct_by_finite_differences(name):
    """The measurement means something only if the "correct" files are: each sequence backward against
    central differences of an independent forward, at probe-like scales (weights ×2, upstream ×8)."""
    _skip_without_scipy(name)
    student = _load(name)
    rng = np.random.default_rng(5)
    N, T, D, H = 2, 4, 3, 3
    parts = [p for p in ("rnn", "lstm") if f"{p}_backward" in student]
    for part, ref, width in (("rnn", _rnn, H), ("lstm", _lstm, 4 * H)):
        if part not in parts:
            continue
        x, h0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, H))
        Wx, Wh, b = rng.normal(size=(D, width)), rng.normal(size=(H, width)), rng.normal(size=width)
        dh = 8 * rng.normal(size=(N, T, H))
        h, cache = student[f"{part}_forward"](x, h0, Wx, Wh, b)
        got = student[f"{part}_backward"](dh.copy(), cache)
        expected = _numerical(lambda: np.sum(dh * ref(x, h0, Wx, Wh, b)), [x, h0, Wx, Wh, b])
        tol = 1e-5 if "float32" in name else 1e-7
        assert _rel(h, ref(x, h0, Wx, Wh, b)) < tol
        for g, e in zip(got, expected):
            assert _rel(g, e) < tol


# --------------------------------------------------------------------------- a fast subset through the checker

# Correct submissions the checker still fails (measured on main at b0f940a), each with what it would need;
# strict: when one starts passing, move it back among the others.
KNOWN_FALSE_FAILURES: dict[str, str] = {}  # minchar_class_port.py passes since lossFun is found as a method
FAST_CORRECT = [name if name not in KNOWN_FALSE_FAILURES else
                pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=KNOWN_FALSE_FAILURES[name]))
                for name in rm.CORRECT]   # all of them: ~0.2 s each
FAST_MUTANTS = ["c-rnn-dh-next", "c-lstm-clip-dh-next", "m-dh-next", "d-gate-names-swapped", "d-c-prev-in-place",
                "k-truncate-4", "a-clip-dh-next", "g-sign", "p-no-forget-factor",
                "s-rnn-dWh-float16", "s-minchar-leaky-dhnext", "s-dlai-l2-left-in", "s-gru-leaky",
                "c-rnn-truncate-every-8", "c-lstm-aliased-dnext-c"]


@pytest.fixture(scope="module")
def fast_rows():
    return {r["name"]: r for r in rm.measure(set(rm.CORRECT) | set(FAST_MUTANTS))["rows"]}


@pytest.mark.parametrize("name", FAST_CORRECT)
def test_correct_submission_passes(fast_rows, name):
    _skip_without_scipy(name)
    row = fast_rows[name]
    assert row["passed"], row.get("reason")


# Planted mistakes whose top diagnosis is not the planted one (measured on main at b0f940a); strict as above.
KNOWN_MISSES: dict[str, str] = {}  # d-c-prev-in-place is named mutates-input since the cache rule (policy.py)


@pytest.mark.parametrize("name", FAST_MUTANTS)
def test_planted_mistake_fails(fast_rows, name):
    assert not fast_rows[name]["passed"], f"{name} passed although {MUTANTS[name].expect or 'a small mistake'} is planted"


@pytest.mark.parametrize("name", [n if n not in KNOWN_MISSES else
                                  pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=KNOWN_MISSES[n]))
                                  for n in FAST_MUTANTS if MUTANTS[n].expect])
def test_top_diagnosis_names_the_planted_mistake(fast_rows, name):
    assert fast_rows[name]["top"] == MUTANTS[name].expect


def test_cli_json_and_unknown_case(capsys):
    assert rm.main(["--only", "nope"]) == 2
    capsys.readouterr()
    code = rm.main(["--json", "--only", "c-rnn-Wh-not-transposed"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert result["mutants"] == {"failed": 1, "total": 1, "survivors": [], "small_failed": 0, "small_total": 0}
    assert result["diagnosis"]["right"] == 1 and result["correct"]["total"] == 0
    assert result["per_batch"]["1"]["diagnosis_right"] == 1
