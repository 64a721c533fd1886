"""The examples in the public API's docstrings run as tests (what ``--doctest-modules`` would do on the
packages, limited to the modules that have examples so that nothing else is imported)."""

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("derive", "numeric", "reports", "bptt")


def modules_with_examples() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.name != "__main__.py" and ">>> " in path.read_text(encoding="utf-8"):
                found.append(".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"))
    return found


MODULES = modules_with_examples()


def test_the_public_api_has_examples():
    assert {"derive.cellfile", "derive.functions", "derive.naming", "derive.program", "derive.layers",
            "derive.certificate", "derive.evaluate", "derive.lambdified", "numeric.models", "reports.names"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.attempted > 0 and result.failed == 0
