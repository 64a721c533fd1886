"""The last resort after a child is killed: find and kill whatever it left (parent side).

bubblewrap's PID namespace takes every process with it when its init dies, and the separate uid's
processes are killed by user.py; this sweep also covers the layers being unavailable: it kills every
process of the child's session and every process carrying the run's marker in its environment (a
descendant that called setsid keeps the marker).
"""

from __future__ import annotations

import os
import signal
import time


def sweep(marker: str, session: int | None = None) -> list[int]:
    """SIGKILL every process in ``session`` or carrying ``BPTT_SANDBOX=marker`` in its environment.

    Returns:
        the pids signalled (the caller's own process is never among them).
    """
    me = os.getpid()
    needle = f"BPTT_SANDBOX={marker}".encode()

    def marked() -> list[int]:
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == me:
                continue
            pid = int(entry)
            try:
                with open(f"/proc/{pid}/stat", "rb") as f:
                    if f.read().rsplit(b")", 1)[-1].split()[0] == b"Z":
                        continue  # a zombie is already dead; its parent reaps it
                if session is not None and os.getsid(pid) == session:
                    found.append(pid)
                    continue
                with open(f"/proc/{pid}/environ", "rb") as f:
                    if needle in f.read().split(b"\0"):
                        found.append(pid)
            except (OSError, ProcessLookupError):
                continue
        return found
    return kill_until_gone(marked)


def kill_until_gone(find) -> list[int]:
    """SIGKILL the pids ``find()`` returns, again until it returns none (a fork loop may create processes
    while we kill: five rounds at most). Returns the pids signalled."""
    killed = []
    for _round in range(5):
        found = find()
        if not found:
            break
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.01)
    return killed


def remove_tree(path: str | os.PathLike) -> bool:
    """Remove a folder the child wrote in, after its processes are dead. Returns whether it is gone.

    Folders the child left without permissions (mode 0) stop ``shutil.rmtree`` when the checker is not
    root (then the child ran as the checker's own user, who owns them): they are opened up first, without
    following links."""
    import shutil
    shutil.rmtree(path, ignore_errors=True)
    if not os.path.lexists(path):
        return True
    for folder, subfolders, _files in os.walk(path):
        for name in subfolders:
            sub = os.path.join(folder, name)
            if not os.path.islink(sub):
                try:
                    os.chmod(sub, 0o700)
                except OSError:
                    pass
    shutil.rmtree(path, ignore_errors=True)
    return not os.path.lexists(path)
