"""``bptt check``: run a student's RNN/LSTM code safely against the reference and say what is wrong.

    bptt check FILE --convention NAME [--model M] [--adapter FILE] [--json [OUT]] [--gradescope OUT]
               [--timeout S] [--budget S] [--memory MB] [--allow-import PKG ...] [--no-numerical]
               [--require-isolation] [--with FILE ...] [--load defs|module]
               [--strict-inputs] [--seed N] [--points FUNC=N ...] [--visibility [FUNC=]V ...]
    bptt check --batch DIR --convention NAME [--json [SUMMARY]] [--jobs 2]

Exit codes: 0 every test passed, 1 something failed (including a submission that does not load),
2 the checker's own usage errors (missing file, unknown convention or model, a report that cannot be
written where asked). OUT may be ``-`` (standard output; the terminal report then goes to stderr), as
may ``--json`` without a file. The batch summary goes to ``--json SUMMARY``, default
./bptt-summary.json in the current folder: never into DIR, the graded folder (refused, exit 2).
"""

from __future__ import annotations

import sys

from reports.commands._args import (add_json, convention, existing_file, existing_folder, file_name, model_list,
                                   positive_float, positive_int)
from reports.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("check", help="check a student's RNN/LSTM forward/backward implementation",
                              description="Run a submission in a sandbox, compare it with the verified "
                                          "reference, localise and diagnose mistakes (docs/checking.md).")
    p.add_argument("file", nargs="?", help="the submission (.py)")
    p.add_argument("--convention", required=True, type=convention, help="course, cs231n, min-char-rnn or adapter")
    p.add_argument("--model", default=None, type=model_list, help="model(s) to check, comma-separated (default: the "
                                                  "convention's; cs231n: rnn,lstm)")
    p.add_argument("--adapter", default=None, type=existing_file,
                   help="the instructor's adapter file (--convention adapter)")
    add_json(p, "the report (with --batch: the summary, default ./bptt-summary.json)",
             "the terminal report then goes to standard error", dest="json_out")
    p.add_argument("--gradescope", default=None, type=file_name, metavar="OUT",
                   help="write Gradescope's results.json to OUT (- for standard output)")
    p.add_argument("--timeout", type=positive_float, default=10.0, help="seconds per call (default 10)")
    p.add_argument("--budget", type=positive_float, default=60.0, metavar="SECONDS",
                   help="total seconds for all of a submission's calls (default 60)")
    p.add_argument("--require-isolation", action="store_true",
                   help="refuse (exit 2) unless every OS isolation layer is available: separate user (as root), "
                        "namespaces (bubblewrap), seccomp")
    p.add_argument("--with", dest="with_files", action="append", default=[], metavar="FILE", type=existing_file,
                   help="a helper file shipped next to the submission (repeatable)")
    p.add_argument("--load", choices=("defs", "module"), default=None,
                   help="module: run the file; defs: only its definitions, statement by statement "
                        "(default: the convention's; min-char-rnn: defs)")
    p.add_argument("--memory", type=positive_int, default=1024, help="memory limit of the submission in MB (default 1024)")
    p.add_argument("--allow-import", action="append", default=[], metavar="PKG",
                   help="let the submission import PKG (torch, jax, autograd, tensorflow, numeric, …)")
    p.add_argument("--no-numerical", action="store_true", help="skip the numerical-gradient column")
    p.add_argument("--batch", default=None, metavar="DIR", type=existing_folder,
                   help="grade every .py file in DIR (the summary goes to --json, never into DIR)")
    p.add_argument("--jobs", type=positive_int, default=2, help="parallel processes for --batch (default 2)")
    p.add_argument("--strict-inputs", action="store_true",
                   help="fail a function that changes an input in place (default: a warning)")
    p.add_argument("--seed", type=_seed, default=None, metavar="N",
                   help="the probes' seed (default: a new secret one per run, recorded in the JSON report)")
    p.add_argument("--points", action="append", default=[], metavar="FUNC=N",
                   help="Gradescope points of one test (default 1 each; repeatable)")
    p.add_argument("--visibility", action="append", default=[], metavar="[FUNC=]V",
                   help="Gradescope visibility: visible, hidden, after_due_date or after_published; "
                        "FUNC=V for one test, V alone for the default (repeatable)")
    p.add_argument("--width", type=positive_int, default=None, help=argparse_suppress())
    p.set_defaults(run=run)


def _seed(text: str) -> int:
    import argparse
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def gradescope_options(args, tests: list[str]) -> dict:
    """--points and --visibility checked against the convention's tests → ``writers.gradescope`` options.

    Raises:
        UsageError: a malformed entry, an unknown test name, a negative number, an unknown visibility.
    """
    from numeric.checking.writers import VISIBILITIES
    points, visibility, default = {}, {}, "visible"
    for entry in args.points:
        name, sep, value = entry.rpartition("=")
        try:
            number = float(value)
        except ValueError:
            number = -1.0
        if not sep or not name or not number >= 0 or number == float("inf"):
            raise UsageError(f"--points {entry!r}: expected FUNC=N with N a number ≥ 0 (e.g. rnn_backward=3)")
        points[_known(name, tests, "--points")] = number
    for entry in args.visibility:
        name, sep, value = entry.rpartition("=")
        if value not in VISIBILITIES:
            raise UsageError(f"--visibility {entry!r}: expected one of {', '.join(VISIBILITIES)}"
                             " (alone for the default, or FUNC=V)")
        if sep:
            visibility[_known(name, tests, "--visibility")] = value
        else:
            default = value
    return {"tests": tests, "points": points, "visibility": visibility, "default_visibility": default}


