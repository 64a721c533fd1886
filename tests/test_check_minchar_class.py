"""min-char-rnn written as a class: ``class RNN: def lossFun(self, inputs, targets, hprev)`` reading
``self.Wxh`` … (docs/checking.md, the min-char-rnn convention). The checker used to look for ``lossFun``
at module level only and failed every such port as "does not define lossFun()".

Each case is one way students hold the weights in a class; the body of lossFun is the same (written for
this test from the maths, not copied), so a case fails only if finding or driving the method does.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from numeric.checking import check

EXAMPLES = Path(__file__).parents[1] / "numeric/checking/examples"

BODY = '''
    def lossFun(self, inputs, targets, hprev):
        xs, hs, ps, loss = {}, {-1: hprev.copy()}, {}, 0.0
        for t in range(len(inputs)):
            xs[t] = np.zeros((self.vocab_size, 1))
            xs[t][inputs[t]] = 1.0
            hs[t] = np.tanh(self.Wxh @ xs[t] + self.Whh @ hs[t - 1] + self.bh)
            z = self.Why @ hs[t] + self.by
            ps[t] = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
            loss -= np.log(ps[t][targets[t], 0])
        dWxh, dWhh, dWhy = np.zeros_like(self.Wxh), np.zeros_like(self.Whh), np.zeros_like(self.Why)
        dbh, dby, dhnext = np.zeros_like(self.bh), np.zeros_like(self.by), np.zeros_like(hs[0])
        for t in reversed(range(len(inputs))):
            dy = ps[t].copy()
            dy[targets[t]] -= 1
            dWhy += dy @ hs[t].T
            dby += dy
            dh = self.Why.T @ dy + dhnext
            da = (1 - hs[t] ** 2) * dh
            dbh += da
            dWxh += da @ xs[t].T
            dWhh += da @ hs[t - 1].T
            dhnext = self.Whh.T @ da
        return loss, dWxh, dWhh, dWhy, dbh, dby, hs[len(inputs) - 1]
'''

INIT = '''
    def __init__(self, vocab_size, hidden_size=16):
        self.vocab_size, self.hidden_size = vocab_size, hidden_size
        self.Wxh = np.random.randn(hidden_size, vocab_size) * 0.01
        self.Whh = np.random.randn(hidden_size, hidden_size) * 0.01
        self.Why = np.random.randn(vocab_size, hidden_size) * 0.01
        self.bh, self.by = np.zeros((hidden_size, 1)), np.zeros((vocab_size, 1))
'''

READS_DATA = '''
    def __init__(self, path="input.txt"):
        self.data = open(path).read()   # the checker has no input.txt: __init__ must not be needed
'''

TRAINING = '''
data = open("input.txt").read()
model = RNN(len(set(data)))
for step in range(10 ** 6):
    model.lossFun([0], [0], np.zeros((16, 1)))
'''

# name, source, load
CASES = [
    ("instance-at-module-level", "import numpy as np\n\nclass RNN:" + INIT + BODY + "\nrnn = RNN(5)\n", None),
    ("instance-at-module-level-as-module", "import numpy as np\n\nclass RNN:" + INIT + BODY + "\nrnn = RNN(5)\n",
     "module"),
    ("no-instance", "import numpy as np\n\nclass RNN:" + INIT + BODY, None),
    ("init-reads-a-file", "import numpy as np\n\nclass RNN:" + READS_DATA + BODY, None),
    ("training-script", "import numpy as np\n\nclass RNN:" + INIT + BODY + TRAINING, None),
    ("subclass-of-object-with-helper", "import numpy as np\n\nclass Base(object):\n    pass\n\n\n"
     "class CharRNN(Base):" + INIT + BODY, None),
]


@pytest.mark.parametrize("name, source, load", CASES, ids=[c[0] for c in CASES])
def test_lossfun_as_a_method_is_found_and_passes(tmp_path, name, source, load):
    path = tmp_path / "char_rnn.py"
    path.write_text(source)
    report = check(path, "min-char-rnn", numerical=False, load=load)
    test = report.tests[0]
    assert report.passed, (report.load_error, test.errors)
    assert any("lossFun is a method of class" in n for n in test.notes), test.notes


def test_a_bound_method_assigned_at_module_level_gets_the_weights(tmp_path):
    path = tmp_path / "char_rnn.py"
    path.write_text("import numpy as np\n\nclass RNN:" + INIT + BODY + "\nrnn = RNN(5)\nlossFun = rnn.lossFun\n")
    report = check(path, "min-char-rnn", numerical=False, load="module")
    assert report.passed, report.tests[0].errors


def test_a_module_level_lossfun_gets_no_method_note():
    report = check(EXAMPLES / "minchar_correct.py", "min-char-rnn", numerical=False)
    assert report.passed, report.tests[0].errors
    assert not any("method of class" in n for n in report.tests[0].notes)


def test_a_wrong_method_fails_and_is_diagnosed(tmp_path):
    path = tmp_path / "char_rnn.py"
    wrong = BODY.replace("dh = self.Why.T @ dy + dhnext", "dh = self.Why.T @ dy")
    assert wrong != BODY
    path.write_text("import numpy as np\n\nclass RNN:" + INIT + wrong)
    report = check(path, "min-char-rnn", numerical=False)
    test = report.tests[0]
    assert not report.passed
    assert test.diagnosis and test.diagnosis[0].mistake == "dh-next-not-added", test.diagnosis


def test_a_class_without_lossfun_still_fails_as_missing(tmp_path):
    path = tmp_path / "char_rnn.py"
    path.write_text("import numpy as np\n\nclass RNN:" + INIT.replace("__init__", "setup"))
    report = check(path, "min-char-rnn", numerical=False)
    assert not report.passed and "does not define lossFun()" in report.tests[0].errors[0]
