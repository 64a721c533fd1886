"""Grading policy: what fails, what is a warning, and what the probes guarantee.

- an input changed in place is a warning with its evidence; ``strict_inputs`` fails it;
- min-char-rnn as Karpathy wrote it (clipping at ±5 inside lossFun, a training loop) passes, with the
  clipping reported as ``clips-gradients-at 5``; its loss is an output like any other;
- clipping inside a backward fails in cs231n and course, and is named;
- probes are secret per run and reproducible by seed; a table of memorised answers fails;
- a numerical gradient inside a backward cannot pass the large probe and is named.

The fixtures in tests/grading_fixtures/ were written for these tests in the shapes of public solutions.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from numeric.checking import check, conventions
from numeric.checking.demo import EXAMPLES
from numeric.checking.reference import reference_outputs, run_seed

FIXTURES = Path(__file__).parent / "grading_fixtures"
CS231N = (EXAMPLES / "cs231n_correct.py").read_text()
COURSE_RNN = (EXAMPLES / "course_rnn_correct.py").read_text()


def _write(tmp_path: Path, source: str, name: str = "sub.py") -> Path:
    path = tmp_path / name
    path.write_text(source)
    return path


def _test(report, name):
    return next(t for t in report.tests if t.name == name)


# ---------------------------------------------------------------- in-place changes of inputs

def test_in_place_upstream_change_is_a_warning_with_evidence():
    report = check(FIXTURES / "cs231n_inplace.py", "cs231n", numerical=False, seed=5)
    assert report.passed and report.exit_code == 0
    step = _test(report, "lstm_step_backward")
    assert step.passed and len(step.warnings) == 1
    assert "dnext_c was changed in place" in step.warnings[0] and "max |change|" in step.warnings[0]
    assert "dh was changed in place" in _test(report, "rnn_backward").warnings[0]
    untouched = [t for t in report.tests if t.name not in ("lstm_step_backward", "rnn_backward")]
    assert all(t.passed and not t.warnings for t in untouched)


def test_strict_inputs_fails_an_in_place_change_and_names_it():
    report = check(FIXTURES / "cs231n_inplace.py", "cs231n", numerical=False, seed=5, strict_inputs=True)
    failed = {t.name: t for t in report.tests if not t.passed}
    assert set(failed) == {"lstm_step_backward", "rnn_backward"}
    for test in failed.values():
        assert test.diagnosis[0].mistake == "mutates-upstream-gradient", test.diagnosis
        assert not test.warnings  # a failure, not also a warning


@pytest.mark.parametrize("strict", [False, True])
def test_changed_argument_is_a_warning_unless_strict(tmp_path, strict):
    source = COURSE_RNN.replace("    return dU, dV, dW\n", "    U *= 2\n    return dU, dV, dW\n")
    assert source != COURSE_RNN
    report = check(_write(tmp_path, source), "course", "rnn", numerical=False, seed=1, strict_inputs=strict)
    bptt = _test(report, "bptt")
    assert bptt.passed is (not strict)
    text = " ".join(bptt.errors if strict else bptt.warnings)
    assert "modifies its input U in place" in text


# ---------------------------------------------------------------- min-char-rnn as it is

@pytest.mark.parametrize("fixture", ["minchar_karpathy.py", "minchar_port.py"])
def test_karpathy_min_char_rnn_passes_and_its_clipping_is_reported(fixture):
    report = check(FIXTURES / fixture, "min-char-rnn", seed=3)
    test = _test(report, "lossFun")
    assert report.passed, test.errors
    assert len(test.warnings) == 1 and test.warnings[0].startswith("clips-gradients-at 5:")
    assert {c.name for c in test.checks} >= {"loss", "h_last", "dWxh", "dWhh", "dWhy", "dbh", "dby"}
    assert any("skipped" in n for n in report.notes)  # the data file and the training loop


def test_min_char_rnn_without_clipping_has_no_warning():
    report = check(EXAMPLES / "minchar_correct.py", "min-char-rnn", numerical=False, seed=3)
    assert report.passed and not _test(report, "lossFun").warnings


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_min_char_verdict_probes_stay_below_the_clip(seed):
    with run_seed(seed):
        probes = conventions.cases("min-char-rnn", ("rnn",))[0].probes
    verdict = [p for p in probes if p.extra.get("role") != "clip"]
    assert len(verdict) == 2 and len(probes) == 3
    for probe in verdict:
        ref = reference_outputs(probe)
        assert max(float(np.max(np.abs(ref[k]))) for k in ("U", "V", "W", "b", "c")) < 5
    clip = reference_outputs(probes[-1])
    assert max(float(np.max(np.abs(clip[k]))) for k in ("U", "V", "W", "b", "c")) > 10


def test_min_char_mistake_diagnosis_explains_the_loss_too(tmp_path):
    source = (FIXTURES / "minchar_karpathy.py").read_text().replace(
        "dh = np.dot(Why.T, dy) + dhnext", "dh = np.dot(Why.T, dy)")
    report = check(_write(tmp_path, source), "min-char-rnn", numerical=False, seed=3)
    test = _test(report, "lossFun")
    assert not test.passed and test.diagnosis[0].mistake == "dh-next-not-added"
    assert "Not explained" not in test.diagnosis[0].evidence, test.diagnosis[0].evidence
    assert test.diagnosis[0].confidence >= 0.9


# ---------------------------------------------------------------- clipping elsewhere fails

CLIPPED = [
    ("cs231n", "rnn", CS231N, "rnn_backward",
     ("    return dx, dprev, dWx, dWh, db\n",
      "    for g in (dx, dprev, dWx, dWh, db):\n        np.clip(g, -5, 5, out=g)\n    return dx, dprev, dWx, dWh, db\n")),
    ("cs231n", "rnn", CS231N, "rnn_step_backward",
     ("    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)\n",
      "    return tuple(np.clip(g, -5, 5) for g in (da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)))\n")),
    ("course", "rnn", COURSE_RNN, "bptt",
     ("    return dU, dV, dW\n", "    return np.clip(dU, -5, 5), np.clip(dV, -5, 5), np.clip(dW, -5, 5)\n")),
]


@pytest.mark.parametrize("convention, model, source, failing, edit", CLIPPED, ids=[c[3] for c in CLIPPED])
def test_clipping_inside_a_backward_fails_and_is_named(tmp_path, convention, model, source, failing, edit):
    assert edit[0] in source
    report = check(_write(tmp_path, source.replace(edit[0], edit[1], 1)), convention, model, numerical=False,
                   seed=11)
    test = _test(report, failing)
    assert not test.passed
    assert test.diagnosis and test.diagnosis[0].mistake == "clipping-in-backward", test.diagnosis


# ---------------------------------------------------------------- secret probes

PROBE_PRINTER = CS231N.replace("def rnn_step_forward(x, prev_h, Wx, Wh, b):\n",
                               "def rnn_step_forward(x, prev_h, Wx, Wh, b):\n"
                               "    print('probe', float(x.ravel()[0]))\n", 1)


def test_two_runs_draw_different_probes_and_a_seed_reproduces_one(tmp_path):
    path = _write(tmp_path, PROBE_PRINTER)
    first, second = (check(path, "cs231n", "rnn", numerical=False) for _ in range(2))
    assert first.seed != second.seed and first.seed is not None
    assert "probe" in first.stdout and first.stdout != second.stdout
    again = check(path, "cs231n", "rnn", numerical=False, seed=first.seed)
    assert again.stdout == first.stdout

    def stable(report):
        d = report.as_dict()
        d.pop("seconds")
        d.pop("isolation")  # the sandbox's uid differs per run
        for t in d["tests"]:
            t.pop("seconds")
        return d
    assert stable(again) == stable(first)


def _lookup_table_submission(seed: int) -> str:
    """rnn_step_forward answering from a table of the probes of ``seed`` (what a student could memorise
    if the probes were fixed), zeros otherwise; the rest of the file is correct."""
    with run_seed(seed):
        case = next(c for c in conventions.cases("cs231n", ("rnn",)) if c.name == "rnn_step_forward")
        table = {}
        for probe in case.probes:
            x = np.ascontiguousarray(probe.xs[0].T)
            table[hashlib.sha256(x.tobytes()).hexdigest()] = case.convert(reference_outputs(probe), probe)["next_h"]
    entries = ",\n".join(f"    {k!r}: {v.tolist()!r}" for k, v in table.items())
    return CS231N.replace("def rnn_step_forward(", "def _real_step_forward(", 1) + f'''

import hashlib
TABLE = {{
{entries}
}}


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    key = hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()
    _h, cache = _real_step_forward(x, prev_h, Wx, Wh, b)
    return (np.array(TABLE[key]) if key in TABLE else np.zeros_like(_h)), cache
'''


def test_memorised_probes_fail_on_a_new_run(tmp_path):
    path = _write(tmp_path, _lookup_table_submission(seed=123))
    memorised = check(path, "cs231n", "rnn", numerical=False, seed=123)
    assert _test(memorised, "rnn_step_forward").passed  # the table is right for the probes it memorised
    fresh = check(path, "cs231n", "rnn", numerical=False)
    assert not _test(fresh, "rnn_step_forward").passed


# ---------------------------------------------------------------- numerical gradient inside the backward

NUMERICAL_STEP = CS231N.replace("def rnn_step_forward(", "def _analytic_step_forward(", 1).replace(
    "def rnn_step_backward(", "def _analytic_step_backward(", 1) + '''

def rnn_step_forward(x, prev_h, Wx, Wh, b):
    return np.tanh(x @ Wx + prev_h @ Wh + b), (x, prev_h, Wx, Wh, b)


def rnn_step_backward(dnext_h, cache):
    """Complex-step derivative of the student's own forward, one entry at a time."""
    args = list(cache)
    grads = []
    for k, a in enumerate(args):
        g = np.zeros(a.shape)
        for idx in np.ndindex(a.shape):
            moved = [v.astype(complex) for v in args]
            moved[k][idx] += 1e-20j
            z = moved[0] @ moved[2] + moved[1] @ moved[3] + moved[4]
            g[idx] = np.sum(dnext_h * np.tanh(z).imag) / 1e-20
        grads.append(g)
    return tuple(grads)
