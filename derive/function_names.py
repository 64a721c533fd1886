"""The names of the functions a cell file may call, without SymPy.

The parser (derive/cellfile.py) checks calls against these names and must stay SymPy-free, so that
reading a cell costs milliseconds; derive/functions.py holds the SymPy objects behind the names
(tests/test_layers.py checks the two agree).
"""

#: Elementwise functions, by the name a cell file uses.
ELEMENTWISE_NAMES = ("tanh", "sigmoid", "relu", "exp", "softplus", "hard_sigmoid")

#: Vector functions (not elementwise): only allowed as ``name = softmax(expr)``.
VECTOR = ("softmax",)

#: Every function name a cell file may call.
KNOWN = ELEMENTWISE_NAMES + VECTOR
