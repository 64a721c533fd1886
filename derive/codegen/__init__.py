"""Generate a standalone NumPy module with the forward pass and BPTT of a cell, from its derivation.

>>> from derive.codegen import generate
>>> gen = generate("rnn")
>>> sorted(gen.module.param_shapes(D=3, H=4, K=5))
['U', 'V', 'W', 'b', 'c']
>>> "dh = dh_next + dh_in_t" in gen.source  # the one backward step body
True

The pipeline: :func:`derive.program.adjoint_program` (the derivation, one time step) →
:class:`~derive.codegen.lower.Lowering` (loop regions, hoisting, stacked products) →
:mod:`~derive.codegen.emit` (printed by :class:`~derive.codegen.printer.NumPyCodePrinter`) →
:func:`~derive.codegen.assemble.module_source`. Verification lives in ``reports/codegen_verify.py``
(``derive`` does not import ``numeric``): it calls :func:`generate` again with the result for the header.
"""

from __future__ import annotations

import itertools
import linecache
import types
from dataclasses import dataclass
from pathlib import Path

from derive.cellfile import Cell, builtin_names, load
from derive.codegen.assemble import module_source
from derive.codegen.lower import Lowering
from derive.program import adjoint_program

__all__ = ["Generated", "generate", "load_source"]

_counter = itertools.count()


@dataclass
class Generated:
    """A generated module: its source and the module object built from that source.

    Attributes:
        name: the cell's name; origin: what it was generated from; source: the module's text;
        module: the loaded module (``inspect.getsource`` works on its functions); cell: the parsed cell.
    """

    name: str
    origin: str
    source: str
    module: types.ModuleType
    cell: Cell

    def write(self, path: str | Path) -> Path:
        """Write the source to ``path`` (the caller decides whether it was verified)."""
        path = Path(path)
        path.write_text(self.source, encoding="utf-8")
        return path


def _version() -> str:
    try:
        from importlib.metadata import version
        return version("bptt")
    except Exception:  # a source tree that was never installed
        return "0+unknown"


def load_source(source: str, name: str, filename: str | None = None) -> types.ModuleType:
    """Execute generated ``source`` as a module; its text is registered with linecache so that
    ``inspect.getsource`` works even when it was never written to a file."""
    filename = filename or f"<bptt generated {name} #{next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    module = types.ModuleType(f"bptt_generated_{name.replace('-', '_')}")
    module.__file__ = filename
    exec(compile(source, filename, "exec"), module.__dict__)
    return module


def generate(spec: str | Cell, bias: bool = True, verification: list[str] | None = None,
             origin: str | None = None) -> Generated:
    """Generate the NumPy module of a built-in cell name, a cell file path, or a parsed cell.

    Args:
        spec: "rnn", "lstm", … or a path to a ``.cell`` file, or a :class:`~derive.cellfile.Cell`.
        bias: False drops every parameter declared ``bias``.
        verification: header lines saying how the code was verified (None: "NOT VERIFIED").
        origin: shown in the header (default: the built-in name or the file path).

    Returns:
        :class:`Generated` with the source and the loaded module.

    Raises:
        derive.errors.CellError: unusable cell file.
    """
    cell = spec if isinstance(spec, Cell) else load(spec, bias=bias)
    # built-in: asked for by name (a path such as "cifg.cell" in the working directory is a user's cell),
    # or a parsed cell that the built-in loader made (it names the path "<name>.cell")
    builtin = spec in builtin_names() if isinstance(spec, str) else (
        cell.name in builtin_names() and cell.path == f"{cell.name}.cell")
    origin = origin or (f"the built-in cell {cell.name!r}" if builtin else cell.path)
    if not cell.bias:
        origin += " (bias=False)"
    low = Lowering(adjoint_program(cell))
    source = module_source(low, origin, _version(), verification)
    return Generated(cell.name, origin, source, load_source(source, cell.name), cell)