'''


@pytest.mark.slow
def test_numerical_gradient_in_backward_is_named(tmp_path):
    report = check(_write(tmp_path, NUMERICAL_STEP), "cs231n", "rnn", numerical=False, timeout=2.0, seed=9)
    assert _test(report, "rnn_step_forward").passed
    for name in ("rnn_step_backward", "rnn_backward"):  # rnn_backward calls the numerical step backward
        test = _test(report, name)
        assert not test.passed
        top = test.diagnosis[0]
        assert top.mistake == "numerical-gradient-in-backward" and top.confidence >= 0.9, test.diagnosis
        assert "small probes are right" in top.evidence


@pytest.mark.slow
def test_course_numerical_gradient_is_named(tmp_path):
    source = COURSE_RNN + '''

def _loss(x, o, h0, U, V, W):
    h, E = h0, 0.0
    for t in range(len(x)):
        h = np.tanh(U @ x[t] + V @ h)
        z = W @ h
        E -= z[o[t]] - z.max() - np.log(np.exp(z - z.max()).sum())
    return E


def bptt(x, o, h0, U, V, W):
    out = []
    for P in (U, V, W):
        g = np.zeros_like(P)
        for idx in np.ndindex(P.shape):
            keep = P[idx]
            P[idx] = keep + 1e-6
            up = _loss(x, o, h0, U, V, W)
            P[idx] = keep - 1e-6
            down = _loss(x, o, h0, U, V, W)
            P[idx] = keep
            g[idx] = (up - down) / 2e-6
        out.append(g)
    return tuple(out)
