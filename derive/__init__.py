"""SymPy half of the toolkit: cells declared as equations, step-by-step BPTT derivations, code generation."""
