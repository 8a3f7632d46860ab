"""Property tests for the grouped K-fold splitter.

Groups are drawn by hypothesis: string or sparse integer labels, sizes from 1 row to a few
dominant groups of 10-20 rows, and rows of a group scattered through the table.  Every
property is one line of the module docstring.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from grader.grading.boundary import candidate

cv = candidate("grouped_folds")  # grouped_kfold takes a list of labels and returns arrays

_STRING = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=6)
_SPARSE_INT = st.integers(-(10**6), 10**6)


@st.composite
def grouped_rows(draw, max_extra_groups: int = 6):
    """(labels, n_splits): one label per row, rows of a group scattered through the table."""
    n_splits = draw(st.integers(2, 5))
    n_groups = draw(st.integers(n_splits, n_splits + max_extra_groups))
    labels = draw(
        st.lists(
            draw(st.sampled_from([_STRING, _SPARSE_INT])),
            min_size=n_groups,
            max_size=n_groups,
            unique=True,
        )
    )
    small = st.integers(1, 5)
    sizes = draw(st.lists(small | st.integers(10, 20), min_size=n_groups, max_size=n_groups))
    rows = [label for label, size in zip(labels, sizes, strict=True) for _ in range(size)]
    order = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).permutation(len(rows))
    return [rows[i] for i in order], n_splits


def split(labels: list, n_splits: int, shuffle: bool = False, seed: int | None = None):
    return [
        (np.asarray(tr), np.asarray(va))
        for tr, va in cv.grouped_kfold(labels, n_splits, shuffle, seed)
    ]


def group_sets(labels: list, folds) -> list[frozenset]:
    arr = np.asarray(labels, dtype=object)
    return [frozenset(arr[val].tolist()) for _, val in folds]


def sizes_of(labels: list) -> dict:
    out: dict = {}
    for label in labels:
        out[label] = out.get(label, 0) + 1
    return out


def where(labels: list, n_splits: int, shuffle: bool, seed) -> str:
    return (
        f"{len(labels)} rows in {len(set(labels))} groups, n_splits={n_splits}, "
        f"shuffle={shuffle}, seed={seed}"
    )


modes = st.tuples(st.booleans(), st.integers(0, 2**16))


@given(grouped_rows(), modes)
def test_no_group_is_in_train_and_validation(case, mode):
    labels, n_splits = case
    shuffle, seed = mode
    arr = np.asarray(labels, dtype=object)
    for k, (train, val) in enumerate(split(labels, n_splits, shuffle, seed)):
        shared = set(arr[train].tolist()) & set(arr[val].tolist())
        assert not shared, (
            f"{where(labels, n_splits, shuffle, seed)}: fold {k} has groups "
            f"{sorted(map(str, shared))[:4]} in both train and validation"
        )


@given(grouped_rows(), modes)
def test_folds_partition_the_rows(case, mode):
    labels, n_splits = case
    shuffle, seed = mode
    folds = split(labels, n_splits, shuffle, seed)
    what = where(labels, n_splits, shuffle, seed)
    assert len(folds) == n_splits, f"{what}: {len(folds)} folds"
    times = np.zeros(len(labels), dtype=int)
    for k, (train, val) in enumerate(folds):
        for name, idx in (("train", train), ("validation", val)):
            assert idx.dtype == np.int64 and np.all(np.diff(idx) > 0), (
                f"{what}: fold {k}'s {name} indices are not sorted unique int64 (dtype {idx.dtype})"
            )
        complement = np.setdiff1d(np.arange(len(labels)), val)
        assert np.array_equal(train, complement), (
            f"{what}: fold {k}'s training rows are not the complement of its validation rows"
        )
        times[val] += 1
    bad = np.flatnonzero(times != 1)
    assert bad.size == 0, (
        f"{what}: row {int(bad[0])} is validated {int(times[bad[0]])} times, expected once"
    )


@given(grouped_rows(), modes)
def test_every_fold_validates_a_group(case, mode):
    labels, n_splits = case
    shuffle, seed = mode
    sizes = [len(val) for _, val in split(labels, n_splits, shuffle, seed)]
    assert min(sizes) > 0, (
        f"{where(labels, n_splits, shuffle, seed)}: validation folds have {sizes} rows"
    )


@given(grouped_rows(), modes)
def test_folds_are_balanced_within_the_largest_group(case, mode):
    labels, n_splits = case
    shuffle, seed = mode
    sizes = [len(val) for _, val in split(labels, n_splits, shuffle, seed)]
    largest = max(sizes_of(labels).values())
    assert max(sizes) - min(sizes) <= largest, (
        f"{where(labels, n_splits, shuffle, seed)}: validation folds have {sizes} rows, a "
        f"spread of {max(sizes) - min(sizes)} > {largest} (the largest group)"
    )


@given(grouped_rows(), st.integers(0, 2**32 - 1), st.integers(0, 2**16))
def test_without_shuffle_folds_ignore_row_order_and_seed(case, perm_seed, seed):
    labels, n_splits = case
    permuted = [labels[i] for i in np.random.default_rng(perm_seed).permutation(len(labels))]
    base = group_sets(labels, split(labels, n_splits, False, None))
    for other_labels, other_seed, change in (
        (permuted, None, "permuting the rows"),
        (labels, seed, f"passing seed={seed}"),
    ):
        other = group_sets(other_labels, split(other_labels, n_splits, False, other_seed))
        assert other == base, (
            f"{where(labels, n_splits, False, None)}: {change} changed which groups each fold "
            "validates"
        )


@given(grouped_rows(), st.integers(0, 2**32 - 1), st.integers(0, 2**16))
def test_shuffled_folds_repeat_for_a_seed_and_ignore_row_order(case, perm_seed, seed):
    labels, n_splits = case
    first = split(labels, n_splits, True, seed)
    again = split(labels, n_splits, True, seed)
    same = all(np.array_equal(a[1], b[1]) for a, b in zip(first, again, strict=True))
    assert same, f"{where(labels, n_splits, True, seed)}: two calls gave different folds"
    permuted = [labels[i] for i in np.random.default_rng(perm_seed).permutation(len(labels))]
    moved = group_sets(permuted, split(permuted, n_splits, True, seed))
    assert moved == group_sets(labels, first), (
        f"{where(labels, n_splits, True, seed)}: permuting the rows changed which groups each "
        "fold validates"
    )


def test_shuffle_changes_which_groups_share_a_fold():
    for n_splits, labels in (
        (2, [f"g{i}" for i in range(4)]),
        (3, [10 * i for i in range(6)]),
        (4, [f"site-{i}" for i in range(8)]),
    ):
        rows = [label for label in labels for _ in range(3)]
        together = {pair: 0 for pair in itertools.combinations(range(len(labels)), 2)}
        n_seeds = 60
        for seed in range(n_seeds):
            fold_of = {}
            for k, group_set in enumerate(group_sets(rows, split(rows, n_splits, True, seed))):
                for label in group_set:
                    fold_of[labels.index(label)] = k
            for a, b in together:
                together[a, b] += fold_of[a] == fold_of[b]
        (a, b), n = min(together.items(), key=lambda item: item[1])
        (c, d), m = max(together.items(), key=lambda item: item[1])
        assert n > 0 and m < n_seeds, (
            f"{len(labels)} equal groups, n_splits={n_splits}, shuffle=True over seeds 0-"
            f"{n_seeds - 1}: groups {labels[a]!r} and {labels[b]!r} share a fold in {n} seeds, "
            f"{labels[c]!r} and {labels[d]!r} in {m}: the partition does not vary with the seed"
        )


def test_invalid_n_splits_raise_value_error():
    labels = ["a", "a", "b", "c", "c", "c"]
    for n_splits in (1, 0, 4):
        with pytest.raises(ValueError):
            cv.grouped_kfold(labels, n_splits, False, None)
            pytest.fail(f"n_splits={n_splits} with 3 groups raised no ValueError")
