"""Files as students export them (numeric/checking/loading.py): notebooks, scripts with a training loop
(``load="defs"``), helper files. ``prepare`` is tested directly (parent side: JSON and ast only) and
end to end through ``check``."""

from __future__ import annotations

import ast
import re
import json
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from numeric.checking import CheckUsageError, check, loading
from numeric.checking.loading import SubmissionError, definitions_only, prepare

# A correct cs231n RNN part, written the way a notebook splits it: one function per cell.
CELLS_RNN = [
    "import numpy as np\n",
    "def rnn_step_forward(x, prev_h, Wx, Wh, b):\n"
    "    next_h = np.tanh(x.dot(Wx) + prev_h.dot(Wh) + b)\n"
    "    return next_h, (x, prev_h, Wx, Wh, next_h)\n",
    "def rnn_step_backward(dnext_h, cache):\n"
    "    x, prev_h, Wx, Wh, next_h = cache\n"
    "    dz = dnext_h * (1 - next_h ** 2)\n"
    "    return dz.dot(Wx.T), dz.dot(Wh.T), x.T.dot(dz), prev_h.T.dot(dz), dz.sum(axis=0)\n",
    "def rnn_forward(x, h0, Wx, Wh, b):\n"
    "    N, T, _ = x.shape\n"
    "    h, caches, prev = np.zeros((N, T, h0.shape[1])), [], h0\n"
    "    for t in range(T):\n"
    "        prev, c = rnn_step_forward(x[:, t], prev, Wx, Wh, b)\n"
    "        h[:, t] = prev\n"
    "        caches.append(c)\n"
    "    return h, caches\n",
    "def rnn_backward(dh, cache):\n"
    "    N, T, H = dh.shape\n"
    "    D = cache[0][0].shape[1]\n"
    "    dx, dWx, dWh, db = np.zeros((N, T, D)), np.zeros((D, H)), np.zeros((H, H)), np.zeros(H)\n"
    "    dprev = np.zeros((N, H))\n"
    "    for t in range(T - 1, -1, -1):\n"
    "        dx[:, t], dprev, a, b_, c = rnn_step_backward(dh[:, t] + dprev, cache[t])\n"
    "        dWx += a\n"
    "        dWh += b_\n"
    "        db += c\n"
    "    return dx, dprev, dWx, dWh, db\n",
]


