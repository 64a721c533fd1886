"""Runs the manifest's cases through the real CLI (`python3 -m bptt check ... --json -`) and scores them.

    python3 tests/heldout_round3/run_cases.py [--seed N] [--jobs 2]      (from the repository root)

prints one line per case and the three numbers: correct files passing, mutants failing, top diagnosis right.
"""
import argparse
import concurrent.futures
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SEED = 20261201


_MUTANT_ROOT = []  # the temporary folder the mutants were written to, once per process


def path_of(case):
    """Where a case's file is: a correct file here; a mutant in a temporary folder, derived from its
    correct file by make_mutants.py on first use (the mutants are not committed)."""
    if not case["file"].startswith("mutants/"):
        return os.path.join(HERE, case["file"])
    if not _MUTANT_ROOT:
        import atexit
        import importlib.util
        import shutil
        import tempfile
        root = tempfile.mkdtemp(prefix="bptt-round3-")
        atexit.register(shutil.rmtree, root, True)
        spec = importlib.util.spec_from_file_location("heldout_round3_make_mutants",
                                                      os.path.join(HERE, "make_mutants.py"))
        make_mutants = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(make_mutants)
        make_mutants.main(root)
        _MUTANT_ROOT.append(root)
    return os.path.join(_MUTANT_ROOT[0], case["file"])


def load_manifest():
    with open(os.path.join(HERE, "manifest.json")) as fh:
        return json.load(fh)["cases"]


def command(case, seed):
    opts = list(case["options"])
    for k, opt in enumerate(opts[:-1]):
        if opt in ("--with", "--adapter"):
            opts[k + 1] = os.path.join(HERE, opts[k + 1])  # helpers live next to the correct files
    return [sys.executable, "-m", "bptt", "check", path_of(case),
            "--convention", case["convention"], "--model", case["model"], *opts,
            "--seed", str(seed), "--no-numerical", "--json", "-"]


def run_case(case, seed=SEED):
    """The CLI's exit code and JSON report for one case."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run(command(case, seed), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    report = json.loads(proc.stdout) if proc.stdout.strip() else None
    return proc.returncode, report


def outcome(case, code, report):
    """(verdict right, diagnosis right or None when not asked, what the checker said)."""
    if report is None:
        return False, None, f"exit {code}, no JSON report"
    passed = report["passed"]
    verdict_ok = passed == (case["expect"] == "pass") and code == (0 if passed else 1)
    failed = [t for t in report["tests"] if not t["passed"]]
    said = "passed" if passed else "failed " + ", ".join(
        f"{t['name']}[{t['diagnosis'][0]['mistake'] if t['diagnosis'] else 'no diagnosis'}]" for t in failed)
    worst = max((c["error"] for t in failed for c in t["checks"] if not c["passed"] and c["error"] is not None), default=None)
    if worst is not None:
        said += f" (worst rel. error {worst:.1e})"
    warnings = [w for t in report["tests"] for w in t["warnings"]]
    if passed and warnings:
        said += f" ({len(warnings)} warning(s): {warnings[0][:80]})"
    if case.get("note"):  # a pass that must carry this note (e.g. min-char's clips-gradients-at 5)
        verdict_ok = verdict_ok and any(case["note"] in w for w in warnings + report.get("notes", []))
    if case["expect"] == "pass" or case["mistake"] == "any":
        return verdict_ok, None, said
    target = [t for t in report["tests"] if t["name"] == case["function"]]
    top = target[0]["diagnosis"][0]["mistake"] if target and target[0]["diagnosis"] and not target[0]["passed"] else None
    return verdict_ok, top == case["mistake"], said


def run_all(cases, seed=SEED, jobs=2):
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        return list(pool.map(lambda c: run_case(c, seed), cases))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    cases = [c for c in load_manifest() if any(s in c["file"] for s in args.only.split(","))]
    results = run_all(cases, args.seed, args.jobs)
    score = {"pass": [0, 0], "fail": [0, 0], "diag": [0, 0]}
    for case, (code, report) in zip(cases, results):
        v, d, said = outcome(case, code, report)
        score[case["expect"]][0] += v
        score[case["expect"]][1] += 1
        if d is not None:
            score["diag"][0] += d
            score["diag"][1] += 1
        flag = "ok " if v and d is not False else "MISS"
        print(f"{flag} {case['file']:40s} expect {case['expect']} {case['mistake'] or ''} -> {said}")
    print("correct files passing %d/%d; mutants failing %d/%d; top diagnosis right %d/%d"
          % (*score["pass"], *score["fail"], *score["diag"]))


if __name__ == "__main__":
    main()
