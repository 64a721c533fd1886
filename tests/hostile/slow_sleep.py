# Sleep just under the per-call timeout (the test uses 1 s) in every function.
import time

_rnn = (rnn_step_forward, rnn_step_backward, rnn_forward, rnn_backward)


def _slow(fn):
    def wrapper(*args):
        time.sleep(0.9)
        return fn(*args)
    return wrapper


rnn_step_forward, rnn_step_backward, rnn_forward, rnn_backward = map(_slow, _rnn)
