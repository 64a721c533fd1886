"""One command-line vocabulary (issue 12): the same flag for the same thing, names as people type them,
one-line errors with exit 2 for every bad value of every flag, Ctrl-C → 130, output fit for files."""

import argparse
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reports import cli
from reports.commands import _args
from reports.names import resolve, resolve_cell

ROOT = Path(__file__).resolve().parents[1]


def run(capsys, *argv):
    try:
        code = cli.main(list(argv))
    except SystemExit as exit_:  # argparse exits on its own for --help, --version and bad flags
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def subcommands() -> dict[str, argparse.ArgumentParser]:
    (sub,) = [a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


EXAMPLES = ROOT / "numeric/checking/examples"

# A valid, quick invocation of each command, to which one bad flag value is added (the last value of a
# flag wins, so a bad --T replaces the base's). <tmp> is a fresh folder of the test.
BASE = {"demo": [], "list": [], "verify": ["rnn"], "derive": ["rnn", "--T", "1"],
        "codegen": ["rnn", "-o", "<tmp>/m.py"], "report": ["rnn", "-o", "<tmp>/r.html"],
        "flow": ["rnn", "--T", "5", "--H", "4", "--D", "2", "--K", "2"],
        "train": ["rnn", "--updates", "2", "--H", "4", "--batch", "2", "--seq-len", "4", "--sample", "0"],
        "check": [str(EXAMPLES / "cs231n_correct.py"), "--convention", "cs231n", "--no-numerical"],
        "autograder": ["--convention", "course", "-o", "<tmp>/x.zip"]}

# Bad values by the type that checks a flag: every one must be refused by argparse itself.
BAD_BY_TYPE = {
    _args.positive_int: ["0", "-1", "1.5", "x", ""],
    _args.non_negative_int: ["-1", "x", "2.0", ""],
    _args.seed: ["-1", "x", str(2 ** 32), "1e3", ""],
    _args.positive_float: ["0", "-1", "nan", "inf", "x", ""],
    _args.finite_float: ["nan", "inf", "-inf", "x", ""],
    _args.dim_size: ["E", "E=0", "1=3", "E=x", ""],
    _args.model_or_cell: ["lstn", "no/such.cell", "RNNN", ""],
    _args.convention: ["cs231", "nope", ""],
    _args.model_list: ["lstn", "rnn,xyz", ""],
}

# Flags whose value is a path or a name (no argparse type): bad values by what they name. <dir> is an
# existing folder, <file> an existing file, <missing> a path under a folder that does not exist.
IN_FILE = ["", "<missing>", "<dir>"]
OUT_FILE = ["", "<dir>", "<missing>"]
BAD_BY_FLAG = {
    "--adapter": IN_FILE, "--with": IN_FILE, "--data": IN_FILE, "--training": IN_FILE,
    "--output": OUT_FILE, "--gradescope": OUT_FILE, "--json": OUT_FILE + ["x.py", "x.ipynb", "rnn"],
    "--plot": OUT_FILE + ["<tmp>/plot.txt"],
    "--batch": ["", "<missing>", "<file>"], "--out": ["", "<file>"],
    "--points": ["", "x", "rnn_forward=-1", "nosuchtest=1", "rnn_forward=nan"],
    "--visibility": ["", "secret", "nosuchtest=visible"],
    "--allow-import": ["", "no such", "os"],
    "--models": ["", ",", "lstn"], "--wrt": ["", "Q", "U,,V"],
    "--submission-name": ["", "../x.py", "a/b.py"],
    "--scale": ["", "0", "-1", "x", "nan"], "--radius": ["", "0", "-1", "x", "inf"],
    "--width": ["0", "x"],
}
CHOICE_BAD = ["no-such-choice", ""]


def bad_values(command: str, action) -> list[str] | None:
    """The bad values tried for one option; None when the option is not classified (a test fails)."""
    if action.choices is not None:
        return CHOICE_BAD
    if action.type in BAD_BY_TYPE:
        return BAD_BY_TYPE[action.type]
    for flag in action.option_strings:
        if flag in BAD_BY_FLAG:
            return BAD_BY_FLAG[flag]
    if getattr(action.type, "__name__", "") == "_seed":  # check --seed: any integer ≥ 0
        return ["-1", "x", "1.5", ""]
    return None


def valued_options():
    for command, parser in subcommands().items():
        for action in parser._actions:
            if action.option_strings and action.nargs != 0:
                yield command, action


def flag_cases():
    return [(command, action.option_strings[-1], bad) for command, action in valued_options()
            for bad in bad_values(command, action) or []]


FLAG_CASES = flag_cases()


def test_every_valued_flag_checks_its_value():
    """No flag takes a bare int/float (which accepts --seed -1, --timeout nan …), and every valued flag of
    every command has bad values in the tables above: a new flag must be classified here."""
    loose = [(command, a.option_strings[-1]) for command, a in valued_options() if a.type in (int, float)]
    assert loose == []
    unclassified = [(command, a.option_strings[-1]) for command, a in valued_options()
                    if bad_values(command, a) is None]
    assert unclassified == []
    assert len(FLAG_CASES) > 200


def _fill(text: str, tmp_path: Path) -> str:
    (tmp_path / "dir").mkdir(exist_ok=True)
    (tmp_path / "file").write_text("x\n")
    return (text.replace("<tmp>", str(tmp_path)).replace("<dir>", str(tmp_path / "dir"))
            .replace("<file>", str(tmp_path / "file")).replace("<missing>", str(tmp_path / "no" / "such")))


def _names_the_flag(err: str, flags) -> bool:
    return any(re.search(rf"(?<![\w-]){re.escape(f)}(?![\w-])", err) for f in flags)


@pytest.mark.parametrize("command,flag,bad", FLAG_CASES)
def test_a_bad_flag_value_is_one_line_and_exit_2(capsys, tmp_path, monkeypatch, command, flag, bad):
    monkeypatch.chdir(tmp_path)  # nothing a wrongly accepted value writes lands in the project
    base = [_fill(a, tmp_path) for a in BASE[command]]
    if flag == "--batch":
        base = base[1:]  # a folder instead of the submission
    value = _fill(bad, tmp_path)
    code, out, err = run(capsys, command, *base, f"{flag}={value}")  # "=": a value may start with "-"
    assert code == 2, err
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    flags = [a for c, a in valued_options() if c == command and flag in a.option_strings][0].option_strings
    assert err.startswith(f"bptt {command}: error: ") and _names_the_flag(err, flags), err


MISSING_REQUIRED = [("verify", []), ("derive", []), ("codegen", []), ("train", []), ("report", []),
                    ("check", [str(EXAMPLES / "cs231n_correct.py")]), ("check", ["--convention", "course"]),
                    ("autograder", ["--convention", "course"]), ("autograder", ["-o", "x.zip"]),
                    ("flow", [])]


@pytest.mark.parametrize("command,argv", MISSING_REQUIRED)
def test_a_missing_required_argument_is_one_line_and_exit_2(capsys, tmp_path, monkeypatch, command, argv):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, command, *argv)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith(f"bptt {command}: error: ")


