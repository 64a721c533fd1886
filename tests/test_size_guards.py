"""Size guards: `bptt verify` and `bptt derive` refuse, in ≤ 2 s with exit 2 and one line, what cannot finish
(issue 10: `verify rnn --T 100000` was killed at 24 GB; `derive rnn --steps 100000` printed 68 MB)."""

import time

import pytest

from numeric import models
from numeric.gradcheck.budget import verification_estimate
from reports import cli


def run(capsys, *argv):
    t0 = time.monotonic()
    try:
        code = cli.main(list(argv))
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err, time.monotonic() - t0


@pytest.mark.parametrize("argv", [("verify", "rnn", "--T", "100000"), ("verify", "lstm", "--T", "5000"),
                                  ("verify", "derive/cells/examples/indrnn.cell", "--T", "100000"),
                                  ("derive", "rnn", "--steps", "100000")])
def test_refuses_in_two_seconds_with_one_line(capsys, argv):
    code, out, err, seconds = run(capsys, *argv)
    assert code == 2 and seconds <= 2.0, (code, seconds)
    assert out == "" and len(err.strip().splitlines()) == 1 and "--force" in err, err


def test_sizes_that_finish_are_not_refused():
    rnn = models.get("rnn")
    assert verification_estimate(rnn.param_shapes(D=3, H=4, K=3), 3, 100, 2, 4).refusal() is None
    assert verification_estimate(rnn.param_shapes(D=3, H=4, K=3), 3, 100000, 2, 4).refusal() is not None


def test_force_proceeds(capsys, monkeypatch):
    import reports.commands.derive as derive_cmd

    monkeypatch.setattr(derive_cmd, "MAX_OUTPUT", 1000)  # every derivation of 20 steps is over this
    code, _, err, _ = run(capsys, "derive", "rnn", "--steps", "20")
    assert code == 2 and "--T 20" in err
    code, out, err, _ = run(capsys, "derive", "rnn", "--steps", "20", "--force")
    assert code == 0 and out
