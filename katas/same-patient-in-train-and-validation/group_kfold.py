"""K-fold cross-validation for grouped data.

Our clinical datasets have several recordings per subject, so a plain K-fold split would put
recordings of the same subject on both sides and reward models for recognising subjects rather
than generalising to new ones.  :class:`GroupKFold` keeps every group (subject, patient, site...)
whole: all rows of a group land in the same validation fold.

Folds are balanced by row count with a greedy rule: groups are taken one after the other and each
goes to the fold that currently has the fewest rows (the lowest-numbered one on a tie).  Groups
are taken in order of first appearance, or in a seeded random order when ``shuffle=True``, so
that different seeds split the groups differently for repeated cross-validation (not merely
number the same folds differently).  The folds depend only on the group labels, through which
rows share a label, and on the seed: never on the values of ``X`` or ``y``, nor on what the
labels are.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np


def _encode_groups(groups: np.ndarray) -> tuple[np.ndarray, int]:
    """Label each row with its group's rank in order of first appearance: 0, 1, 2, ..."""
    _, first_row, inverse = np.unique(groups, return_index=True, return_inverse=True)
    rank = np.empty(first_row.size, dtype=np.int64)
    rank[np.argsort(first_row, kind="stable")] = np.arange(first_row.size)
    return rank[inverse.reshape(-1)], first_row.size


class GroupKFold:
    """K-fold iterator whose folds never split a group.

    Args:
        n_splits: number of folds, at least 2 and at most the number of distinct groups.
        shuffle: visit the groups in a seeded random order instead of order of appearance.
        seed: seed of the shuffle; the same seed always gives the same folds.
    """

    def __init__(self, n_splits: int = 5, shuffle: bool = False, seed: int | None = None) -> None:
        if n_splits < 2:
            raise ValueError(f"n_splits must be at least 2, got {n_splits}")
        self.n_splits = n_splits
        self.shuffle = shuffle
        self.seed = seed

    def get_n_splits(self) -> int:
        return self.n_splits

    def split(
        self, X: np.ndarray | Sequence, y: np.ndarray | Sequence | None = None, groups=None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train_idx, val_idx)`` row indices for each of the ``n_splits`` folds.

        ``groups`` holds one hashable, sortable label per row (ints, strings, ...); a group may
        have a single row.  Indices refer to rows of ``X`` as passed and come sorted.  Each row
        is in the validation indices of exactly one fold and in the training indices of the
        others, so all rows of a group are on the same side in every fold.  Raises
        ``ValueError`` when there are fewer distinct groups than folds.
        """
        if groups is None:
            raise ValueError("GroupKFold needs the `groups` argument")
        groups = np.asarray(groups)
        n_rows = len(X)
        if groups.shape != (n_rows,):
            raise ValueError(f"groups has shape {groups.shape}, expected ({n_rows},)")
        if y is not None and len(y) != n_rows:
            raise ValueError(f"X has {n_rows} rows but y has {len(y)}")

        order = np.arange(n_rows)
        if self.shuffle:
            order = np.random.default_rng(self.seed).permutation(n_rows)
        group_of_row, n_groups = _encode_groups(groups[order])
        if n_groups < self.n_splits:
            raise ValueError(f"cannot make {self.n_splits} folds from {n_groups} groups")

        fold_of_group = self._assign_folds(np.bincount(group_of_row, minlength=n_groups))
        fold_of_row = fold_of_group[group_of_row]
        for fold in range(self.n_splits):
            in_val = fold_of_row == fold
            yield np.flatnonzero(~in_val), np.flatnonzero(in_val)

    def _assign_folds(self, group_sizes: np.ndarray) -> np.ndarray:
        """Greedy balancing: each group, in turn, joins the fold with the fewest rows so far."""
        fold_rows = np.zeros(self.n_splits, dtype=np.int64)
        fold_of_group = np.empty(group_sizes.size, dtype=np.int64)
        for group, size in enumerate(group_sizes):
            fold = int(np.argmin(fold_rows))
            fold_of_group[group] = fold
            fold_rows[fold] += size
        return fold_of_group
