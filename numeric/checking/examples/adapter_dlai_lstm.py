"""Adapter for the LSTM part of a deeplearning.ai "Step by Step" submission (e.g. dlai_correct.py), written
the way an instructor would for an API the toolkit does not know: upstream-driven tests, a cell-level
test, c0 = 0 for the sequence, and the assignment's names in every report.

Check with:  bptt check dlai_correct.py --convention adapter --adapter adapter_dlai_lstm.py
(the built-in --convention deeplearning-ai checks the same functions without an adapter).
"""
import numpy as np

MODEL = "lstm"
BIAS = True
C0 = "zero"     # lstm_forward starts from c = 0
_COURSE = {"f": "f", "i": "i", "g": "c", "q": "o"}   # our gate letter → the course's
TESTS = {
    "cell_backward": {"name": "lstm_cell_backward", "drive": "upstream", "cell": True,
                      "outputs": {"xs": "dxt", "h0": "da_prev", "c0": "dc_prev",
                                  "U_f": "dWf[:, n_a:]", "V_f": "dWf[:, :n_a]", "b_f": "dbf",
                                  "U_i": "dWi[:, n_a:]", "V_i": "dWi[:, :n_a]", "b_i": "dbi",
                                  "U_g": "dWc[:, n_a:]", "V_g": "dWc[:, :n_a]", "b_g": "dbc",
                                  "U_q": "dWo[:, n_a:]", "V_q": "dWo[:, :n_a]", "b_q": "dbo"}},
    # only what is declared is compared (and must be returned): here a subset, to show the form
    "sequence_backward": {"name": "lstm_backward", "drive": "upstream",
                          "outputs": {"xs": "dx", "h0": "da0", "U_f": "dWf[:, n_a:]", "V_f": "dWf[:, :n_a]",
                                      "b_i": "dbi", "U_q": "dWo[:, n_a:]", "b_q": "dbo"}},
    "forward": {"name": "lstm_forward", "drive": "forward", "outputs": {"hs": "a", "cs": "c"}},
}


def _parameters(params):
    out = {}
    for ours, course in _COURSE.items():
        out["W" + course] = np.hstack([params["V_" + ours], params["U_" + ours]])
        out["b" + course] = params["b_" + ours]
    out["Wy"], out["by"] = params["W"], params["c"]
    return out


def _reference(grads, n_a):
    """The course's gradient dict → reference names (dxt/da_prev or dx/da0 handled by the caller)."""
    out = {}
    for ours, course in _COURSE.items():
        dW = grads["dW" + course]
        out["V_" + ours], out["U_" + ours] = dW[:, :n_a], dW[:, n_a:]
        out["b_" + ours] = np.reshape(grads["db" + course], (n_a, 1))
    return out


def cell_backward(student, params, xs, dhs, h0, c0, dc_last):
    p = _parameters(params)
    *_, cache = student.lstm_cell_forward(xs[0], h0, c0, p)
    g = student.lstm_cell_backward(dhs[0], dc_last, cache)
    return dict(_reference(g, h0.shape[0]), xs=g["dxt"][None], h0=g["da_prev"], c0=g["dc_prev"])


def sequence_backward(student, params, xs, dhs, h0, c0, dc_last):
    p = _parameters(params)
    *_, caches = student.lstm_forward(xs.transpose(1, 2, 0), h0, p)
    g = student.lstm_backward(dhs.transpose(1, 2, 0), caches)
    return dict(_reference(g, h0.shape[0]), xs=g["dx"].transpose(2, 0, 1), h0=g["da0"])


def forward(student, params, xs, h0, c0):
    a, _y, c, _caches = student.lstm_forward(xs.transpose(1, 2, 0), h0, _parameters(params))
    return {"hs": a.transpose(2, 0, 1), "cs": c.transpose(2, 0, 1)}