@pytest.mark.parametrize("command", list(BASE))
def test_an_unknown_flag_is_one_line_and_exit_2(capsys, tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, command, *[_fill(a, tmp_path) for a in BASE[command]], "--no-such-flag")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "--no-such-flag" in err, err


@pytest.mark.parametrize("command", [c for c, base in BASE.items() if base[:1] == ["rnn"]])
def test_a_bad_model_name_is_one_line_with_a_suggestion(capsys, command):
    code, out, err = run(capsys, command, "lstn")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "did you mean 'lstm'?" in err


# Bad input only the command itself can judge (after parsing): still one line, exit 2.
RUN_TIME_CASES = [
    (["derive", "rnn", "--wrt", "Q"], "no such parameter"),
    (["derive", "rnn", "--fragment"], "--fragment"),
    (["derive", "rnn", "--wrt", "U,,V"], "empty name"),
    (["codegen", "rnn", "-o", "/no/such/dir/x.py"], "not a writable file path"),
    (["flow", "--models", "rnn,lstn"], "did you mean 'lstm'?"),
    (["flow"], "expected MODEL|CELLFILE"),
    (["codegen", "rnn", "-o", ""], "argument -o/--output: expected a file name, got ''"),
    (["train", "rnn", "--data", "/no/such/file.txt"], "no such file"),
    (["verify", "rnn", "--dim", "E=2"], "no dimension beyond D, H, K"),
    (["verify", "rnn", "--H", "100000"], "--H 100000"),
    (["derive", "rnn", "--T", "100000"], "--T 100000: the derivation would be"),
    (["nosuchcommand"], "invalid choice"),
    (["verify", "rnn", "--no-such-flag"], "unrecognized arguments"),
]


