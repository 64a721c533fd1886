"""`bptt derive`: formats, flags, and exit code 2 with a clear message for unusable input."""

from __future__ import annotations

import json

import pytest

from reports.cli import main


def test_text_default(capsys):
    assert main(["derive", "rnn"]) == 0
    assert "∂E₃/∂W" in capsys.readouterr().out


@pytest.mark.parametrize("fmt,marker", [("latex", "\\documentclass"), ("markdown", "# BPTT"), ("json", '"steps"')])
def test_formats(capsys, fmt, marker):
    assert main(["derive", "lstm", "--format", fmt, "--wrt", "V_f", "U_f"]) == 0
    out = capsys.readouterr().out
    assert marker in out
    if fmt == "json":
        assert json.loads(out)["wrt"] == ["V_f", "U_f"]


def test_fragment(capsys):
    assert main(["derive", "gru", "--format", "latex", "--fragment"]) == 0
    assert "\\documentclass" not in capsys.readouterr().out


def test_no_bias(capsys):
    assert main(["derive", "rnn", "--no-bias", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["wrt"] == ["U", "V", "W"] and data["bias"] is False


def test_cell_file(capsys, tmp_path):
    from derive.cellfile import CELLS_DIR

    path = tmp_path / "mine.cell"
    path.write_text((CELLS_DIR / "examples" / "mgu.cell").read_text())
    assert main(["derive", str(path), "--steps", "2"]) == 0
    assert "BPTT for the mgu cell" in capsys.readouterr().out


def test_certify(capsys):
    assert main(["derive", "gru-reset-after", "--certify", "--format", "json", "--wrt", "V_g"]) == 0
    cert = json.loads(capsys.readouterr().out)["certificate"]
    assert cert["passed"] and cert["sizes"] == {"D": 2, "H": 2, "K": 2, "T": 1}


BAD = [
    (["derive", "nosuchmodel"], "unknown model 'nosuchmodel' (expected one of: rnn, jordan"),
    (["derive", "rnn", "--wrt", "Q"], "--wrt Q: no such parameter in cell rnn; expected one of U, V, b, W, c"),
    (["derive", "rnn", "--no-bias", "--wrt", "b"], "b is a bias, dropped by --no-bias"),
    (["derive", "rnn", "--steps", "0"], "argument --T/--steps: expected a positive integer, got '0'"),
    (["derive", "rnn", "--truncate", "0"], "argument --truncate: expected a positive integer, got '0'"),
    (["derive", "rnn", "--fragment"], "--fragment only applies to --format latex"),
]


@pytest.mark.parametrize("argv,message", BAD, ids=[" ".join(a[1:]) for a, _ in BAD])
def test_unusable_input_exits_2(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("bptt derive: error: ") and message in err


@pytest.mark.parametrize("argv", [["derive", "rnn", "--steps", "x"], ["derive", "rnn", "--format", "pdf"],
                                  ["derive"], ["derive", "rnn", "--bogus"]])
def test_bad_flags_exit_2(capsys, argv):
    assert main(argv) == 2  # argparse's refusal is returned like any usage error (issue 12)
    assert "error:" in capsys.readouterr().err  # argparse's own message (sub-command or top level)


def test_bad_cell_file_exits_2_with_line(capsys, tmp_path):
    path = tmp_path / "bad.cell"
    path.write_text("dims D H K\ninput x : D\ntarget o : K\nparam U : H x D\nstate h : H\nh = tanhh(U @ x)\n"
                    "z = h\nohat = softmax(z)\nloss cross_entropy(ohat, o)\n")
    assert main(["derive", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:6: unknown function 'tanhh'; expected one of tanh" in err
    assert "h = tanhh(U @ x)" in err


def test_unreadable_file_exits_2(capsys, tmp_path):
    path = tmp_path / "binary.cell"
    path.write_bytes(b"\xff\xfe\x00bad")
    assert main(["derive", str(path)]) == 2
    assert "cannot read the file" in capsys.readouterr().err
