"""The separate-user layer: as root, each running sandbox gets its own unprivileged uid/gid.

A uid is taken from a private pool by holding an ``flock`` on its lock file (in a folder only root can
enter) for the sandbox's whole life, so concurrent sandboxes — the workers of a batch, other checkers
on the machine — never share one, and a crashed checker's uid is free again (the kernel drops the
lock). The child switches to it in its bootstrap (setgroups, setresgid, setresuid) before any student
code exists; with the uid it cannot write anything it does not own, read other submissions' work
folders (mode 0700, another uid) or signal other sandboxes. Every process of the uid is killed, and
every file it left in the shared writable folders removed, when the sandbox closes and before a uid is
reused (without namespaces the child sees the real /tmp, /var/tmp, /dev/shm).
"""

from __future__ import annotations

import fcntl
import os
import random
import shutil
import stat
import tempfile

from numeric.checking.sandbox.cleanup import kill_until_gone

POOL_START = 2_100_000_000  # far above any real account; no passwd entry is needed
POOL_SIZE = 4096
LOCK_DIR = os.path.join(tempfile.gettempdir(), "bptt-sandbox-uids")
# the world-writable folders a uid without namespaces can leave files in
SHARED_FOLDERS = tuple(dict.fromkeys((tempfile.gettempdir(), "/tmp", "/var/tmp", "/dev/shm", "/run/lock")))


def available() -> tuple[bool, str]:
    if os.geteuid() != 0:
        return False, "the checker is not root: the submission runs as the checker's own user"
    try:
        _lock_dir()
    except OSError as err:
        return False, f"no private folder for the uid locks ({err})"
    return True, "a uid/gid of its own per submission, no supplementary groups"


def _lock_dir() -> str:
    os.makedirs(LOCK_DIR, mode=0o700, exist_ok=True)
    st = os.lstat(LOCK_DIR)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != 0 or st.st_mode & 0o077:
        raise OSError(f"{LOCK_DIR} is not a folder private to root")
    return LOCK_DIR


class Lease:
    """One uid (gid = uid) held until :meth:`release`."""

    def __init__(self):
        folder = _lock_dir()
        start = random.randrange(POOL_SIZE)
        for k in range(POOL_SIZE):
            uid = POOL_START + (start + k) % POOL_SIZE
            fd = os.open(os.path.join(folder, str(uid)), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self.uid = self.gid = uid
            self._fd = fd
            kill_user_processes(uid)  # left over by a checker that crashed while holding it
            remove_user_files(uid)
            return
        raise OSError("every sandbox uid is in use")

    def release(self) -> None:
        if self._fd >= 0:
            kill_user_processes(self.uid)
            remove_user_files(self.uid)  # its processes are dead: nothing can race the removal
            os.close(self._fd)
            self._fd = -1


def reachable(paths: list[str]) -> bool:
    """Whether an unprivileged user can read ``paths`` on the real filesystem (every folder on the way
    searchable by others, each path readable by others)."""
    for path in paths:
        p = path
        while p not in ("/", ""):
            try:
                mode = os.stat(p).st_mode
            except OSError:
                return False
            needed = stat.S_IXOTH if stat.S_ISDIR(mode) else stat.S_IROTH
            if not mode & needed:
                return False
            p = os.path.dirname(p)
    return True


def kill_user_processes(uid: int) -> list[int]:
    """SIGKILL every process whose real or effective uid is ``uid`` (repeated until none is left)."""
    return kill_until_gone(lambda: [pid for pid in _pids() if _uids(pid) & {uid}])


def remove_user_files(uid: int, roots: tuple[str, ...] = SHARED_FOLDERS) -> list[str]:
    """Remove every entry owned by ``uid`` directly in ``roots`` (a folder with all it holds); links are
    removed, never followed. Returns the paths removed."""
    removed = []
    for root in roots:
        try:
            entries = list(os.scandir(root))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.stat(follow_symlinks=False).st_uid != uid:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)  # fd-based on Linux: safe against links inside
                else:
                    os.unlink(entry.path)
                removed.append(entry.path)
            except OSError:
                pass
    return removed


def _pids() -> list[int]:
    me = os.getpid()
    return [int(e) for e in os.listdir("/proc") if e.isdigit() and int(e) != me]


def _uids(pid: int) -> set[int]:
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"Uid:"):
                    return {int(x) for x in line.split()[1:3]}
                if line.startswith(b"State:") and b"Z" in line.split()[1:2]:
                    return set()  # a zombie is already dead
    except OSError:
        pass
    return set()