@pytest.mark.parametrize("argv,message", RUN_TIME_CASES)
def test_unusable_input_found_while_running_is_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err and "Traceback" not in err


@pytest.mark.parametrize("typed,canonical", [
    ("rnn", "rnn"), ("RNN", "rnn"), ("Lstm", "lstm"), ("LSTM_PEEPHOLE", "lstm-peephole"),
    ("gru_reset_after", "gru-reset-after"), (" gru ", "gru"), ("Jordan", "jordan"),
])
def test_model_names_ignore_case_and_dash_or_underscore(typed, canonical):
    assert resolve_cell(typed) == canonical


@pytest.mark.parametrize("typed,suggested", [("lstn", "'lstm'"), ("gru-reset", "'gru-reset-after'"),
                                             ("jordon", "'jordan'"), ("lstm-pephole", "'lstm-peephole'")])
def test_near_misses_are_answered_with_did_you_mean(typed, suggested):
    with pytest.raises(ValueError, match=f"did you mean {suggested}"):
        resolve_cell(typed)


def test_a_far_miss_lists_the_names_without_guessing():
    with pytest.raises(ValueError) as err:
        resolve("transformer", ("rnn", "lstm"))
    assert "did you mean" not in str(err.value) and "rnn, lstm" in str(err.value)


def test_a_cell_file_path_passes_through():
    path = str(ROOT / "derive/cells/examples/mgu.cell")
    assert resolve_cell(path) == path


def parse(*argv):
    return cli.build_parser().parse_args(list(argv))


@pytest.mark.parametrize("old,new", [
    (["derive", "rnn", "--steps", "5"], ["derive", "rnn", "--T", "5"]),
    (["verify", "rnn", "--steps", "5"], ["verify", "rnn", "--T", "5"]),
    (["flow", "rnn", "--steps", "5"], ["flow", "rnn", "--T", "5"]),
    (["train", "rnn", "--steps", "5"], ["train", "rnn", "--updates", "5"]),
    (["train", "rnn", "--hidden", "5"], ["train", "rnn", "--H", "5"]),
    (["derive", "rnn", "--wrt", "W", "V", "U"], ["derive", "rnn", "--wrt", "W,V,U"]),
    (["derive", "rnn", "--wrt", "W", "--wrt", "V,U"], ["derive", "rnn", "--wrt", "W,V", "U"]),
    (["derive", "RNN", "--no-bias"], ["derive", "rnn", "--bias", "--no-bias"]),
    (["derive", "rnn"], ["derive", "rnn", "--no-bias", "--bias"]),
    (["check", "f.py", "--convention", "CS231N", "--model", "RNN,Lstm"],
     ["check", "f.py", "--convention", "cs231n", "--model", "rnn,lstm"]),
    (["check", "f.py", "--convention", "min_char_rnn"], ["check", "f.py", "--convention", "min-char-rnn"]),
])
def test_old_and_new_spellings_mean_the_same(old, new):
    assert vars(parse(*old)) == vars(parse(*new))


