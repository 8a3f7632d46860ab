"""Leakage-free K-fold cross-validation for grouped data.

Our datasets have several rows per subject (patients with repeated visits, users with many
sessions, sites with many sensors).  A model validated on rows of subjects it was trained on
is rewarded for recognising subjects, so every split keeps each group whole.
:func:`grouped_kfold` promises:

* every group's rows are in the validation set of exactly one fold and in the training set
  of every other fold; a fold's training indices are the complement of its validation
  indices; indices are sorted int64 arrays;
* every fold validates at least one group; ``2 <= n_splits <= number of groups``, else
  ValueError;
* balance: the validation folds' row counts differ by at most the size of the largest group;
* the assignment of groups to folds never depends on the order of the rows;
* without ``shuffle`` it depends on the groups alone (not on ``seed``); with ``shuffle=True``
  it is drawn at random from ``seed``: the same seed gives the same folds (in every run of
  a script, not only within one process), and over seeds any two groups sometimes share a
  validation fold and sometimes do not.

Group labels are any hashable, mutually comparable values (ints, strings).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

Fold = tuple[np.ndarray, np.ndarray]


def check_groups(groups: Sequence | np.ndarray, n_rows: int | None = None) -> np.ndarray:
    """The labels as a 1-d array; ValueError if empty, not 1-d or not ``n_rows`` long."""
    labels = np.asarray(groups)
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError(f"groups must be a non-empty 1-d sequence, got shape {labels.shape}")
    if n_rows is not None and labels.size != n_rows:
        raise ValueError(f"{labels.size} group labels for {n_rows} rows")
    return labels


def grouped_kfold(
    groups: Sequence | np.ndarray,
    n_splits: int = 5,
    shuffle: bool = False,
    seed: int | None = None,
) -> list[Fold]:
    """``n_splits`` folds ``(train_indices, validation_indices)`` over the rows labelled by
    ``groups``, following the module docstring."""
    raise NotImplementedError


def fold_sizes(folds: list[Fold]) -> list[int]:
    """Validation rows per fold, for the run log."""
    return [len(val) for _, val in folds]


def fold_report(groups: Sequence | np.ndarray, folds: list[Fold]) -> list[dict]:
    """Per fold: validation rows and groups, training rows (what the CV dashboard shows)."""
    labels = check_groups(groups)
    return [
        {
            "fold": k,
            "val_rows": len(val),
            "val_groups": len(np.unique(labels[val])),
            "train_rows": len(train),
        }
        for k, (train, val) in enumerate(folds)
    ]


class GroupKFold:
    """The scikit-learn-style splitter the training scripts use: ``split`` yields the folds
    of :func:`grouped_kfold` for the rows of ``X``."""

    def __init__(self, n_splits: int = 5, shuffle: bool = False, seed: int | None = None) -> None:
        if n_splits < 2:
            raise ValueError(f"n_splits must be at least 2, got {n_splits}")
        self.n_splits = n_splits
        self.shuffle = shuffle
        self.seed = seed

    def get_n_splits(self) -> int:
        return self.n_splits

    def split(self, X: Sequence | np.ndarray, y=None, groups=None) -> Iterator[Fold]:
        if groups is None:
            raise ValueError("GroupKFold needs the `groups` argument")
        labels = check_groups(groups, len(X))
        if y is not None and len(y) != len(X):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
        yield from grouped_kfold(labels, self.n_splits, self.shuffle, self.seed)
