"""The adapter convention: an instructor's small Python file maps their assignment's API onto ours.

The adapter runs inside the sandbox next to the submission and receives it as its first argument. Its
declarations are read in the checker's process with ``ast`` (literals only, the file is never run there):

    MODEL = "lstm"       # any built-in model but jordan
    BIAS = True          # whether the parameters include biases (b…, c)
    C0 = "zero"          # sequences start from c0 = 0 (default "random"; LSTMs only)
    TESTS = {            # adapter function → how it is driven and what it returns
        "cell_backward": {"name": "lstm_cell_backward", "drive": "upstream", "cell": True,
                          "outputs": {"xs": "dxt", "h0": "da_prev", "c0": "dc_prev", "U_f": "dWf[:, n_a:]"}},
        "loss_and_grads": {"drive": "loss", "outputs": {"E": "loss", "U": "dWxh"}},
        "forward": {"drive": "forward", "outputs": {"hs": "a"}},
    }

``outputs`` maps reference names (docs/models.md: parameters, "xs", "h0", "c0", the loss "E", the states
"hs", "cs") to the assignment's names, which the reports use; a list of reference names keeps them.
Every declared output is compared and must be returned: the adapter function returns a dict keyed by
reference names, in the reference layout (column vectors, batch last):

    loss:     fn(student, params, xs (T, D, B), targets (T, B), h0 (H, B), c0) -> {"E", gradients…}
              (or the older (E, gradients) pair)
    upstream: fn(student, params, xs, dhs (T, H, B), h0, c0, dc_last (H, B) or None) -> {gradients…}
              L = Σ_t ⟨dhs_t, h_t⟩ (+ ⟨dc_last, c_T⟩); "cell": True → T = 1 and, for LSTMs, a dc_last
    forward:  fn(student, params, xs, h0, c0) -> {"hs": (T, H, B) h_1..h_T, "cs": …}

c0 is None for models without a cell state. Without TESTS the adapter is the older form: a
``loss_and_grads`` returning (E, gradients of every parameter), and ``forward`` returning hs if defined.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from numeric import models as ref_models
from numeric.checking.case import Case, Observation, Output, unpack
from numeric.checking.compare import Axes
from numeric.checking.conventions import CheckUsageError
from numeric.checking.reference import Probe, make_probe

DRIVES = ("loss", "upstream", "forward")
STATES = ("hs", "cs")


@dataclass(frozen=True)
class Test:
    """One declared test: the adapter function, its test name, drive, cell level, outputs (ref → name)."""

    function: str
    name: str
    drive: str
    cell: bool
    outputs: dict


@dataclass(frozen=True)
class Declaration:
    model: str
    bias: bool
    zero_c0: bool
    tests: tuple[Test, ...]


def _literals(path: str) -> tuple[dict, set[str]]:
    """Module-level NAME = literal assignments and the names of the functions defined."""
    try:
        tree = ast.parse(Path(path).read_text(), str(path))
    except (SyntaxError, OSError, UnicodeDecodeError) as err:
        raise CheckUsageError(f"adapter {path}: cannot be parsed: {err}") from err
    values, functions = {}, set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                if node.targets[0].id in ("TESTS", "C0", "BIAS"):
                    raise CheckUsageError(f"adapter {path}: {node.targets[0].id} must be a literal "
                                          "(strings, numbers, lists, dicts), it is read without running the file")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            functions.add(node.name)
    return values, functions


def declaration(path: str) -> Declaration:
    """Read and validate the adapter's declarations (CheckUsageError names what is wrong)."""
    from numeric.checking.api import adapter_model
    model = adapter_model(path)
    values, functions = _literals(path)
    bias = bool(values.get("BIAS", True))
    c0 = values.get("C0", "random")
    if c0 not in ("zero", "random"):
        raise CheckUsageError(f"adapter {path}: C0 must be 'zero' or 'random', got {c0!r}")
    params = list(ref_models.get(model, bias=bias).param_shapes(1, 1, 1))
    has_c = model.startswith("lstm")
    raw = values.get("TESTS")
    if raw is None:  # the older form
        raw = {"loss_and_grads": {"drive": "loss", "outputs": ["E"] + params}}
        if "forward" in functions:
            raw["forward"] = {"drive": "forward", "outputs": ["hs"]}
    if not isinstance(raw, dict) or not raw:
        raise CheckUsageError(f"adapter {path}: TESTS must be a non-empty dict {{function name: {{...}}}}")
    tests, seen = [], set()
    for fn, spec in raw.items():
        where = f"adapter {path}: TESTS[{fn!r}]"
        if not isinstance(spec, dict):
            raise CheckUsageError(f"{where} must be a dict with 'drive' and 'outputs'")
        unknown = set(spec) - {"name", "drive", "cell", "outputs"}
        if unknown:
            raise CheckUsageError(f"{where}: unknown keys {sorted(unknown)}; expected name, drive, cell, outputs")
        if fn not in functions:
            raise CheckUsageError(f"{where}: the adapter defines no function {fn}()")
        drive = spec.get("drive")
        if drive not in DRIVES:
            raise CheckUsageError(f"{where}: drive must be one of {', '.join(DRIVES)}, got {drive!r}")
        cell = bool(spec.get("cell", False))
        if cell and drive == "loss":
            raise CheckUsageError(f"{where}: a cell-level test is driven by an upstream gradient or is a forward")
        allowed = _allowed(drive, params, has_c)
        outputs = spec.get("outputs")
        if isinstance(outputs, (list, tuple)):
            outputs = {k: k for k in outputs}
        if not isinstance(outputs, dict) or not outputs:
            raise CheckUsageError(f"{where}: outputs must be a non-empty dict {{reference name: your name}} or list")
        for key, label in outputs.items():
            if key not in allowed:
                raise CheckUsageError(f"{where}: output {key!r} is not an output of a {model} test driven by "
                                      f"{drive!r}; expected one of {', '.join(allowed)}")
            if not isinstance(label, str) or not label:
                raise CheckUsageError(f"{where}: the name of output {key!r} must be a non-empty string")
        if len(set(outputs.values())) != len(outputs):
            raise CheckUsageError(f"{where}: two outputs have the same name")
        name = str(spec.get("name", fn))
        if name in seen:
            raise CheckUsageError(f"{where}: a second test named {name!r}")
        seen.add(name)
        tests.append(Test(fn, name, drive, cell, dict(outputs)))
    return Declaration(model, bias, c0 == "zero" and has_c, tuple(tests))