@pytest.mark.parametrize("command", ["derive", "verify", "codegen", "flow", "train", "report"])
def test_bias_and_no_bias_on_every_command_with_biases(command):
    flags = {s for a in subcommands()[command]._actions for s in a.option_strings}
    assert {"--bias", "--no-bias"} <= flags


def test_the_no_bias_title_shows_the_equations_without_biases(capsys):
    code, out, _ = run(capsys, "derive", "rnn", "--no-bias", "--T", "1")
    head = " ".join(out.split("Step")[0].split())  # the title block, unwrapped
    assert code == 0 and "h_t = tanh(U x_t + V h_{t-1})" in head and "softmax(W h_t)" in head
    code, out, _ = run(capsys, "derive", "rnn", "--T", "1")
    assert "+ b)" in " ".join(out.split())


def test_piped_text_has_no_trailing_padding(capsys):
    code, out, err = run(capsys, "derive", "lstm", "--T", "2")
    assert code == 0 and out.count("\n") > 20
    assert [line for line in out.splitlines() if line != line.rstrip()] == []


def test_codegen_without_output_prints_the_module_and_writes_no_file(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "codegen", "rnn")
    assert code == 0 and list(tmp_path.iterdir()) == []
    assert out.startswith('"""rnn: forward pass and BPTT gradients') and "def loss_and_grads(" in out
    compile(out, "bptt_rnn.py", "exec")
    assert "standard output" in err


def test_list_names_every_model_example_convention_and_mistake(capsys):
    from derive.cellfile import BUILTIN, example_paths
    from numeric.checking.conventions import CONVENTIONS
    from numeric.checking.mistakes import MISTAKES

    code, out, _ = run(capsys, "list")
    names = {line.strip() for line in out.splitlines() if line.startswith("  ") and not line.startswith("    ")}
    assert code == 0
    assert set(BUILTIN) | {str(p) for p in example_paths()} | set(CONVENTIONS) | set(MISTAKES) <= names


def _python(*args, **kw):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=60, **kw)


@pytest.mark.parametrize("entry", [["-m", "reports.cli"], ["-m", "bptt"]])
def test_module_entry_points_give_exit_2_on_usage_errors(entry):
    """``python -m reports.cli`` loads reports.cli twice; the commands' UsageError must still be caught."""
    proc = _python(*entry, "derive", "rnn", "--wrt", "Q")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and "no such parameter" in proc.stderr


def test_python_m_bptt_is_the_bptt_command():
    proc = _python("-m", "bptt", "list", "models")
    assert proc.returncode == 0 and "gru-reset-after" in proc.stdout