def _known(name: str, tests: list[str], flag: str) -> str:
    if name not in tests:
        raise UsageError(f"{flag}: no test named {name!r} in this convention; expected one of: {', '.join(tests)}")
    return name


#: where ``check --batch DIR`` writes its summary without --json: the current folder, never DIR
SUMMARY = "bptt-summary.json"


def _refuse_destination(flag: str, path: str | None, submission: str | None, graded: str | None) -> None:
    """Refuse (UsageError naming ``flag``) a report path that would overwrite the submission, lies inside
    the graded folder of --batch, or cannot be written (a folder, a link, a missing folder)."""
    from pathlib import Path

    from numeric.checking.writers import ReportWriteError, check_destination

    if path is None or path == "-":
        return
    where = Path(path).resolve()
    if submission and where == Path(submission).resolve():
        raise UsageError(f"{flag} {path}: that is the submission; expected a new file for the report")
    if graded and where.is_relative_to(Path(graded).resolve()):
        raise UsageError(f"{flag} {path}: inside the graded folder {graded}; the summary is written outside "
                         "it (expected --json FILE elsewhere, or --json - for standard output)")
    try:
        check_destination(path)
    except ReportWriteError as err:
        raise UsageError(f"{flag} {err}") from None


def argparse_suppress():
    import argparse
    return argparse.SUPPRESS


def run(args) -> int:
    from rich.console import Console

    from numeric.checking import CheckUsageError, check
    from numeric.checking.api import test_names
    from numeric.checking.writers import ReportWriteError, write_gradescope, write_json
    from reports.check_report import CheckReportView, batch_table

    outputs = [p for p in (args.json_out, args.gradescope) if p]
    if outputs.count("-") > 1:
        raise UsageError("only one of --json and --gradescope can be - (standard output)")
    # a report on standard output keeps it clean: the terminal report goes to stderr then
    console = Console(width=args.width, stderr="-" in outputs) if args.width else Console(stderr="-" in outputs)
    if args.timeout <= 0:
        raise UsageError(f"--timeout: expected a positive number of seconds, got {args.timeout:g}")
    if args.budget <= 0:
        raise UsageError(f"--budget: expected a positive number of seconds, got {args.budget:g}")
    if args.memory < 64:
        raise UsageError(f"--memory: expected at least 64 (MB; NumPy alone needs about 30), got {args.memory}")
    if args.batch and args.file:
        raise UsageError("give either FILE or --batch DIR, not both")
    summary_path = (args.json_out or SUMMARY) if args.batch else None
    for flag, path in (("--json", summary_path or args.json_out), ("--gradescope", args.gradescope)):
        _refuse_destination(flag, path, args.file, args.batch)  # before grading, not after
    if args.batch:
        from numeric.checking.batch import check_batch
        try:
            summary = check_batch(args.batch, args.convention, args.model, adapter=args.adapter,
                                  allow_imports=tuple(args.allow_import), timeout=args.timeout,
                                  memory_mb=args.memory, jobs=args.jobs, summary_path=summary_path,
                                  budget=args.budget, require_isolation=args.require_isolation)
        except (CheckUsageError, ReportWriteError) as err:
            raise UsageError(str(err)) from err
        console.print(batch_table(summary))
        return EXIT_OK if summary["all_passed"] else EXIT_FAILED
    if not args.file:
        raise UsageError("FILE is required (or --batch DIR)")
    try:
        tests = test_names(args.convention, args.model, args.adapter)
    except CheckUsageError as err:
        raise UsageError(str(err)) from err
    options = gradescope_options(args, tests)  # the fixed list of Gradescope tests, whatever happens below
    try:
        report = check(args.file, args.convention, args.model, adapter=args.adapter,
                       allow_imports=tuple(args.allow_import), timeout=args.timeout, memory_mb=args.memory,
                       numerical=not args.no_numerical, budget=args.budget,
                       require_isolation=args.require_isolation, load=args.load,
                       with_files=tuple(args.with_files),
                       seed=args.seed, strict_inputs=args.strict_inputs)
    except CheckUsageError as err:
        raise UsageError(str(err)) from err
    except Exception as err:  # noqa: BLE001 - a checker bug: still write the reports, then say so
        from numeric.checking.results import CheckReport
        report = CheckReport(args.file, args.convention, args.model or "",
                             load_error=f"internal checker error: {type(err).__name__}: {err}")
    # reports are written here, by the checker, after the submission's process is gone
    failed_write = False
    for path, writer, extra in ((args.json_out, write_json, {}), (args.gradescope, write_gradescope, options)):
        if path:
            try:
                writer(report, path, **extra)
            except ReportWriteError as err:
                print(f"bptt check: error: cannot write the report: {err}", file=sys.stderr)
                failed_write = True
    console.print(CheckReportView(report))
    return EXIT_USAGE if failed_write else report.exit_code
