"""Hypothesis settings for the fuzz tests: bounded in the suite, longer on demand.

``LABLB_FUZZ=N`` runs N examples per fuzz test (the suite's default is 300, a few
seconds in all); no deadline per example, derandomised in CI so a run is repeatable.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

EXAMPLES = int(os.environ.get("LABLB_FUZZ", "300"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    database=None,
)