def _allowed(drive: str, params: list[str], has_c: bool) -> list[str]:
    states = ["xs", "h0"] + (["c0"] if has_c else [])
    if drive == "forward":
        return ["hs"] + (["cs"] if has_c else [])
    if drive == "upstream":  # L = Σ ⟨dhs, hs⟩ does not read the output layer W, c
        return [p for p in params if p not in ("W", "c")] + states
    return ["E"] + params + states


def _probes(decl: Declaration, test: Test) -> list[Probe]:
    model, bias = decl.model, decl.bias
    if test.drive == "loss":
        return [make_probe(model, bias, 41, T=5, D=3, H=4, K=3, B=2, zero_c0=decl.zero_c0),
                make_probe(model, bias, 42, T=7, D=4, H=5, K=6, B=3, zero_c0=decl.zero_c0),
                make_probe(model, bias, 43, T=20, D=3, H=8, K=3, B=1, scale=1.5, out_scale=10.0,
                           targets_const=True, zero_c0=decl.zero_c0, replicate_batch=True)]
    T = (lambda t: 1 if test.cell else t)
    kw = dict(upstream=True, dc_last=test.cell and model.startswith("lstm"),
              zero_c0=decl.zero_c0 and not test.cell)
    return [make_probe(model, bias, 44, T=T(5), D=3, H=4, K=3, B=2, **kw),
            make_probe(model, bias, 45, T=T(7), D=4, H=5, K=6, B=3, **kw),
            make_probe(model, bias, 46, T=T(12), D=3, H=5, K=3, B=4, scale=2.0, upstream_scale=8.0, **kw)]


def _output(key: str, label: str, cell: bool) -> Output:
    time = Axes(time=0) if key in ("xs",) + STATES and not cell else Axes()
    if key == "E":
        return Output(label, "forward", "E = Σ_t Σ_b −log ô_t[o_t], a scalar")
    if key in STATES:
        return Output(label, "forward", f"{key[0]}_1..{key[0]}_T, (T, H, B)", time)
    return Output(label, "gradient", f"∂L/∂{key}", time, (key,))


def cases(adapter: str) -> list[Case]:
    decl = declaration(adapter)
    return [_case(decl, test) for test in decl.tests]


def _case(decl: Declaration, test: Test) -> Case:
    has_c = decl.model.startswith("lstm")
    labels = test.outputs  # reference name → the assignment's name
    outputs = [_output(k, v, test.cell) for k, v in labels.items()]
    outputs.sort(key=lambda o: o.kind != "forward")
    where = f"adapter.{test.function}"

    def call(sandbox, probe: Probe) -> Observation:
        c0 = probe.c0.copy() if has_c else None
        base = ["<student>", dict(probe.params), probe.xs.copy()]
        if test.drive == "loss":
            args = base + [probe.targets.copy(), probe.h0.copy(), c0]
        elif test.drive == "upstream":
            args = base + [probe.dhs.copy(), probe.h0.copy(), c0,
                           probe.dc_last.copy() if probe.dc_last is not None else None]
        else:
            args = base + [probe.h0.copy(), c0]
        outcome = sandbox.call(test.function, args, target="adapter")
        obs = unpack(outcome, ["returned"], where, [])
        if obs.errors:
            return obs
        returned = obs.values.pop("returned")
        if test.drive == "loss" and isinstance(returned, (tuple, list)) and len(returned) == 2 \
                and isinstance(returned[1], dict):  # the older (E, gradients) form
            returned = dict(returned[1], E=returned[0])
        if not isinstance(returned, dict):
            return Observation(errors=[f"{where}: returned {type(returned).__name__}; expected a dict keyed by "
                                       f"reference names ({', '.join(labels)})"], fatal=True)
        missing = [k for k in labels if k not in returned]
        if missing:
            return Observation(errors=[f"{where}: the returned dict has no {', '.join(map(repr, missing))} "
                                       "(declared in TESTS)"], fatal=True)
        obs.values.update({labels[k]: returned[k] for k in labels})
        return obs

    def convert(ref: dict, probe: Probe) -> dict:
        out = {}
        for key, label in labels.items():
            if key == "E" and "E" in ref:
                out[label] = np.asarray(ref["E"], dtype=np.float64).reshape(())
            elif key in ref:
                out[label] = np.asarray(ref[key])
        return out

    return Case(test.name, decl.model, outputs, _probes(decl, test), call, convert,
                upstream=test.drive == "upstream")
