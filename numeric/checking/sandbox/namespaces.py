"""The namespace layer: bubblewrap (or ``unshare``) around the child, and the filesystem it may see.

With bubblewrap the child gets new PID, mount, network, IPC and UTS namespaces (and a user namespace
when the checker is not root), ``--die-with-parent`` and ``--new-session``, and a root filesystem that
holds only: the interpreter and the system's shared libraries, the Python standard library (with every
site-packages folder inside it hidden), NumPy and the explicitly allowed packages, a minimal /dev, a
new /proc, and its work folder — a size-limited tmpfs. The toolkit itself (numeric/, derive/, reports/,
the editable-install finder) is not in that view, nor the checker's files or other submissions.

Without bubblewrap, ``unshare`` still gives the PID, network, IPC and UTS namespaces, but no private
view of the filesystem; without either there are no namespaces. The report says which.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig

import numpy as np

WORK = "/home/student"  # the child's work folder inside the namespaces (HOME too)


@functools.lru_cache(maxsize=None)
def view(allowed: tuple[str, ...] = ()) -> dict:
    """What the child may read: {"sys_path", "binds" (read-only paths), "masks" (folders shown empty but
    for the packages bound into them), "packages"}.

    Args:
        allowed: importable top-level packages besides NumPy (e.g. ("scipy",)); missing ones are skipped.
    """
    paths = sysconfig.get_paths()
    stdlib = [os.path.realpath(paths[k]) for k in ("stdlib", "platstdlib")]
    stdlib.append(os.path.join(stdlib[0], "lib-dynload"))
    stdlib = list(dict.fromkeys(p for p in stdlib if os.path.isdir(p)))
    packages = [os.path.dirname(os.path.realpath(np.__file__))]
    for name in allowed:
        spec = importlib.util.find_spec(name) if name != "numpy" else None
        if spec is not None and spec.submodule_search_locations:
            packages += [os.path.realpath(p) for p in spec.submodule_search_locations]
        elif spec is not None and spec.origin and os.path.isfile(spec.origin):
            packages.append(os.path.realpath(spec.origin))
    for pkg in list(packages):  # vendored shared libraries of wheels (numpy.libs, scipy.libs)
        libs = pkg + ".libs"
        if os.path.isdir(libs):
            packages.append(libs)
    parents = list(dict.fromkeys(os.path.dirname(p) for p in packages))
    site_dirs = {os.path.realpath(p) for p in sys.path if p and os.path.isdir(p)}
    site_dirs |= {os.path.realpath(paths[k]) for k in ("purelib", "platlib") if os.path.isdir(paths[k])}
    masks = sorted({d for d in site_dirs | set(parents)
                    if d not in stdlib and any(_inside(d, s) for s in stdlib)} | set(parents), key=len)
    binds = [os.path.realpath(sys.executable)]
    libpython = os.path.join(sysconfig.get_config_var("LIBDIR") or "", sysconfig.get_config_var("INSTSONAME") or "")
    if os.path.isfile(libpython):
        binds.append(os.path.realpath(libpython))
    binds += stdlib + packages
    sys_path = [p for p in sys.path if p.endswith(".zip") and os.path.isfile(p)] + stdlib + parents
    return {"sys_path": list(dict.fromkeys(sys_path)), "binds": binds, "masks": masks,
            "packages": packages, "read_roots": stdlib + packages}


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


SYSTEM = ("/usr/lib", "/usr/lib64", "/lib", "/lib64", "/lib32", "/usr/lib32")


def bwrap_argv(allowed: tuple[str, ...], work_bytes: int, separate_user: bool) -> list[str]:
    """bubblewrap's arguments up to (not including) the command.

    Args:
        separate_user: the child will switch to its own uid (as root; user.py): it keeps the capabilities
            to do so until then. Otherwise a user namespace, and no capabilities outside it.
    """
    v = view(allowed)
    argv = ["bwrap", "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net", "--unshare-ipc",
            "--unshare-uts", "--unshare-cgroup-try"]
    if as_pid_1():  # no reaper: it would be outside the seccomp filter and, unless root, the child's own user
        argv.append("--as-pid-1")
    if not separate_user:
        argv += ["--unshare-user", "--cap-drop", "ALL"]
    binds, masks = v["binds"], v["masks"]
    system = [p for p in SYSTEM if os.path.islink(p) or os.path.isdir(p)]
    # folders on the way to a bind are created world-readable (bwrap would copy a 0700 /root)
    covered = [b for b in binds if os.path.isdir(b)] + list(masks) + system
    ancestors = sorted({a for p in binds + masks + system + [WORK, "/etc/ld.so.cache"] for a in _ancestors(p)
                        if not any(_inside(a, c) for c in covered)}, key=len)
    for a in ancestors:
        argv += ["--perms", "0755", "--dir", a]
    for path in system:
        if os.path.islink(path):
            argv += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            argv += ["--ro-bind", path, path]
    if os.path.isfile("/etc/ld.so.cache"):  # its folder is made world-readable with the others below
        argv += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    mounts = [(p, "bind") for p in binds] + [(m, "mask") for m in masks]
    mounts.sort(key=lambda m: (m[0].count("/"), m[1] == "bind"))  # a mask before the packages bound into it
    for path, kind in mounts:
        argv += ["--ro-bind", path, path] if kind == "bind" else ["--perms", "0755", "--tmpfs", path]
    for m in masks:
        argv += ["--remount-ro", m]
    argv += ["--dev", "/dev", "--proc", "/proc", "--perms", "0700", "--size", str(work_bytes), "--tmpfs", WORK,
             "--chdir", WORK, "--remount-ro", "/"]
    return argv


@functools.lru_cache(maxsize=1)
def as_pid_1() -> bool:
    """Whether bubblewrap can run the child as PID 1 of its namespace (``--as-pid-1``, bubblewrap ≥ 0.8).

    Otherwise PID 1 is bubblewrap's reaper: not under the child's seccomp filter, and — when the checker is
    not root — the same user as the child, which may then write its code through /proc/1/mem and run there
    unfiltered (tests/hostile/pid1_memory.py)."""
    try:
        proc = subprocess.run(["bwrap", "--help"], capture_output=True, timeout=10, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return b"--as-pid-1" in proc.stdout + proc.stderr


def _ancestors(path: str) -> list[str]:
    out, p = [], os.path.dirname(path)
    while p not in ("/", ""):
        out.append(p)
        p = os.path.dirname(p)
    return out


def unshare_argv(as_root: bool) -> list[str]:
    argv = ["unshare", "--fork", "--pid", "--mount-proc", "--net", "--ipc", "--uts", "--kill-child"]
    return argv if as_root else argv + ["--user", "--map-root-user"]


@functools.lru_cache(maxsize=1)
def kind() -> tuple[str, str]:
    """("bwrap" | "unshare" | "none", why): which namespace tool works here (tried once per process)."""
    as_root = os.geteuid() == 0
    probe = [os.path.realpath(sys.executable), "-I", "-S", "-c", "pass"]
    reasons = []
    if shutil.which("bwrap"):
        ok, why = _try(bwrap_argv((), 2**20, as_root) + probe)  # as the launcher will run it
        if ok:
            return "bwrap", ""
        reasons.append(f"bwrap fails here ({why})")
    else:
        reasons.append("bwrap is not installed (Debian package bubblewrap)")
    if shutil.which("unshare"):
        ok, why = _try(unshare_argv(as_root) + probe)
        if ok:
            return "unshare", "; ".join(reasons)
        reasons.append(f"unshare fails here ({why})")
    return "none", "; ".join(reasons)


def _try(argv: list[str]) -> tuple[bool, str]:
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=10, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as err:
        return False, str(err)
    last = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
    return proc.returncode == 0, last[0][:200]


def describe(tool: str, why: str, allowed: tuple[str, ...], work_mb: int) -> tuple[bool, str]:
    if tool == "bwrap":
        names = ", ".join(os.path.basename(p) for p in view(allowed)["packages"])
        reaper = "" if as_pid_1() or os.geteuid() == 0 else (
            "; PID 1 is bubblewrap's reaper, writable by the child (bubblewrap < 0.8 has no --as-pid-1)")
        return True, (f"bubblewrap: new PID, mount, network, IPC, UTS{'' if os.geteuid() == 0 else ', user'} "
                      f"namespaces; read-only view of the standard library and {names}; "
                      f"{work_mb} MB private tmpfs work folder; dies with the checker{reaper}")
    if tool == "unshare":
        return False, (f"partial — unshare: new PID, network, IPC, UTS namespaces, but no private view of the "
                       f"filesystem ({why})")
    return False, f"no namespaces: {why}"