def _nb4(cells: list[tuple[str, str]], language: str = "python", as_string: bool = False) -> str:
    """An nbformat-4 notebook as Jupyter saves it: sources as lists of lines, outputs, null counts."""
    out = []
    for kind, src in cells:
        lines = src.splitlines(keepends=True)
        cell = {"cell_type": kind, "metadata": {}, "source": src if as_string else lines}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        out.append(cell)
    doc = {"cells": out, "metadata": {"kernelspec": {"display_name": "Python 3", "language": language,
                                                     "name": "python3"},
                                      "language_info": {"name": language}},
           "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(doc, indent=1)


def _nb3(cells: list[tuple[str, str]]) -> str:
    """nbformat 3: worksheets, code under "input", markdown under "source"."""
    out = []
    for kind, src in cells:
        key = "input" if kind == "code" else "source"
        cell = {"cell_type": kind, key: src.splitlines(keepends=True), "metadata": {}}
        if kind == "code":
            cell.update(collapsed=False, language="python", outputs=[], prompt_number=1)
        out.append(cell)
    return json.dumps({"metadata": {"name": ""}, "nbformat": 3, "nbformat_minor": 0,
                       "worksheets": [{"cells": out, "metadata": {}}]})


def _student_notebook() -> list[tuple[str, str]]:
    cells = [("markdown", "# RNN assignment\nImplement the functions below.")]
    cells.append(("code", "%matplotlib inline\n%load_ext autoreload\n%autoreload 2\n" + CELLS_RNN[0]))
    cells.append(("code", "!pip install --quiet tqdm\n"))
    for src in CELLS_RNN[1:]:
        cells.append(("markdown", "Now the next function."))
        cells.append(("code", src))
    cells.append(("code", "%%time\nfor i in range(10**9):\n    pass\n"))
    cells.append(("code", "get_ipython().run_line_magic('matplotlib', 'inline')\n"
                          "x = np.random.randn(2, 3, 4)\nprint(x.shape)\n"))
    return cells


# ------------------------------------------------------------------------------------------ notebooks

def test_notebook_is_checked_as_its_code_cells(tmp_path):
    path = tmp_path / "rnn_layers.ipynb"
    path.write_text(_nb4(_student_notebook()))
    report = check(path, "cs231n", "rnn", numerical=False)
    assert report.load_error is None
    assert "'null'" not in json.dumps(report.as_dict())  # the JSON never runs as Python any more
    assert report.passed, [(t.name, t.errors) for t in report.tests]
    note = next(n for n in report.notes if n.startswith("notebook:"))
    assert note.startswith("notebook: 8 code cells of 13") and "skipped 5 IPython lines" in note
    assert "cell 2: %matplotlib inline" in note and "cell 3: !pip install" in note and "cell 12: %%time" in note


def test_notebook_before_the_fix_was_run_as_python_source():
    # what the checker used to do with a notebook: run its JSON text as a module (NameError 'null')
    with pytest.raises(NameError, match="null"):
        exec(compile(_nb4(_student_notebook()), "rnn_layers.ipynb", "exec"), {})


@pytest.mark.parametrize("writer, name", [(_nb4, "hw.ipynb"), (_nb3, "hw.ipynb"), (_nb4, "hw.py"),
                                          (lambda c: _nb4(c, as_string=True), "hw.ipynb")],
                         ids=["nbformat4", "nbformat3", "notebook-saved-as-py", "sources-as-strings"])
def test_notebook_formats(tmp_path, writer, name):
    path = tmp_path / name
    path.write_text(writer(_student_notebook()))
    prepared = prepare(path)
    assert prepared.main == "hw.py" and prepared.mode == "statements"
    source = prepared.files["hw.py"].decode()
    tree = ast.parse(source)
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert defined == {"rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward"}
    assert "%" not in "".join(line for line in source.splitlines() if not line.startswith("#"))
    assert "get_ipython" not in source.replace("# bptt", "")


def test_notebook_layout_maps_lines_back_to_cells(tmp_path):
    cells = [("markdown", "intro"), ("code", "import numpy as np\n"), ("markdown", "more"),
             ("code", "a = 1\nb = 2\nc = 1 / 0\n")]
    path = tmp_path / "nb.ipynb"
    path.write_text(_nb4(cells))
    prepared = prepare(path)
    lines = prepared.files["nb.py"].decode().splitlines()
    assert lines[0] == "# %% cell 2" and lines[2] == "# %% cell 4"
    assert lines[5] == "c = 1 / 0"
    assert prepared.locate(6) == "cell 4, line 3"
    assert prepared.locate(2) == "cell 2, line 1"
    assert prepared.locate(1) is None  # the header line itself comes before any cell's code


def test_error_in_a_notebook_function_names_the_cell(tmp_path):
    cells = [("code", c) for c in CELLS_RNN]
    cells[2] = ("code", CELLS_RNN[2].replace("dz = dnext_h", "dz = undefined_name * dnext_h"))
    path = tmp_path / "nb.ipynb"
    path.write_text(_nb4([("markdown", "title")] + cells))
    report = check(path, "cs231n", "rnn", numerical=False)
    failed = next(t for t in report.tests if t.name == "rnn_step_backward")
    assert not failed.passed
    assert any("NameError" in e and "notebook cell 4, line 3" in e for e in failed.errors), failed.errors


def test_magic_inside_a_block_and_percent_continuations(tmp_path):
    cells = [("code", "import numpy as np\nfor i in range(2):\n    %time np.zeros(3)\n"),
             ("code", "y = (7\n% 4)\n"),  # valid Python: % continues the expression, not a magic
             ("code", "files = !ls\nz = 3\n"),
             ("code", "def f(:\n    pass\n")]
    path = tmp_path / "nb.ipynb"
    path.write_text(_nb4(cells))
    prepared = prepare(path)
    source = prepared.files["nb.py"].decode()
    ast.parse(source)
    assert "y = (7\n% 4)" in source and "z = 3" in source and "def f(:" not in source
    assert any("1 cell that do not parse (cell 4, line 1" in n for n in prepared.notes), prepared.notes


BAD_NOTEBOOKS = [
    ("truncated JSON", '{"cells": [{"cell_type": "code", "source": ["x = 1"]', "invalid JSON at line 1"),
    ("a JSON list", "[1, 2, 3]", "not a Jupyter notebook"),
    ("no code cells", _nb4([("markdown", "only text")]), "no code cells (1 cells in all)"),
    ("an R notebook", _nb4([("code", "x <- 1")], language="R"), "is a r notebook; expected a Python notebook"),
    ("not UTF-8", b"\xff\xfe{\x00", "not a valid notebook"),
    ("JSON nested 100 000 deep", '{"cells": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
    ("2 MB of code in one cell", _nb4([("code", "x = 1\n" * 350_000)]), "characters of code in its cells"),
]


@pytest.mark.parametrize("what, content, message", BAD_NOTEBOOKS, ids=[b[0] for b in BAD_NOTEBOOKS])
def test_unusable_notebook_is_the_students_failure(tmp_path, what, content, message):
    path = tmp_path / "hw.ipynb"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(SubmissionError, match=re.escape(message)):
        prepare(path)
    report = check(path, "cs231n", "rnn", numerical=False)  # never a crash, never exit 2
    assert report.exit_code == 1 and message.split(" (")[0] in report.load_error
    assert len(report.tests) == 4 and all(not t.passed and "could not be loaded" in t.errors[0]
                                          for t in report.tests)


# ------------------------------------------------------------------------------------------ --load defs

SCRIPT = '''"""A student's script: the functions, then a training run."""
import numpy as np; np.random.seed(0)
from collections import namedtuple
try:
    import scipy
except ImportError:
    scipy = None

hidden_size = 8
data = open("input.txt").read()
Sizes = namedtuple("Sizes", "H D")

def train(steps):
    return steps

@staticmethod
def helper():
    return 1

class Model:
    pass

np.random.seed(1); import math
losses = train(1000)
model = Model()
act = helper
for i in range(10):
    print(i)
while True:
    break
with open("log.txt", "w") as f:
    f.write("x")
import matplotlib.pyplot as plt
plt.plot([1, 2])
if __name__ == "__main__":
    train(5)
print("done",
      hidden_size)
'''

# line (1-based) → kept?  (checked against the line's text, so the table reads as the script)
KEPT = {2: "import numpy as np;", 3: "from collections import namedtuple", 4: "try:", 9: "hidden_size = 8",
        10: 'data = open("input.txt").read()', 11: 'Sizes = namedtuple("Sizes", "H D")', 13: "def train(steps):",
        16: "@staticmethod", 20: "class Model:", 23: "0", 26: "act = helper", 33: "import matplotlib.pyplot as plt"}
DROPPED = (24, 25, 27, 28, 29, 30, 31, 32, 34, 35, 36, 37, 38)


def test_defs_keeps_definitions_and_blanks_the_rest_in_place():
    out, notes = definitions_only(SCRIPT)
    src_lines, out_lines = SCRIPT.splitlines(), out.splitlines()
    assert len(out_lines) == len(src_lines)
    for line, start in KEPT.items():
        assert out_lines[line - 1].startswith(start), (line, out_lines[line - 1])
    assert out_lines[22].endswith("; import math") and out_lines[1].rstrip() == "import numpy as np;"
    for line in DROPPED:
        assert out_lines[line - 1].strip() == "", (line, out_lines[line - 1])
    tree = ast.parse(out)
    assert {type(n).__name__ for n in tree.body} <= {"Import", "ImportFrom", "Try", "Assign", "FunctionDef",
                                                     "ClassDef", "Expr"}
    note = notes[0]
    assert note.startswith("--load defs: kept 13 top-level statements") and "skipped 10" in note
    for kind in ("loops 2", "calls and prints 4", "assignments calling a function of the file 2",
                 "if-blocks 1", "with-blocks 1"):
        assert kind in note, note
    assert "line 24, line 25" in note


CS231N_EXAMPLE = Path(__file__).parents[1] / "numeric/checking/examples/cs231n_correct.py"
TRAINING_TAIL = '''

data = np.load("train_data.npz")
import matplotlib.pyplot as plt
np.random.seed(231)
losses = []
for it in range(100000):
    h, cache = rnn_forward(np.random.randn(4, 5, 3), np.zeros((4, 6)), np.random.randn(3, 6),
                           np.random.randn(6, 6), np.zeros(6))
    losses.append(h.sum())
plt.plot(losses)
'''


def test_script_with_a_training_loop_passes_under_defs_and_not_as_a_module(tmp_path):
    path = tmp_path / "rnn_layers.py"
    path.write_text(CS231N_EXAMPLE.read_text() + TRAINING_TAIL)
    as_module = check(path, "cs231n", "rnn", numerical=False, timeout=3)
    assert not as_module.passed and as_module.load_error  # the file read at import stops it
    defs = check(path, "cs231n", "rnn", numerical=False, load="defs")
    assert defs.passed, [(t.name, t.errors) for t in defs.tests] + [defs.load_error]
    assert any(n.startswith("--load defs: kept") and "loops 1" in n for n in defs.notes), defs.notes


def test_library_is_an_alias_of_defs(tmp_path):
    path = tmp_path / "s.py"
    path.write_text(SCRIPT)
    assert prepare(path, "library").files == prepare(path, "defs").files
    assert prepare(path, "defs").mode == "statements" and prepare(path).mode == "module"


def test_defs_on_a_file_that_does_not_parse_ships_it_unchanged(tmp_path):
    path = tmp_path / "s.py"
    path.write_text("print 'hello'\ndef f():\n    return 1\n")
    prepared = prepare(path, "defs")
    assert prepared.files["s.py"] == path.read_bytes() and "does not parse" in prepared.notes[0]


def test_unknown_load_mode_is_a_usage_error(tmp_path):
    path = tmp_path / "s.py"
    path.write_text("x = 1\n")
    with pytest.raises(CheckUsageError, match="--load 'everything': expected one of module, defs"):
        prepare(path, "everything")


_STATEMENTS = st.sampled_from([
    "import os", "x = 1", "y = [i for i in range(3)]", "def f(a):\n    return a\n", "class C:\n    z = 2\n",
    "print(1)", "for i in range(2):\n    print(i)\n", "if x:\n    y = 2\nelse:\n    y = 3\n",
    "r = f(2)", "with open('a') as fh:\n    pass\n", "x += 1; print(x)", "print(x); import sys",
    "s = '''a\nb'''", "q = (1 +\n     2)",
])


@settings(max_examples=60, deadline=None)
@given(st.lists(_STATEMENTS, min_size=1, max_size=12))
def test_defs_output_always_parses_with_the_same_lines(statements):
    source = "\n".join(statements) + "\n"
    out, _notes = definitions_only(source)
    assert len(out.splitlines()) == len(source.splitlines())
    tree = ast.parse(out)
    original = source.splitlines()
    for node in tree.body:  # every kept statement sits on its own lines, text unchanged
        segment = ast.get_source_segment(out, node)
        if segment != "0":
            assert segment.splitlines()[0] in original[node.lineno - 1]
        assert not isinstance(node, (ast.For, ast.While, ast.If, ast.With))


# ------------------------------------------------------------------------------------------ --with FILE

def _write(tmp_path, name, text="x = 1\n"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_helper_files_are_shipped_by_name(tmp_path):
    sub = _write(tmp_path, "hw.py", "from rnn_utils import *\n")
    helpers = tmp_path / "given"
    helpers.mkdir()
    util = _write(helpers, "rnn_utils.py", "def softmax(x):\n    return x\n")
    data = _write(helpers, "tests_data.npz", "")
    prepared = prepare(sub, with_files=(util, str(data)))
    assert set(prepared.files) == {"hw.py", "rnn_utils.py", "tests_data.npz"}
    assert prepared.files["rnn_utils.py"] == util.read_bytes()
    assert "helper files shipped next to it: rnn_utils.py, tests_data.npz" in prepared.notes


def test_helper_file_problems_are_usage_errors(tmp_path, monkeypatch):
    sub = _write(tmp_path, "hw.py")
    other = tmp_path / "other"
    other.mkdir()
    cases = [
        ((tmp_path / "missing.py",), "--with .*missing.py: no such file"),
        ((other,), "not a regular file"),
        ((_write(other, "hw.py"),), "has the submission's own name 'hw.py'"),
        ((_write(tmp_path, "u.py"), _write(other, "u.py")), "a second helper named 'u.py'"),
        ((_write(tmp_path, ".hidden"),), "a hidden file name"),
    ]
    for files, message in cases:
        with pytest.raises(CheckUsageError, match=message):
            prepare(sub, with_files=files)
    monkeypatch.setattr(loading, "MAX_HELPER_BYTES", 10)
    with pytest.raises(CheckUsageError, match="a helper file may have at most 10"):
        prepare(sub, with_files=(_write(tmp_path, "big.py", "x = 1234567890\n"),))


def test_notebook_and_helper_share_the_main_name_check(tmp_path):
    nb = tmp_path / "hw.ipynb"
    nb.write_text(_nb4([("code", "x = 1\n")]))
    other = tmp_path / "o"
    other.mkdir()
    with pytest.raises(CheckUsageError, match="submission's own name 'hw.py'"):
        prepare(nb, with_files=(_write(other, "hw.py"),))


def test_skipped_statements_in_a_notebook_name_their_cell(tmp_path):
    cells = [("code", CELLS_RNN[0] + "from public_tests import *\n")] + [("code", c) for c in CELLS_RNN[1:]]
    path = tmp_path / "nb.ipynb"
    path.write_text(_nb4(cells))
    report = check(path, "cs231n", "rnn", numerical=False)
    assert report.passed, [(t.name, t.errors) for t in report.tests]
    assert any("public_tests" in n and "(notebook cell 1, line 2)" in n for n in report.notes), report.notes


_CELL_LINES = st.sampled_from(["x = 1", "%matplotlib inline", "!pip install numpy", "files = !ls",
                               "get_ipython().system('ls')", "def f(a):\n    return a", "for i in range(2):\n"
                               "    %time f(i)", "y = (x\n% 2)", "print(x)", "%%time\nz = 2", "def broken(:"])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(_CELL_LINES, min_size=1, max_size=4), min_size=1, max_size=6))
def test_notebook_source_always_parses_and_maps_back(cells):
    sources = ["\n".join(lines) + "\n" for lines in cells]
    if all(s.startswith("%%") for s in sources):
        sources.append("x = 1\n")
    raw = _nb4([("markdown", "title")] + [("code", s) for s in sources]).encode()
    source, spans, notes = loading.notebook_source(raw, "nb.ipynb")
    ast.parse(source)
    lines = source.splitlines()
    for first, number in spans:  # each cell's code starts right after its header line
        assert lines[first - 2] == f"# %% cell {number}"
    assert notes[0].startswith(f"notebook: {len(sources)} code cells of {len(sources) + 1}")


def test_helper_file_is_importable_in_the_child(tmp_path):
    helper = tmp_path / "helpers"
    helper.mkdir()
    util = _write(helper, "rnn_utils.py", "import numpy as np\n\ndef tanh_grad(h):\n    return 1 - h ** 2\n")
    source = "from rnn_utils import *\n" + "".join(CELLS_RNN).replace("(1 - next_h ** 2)", "tanh_grad(next_h)")
    path = _write(tmp_path, "rnn_layers.py", source)
    report = check(path, "cs231n", "rnn", numerical=False, with_files=(util,))
    assert report.passed, (report.load_error, [(t.name, t.errors) for t in report.tests])


# ------------------------------------------------------------------------------------------ a course notebook
# The deeplearning.ai "Step by Step" notebook as students hand it in: the correct solution of another
# helper (numeric/checking/examples/dlai_correct.py, not written for these tests) split into one cell per
# function, with the assignment's furniture — helpers from rnn_utils, the course's public_tests (absent
# here), test cells that draw random inputs and print, an IPython magic.

EXAMPLES = Path(__file__).parents[1] / "numeric/checking/examples"


def _dlai_notebook() -> str:
    source = (EXAMPLES / "dlai_correct.py").read_text()
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    cells = [("markdown", "# Building your Recurrent Neural Network - Step by Step"),
             ("code", "%matplotlib inline\nimport numpy as np\nfrom rnn_utils import *\nfrom public_tests import *\n")]
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef) or node.name in ("softmax", "sigmoid"):
            continue  # the notebook takes softmax and sigmoid from rnn_utils
        cells.append(("markdown", f"### {node.name}"))
        cells.append(("code", "# GRADED FUNCTION: " + node.name + "\n\n" +
                      "".join(lines[node.lineno - 1:node.end_lineno])))
        if node.name == "rnn_cell_forward":
            cells.append(("code", "np.random.seed(1)\nxt_tmp = np.random.randn(3, 10)\na_prev_tmp = "
                                  "np.random.randn(5, 10)\nparameters_tmp = {'Waa': np.random.randn(5, 5), "
                                  "'Wax': np.random.randn(5, 3), 'Wya': np.random.randn(2, 5), "
                                  "'ba': np.random.randn(5, 1), 'by': np.random.randn(2, 1)}\n"
                                  "a_next_tmp, yt_pred_tmp, cache_tmp = rnn_cell_forward(xt_tmp, a_prev_tmp, "
                                  "parameters_tmp)\nprint(\"a_next[4] = \\n\", a_next_tmp[4])\n"
                                  "rnn_cell_forward_tests(rnn_cell_forward)\n"))
    return _nb4(cells)


