"""Writes mutants/ (into OUT, default a temporary folder; derived, not committed) and manifest.json from the
table below (run from anywhere; idempotent). run_cases.py writes the mutants itself when it needs them.

Every mutant is ONE planted mistake in one of the correct files: a list of (old, new) text replacements,
each of which must occur exactly once in the base file (or in one notebook cell).
expect: the verdict (pass/fail); mistake: the id the top diagnosis of `function` must name, or "any"
(no listed mistake reproduces it: then only the verdict is asserted; `why` says why).
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))

CORRECT = [
    # file, convention, model, extra options, style
    ("cs231n_loops.py", "cs231n", "rnn,lstm", [], "assignment template: step reuse, tuple caches, np.random.seed(0) at import, dnext_c += in place, __main__ gradient check"),
    ("cs231n_vectorized.py", "cs231n", "rnn,lstm", [], "einsum, precomputed input projections, dict caches, top-level namedtuple cache for the LSTM step"),
    ("cs231n_objects.py", "cs231n", "rnn,lstm", ["--load", "defs"], "cache objects, matplotlib import, top-level training loop reading a data file"),
    ("cs231n_helper.py", "cs231n", "rnn,lstm", ["--with", "my_layer_utils.py"], "from my_layer_utils import * (sigmoid via tanh), time-first loops, list caches"),
    ("cs231n_float32.py", "cs231n", "rnn,lstm", [], "everything in float32, tanh' as 1/cosh^2 (overflows to 0 when saturated)"),
    ("cs231n_notebook.ipynb", "cs231n", "rnn,lstm", [], "notebook with !pip, %magics, %%time cell, x = !ls, import of a missing cs231n package"),
    ("dlai_template.py", "deeplearning-ai", "rnn,lstm", ["--with", "rnn_utils.py"], "the assignment's template filled in, test code at top level (np.random.seed(1))"),
    ("dlai_compact.py", "deeplearning-ai", "rnn,lstm", [], "stacked gate matrix, dict caches, scipy.special expit/softmax, bias gradients without keepdims"),
    ("dlai_notebook.ipynb", "deeplearning-ai", "rnn,lstm", ["--with", "rnn_utils.py"], "the template as a notebook: !pip, magics, from public_tests import *, a %%timeit cell"),
    ("minchar_py3.py", "min-char-rnn", "rnn", [], "Karpathy's program made Python 3: reads input.txt, clips at ±5 with out=, sampling and endless training loop"),
    ("minchar_class.py", "min-char-rnn", "rnn", [], "class-based port: a Tape object per step, xrange guard, sys.argv[1] data file, clipping by min/max"),
    ("minchar_onehot.py", "min-char-rnn", "rnn", [], "vectorised one-hot matrix port, np.random.seed(42), sampling loop at the bottom, np.clip copies"),
    ("course_rnn_delta.py", "course", "rnn", [], "δ recursion, calls its own forward"),
    ("course_rnn_doublesum.py", "course", "rnn", [], "the lecture's double sum over t and k, literally (O(T²))"),
    ("cs231n_enum_typing.py", "cs231n", "rnn,lstm", [], "enum.Enum('Gate', 'i f o g'), typing.TypeVar, sys.argv read at import, scipy expit, dh[:, t-1] += in place, LSTM parameter gradients by one tensordot"),
    ("dlai_split.py", "deeplearning-ai", "rnn,lstm", [], "weights split into a_prev/xt columns, dict caches, rnn_backward written without the cell backward"),
    ("minchar_loss_shape.py", "min-char-rnn", "rnn", [], "Python 3 with @, the loss a (1,) array, `global` in lossFun, clipping by list comprehension"),
    ("course_lstm.py", "course", "lstm", [], "course LSTM with a parameter dict, gates in a dict, sigma via tanh"),
    ("minchar_notebook.ipynb", "min-char-rnn", "rnn", [], "Karpathy's program as notebook cells: !wget, %matplotlib, a %%time training cell, stored outputs"),
    ("dlai_notebook_as_py.py", "deeplearning-ai", "rnn,lstm", [], "a notebook (JSON) saved under a .py name"),
    ("cs231n_crlf_tabs.py", "cs231n", "rnn,lstm", [], "tab indentation and CRLF line endings (Windows editor)"),
    ("adapter_student_rnn.py", "adapter", "rnn", ["--adapter", "adapter_rnn_class.py"], "another course's API: a VanillaRNN class, batch first, backward returns a dict; the instructor's adapter maps it"),
    ("cs231n_mpl_import.py", "cs231n", "rnn,lstm", [], "the template file plus `import matplotlib.pyplot as plt` at the top (unused), default --load"),
    ("cs231n_bom_unicode.py", "cs231n", "rnn,lstm", [], "UTF-8 BOM, Chinese comments, non-ASCII identifiers (α, σ, δ, 缓存)"),
    ("cs231n_chatty.py", "cs231n", "rnn,lstm", [], "functions as static/class methods exported to module level, a print on every call, a log file written at import"),
]
OPTS = {f: (conv, model, opts) for f, conv, model, opts, _ in CORRECT}
STRICT = ["--strict-inputs"]
NO_ID_SMALL = "a small planted error that no listed mistake reproduces; only the verdict is pinned"

# name, base, function (the test that must fail), mistake, [(old, new), ...], extra options, why
MUTANTS = [
    # ---- cs231n_loops (template style) ----
    ("c1_dh_next", "cs231n_loops.py", "rnn_backward", "dh-next-not-added",
     [("rnn_step_backward(dh[:, t, :] + dprev_h, cache[t])", "rnn_step_backward(dh[:, t, :], cache[t])")], [], ""),
    ("c1_dWx_assigned", "cs231n_loops.py", "rnn_backward", "weight-grads-not-summed",
     [("        dWx += dWx_t\n        dWh += dWh_t\n        db += db_t\n    dh0 = dprev_h\n    return dx, dh0, dWx, dWh, db\n\n\ndef lstm_step_forward",
       "        dWx = dWx_t\n        dWh += dWh_t\n        db += db_t\n    dh0 = dprev_h\n    return dx, dh0, dWx, dWh, db\n\n\ndef lstm_step_forward")], [], ""),
    ("c1_tanh_of_h", "cs231n_loops.py", "rnn_step_backward", "tanh-derivative-of-wrong-quantity",
     [("da = dnext_h * (1 - next_h ** 2)", "da = dnext_h * (1 - np.tanh(next_h) ** 2)")], [], ""),
    ("c1_dWh_transposed", "cs231n_loops.py", "rnn_step_backward", "transposed-weight-gradient",
     [("    dWh = prev_h.T.dot(da)\n    db = np.sum(da, axis=0)\n    return dx, dprev_h, dWx, dWh, db\n\n\ndef rnn_forward",
       "    dWh = da.T.dot(prev_h)\n    db = np.sum(da, axis=0)\n    return dx, dprev_h, dWx, dWh, db\n\n\ndef rnn_forward")], [], ""),
    ("c1_Wh_not_transposed", "cs231n_loops.py", "rnn_step_backward", "recurrent-weight-not-transposed",
     [("    dprev_h = da.dot(Wh.T)\n    dWx = x.T.dot(da)\n    dWh = prev_h.T.dot(da)\n    db = np.sum(da, axis=0)\n    return dx, dprev_h, dWx, dWh, db\n\n\ndef rnn_forward",
       "    dprev_h = da.dot(Wh)\n    dWx = x.T.dot(da)\n    dWh = prev_h.T.dot(da)\n    db = np.sum(da, axis=0)\n    return dx, dprev_h, dWx, dWh, db\n\n\ndef rnn_forward")], [], ""),
    ("c1_db_mean", "cs231n_loops.py", "rnn_step_backward", "mean-instead-of-sum",
     [("    db = np.sum(da, axis=0)\n    return dx, dprev_h, dWx, dWh, db\n\n\ndef rnn_forward",
       "    db = np.mean(da, axis=0)\n    return dx, dprev_h, dWx, dWh, db\n\n\ndef rnn_forward")], [], ""),
    ("c1_dWh_next_h", "cs231n_loops.py", "rnn_step_backward", "off-by-one-h-prev",
     [("    dWh = prev_h.T.dot(da)\n    db = np.sum(da, axis=0)\n    return dx, dprev_h, dWx, dWh, db\n\n\ndef rnn_forward",
       "    dWh = next_h.T.dot(da)\n    db = np.sum(da, axis=0)\n    return dx, dprev_h, dWx, dWh, db\n\n\ndef rnn_forward")], [], ""),
    ("c1_dx_sign", "cs231n_loops.py", "rnn_step_backward", "sign-flipped",
     [("    dx = da.dot(Wx.T)\n    dprev_h = da.dot(Wh.T)\n    dWx = x.T.dot(da)\n    dWh = prev_h.T.dot(da)\n    db = np.sum(da, axis=0)\n    return dx, dprev_h, dWx, dWh, db\n\n\ndef rnn_forward",
       "    dx = -da.dot(Wx.T)\n    dprev_h = da.dot(Wh.T)\n    dWx = x.T.dot(da)\n    dWh = prev_h.T.dot(da)\n    db = np.sum(da, axis=0)\n    return dx, dprev_h, dWx, dWh, db\n\n\ndef rnn_forward")], [], ""),
    ("c1_dh0_clipped", "cs231n_loops.py", "rnn_backward", "clipping-in-backward",
     [("    dh0 = dprev_h\n    return dx, dh0, dWx, dWh, db\n\n\ndef lstm_step_forward",
       "    dh0 = np.clip(dprev_h, -5, 5)\n    return dx, dh0, dWx, dWh, db\n\n\ndef lstm_step_forward")], [], ""),
    ("c1_dh_inplace_strict", "cs231n_loops.py", "rnn_backward", "mutates-upstream-gradient",
     [("        dx_t, dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t, :] + dprev_h, cache[t])",
       "        dh[:, t, :] += dprev_h\n        dx_t, dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t, :], cache[t])")], STRICT,
     "the gradients stay right; only --strict-inputs fails it"),
    ("c1_h0_overwritten_strict", "cs231n_loops.py", "rnn_forward", "mutates-input",
     [("        prev_h, cache_t = rnn_step_forward(x[:, t, :], prev_h, Wx, Wh, b)",
       "        prev_h[...], cache_t = rnn_step_forward(x[:, t, :], prev_h.copy(), Wx, Wh, b)")], STRICT,
     "h0's buffer is reused for the running state: results right, h0 changed"),
    ("c1_truncated_reset", "cs231n_loops.py", "rnn_backward", "truncated-bptt",
     [("    for t in reversed(range(T)):\n        dx_t, dprev_h,",
       "    for t in reversed(range(T)):\n        if (T - t) % 3 == 0:\n            dprev_h = np.zeros((N, H))  # truncate every 3 steps\n        dx_t, dprev_h,")], [], ""),
    ("c1_sigmoid_f_wrong", "cs231n_loops.py", "lstm_step_backward", "sigmoid-derivative-of-wrong-quantity",
     [("daf = df * f * (1 - f)", "daf = df * (1 - f ** 2)")], [], ""),
    ("c1_pack_order", "cs231n_loops.py", "lstm_step_backward", "gate-order",
     [("da = np.hstack((dai, daf, dao, dag))", "da = np.hstack((daf, dai, dao, dag))")], [], ""),
    ("c1_dc_no_forget", "cs231n_loops.py", "lstm_step_backward", "dc-missing-forget-factor",
     [("dprev_c = dnext_c * f", "dprev_c = dnext_c")], [], ""),
    ("c1_no_h_to_c", "cs231n_loops.py", "lstm_step_backward", "dh-to-dc-path-missing",
     [("    dnext_c += dnext_h * o * (1 - tanh_c ** 2)\n", "")], [], ""),
    ("c1_dc_not_carried", "cs231n_loops.py", "lstm_backward", "dc-not-carried",
     [("dh[:, t, :] + dprev_h, dprev_c, cache[t])", "dh[:, t, :] + dprev_h, np.zeros((N, H)), cache[t])")], [], ""),
    ("c1_tanh_c_raw", "cs231n_loops.py", "lstm_step_backward", "tanh-derivative-of-wrong-quantity",
     [("dnext_c += dnext_h * o * (1 - tanh_c ** 2)", "dnext_c += dnext_h * o * (1 - next_c ** 2)")], [], ""),
    ("c1_lstm_dWh_assigned", "cs231n_loops.py", "lstm_backward", "weight-grads-not-summed",
     [("        dWh += dWh_t\n        db += db_t\n    dh0 = dprev_h\n    return dx, dh0, dWx, dWh, db\n\n\ndef rel_error",
       "        dWh = dWh_t\n        db += db_t\n    dh0 = dprev_h\n    return dx, dh0, dWx, dWh, db\n\n\ndef rel_error")], [], ""),
    # ---- cs231n_vectorized ----
    ("c2_dWh_hs_next", "cs231n_vectorized.py", "rnn_backward", "off-by-one-h-prev",
     [('dWh = np.einsum("ntk,nth->kh", hs[:, :-1], dz)', 'dWh = np.einsum("ntk,nth->kh", hs[:, 1:], dz)')], [], ""),
    ("c2_no_carry", "cs231n_vectorized.py", "rnn_backward", "dh-next-not-added",
     [("dz[:, t] = (dh[:, t] + carry) *", "dz[:, t] = dh[:, t] *")], [], ""),
    ("c2_dWx_skips_first_step", "cs231n_vectorized.py", "rnn_backward", "any",
     [('dWx = np.einsum("ntd,nth->dh", x, dz)', 'dWx = np.einsum("ntd,nth->dh", x[:, 1:], dz[:, 1:])')], [],
     "subtle: one time step left out of dWx only; no listed mistake drops exactly one step"),
    ("c2_dWh_float16", "cs231n_vectorized.py", "rnn_backward", "any",
     [('dWh = np.einsum("ntk,nth->kh", hs[:, :-1], dz)', 'dWh = np.einsum("ntk,nth->kh", hs[:, :-1], dz).astype(np.float16).astype(np.float64)')], [],
     "subtle: a float16 round trip of dWh (rel. error ~1e-4); no mistake id is rounding"),
    ("c2_db_short_lags", "cs231n_vectorized.py", "rnn_backward", "truncated-bptt",
     [("    db = dz.sum(axis=(0, 1))\n",
       "    # bias: every upstream gradient followed back 4 steps only\n"
       "    db = np.zeros(H)\n    for t in range(T):\n        g = dh[:, t]\n"
       "        for k in range(t, max(t - 4, -1), -1):\n            g = g * (1.0 - hs[:, k + 1] ** 2)\n"
       "            db += g.sum(0)\n            g = g @ Wh.T\n")], [],
     "subtle: only db is truncated (lags > 3 missing); expected truncated-bptt"),
    ("c2_split_order", "cs231n_vectorized.py", "lstm_step_backward", "gate-order",
     [("    i, f, o, g = np.split(cache.gates, 4, axis=1)", "    f, i, o, g = np.split(cache.gates, 4, axis=1)")], [], ""),
    ("c2_dc_zero", "cs231n_vectorized.py", "lstm_backward", "dc-not-carried",
     [("lstm_step_backward(dh[:, t] + dh_carry, dc_carry, steps[t])", "lstm_step_backward(dh[:, t] + dh_carry, np.zeros_like(dc_carry), steps[t])")], [], ""),
    ("c2_db_clipped", "cs231n_vectorized.py", "lstm_step_backward", "clipping-in-backward",
     [("    db = da.sum(axis=0)\n    return dx, dprev_h, dprev_c, dWx, dWh, db", "    db = np.clip(da.sum(axis=0), -5, 5)\n    return dx, dprev_h, dprev_c, dWx, dWh, db")], [], ""),
    ("c2_o_tanh_deriv", "cs231n_vectorized.py", "lstm_step_backward", "sigmoid-derivative-of-wrong-quantity",
     [("o * (1 - o)", "(1 - o ** 2)")], [], ""),
    ("c2_rnn_dWh_clip", "cs231n_vectorized.py", "rnn_backward", "clipping-in-backward",
     [('dWh = np.einsum("ntk,nth->kh", hs[:, :-1], dz)', 'dWh = np.clip(np.einsum("ntk,nth->kh", hs[:, :-1], dz), -5, 5)')], [], ""),
    # ---- cs231n_objects (--load defs) ----
    ("c3_tanh_hprev", "cs231n_objects.py", "rnn_step_backward", "tanh-derivative-of-wrong-quantity",
     [("dpre = dnext_h * (1 - cache.h * cache.h)", "dpre = dnext_h * (1 - cache.h_prev * cache.h_prev)")], [], ""),
    ("c3_no_h_to_c", "cs231n_objects.py", "lstm_step_backward", "dh-to-dc-path-missing",
     [("dc = dnext_c + dnext_h * k.o * (1.0 - tanhc ** 2)", "dc = dnext_c")], [], ""),
    ("c3_Wh_untransposed", "cs231n_objects.py", "rnn_step_backward", "recurrent-weight-not-transposed",
     [("dpre @ cache.Wh.T", "dpre @ cache.Wh")], [], ""),
    ("c3_db_mean", "cs231n_objects.py", "lstm_step_backward", "mean-instead-of-sum",
     [("db = dA.sum(axis=0)", "db = dA.mean(axis=0)")], [], ""),
    ("c3_last3_steps", "cs231n_objects.py", "lstm_backward", "truncated-bptt",
     [("    for t in reversed(range(T)):\n        dx[:, t, :], dh_next, dc_next,", "    for t in reversed(range(max(0, T - 3), T)):\n        dx[:, t, :], dh_next, dc_next,")], [], ""),
    ("c3_dh_step_reset", "cs231n_objects.py", "rnn_backward", "dh-next-not-added",
     [("rnn_step_backward(dh[:, t, :] + dh_next, cache[t])", "rnn_step_backward(dh[:, t, :], cache[t])")], [], ""),
    # ---- cs231n_helper (--with) ----
    ("c4_db_sign", "cs231n_helper.py", "lstm_step_backward", "sign-flipped",
     [("np.matmul(prev_h.T, da), da.sum(axis=0))", "np.matmul(prev_h.T, da), -da.sum(axis=0))")], [], ""),
    ("c4_dc_no_forget", "cs231n_helper.py", "lstm_step_backward", "dc-missing-forget-factor",
     [("np.matmul(da, Wh.T), dc * f,", "np.matmul(da, Wh.T), dc,")], [], ""),
    ("c4_dWh_assigned", "cs231n_helper.py", "rnn_backward", "weight-grads-not-summed",
     [("dWh = dWh + bq", "dWh = bq")], [], ""),
    ("c4_carry_clipped", "cs231n_helper.py", "rnn_backward", "clipping-in-backward",
     [("rnn_step_backward(dh_tnh[t] + dprev, cache[t])", "rnn_step_backward(dh_tnh[t] + np.clip(dprev, -5, 5), cache[t])")], [], ""),
    ("c4_dWx_clip_lstm", "cs231n_helper.py", "lstm_backward", "clipping-in-backward",
     [("    return np.stack(dxs[::-1], 1), dh_prev, dWx, dWh, db", "    return np.stack(dxs[::-1], 1), dh_prev, np.clip(dWx, -5, 5), dWh, db")], [], ""),
    # ---- cs231n_float32 ----
    ("c5_dh_next", "cs231n_float32.py", "rnn_backward", "dh-next-not-added",
     [("rnn_step_backward(dh[:, t] + dn, cache[t])", "rnn_step_backward(dh[:, t], cache[t])")], [], ""),
    ("c5_dc_no_forget", "cs231n_float32.py", "lstm_step_backward", "dc-missing-forget-factor",
     [("da @ Wh.T, dc * f, x.T @ da", "da @ Wh.T, dc, x.T @ da")], [], ""),
    # ---- cs231n_notebook ----
    ("c6_nb_dc_no_forget", "cs231n_notebook.ipynb", "lstm_step_backward", "dc-missing-forget-factor",
     [("dprev_c = dc * f", "dprev_c = dc")], [], ""),
    ("c6_nb_dWh_transposed", "cs231n_notebook.ipynb", "rnn_step_backward", "transposed-weight-gradient",
     [("dWh = cache['h'].T.dot(dtanh)", "dWh = dtanh.T.dot(cache['h'])")], [], ""),
    # ---- dlai_template ----
    ("d1_da_next", "dlai_template.py", "rnn_backward", "dh-next-not-added",
     [("rnn_cell_backward(da[:, :, t] + da_prevt, caches[t])", "rnn_cell_backward(da[:, :, t], caches[t])")], [], ""),
    ("d1_tanh_aprev", "dlai_template.py", "rnn_cell_backward", "tanh-derivative-of-wrong-quantity",
     [("dtanh = (1 - a_next ** 2) * da_next", "dtanh = (1 - a_prev ** 2) * da_next")], [], ""),
    ("d1_dWaa_transposed", "dlai_template.py", "rnn_cell_backward", "transposed-weight-gradient",
     [("dWaa = np.dot(dtanh, a_prev.T)", "dWaa = np.dot(a_prev, dtanh.T)")], [], ""),
    ("d1_Waa_untransposed", "dlai_template.py", "rnn_cell_backward", "recurrent-weight-not-transposed",
     [("da_prev = np.dot(Waa.T, dtanh)", "da_prev = np.dot(Waa, dtanh)")], [], ""),
    ("d1_dWaa_assigned", "dlai_template.py", "rnn_backward", "weight-grads-not-summed",
     [("dWaa += dWaat", "dWaa = dWaat")], [], ""),
    ("d1_dba_mean", "dlai_template.py", "rnn_cell_backward", "mean-instead-of-sum",
     [("dba = np.sum(dtanh, axis=1, keepdims=True)", "dba = np.mean(dtanh, axis=1, keepdims=True)")], [], ""),
    ("d1_dWaa_anext", "dlai_template.py", "rnn_cell_backward", "off-by-one-h-prev",
     [("dWaa = np.dot(dtanh, a_prev.T)", "dWaa = np.dot(dtanh, a_next.T)")], [], ""),
    ("d1_dWf_dWi_swapped", "dlai_template.py", "lstm_cell_backward", "gate-order",
     [("    dWf = np.dot(dft, concat.T)\n    dWi = np.dot(dit, concat.T)", "    dWf = np.dot(dit, concat.T)\n    dWi = np.dot(dft, concat.T)")], [], ""),
    ("d1_ot_no_sigmoid_deriv", "dlai_template.py", "lstm_cell_backward", "sigmoid-derivative-of-wrong-quantity",
     [("dot = da_next * np.tanh(c_next) * ot * (1 - ot)", "dot = da_next * np.tanh(c_next)")], [], ""),
    ("d1_dc_not_updated", "dlai_template.py", "lstm_backward", "dc-not-carried",
     [('        dc_prevt = gradients["dc_prev"]\n', "")], [], ""),
    ("d1_dc_no_forget", "dlai_template.py", "lstm_cell_backward", "dc-missing-forget-factor",
     [("dc_prev = dc_next * ft + ot * (1 - np.square(np.tanh(c_next))) * ft * da_next",
       "dc_prev = dc_next + ot * (1 - np.square(np.tanh(c_next))) * da_next")], [], ""),
    ("d1_da0_clipped", "dlai_template.py", "rnn_backward", "clipping-in-backward",
     [("    da0 = da_prevt\n\n    gradients = {\"dx\": dx, \"da0\": da0, \"dWax\"", "    da0 = np.clip(da_prevt, -5, 5)\n\n    gradients = {\"dx\": dx, \"da0\": da0, \"dWax\"")], [], ""),
    ("d1_dbo_clipped", "dlai_template.py", "lstm_backward", "clipping-in-backward",
     [("    da0 = da_prevt\n\n    gradients = {\"dx\": dx, \"da0\": da0, \"dWf\"", "    da0 = da_prevt\n    dbo = np.clip(dbo, -5, 5)\n\n    gradients = {\"dx\": dx, \"da0\": da0, \"dWf\"")], [], ""),
    ("d1_dxt_sign", "dlai_template.py", "rnn_cell_backward", "sign-flipped",
     [("dxt = np.dot(Wax.T, dtanh)", "dxt = -np.dot(Wax.T, dtanh)")], [], ""),
    ("d1_da_inplace_strict", "dlai_template.py", "rnn_backward", "mutates-upstream-gradient",
     [("gradients = rnn_cell_backward(da[:, :, t] + da_prevt, caches[t])", "da[:, :, t] += da_prevt\n        gradients = rnn_cell_backward(da[:, :, t], caches[t])")], STRICT,
     "results right; only --strict-inputs fails it"),
    ("d1_last4_steps", "dlai_template.py", "lstm_backward", "truncated-bptt",
     [("    for t in reversed(range(T_x)):\n        gradients = lstm_cell_backward(", "    for t in reversed(range(max(0, T_x - 4), T_x)):\n        gradients = lstm_cell_backward(")], [], ""),
    # ---- dlai_compact ----
    ("d2_no_h_to_c", "dlai_compact.py", "lstm_cell_backward", "dh-to-dc-path-missing",
     [('dc = dc_next + da_next * k["ot"] * (1 - tc ** 2)', "dc = dc_next")], [], ""),
    ("d2_dz_fi_swapped", "dlai_compact.py", "lstm_cell_backward", "gate-order",
     [('        dc * k["c_prev"] * k["ft"] * (1 - k["ft"]),\n        dc * k["cct"] * k["it"] * (1 - k["it"]),',
       '        dc * k["cct"] * k["it"] * (1 - k["it"]),\n        dc * k["c_prev"] * k["ft"] * (1 - k["ft"]),')], [], ""),
    ("d2_dba_mean", "dlai_compact.py", "rnn_cell_backward", "mean-instead-of-sum",
     [('"dba": dz.sum(axis=1)', '"dba": dz.mean(axis=1)')], [], ""),
    ("d2_dc_zero", "dlai_compact.py", "lstm_backward", "dc-not-carried",
     [("lstm_cell_backward(da[:, :, t] + da_t, dc_t, caches[t])", "lstm_cell_backward(da[:, :, t] + da_t, np.zeros_like(dc_t), caches[t])")], [], ""),
    ("d2_dW_float16", "dlai_compact.py", "lstm_cell_backward", "any",
     [('dW = dz @ k["concat"].T', 'dW = (dz @ k["concat"].T).astype(np.float16).astype(np.float64)')], [],
     "subtle: float16 round trip of every dW (rel. error ~1e-4); no mistake id is rounding"),
    ("d2_Waa_untransposed", "dlai_compact.py", "rnn_cell_backward", "recurrent-weight-not-transposed",
     [('"da_prev": cache["p"]["Waa"].T @ dz', '"da_prev": cache["p"]["Waa"] @ dz')], [], ""),
    ("d2_dft_c_next", "dlai_compact.py", "lstm_cell_backward", "off-by-one-h-prev",
     [('dc * k["c_prev"] * k["ft"]', 'dc * k["c_next"] * k["ft"]')], [], ""),
    ("d2_dWaa_clip", "dlai_compact.py", "rnn_backward", "clipping-in-backward",
     [('    return {"dx": np.stack(dx_steps, axis=-1), "da0": carry, **total}',
       '    total["dWaa"] = np.clip(total["dWaa"], -5, 5)\n    return {"dx": np.stack(dx_steps, axis=-1), "da0": carry, **total}')], [], ""),
    ("d2_dc_prev_clip", "dlai_compact.py", "lstm_cell_backward", "clipping-in-backward",
     [('"dc_prev": dc * k["ft"]}', '"dc_prev": np.clip(dc * k["ft"], -5, 5)}')], [], ""),
    # ---- dlai_notebook ----
    ("d3_nb_dc_not_updated", "dlai_notebook.ipynb", "lstm_backward", "dc-not-carried",
     [('        dc_prevt = gradients["dc_prev"]\n', "")], [], ""),
    ("d3_nb_dWax_assigned", "dlai_notebook.ipynb", "rnn_backward", "weight-grads-not-summed",
     [("dWax += dWaxt", "dWax = dWaxt")], [], ""),
    # ---- minchar_py3 ----
    ("m1_dhnext", "minchar_py3.py", "lossFun", "dh-next-not-added",
     [("dh = np.dot(Why.T, dy) + dhnext", "dh = np.dot(Why.T, dy)")], [], ""),
    ("m1_tanh_hprev", "minchar_py3.py", "lossFun", "tanh-derivative-of-wrong-quantity",
     [("dhraw = (1 - hs[t] * hs[t]) * dh", "dhraw = (1 - hs[t - 1] * hs[t - 1]) * dh")], [], ""),
    ("m1_dWhh_transposed", "minchar_py3.py", "lossFun", "transposed-weight-gradient",
     [("dWhh += np.dot(dhraw, hs[t - 1].T)", "dWhh += np.dot(hs[t - 1], dhraw.T)")], [], ""),
    ("m1_Whh_untransposed", "minchar_py3.py", "lossFun", "recurrent-weight-not-transposed",
     [("dhnext = np.dot(Whh.T, dhraw)", "dhnext = np.dot(Whh, dhraw)")], [], ""),
    ("m1_dWhh_ht", "minchar_py3.py", "lossFun", "off-by-one-h-prev",
     [("dWhh += np.dot(dhraw, hs[t - 1].T)", "dWhh += np.dot(dhraw, hs[t].T)")], [], ""),
    ("m1_dWxh_assigned", "minchar_py3.py", "lossFun", "weight-grads-not-summed",
     [("dWxh += np.dot(dhraw, xs[t].T)", "dWxh = np.dot(dhraw, xs[t].T)")], [], ""),
    ("m1_dby_mean", "minchar_py3.py", "lossFun", "mean-instead-of-sum",
     [("        dby += dy\n", "        dby += dy / len(inputs)\n")], [], ""),
    ("m1_o_minus_p", "minchar_py3.py", "lossFun", "sign-flipped",
     [("        dy = np.copy(ps[t])\n        dy[targets[t]] -= 1", "        dy = -np.copy(ps[t])\n        dy[targets[t]] += 1  # o - p")], [], ""),
    # Blind expectation was clipping-in-backward ("not the template's clipping of all of them"). Decided
    # after the blind run: min-char's clipping inside lossFun is the template's own, so clipping any subset
    # of the gradients at one bound is the note clips-gradients-at 5 naming them (docs/checking.md).
    ("m1_clip_dWhy_only", "minchar_py3.py", "lossFun", "note: clips-gradients-at 5",
     [("for dparam in [dWxh, dWhh, dWhy, dbh, dby]:", "for dparam in [dWhy]:")], [],
     "only dWhy clipped at ±5 inside lossFun: passes with the clipping note"),
    ("m1_clip_dhnext", "minchar_py3.py", "lossFun", "clipping-in-backward",
     [("dhnext = np.dot(Whh.T, dhraw)", "dhnext = np.clip(np.dot(Whh.T, dhraw), -5, 5)")], [], ""),
    ("m1_last5", "minchar_py3.py", "lossFun", "truncated-bptt",
     [("    for t in reversed(range(len(inputs))):\n        dy = np.copy(ps[t])", "    for t in reversed(range(max(0, len(inputs) - 5), len(inputs))):\n        dy = np.copy(ps[t])")], [], ""),
    ("m1_hprev_inplace_strict", "minchar_py3.py", "lossFun", "mutates-input",
     [("    return loss, dWxh, dWhh, dWhy, dbh, dby, hs[len(inputs) - 1]", "    hprev[:] = hs[len(inputs) - 1]  # keep the state for the next call\n    return loss, dWxh, dWhh, dWhy, dbh, dby, hs[len(inputs) - 1]")], STRICT,
     "results right, hprev overwritten; only --strict-inputs fails it"),
    # ---- minchar_class ----
    ("m2_dWhh_first_step", "minchar_class.py", "lossFun", "weight-grads-not-summed",
     [("dWhh += dpre @ tape.h_prev.T", "dWhh[:] = dpre @ tape.h_prev.T")], [], ""),
    ("m2_tanh_of_h", "minchar_class.py", "lossFun", "tanh-derivative-of-wrong-quantity",
     [("dpre = dh * (1.0 - tape.h ** 2)", "dpre = dh * (1.0 - np.tanh(tape.h) ** 2)")], [], ""),
    ("m2_dby_sign", "minchar_class.py", "lossFun", "sign-flipped",
     [("dby += dlogits", "dby -= dlogits")], [], ""),
    ("m2_reset_every_3", "minchar_class.py", "lossFun", "truncated-bptt",
     [("        dh_from_future = Whh.T @ dpre\n", "        dh_from_future = Whh.T @ dpre\n        if len(targets) % 3 == 0 and tape is tapes[len(tapes) // 2]:\n            dh_from_future = dh_from_future * 0\n")], [],
     "the carried gradient is dropped once in the middle of the sequence (when T is a multiple of 3): truncation"),
    # ---- minchar_onehot ----
    ("m3_dWhh_H_next", "minchar_onehot.py", "lossFun", "off-by-one-h-prev",
     [("dWhh = dA @ H[:, :-1].T", "dWhh = dA @ H[:, 1:].T")], [], ""),
    ("m3_no_dh_next", "minchar_onehot.py", "lossFun", "dh-next-not-added",
     [("dA[:, t] = (Why.T @ dY[:, t] + dh_next) *", "dA[:, t] = (Why.T @ dY[:, t]) *")], [], ""),
    ("m3_loss_mean", "minchar_onehot.py", "lossFun", "mean-instead-of-sum",
     [("loss = -np.sum(np.log(P[targets, np.arange(T)]))", "loss = -np.mean(np.log(P[targets, np.arange(T)]))")], [], ""),
    ("m3_dWhh_transposed", "minchar_onehot.py", "lossFun", "transposed-weight-gradient",
     [("dWhh = dA @ H[:, :-1].T", "dWhh = H[:, :-1] @ dA.T")], [], ""),
    ("m3_dbh_float16", "minchar_onehot.py", "lossFun", "any",
     [("dbh = dA.sum(axis=1, keepdims=True)", "dbh = dA.sum(axis=1, keepdims=True).astype(np.float16).astype(float)")], [],
     "subtle: float16 round trip of dbh; no mistake id is rounding"),
    # ---- cs231n_enum_typing ----
    ("e_gate_enum_order", "cs231n_enum_typing.py", "lstm_step_backward", "gate-order",
     [('Gate = enum.Enum("Gate", "i f o g")', 'Gate = enum.Enum("Gate", "i f g o")')], [],
     "the gate blocks in another order in forward and backward alike"),
    ("e_dc_not_carried", "cs231n_enum_typing.py", "lstm_backward", "dc-not-carried",
     [("das[t], dc_t = _lstm_local(dh[:, t] + dh_t, dc_t, cache[t])", "das[t], dc_t = _lstm_local(dh[:, t] + dh_t, 0 * dc_t, cache[t])")], [], ""),
    ("e_dh_not_folded", "cs231n_enum_typing.py", "rnn_backward", "dh-next-not-added",
     [("        if t > 0:\n            dh[:, t - 1] += dprev                  # fold the carried gradient into the caller's dh\n", "")], [], ""),
    ("e_tanh_of_a", "cs231n_enum_typing.py", "rnn_step_backward", "tanh-derivative-of-wrong-quantity",
     [("da = dnext_h * (1.0 - np.tanh(a) ** 2)", "da = dnext_h * (1.0 - a ** 2)")], [], ""),
    ("e_dWx_clip", "cs231n_enum_typing.py", "lstm_backward", "clipping-in-backward",
     [("dWx = np.tensordot(X, DA, axes=([0, 1], [0, 1]))", "dWx = np.clip(np.tensordot(X, DA, axes=([0, 1], [0, 1])), -5, 5)")], [], ""),
    ("e_dWh_mean_T", "cs231n_enum_typing.py", "lstm_backward", "mean-instead-of-sum",
     [("dWh = np.tensordot(Hp, DA, axes=([0, 1], [0, 1]))", "dWh = np.tensordot(Hp, DA, axes=([0, 1], [0, 1])) / T")], [], ""),
    # ---- dlai_split ----
    ("s_no_carry", "dlai_split.py", "rnn_backward", "dh-next-not-added",
     [("dz = (da[:, :, t] + da_prevt) * (1 - c[\"a_next\"] ** 2)", "dz = da[:, :, t] * (1 - c[\"a_next\"] ** 2)")], [], ""),
    ("s_concat_order", "dlai_split.py", "lstm_cell_backward", "any",
     [('np.hstack([d.dot(cache["a_prev"].T), d.dot(cache["xt"].T)])', 'np.hstack([d.dot(cache["xt"].T), d.dot(cache["a_prev"].T)])')], [],
     "dW columns stacked [xt | a_prev] instead of [a_prev | xt]: no listed mistake is the concat order"),
    ("s_sigmoid_i_half", "dlai_split.py", "lstm_cell_backward", "sigmoid-derivative-of-wrong-quantity",
     [('"i": dc * g["c"] * g["i"] * (1 - g["i"])', '"i": dc * g["c"] * (1 - g["i"])')], [], ""),
    ("s_dc_prev_no_f", "dlai_split.py", "lstm_cell_backward", "dc-missing-forget-factor",
     [('"dc_prev": dc * g["f"]', '"dc_prev": dc')], [], ""),
    ("s_dWaa_sign", "dlai_split.py", "rnn_backward", "sign-flipped",
     [('dWaa += dz.dot(c["a_prev"].T)', 'dWaa -= dz.dot(c["a_prev"].T)')], [], ""),
    ("s_dWaa_a_next", "dlai_split.py", "rnn_backward", "off-by-one-h-prev",
     [('dWaa += dz.dot(c["a_prev"].T)', 'dWaa += dz.dot(c["a_next"].T)')], [], ""),
    # ---- minchar_loss_shape ----
    ("l_one_minus_h_squared", "minchar_loss_shape.py", "lossFun", "tanh-derivative-of-wrong-quantity",
     [("dhraw = (1 - hs[t] ** 2) * dh", "dhraw = (1 - hs[t]) ** 2 * dh")], [],
     "a bracket typo: (1 - h)^2 for 1 - h^2"),
    ("l_all_over_T", "minchar_loss_shape.py", "lossFun", "mean-instead-of-sum",
     [("    return loss, dWxh, dWhh, dWhy, dbh, dby, hs[len(inputs) - 1]", "    n = len(inputs)\n    return loss / n, dWxh / n, dWhh / n, dWhy / n, dbh / n, dby / n, hs[len(inputs) - 1]")], [], ""),
    ("l_dWhy_hprev", "minchar_loss_shape.py", "lossFun", "off-by-one-h-prev",
     [("dWhy += dy @ hs[t].T", "dWhy += dy @ hs[t - 1].T")], [], ""),
    # ---- course_lstm ----
    ("q_dc_no_f", "course_lstm.py", "bptt", "dc-missing-forget-factor",
     [('dc_next = dc * s["f"][t]', "dc_next = dc")], [], ""),
    ("q_no_h_to_c", "course_lstm.py", "bptt", "dh-to-dc-path-missing",
     [('dc = dc_next + dh * s["q"][t] * (1 - tc ** 2)', "dc = dc_next")], [], ""),
    ("q_f_c_t", "course_lstm.py", "bptt", "off-by-one-h-prev",
     [('"f": dc * c_prev * s["f"][t]', '"f": dc * c[t] * s["f"][t]')], [], ""),
    ("q_V_untransposed", "course_lstm.py", "bptt", "recurrent-weight-not-transposed",
     [('dh_next += params["V_" + k].T @ d', 'dh_next += params["V_" + k] @ d')], [], ""),
    ("q_sigmoid_q", "course_lstm.py", "bptt", "sigmoid-derivative-of-wrong-quantity",
     [('s["q"][t] * (1 - s["q"][t])', '(1 - s["q"][t] ** 2)')], [], ""),
    ("q_f_i_swapped", "course_lstm.py", "bptt", "gate-order",
     [('delta = {"f": dc * c_prev', 'delta = {"i": dc * c_prev'), ('                 "i": dc * s["g"][t]', '                 "f": dc * s["g"][t]')], [], ""),
    ("q_dc_not_carried", "course_lstm.py", "bptt", "dc-not-carried",
     [('dc = dc_next + dh * s["q"][t] * (1 - tc ** 2)', 'dc = dh * s["q"][t] * (1 - tc ** 2)')], [], ""),
    ("q_tanh_of_c", "course_lstm.py", "bptt", "tanh-derivative-of-wrong-quantity",
     [('dc = dc_next + dh * s["q"][t] * (1 - tc ** 2)', 'dc = dc_next + dh * s["q"][t] * (1 - c[t] ** 2)')], [], ""),
    ("q_reset_every_4", "course_lstm.py", "bptt", "truncated-bptt",
     [('        dc_next = dc * s["f"][t]\n', '        dc_next = dc * s["f"][t]\n        if t % 4 == 0:\n            dh_next, dc_next = 0 * dh_next, 0 * dc_next\n')], [], ""),
    ("q_W_sign", "course_lstm.py", "bptt", "sign-flipped",
     [('grads["W"] += np.outer(dz, h[t])', 'grads["W"] -= np.outer(dz, h[t])')], [], ""),
    ("q_U_assigned", "course_lstm.py", "bptt", "weight-grads-not-summed",
     [('grads["U_" + k] += np.outer(d, x[t])', 'grads["U_" + k] = np.outer(d, x[t])')], [], ""),
    ("q_mean_T", "course_lstm.py", "bptt", "mean-instead-of-sum",
     [("    return grads\n", "    return {k: v / T for k, v in grads.items()}\n")], [], ""),
    ("q_V_f_clip", "course_lstm.py", "bptt", "clipping-in-backward",
     [("    return grads\n", '    grads["V_f"] = np.clip(grads["V_f"], -5, 5)\n    return grads\n')], [],
     "docs/checking.md says clipping one small course gradient (V_f) is usually missed"),
    ("q_all_clip", "course_lstm.py", "bptt", "clipping-in-backward",
     [("    return grads\n", "    return {k: np.clip(v, -5, 5) for k, v in grads.items()}\n")], [], ""),
    # ---- subtle: small effects that must still fail ----
    ("c2_db_lags8", "cs231n_vectorized.py", "rnn_backward", "truncated-bptt",
     [("    db = dz.sum(axis=(0, 1))\n",
       "    # bias: every upstream gradient followed back 8 steps only\n"
       "    db = np.zeros(H)\n    for t in range(T):\n        g = dh[:, t]\n"
       "        for k in range(t, max(t - 8, -1), -1):\n            g = g * (1.0 - hs[:, k + 1] ** 2)\n"
       "            db += g.sum(0)\n            g = g @ Wh.T\n")], [],
     "subtle: db misses lags of 8 steps and more; only a probe longer than 8 steps can see it"),
    ("c2_dWh_clip10", "cs231n_vectorized.py", "rnn_backward", "clipping-in-backward",
     [('dWh = np.einsum("ntk,nth->kh", hs[:, :-1], dz)', 'dWh = np.clip(np.einsum("ntk,nth->kh", hs[:, :-1], dz), -10, 10)')], [],
     "subtle: clipping at ±10 touches only the largest entries of dWh on the large-upstream probe"),
    # ---- the last five correct files ----
    ("x_chatty_Wh", "cs231n_chatty.py", "rnn_step_backward", "recurrent-weight-not-transposed",
     [("d.dot(Wx.T), d.dot(Wh.T)", "d.dot(Wx.T), d.dot(Wh)")], [], ""),
    ("x_chatty_dc_no_f", "cs231n_chatty.py", "lstm_step_backward", "dc-missing-forget-factor",
     [("da.dot(Wh.T), dnext_c * f,", "da.dot(Wh.T), dnext_c,")], [], ""),
    ("x_bom_no_alpha_chain", "cs231n_bom_unicode.py", "rnn_step_backward", "tanh-derivative-of-wrong-quantity",
     [("δ = α * dnext_h * (1 - next_h ** 2)", "δ = α * dnext_h * (1 - np.tanh(next_h) ** 2)")], [], ""),
    ("x_bom_gate_pack", "cs231n_bom_unicode.py", "lstm_step_backward", "gate-order",
     [("dnext_h * tc * o * (1 - o), dc * i * (1 - g ** 2)])", "dc * i * (1 - g ** 2), dnext_h * tc * o * (1 - o)])")], [], ""),
    ("x_crlf_Wh", "cs231n_crlf_tabs.py", "rnn_step_backward", "recurrent-weight-not-transposed",
     [("dpre @ cache.Wh.T", "dpre @ cache.Wh")], [], ""),
    ("x_crlf_no_h_to_c", "cs231n_crlf_tabs.py", "lstm_step_backward", "dh-to-dc-path-missing",
     [("dc = dnext_c + dnext_h * k.o * (1.0 - tanhc ** 2)", "dc = dnext_c")], [], ""),
    ("x_nb_minchar_Whh", "minchar_notebook.ipynb", "lossFun", "recurrent-weight-not-transposed",
     [("dhnext = np.dot(Whh.T, dhraw)", "dhnext = np.dot(Whh, dhraw)")], [], ""),
    ("x_nbpy_dba_mean", "dlai_notebook_as_py.py", "rnn_backward", "mean-instead-of-sum",
     [("dba += dz.sum(axis=1, keepdims=True)", "dba += dz.mean(axis=1, keepdims=True)")], [], ""),
    # ---- adapter ----
    ("a_no_running", "adapter_student_rnn.py", "VanillaRNN.backward", "dh-next-not-added",
     [("dpre = (dH[:, t] + running) *", "dpre = dH[:, t] *")], [], ""),
    ("a_dWhh_clip", "adapter_student_rnn.py", "VanillaRNN.backward", "clipping-in-backward",
     [('        grads["dh0"] = running\n', '        grads["dh0"] = running\n        grads["dWhh"] = np.clip(grads["dWhh"], -5, 5)\n')], [], ""),
    ("a_dWhh_transposed", "adapter_student_rnn.py", "VanillaRNN.backward", "transposed-weight-gradient",
     [('grads["dWhh"] += states[:, t].T @ dpre', 'grads["dWhh"] += dpre.T @ states[:, t]')], [], ""),
    ("a_tanh_prev_state", "adapter_student_rnn.py", "VanillaRNN.backward", "tanh-derivative-of-wrong-quantity",
     [("* (1 - states[:, t + 1] ** 2)", "* (1 - states[:, t] ** 2)")], [], ""),
    ("a_dbh_mean", "adapter_student_rnn.py", "VanillaRNN.backward", "mean-instead-of-sum",
     [('grads["dbh"] += dpre.sum(axis=0)', 'grads["dbh"] += dpre.mean(axis=0)')], [], ""),
    ("a_dWxh_assigned", "adapter_student_rnn.py", "VanillaRNN.backward", "weight-grads-not-summed",
     [('grads["dWxh"] += X[:, t].T @ dpre', 'grads["dWxh"] = X[:, t].T @ dpre')], [], ""),
    ("a_Whh_untransposed", "adapter_student_rnn.py", "VanillaRNN.backward", "recurrent-weight-not-transposed",
     [("running = dpre @ self.Whh.T", "running = dpre @ self.Whh")], [], ""),
    ("a_dWhh_next_state", "adapter_student_rnn.py", "VanillaRNN.backward", "off-by-one-h-prev",
     [('grads["dWhh"] += states[:, t].T @ dpre', 'grads["dWhh"] += states[:, t + 1].T @ dpre')], [], ""),
    ("a_dX_sign", "adapter_student_rnn.py", "VanillaRNN.backward", "sign-flipped",
     [('grads["dX"][:, t] = dpre @ self.Wxh.T', 'grads["dX"][:, t] = -dpre @ self.Wxh.T')], [], ""),
    ("a_reset_every_3", "adapter_student_rnn.py", "VanillaRNN.backward", "truncated-bptt",
     [("            running = dpre @ self.Whh.T\n", "            running = dpre @ self.Whh.T\n            if (T - t) % 3 == 0:\n                running = 0 * running\n")], [], ""),
    ("d4_a0_buffer_strict", "dlai_split.py", "rnn_forward", "mutates-input",
     [("        a_t, y_pred[:, :, t], cache = rnn_cell_forward(x[:, :, t], a_t, parameters)",
       "        a_t[...], y_pred[:, :, t], cache = rnn_cell_forward(x[:, :, t], a_t.copy(), parameters)")], STRICT,
     "a0's buffer reused for the running state: results right, a0 changed"),
    ("k1_sgd_inside_strict", "course_rnn_delta.py", "bptt", "mutates-input",
     [("    return dU, dV, dW\n", "    for param, grad in ((U, dU), (V, dV), (W, dW)):\n        param -= 0.1 * grad  # update while we are here\n    return dU, dV, dW\n")], STRICT,
     "the SGD step done inside bptt on the caller's weights: gradients right, U, V, W changed"),
    ("q_dV_transposed", "course_lstm.py", "bptt", "transposed-weight-gradient",
     [('grads["V_" + k] += np.outer(d, h_prev)', 'grads["V_" + k] += np.outer(h_prev, d)')], [], ""),
    # ---- course ----
    ("k1_no_delta_next", "course_rnn_delta.py", "bptt", "dh-next-not-added",
     [("delta = (W.T @ dz + V.T @ delta_next) *", "delta = (W.T @ dz) *")], [], ""),
    ("k1_V_untransposed", "course_rnn_delta.py", "bptt", "recurrent-weight-not-transposed",
     [("V.T @ delta_next", "V @ delta_next")], [], ""),
    ("k1_tanh_hprev", "course_rnn_delta.py", "bptt", "tanh-derivative-of-wrong-quantity",
     [("* (1.0 - h[t] ** 2)", "* (1.0 - h_prev ** 2)")], [], ""),
    ("k1_dV_ht", "course_rnn_delta.py", "bptt", "off-by-one-h-prev",
     [("dV += np.outer(delta, h_prev)", "dV += np.outer(delta, h[t])")], [], ""),
    ("k1_dV_transposed", "course_rnn_delta.py", "bptt", "transposed-weight-gradient",
     [("dV += np.outer(delta, h_prev)", "dV += np.outer(h_prev, delta)")], [], ""),
    ("k1_mean_over_T", "course_rnn_delta.py", "bptt", "mean-instead-of-sum",
     [("    return dU, dV, dW\n", "    return dU / T, dV / T, dW / T\n")], [], ""),
    ("k1_o_minus_p", "course_rnn_delta.py", "bptt", "sign-flipped",
     [("        dz[o[t]] -= 1.0", "        dz[o[t]] -= 1.0\n        dz = -dz")], [], ""),
    ("k1_dW_clip", "course_rnn_delta.py", "bptt", "clipping-in-backward",
     [("    return dU, dV, dW\n", "    return dU, dV, np.clip(dW, -5, 5)\n")], [], ""),
    ("k1_dW_assigned", "course_rnn_delta.py", "bptt", "weight-grads-not-summed",
     [("dW += np.outer(dz, h[t])", "dW = np.outer(dz, h[t])")], [], ""),
    ("k2_truncated_3", "course_rnn_doublesum.py", "bptt", "truncated-bptt",
     [("for k in range(t, 0, -1):", "for k in range(t, max(t - 3, 0), -1):")], [], ""),
    ("k2_only_k_eq_t", "course_rnn_doublesum.py", "bptt", "dh-next-not-added",
     [("for k in range(t, 0, -1):", "for k in range(t, t - 1, -1):")], [], ""),
    ("k2_first_term_dropped", "course_rnn_doublesum.py", "bptt", "any",
     [("for t in range(1, T + 1):", "for t in range(2, T + 1):")], [],
     "the first loss term left out of all gradients; no listed mistake drops a loss term"),
    ("k2_dU_clip", "course_rnn_doublesum.py", "bptt", "clipping-in-backward",
     [("    return dU, dV, dW\n\n\nif", "    return np.clip(dU, -5, 5), dV, dW\n\n\nif")], [],
     "docs/checking.md says a single small course gradient clipped at ±5 is usually missed"),
]


def mutate_text(text, edits, where):
    for old, new in edits:
        n = text.count(old)
        assert n == 1, f"{where}: {old!r} occurs {n} times"
        text = text.replace(old, new)
    return text


def mutate_notebook(nb, edits, where):
    for old, new in edits:
        hits = [c for c in nb["cells"] if c["cell_type"] == "code" and old in "".join(c["source"])]
        assert len(hits) == 1 and "".join(hits[0]["source"]).count(old) == 1, f"{where}: {old!r}"
        hits[0]["source"] = "".join(hits[0]["source"]).replace(old, new).splitlines(True)
    return nb


def main(out_root=HERE):
    """Writes every mutant under ``out_root``/mutants and the manifest (always next to this file)."""
    os.makedirs(os.path.join(out_root, "mutants"), exist_ok=True)
    cases = []
    for f, conv, model, opts, style in CORRECT:
        cases.append(dict(file=f, convention=conv, model=model, options=opts, expect="pass",
                          function=None, mistake=None, why=style))
    for name, base, fn, mistake, edits, extra, why in MUTANTS:
        conv, model, opts = OPTS[base]
        ext = os.path.splitext(base)[1]
        out = f"mutants/{name}{ext}"
        with open(os.path.join(HERE, base), newline="", encoding="utf-8") as fh:  # keep CRLF and the BOM
            src = fh.read()
        if ext == ".ipynb":
            text = json.dumps(mutate_notebook(json.loads(src), edits, name), indent=1)
        else:
            text = mutate_text(src, edits, name)
        with open(os.path.join(out_root, out), "w", newline="", encoding="utf-8") as fh:
            fh.write(text)
        note = mistake[len("note: "):] if mistake.startswith("note: ") else None
        case = dict(file=out, base=base, convention=conv, model=model, options=opts + extra,
                    expect="pass" if note else "fail", function=fn, mistake=None if note else mistake,
                    why=why or (NO_ID_SMALL if mistake == "any" else ""))
        cases.append(dict(case, note=note) if note else case)
    with open(os.path.join(HERE, "manifest.json"), "w") as fh:
        json.dump({"about": "blind held-out round 3 (issue 8); generated by make_mutants.py", "cases": cases}, fh, indent=1)
    return cases


if __name__ == "__main__":
    main()
