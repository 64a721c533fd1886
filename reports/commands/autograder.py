"""``bptt autograder``: write a Gradescope autograder (a zip) that grades with ``bptt check``.

    bptt autograder --convention NAME [--model M] [--adapter FILE] [--points FUNC=N ...]
                    [--visibility [FUNC=]V ...] [--strict-inputs] [--timeout S] [--memory MB]
                    [--budget S] [--load defs|module] [--with FILE ...] [--submission-name FILE]
                    -o autograder.zip

The zip holds:

- ``helpers/``: the instructor's helper files (``--with``), shipped next to every submission;
- ``bptt-src/``: this toolkit's source (its packages and pyproject.toml, taken from the running copy);
- ``setup.sh``: Gradescope runs it once when building the image: ``pip install ./bptt-src`` (PyPI only
  for the dependencies: NumPy, SymPy, rich, …; the toolkit itself comes from the zip);
- ``run_autograder``: for every submission, ``bptt check`` on the file in ``/autograder/submission`` with
  the options given here, writing ``/autograder/results/results.json``. ``BPTT_AUTOGRADER_ROOT``
  replaces ``/autograder`` and ``BPTT_COMMAND`` the ``bptt`` command (used by the tests);
- ``bptt-autograder.json``: what was built (convention, models, points, visibility, toolkit version).
"""

from __future__ import annotations

import io
import json
import shlex
import zipfile
from pathlib import Path

from reports.commands._args import (convention, existing_file, file_name, model_list, positive_float,
                                   positive_int)
from reports.exits import EXIT_OK, UsageError

SHIPPED_PACKAGES = ("numeric", "derive", "reports")
SKIP_PARTS = {"__pycache__", ".pytest_cache", ".mypy_cache"}


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("autograder", help="write a Gradescope autograder zip that runs bptt check",
                              description="Write a Gradescope autograder: setup.sh installs this toolkit, "
                                          "run_autograder runs bptt check (docs/checking.md).")
    p.add_argument("--convention", required=True, type=convention, help="course, cs231n, deeplearning-ai, min-char-rnn or adapter")
    p.add_argument("--model", default=None, type=model_list, help="model(s) to check, comma-separated (default: the convention's)")
    p.add_argument("--adapter", default=None, type=existing_file,
                   help="the instructor's adapter file (shipped in the zip)")
    p.add_argument("--points", action="append", default=[], metavar="FUNC=N", help="points of one test (default 1)")
    p.add_argument("--visibility", action="append", default=[], metavar="[FUNC=]V",
                   help="visible, hidden, after_due_date or after_published; FUNC=V for one test, V for all")
    p.add_argument("--strict-inputs", action="store_true", help="fail functions that change an input in place")
    p.add_argument("--timeout", type=positive_float, default=10.0, help="seconds per call (default 10)")
    p.add_argument("--memory", type=positive_int, default=1024, help="memory limit of a submission in MB (default 1024)")
    p.add_argument("--budget", type=positive_float, default=None, metavar="SECONDS",
                   help="total seconds for one submission's calls (default: bptt check's)")
    p.add_argument("--load", choices=("defs", "module"), default=None,
                   help="how submissions are loaded (default: the convention's)")
    p.add_argument("--with", dest="with_files", action="append", default=[], metavar="FILE", type=existing_file,
                   help="a helper file shipped in the zip and next to every submission (e.g. rnn_utils.py)")
    p.add_argument("--submission-name", default=None, metavar="FILE",
                   help="the file to grade in /autograder/submission (default: its only .py or .ipynb file)")
    p.add_argument("-o", "--output", required=True, metavar="ZIP", type=file_name,
                   help="the autograder zip to write")
    p.set_defaults(run=run)


