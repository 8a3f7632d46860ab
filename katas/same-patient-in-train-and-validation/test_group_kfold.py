"""Property tests for GroupKFold: groups never straddle train and validation."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from grader.grading.boundary import candidate

cv = candidate("harness")  # GroupKFold, run in the subject process

_STRING_LABEL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=6)
_SPARSE_ID = st.integers(-(10**6), 10**6)


@st.composite
def grouped_rows(draw, extra_groups=0):
    """(groups, n_splits): arbitrary labels (strings or sparse ints), 1-4 rows per group,
    rows of a group scattered through the table."""
    n_splits = draw(st.integers(2, 4))
    n_groups = draw(st.integers(n_splits + extra_groups, n_splits + extra_groups + 4))
    label = draw(st.sampled_from([_STRING_LABEL, _SPARSE_ID]))
    labels = draw(st.lists(label, min_size=n_groups, max_size=n_groups, unique=True))
    sizes = draw(st.lists(st.integers(1, 4), min_size=n_groups, max_size=n_groups))
    rows = np.repeat(np.asarray(labels), sizes)
    order = draw(st.permutations(range(rows.size)))
    return rows[np.asarray(order)], n_splits


def _folds(groups, n_splits, shuffle=True, seed=0):
    X = np.zeros((len(groups), 2))
    # The labels cross as a list (NumPy arrays of strings cannot); the subject rebuilds the array.
    folds = cv.split(X, groups.tolist(), n_splits, shuffle=shuffle, seed=seed)
    return [(np.asarray(tr), np.asarray(va)) for tr, va in folds]


@given(grouped_rows(), st.integers(0, 2**16))
def test_no_group_in_train_and_validation(case, seed):
    groups, n_splits = case
    for k, (train, val) in enumerate(_folds(groups, n_splits, seed=seed)):
        shared = sorted(set(groups[train].tolist()) & set(groups[val].tolist()))
        assert not shared, (
            f"fold {k} (n_splits={n_splits}, shuffle=True, seed={seed}): groups {shared[:5]} "
            f"have rows in both train ({train.size} rows) and validation ({val.size} rows)"
        )


@given(grouped_rows(), st.integers(0, 2**16))
def test_each_group_is_validated_in_one_fold(case, seed):
    groups, n_splits = case
    fold_of_row = np.full(len(groups), -1)
    for k, (_, val) in enumerate(_folds(groups, n_splits, seed=seed)):
        fold_of_row[val] = k
    for label in np.unique(groups).tolist():
        rows = np.flatnonzero(groups == label)
        folds = sorted(set(fold_of_row[rows].tolist()))
        assert len(folds) == 1, (
            f"group {label!r} has its {rows.size} rows {rows.tolist()} validated in folds "
            f"{folds} (shuffle=True, seed={seed}); a group's rows must stay together"
        )


@given(grouped_rows(), st.booleans(), st.integers(0, 2**16))
def test_validation_folds_partition_the_rows(case, shuffle, seed):
    groups, n_splits = case
    counts = np.zeros(len(groups), dtype=int)
    for _, val in _folds(groups, n_splits, shuffle=shuffle, seed=seed):
        counts[val] += 1
    bad = np.flatnonzero(counts != 1)
    assert bad.size == 0, (
        f"rows {bad[:8].tolist()} are validated {counts[bad[:8]].tolist()} times "
        f"(shuffle={shuffle}); every row must be validated exactly once"
    )


@given(grouped_rows(), st.booleans(), st.integers(0, 2**16))
def test_train_is_the_complement_of_validation(case, shuffle, seed):
    groups, n_splits = case
    everything = np.arange(len(groups))
    for k, (train, val) in enumerate(_folds(groups, n_splits, shuffle=shuffle, seed=seed)):
        want = np.setdiff1d(everything, val)
        assert train.size == want.size and np.array_equal(np.sort(train), want), (
            f"fold {k}: train has {train.size} rows, the complement of its {val.size} "
            f"validation rows has {want.size} (shuffle={shuffle}); train must be exactly the rest"
        )


@given(grouped_rows(), st.booleans(), st.integers(0, 2**16))
def test_fold_count_and_balance(case, shuffle, seed):
    groups, n_splits = case
    folds = _folds(groups, n_splits, shuffle=shuffle, seed=seed)
    assert len(folds) == n_splits, f"got {len(folds)} folds, asked for {n_splits}"
    n_val_groups = [np.unique(groups[val]).size for _, val in folds]
    assert min(n_val_groups) >= 1, f"a validation fold is empty: groups per fold {n_val_groups}"
    sizes = [val.size for _, val in folds]
    largest_group = np.unique(groups, return_counts=True)[1].max()
    assert max(sizes) - min(sizes) <= largest_group, (
        f"validation fold sizes {sizes} differ by {max(sizes) - min(sizes)} rows, more than "
        f"the largest group ({largest_group} rows): folds are not balanced"
    )


@given(grouped_rows(), st.integers(0, 2**16))
def test_same_seed_gives_the_same_folds(case, seed):
    groups, n_splits = case
    first = _folds(groups, n_splits, seed=seed)
    again = _folds(groups.copy(), n_splits, seed=seed)
    for k, ((tr1, va1), (tr2, va2)) in enumerate(zip(first, again, strict=True)):
        assert np.array_equal(va1, va2) and np.array_equal(tr1, tr2), (
            f"fold {k} differs between two runs with seed={seed}: validation rows "
            f"{va1.tolist()} vs {va2.tolist()}"
        )


@given(grouped_rows(extra_groups=2))
def test_shuffle_seed_changes_the_assignment(case):
    groups, n_splits = case
    seen = set()
    for seed in range(20):
        folds = _folds(groups, n_splits, seed=seed)
        # The partition of the rows into validation folds, whatever the folds' numbering.
        seen.add(frozenset(frozenset(val.tolist()) for _, val in folds))
    n_groups = np.unique(groups).size
    assert len(seen) > 1, (
        f"shuffle=True split the rows into the same {n_splits} validation folds for all 20 "
        f"seeds ({n_groups} groups); the seed must change which groups are validated together"
    )
