"""pytest integration for course CI: one pytest test per checked function.

In the course's test file::

    from numeric.checking.pytest_plugin import bptt_tests

    test_rnn = bptt_tests("submission/rnn_layers.py", convention="cs231n", model="rnn")

``bptt_tests`` returns a test function parametrized over the convention's tests (``rnn_step_forward``,
``rnn_step_backward``, …). The submission is checked once (in the sandbox) per pytest session; each
parametrized test fails with the checker's messages and the diagnosed mistake.

As a plugin (``pytest -p numeric.checking.pytest_plugin`` or ``pytest_plugins = [...]`` in conftest.py)
it also adds ``--bptt-submission PATH --bptt-convention NAME [--bptt-model M]`` and a session fixture
``bptt_report`` (the CheckReport of that submission) for custom assertions.
"""

from __future__ import annotations

import functools

import pytest

from numeric.checking import conventions
from numeric.checking.api import _models, check


@functools.lru_cache(maxsize=None)
def _cached(path: str, convention: str, models: tuple, adapter, timeout: float):
    return check(path, convention, models, adapter=adapter, timeout=timeout, numerical=False)


def _test_names(convention: str, models: tuple, adapter) -> list[str]:
    return [c.name for c in conventions.cases(convention, models, adapter)]


def failure_text(test) -> str:
    """The messages pytest shows for a failed check."""
    lines = list(test.errors)
    for c in test.checks:
        if not c.passed:
            lines += [f"  {c.name}: {w}" for w in c.where]
    lines += [f"likely mistake: {d.mistake} ({d.confidence:.0%}): {d.evidence}" for d in test.diagnosis]
    return "\n".join(lines)


def bptt_tests(path: str, convention: str, model: str | None = None, adapter: str | None = None,
               timeout: float = 10.0):
    """A pytest test function, parametrized over the convention's tests, checking ``path``."""
    models = _models(conventions.get(convention), model) if convention != "adapter" else ()
    if convention == "adapter":
        from numeric.checking.api import adapter_model
        models = (adapter_model(adapter),)
    names = _test_names(convention, models, adapter)

    @pytest.mark.parametrize("bptt_test_index", range(len(names)), ids=names)
    def test(bptt_test_index):
        report = _cached(str(path), convention, models, adapter, timeout)
        if report.load_error:
            pytest.fail(f"the submission could not be loaded: {report.load_error}", pytrace=False)
        result = report.tests[bptt_test_index]
        if not result.passed:
            pytest.fail(failure_text(result), pytrace=False)

    return test


def pytest_addoption(parser):
    group = parser.getgroup("bptt", "checking RNN/LSTM submissions (numeric.checking)")
    group.addoption("--bptt-submission", default=None, help="the submission to check")
    group.addoption("--bptt-convention", default="cs231n", help="course, cs231n, min-char-rnn, adapter")
    group.addoption("--bptt-model", default=None, help="model(s), comma-separated")
    group.addoption("--bptt-adapter", default=None, help="adapter file (convention adapter)")


@pytest.fixture(scope="session")
def bptt_report(request):
    """The CheckReport of ``--bptt-submission`` (skips the test when no submission was given)."""
    path = request.config.getoption("--bptt-submission")
    if not path:
        pytest.skip("no --bptt-submission given")
    convention = request.config.getoption("--bptt-convention")
    adapter = request.config.getoption("--bptt-adapter")
    models = _models(conventions.get(convention), request.config.getoption("--bptt-model")) \
        if convention != "adapter" else ()
    return _cached(path, convention, models, adapter, 10.0)
