"""Hypothesis profiles shared by every kata test run.

``grade`` is derandomized so that a candidate, the validator and the CI grader all
see the same examples and the same verdict.  ``explore`` uses real randomness and
more examples; kata authors run it to look for inputs their tests miss.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

PROFILE_ENV = "KATA_HYPOTHESIS_PROFILE"
DEFAULT_PROFILE = "grade"

_COMMON = {
    "deadline": None,
    "database": None,
    "print_blob": False,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.differing_executors],
    # The explain phase re-runs a failing test many times to say which parts of the
    # example matter; it doubles the time to a red verdict and kata messages already
    # say what broke.
    "phases": [Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
}

settings.register_profile("grade", derandomize=True, max_examples=25, **_COMMON)
settings.register_profile("explore", derandomize=False, max_examples=300, **_COMMON)


def load_profile(name: str | None = None) -> str:
    """Load ``name`` (or ``$KATA_HYPOTHESIS_PROFILE``, default ``grade``); return it."""
    chosen = name or os.environ.get(PROFILE_ENV) or DEFAULT_PROFILE
    settings.load_profile(chosen)
    return chosen
