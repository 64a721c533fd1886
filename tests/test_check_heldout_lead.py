"""The lead's blind held-out set: correct submissions in the shapes real students hand in, written (from the
public assignments' APIs, not copied) before the issue-8/9 fixes and run unchanged after them.

Each fixture is stored as .txt (pytest must not collect it) and copied under its real name. Before the fixes,
on main at 2f417da: cs231n_2017_inplace failed (`dnext_c +=` in place), cs231n_2024_namedtuple failed to load
(sys._getframe refused), minchar_py3_port failed (its own ±5 clip), the notebook gave NameError 'null'.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from numeric.checking import check

HERE = Path(__file__).parent / "heldout_lead"

# file, convention, model(s), extra keyword arguments of check(), warnings expected (substring per warning)
CASES = [
    ("cs231n_2017_inplace.py", "cs231n", None, {}, ["dnext_c was changed in place"]),
    ("cs231n_2024_namedtuple.py", "cs231n", None, {}, []),
    ("minchar_py3_port.py", "min-char-rnn", None, {}, ["clips-gradients-at 5"]),
    ("dlai_step_by_step.py", "deeplearning-ai", None, {"with_files": ("rnn_utils.py",)}, []),
    ("cs231n_layers_notebook.ipynb", "cs231n", None, {}, ["dnext_c was changed in place"]),
    ("course_rnn_script.py", "course", "rnn", {"load": "defs"}, []),
]


@pytest.mark.parametrize("name, convention, models, kwargs, warnings", CASES, ids=[c[0] for c in CASES])
def test_correct_real_style_submission_passes(tmp_path, name, convention, models, kwargs, warnings):
    for fixture in HERE.glob("*.txt"):
        shutil.copyfile(fixture, tmp_path / fixture.name[:-len(".txt")])
    kwargs = dict(kwargs)
    if "with_files" in kwargs:
        kwargs["with_files"] = tuple(str(tmp_path / f) for f in kwargs["with_files"])
    report = check(tmp_path / name, convention, models, numerical=False, **kwargs)
    assert report.passed, (report.load_error, [(t.name, t.errors) for t in report.tests if not t.passed])
    shown = [w for t in report.tests for w in t.warnings] + report.warnings
    for expected in warnings:
        assert any(expected in w for w in shown), shown
