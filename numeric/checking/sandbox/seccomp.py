"""The seccomp layer: a system-call filter compiled here with libseccomp, installed by the child's bootstrap.

Why this split: libseccomp (the system's ``libseccomp.so.2``, Debian package libseccomp2) turns a
readable rule list into BPF for this machine's architectures, and it is called here through ctypes —
no Python binding to install, and nothing of it runs in the child. The child's bootstrap (trusted code,
before any student code exists) installs the compiled program with two ``prctl`` calls
(``PR_SET_NO_NEW_PRIVS``, ``PR_SET_SECCOMP``). A filter cannot be removed or loosened afterwards, by
anything in that process or its threads.

Denied (with an errno, so honest code gets an OSError instead of a killed process): process creation
other than threads (``clone`` without ``CLONE_THREAD``, ``fork``, ``vfork``; ``clone3`` answers ENOSYS so
glibc falls back to ``clone``), ``execve``/``execveat``, sockets, sending signals (``kill``, ``tkill``,
``tgkill``, ``rt_*sigqueueinfo``, ``pidfd_*``), ``mknod``/``mknodat``, ``ptrace``, ``process_vm_*``,
mount/namespace changes, ``bpf``, ``perf_event_open``, keyrings, ``userfaultfd``, ``io_uring``, kernel
modules, raising resource limits.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import os

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_NE, SCMP_CMP_MASKED_EQ = 1, 7
CLONE_THREAD = 0x00010000

DENIED = ("fork", "vfork", "execve", "execveat", "socket", "socketpair", "kill", "tkill", "tgkill",
          "rt_sigqueueinfo", "rt_tgsigqueueinfo", "pidfd_open", "pidfd_send_signal", "pidfd_getfd",
          "mknod", "mknodat", "ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount2",
          "unshare", "setns", "pivot_root", "chroot", "bpf", "perf_event_open", "keyctl", "add_key",
          "request_key", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
          "open_by_handle_at", "name_to_handle_at", "init_module", "finit_module", "delete_module",
          "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff", "acct", "setrlimit",
          "fanotify_init", "move_mount", "open_tree", "fsopen", "fsmount", "fspick", "mount_setattr")


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


def _errno_action(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


@functools.lru_cache(maxsize=1)
def _library():
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    lib = ctypes.CDLL(name, use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                           ctypes.POINTER(_ArgCmp)]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    return lib


def available() -> tuple[bool, str]:
    """Whether a filter can be compiled here (libseccomp found and working)."""
    try:
        program()
    except (OSError, RuntimeError) as err:
        return False, f"libseccomp unavailable ({err}); install the Debian package libseccomp2"
    return True, f"{len(DENIED) + 3} system calls filtered (libseccomp, installed before the submission loads)"


@functools.lru_cache(maxsize=1)
def program() -> bytes:
    """The compiled BPF program (``struct sock_filter`` array) for this machine.

    Raises:
        OSError: libseccomp cannot be loaded. RuntimeError: a rule was refused.
    """
    lib = _library()
    ctx = lib.seccomp_init(SCMP_ACT_ALLOW)
    if not ctx:
        raise RuntimeError("seccomp_init failed")
    try:
        def rule(name: str, action: int, *conditions: tuple[int, int, int, int]) -> None:
            number = lib.seccomp_syscall_resolve_name(name.encode())
            if number < 0:  # not a system call on this architecture (e.g. fork on arm64)
                return
            args = (_ArgCmp * max(1, len(conditions)))(*[_ArgCmp(*c) for c in conditions])
            rc = lib.seccomp_rule_add_array(ctx, action, number, len(conditions), args)
            if rc < 0:
                raise RuntimeError(f"seccomp rule for {name} refused ({os.strerror(-rc)})")

        for name in DENIED:
            rule(name, _errno_action(errno.EPERM))
        # threads are clone(CLONE_THREAD | …); anything else is a new process
        rule("clone", _errno_action(errno.EPERM), (0, SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0))
        rule("clone3", _errno_action(errno.ENOSYS))  # its flags sit in memory; glibc falls back to clone
        rule("prlimit64", _errno_action(errno.EPERM), (2, SCMP_CMP_NE, 0, 0))  # reading limits stays allowed
        read_fd, write_fd = os.pipe()
        try:
            if lib.seccomp_export_bpf(ctx, write_fd) < 0:
                raise RuntimeError("seccomp_export_bpf failed")
            os.close(write_fd)
            write_fd = -1
            chunks = []
            while chunk := os.read(read_fd, 65536):
                chunks.append(chunk)
        finally:
            os.close(read_fd)
            if write_fd >= 0:
                os.close(write_fd)
        data = b"".join(chunks)
        if not data or len(data) % 8:
            raise RuntimeError("libseccomp exported an empty or malformed program")
        return data
    finally:
        lib.seccomp_release(ctx)
