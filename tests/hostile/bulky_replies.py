# Every call returns just under the per-reply cap on top of its outputs (a dict of many arrays), so that a
# checker keeping replies (for the diagnosis, the report) grows by the cap times the number of calls.
import numpy as np

_EXTRA = {"pad%d" % i: np.ones(2**20 // 8 * 7) for i in range(8)}  # 8 x 7 MiB = 56 MiB
_wrapped = {}


def _bulky(name):
    inner = globals()[name]

    def call(*args):
        out = inner(*args)
        return out + (_EXTRA,) if isinstance(out, tuple) else (out, _EXTRA)
    return call


for _name in ("rnn_step_backward", "rnn_backward"):
    _wrapped[_name] = _bulky(_name)
globals().update(_wrapped)
