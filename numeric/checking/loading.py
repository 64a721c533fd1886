"""What is shipped into the sandbox for one submission: the files and how to load the main one.

Parent side, no student code runs here: a notebook is read as JSON and a script is parsed with ``ast``,
never executed. The sandbox writes ``Prepared.files`` into the child's work folder and loads
``Prepared.main`` there.

Three things students hand in besides a plain module (docs/checking.md, "Files as students export them"):

- a Jupyter notebook (``.ipynb``, nbformat 4, or 3): its code cells become one ``.py`` named after the
  notebook. Each cell is preceded by one comment line ``# %% cell N`` (N counts every cell of the notebook
  from the top, markdown included, 1-based), so a traceback's line number falls inside the cell it came
  from and :meth:`Prepared.locate` turns it back into "cell N, line k". IPython-only lines (``%magic``,
  ``!shell``, ``get_ipython()``) become ``pass`` (same line count), a ``%%cell magic`` cell is left out
  whole, a cell that does not parse is left out with its syntax error in the notes. A notebook is loaded
  statement by statement ("statements" mode), as Jupyter runs cells: a failing cell (``from public_tests
  import *``, a test cell) is skipped and noted, the rest still defines its functions.
- a script with a training loop, file reads or plots (``load="defs"``): only imports, function and
  class definitions and constant-like assignments are kept, every other top-level statement is blanked
  out in place (line numbers stay those of the student's file), and the child runs the kept statements
  one at a time, skipping any that fail (``data = open('input.txt').read()``).
- helper files next to the submission (``from rnn_utils import *``): shipped under their file names.
"""

from __future__ import annotations

import ast
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from numeric.checking.conventions import CheckUsageError

LOAD_MODES = ("module", "defs", "library")  # "library" is the old name of "defs"
MAX_HELPER_BYTES = 5_000_000      # per --with file
MAX_SHIPPED_BYTES = 20_000_000    # submission and helpers together
# The checker parses student code itself (notebook cells, --load defs) at ~400 bytes of memory per byte of
# source: cap the code before parsing. Real hand-ins are well under 100 kB of code; notebooks may be larger
# on disk because of their stored outputs (images), hence the separate cap on the raw file.
MAX_CODE_BYTES = 1_000_000
MAX_NOTEBOOK_BYTES = 20_000_000


class SubmissionError(ValueError):
    """The student's file cannot be made into a module (a broken notebook): the student's failure, shown as
    the report's load error (exit 1), never a usage error of the checker."""


@dataclass
class Prepared:
    """A submission ready to ship.

    Attributes:
        files: file name (no folders) → bytes, written into the child's work folder.
        main: the name in ``files`` loaded as the submission module.
        mode: "module" (run the whole file) or "statements" (run the top-level statements one at a
            time and skip any that raise: definitions-only loading).
        notes: what was done to the file (cells taken from a notebook, statements skipped), for the report.
        cells: for a notebook, (first line of the cell in ``main``, cell number) in order; empty otherwise.
    """

    files: dict[str, bytes]
    main: str
    mode: str = "module"
    notes: list[str] = field(default_factory=list)
    cells: list[tuple[int, int]] = field(default_factory=list)

    def locate(self, line: int) -> str | None:
        """'cell N, line k' for a line of ``main`` that came from a notebook cell (None otherwise)."""
        found = None
        for first, number in self.cells:
            if first <= line:
                found = (first, number)
        if found is None:
            return None
        return f"cell {found[1]}, line {line - found[0] + 1}"


