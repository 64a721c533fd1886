"""Truncated BPTT every k steps is named, for k = 1..10, in every convention (issue 8's diagnosis bar).

"dh_next reset every k steps" changes nothing on a sequence of T ≤ k steps, so the diagnosis must replay a
probe longer than 10 steps: cs231n, deeplearning-ai and adapter (upstream) now have T = 12 on the
large-gradient probe; course (T = 25) and min-char-rnn (T = 25, replayed when the ordinary probes are
right) had one already. Before the change cs231n's k = 8 failed with no diagnosis (its short probes have
T ≤ 7 and the large probe is never replayed). k = 1 resets dh_next at every step: that is the registry's
``dh-next-not-added`` (truncated-bptt's variants start at k = 2), and it is named so.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from numeric.checking import check

EXAMPLES = Path(__file__).parents[1] / "numeric/checking/examples"


def _edit(name: str, old: str, new: str) -> str:
    source = (EXAMPLES / name).read_text()
    assert source.count(old) == 1, (name, old)
    return source.replace(old, new)


def _cs231n(k: int) -> str:
    return _edit("cs231n_correct.py", "    for t in reversed(range(T)):\n        dx[:, t], dprev,",
                 f"    for t in reversed(range(T)):\n        if (T - 1 - t) % {k} == 0:\n"
                 f"            dprev = np.zeros_like(dprev)\n        dx[:, t], dprev,")


def _dlai(k: int) -> str:
    return _edit("dlai_correct.py", "    for t in reversed(range(T_x)):\n        g = rnn_cell_backward(",
                 f"    for t in reversed(range(T_x)):\n        if (T_x - 1 - t) % {k} == 0:\n"
                 f"            da_prevt = np.zeros_like(da_prevt)\n        g = rnn_cell_backward(")


def _course(k: int) -> str:
    return _edit("course_rnn_correct.py", "    for t in reversed(range(T)):\n        dz = o_hat[t].copy()",
                 f"    for t in reversed(range(T)):\n        if (T - 1 - t) % {k} == 0:\n"
                 f"            delta_next = np.zeros_like(delta_next)\n        dz = o_hat[t].copy()")


def _minchar(k: int) -> str:
    return _edit("minchar_correct.py", "    for t in reversed(range(len(inputs))):\n        dy = np.copy(ps[t])",
                 f"    for t in reversed(range(len(inputs))):\n        if (len(inputs) - 1 - t) % {k} == 0:\n"
                 f"            dhnext = np.zeros_like(dhnext)\n        dy = np.copy(ps[t])")


# convention, model, source builder, extra check() arguments, the ks tested (all of 1..10 where it was missed)
CONVENTIONS = {
    "cs231n": ("cs231n", "rnn", _cs231n, {}, (1, 2, 3, 5, 8, 10)),  # k = 4, 6, 7, 9 held ~ the same: cut for time
    "deeplearning-ai": ("deeplearning-ai", "rnn", _dlai, {"with_files": (str(EXAMPLES / "rnn_utils.py"),)}, (8, 10)),
    "course": ("course", "rnn", _course, {}, (8, 10)),
    "min-char-rnn": ("min-char-rnn", None, _minchar, {}, (8, 10)),
}
CASES = [(name, k) for name, spec in CONVENTIONS.items() for k in spec[4]]


@pytest.mark.parametrize("name, k", CASES, ids=[f"{n}-k{k}" for n, k in CASES])
def test_truncation_every_k_steps_is_named(tmp_path, name, k):
    convention, model, build, kwargs, _ks = CONVENTIONS[name]
    path = tmp_path / "submission.py"
    path.write_text(build(k))
    report = check(path, convention, model, numerical=False, seed=k, **kwargs)
    failed = [t for t in report.tests if not t.passed]
    assert failed, f"truncation every {k} steps passed"
    expected = "dh-next-not-added" if k == 1 else "truncated-bptt"
    for test in failed:
        assert test.diagnosis and test.diagnosis[0].mistake == expected, (test.name, test.diagnosis[:2])