def test_a_course_notebook_with_its_helpers_passes(tmp_path):
    path = tmp_path / "Building_a_Recurrent_Neural_Network_Step_by_Step.ipynb"
    path.write_text(_dlai_notebook())
    report = check(path, "deeplearning-ai", ("rnn", "lstm"), numerical=False,
                   with_files=(EXAMPLES / "rnn_utils.py",))
    assert report.passed, (report.load_error, [(t.name, t.errors[:2]) for t in report.tests if not t.passed])
    assert len(report.tests) >= 8
    assert any("public_tests" in n and "notebook cell 2" in n for n in report.notes), report.notes
    without = check(path, "deeplearning-ai", ("rnn",), numerical=False)  # rnn_utils not shipped: sigmoid missing
    assert not without.passed


def test_defs_keeps_a_compatibility_guard():
    """``try: xrange / except NameError: xrange = range`` (Python 2 ports) is kept, not blanked."""
    source = "try:\n    xrange\nexcept NameError:\n    xrange = range\nfor i in xrange(3):\n    print(i)\n"
    kept, _ = definitions_only(source)
    assert kept.splitlines()[:4] == source.splitlines()[:4]
    assert "print" not in kept


# ------------------------------------------------------------------ --load module runs statements, defs keeps defs

# A helper built by a call of the file's own function, a constant computed in a loop, and a print: top-level
# statements a module (and a notebook, cell by cell) runs, and that --load defs leaves out.
_BUILT_AT_TOP_LEVEL = '''
def _make_tanh_grad():
    return lambda h: 1 - h ** 2
tanh_grad = _make_tanh_grad()
ONE = 0.0
for _ in range(4):
    ONE += 0.25
print("top-level print ran")
'''