def test_ctrl_c_ends_a_command_with_one_line_and_exit_130():
    proc = subprocess.Popen([sys.executable, "-m", "reports.cli", "train", "rnn", "--updates", "1000000", "--json"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130
    assert err.strip() == "bptt train: interrupted"


SLEEPER = "import time\ntime.sleep(120)\n"


@pytest.mark.slow
def test_ctrl_c_stops_check_batch_at_once_and_kills_its_children(tmp_path):
    from reports.interrupt import descendants

    for k in range(2):
        (tmp_path / f"s{k}.py").write_text(SLEEPER)
    proc = subprocess.Popen([sys.executable, "-m", "reports.cli", "check", "--batch", str(tmp_path),
                             "--convention", "course", "--timeout", "60", "--budget", "120", "--jobs", "2"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline, children = time.monotonic() + 30, []
    while len(children) < 3 and time.monotonic() < deadline:  # workers and their sandboxed children
        time.sleep(0.2)
        children = descendants(proc.pid)
    time.sleep(0.5)
    assert len(children) >= 3, "the batch never started its workers"
    start = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert time.monotonic() - start < 5  # at once, not after the 60 s timeouts
    assert proc.returncode == 130 and err.strip().splitlines()[-1] == "bptt check: interrupted"
    assert "Traceback" not in err
    time.sleep(0.3)
    alive = [pid for pid in children if _alive(pid)]
    assert alive == []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


CUT = re.compile(r"\w…|…\s*[│┃]")  # Rich's ellipsis where it shortened a word, a number or a cell


@pytest.mark.parametrize("argv", [
    ["list"], ["derive", "rnn", "--T", "1"], ["derive", "gru", "--T", "2", "--no-bias"], ["verify", "rnn"],
    ["flow", "--models", "rnn,lstm,gru", "--T", "20", "--H", "8"], ["flow", "rnn"],
    ["flow", "--models", "gru-reset-after,lstm", "--scale", "0.5,2", "--T", "40", "--H", "4"],
    ["train", "rnn", "--updates", "3", "--H", "4", "--sample", "20"],
    ["check", str(ROOT / "numeric/checking/examples/cs231n_planted_dh_next.py"), "--convention", "cs231n"],
], ids=lambda a: " ".join(a[:2]))
def test_eighty_columns_cut_no_word_number_or_path(capsys, monkeypatch, argv):
    monkeypatch.setenv("COLUMNS", "80")
    code, out, err = run(capsys, *argv)
    assert code in (0, 1)  # the planted submission fails its check, by design
    lines = (out + err).splitlines()
    assert max(len(line) for line in lines) <= 80
    assert [line for line in lines if CUT.search(line)] == []
    if argv == ["list"]:
        for path in (ROOT / "derive/cells/examples").glob("*.cell"):
            assert f"  {path}" in lines


# ---- properties -------------------------------------------------------------------------------------------

from hypothesis import given, strategies as st  # noqa: E402

from reports.pipe import StripTrailingSpaces  # noqa: E402


@given(st.lists(st.text(alphabet=" ab\n│", max_size=12), max_size=8))
def test_stripping_is_the_same_however_the_text_is_cut_into_writes(chunks):
    import io

    out = io.StringIO()
    stream = StripTrailingSpaces(out)
    for chunk in chunks:
        stream.write(chunk)
    stream.close()
    assert out.getvalue() == "\n".join(line.rstrip(" ") for line in "".join(chunks).split("\n"))


@given(st.sampled_from(["rnn", "jordan", "lstm", "lstm-peephole", "gru", "gru-reset-after"]), st.data())
def test_every_spelling_of_a_built_in_name_resolves(name, data):
    spelled = "".join(data.draw(st.sampled_from([c.lower(), c.upper()])) if c != "-"
                      else data.draw(st.sampled_from(["-", "_"])) for c in name)
    assert resolve_cell(spelled) == name


def test_report_no_bias_leaves_the_biases_out_of_the_page(capsys, tmp_path):
    code, _, _ = run(capsys, "report", "rnn", "--no-bias", "-o", str(tmp_path / "r.html"))
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert code == 0 and "tanh(U x_t + V h_{t-1})," in page and "+ b)" not in page
    assert "&#x27;b&#x27;" not in page and "∂E/∂b" not in page  # present in the page with biases


# ---- --json [FILE]: one meaning in every command -------------------------------------------------------

JSON_COMMANDS = {  # quick runs of every command with a JSON document, and a key the document has
    "verify": (["verify", "rnn", "--T", "2"], "passed"),
    "flow": (["flow", "rnn", "--T", "3", "--H", "3", "--D", "2", "--K", "2"], "runs"),
    "train": (["train", "rnn", "--updates", "2", "--H", "4", "--batch", "2", "--seq-len", "4", "--sample", "0"],
              "history"),
    "derive": (["derive", "rnn", "--T", "1"], "steps"),
    "check": (["check", str(EXAMPLES / "cs231n_correct.py"), "--convention", "cs231n", "--model", "rnn",
               "--no-numerical"], "tests"),
}


@pytest.mark.parametrize("command", list(JSON_COMMANDS))
def test_json_alone_or_dash_is_one_document_on_standard_output(capsys, command):
    import json

    argv, key = JSON_COMMANDS[command]
    spellings = (["--json"], ["--json", "-"], ["--json=-"]) if command == "derive" else (["--json"],)
    for flag in spellings:
        code, out, err = run(capsys, *argv, *flag)
        assert code == 0, err
        assert key in json.loads(out)  # the whole of standard output is the document


@pytest.mark.parametrize("command", list(JSON_COMMANDS))
def test_json_file_writes_the_document_and_keeps_the_usual_output(capsys, tmp_path, command):
    import json

    argv, key = JSON_COMMANDS[command]
    code, out, err = run(capsys, *argv, "--json", str(tmp_path / "doc.json"))
    assert code == 0, err
    assert key in json.loads((tmp_path / "doc.json").read_text(encoding="utf-8"))
    assert out.strip() and not out.lstrip().startswith("{")  # the tables / the report, not the JSON


@pytest.mark.parametrize("argv,message", [
    (["verify", "--json", "rnn"], "'rnn' is a model, not a file"),
    (["flow", "--json", "LSTM"], "'LSTM' is a model, not a file"),
    (["check", "--json", "hw.py", "--convention", "course"], "hw.py is a .py file"),
    (["check", "x.py", "--convention", "course", "--json", "nb.IPYNB"], "nb.IPYNB is a .ipynb file"),
    (["derive", "rnn", "--json", "--format", "latex"], "expected one document on standard output"),
])
def test_json_refuses_what_is_not_a_place_for_the_document(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and message in err, err
    assert list(tmp_path.iterdir()) == []


def test_check_refuses_to_write_a_report_over_the_submission(capsys, tmp_path):
    submission = tmp_path / "submission.txt"  # not .py, so only the "is the submission" rule catches it
    submission.write_text("x = 1\n")
    for flag in ("--json", "--gradescope"):
        code, out, err = run(capsys, "check", str(submission), "--convention", "course", flag, str(submission))
        assert code == 2 and f"{flag} {submission}: that is the submission" in err, err
    assert submission.read_text() == "x = 1\n"


# ---- check --batch: the summary is never written into the graded folder ------------------------------------

def _graded_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "graded"
    folder.mkdir()
    (folder / "alice.py").write_text((EXAMPLES / "cs231n_correct.py").read_text())
    return folder


@pytest.mark.parametrize("where", ["explicit inside", "default from inside"])
def test_batch_refuses_a_summary_inside_the_graded_folder(capsys, tmp_path, monkeypatch, where):
    folder = _graded_folder(tmp_path)
    before = sorted(p.name for p in folder.iterdir())
    if where == "explicit inside":
        argv = ["--json", str(folder / "summary.json")]
    else:
        monkeypatch.chdir(folder)
        argv = []
    code, out, err = run(capsys, "check", "--batch", str(folder), "--convention", "cs231n", *argv)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "inside the graded folder" in err, err
    assert sorted(p.name for p in folder.iterdir()) == before


def test_batch_writes_its_summary_in_the_current_folder(capsys, tmp_path, monkeypatch):
    import json

    folder = _graded_folder(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    code, out, err = run(capsys, "check", "--batch", str(folder), "--convention", "cs231n", "--model", "rnn",
                         "--timeout", "5")
    assert code == 0, err
    assert sorted(p.name for p in folder.iterdir()) == ["alice.py"]
    summary = json.loads((work / "bptt-summary.json").read_text())
    assert summary["total"] == 1 and summary["all_passed"]


# ---- --forget-bias is refused where it would be ignored ----------------------------------------------------

@pytest.mark.parametrize("argv,message", [
    (["flow", "lstm", "--no-bias", "--forget-bias", "2"], "--forget-bias with --no-bias"),
    (["flow", "gru", "--forget-bias=-1", "--no-bias"], "--forget-bias with --no-bias"),
    (["flow", "rnn", "--forget-bias", "2"], "rnn has no gate that carries a state"),
    (["train", "lstm", "--no-bias", "--forget-bias", "2"], "--forget-bias with --no-bias"),
    (["train", "rnn", "--forget-bias", "2"], "rnn has no gate that carries a state"),
])
def test_forget_bias_without_a_forget_gate_bias_is_refused(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and message in err, err


def test_forget_bias_applies_when_one_of_the_cells_has_the_gate(capsys):
    import json

    base = ["flow", "--models", "rnn,lstm", "--T", "4", "--H", "3", "--D", "2", "--K", "2", "--json"]
    code, out, _ = run(capsys, *base, "--forget-bias", "3")
    assert code == 0 and json.loads(out)["settings"]["forget_bias"] == 3.0
    code, out, _ = run(capsys, *base)
    assert code == 0 and json.loads(out)["settings"]["forget_bias"] == 1.0  # the default, as before


# ---- model names as people type them, in every command that takes one ---------------------------------------

@pytest.mark.parametrize("argv,dest,expected", [
    (["verify", "Lstm_Peephole"], "model", "lstm-peephole"),
    (["derive", "GRU"], "cell", "gru"),
    (["codegen", "gru_RESET_after"], "cell", "gru-reset-after"),
    (["flow", "Jordan"], "cell", "jordan"),
    (["flow", "--models", "RNN, lstm_peephole,Gru"], "models", ["rnn", "lstm-peephole", "gru"]),
    (["train", "LSTM"], "cell", "lstm"),
    (["report", "Gru-Reset-After"], "cell", "gru-reset-after"),
    (["check", "f.py", "--convention", "cs231n", "--model", "RNN,LSTM"], "model", "rnn,lstm"),
    (["autograder", "--convention", "cs231n", "--model", "Lstm", "-o", "a.zip"], "model", "lstm"),
])
def test_every_command_taking_a_model_reads_any_spelling(argv, dest, expected):
    assert getattr(parse(*argv), dest) == expected


@pytest.mark.parametrize("argv", [
    ["flow", "--models", "rnn,lstn"], ["check", "f.py", "--convention", "cs231n", "--model", "lstn"],
    ["autograder", "--convention", "cs231n", "--model", "rnn,lstn", "-o", "a.zip"],
])
def test_a_near_miss_in_a_model_list_gets_did_you_mean(capsys, tmp_path, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *argv)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "did you mean 'lstm'?" in err, err


def test_ctrl_c_ends_verify_with_one_line_and_exit_130():
    proc = subprocess.Popen([sys.executable, "-m", "bptt", "verify", "lstm", "--T", "200"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130
    assert err.strip() == "bptt verify: interrupted"


class _LeavingReader:
    """Standard output as a pipe whose reader leaves after ``keep`` characters (as `| head -1` does)."""

    def __init__(self, keep: int):
        import os

        self.keep, self.received = keep, ""
        self.fd = os.open(os.devnull, os.O_WRONLY)  # what Rich and main() point at /dev/null afterwards

    def write(self, text: str) -> int:
        if len(self.received) + len(text) > self.keep:
            raise BrokenPipeError(32, "Broken pipe")
        self.received += text
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False

    def fileno(self):
        return self.fd


@pytest.mark.parametrize("argv", [["verify", "rnn", "--T", "2"], ["list"]], ids=["rich table", "print"])
def test_a_reader_leaving_the_pipe_is_exit_141_without_a_traceback(capsys, monkeypatch, argv):
    import os

    reader = _LeavingReader(keep=10)
    monkeypatch.setattr(sys, "stdout", reader)
    try:
        code = cli.main(argv)
    finally:
        os.close(reader.fd)
    err = capsys.readouterr().err
    assert code == 141 and "Traceback" not in err and err == ""


@pytest.mark.parametrize("command", [None, *BASE])
def test_help_at_eighty_columns_breaks_lines_between_words_only(capsys, monkeypatch, command):
    """argparse's own wrapping breaks at hyphens: ``./bptt-`` / ``summary.json``, ``--no-`` / ``bias``."""
    monkeypatch.setenv("COLUMNS", "80")
    code, out, err = run(capsys, *([command] if command else []), "--help")
    assert code == 0 and out.count("\n") > 3
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert [line for line in lines if re.search(r"\w-$", line)] == []
