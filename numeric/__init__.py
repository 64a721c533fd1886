"""NumPy-only half of the toolkit: hand-written recurrent models with BPTT, gradient oracles,
verification and checking of other people's implementations.

Never imports SymPy, ``derive`` or ``reports``: the models here are an independent oracle for
everything SymPy derives (DESIGN.md §3).
"""