def _with_top_level_helpers() -> str:
    """The notebook's RNN cells, with dz computed through the helpers built at top level."""
    backward = CELLS_RNN[2].replace("dz = dnext_h * (1 - next_h ** 2)", "dz = ONE * dnext_h * tanh_grad(next_h)")
    assert backward != CELLS_RNN[2]
    return [CELLS_RNN[0], CELLS_RNN[1], _BUILT_AT_TOP_LEVEL, backward] + CELLS_RNN[3:]


@pytest.mark.parametrize("kind", ["notebook", "script"])
def test_load_module_runs_every_top_level_statement(tmp_path, kind):
    """The child used to filter a notebook's statements like the old library mode (a call of the file's own
    function, loops and prints never ran), so a helper built at top level was missing."""
    if kind == "notebook":
        path = tmp_path / "hw.ipynb"
        path.write_text(_nb4([("code", c) for c in _with_top_level_helpers()]))
    else:
        path = tmp_path / "hw.py"
        path.write_text("".join(_with_top_level_helpers()))
    report = check(path, "cs231n", "rnn", numerical=False, load="module")
    assert report.passed, [(t.name, t.errors) for t in report.tests] + [report.load_error]
    assert "top-level print ran" in report.stdout


@pytest.mark.parametrize("kind", ["notebook", "script"])
def test_load_defs_keeps_only_definitions(tmp_path, kind):
    if kind == "notebook":
        path = tmp_path / "hw.ipynb"
        path.write_text(_nb4([("code", c) for c in _with_top_level_helpers()]))
    else:
        path = tmp_path / "hw.py"
        path.write_text("".join(_with_top_level_helpers()))
    report = check(path, "cs231n", "rnn", numerical=False, load="defs")
    assert "top-level print ran" not in report.stdout
    step = next(t for t in report.tests if t.name == "rnn_step_backward")
    assert not step.passed and any("tanh_grad" in e and "NameError" in e for e in step.errors), step.errors
    note = next(n for n in report.notes if n.startswith("--load defs: kept"))
    assert "loops 1" in note and "calls and prints 1" in note and "a call of the file's own function" in note
    # the definitions ran and the constant-like assignment too: the forward needs nothing else
    assert next(t for t in report.tests if t.name == "rnn_step_forward").passed


