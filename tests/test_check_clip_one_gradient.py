"""Clipping just ONE returned gradient is caught on every run (issue 8: "clipping at ±5 inside a backward is
caught in every convention"). The large-gradient probe makes every gradient reach 12 (reference.CLIP_PROOF:
upstream-driven probes are scaled, exact by linearity; the adapter's loss-driven probe repeats its batch;
the course's and min-char-rnn's single sequence is built for it, ``reference.loss_clip_probe``), so
clipping one output at ±10 (hence ±5, ±1) changes it whatever the secret seed. Three seeds end to end, ten
for the probes themselves; in min-char-rnn the clipping is reported (``clips-gradients-at``), not failed.

Before: the course's single-gradient clipping was missed on some seeds (LSTM U_f alone: 9 of 10 missed), and
clipping one min-char-rnn gradient failed the submission on 9 seeds of 10 and passed silently on the 10th."""

from __future__ import annotations

from pathlib import Path

import pytest

from numeric.checking import check

EXAMPLES = Path(__file__).parents[1] / "numeric/checking/examples"


def _edit(name: str, old: str, new: str) -> str:
    source = (EXAMPLES / name).read_text()
    assert source.count(old) == 1, (name, old)
    return source.replace(old, new)


CASES = {  # convention, model, file edit, check() keywords
    "cs231n-dWh": ("cs231n", "rnn", lambda tau: _edit("cs231n_correct.py", "    return dx, dprev, dWx, dWh, db",
                                                      f"    return dx, dprev, dWx, np.clip(dWh, -{tau}, {tau}), db"), {}),
    "deeplearning-ai-dWaa": ("deeplearning-ai", "rnn", lambda tau: _edit(
        "dlai_correct.py", '"dWaa": dWaa, "dba": dba}', f'"dWaa": np.clip(dWaa, -{tau}, {tau}), "dba": dba}}'),
        {"with_files": (str(EXAMPLES / "rnn_utils.py"),)}),
    "adapter-loss-dWhh": ("adapter", None, lambda tau: _edit(
        "adapter_submission.py", "    return loss, g", f'    g["Whh"] = np.clip(g["Whh"], -{tau}, {tau})\n    return loss, g'),
        {"adapter": EXAMPLES / "adapter_example.py"}),
    "course-rnn-dV": ("course", "rnn", lambda tau: _edit("course_rnn_correct.py", "    return dU, dV, dW",
                                                        f"    return dU, np.clip(dV, -{tau}, {tau}), dW"), {}),
    "course-lstm-V_f": ("course", "lstm", lambda tau: _edit(
        "course_lstm_correct.py", "    return grads", f'    grads["V_f"] = np.clip(grads["V_f"], -{tau}, {tau})\n'
        "    return grads"), {}),
}


@pytest.mark.parametrize("tau", [10])  # every gradient reaches 12: a clip at ±10 changes it, so ±5 or ±1 does too
@pytest.mark.parametrize("name", list(CASES))
def test_clipping_one_gradient_is_caught_on_every_seed(tmp_path, name, tau):
    convention, model, build, kwargs = CASES[name]
    path = tmp_path / "submission.py"
    path.write_text(build(tau))
    # end to end on three seeds (one for the course's slow LSTM diagnosis); ten for every probe below
    for seed in range(1 if name == "course-lstm-V_f" else 3):
        report = check(path, convention, model, numerical=False, seed=seed, **kwargs)
        failed = [t for t in report.tests if not t.passed]
        assert failed, f"seed {seed}: clipping one gradient at ±{tau} passed"
        assert failed[0].diagnosis and failed[0].diagnosis[0].mistake == "clipping-in-backward", \
            (seed, failed[0].diagnosis[:2])


def test_min_char_clipping_one_gradient_is_reported_on_every_seed(tmp_path):
    path = tmp_path / "min_char_rnn.py"
    path.write_text(_edit("minchar_correct.py", "    return loss, dWxh, dWhh,", "    return loss, dWxh, np.clip(dWhh, -5, 5),"))
    for seed in range(10):
        test = check(path, "min-char-rnn", numerical=False, seed=seed).tests[0]
        assert test.passed, (seed, test.errors)
        assert [w[:len("clips-gradients-at 5: dWhh equals")] for w in test.warnings] == \
            ["clips-gradients-at 5: dWhh equals"], (seed, test.warnings)


# every test of every convention: its third probe itself (reference only, fast), ten secret seeds
PROBED = [("course", (m,), None) for m in ("rnn", "lstm", "lstm-peephole", "gru", "gru-reset-after")] + [
    ("min-char-rnn", ("rnn",), None), ("cs231n", ("rnn", "lstm"), None), ("deeplearning-ai", ("rnn", "lstm"), None),
    ("adapter", (), "adapter_example.py"), ("adapter", (), "adapter_dlai_lstm.py")]


@pytest.mark.parametrize("convention, models, adapter", PROBED, ids=[f"{c}-{a or ','.join(m)}" for c, m, a in PROBED])
def test_every_gradient_of_the_large_gradient_probe_reaches_twelve(convention, models, adapter):
    from numeric.checking import conventions
    from numeric.checking.reference import CLIP_PROOF, reference_outputs, run_seed
    for seed in range(10):
        with run_seed(seed):
            cases = conventions.cases(convention, models, str(EXAMPLES / adapter) if adapter else None)
        for case in cases:
            gradients = [o.name for o in case.outputs if o.kind == "gradient"]
            if not gradients:
                continue  # a forward
            probe = case.probes[2]
            ref = case.convert(reference_outputs(probe), probe)
            sizes = {n: float(abs(ref[n]).max()) for n in gradients if n in ref}
            assert sizes and min(sizes.values()) >= CLIP_PROOF, (seed, case.name, sizes)
