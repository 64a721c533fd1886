"""`bptt`, `bptt verify` and `bptt demo` as a user runs them: output, JSON, exit codes, bad flags."""

import json
import subprocess
import sys

import pytest

from reports import cli


def run(capsys, *argv):
    try:
        code = cli.main(list(argv))
    except SystemExit as exit_:  # argparse exits on its own for --help, --version and bad flags
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("model", ["rnn", "jordan", "lstm", "lstm-peephole", "gru", "gru-reset-after"])
def test_verify_prints_a_table_and_passes(capsys, model):
    code, out, _ = run(capsys, "verify", model, "--T", "3")
    assert code == 0
    assert "complex step" in out and "central diff." in out and "Richardson" in out
    assert "∂E/∂xs" in out and "∂E/∂W" in out
    assert "all gradients agree with every oracle" in out


def test_verify_json_has_a_record_per_parameter_and_oracle(capsys):
    code, out, _ = run(capsys, "verify", "lstm-peephole", "--no-bias", "--truncate", "2", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["passed"] is True and doc["truncate"] == 2 and doc["bias"] is False
    pairs = {(r["parameter"], r["oracle"]) for r in doc["records"]}
    for param in ["U_f", "V_f", "p_f", "p_i", "p_q", "W", "xs", "h0", "c0"]:
        for oracle in ["complex-step", "central", "richardson"]:
            assert (param, oracle) in pairs
    assert ("b_f", "central") not in pairs  # --no-bias
    for r in doc["records"]:
        assert {"error", "tolerance", "passed"} <= set(r)
        assert r["passed"] == (r["error"] <= r["tolerance"])


def test_verify_float32_adds_the_float64_reference(capsys):
    code, out, _ = run(capsys, "verify", "gru", "--dtype", "float32", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["dtype"] == "float32"
    assert any(r["oracle"] == "float64" for r in doc["records"])


def test_verify_exits_1_when_a_gradient_is_wrong(capsys, monkeypatch):
    """Plant a bug in the hand-written model: verify must notice, print it, and exit 1."""
    from numeric.models.elman import Elman

    original = Elman._step_backward

    def forgets_dh_next(self, params, tape, t, carried, entering):  # the classic: dh_{t+1} not added
        return original(self, params, tape, t, {"h": 0 * carried["h"]}, entering)

    monkeypatch.setattr(Elman, "_step_backward", forgets_dh_next)
    code, out, _ = run(capsys, "verify", "rnn")
    assert code == 1
    assert "MISMATCH" in out and "comparison(s) failed" in out
    code, out, _ = run(capsys, "verify", "rnn", "--json")
    assert code == 1 and json.loads(out)["passed"] is False


BAD_FLAGS = [
    (["verify", "lstn"], "unknown model 'lstn'; did you mean 'lstm'? (expected one of: rnn, jordan"),
    (["verify", "rnn", "--H", "0"], "argument --H: expected a positive integer, got '0'"),
    (["verify", "rnn", "--T", "two"], "argument --T/--steps: expected a positive integer, got 'two'"),
    (["verify", "rnn", "--dtype", "float16"], "argument --dtype: invalid choice: 'float16'"),
    (["verify", "rnn", "--truncate", "0"], "argument --truncate: expected a positive integer, got '0'"),
    (["verify", "rnn", "--frobnicate"], "unrecognized arguments: --frobnicate"),
    (["verify"], "the following arguments are required: MODEL"),
    (["frob"], "invalid choice: 'frob'"),
]


@pytest.mark.parametrize("argv, message", BAD_FLAGS, ids=[" ".join(a) for a, _ in BAD_FLAGS])
def test_bad_flags_exit_2_with_a_message(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert message in err


def test_no_command_prints_help_and_exits_2(capsys):
    code, out, _ = run(capsys)
    assert code == 2 and "verify" in out


def test_version_and_help(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("bptt ")
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "demo" in out and "verify" in out


def test_demo_runs_the_course_rnn(capsys):
    code, out, _ = run(capsys, "demo")
    assert code == 0
    assert "Elman" in out and "all gradients agree with every oracle" in out


def test_console_script_entry_point():
    """The installed `bptt` entry point is reports.cli:main; run it as a separate process."""
    done = subprocess.run([sys.executable, "-c", "import sys; from reports.cli import main; sys.exit(main())",
                           "verify", "rnn", "--no-bias", "--T", "2"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "rnn (no bias)" in done.stdout


def test_verify_puts_the_generated_code_beside_the_hand_written(capsys):
    code, out, _ = run(capsys, "verify", "lstm", "--T", "3", "--json")
    doc = json.loads(out)
    assert code == 0
    generated = [r for r in doc["records"] if r["oracle"] == "generated"]
    assert {r["parameter"] for r in generated} >= {"U_f", "V_q", "xs", "h0", "c0"}
    assert all(r["error"] <= 1e-12 for r in generated)
    code, out, _ = run(capsys, "verify", "gru", "--T", "3")
    assert code == 0 and "generated code" in out


def test_verify_a_cell_file_uses_the_numerical_oracles(capsys, tmp_path):
    from derive.cellfile import load

    cell = tmp_path / "mine.cell"
    cell.write_text("\n".join(load("rnn").source).replace("cell rnn", "cell mine"))
    code, out, _ = run(capsys, "verify", str(cell), "--T", "3")
    assert code == 0 and "no hand-written model exists" in out and "complex step" in out
    code, out, _ = run(capsys, "verify", str(cell), "--json")
    assert code == 0 and json.loads(out)["hand_written"] is False


def test_verify_puts_the_generated_code_beside_at_several_sizes(capsys):
    code, out, _ = run(capsys, "verify", "gru", "--T", "3", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["passed"] is True
    assert any(r["oracle"] == "generated" for r in doc["records"])
    runs = doc["generated_runs"]
    assert {r["dtype"] for r in runs} == {"float64", "float32"} and len(runs) >= 3
    oracles = {rec["oracle"] for r in runs for rec in r["records"]}
    assert {"complex-step", "central", "hand-written", "directional"} <= oracles
    assert all(r["passed"] for r in runs)
    code, out, _ = run(capsys, "verify", "gru", "--T", "3")
    assert "generated gru at several sizes" in out and "every run agrees with every oracle" in out
