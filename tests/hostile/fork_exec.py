# Processes that outlive the check: _posixsubprocess.fork_exec with setsid, and a forked, detached sleeper.
import os
import sys
import time
sys.meta_path[:] = [f for f in sys.meta_path if getattr(f, "__module__", "") in ("_frozen_importlib", "_frozen_importlib_external")]
try:
    import _posixsubprocess
    r, w = os.pipe()
    args = (["/bin/sh", "-c", "echo escaped > @MARK@-exec; sleep 60"], [b"/bin/sh"], True, (), None, None,
            -1, -1, -1, -1, -1, -1, r, w, True, True)
    for tail in ((-1, None, None, None, -1, None, False), (None, None, None, -1, None, False),
                 (None, None, None, -1, None)):  # the signature differs between Python versions
        try:
            _posixsubprocess.fork_exec(*args, *tail)
            break
        except TypeError:
            continue
except Exception as err:
    print("fork_exec failed:", repr(err))
try:
    if os.fork() == 0:
        os.setsid()
        try:
            open("/proc/self/comm", "w").write("@TAG@")
        except Exception:
            pass
        for _ in range(600):
            try:
                open("@MARK@-forked", "w").write("alive")
            except Exception:
                pass
            time.sleep(0.1)
        os._exit(0)
except Exception as err:
    print("fork failed:", repr(err))
