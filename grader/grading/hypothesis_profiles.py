"""Hypothesis profiles shared by every kata test run.

``grade`` is derandomized so that a candidate, the validator and the CI grader all
see the same examples and the same verdict.  ``explore`` uses real randomness and
more examples; kata authors run it to look for inputs their tests miss.  ``warm`` is for
runs whose verdict nobody reads (a watch worker's warm-up).
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings
from hypothesis.configuration import set_hypothesis_home_dir

PROFILE_ENV = "KATA_HYPOTHESIS_PROFILE"
DEFAULT_PROFILE = "grade"

_COMMON = {
    "deadline": None,
    "database": None,
    "print_blob": False,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.differing_executors],
    # No explain phase (it re-runs a failing test many times to say which parts of the
    # example matter) and no shrinking: a verdict never depends on either, and together
    # they can double the time to a red verdict.  Examples are small and derandomized, so
    # the first failing one is already readable; ``explore`` shrinks for authors.
    "phases": [Phase.explicit, Phase.reuse, Phase.generate],
}

settings.register_profile("grade", derandomize=True, max_examples=25, **_COMMON)
# ``kata watch``'s workers warm up on the kata as shipped: the first examples pay each
# test's first-call setup; the other 23 would only take CPU from the candidate's next save
settings.register_profile("warm", derandomize=True, max_examples=2, **_COMMON)
settings.register_profile(
    "explore",
    derandomize=False,
    max_examples=300,
    **{**_COMMON, "phases": [Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink]},
)


def _ignore_local_constants() -> None:
    """Keep derandomized examples a function of the test alone.

    Hypothesis mixes constants harvested from every *local* module already imported
    into its examples.  Which modules those are differs between ``kata test``, a warm
    validation worker that ran other katas before, plain pytest and CI, so the same
    "derandomized" test would see different inputs.  Pinning that pool to empty (an
    internal of the exactly pinned hypothesis release) removes the difference; it also
    stops hypothesis writing a constants cache into the kata folder.
    """
    from hypothesis.internal.conjecture import providers

    empty = providers.Constants()
    providers._get_local_constants = lambda: empty


def load_profile(name: str | None = None) -> str:
    """Load ``name`` (or ``$KATA_HYPOTHESIS_PROFILE``, default ``grade``); return it."""
    chosen = name or os.environ.get(PROFILE_ENV) or DEFAULT_PROFILE
    settings.load_profile(chosen)
    _ignore_local_constants()
    # Caches (unicode tables) go to the user's cache folder, not into the kata folder.
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    set_hypothesis_home_dir(cache / "ml-debug-katas" / "hypothesis")
    return chosen