def prepare(path: str | Path, load: str = "module", with_files: tuple[str | Path, ...] = ()) -> Prepared:
    """Read a submission (and its helper files) into a :class:`Prepared`.

    Args:
        path: the student's .py or .ipynb file (a .py holding notebook JSON is read as a notebook).
        load: "module" (run it as it is) or "defs" (keep only imports, definitions and constant-like
            assignments; "library" is an alias).
        with_files: helper files shipped next to it under their own names.

    Raises:
        SubmissionError: the notebook is not valid JSON, not a notebook, or has no code cells.
        CheckUsageError: an unknown ``load`` mode or an unusable helper file (the instructor's flags).
    """
    if load not in LOAD_MODES:
        raise CheckUsageError(f"--load {load!r}: expected one of module, defs")
    path = Path(path)
    raw = path.read_bytes()
    notes: list[str] = []
    cells: list[tuple[int, int]] = []
    mode = "module"
    main = path.name
    is_notebook = path.suffix.lower() == ".ipynb" or _looks_like_notebook(path, raw)
    limit = MAX_NOTEBOOK_BYTES if is_notebook else MAX_CODE_BYTES
    if len(raw) > limit:
        raise SubmissionError(f"{path.name} is {len(raw):,} bytes; a submission may have at most {limit:,}")
    if is_notebook:
        source, cells, notes = notebook_source(raw, path.name)
        main = path.stem + ".py"
        mode = "statements"
    else:
        source = raw.decode("utf-8", errors="surrogateescape")
    if len(source.encode("utf-8", errors="surrogateescape")) > MAX_CODE_BYTES:
        raise SubmissionError(f"{path.name}: {len(source):,} characters of code; at most {MAX_CODE_BYTES:,} "
                              "are checked")
    if load in ("defs", "library"):
        source, defs_notes = definitions_only(source)
        notes += defs_notes
        mode = "statements"
    files = {main: source.encode("utf-8", errors="surrogateescape")}
    for name, data in _helpers(with_files, main).items():
        files[name] = data
    if sum(len(b) for b in files.values()) > MAX_SHIPPED_BYTES:
        raise CheckUsageError(f"the submission and its --with files exceed {MAX_SHIPPED_BYTES // 1_000_000} MB")
    if len(files) > 1:
        notes.append("helper files shipped next to it: " + ", ".join(n for n in files if n != main))
    return Prepared(files, main, mode, notes, cells)


# ------------------------------------------------------------------------------------------ notebooks

def _looks_like_notebook(path: Path, raw: bytes) -> bool:
    """A notebook saved under a .py name (what gave ``NameError: name 'null' is not defined``)."""
    if not raw.lstrip().startswith(b"{") or len(raw) > MAX_NOTEBOOK_BYTES:
        return False
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return isinstance(doc, dict) and ("cells" in doc or "worksheets" in doc)


def _text(source) -> str:
    """A cell's source: one string, or a list of lines that already end with their newlines."""
    if isinstance(source, list):
        return "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else ""


def _notebook_cells(raw: bytes, name: str) -> list[tuple[str, str]]:
    """[(cell type, source)] of nbformat 4 (``cells``) or 3 (``worksheets[].cells``, code in ``input``)."""
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as err:
        raise SubmissionError(f"{name} is not a valid notebook: not UTF-8 text ({err.reason})") from err
    except json.JSONDecodeError as err:
        raise SubmissionError(f"{name} is not a valid notebook: invalid JSON at line {err.lineno}, "
                              f"column {err.colno} ({err.msg}); re-save it from Jupyter") from err
    except RecursionError as err:
        raise SubmissionError(f"{name} is not a valid notebook: its JSON is nested too deeply") from err
    if not isinstance(doc, dict) or not ("cells" in doc or "worksheets" in doc):
        raise SubmissionError(f"{name} is not a Jupyter notebook: expected a JSON object with 'cells' "
                              "(nbformat 4) or 'worksheets' (nbformat 3)")
    language = _language(doc.get("metadata"))
    if language and language != "python":
        raise SubmissionError(f"{name} is a {language} notebook; expected a Python notebook")
    if "cells" in doc:
        raw_cells = doc["cells"]
    else:
        raw_cells = [c for w in doc["worksheets"] if isinstance(w, dict) for c in w.get("cells", [])]
    if not isinstance(raw_cells, list):
        raise SubmissionError(f"{name} is not a Jupyter notebook: 'cells' is not a list")
    out = []
    for cell in raw_cells:
        if not isinstance(cell, dict):
            out.append(("unknown", ""))
            continue
        kind = cell.get("cell_type", "unknown")
        out.append((kind, _text(cell.get("source", cell.get("input", "")))))
    return out


def _language(metadata) -> str:
    if not isinstance(metadata, dict):
        return ""
    for key, sub in (("kernelspec", "language"), ("language_info", "name")):
        value = metadata.get(key)
        if isinstance(value, dict) and isinstance(value.get(sub), str):
            return value[sub].lower()
    return ""


_MAGIC = re.compile(r"^(\s*)(%|!|[A-Za-z_][\w, ]*=\s*[%!])")   # %magic, !shell, x = !shell, x = %time f()
_IPYTHON = re.compile(r"^(\s*).*\bget_ipython\(\)")