def run(args) -> int:
    from numeric.checking import CheckUsageError
    from numeric.checking.api import test_names
    from numeric.checking.writers import ReportWriteError, check_destination, safe_write
    from reports.commands.check import gradescope_options

    if args.timeout <= 0:
        raise UsageError(f"--timeout: expected a positive number of seconds, got {args.timeout:g}")
    if args.memory < 64:
        raise UsageError(f"--memory: expected at least 64 (MB), got {args.memory}")
    if args.budget is not None and args.budget <= 0:
        raise UsageError(f"--budget: expected a positive number of seconds, got {args.budget:g}")
    if args.submission_name is not None and (not args.submission_name or "/" in args.submission_name
                                             or args.submission_name in (".", "..")):
        raise UsageError(f"--submission-name: expected a plain file name, got {args.submission_name!r}")
    for helper in args.with_files:
        if not Path(helper).is_file():
            raise UsageError(f"--with {helper}: no such file")
    names = [Path(h).name for h in args.with_files]
    if len(set(names)) != len(names) or (args.submission_name and args.submission_name in names):
        raise UsageError("--with: the helper files need distinct names, other than --submission-name")
    try:
        tests = test_names(args.convention, args.model, args.adapter)
    except CheckUsageError as err:
        raise UsageError(str(err)) from err
    try:
        check_destination(args.output)
    except ReportWriteError as err:
        raise UsageError(f"-o {err}") from err
    if str(args.output) == "-":
        raise UsageError("-o: expected a .zip path (a zip is not written to standard output)")
    options = gradescope_options(args, tests)
    data = build_zip(args, tests, options)
    try:
        safe_write(args.output, data)
    except ReportWriteError as err:
        raise UsageError(f"-o {err}") from err
    print(f"bptt autograder: wrote {args.output} ({len(data) // 1024} KB): {len(tests)} tests, "
          f"{sum(options['points'].get(t, 1) for t in tests):g} points; upload it as the assignment's autograder")
    return EXIT_OK


def toolkit_root() -> Path:
    """The folder holding this toolkit's packages (a source checkout or site-packages)."""
    import reports
    return Path(reports.__file__).resolve().parent.parent


def build_zip(args, tests: list[str], options: dict) -> bytes:
    """The autograder zip's bytes (see the module docstring)."""
    root = toolkit_root()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for package in SHIPPED_PACKAGES:
            for path in sorted((root / package).rglob("*")):
                if path.is_file() and not SKIP_PARTS & set(path.parts) and path.suffix not in (".pyc", ".pyo"):
                    zf.write(path, f"bptt-src/{path.relative_to(root).as_posix()}")
        _add(zf, "bptt-src/pyproject.toml", _pyproject(root))
        readme = root / "README.md"
        _add(zf, "bptt-src/README.md", readme.read_text() if readme.is_file() else "# bptt\n")
        adapter_name = None
        if args.adapter:
            adapter_name = "adapter_" + Path(args.adapter).name
            _add(zf, adapter_name, Path(args.adapter).read_text())
        for helper in args.with_files:
            zf.write(helper, f"helpers/{Path(helper).name}")
        _add(zf, "setup.sh", SETUP_SH, executable=True)
        _add(zf, "run_autograder", run_script(args, options, adapter_name), executable=True)
        _add(zf, "bptt-autograder.json", json.dumps({
            "convention": args.convention, "model": args.model, "tests": tests, "points": options["points"],
            "visibility": options["visibility"], "default_visibility": options["default_visibility"],
            "strict_inputs": args.strict_inputs, "timeout": args.timeout, "memory_mb": args.memory,
            "budget": args.budget, "load": args.load,
            "submission_name": args.submission_name, "helpers": [Path(h).name for h in args.with_files],
            "toolkit_version": _version()}, indent=2) + "\n")
    return buffer.getvalue()


def _add(zf: zipfile.ZipFile, name: str, text: str, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = ((0o755 if executable else 0o644) | 0o100000) << 16  # a regular file and its mode
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, text)


def _version() -> str:
    from reports.version import bptt_version as version
    return version()


def _pyproject(root: Path) -> str:
    """The toolkit's own pyproject.toml; from an installed copy (no pyproject at hand), a minimal one."""
    own = root / "pyproject.toml"
    if own.is_file():
        return own.read_text()
    from importlib.metadata import requires
    deps = [r for r in (requires("bptt") or []) if "extra ==" not in r]
    return ('[build-system]\nrequires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"\n\n'
            f'[project]\nname = "bptt"\nversion = "{_version()}"\nreadme = "README.md"\n'
            f'requires-python = ">=3.10"\ndependencies = {json.dumps(deps)}\n\n'
            '[project.scripts]\nbptt = "reports.cli:main"\n\n'
            '[tool.setuptools.packages.find]\ninclude = ["derive*", "numeric*", "reports*"]\n\n'
            '[tool.setuptools.package-data]\nderive = ["cells/*.cell", "cells/examples/*.cell"]\n'
            'numeric = ["checking/examples/*.py", "checking/heldout/*.txt"]\n')


SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (written by bptt autograder).
set -euo pipefail
cd "$(dirname "$0")"
if ! python3 -m pip --version >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq python3 python3-pip
fi
# optional OS isolation for the sandbox (namespaces); grading works without it and the report says so
apt-get install -y -qq bubblewrap >/dev/null 2>&1 || true
# the toolkit from this zip; only its dependencies (NumPy, SymPy, rich, ...) come from PyPI
python3 -m pip install -q ./bptt-src || python3 -m pip install -q --break-system-packages ./bptt-src
bptt --version
"""


def run_script(args, options: dict, adapter_name: str | None) -> str:
    """The run_autograder shell script with this build's options baked in (shell-quoted)."""
    flags = ["--convention", args.convention, "--timeout", f"{args.timeout:g}", "--memory", str(args.memory)]
    if args.model:
        flags += ["--model", args.model]
    if args.budget is not None:
        flags += ["--budget", f"{args.budget:g}"]
    if args.load:
        flags += ["--load", args.load]
    for name, value in options["points"].items():
        flags += ["--points", f"{name}={value:g}"]
    flags += ["--visibility", options["default_visibility"]]
    for name, value in options["visibility"].items():
        flags += ["--visibility", f"{name}={value}"]
    if args.strict_inputs:
        flags.append("--strict-inputs")
    adapter = f' --adapter "$ROOT/source/{adapter_name}"' if adapter_name else ""
    name = shlex.quote(args.submission_name or "")
    return f"""#!/usr/bin/env bash
# Gradescope runs this for every submission (written by bptt autograder). It grades the file in
# $ROOT/submission with bptt check and writes $ROOT/results/results.json; the student's code runs only
# inside bptt check's sandbox. BPTT_AUTOGRADER_ROOT replaces /autograder, BPTT_COMMAND the bptt command.
set -u
ROOT="${{BPTT_AUTOGRADER_ROOT:-/autograder}}"
BPTT="${{BPTT_COMMAND:-bptt}}"
NAME={name}
SUBMISSION="$ROOT/submission"
RESULTS="$ROOT/results/results.json"
mkdir -p "$ROOT/results"
FILE=""
if [ -n "$NAME" ]; then
    [ -f "$SUBMISSION/$NAME" ] && FILE="$SUBMISSION/$NAME"
else
    FOUND=$(find "$SUBMISSION" -maxdepth 1 -type f \\( -name '*.py' -o -name '*.ipynb' \\) 2>/dev/null | sort)
    if [ "$(printf '%s\\n' "$FOUND" | grep -c .)" = "1" ]; then FILE="$FOUND"; fi
fi
if [ -z "$FILE" ]; then
    # no (single) file to grade: an empty one gets the same tests, each failed as "does not define"
    echo "bptt autograder: no submission file found (expected ${{NAME:-one .py or .ipynb file}}); grading an empty file"
    FILE="$(mktemp -d)/${{NAME:-submission.py}}"
    : > "$FILE"
fi
# helper files: the instructor's (shipped in helpers/), then the student's other .py files (not those names)
WITH=()
MAIN="$(basename "$FILE")"
for f in "$ROOT/source/helpers/"*; do
    [ -f "$f" ] && [ "$(basename "$f")" != "$MAIN" ] && WITH+=(--with "$f")
done
for f in "$SUBMISSION/"*.py; do
    b="$(basename "$f")"
    [ -f "$f" ] && [ "$f" != "$FILE" ] && [ ! -e "$ROOT/source/helpers/$b" ] && WITH+=(--with "$f")
done
cd "$ROOT/source" 2>/dev/null || cd /
$BPTT check "$FILE" {' '.join(shlex.quote(f) for f in flags)}{adapter} ${{WITH[@]+"${{WITH[@]}}"}} --gradescope "$RESULTS"
CODE=$?
echo "bptt check exit code: $CODE"
exit 0
"""
