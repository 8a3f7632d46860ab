"""Imported once, by the zygote of ``kata watch``'s workers (the ``forkserver`` process,
see ``grader.loop.workers``), after torch, pytest and hypothesis: the one-time setup
that is safe before a fork, so no forked worker pays it again.

- hypothesis registers its global PRNG on first use and, doing so, runs a full
  ``gc.collect()`` (0.3-0.4 s with torch loaded); ``deterministic_PRNG`` does it here,
  touching only Python's and NumPy's random states (restored on exit): no torch op, no
  thread;
- ``gc.freeze()`` moves every object imported so far out of the collector's sight, so
  a worker's collections do not walk torch's heap (and do not copy its pages).
"""

import gc

from hypothesis.internal.entropy import deterministic_PRNG

with deterministic_PRNG():
    pass
gc.freeze()
