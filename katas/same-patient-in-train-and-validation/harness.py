"""The calls the tests make into ``group_kfold``, in the subject process.

A ``GroupKFold`` splitter and the generator its ``split`` returns cannot cross the
boundary, so ``split`` here builds the splitter from its settings, runs it on the arrays
the test sends, and returns the folds as a list of ``(train_idx, val_idx)`` arrays.
Group labels arrive as a list (NumPy arrays of strings cannot cross) and reach the
splitter as the NumPy array that list makes, as in the tests.  Nothing here checks
anything: every check is in the tests.
"""

from __future__ import annotations

import numpy as np
from group_kfold import GroupKFold


def split(
    X: np.ndarray,
    groups: list,
    n_splits: int,
    shuffle: bool = False,
    seed: int | None = None,
    y: np.ndarray | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``GroupKFold(n_splits, shuffle=shuffle, seed=seed).split(X, y, groups=groups)``,
    every fold it yields, in order."""
    splitter = GroupKFold(n_splits=n_splits, shuffle=shuffle, seed=seed)
    folds = splitter.split(X, y, groups=np.asarray(groups))
    return [(np.asarray(train), np.asarray(val)) for train, val in folds]
