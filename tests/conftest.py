"""Shared test settings: Hypothesis is derandomised so every run draws the same cases."""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "bptt", derandomize=True, deadline=None, max_examples=12, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("bptt")
