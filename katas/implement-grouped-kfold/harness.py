"""A call the tests make in the subject process beyond the module's own functions.

Python salts ``str`` hashes afresh in every process (``PYTHONHASHSEED``), so a result
that follows the iteration order of a ``set`` of string labels, or a ``hash`` of one, is
the same all through one process and different in the next.  ``folds_in_a_new_process``
runs ``grouped_kfold`` in a new interpreter with a given hash seed, so that a test can
hold "the same seed gives the same folds" from one run of a script to the next.  Nothing
here checks anything: every check is in the tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

_SCRIPT = """
import json, sys
from grouped_folds import grouped_kfold
answers = []
for groups, n_splits, shuffle, seed in json.load(sys.stdin):
    folds = grouped_kfold(groups, n_splits, shuffle=shuffle, seed=seed)
    answers.append([[int(i) for i in validation] for _, validation in folds])
json.dump(answers, sys.stdout)
"""


def folds_in_a_new_process(cases: list[list], hash_seed: int) -> list[list[list[int]]]:
    """For each case ``[groups, n_splits, shuffle, seed]``, the validation indices of
    ``grouped_kfold(groups, n_splits, shuffle=shuffle, seed=seed)``, fold by fold, computed
    in one new interpreter started with ``PYTHONHASHSEED=hash_seed``."""
    here = Path(__file__).resolve().parent
    env = {"PATH": "/usr/bin:/bin", "PYTHONHASHSEED": str(hash_seed), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        cwd=here,
        env=env,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"grouped_kfold failed in a new process:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout)
