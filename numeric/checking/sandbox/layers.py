"""The isolation layers, each a unit that says whether it can be used here and describes itself.

The OS layers are the isolation: a separate user (when the checker is root), namespaces with a private
view of the filesystem (bubblewrap), and a seccomp filter. Resource limits and the in-process hooks
are always on; the hooks only turn an attempt into a clear message. ``missing_os_layers()`` is what
``--require-isolation`` refuses on, and what the report's warning names.
"""

from __future__ import annotations

import os

from numeric.checking.sandbox import namespaces, seccomp, user


class Layer:
    """One layer. ``available()`` → (usable here, why not); ``describe()`` → the report's entry."""

    name = ""
    required = True  # part of the OS isolation that --require-isolation insists on

    def available(self) -> tuple[bool, str]:
        raise NotImplementedError

    def describe(self) -> dict:
        in_force, detail = self.available()
        return {"layer": self.name, "in_force": bool(in_force), "detail": detail}


class SeparateUser(Layer):
    name = "separate user"

    def available(self):
        return user.available()

    @property
    def required(self) -> bool:  # only root has another user to switch to; otherwise the user namespace
        return os.geteuid() == 0


class Namespaces(Layer):
    name = "namespaces"

    def __init__(self, allowed: tuple[str, ...] = (), work_mb: int = 64):
        self.allowed, self.work_mb = allowed, work_mb

    def available(self):
        tool, why = namespaces.kind()
        return namespaces.describe(tool, why, self.allowed, self.work_mb)


class Seccomp(Layer):
    name = "seccomp"

    def available(self):
        return seccomp.available()


class ResourceLimits(Layer):
    name = "resource limits"
    required = False

    def __init__(self, limits=None):
        self.limits = limits

    def available(self):
        lim = self.limits
        extra = (f": {lim.memory_mb} MB address space, {lim.file_mb} MB per file, CPU seconds, open files, "
                 f"{lim.max_processes} threads; {lim.timeout:g} s per call, {lim.budget:g} s in all") if lim else ""
        return True, "setrlimit before the submission loads" + extra


class InProcessHooks(Layer):
    name = "in-process hooks"
    required = False

    def available(self):
        return True, ("import and audit hooks (clear messages for blocked imports, files, processes; "
                      "not a security boundary)")


def layers(allowed: tuple[str, ...] = (), limits=None) -> list[Layer]:
    work_mb = limits.work_mb if limits else 64
    return [SeparateUser(), Namespaces(allowed, work_mb), Seccomp(), ResourceLimits(limits), InProcessHooks()]


def report(allowed: tuple[str, ...] = (), limits=None) -> list[dict]:
    """The ``CheckReport.isolation`` entries: one {"layer", "in_force", "detail"} per layer."""
    return [layer.describe() for layer in layers(allowed, limits)]


def missing_os_layers(allowed: tuple[str, ...] = ()) -> list[str]:
    """One line per required OS layer that is not in force here (empty: fully isolated)."""
    out = []
    for layer in layers(allowed):
        ok, why = layer.available()
        if layer.required and not ok:
            out.append(f"{layer.name}: {why}")
    return out
