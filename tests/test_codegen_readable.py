"""Issue 12: the generated module reads like a textbook (line width, honest origin, one time convention,
no `b` for both bias and batch). Written from the issue's list before the emitter was changed (blind)."""

import pytest

from derive import builtin_names, load_cell
from derive.cellfile import CELLS_DIR
from derive.codegen import generate

WIDTH = 100


@pytest.mark.parametrize("model", builtin_names())
@pytest.mark.parametrize("bias", [True, False])
def test_no_line_over_100_characters(model, bias):
    source = generate(model, bias=bias).source
    long = [line for line in source.splitlines() if len(line) > WIDTH]
    assert not long, long[:3]


@pytest.mark.parametrize("model", ["rnn", "lstm", "gru"])
def test_batch_sums_do_not_reuse_the_bias_letter(model):
    source = generate(model).source
    assert "Σ_b " not in source
    assert "Σ_t Σ_batch" in source


def test_time_indexing_is_stated_once_and_consistently():
    source = generate("lstm").source
    assert "hs[t] is h_t" not in source and "xs[0] is x_1" not in source
    assert source.count("xs[t] is x_{t+1}") == 1
    assert "h_all[t] is h_t for t = 0 … T (row 0 is h0)" in source


def test_a_user_cell_is_not_called_built_in(tmp_path, monkeypatch):
    """`bptt codegen cifg.cell` from the directory holding it: the file's path, not "the built-in cell"."""
    text = (CELLS_DIR / "rnn.cell").read_text()
    (tmp_path / "cifg.cell").write_text(text.replace("cell rnn", "cell cifg"))
    monkeypatch.chdir(tmp_path)
    gen = generate("cifg.cell")
    assert "built-in" not in gen.origin and gen.origin == "cifg.cell"
    assert "the built-in cell" not in gen.source
    assert generate("rnn").origin == "the built-in cell 'rnn'"
    assert generate(load_cell("lstm")).origin == "the built-in cell 'lstm'"


@pytest.mark.parametrize("spec,present,absent", [
    ("rnn", [], ["def _sigmoid", "def _relu", "def _step", "def _softplus", "def _hard_sigmoid"]),
    ("lstm", ["def _sigmoid"], ["def _relu", "def _step", "def _softplus", "def _hard_sigmoid"]),
    ("derive/cells/examples/indrnn.cell", ["def _relu", "def _step"], ["def _sigmoid", "def _softplus"]),
])
def test_only_the_helpers_a_cell_uses_are_written(spec, present, absent):
    source = generate(spec).source
    for text in present:
        assert text in source
    for text in absent:
        assert text not in source
    assert "def kink_margin" in source  # part of the module contract, also without kinks (KINKS = ())


def test_equation_comments_name_their_cell_file_line():
    """Each forward equation comment starts with file:line of the cell's own text (read from the file)."""
    source = generate("lstm").source
    lines = (CELLS_DIR / "lstm.cell").read_text().splitlines()
    number = next(i for i, text in enumerate(lines, 1) if text.startswith("C = f * C_prev"))
    assert f"# lstm.cell:{number}  c_t = f_t ⊙ c_{{t−1}} + i_t ⊙ g_t" in source
    number = next(i for i, text in enumerate(lines, 1) if text.startswith("z = W @ h"))
    assert f"# lstm.cell:{number}  z_t = W h_t + c" in source


@pytest.mark.parametrize("model,gates", [("lstm", "f, i, q = "), ("gru", "r, u = ")])
def test_gates_are_named_views_not_slices(model, gates):
    """Forward and both backward loops name the fused gates once per step; no slice of the stored gate
    array is printed in an equation statement after that."""
    source = generate(model).source
    assert source.count(gates) == 3, source.count(gates)  # forward, full BPTT, truncated BPTT
    body = [line.strip() for line in source.splitlines() if not line.strip().startswith("#")]
    stored = gates.split(" = ")[0].replace(", ", "") + "s[t, "  # fiqs[t, … / rus[t, …
    assert [line for line in body if stored in line and not line.startswith(gates)] == []
