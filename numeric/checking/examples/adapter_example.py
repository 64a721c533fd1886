"""Adapter for adapter_submission.py: maps its batch-first API onto the reference layout.

Check with:  bptt check adapter_submission.py --convention adapter --adapter adapter_example.py
"""

MODEL = "rnn"   # a built-in model name (numeric.models.names(), not jordan)
BIAS = True     # the parameters include the biases b and c
TESTS = {       # read without running this file: literals only
    "loss_and_grads": {"name": "rnn_loss_and_grads", "drive": "loss",
                       "outputs": {"E": "loss", "U": "dWxh", "V": "dWhh", "b": "dbh", "W": "dWhy", "c": "dby"}},
}


def loss_and_grads(student, params, xs, targets, h0, c0):
    """params: U (H, D), V (H, H), b (H, 1), W (K, H), c (K, 1); xs (T, D, B); targets (T, B); h0 (H, B).
    Returns the loss and the gradients under the reference's names and shapes."""
    weights = {"Wxh": params["U"].T, "Whh": params["V"].T, "bh": params["b"][:, 0],
               "Why": params["W"].T, "by": params["c"][:, 0]}
    loss, g = student.rnn_loss_and_grads(xs.transpose(2, 0, 1), targets.T, h0.T, weights)
    return {"E": loss, "U": g["Wxh"].T, "V": g["Whh"].T, "b": g["bh"][:, None], "W": g["Why"].T,
            "c": g["by"][:, None]}