def test_sandbox_library_mode_on_a_path_is_definitions_only(tmp_path):
    from numeric.checking.sandbox import Sandbox
    path = tmp_path / "s.py"
    path.write_text("import numpy as np\nX = 1\nfor _ in range(2):\n    X += 1\nprint('ran')\n"
                    "def f():\n    return np.asarray(float(X))\n")
    for mode, expected in (("module", 3.0), ("statements", 3.0), ("library", 1.0)):
        with Sandbox(path, mode=mode) as sb:
            outcome = sb.call("f", [])
        assert outcome.ok and float(outcome.value) == expected, (mode, outcome)
        assert ("ran" in sb.stdout) == (mode != "library"), (mode, sb.stdout)


def test_statements_mode_skips_a_statement_that_exits(tmp_path):
    from numeric.checking.sandbox import Sandbox
    path = tmp_path / "nb.py"
    path.write_text("import sys\nX = 2\nsys.exit('done')\ndef f():\n    return float(X)\n")
    with Sandbox(path, mode="statements") as sb:
        outcome = sb.call("f", [])
    assert outcome.ok and float(outcome.value) == 2.0, outcome
    assert any("line 3 skipped: SystemExit" in n for n in sb.load_notes), sb.load_notes


DISPLAY_PREAMBLE = '''import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import seaborn as sns
from IPython.display import display, clear_output
from tqdm import tqdm, trange
from tqdm.auto import tqdm as auto_tqdm
%s
sns.set_style("whitegrid")
fig, ax = plt.subplots(1, 2, figsize=(8, 3))
ax[0].plot([1, 2, 3]); ax[1].set_title("loss")
with plt.style.context("ggplot"):
    plt.legend()
plt.show(); display(fig); clear_output(wait=True)
STEPS = [k for k in tqdm(range(3), desc="steps")] + list(trange(2)) + list(auto_tqdm([7]))
assert STEPS == [0, 1, 2, 0, 1, 7], STEPS
'''


@pytest.mark.parametrize("load", ["module", "defs"])
def test_display_only_imports_get_a_stand_in_and_a_note(tmp_path, load):
    """Plots, progress bars and IPython display at the top of an honest file: not in the checker's view
    (stdlib, NumPy, SciPy), so a stand-in that draws nothing is imported; the file passes and says so."""
    path = tmp_path / "rnn_layers.py"
    path.write_text(DISPLAY_PREAMBLE % "" + CS231N_EXAMPLE.read_text())
    report = check(path, "cs231n", "rnn", numerical=False, load=load)
    assert report.passed, [(t.name, t.errors) for t in report.tests] + [report.load_error]
    note = next(n for n in report.notes if "stand-in" in n)
    assert all(name in note for name in ("IPython", "matplotlib", "seaborn", "tqdm")), note


def test_a_missing_module_that_is_not_display_only_still_fails_the_load(tmp_path):
    path = tmp_path / "rnn_layers.py"
    path.write_text(DISPLAY_PREAMBLE % "import no_such_course_helper" + CS231N_EXAMPLE.read_text())
    report = check(path, "cs231n", "rnn", numerical=False)
    assert not report.passed and "no_such_course_helper" in report.load_error
