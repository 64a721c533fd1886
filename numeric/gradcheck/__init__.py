"""Gradient oracles: finite differences, Richardson extrapolation, the complex step, the directional
test, and the comparison of an analytic gradient with them (DESIGN.md §5).

Per-entry checks are vectorised: the perturbed copies of the inputs travel together through the batch
axis of one forward pass (see :mod:`numeric.perturb`), instead of one forward pass per entry.
"""

from numeric.gradcheck.compare import Comparison, compare, relative_error
from numeric.gradcheck.objective import LoopObjective, StackedObjective
from numeric.gradcheck.oracles import ORACLES, directional_derivatives, numerical_gradient, numerical_gradients
from numeric.gradcheck.tolerances import tolerance

__all__ = [
    "Comparison", "compare", "relative_error", "LoopObjective", "StackedObjective", "ORACLES",
    "numerical_gradient", "numerical_gradients", "directional_derivatives", "tolerance",
]