def notebook_source(raw: bytes, name: str = "notebook.ipynb") -> tuple[str, list[tuple[int, int]], list[str]]:
    """The code cells of a notebook as one Python source (layout: module docstring).

    Returns:
        (source, [(first line of the cell's code, cell number)], notes).

    Raises:
        SubmissionError: not a notebook, or no code cells.
    """
    cells = _notebook_cells(raw, name)
    code = [(n, text) for n, (kind, text) in enumerate(cells, 1) if kind == "code"]
    if not code:
        raise SubmissionError(f"{name} has no code cells ({len(cells)} cells in all); expected the "
                              "assignment's functions in code cells")
    size = sum(len(text) for _, text in code)
    if size > MAX_CODE_BYTES:
        raise SubmissionError(f"{name}: {size:,} characters of code in its cells; at most {MAX_CODE_BYTES:,} "
                              "are checked")
    lines: list[str] = []
    spans: list[tuple[int, int]] = []
    magic_lines, cell_magics, unparsable = [], [], []
    for number, text in code:
        lines.append(f"# %% cell {number}")
        body = text.splitlines()
        first = next((ln.strip() for ln in body if ln.strip()), "")
        if first.startswith("%%"):
            cell_magics.append(f"cell {number}: {first.split()[0]}")
            lines.extend("" for _ in body)  # kept blank: later cells keep their line numbers
            continue
        body = _without_ipython_lines(text, body, number, magic_lines)
        try:
            ast.parse("\n".join(body))
        except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
            unparsable.append(f"cell {number}, line {getattr(err, 'lineno', '?')}: "
                              f"{getattr(err, 'msg', type(err).__name__)}")
            lines.extend("" for _ in body)
            continue
        spans.append((len(lines) + 1, number))
        lines.extend(body)
    notes = [_notebook_note(len(cells), len(code), magic_lines, cell_magics, unparsable)]
    return "\n".join(lines) + "\n", spans, notes


def _without_ipython_lines(text: str, body: list[str], number: int, skipped: list[str]) -> list[str]:
    """IPython-only lines as ``pass`` (indentation kept, so a magic inside a block stays valid Python).

    A cell that already parses as Python is left alone apart from ``get_ipython()`` lines: a line starting
    with % there is the continuation of an expression (``(a\\n % b)``), not a magic."""
    try:
        ast.parse(text)
        parses = True
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        parses = False
    out = []
    for line in body:
        match = None if parses else _MAGIC.match(line)
        match = match or _IPYTHON.match(line)
        if match:
            skipped.append(f"cell {number}: {line.strip()[:60]}")
            out.append(f"{match.group(1)}pass  # bptt: IPython-only line skipped")
        else:
            out.append(line)
    return out


def _notebook_note(n_cells, n_code, magic_lines, cell_magics, unparsable) -> str:
    note = f"notebook: {n_code} code cells of {n_cells}, loaded cell by cell (a failing statement is skipped)"
    if magic_lines:
        note += f"; skipped {len(magic_lines)} IPython line{'s' * (len(magic_lines) > 1)} " \
                f"({'; '.join(magic_lines[:4])}{', …' if len(magic_lines) > 4 else ''})"
    if cell_magics:
        note += f"; skipped {len(cell_magics)} cell-magic cell{'s' * (len(cell_magics) > 1)} " \
                f"({'; '.join(cell_magics[:4])})"
    if unparsable:
        note += f"; skipped {len(unparsable)} cell{'s' * (len(unparsable) > 1)} that do not parse " \
                f"({'; '.join(unparsable[:4])})"
    return note + "; line numbers: '# %% cell N' precedes each cell"


# ------------------------------------------------------------------------------------------ definitions only

def definitions_only(source: str) -> tuple[str, list[str]]:
    """Blank out every top-level statement that is not an import, a definition or a constant-like
    assignment; the kept ones stay on their own lines.

    Returns:
        (source with the same number of lines, notes). A source that does not parse is returned as it is
        (the child reports the syntax error with its usual hints).
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # ValueError: NUL bytes
        return source, ["--load defs: the file does not parse; loaded as it is"]
    defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    kept, dropped = Counter(), Counter()
    hidden_runs, spans = [], []
    for node in tree.body:
        if isinstance(node, ast.Pass):
            continue  # a notebook's IPython line, already made harmless: neither kept nor skipped
        kind = _kind(node, defined)
        if kind.startswith("keep:"):
            kept[kind[5:]] += 1
            continue
        dropped[kind] += 1
        if kind == "assignments calling a function of the file":
            hidden_runs.append(f"line {node.lineno}")
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        spans.append((first, node.col_offset if first == node.lineno else 0, node.end_lineno, node.end_col_offset))
    lines = source.splitlines(keepends=True)
    for start, col, end, end_col in spans:
        _blank(lines, start, col, end, end_col)
    note = (f"--load defs: kept {sum(kept.values())} top-level statements ({_counts(kept)}), "
            f"skipped {sum(dropped.values())}")
    if dropped:
        note += f" ({_counts(dropped)})"
    if hidden_runs:
        note += f"; a call of the file's own function skipped at {', '.join(hidden_runs[:5])}"
    return "".join(lines), [note]


def _kind(node: ast.stmt, defined: set[str]) -> str:
    """'keep:<what>' or the reason it is dropped, in the words of the notes."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return "keep:imports"
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return "keep:functions"
    if isinstance(node, ast.ClassDef):
        return "keep:classes"
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        if _calls_one_of(node, defined):
            return "assignments calling a function of the file"
        return "keep:assignments"
    if isinstance(node, ast.Try) and all(_guard_statement(s) for s in _try_body(node)):
        return "keep:guarded imports"  # try: import scipy / except ImportError: scipy = None
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
        return "keep:docstrings"
    if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
        return "loops"
    if isinstance(node, ast.If):
        return "if-blocks"
    if isinstance(node, (ast.With, ast.AsyncWith)):
        return "with-blocks"
    if isinstance(node, ast.Expr):
        return "calls and prints"
    return "other statements"