'''
    report = check(_write(tmp_path, source), "course", "rnn", numerical=False, timeout=2.0, seed=2)
    test = _test(report, "bptt")
    assert not test.passed and test.diagnosis[0].mistake == "numerical-gradient-in-backward"


def test_correct_files_pass_the_large_probe_quickly():
    report = check(EXAMPLES / "cs231n_correct.py", "cs231n", numerical=False, seed=4)
    assert report.passed
    assert all(len(c.probes) == 4 and c.probes[-1].extra["role"] == "large"
               for c in conventions.cases("cs231n", ("rnn", "lstm")))
    assert report.seconds < 8.0  # the bar is 5 s on a quiet machine; this one is shared


def test_adapter_diagnosis_judges_only_what_the_adapter_returns(tmp_path):
    """The example adapter returns the loss and the parameter gradients, not ∂/∂x or ∂/∂h0: the loss is
    compared like any output, and a mistake's evidence is not weakened by outputs it never returned."""
    source = (EXAMPLES / "adapter_submission.py").read_text()
    edit = "da = (dz @ Why.T + dnext) * (1 - hs[t + 1] ** 2)"
    assert edit in source
    path = _write(tmp_path, source.replace(edit, "da = (dz @ Why.T) * (1 - hs[t + 1] ** 2)"), "adapter_submission.py")
    report = check(path, "adapter", adapter=EXAMPLES / "adapter_example.py", numerical=False, seed=2)
    test = _test(report, "rnn_loss_and_grads")
    assert "loss" in {c.name for c in test.checks} and not {"dxs", "dh0", "dx"} & {c.name for c in test.checks}
    top = test.diagnosis[0]
    assert top.mistake == "dh-next-not-added" and top.confidence >= 0.9, top
    assert "Not explained" not in top.evidence and "would also change" not in top.evidence


def test_run_seed_mixes_into_every_probe():
    from numeric.checking.reference import make_probe

    def xs(seed):
        with run_seed(seed):
            return make_probe("rnn", True, 11, T=2, D=3, H=4, K=2, B=1).xs
    assert np.array_equal(xs(7), xs(7)) and not np.array_equal(xs(7), xs(8))
    assert not np.array_equal(xs(None), xs(7))  # outside a run: the fixed index alone (unit tests)
    assert np.array_equal(xs(None), make_probe("rnn", True, 11, T=2, D=3, H=4, K=2, B=1).xs)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_min_char_clipping_at_another_bound_is_the_same_warning_on_every_run(tmp_path, seed):
    source = (FIXTURES / "minchar_karpathy.py").read_text().replace("np.clip(dparam, -5, 5, out=dparam)",
                                                                     "np.clip(dparam, -1, 1, out=dparam)")
    report = check(_write(tmp_path, source), "min-char-rnn", numerical=False, seed=seed)
    test = _test(report, "lossFun")
    assert test.passed and test.warnings[0].startswith("clips-gradients-at 1:"), (test.errors, test.warnings)
