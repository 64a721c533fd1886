"""Clipping just ONE returned gradient is caught on every run (issue 8: "clipping at ±5 inside a backward is
caught in every convention"). The large-gradient probe makes every gradient reach 12 (reference.CLIP_PROOF:
upstream-driven probes are scaled, exact by linearity; the adapter's loss-driven probe repeats its batch),
so clipping one output at ±10 (hence ±5, ±1) changes it whatever the secret seed. Ten seeds each.
Not yet for the course convention's LSTM/GRU (B = 1, loss-driven: nothing to scale exactly)."""

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
}


@pytest.mark.parametrize("tau", [10])  # every gradient reaches 12: a clip at ±10 changes it, so ±5 or ±1 does too
@pytest.mark.parametrize("name", list(CASES))
def test_clipping_one_gradient_is_caught_on_every_seed(tmp_path, name, tau):
    convention, model, build, kwargs = CASES[name]
    path = tmp_path / "submission.py"
    path.write_text(build(tau))
    for seed in range(10):
        report = check(path, convention, model, numerical=False, seed=seed, **kwargs)
        failed = [t for t in report.tests if not t.passed]
        assert failed, f"seed {seed}: clipping one gradient at ±{tau} passed"
        assert failed[0].diagnosis and failed[0].diagnosis[0].mistake == "clipping-in-backward", \
            (seed, failed[0].diagnosis[:2])
