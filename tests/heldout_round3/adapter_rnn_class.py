"""Adapter (the instructor's) for adapter_student_rnn.py: batch-first class API -> reference layout."""
MODEL = "rnn"
BIAS = True
TESTS = {
    "layer_backward": {"name": "VanillaRNN.backward", "drive": "upstream",
                       "outputs": {"xs": "dX", "h0": "dh0", "U": "dWxh", "V": "dWhh", "b": "dbh"}},
    "layer_forward": {"name": "VanillaRNN.forward", "drive": "forward", "outputs": {"hs": "H"}},
}


def _layer(student, params):
    return student.VanillaRNN(params["U"].T.copy(), params["V"].T.copy(), params["b"][:, 0].copy())


def layer_forward(student, params, xs, h0, c0):
    H = _layer(student, params).forward(xs.transpose(2, 0, 1).copy(), h0.T.copy())
    return {"hs": H.transpose(1, 2, 0)}


def layer_backward(student, params, xs, dhs, h0, c0, dc_last):
    layer = _layer(student, params)
    layer.forward(xs.transpose(2, 0, 1).copy(), h0.T.copy())
    g = layer.backward(dhs.transpose(2, 0, 1).copy())
    return {"xs": g["dX"].transpose(1, 2, 0), "h0": g["dh0"].T, "U": g["dWxh"].T, "V": g["dWhh"].T,
            "b": g["dbh"][:, None]}
