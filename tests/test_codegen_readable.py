"""Issue 12: the generated module reads like a textbook (line width, honest origin, one time convention,
no `b` for both bias and batch). Written from the issue's list before the emitter was changed (blind)."""

from pathlib import Path

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


@pytest.mark.parametrize("model,gates", [("lstm", "f, i, g, q = "), ("gru", "r, u = ")])
def test_gates_are_named_views_not_slices(model, gates):
    """The forward loop and the one backward step name the gates once per step, in the cell's order; no
    slice of the stored gate array is printed in an equation statement after that."""
    source = generate(model).source
    assert source.count(gates) == 2, source.count(gates)  # forward, backward_step
    body = [line.strip() for line in source.splitlines() if not line.strip().startswith("#")]
    stored = gates.split(" = ")[0].replace(", ", "") + "s[t, "  # figqs[t, … / rus[t, …
    assert [line for line in body if stored in line and not line.startswith(gates)
            and ", out=" not in line] == []  # only the calls that write the gates


ALL_SPECS = [*builtin_names(), *sorted(str(p) for p in (CELLS_DIR / "examples").glob("*.cell")),
             *sorted(str(p) for p in (Path(__file__).parent / "heldout_cells").glob("*.cell"))]


@pytest.mark.parametrize("spec", ALL_SPECS)
def test_one_backward_step_body_for_full_and_truncated_bptt(spec):
    """The δ recursion is printed once, in backward_step, and both loops call it."""
    source = generate(spec).source
    assert source.count("def backward_step(") == 1
    assert source.count("= backward_step(t, ") == 2  # full BPTT, truncated BPTT
    step = source[source.index("def backward_step("):source.index("if truncate is None or truncate >= T:")]
    assert "t_in" not in step and "truncate" not in step
    assert not [line for line in source.splitlines() if len(line) > WIDTH]


def test_lstm_stacks_and_reads_gradients_in_declared_order():
    """f, i, g, q as the cell declares them: U = [U_f; U_i; U_g; U_q], so 'U_g' is the third block."""
    source = generate("lstm").source
    assert "U = np.concatenate([U_f, U_i, U_g, U_q])" in source
    assert "'U_g': dU[2*H:3*H]" in source and "'U_q': dU[3*H:]" in source
    assert "δ_f,t; δ_i,t; δ_g,t; δ_q,t" in source


def test_backward_comments_cite_the_cell_file_lines():
    source = generate("lstm").source
    lines = (CELLS_DIR / "lstm.cell").read_text().splitlines()
    h = next(i for i, text in enumerate(lines, 1) if text.startswith("h = q * tanh(C)"))
    q = next(i for i, text in enumerate(lines, 1) if text.startswith("q = sigmoid"))
    assert f"# lstm.cell:{h}  ∂E/∂q_t = tanh(c_t) ⊙ ∂E/∂h_t" in source
    assert f"# lstm.cell:{q}  δ_q,t = q_t ⊙ (1 − q_t) ⊙ ∂E/∂q_t" in source


def test_docstring_lists_equations_only():
    """No named intermediate without a left side ("tanh(c_t)") in the cell listing."""
    source = generate("lstm").source
    listing = source[source.index("The cell (one time step"):source.index("Verification before")]
    assert "    h_t = q_t ⊙ tanh(c_t)" in listing
    assert all(" = " in line for line in listing.splitlines()[1:] if line.strip())


@pytest.mark.parametrize("spec,softmax", [("lstm", False), ("rnn", False), ("jordan", True)])
def test_softmax_helper_only_where_the_loop_calls_it(spec, softmax):
    """Jordan feeds ô_{t−1} back, so its loop calls _softmax; the others take log-softmax after the loop."""
    source = generate(spec).source
    assert ("def _softmax(" in source) == softmax
    assert ("_softmax(zs[t])" in source) == softmax


@pytest.mark.parametrize("model", ["lstm", "gru"])
def test_stacked_layers_keep_the_width_and_name_their_gate_blocks(model):
    """Two layers: long tuples and dicts are packed on lines; layer 1's gates read fi…_1, not f_1_i_1…."""
    source = generate(load_cell(model, layers=2)).source
    assert not [line for line in source.splitlines() if len(line) > WIDTH]
    assert ("figq_1s" if model == "lstm" else "ru_1s") in source
