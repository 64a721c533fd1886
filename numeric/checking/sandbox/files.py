"""Reading the files to ship into the sandbox (parent side, often as root).

The student controls the directory entries the checker is pointed at (a Gradescope upload, a batch folder):
a ``submission.py`` that is a symbolic link makes a root checker read whatever it points to — a file only
root may read (its first line then comes back in a SyntaxError), or a classmate's submission graded as
theirs — and a FIFO or device blocks the checker or never ends. Only regular files, named directly, are
read; the check and the read use the same descriptor, so the entry cannot be swapped in between.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MAX_FILE_BYTES = 32 * 2**20  # a submission, helper or adapter file; far above any real one


class UnsafeFile(OSError):
    """A file the checker refuses to read: a symbolic link, not a regular file, or too large."""


def read_plain_file(path: str | os.PathLike, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of ``path`` if it is a regular file named directly (its last component not a symlink).

    Args:
        path: the file (folders above it may be links: those are the grader's, not the student's).
        limit: the largest size read.

    Raises:
        UnsafeFile: a symbolic link, FIFO, device, socket or folder, or larger than ``limit``.
        OSError: the file cannot be opened (missing, no permission).
    """
    path = Path(path)
    mode = os.lstat(path).st_mode
    if stat.S_ISLNK(mode):
        raise UnsafeFile(f"{path} is a symbolic link (to {os.readlink(path)}); the checker reads only "
                         "regular files, not what a link points to")
    if not stat.S_ISREG(mode):  # refused before opening: opening a device can itself do something
        raise UnsafeFile(f"{path} is a {_kind(mode)}, not a regular file")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as err:  # replaced by a link since the lstat: O_NOFOLLOW refused it
        if os.path.islink(path):
            raise UnsafeFile(f"{path} became a symbolic link while it was read") from None
        raise err
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFile(f"{path} is a {_kind(info.st_mode)}, not a regular file")
        if info.st_size > limit:
            raise UnsafeFile(f"{path} is {info.st_size} bytes; the limit is {limit}")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
        if len(data) > limit:
            raise UnsafeFile(f"{path} is larger than the limit of {limit} bytes")
        return data
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "FIFO"), (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISSOCK, "socket"), (stat.S_ISDIR, "folder")):
        if test(mode):
            return name
    return "special file"
