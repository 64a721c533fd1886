"""What is shipped into the sandbox for one submission: the files and how to load the main one.

Parent side, no student code runs here: a notebook is read as JSON and a script is parsed with ``ast``,
never executed. The sandbox writes ``Prepared.files`` into the child's work folder and loads
``Prepared.main`` there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Prepared:
    """A submission ready to ship.

    Attributes:
        files: file name (no folders) → bytes, written into the child's work folder.
        main: the name in ``files`` loaded as the submission module.
        mode: "module" (run the whole file) or "statements" (run the top-level statements one at a
            time and skip any that raise: definitions-only loading).
        notes: what was done to the file (cells taken from a notebook, statements skipped), for the report.
    """

    files: dict[str, bytes]
    main: str
    mode: str = "module"
    notes: list[str] = field(default_factory=list)


def prepare(path: str | Path, load: str = "module", with_files: tuple[str | Path, ...] = ()) -> Prepared:
    """Read a submission (and its helper files) into a :class:`Prepared`.

    Args:
        path: the student's .py file.
        load: "module" (run it as it is) or "library" (the child runs top-level statements one by one).
        with_files: helper files shipped next to it.
    """
    path = Path(path)
    files = {path.name: path.read_bytes()}
    for extra in with_files:
        files[Path(extra).name] = Path(extra).read_bytes()
    return Prepared(files, path.name, "statements" if load == "library" else "module")