def _guard_statement(node: ast.stmt) -> bool:
    """What a compatibility guard holds: imports, assignments, ``pass``, a bare name (``try: xrange``)."""
    return isinstance(node, (ast.Import, ast.ImportFrom, ast.Pass, ast.Assign)) or (
        isinstance(node, ast.Expr) and isinstance(node.value, (ast.Name, ast.Attribute)))


def _try_body(node: ast.Try) -> list[ast.stmt]:
    return node.body + [s for h in node.handlers for s in h.body] + node.orelse + node.finalbody


def _calls_one_of(node: ast.AST, defined: set[str]) -> bool:
    """Whether the statement calls a function or class defined in the file (a training run in a call)."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            fn = sub.func
            while isinstance(fn, ast.Attribute):  # Model(...).fit(...)
                fn = fn.value
            if isinstance(fn, ast.Call):
                continue  # its own Call node is visited too
            if isinstance(fn, ast.Name) and fn.id in defined:
                return True
    return False


def _blank(lines: list[str], start: int, col: int, end: int, end_col: int) -> None:
    """Replace the span (1-based lines, 0-based columns) by spaces, newlines kept. A ``;`` right after it
    goes too (``import numpy as np; np.random.seed(0)``), unless a statement follows it on the line at
    column 0: ``np.random.seed(0); import numpy as np`` becomes ``0                ; import numpy as np``."""
    for number in range(start, end + 1):
        line = lines[number - 1]
        body = line.rstrip("\r\n")
        newline = line[len(body):]
        lo = col if number == start else 0
        hi = end_col if number == end else len(body)
        filler = ""
        if number == end:
            rest = body[hi:]
            after = rest.lstrip()[1:].strip() if rest.lstrip().startswith(";") else ""
            if after and not after.startswith("#") and lo == 0:
                filler = "0"  # a statement follows on this line: "0 ; import y" keeps it at column 0
            elif rest.lstrip().startswith(";"):
                hi += len(rest) - len(rest.lstrip()) + 1
        body = body[:lo] + filler + " " * (hi - lo - len(filler)) + body[hi:]
        lines[number - 1] = (body.rstrip() if body.strip() == "" or number != end else body) + newline


def _counts(counter: Counter) -> str:
    return ", ".join(f"{k} {v}" for k, v in counter.most_common())


# ------------------------------------------------------------------------------------------ helper files

def _helpers(with_files, main: str) -> dict[str, bytes]:
    """The ``--with`` files by file name, validated (the instructor's flags: usage errors)."""
    out: dict[str, bytes] = {}
    for item in with_files:
        path = Path(item)
        if not path.exists():
            raise CheckUsageError(f"--with {item}: no such file")
        if not path.is_file():
            raise CheckUsageError(f"--with {item}: not a regular file (expected a helper file such as rnn_utils.py)")
        size = path.stat().st_size
        if size > MAX_HELPER_BYTES:
            raise CheckUsageError(f"--with {item}: {size} bytes; a helper file may have at most {MAX_HELPER_BYTES}")
        name = path.name
        if name == main:
            raise CheckUsageError(f"--with {item}: has the submission's own name {main!r}")
        if name in out:
            raise CheckUsageError(f"--with {item}: a second helper named {name!r} (files are shipped by name "
                                  "into one folder)")
        if name.startswith("."):
            raise CheckUsageError(f"--with {item}: a hidden file name ({name!r}); rename the file")
        out[name] = path.read_bytes()
    return out
