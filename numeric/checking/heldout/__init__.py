"""A held-out set of student-like implementations, for measuring the diagnosis — not used by the tests.

Each family (``fam_*.py.txt`` — text, not modules: some end in a training loop, as student files do,
and must never be imported) is one implementation written in its own style, with every applicable known
mistake available behind ``MISTAKE == "..."`` switches, written as a student would make it and
independently of numeric.checking.mistakes. ``python -m numeric.checking.heldout.measure`` writes each
(family, mistake) to a file, checks it, and reports how often the top diagnosis names the mistake.
"""
