"""Measure the speed bars: ``python -m numeric.checking.heldout.speed``.

1. one cs231n file with RNN and LSTM parts, ``bptt check`` wall time including process start;
2. ``bptt check --batch`` of 20 cs231n submissions (correct and with planted mistakes) on 2 processes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
EXAMPLES = HERE.parent / "examples"


def _bptt(*args) -> tuple[float, int]:
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "reports.cli", "check", *args], capture_output=True)
    return time.monotonic() - start, proc.returncode


def main() -> int:
    single = []
    for name in ("cs231n_correct.py", "cs231n_planted_dh_next.py"):
        for _ in range(3):
            single.append((name, *_bptt(str(EXAMPLES / name), "--convention", "cs231n")))
    for name, seconds, code in single:
        print(f"single file {name}: {seconds:.2f} s (exit {code})")
    with tempfile.TemporaryDirectory() as tmp:
        sources = [EXAMPLES / "cs231n_correct.py", EXAMPLES / "cs231n_planted_dh_next.py"]
        lstm_family = (HERE / "fam_cs231n_lstm.py.txt").read_text()
        rnn_family = (HERE / "fam_cs231n_rnn.py.txt").read_text()
        for k in range(20):
            target = Path(tmp) / f"student{k:02d}.py"
            if k % 4 < 2:
                shutil.copy(sources[k % 2], target)
            else:  # a correct RNN half and an LSTM half with a planted mistake
                mistake = ["gate-order", "dc-not-carried", "dh-to-dc-path-missing", "sigmoid-derivative-of-wrong-quantity",
                           "weight-grads-not-summed"][k % 5]
                target.write_text(rnn_family.replace("MISTAKE = None", "MISTAKE = None", 1) + "\n" +
                                  lstm_family.replace("import numpy as np\n", "").replace(
                                      "MISTAKE = None", f"MISTAKE = {mistake!r}", 1))
        # the summary goes beside the graded folder, never into it (the CLI refuses that)
        seconds, code = _bptt("--batch", tmp, "--convention", "cs231n", "--jobs", "2",
                              "--json", tmp.rstrip("/") + "-summary.json")
        Path(tmp.rstrip("/") + "-summary.json").unlink(missing_ok=True)
        print(f"batch of 20 cs231n submissions, 2 processes: {seconds:.2f} s (exit {code})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
