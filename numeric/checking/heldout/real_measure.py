"""Issue 8's bars on real-style submissions: ``python -m numeric.checking.heldout.real_measure [--json]``.

The fixtures in ``real/`` are submissions written the way students hand them in (cs231n 2017–2024,
min-char-rnn and its Python 3 ports, deeplearning.ai's "Step by Step", the course's scripts, Jupyter
notebooks), each correct, written apart from the checker and verified against central differences of an
independent forward written for the purpose (for the cs231n files also in tests/test_check_heldout_real.py). ``CORRECT`` says how each is run (convention, model, ``--load``, ``--with``). ``MUTANTS``
plants one mistake in a correct fixture by a one-place text edit and names the mistake the top diagnosis
should give (``None``: a small mistake, relative error 1e-5..1e-2, that only has to fail).

Printed: correct files passed / total (false failures with the reason), mutants failed / total, top
diagnosis right / total, wall time per file. ``--json`` prints the numbers as JSON instead;
``--only NAME`` (repeatable) runs the named cases only; ``--speed`` times the command line instead (one
cs231n file with RNN and LSTM parts; ``--batch`` of 20 on 2 processes).

Measured (no fixture or mutant was changed after any run; batch 2 was written after run 1, batch 3 after
run 2, each measured blind on its first run):

| run | main | correct pass | mutants fail | top diagnosis right |
|---|---|---|---|---|
| 1 (batch 1 only) | e4d185b, before the grading policy | 16/21 | 56/57 | 49/51 |
| 2, 3 (first runs of batches 2, 3) | e4d185b | batch 2: 3/5; batch 3: 1/1 | 17/17; 7/7 | 13/15; 7/7 |
| final (three runs, three secret seeds, identical) | b0f940a | 25/27 | 81/81 (small 8/8) | 68/73 = 93.2 % |

Final wall time 27 s for 108 checks in one process (median 0.18 s, max 0.73 s per file); ``--speed``:
``bptt check`` of a cs231n file with RNN and LSTM parts 0.5–0.6 s, ``--batch`` of 20 on 2 processes 3.1 s.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from numeric.checking import check

REAL = Path(__file__).parent / "real"


@dataclass(frozen=True)
class Run:
    """How a fixture is checked: ``bptt check FILE --convention C [--model M] [--load L] [--with F]...
    [--adapter A]``; ``batch`` 1 was written before any run, batch 2 after the first run, batch 3 after the
    second (each blind to its own results)."""

    convention: str
    model: str | None = None
    load: str | None = None
    with_files: tuple[str, ...] = ()
    habits: str = ""          # what the file does that real students do (for the printed table)
    adapter: str | None = None
    batch: int = 1


@dataclass(frozen=True)
class Mutant:
    """One planted mistake: ``old`` (found exactly once in ``base``) replaced by ``new``."""

    name: str
    base: str
    old: str
    new: str
    expect: str | None        # the MISTAKES id the top diagnosis must name; None: small, must only fail
    model: str | None = None  # overrides the base's --model (to check only the mutated part)
    batch: int = 1


RNN_UTILS = ("rnn_utils.py",)

CORRECT = {  # fixture (in real/, without .txt) -> how it is run
    "cs231n_2017_builtins.py": Run("cs231n", habits="2017 template: from builtins import range, 2-space "
                                   "indent, loops, dnext_c += … in place, word embedding/temporal affine/softmax loss"),
    "cs231n_2019_matmul.py": Run("cs231n", habits="@, np.split, np.stack, tuple caches, temporal affine"),
    "cs231n_namedtuple_hints.py": Run("cs231n", habits="top-level collections.namedtuple caches, type hints"),
    "cs231n_dictcache_inplace.py": Run("cs231n", habits="np.random.seed(231) at import, dict caches, "
                                       "dh[:, t-1] += … on the caller's dh, dnext_c += …, __main__ gradient check"),
    "cs231n_float32.py": Run("cs231n", habits="computes and returns float32"),
    "cs231n_scipy_enum.py": Run("cs231n", habits="scipy.special.expit, enum.Enum('Gate', …), typing.TypeVar, einsum"),
    "cs231n_dataclass_rnn.py": Run("cs231n", "rnn", habits="dataclass cache, np.float64 casts, sequence "
                                   "backward without the step function, RNN part only"),
    "cs231n_with_helpers.py": Run("cs231n", "lstm", with_files=("lstm_helpers.py",),
                                  habits="from lstm_helpers import … shipped with --with, LSTM part only"),
    "cs231n_colab_rnn.ipynb": Run("cs231n", "rnn", habits="Colab notebook: %load_ext, %autoreload, !pip, "
                                  "get_ipython(), %%time cell, matplotlib, markdown cells, test cells"),
    "cs231n_2024_typed.py": Run("cs231n", habits="builtin-generic type hints, sequence backward vectorised "
                                "with einsum over N and T, sequence cache unlike the step cache"),
    "minchar_karpathy_py3.py": Run("min-char-rnn", habits="Karpathy's file made Python 3 (print/range only): "
                                   "reads input.txt at import, np.clip(dparam, -5, 5, out=dparam), while True loop"),
    "minchar_argv.py": Run("min-char-rnn", habits="sys.argv[1] file name at import, np.random.seed(0), @, "
                           "clipping, __main__ training loop"),
    "minchar_port_noclip.py": Run("min-char-rnn", habits="Python 3 port without clipping, matplotlib, "
                                  "training loop and plot at the bottom"),
    "minchar_class_port.py": Run("min-char-rnn", habits="class-based port: CharRNN.lossFun(self, …) with "
                                 "self.Wxh …, clipping"),
    "dlai_stepbystep.py": Run("deeplearning-ai", with_files=RNN_UTILS, habits="from rnn_utils import * "
                              "(--with), test prints at top level with np.random.seed(1), keepdims, (caches, x)"),
    "dlai_stacked_nokeepdims.py": Run("deeplearning-ai", with_files=RNN_UTILS, habits="import rnn_utils as "
                                      "ru, stacked gate matrix, dict caches, bias gradients without keepdims"),
    "dlai_rnn_only_loops.py": Run("deeplearning-ai", "rnn", with_files=RNN_UTILS, habits="RNN part only, "
                                  "from rnn_utils import softmax, tanh' as 1/cosh², loop over examples, einsum"),
    "dlai_notebook_rnn.ipynb": Run("deeplearning-ai", "rnn", with_files=RNN_UTILS + ("public_tests.py",),
                                   habits="the course notebook: markdown cells, # GRADED FUNCTION cells, "
                                   "from public_tests import * (--with), unit-test cells, %time, !python, get_ipython()"),
    "course_rnn_script.py": Run("course", "rnn", load="defs", habits="WildML-style double sum with "
                                "bptt_truncate, training loop and matplotlib plot at top level"),
    "course_rnn_notebook.ipynb": Run("course", "rnn", load="defs", habits="notebook: %matplotlib, !wget, "
                                     "file read, get_ipython().system, training cell, plot cell"),
    "course_lstm_dataclass.py": Run("course", "lstm", habits="dataclass tape, Dict type hints, np.float64 "
                                    "casts, dU_f keys, __main__ demo"),

    # ---- batch 2: written after the first run (on main at e4d185b), before running them
    "adapter_rnn_layer.py": Run("adapter", adapter="adapter_for_rnn_layer.py", batch=2,
                                habits="class RNNLayer with forward/backward storing state, PyTorch-like "
                                "W_ih/W_hh/b_ih/b_hh, batch first; the instructor's adapter names the outputs"),
    "course_gru.py": Run("course", "gru", batch=2, habits="GRU in the course's notation, gates kept in lists"),
    "course_rnn_crlf_bom.py": Run("course", "rnn", load="defs", batch=2,
                                  habits="saved on Windows: UTF-8 BOM, CRLF, tab indentation, umlauts, "
                                  "np.loadtxt and a plot at top level"),
    "minchar_loss_array.py": Run("min-char-rnn", batch=2, habits="xrange shim, loss as a (1,) array "
                                 "(ps[t][targets[t]]), print inside lossFun, no clipping"),
    "cs231n_inplace_dnext_h.py": Run("cs231n", "rnn", batch=2,
                                     habits="dnext_h *= 1 - next_h**2 on the caller's array (correct results)"),

    # ---- batch 3: written after the second run, before running them
    "course_lstm_peephole.py": Run("course", "lstm-peephole", batch=3,
                                   habits="peephole LSTM of the lecture notes, peepholes reshaped to vectors"),
}

_RNN_SUM = "        dWx += dWx_t\n        dWh += dWh_t\n        db += db_t\n    dh0 = dprev_h"
MUTANTS = [
    # ---- cs231n, RNN
    Mutant("c-rnn-dh-next", "cs231n_2019_matmul.py", "rnn_step_backward(dh[:, t] + dprev_h, cache[t])",
           "rnn_step_backward(dh[:, t], cache[t])", "dh-next-not-added", "rnn"),
    Mutant("c-rnn-not-summed", "cs231n_2019_matmul.py", _RNN_SUM,
           _RNN_SUM.replace("+=", "="), "weight-grads-not-summed", "rnn"),
    Mutant("c-rnn-tanh-of-h", "cs231n_2019_matmul.py", "dz = dnext_h * (1.0 - next_h ** 2)",
           "dz = dnext_h * (1.0 - np.tanh(next_h) ** 2)", "tanh-derivative-of-wrong-quantity", "rnn"),
    Mutant("c-rnn-dWh-transposed", "cs231n_namedtuple_hints.py", "dWh = np.matmul(cache.prev_h.T, dtanh)",
           "dWh = np.matmul(dtanh.T, cache.prev_h)", "transposed-weight-gradient", "rnn"),
    Mutant("c-rnn-Wh-not-transposed", "cs231n_2019_matmul.py", "dprev_h = dz @ Wh.T", "dprev_h = dz @ Wh",
           "recurrent-weight-not-transposed", "rnn"),
    Mutant("c-rnn-db-mean", "cs231n_dataclass_rnn.py", "db += dz.sum(axis=0)", "db += dz.mean(axis=0)",
           "mean-instead-of-sum"),
    Mutant("c-rnn-h-prev-off-by-one", "cs231n_dataclass_rnn.py", "h_t, h_prev = hs[:, t + 1], hs[:, t]",
           "h_t, h_prev = hs[:, t + 1], hs[:, t + 1]", "off-by-one-h-prev"),
    Mutant("c-rnn-clip-return", "cs231n_scipy_enum.py",
           "return np.stack(dxs, axis=1), dprev_h, dWx, dWh, db",
           "return np.stack(dxs, axis=1), dprev_h, np.clip(dWx, -5, 5), np.clip(dWh, -5, 5), np.clip(db, -5, 5)",
           "clipping-in-backward", "rnn"),
    Mutant("c-rnn-truncate-every-3", "cs231n_2017_builtins.py",
           "  for t in reversed(range(T)):\n    dx_t, dprev_h",
           "  for t in reversed(range(T)):\n    if (T - 1 - t) % 3 == 0:\n      dprev_h = np.zeros((N, H))  "
           "# truncated BPTT, k = 3\n    dx_t, dprev_h", "truncated-bptt", "rnn"),
    Mutant("c-rnn-truncate-every-8", "cs231n_2017_builtins.py",
           "  for t in reversed(range(T)):\n    dx_t, dprev_h",
           "  for t in reversed(range(T)):\n    if (T - 1 - t) % 8 == 0:\n      dprev_h = np.zeros((N, H))  "
           "# truncated BPTT, k = 8\n    dx_t, dprev_h", "truncated-bptt", "rnn"),
    # ---- cs231n, LSTM
    Mutant("c-lstm-gate-order-backward", "cs231n_2019_matmul.py", "da = np.concatenate((di, df, do, dg), axis=1)",
           "da = np.concatenate((di, df, dg, do), axis=1)", "gate-order", "lstm"),
    Mutant("c-lstm-dc-not-carried", "cs231n_namedtuple_hints.py",
           "lstm_step_backward(dh[:, t, :] + dh_next, dc_next, cache[t])",
           "lstm_step_backward(dh[:, t, :] + dh_next, np.zeros((N, H)), cache[t])", "dc-not-carried", "lstm"),
    Mutant("c-lstm-no-forget-factor", "cs231n_namedtuple_hints.py", "dprev_c = dnext_c * c.f",
           "dprev_c = dnext_c", "dc-missing-forget-factor", "lstm"),
    Mutant("c-lstm-no-h-to-c", "cs231n_2019_matmul.py", "dc = dnext_c + dnext_h * o * (1 - tanh_c ** 2)",
           "dc = dnext_c", "dh-to-dc-path-missing", "lstm"),
    Mutant("c-lstm-sigmoid-1-minus-sq", "cs231n_scipy_enum.py", "Gate.o: dnext_h * th * o * (1 - o)",
           "Gate.o: dnext_h * th * (1 - o ** 2)", "sigmoid-derivative-of-wrong-quantity", "lstm"),
    Mutant("c-lstm-tanh-of-c", "cs231n_scipy_enum.py", "dc = dnext_c + dnext_h * o * (1 - th ** 2)",
           "dc = dnext_c + dnext_h * o * (1 - next_c ** 2)", "tanh-derivative-of-wrong-quantity", "lstm"),
    Mutant("c-lstm-not-summed", "cs231n_with_helpers.py", "dWx += a\n        dWh += bb\n        db += c",
           "dWx = a\n        dWh = bb\n        db = c", "weight-grads-not-summed"),
    Mutant("c-lstm-clip-dh-next", "cs231n_2019_matmul.py",
           "        db += db_t\n    return dx, dprev_h, dWx, dWh, db",
           "        db += db_t\n        dprev_h = np.clip(dprev_h, -5, 5)\n    return dx, dprev_h, dWx, dWh, db",
           "clipping-in-backward", "lstm"),
    Mutant("c-lstm-db-mean", "cs231n_dictcache_inplace.py", "db = da.sum(axis=0)", "db = da.mean(axis=0)",
           "mean-instead-of-sum", "lstm"),
    Mutant("c-lstm-next-c-for-prev-c", "cs231n_namedtuple_hints.py", "d_f = dnext_c * c.prev_c * c.f * (1 - c.f)",
           "d_f = dnext_c * c.next_c * c.f * (1 - c.f)", "off-by-one-h-prev", "lstm"),
    Mutant("c-lstm-last-4-steps", "cs231n_with_helpers.py", "for t in reversed(range(T)):",
           "for t in reversed(range(max(0, T - 4), T)):", "truncated-bptt"),
    Mutant("c-lstm-aliased-dnext-c", "cs231n_2017_builtins.py", "  dg = dnext_c * i\n  dprev_c = dnext_c * f",
           "  dprev_c = dnext_c\n  dprev_c *= f\n  dg = dnext_c * i", "mutates-upstream-gradient", "lstm"),
    # ---- min-char-rnn
    Mutant("m-dh-next", "minchar_port_noclip.py", "dh = np.dot(Why.T, dy) + dhnext", "dh = np.dot(Why.T, dy)",
           "dh-next-not-added"),
    Mutant("m-tanh-1-minus-h", "minchar_port_noclip.py", "dhraw = (1 - hs[t] * hs[t]) * dh",
           "dhraw = (1 - hs[t]) * dh", "tanh-derivative-of-wrong-quantity"),
    Mutant("m-dWhh-not-summed", "minchar_port_noclip.py", "dWhh += np.dot(dhraw, hs[t - 1].T)",
           "dWhh = np.dot(dhraw, hs[t - 1].T)", "weight-grads-not-summed"),
    Mutant("m-h-prev-off-by-one", "minchar_port_noclip.py", "dWhh += np.dot(dhraw, hs[t - 1].T)",
           "dWhh += np.dot(dhraw, hs[t].T)", "off-by-one-h-prev"),
    Mutant("m-dWhh-transposed", "minchar_port_noclip.py", "dWhh += np.dot(dhraw, hs[t - 1].T)",
           "dWhh += np.dot(hs[t - 1], dhraw.T)", "transposed-weight-gradient"),
    Mutant("m-Whh-not-transposed", "minchar_port_noclip.py", "dhnext = np.dot(Whh.T, dhraw)",
           "dhnext = np.dot(Whh, dhraw)", "recurrent-weight-not-transposed"),
    Mutant("m-mean-over-T", "minchar_argv.py", "return loss, dWxh, dWhh, dWhy, dbh, dby, hs[T - 1]",
           "return loss / T, dWxh / T, dWhh / T, dWhy / T, dbh / T, dby / T, hs[T - 1]", "mean-instead-of-sum"),
    Mutant("m-last-10-steps", "minchar_port_noclip.py", "for t in reversed(range(len(inputs))):",
           "for t in reversed(range(max(0, len(inputs) - 10), len(inputs))):", "truncated-bptt"),
    # ---- deeplearning.ai
    Mutant("d-da-prev-not-added", "dlai_stepbystep.py", "rnn_cell_backward(da[:, :, t] + da_prevt, caches[t])",
           "rnn_cell_backward(da[:, :, t], caches[t])", "dh-next-not-added", "rnn"),
    Mutant("d-tanh-of-a-next", "dlai_stepbystep.py", "dtanh = (1 - a_next ** 2) * da_next",
           "dtanh = (1 - np.tanh(a_next) ** 2) * da_next", "tanh-derivative-of-wrong-quantity", "rnn"),
    Mutant("d-not-summed", "dlai_stepbystep.py", "dWax += dWaxt\n        dWaa += dWaat",
           "dWax = dWaxt\n        dWaa = dWaat", "weight-grads-not-summed", "rnn"),
    Mutant("d-no-forget-factor", "dlai_stepbystep.py", "dc_prev = dc * ft", "dc_prev = dc",
           "dc-missing-forget-factor", "lstm"),
    Mutant("d-dc-not-carried", "dlai_stepbystep.py", '        dc_prevt = gradients["dc_prev"]\n', "",
           "dc-not-carried", "lstm"),
    Mutant("d-gate-names-swapped", "dlai_stepbystep.py", '"dWi": dWi,\n                 "dbi": dbi, "dWc": dWc, '
           '"dbc": dbc', '"dWi": dWc,\n                 "dbi": dbc, "dWc": dWi, "dbc": dbi', "gate-order", "lstm"),
    Mutant("d-sigmoid-left-out", "dlai_stepbystep.py", "dot = da_next * np.tanh(c_next) * ot * (1 - ot)",
           "dot = da_next * np.tanh(c_next) * (1 - ot)", "sigmoid-derivative-of-wrong-quantity", "lstm"),
    Mutant("d-clip-da-prev", "dlai_stepbystep.py", "        dx[:, :, t] = dxt\n        dWax += dWaxt",
           "        da_prevt = np.clip(da_prevt, -5, 5)\n        dx[:, :, t] = dxt\n        dWax += dWaxt",
           "clipping-in-backward", "rnn"),
    Mutant("d-dba-mean", "dlai_stepbystep.py", "dba = np.sum(dtanh, axis=1, keepdims=True)",
           "dba = np.mean(dtanh, axis=1, keepdims=True)", "mean-instead-of-sum", "rnn"),
    Mutant("d-a-next-for-a-prev", "dlai_stepbystep.py", "dWaa = np.dot(dtanh, a_prev.T)",
           "dWaa = np.dot(dtanh, a_next.T)", "off-by-one-h-prev", "rnn"),
    Mutant("d-dWax-transposed", "dlai_stacked_nokeepdims.py", '"dWax": dz @ cache["xt"].T',
           '"dWax": cache["xt"] @ dz.T', "transposed-weight-gradient", "rnn"),
    Mutant("d-Waa-not-transposed", "dlai_stacked_nokeepdims.py", '"da_prev": p["Waa"].T @ dz',
           '"da_prev": p["Waa"] @ dz', "recurrent-weight-not-transposed", "rnn"),
    Mutant("d-c-prev-in-place", "dlai_stepbystep.py", "c_next = ft * c_prev + it * cct",
           "c_next = c_prev\n    c_next *= ft\n    c_next += it * cct", "mutates-input", "lstm"),
    # ---- the course's convention
    Mutant("k-truncate-4", "course_rnn_script.py", "bptt_truncate = 1000   # larger than any sequence: full BPTT",
           "bptt_truncate = 4", "truncated-bptt"),
    Mutant("k-dW-not-summed", "course_rnn_script.py", "dLdW += np.outer(delta_o[t], s[t])",
           "dLdW = np.outer(delta_o[t], s[t])", "weight-grads-not-summed"),
    Mutant("k-h-prev-off-by-one", "course_rnn_notebook.ipynb", "h_prev = hs[t - 1] if t > 0 else h0",
           "h_prev = hs[t]", "off-by-one-h-prev"),
    Mutant("k-mean-over-T", "course_rnn_notebook.ipynb", "return dU, dV, dW\"", "return dU / T, dV / T, dW / T\"",
           "mean-instead-of-sum"),
    Mutant("k-clip", "course_rnn_notebook.ipynb", "return dU, dV, dW\"",
           "return [np.clip(g, -5, 5) for g in (dU, dV, dW)]\"", "clipping-in-backward"),
    Mutant("k-lstm-dh-next", "course_lstm_dataclass.py", 'dh = params["W"].T @ dz + dh_next',
           'dh = params["W"].T @ dz', "dh-next-not-added"),
    Mutant("k-lstm-no-forget-factor", "course_lstm_dataclass.py", 'dc_next = dc * act["f"]', "dc_next = dc",
           "dc-missing-forget-factor"),
    Mutant("k-lstm-sigmoid-left-out", "course_lstm_dataclass.py", '"f": dc * c_prev * act["f"] * (1 - act["f"])',
           '"f": dc * c_prev', "sigmoid-derivative-of-wrong-quantity"),
    # ---- batch 2 (written after the first run, before running them)
    Mutant("a-clip-dh-next", "adapter_rnn_layer.py", "dh_next = da @ self.W_hh",
           "dh_next = np.clip(da @ self.W_hh, -5, 5)", "clipping-in-backward", batch=2),
    Mutant("a-dh-next", "adapter_rnn_layer.py", "da = (dout[:, t] + dh_next) * (1 - out[:, t] ** 2)",
           "da = dout[:, t] * (1 - out[:, t] ** 2)", "dh-next-not-added", batch=2),
    Mutant("a-not-summed", "adapter_rnn_layer.py", "dW_hh += da.T @ h_prev", "dW_hh = da.T @ h_prev",
           "weight-grads-not-summed", batch=2),
    Mutant("a-h-prev-off-by-one", "adapter_rnn_layer.py", "h_prev = out[:, t - 1] if t > 0 else h0",
           "h_prev = out[:, t]", "off-by-one-h-prev", batch=2),
    Mutant("g-dh-next", "course_gru.py", "dh = W.T @ dz + dh_next", "dh = W.T @ dz", "dh-next-not-added", batch=2),
    Mutant("g-not-summed", "course_gru.py", 'grads["V_u"] += np.outer(da_u, h_prev)',
           'grads["V_u"] = np.outer(da_u, h_prev)', "weight-grads-not-summed", batch=2),
    Mutant("g-sign", "course_gru.py", "dz = ps[t].copy()\n        dz[o[t]] -= 1",
           "dz = -ps[t].copy()\n        dz[o[t]] += 1", "sign-flipped", batch=2),
    Mutant("g-sigmoid-u", "course_gru.py", "da_u = du * u * (1 - u)", "da_u = du * (1 - u)",
           "sigmoid-derivative-of-wrong-quantity", batch=2),
    Mutant("g-tanh-1-minus-g", "course_gru.py", "da_g = dg * (1 - g ** 2)", "da_g = dg * (1 - g)",
           "tanh-derivative-of-wrong-quantity", batch=2),
    Mutant("g-mean-over-T", "course_gru.py", "        dh_next = dh_prev\n    return grads",
           "        dh_next = dh_prev\n    return {k: v / T for k, v in grads.items()}", "mean-instead-of-sum", batch=2),
    Mutant("g-Vu-not-transposed", "course_gru.py", "dh_prev += V_u.T @ da_u", "dh_prev += V_u @ da_u",
           "recurrent-weight-not-transposed", batch=2),
    Mutant("m-sign", "minchar_port_noclip.py", "dy = np.copy(ps[t])\n        dy[targets[t]] -= 1",
           "dy = -np.copy(ps[t])\n        dy[targets[t]] += 1", "sign-flipped", batch=2),
    Mutant("d-sign", "dlai_stepbystep.py", "dtanh = (1 - a_next ** 2) * da_next",
           "dtanh = (a_next ** 2 - 1) * da_next", "sign-flipped", "rnn", batch=2),
    Mutant("c-sign", "cs231n_2019_matmul.py", "dz = dnext_h * (1.0 - next_h ** 2)",
           "dz = dnext_h * (next_h ** 2 - 1.0)", "sign-flipped", "rnn", batch=2),
    Mutant("c-lstm-clip-dc", "cs231n_2024_typed.py", "dc = dnext_c + dnext_h * o * (1 - tanh_c ** 2)",
           "dc = np.clip(dnext_c + dnext_h * o * (1 - tanh_c ** 2), -5, 5)", "clipping-in-backward", "lstm",
           batch=2),
    Mutant("s-adapter-dx-float16", "adapter_rnn_layer.py", "        return dx, dh_next",
           "        return dx.astype(np.float16).astype(np.float64), dh_next", None, batch=2),
    Mutant("s-gru-leaky", "course_gru.py", "        dh_next = dh_prev\n    return grads",
           "        dh_next = 0.999 * dh_prev\n    return grads", None, batch=2),
    # ---- batch 3 (written after the second run, before running them)
    Mutant("p-dh-next", "course_lstm_peephole.py", 'dh = p["W"].T @ dz + dh_next', 'dh = p["W"].T @ dz',
           "dh-next-not-added", batch=3),
    Mutant("p-no-forget-factor", "course_lstm_peephole.py", "dc_next = dc * f + da_f * pf + da_i * pi",
           "dc_next = dc + da_f * pf + da_i * pi", "dc-missing-forget-factor", batch=3),
    Mutant("p-no-h-to-c", "course_lstm_peephole.py", "dc = dc_next + dh * q * (1 - tc ** 2) + da_q * pq",
           "dc = dc_next + da_q * pq", "dh-to-dc-path-missing", batch=3),
    Mutant("p-dU-not-summed", "course_lstm_peephole.py", 'grads["dU_" + G] += np.outer(da, x[t])',
           'grads["dU_" + G] = np.outer(da, x[t])', "weight-grads-not-summed", batch=3),
    Mutant("d-lstm-last-3-steps", "dlai_stacked_nokeepdims.py",
           "    for t in reversed(range(T_x)):\n        g = lstm_cell_backward(",
           "    for t in reversed(range(max(0, T_x - 3), T_x)):\n        g = lstm_cell_backward(",
           "truncated-bptt", "lstm", batch=3),
    Mutant("d-lstm-db-mean", "dlai_stacked_nokeepdims.py", "db = dz.sum(axis=1)", "db = dz.mean(axis=1)",
           "mean-instead-of-sum", "lstm", batch=3),
    Mutant("d-lstm-c-next-for-c-prev", "dlai_stepbystep.py", "dft = dc * c_prev * ft * (1 - ft)",
           "dft = dc * c_next * ft * (1 - ft)", "off-by-one-h-prev", "lstm", batch=3),
    # ---- small mistakes: each must fail. Worst norm-wise relative error of a wrong output, measured against
    # central differences on probe-like inputs (weights ×1 and ×2, upstream ×1 and ×8): dWh float16 1.0e-4,
    # L2 term left in dWh 7.4e-5, LSTM dWx float16 9.3e-5, tanh' of a float16 h 7.0e-4, leaky dhnext 6.0e-4,
    # L2 term in dWaa 1.8e-4, adapter dx float16 1.3e-4, leaky GRU dh_next 1.2e-3.
    Mutant("s-rnn-dWh-float16", "cs231n_2019_matmul.py", "    dh0 = dprev_h\n    return dx, dh0, dWx, dWh, db",
           "    dh0 = dprev_h\n    dWh = dWh.astype(np.float16).astype(np.float64)\n    return dx, dh0, dWx, dWh, db",
           None, "rnn"),
    Mutant("s-rnn-l2-left-in", "cs231n_namedtuple_hints.py", "grads[4]\n    return dx, dh_next, dWx, dWh, db",
           "grads[4]\n    return dx, dh_next, dWx, dWh + 1e-3 * cache[0].Wh, db", None, "rnn"),
    Mutant("s-lstm-dWx-float16", "cs231n_2019_matmul.py",
           "    return dx, dprev_h, dWx, dWh, db\n\n\ndef temporal_affine_forward",
           "    return dx, dprev_h, dWx.astype(np.float16).astype(np.float64), dWh, db\n\n\n"
           "def temporal_affine_forward", None, "lstm"),
    Mutant("s-rnn-tanh-float16", "cs231n_dataclass_rnn.py", "dz = (dh[:, t] + carry) * (1.0 - h_t ** 2)",
           "dz = (dh[:, t] + carry) * (1.0 - np.float16(h_t) ** 2)", None),
    Mutant("s-minchar-leaky-dhnext", "minchar_port_noclip.py", "dhnext = np.dot(Whh.T, dhraw)",
           "dhnext = 0.999 * np.dot(Whh.T, dhraw)", None),
    Mutant("s-dlai-l2-left-in", "dlai_stepbystep.py",
           'gradients = {"dx": dx, "da0": da0, "dWax": dWax, "dWaa": dWaa, "dba": dba}',
           'gradients = {"dx": dx, "da0": da0, "dWax": dWax, "dWaa": dWaa + 1e-3 * parameters["Waa"], "dba": dba}',
           None, "rnn"),
]


def fixture_text(name: str) -> str:
    """The fixture byte for byte (line endings and a BOM are part of what students hand in)."""
    return (REAL / f"{name}.txt").read_bytes().decode("utf-8")


def mutant_source(m: Mutant) -> str:
    """The base fixture with the one edit; raises ValueError unless ``old`` occurs exactly once."""
    source = fixture_text(m.base)
    if source.count(m.old) != 1:
        raise ValueError(f"mutant {m.name}: the edit must match exactly once in {m.base}, "
                         f"found {source.count(m.old)} times")
    return source.replace(m.old, m.new)


def cases(only: set[str] | None = None):
    """Yield (name, kind, file name, source, Run, expected mistake) for every case, correct ones first."""
    for name, run in CORRECT.items():
        if not only or name in only:
            yield name, "correct", name, fixture_text(name), run, None
    for m in MUTANTS:
        if not only or m.name in only:
            base = CORRECT[m.base]
            run = Run(base.convention, m.model or base.model, base.load, base.with_files, adapter=base.adapter,
                      batch=m.batch)
            yield m.name, ("small" if m.expect is None else "mutant"), m.base, mutant_source(m), run, m.expect


def check_one(file_name: str, source: str, run: Run) -> tuple[object | None, str | None, float]:
    """Write the case into a fresh folder (with its helper files) and check it: (report, crash, seconds)."""
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bptt-real-") as tmp:
        path = Path(tmp) / file_name
        path.write_bytes(source.encode("utf-8"))
        helpers = []
        for helper in run.with_files:
            (Path(tmp) / helper).write_bytes(fixture_text(helper).encode("utf-8"))
            helpers.append(Path(tmp) / helper)
        adapter = None
        if run.adapter:
            adapter = Path(tmp) / run.adapter
            adapter.write_bytes(fixture_text(run.adapter).encode("utf-8"))
        try:
            report = check(path, run.convention, run.model, adapter=adapter, load=run.load,
                           with_files=tuple(helpers), numerical=False)
        except Exception as err:  # a usage error or a checker crash is a result here, not a stop
            return None, f"{type(err).__name__}: {err}", time.monotonic() - start
    return report, None, time.monotonic() - start


def _top(report) -> str | None:
    """The report's top diagnosis: the most confident first diagnosis among the failed tests."""
    firsts = [t.diagnosis[0] for t in report.tests if not t.passed and t.diagnosis]
    return max(firsts, key=lambda d: d.confidence).mistake if firsts else None


