"""Cell files: the built-ins parse, and every kind of bad file is rejected with its line number."""

from __future__ import annotations

import pytest

from derive import CellError, load_cell, parse_cell
from derive.cellfile import BUILTIN, example_paths

PARAMS = {  # docs/models.md, "parameters (in this order)"
    "rnn": "U V b W c",
    "jordan": "U V b W c",
    "lstm": "U_f V_f b_f U_i V_i b_i U_g V_g b_g U_q V_q b_q W c",
    "lstm-peephole": "U_f V_f b_f p_f U_i V_i b_i p_i U_g V_g b_g U_q V_q b_q p_q W c",
    "gru": "U_r V_r b_r U_u V_u b_u U_g V_g b_g W c",
    "gru-reset-after": "U_r V_r b_r U_u V_u b_u U_g V_g b_g b_gh W c",
}
BIASES = {"b", "c", "b_f", "b_i", "b_g", "b_q", "b_r", "b_u", "b_gh"}


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_parameters_in_documented_order(name):
    assert load_cell(name).param_names == tuple(PARAMS[name].split())


@pytest.mark.parametrize("name", BUILTIN)
def test_no_bias_drops_exactly_the_biases(name):
    cell = load_cell(name, bias=False)
    assert cell.param_names == tuple(p for p in PARAMS[name].split() if p not in BIASES)
    assert set(cell.dropped) == set(PARAMS[name].split()) & BIASES


@pytest.mark.parametrize("path", example_paths(), ids=lambda p: p.stem)
def test_examples_parse(path):
    cell = load_cell(path)
    assert cell.description  # documented


def test_elman_course_example_equals_rnn_without_bias():
    course = load_cell(next(p for p in example_paths() if p.stem == "elman-course"))
    assert course.param_names == load_cell("rnn", bias=False).param_names


def test_functions_get_named_nodes():
    cell = load_cell("lstm")
    names = [n.name for n in cell.nodes]
    assert names[:2] == ["a_f", "f"] and "tanh_C" in names
    assert cell.node("a_f").auto and not cell.node("f").auto


GOOD = """\
dims D H K
input x : D
target o : K
param U : H x D
param V : H x H
param b : H bias
param W : K x H
state h : H
a = U @ x + V @ h_prev + b
h = tanh(a)
z = W @ h
ohat = softmax(z)
loss cross_entropy(ohat, o)
"""


def _edit(old, new):
    assert old in GOOD
    return GOOD.replace(old, new)


# (case, file text, line, words the message must contain)
BAD = [
    ("syntax error", _edit("h = tanh(a)", "h = tanh(a"), 10, ["syntax error", "')'"]),
    ("syntax error operator", _edit("a = U @ x", "a = U @ @ x"), 9, ["syntax error"]),
    ("bad character", _edit("h = tanh(a)", "h = tanh(a) $"), 10, ["unexpected character"]),
    ("unknown line", GOOD + "frobnicate h\n", 14, ["cannot read 'frobnicate'", "expected a declaration"]),
    ("unknown function", _edit("h = tanh(a)", "h = tanhh(a)"), 10, ["unknown function 'tanhh'", "tanh, sigmoid"]),
    ("undefined symbol", _edit("a = U @ x", "a = U @ y"), 9, ["undefined symbol 'y'"]),
    ("state used before update", _edit("V @ h_prev", "V @ h"), 9, ["undefined symbol 'h'", "h_prev"]),
    ("unknown _prev", _edit("V @ h_prev", "V @ g_prev"), 9, ["undefined symbol 'g_prev'", "not a declared state"]),
    ("shape mismatch matmul", _edit("a = U @ x", "a = V @ x"), 9, ["shape mismatch", "(H, H) @ (D, 1)"]),
    ("shape mismatch sum", _edit("z = W @ h", "z = W @ h + b"), 11, ["shape mismatch", "(K, 1)", "(H, 1)"]),
    ("matrix elementwise", _edit("a = U @ x", "a = U * x"), 9, ["shape mismatch", "elementwise"]),
    ("state shape", _edit("h = tanh(a)", "h = W @ tanh(a)"), 10, ["state 'h' is declared (H, 1)"]),
    ("state never updated", _edit("state h : H", "state h : H\nstate s : H"), 9, ["state 's' is never updated"]),
    ("parameter never used", _edit("param W : K x H", "param W : K x H\nparam P : H x H"), 8,
     ["parameter 'P' is never used"]),
    ("left of @ not a parameter", _edit("a = U @ x", "a = x @ U"), 9, ["left operand of '@' must be a parameter"]),
    ("assigned twice", _edit("h = tanh(a)", "h = tanh(a)\nh = tanh(a)"), 11, ["assigned twice", "line 10"]),
    ("unknown dimension", _edit("param U : H x D", "param U : H x Q"), 4, ["unknown dimension 'Q'"]),
    ("declared twice", _edit("param V : H x H", "param V : H x H\nparam V : H x H"), 6, ["declared twice"]),
    ("target in equation", _edit("a = U @ x", "a = U @ x + o"), 9, ["target 'o' can only appear in the loss"]),
    ("loss not softmax", _edit("loss cross_entropy(ohat, o)", "loss cross_entropy(z, o)"), 13,
     ["'z' is not a softmax output"]),
    ("softmax nested", _edit("ohat = softmax(z)", "ohat = tanh(softmax(z))"), 12, ["softmax must be the whole"]),
    ("bad declaration", _edit("param U : H x D", "param U H x D"), 4, ["syntax error in 'param' declaration"]),
    ("missing loss", GOOD.replace("loss cross_entropy(ohat, o)\n", ""), 0, ["no 'loss' line"]),
    ("missing dims", GOOD.replace("dims D H K\n", ""), 1, ["unknown dimension", "none declared yet"]),
    ("bias in product", _edit("a = U @ x + V @ h_prev + b", "a = U @ x + V @ h_prev + b * h_prev"), 9,
     None),  # fine with bias; rejected only without bias (below)
]


@pytest.mark.parametrize("case,text,line,words", [b for b in BAD if b[3] is not None], ids=[b[0] for b in BAD if b[3]])
def test_bad_cell_rejected_with_line(case, text, line, words):
    with pytest.raises(CellError) as info:
        parse_cell(text, "my.cell")
    err = info.value
    assert err.line == line, str(err)
    message = str(err)
    assert message.startswith(f"my.cell:{line}: " if line else "my.cell: ")
    for w in words:
        assert w in message, message


def test_bias_in_product_rejected_without_bias():
    text = _edit("a = U @ x + V @ h_prev + b", "a = U @ x + V @ h_prev + b * h_prev")
    parse_cell(text, "my.cell")  # a weight-like use is fine while biases are kept
    with pytest.raises(CellError, match="bias parameter 'b' is used in a product"):
        parse_cell(text, "my.cell", bias=False)


def test_error_shows_source_line_and_caret():
    with pytest.raises(CellError) as info:
        parse_cell(_edit("h = tanh(a)", "h = tanhh(a)"), "my.cell")
    lines = str(info.value).splitlines()
    assert lines[1].strip() == "h = tanhh(a)"
    assert lines[2].index("^") == lines[1].index("tanhh")


def test_missing_file_and_unknown_name():
    with pytest.raises(CellError, match="no such built-in cell or file"):
        load_cell("no-such-cell")
