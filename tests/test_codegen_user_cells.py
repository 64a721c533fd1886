"""Issue 10 at the command line and in verification: user cells that `bptt codegen` and `bptt verify` must
accept (other dimension names, kinks), certification in bounded time, the forward checked on its own,
reserved names. Written from the issue's descriptions before the code was read (blind)."""

import time

import numpy as np
import pytest

from derive import CellError, certify, load_cell
from derive.codegen import Generated, generate, load_source
from reports import cli
from reports.codegen_verify import verify_generated

from tests.test_cells_lowering_defects import CASES


def run(capsys, *argv):
    try:
        code = cli.main(list(argv))
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def cell_file(tmp_path, name, text):
    path = tmp_path / f"{name}.cell"
    path.write_text(text)
    return str(path)


# cells whose dims are not exactly "D H K"
OTHER_DIMS = ["dims-bottleneck", "skip-connection", "no-output-weight"]


@pytest.mark.parametrize("case", OTHER_DIMS)
def test_codegen_and_verify_accept_other_dimension_names(capsys, tmp_path, case):
    path = cell_file(tmp_path, case, CASES[case][0])
    code, out, err = run(capsys, "codegen", path, "-o", str(tmp_path / "out.py"))
    assert code == 0, err
    code, out, err = run(capsys, "verify", path)
    assert code == 0, out + err


def test_verify_cell_file_sizes_by_dimension_name(capsys, tmp_path):
    """--dim S=5 sets a dimension the flags --D --H --K do not name."""
    path = cell_file(tmp_path, "bn", CASES["dims-bottleneck"][0])
    code, out, err = run(capsys, "verify", path, "--dim", "S=5", "--json")
    assert code == 0, err
    import json
    doc = json.loads(out)
    assert doc["sizes"]["S"] == 5


INDRNN = "derive/cells/examples/indrnn.cell"


def test_relu_cell_codegen_and_verify_agree(capsys, tmp_path):
    code_gen, out, err_gen = run(capsys, "codegen", INDRNN, "-o", str(tmp_path / "ind.py"))
    code_ver, out_ver, err_ver = run(capsys, "verify", INDRNN)
    assert code_gen == 0, err_gen
    assert code_ver == 0, out_ver
    # both say how the kink was handled
    assert "kink" in err_gen and "kink" in out_ver


@pytest.mark.parametrize("seed", ["0", "11", "12345"])
def test_relu_cell_verifies_at_any_seed(capsys, tmp_path, seed):
    code, out, err = run(capsys, "codegen", INDRNN, "-o", str(tmp_path / "ind.py"), "--seed", seed)
    assert code == 0, err
    code, out, err = run(capsys, "verify", INDRNN, "--seed", seed)
    assert code == 0, out


def test_relu_points_are_away_from_the_kink():
    """At every checked point no relu argument lies within the differences' step of 0."""
    gen = generate(INDRNN)
    result = verify_generated(gen)
    assert result.passed
    assert any("kink" in note for note in result.notes)


# relu, exp and tanh together: `--certify` ran > 10 min before (SymPy's exp() asked whether its huge
# argument is real); found by trying arrangements of the three functions, not blind
RELU_EXP_TANH = """
cell mixed
dims D H K
input x : D
target o : K
param U : H x D
param V : H x H
param W : K x H
param b : H bias
state h : H
a = U @ x + V @ h_prev + b
r = relu(a)
e = exp(-r)
h = tanh(e * a)
z = W @ h
ohat = softmax(z)
loss cross_entropy(ohat, o)
"""


@pytest.mark.slow
def test_certify_relu_exp_tanh_finishes_in_bounded_time(tmp_path):
    cell = load_cell(cell_file(tmp_path, "mixed", RELU_EXP_TANH))
    t0 = time.monotonic()
    result = certify(cell)
    assert time.monotonic() - t0 < 60
    assert result.passed, result.summary()


def test_certify_stops_with_a_clear_message_at_its_budget(capsys, tmp_path):
    from derive.certificate import CertificateTimeout

    path = cell_file(tmp_path, "mixed", RELU_EXP_TANH)
    t0 = time.monotonic()
    with pytest.raises(CertificateTimeout, match="stopped after 0.3 s"):
        certify(load_cell(path), budget=0.3)
    assert time.monotonic() - t0 < 5
    code, out, err = run(capsys, "derive", path, "--certify", "--certify-budget", "0.3")
    assert code == 1 and "stopped after 0.3 s" in err and "derivation itself is not affected" in err


def test_verification_checks_the_forward_on_its_own(tmp_path):
    """A forward that is wrong by a constant factor, with a backward consistent with it, must fail."""
    gen = generate(cell_file(tmp_path, "pt", CASES["param-two-equations"][0]))
    real = gen.module

    class Scaled:
        def __getattr__(self, name):
            return getattr(real, name)

        def loss(self, *a, **k):
            return 2 * real.loss(*a, **k)

        def loss_and_grads(self, *a, **k):
            E, g = real.loss_and_grads(*a, **k)
            return 2 * E, {n: 2 * v for n, v in g.items()}

    wrong = Generated(gen.name, gen.origin, gen.source, Scaled(), gen.cell)
    assert verify_generated(gen, large=None).passed
    assert not verify_generated(wrong, large=None).passed


RENAMED_IO = (CASES["elman-control"][0].replace("input x : D", "input u : D").replace("U @ x", "U @ u")
              .replace("target o : K", "target y : K").replace("(ohat, o)", "(ohat, y)"))


@pytest.mark.parametrize("name", ["E", "o", "t", "k", "j", "T", "delta", "x"])
def test_reserved_names_are_refused_saying_so(tmp_path, name):
    text = RENAMED_IO.replace("h = tanh(", f"{name} = U @ u\nh = tanh({name} + ")
    with pytest.raises(CellError, match=f"'{name}' is reserved for"):
        load_cell(cell_file(tmp_path, "res", text))


@pytest.mark.parametrize("decl, name", [("param U : H x D", "T"), ("param b : H bias", "delta"),
                                        ("param U : H x D", "B"), ("param U : H x D", "np")])
def test_reserved_names_cannot_be_declared(tmp_path, decl, name):
    text = CASES["elman-control"][0].replace(decl, decl.replace(decl.split()[1], name, 1))
    with pytest.raises(CellError, match=f"'{name}' is reserved"):
        load_cell(cell_file(tmp_path, "res", text))


def test_reserved_names_documented():
    text = open("docs/cells.md").read()
    assert "reserved" in text.lower()
    for name in ["E", "o", "t", "k", "j", "T", "delta", "x"]:
        assert f"`{name}`" in text


@pytest.mark.parametrize("change, message", [
    (("a = U @ x + V @ h_prev + b", "zs = U @ x + V @ h_prev + b"), "collides with the all-steps array"),
    (("param b : H bias", "param h0 : H bias"), "is the initial value of state 'h'"),
])
def test_names_the_generated_code_derives_are_refused(tmp_path, change, message):
    """Found by trying names against the generated code: a quantity 'zs' beside z, a parameter 'h0'."""
    text = CASES["elman-control"][0].replace("h = tanh(U @ x + V @ h_prev + b)", "a = U @ x + V @ h_prev + b\nh = tanh(a)")
    text = text.replace(*change).replace("tanh(a)", "tanh(zs)" if "zs" in change[1] else "tanh(a)")
    text = text.replace("+ b\n", "+ h0\n") if "h0" in change[1] else text
    with pytest.raises(CellError, match=message):
        load_cell(cell_file(tmp_path, "names", text))
