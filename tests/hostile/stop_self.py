# Stop itself without kill/tgkill (refused by seccomp): a POSIX timer whose expiry the kernel delivers as
# SIGSTOP. A stopped child neither answers nor exits; the checker must still time it out and reap it.
# The process renames itself @TAG@ first, so that a survivor is found.
import ctypes
import signal
import time

_libc = ctypes.CDLL(None, use_errno=True)


class _SigEvent(ctypes.Structure):
    _fields_ = [("value", ctypes.c_void_p), ("signo", ctypes.c_int), ("notify", ctypes.c_int),
                ("pad", ctypes.c_char * 48)]


class _ITimerSpec(ctypes.Structure):
    _fields_ = [("interval_s", ctypes.c_long), ("interval_ns", ctypes.c_long),
                ("value_s", ctypes.c_long), ("value_ns", ctypes.c_long)]


def _stop_soon():
    _libc.prctl(15, b"@TAG@", 0, 0, 0)  # PR_SET_NAME
    timer = ctypes.c_void_p()
    event = _SigEvent(None, signal.SIGSTOP, 0)  # SIGEV_SIGNAL
    if _libc.timer_create(1, ctypes.byref(event), ctypes.byref(timer)) == 0:  # CLOCK_MONOTONIC
        _libc.timer_settime(timer, 0, ctypes.byref(_ITimerSpec(0, 0, 0, 1_000_000)), None)
    time.sleep(1.0)


_true_backward_stop = rnn_step_backward


def rnn_step_backward(dnext_h, cache):
    _stop_soon()
    return _true_backward_stop(dnext_h, cache)


def rnn_backward(dh, cache):
    _stop_soon()
    raise RuntimeError("not stopped")
