"""Helpers the student keeps next to rnn_layers.py (shipped with --with)."""
import numpy as np


def sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def dtanh_from_output(y):
    return 1.0 - y * y


def dsigmoid_from_output(s):
    return s * (1.0 - s)
