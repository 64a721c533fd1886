"""The installed toolkit's version, for ``bptt --version`` and the header of generated modules."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def bptt_version() -> str:
    try:
        return version("bptt")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"