def _reason(report) -> str:
    if report.load_error:
        return f"load: {report.load_error.splitlines()[0][:200]}"
    for t in report.tests:
        if not t.passed:
            return f"{t.name}: {(t.errors or ['failed'])[0].splitlines()[0][:200]}"
    return "no tests ran"


def measure(only: set[str] | None = None) -> dict:
    """Check every case; returns the numbers and one row per case."""
    rows = []
    start = time.monotonic()
    for name, kind, file_name, source, run, expect in cases(only):
        report, crash, seconds = check_one(file_name, source, run)
        passed = bool(report and report.passed)
        row = {"name": name, "kind": kind, "batch": run.batch, "convention": run.convention, "model": run.model,
               "seconds": round(seconds, 2), "passed": passed, "expect": expect}
        if report is not None:
            row["seed"] = report.seed   # the probes' secret seed of that run (check(..., seed=) replays it)
        if crash:
            row["reason"] = f"checker raised {crash[:300]}"
        elif not passed:
            row["reason"] = _reason(report)
        if report is not None and kind != "correct":
            row["top"] = _top(report)
            row["failed_tests"] = [t.name for t in report.tests if not t.passed]
        rows.append(row)
    correct = [r for r in rows if r["kind"] == "correct"]
    planted = [r for r in rows if r["kind"] != "correct"]
    named = [r for r in planted if r["expect"]]
    return {
        "correct": {"passed": sum(r["passed"] for r in correct), "total": len(correct),
                    "false_failures": [{"name": r["name"], "reason": r["reason"]} for r in correct if not r["passed"]]},
        "mutants": {"failed": sum(not r["passed"] for r in planted), "total": len(planted),
                    "survivors": [r["name"] for r in planted if r["passed"]],
                    "small_failed": sum(not r["passed"] for r in planted if r["kind"] == "small"),
                    "small_total": sum(r["kind"] == "small" for r in planted)},
        "diagnosis": {"right": sum(r.get("top") == r["expect"] for r in named), "total": len(named),
                      "misses": [{"name": r["name"], "expected": r["expect"], "top": r.get("top")}
                                 for r in named if r.get("top") != r["expect"]]},
        "per_batch": {b: {"correct_passed": sum(r["passed"] for r in correct if r["batch"] == b),
                          "correct_total": sum(r["batch"] == b for r in correct),
                          "mutants_failed": sum(not r["passed"] for r in planted if r["batch"] == b),
                          "mutants_total": sum(r["batch"] == b for r in planted),
                          "diagnosis_right": sum(r.get("top") == r["expect"] for r in named if r["batch"] == b),
                          "diagnosis_total": sum(r["batch"] == b for r in named)}
                      for b in sorted({r["batch"] for r in rows})},
        "wall_seconds": round(time.monotonic() - start, 1),
        "rows": rows,
    }


