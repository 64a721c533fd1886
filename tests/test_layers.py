"""The layers of DESIGN.md §3 as tests: each layer imported alone, in a fresh interpreter, loads only what
it may; parsing a cell file loads no SymPy; the reference models share no code with the oracles."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def modules(package: str, skip=()) -> list[str]:
    names = []
    for path in sorted((ROOT / package).rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        if path.name != "__main__.py" and not any(name.startswith(s) for s in skip):
            names.append(name)
    return names


def modules_after(code: str) -> set[str]:
    """Every module in sys.modules after running ``code`` in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout.splitlines()[-1]))


def loaded_after(code: str) -> set[str]:
    """The top-level packages in sys.modules after running ``code`` in a fresh interpreter."""
    return {m.split(".")[0] for m in modules_after(code)}


def import_all(names) -> str:
    return "import importlib\n" + "\n".join(f"importlib.import_module({n!r})" for n in names)


# The pytest plugin is loaded by pytest itself; it is the one numeric module meant to import pytest.
LAYERS = [
    # examples: student submissions (fixtures); bootstrap: the sandbox child's script, never imported
    ("numeric", modules("numeric", skip=("numeric.checking.examples", "numeric.checking.sandbox.bootstrap")),
     {"sympy", "derive", "reports", "rich"}),
    ("derive", modules("derive"), {"rich", "reports"}),
]


@pytest.mark.parametrize("layer,names,forbidden", LAYERS, ids=[layer for layer, _, _ in LAYERS])
def test_a_layer_loads_nothing_above_it(layer, names, forbidden):
    assert len(names) > 5
    assert loaded_after(import_all(names)) & forbidden == set()


def test_importing_the_cell_parser_loads_no_sympy():
    """The bar of issue 12: ``python -X importtime -c "import derive.cellfile"`` shows no SymPy."""
    assert {"sympy", "mpmath"} & loaded_after("import derive.cellfile") == set()


def test_parsing_every_cell_file_loads_no_sympy():
    code = ("from derive.cellfile import BUILTIN, example_paths, load\n"
            "for spec in [*BUILTIN, *example_paths()]: load(spec); load(spec, bias=False)")
    assert "sympy" not in loaded_after(code)


def test_the_cheap_entry_points_stay_cheap():
    """`bptt list` and building the parser read cells without SymPy (a second to spare on every call)."""
    assert "sympy" not in loaded_after("from reports import cli\ncli.build_parser()\n"
                                       "import reports.commands.list as l\nl._models(); l._cells()")


def test_the_registry_names_its_functions_without_sympy():
    """One registry, read by the parser without SymPy: its SymPy functions are built on first use."""
    code = ("from derive import functions\n"
            "assert functions.KNOWN[-1] == 'softmax' and 'softplus' in functions.KNOWN\n"
            "assert functions.helpers(functions.KNOWN) and functions.REGISTRY['tanh'].kinks == ()")
    assert "sympy" not in loaded_after(code)
    assert not (ROOT / "derive/function_names.py").exists()


ORACLES = {"numeric.perturb", "numeric.gradcheck"}


@pytest.mark.parametrize("path", sorted((ROOT / "numeric/models").glob("*.py")), ids=lambda p: p.name)
def test_reference_models_share_no_code_with_the_oracles(path):
    """The hand-written models are the independent second implementation: they import NumPy and each
    other, never the finite-difference, complex-step or stacked-perturbation machinery."""
    imported = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):  # `from numeric import perturb` counts as numeric.perturb
            imported |= {f"{node.module}.{a.name}" for a in node.names}
    assert {m for m in imported if any(m == o or m.startswith(o + ".") for o in ORACLES)} == set()
    allowed = ("__future__.", "numpy", "dataclasses.", "typing.", "functools.", "collections.abc.",
               "numeric.activations.", "numeric.validation", "numeric.models.")
    assert [m for m in imported if not m.startswith(allowed)] == []


def test_reference_models_reach_no_oracle_through_their_imports():
    """The same by the import graph: everything importing the models loads, transitively, stays outside
    the oracles (finite differences, complex step, stacked perturbations) and the checker."""
    names = modules("numeric/models")
    loaded = {m for m in modules_after(import_all(names)) if m.split(".")[0] == "numeric"}
    allowed = {"numeric", "numeric.activations", "numeric.validation", *names}
    assert loaded - allowed == set()
    assert not any("stack_rows" in path.read_text(encoding="utf-8")
                   for path in (ROOT / "numeric/models").glob("*.py"))  # the oracle's batching helper


def test_commands_do_not_import_the_cli_that_imports_them():
    for path in sorted((ROOT / "reports/commands").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        sources = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert "reports.cli" not in sources, path.name


def test_reports_use_no_private_name_of_derive():
    """reports/ is a client of derive/'s public API (e.g. codegen's version came from derive.codegen._version)."""
    for path in sorted((ROOT / "reports").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("derive"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert private == [], f"{path.relative_to(ROOT)} imports {private} from {node.module}"
