"""Holdout properties for the grouped K-fold splitter (not shown to the candidate): many
groups and folds, as many folds as groups, NumPy integer labels, single-row groups, and
shuffled folds that differ between seeds on unequal groups."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from test_grouped_folds import group_sets, sizes_of, split, where

from grader.grading.boundary import candidate

cv = candidate("grouped_folds")


@given(st.integers(0, 2**32 - 1), st.integers(5, 12), st.booleans())
def test_many_groups_and_folds(seed, n_splits, shuffle):
    rng = np.random.default_rng(seed)
    n_groups = int(rng.integers(n_splits, 120))
    sizes = rng.choice([1, 2, 3, 8, 30], size=n_groups, p=[0.4, 0.25, 0.2, 0.1, 0.05])
    labels = [f"p{g:03d}" for g in range(n_groups) for _ in range(int(sizes[g]))]
    labels = [labels[i] for i in rng.permutation(len(labels))]
    folds = split(labels, n_splits, shuffle, seed)
    arr = np.asarray(labels, dtype=object)
    val_sizes = [len(val) for _, val in folds]
    what = where(labels, n_splits, shuffle, seed)
    assert max(val_sizes) - min(val_sizes) <= max(sizes_of(labels).values()), (
        f"{what}: validation folds have {val_sizes} rows"
    )
    assert min(val_sizes) > 0, f"{what}: an empty validation fold ({val_sizes})"
    for k, (train, val) in enumerate(folds):
        shared = set(arr[train].tolist()) & set(arr[val].tolist())
        assert not shared, f"{what}: fold {k} shares groups {sorted(shared)[:3]}"


@given(st.integers(2, 8), st.integers(0, 2**32 - 1), st.booleans())
def test_as_many_folds_as_groups(n, seed, shuffle):
    rng = np.random.default_rng(seed)
    labels = [int(g) for g in rng.integers(0, n, size=3 * n)] + list(range(n))
    labels = [labels[i] for i in rng.permutation(len(labels))]
    sets = group_sets(labels, split(labels, n, shuffle, seed))
    assert sorted(len(s) for s in sets) == [1] * n, (
        f"{n} groups in {n} folds: the folds validate {[len(s) for s in sets]} groups each"
    )


@given(st.integers(0, 2**32 - 1), st.integers(2, 4), st.booleans())
def test_numpy_integer_labels_give_the_same_folds_as_a_list(seed, n_splits, shuffle):
    rng = np.random.default_rng(seed)
    labels = rng.integers(-50, 50, size=int(rng.integers(n_splits * 3, 40)))
    while len(np.unique(labels)) < n_splits:
        labels = np.append(labels, labels.max() + 1)
    as_array = cv.grouped_kfold(labels, n_splits, shuffle, seed)
    as_list = cv.grouped_kfold(labels.tolist(), n_splits, shuffle, seed)
    same = all(
        np.array_equal(a[1], b[1]) and np.array_equal(a[0], b[0])
        for a, b in zip(as_array, as_list, strict=True)
    )
    assert same, f"{len(labels)} int64 labels: an array and a list give different folds"


@given(st.integers(0, 2**32 - 1), st.integers(2, 5), st.booleans())
def test_single_row_groups(seed, n_splits, shuffle):
    n = int(np.random.default_rng(seed).integers(n_splits, 30))
    labels = [f"row-{i}" for i in range(n)]
    sizes = [len(val) for _, val in split(labels, n_splits, shuffle, seed)]
    assert max(sizes) - min(sizes) <= 1 and sum(sizes) == n, (
        f"{n} single-row groups, n_splits={n_splits}: validation folds have {sizes} rows"
    )


def test_shuffle_varies_the_partition_of_unequal_groups():
    labels = [
        g
        for g, size in zip("abcdefghij", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], strict=True)
        for _ in range(size)
    ]
    partitions = {frozenset(group_sets(labels, split(labels, 3, True, seed))) for seed in range(20)}
    assert len(partitions) >= 5, (
        f"10 groups of 1-10 rows, n_splits=3, shuffle=True: only {len(partitions)} distinct "
        "partitions over 20 seeds"
    )