def speed() -> dict:
    """The speed bars through the command line (process start included): one cs231n file with RNN and
    LSTM parts, and ``--batch`` of 20 cs231n files (correct ones and mutants of them) on 2 processes."""
    import subprocess

    def bptt(*args) -> tuple[float, int]:
        start = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "reports.cli", "check", *args], capture_output=True)
        return round(time.monotonic() - start, 2), proc.returncode

    full = [n for n, run in CORRECT.items() if run.convention == "cs231n" and run.model is None]
    mutants = [m for m in MUTANTS if m.base in full][:20 - len(full)]
    out = {}
    with tempfile.TemporaryDirectory(prefix="bptt-speed-") as tmp:
        for name in full:
            (Path(tmp) / name).write_bytes(fixture_text(name).encode("utf-8"))
        for m in mutants:
            (Path(tmp) / f"{m.name.replace('-', '_')}.py").write_bytes(mutant_source(m).encode("utf-8"))
        out["single_file_seconds"] = [bptt(str(Path(tmp) / full[0]), "--convention", "cs231n")[0]
                                      for _ in range(3)]
        out["single_file"] = full[0]
        seconds, code = bptt("--batch", tmp, "--convention", "cs231n", "--jobs", "2",
                             "--json", tmp.rstrip("/") + "-summary.json")  # beside the graded folder
        Path(tmp.rstrip("/") + "-summary.json").unlink(missing_ok=True)
        out["batch_files"] = len(full) + len(mutants)
        out["batch_seconds"], out["batch_exit"] = seconds, code
    return out


def _print(result: dict) -> None:
    for r in result["rows"]:
        if r["kind"] == "correct":
            verdict = "pass" if r["passed"] else f"FALSE FAILURE — {r['reason']}"
        else:
            verdict = "MUTANT PASSED" if r["passed"] else f"fails; top diagnosis {r.get('top')}"
            if r["expect"]:
                verdict += "  (right)" if r.get("top") == r["expect"] else f"  (expected {r['expect']})"
        print(f"{r['seconds']:6.2f} s  b{r['batch']} {r['kind']:7s} {r['name']:30s} {verdict}")
    c, m, d = result["correct"], result["mutants"], result["diagnosis"]
    print(f"\ncorrect files passed: {c['passed']}/{c['total']}")
    for f in c["false_failures"]:
        print(f"  false failure {f['name']}: {f['reason']}")
    print(f"mutants failed: {m['failed']}/{m['total']} (small mistakes: {m['small_failed']}/{m['small_total']})")
    if m["survivors"]:
        print(f"  passed although wrong: {', '.join(m['survivors'])}")
    print(f"top diagnosis right: {d['right']}/{d['total']} ({100 * d['right'] / max(d['total'], 1):.1f} %)")
    for miss in d["misses"]:
        print(f"  {miss['name']}: expected {miss['expected']}, top {miss['top']}")
    for b, n in result["per_batch"].items():
        print(f"  batch {b}: correct {n['correct_passed']}/{n['correct_total']}, mutants failed "
              f"{n['mutants_failed']}/{n['mutants_total']}, diagnosis {n['diagnosis_right']}/{n['diagnosis_total']}")
    seconds = [r["seconds"] for r in result["rows"]]
    if seconds:
        print(f"wall time: {result['wall_seconds']} s for {len(seconds)} files (per file: median "
              f"{sorted(seconds)[len(seconds) // 2]:.2f} s, max {max(seconds):.2f} s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m numeric.checking.heldout.real_measure",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    parser.add_argument("--only", action="append", metavar="NAME", help="run only this case (repeatable)")
    parser.add_argument("--speed", action="store_true",
                        help="time `bptt check` on one cs231n file and `--batch` of 20 (process start included)")
    args = parser.parse_args(argv)
    if args.speed:
        timing = speed()
        print(json.dumps(timing, indent=1) if args.json else
              f"single cs231n file (RNN and LSTM), bptt check: {timing['single_file_seconds']} s\n"
              f"bptt check --batch of {timing['batch_files']} cs231n files, 2 processes: "
              f"{timing['batch_seconds']} s (exit {timing['batch_exit']})")
        return 0
    only = set(args.only) if args.only else None
    known = set(CORRECT) | {m.name for m in MUTANTS}
    if only and only - known:
        print(f"--only: unknown case(s) {', '.join(sorted(only - known))}", file=sys.stderr)
        return 2
    result = measure(only)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        _print(result)
    bars_met = not result["correct"]["false_failures"] and not result["mutants"]["survivors"]
    return 0 if bars_met else 1


if __name__ == "__main__":
    sys.exit(main())
