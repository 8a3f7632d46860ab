"""Holdout properties: the documented greedy rule, label-invariance, no leak for any seed."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from grader.grading.boundary import candidate

cv = candidate("harness")

_STRING_LABEL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=5)
_SPARSE_ID = st.integers(-(10**6), 10**6)


@st.composite
def grouped_rows(draw):
    n_splits = draw(st.integers(2, 4))
    n_groups = draw(st.integers(n_splits, n_splits + 5))
    label = draw(st.sampled_from([_STRING_LABEL, _SPARSE_ID]))
    labels = draw(st.lists(label, min_size=n_groups, max_size=n_groups, unique=True))
    sizes = draw(st.lists(st.integers(1, 5), min_size=n_groups, max_size=n_groups))
    rows = np.repeat(np.asarray(labels), sizes)
    order = draw(st.permutations(range(rows.size)))
    return rows[np.asarray(order)], n_splits


def _folds(groups, n_splits, shuffle, seed=0, X=None, y=None):
    X = np.zeros((len(groups), 3)) if X is None else X
    # The labels cross as a list (NumPy arrays of strings cannot); the subject rebuilds the array.
    folds = cv.split(X, groups.tolist(), n_splits, shuffle=shuffle, seed=seed, y=y)
    return [(np.asarray(tr), np.asarray(va)) for tr, va in folds]


def _greedy_oracle(groups, n_splits):
    """Brute force of the documented rule: groups in order of first appearance, each to the
    fold with the fewest rows so far (lowest fold index on ties)."""
    seen = []
    for g in groups.tolist():
        if g not in seen:
            seen.append(g)
    load = [0] * n_splits
    val = [[] for _ in range(n_splits)]
    for g in seen:
        rows = [i for i, h in enumerate(groups.tolist()) if h == g]
        fold = load.index(min(load))
        load[fold] += len(rows)
        val[fold].extend(rows)
    return [sorted(v) for v in val]


@given(grouped_rows())
def test_unshuffled_folds_follow_the_greedy_rule(case):
    groups, n_splits = case
    want = _greedy_oracle(groups, n_splits)
    got = [sorted(val.tolist()) for _, val in _folds(groups, n_splits, shuffle=False)]
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g == w, (
            f"shuffle=False, fold {k}: validation rows {g}, the greedy rule (groups in order of "
            f"first appearance, each to the lightest fold) gives {w}"
        )


@given(grouped_rows(), st.booleans(), st.integers(0, 2**16))
def test_folds_do_not_depend_on_label_values(case, shuffle, seed):
    groups, n_splits = case
    uniques = list(dict.fromkeys(groups.tolist()))
    rename = {g: f"subject-{len(uniques) - i:03d}" for i, g in enumerate(uniques)}
    renamed = np.asarray([rename[g] for g in groups.tolist()])
    a = _folds(groups, n_splits, shuffle=shuffle, seed=seed)
    b = _folds(renamed, n_splits, shuffle=shuffle, seed=seed)
    for k, ((_, va), (_, vb)) in enumerate(zip(a, b, strict=True)):
        assert np.array_equal(np.sort(va), np.sort(vb)), (
            f"fold {k} (shuffle={shuffle}, seed={seed}) changed when the group labels were "
            f"renamed one-to-one: {np.sort(va).tolist()} vs {np.sort(vb).tolist()}"
        )


@given(grouped_rows())
def test_no_leak_and_whole_groups_for_many_seeds(case):
    groups, n_splits = case
    all_groups = set(groups.tolist())
    for seed in range(8):
        val_groups = []
        for k, (train, val) in enumerate(_folds(groups, n_splits, shuffle=True, seed=seed)):
            shared = set(groups[train].tolist()) & set(groups[val].tolist())
            assert not shared, f"seed={seed}, fold {k}: groups {sorted(shared)[:5]} on both sides"
            val_groups.append(set(groups[val].tolist()))
        total = sum(len(v) for v in val_groups)
        assert total == len(all_groups) and set().union(*val_groups) == all_groups, (
            f"seed={seed}: validation folds hold {total} group slots for {len(all_groups)} "
            f"groups; each group must be validated in exactly one fold"
        )


@given(grouped_rows(), st.integers(0, 2**16))
def test_folds_ignore_feature_and_label_values(case, seed):
    groups, n_splits = case
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(len(groups), 3))
    y = rng.integers(0, 2, size=len(groups))
    a = _folds(groups, n_splits, shuffle=True, seed=seed)
    b = _folds(groups, n_splits, shuffle=True, seed=seed, X=X, y=y)
    for k, ((ta, va), (tb, vb)) in enumerate(zip(a, b, strict=True)):
        assert np.array_equal(va, vb) and np.array_equal(ta, tb), (
            f"fold {k} changed with the values of X and y; only groups and seed may matter"
        )


@given(st.integers(2, 5), st.integers(0, 3), st.booleans(), st.integers(0, 2**16))
def test_fewer_groups_than_folds_raises(n_splits, missing, shuffle, seed):
    n_groups = max(1, n_splits - 1 - missing)
    groups = np.repeat(np.asarray([f"P{i:03d}" for i in range(n_groups)]), 3)
    try:
        folds = _folds(groups, n_splits, shuffle=shuffle, seed=seed)
    except ValueError:
        return
    raise AssertionError(
        f"{n_groups} distinct groups cannot make {n_splits} folds, yet split() gave "
        f"{len(folds)} folds instead of raising ValueError"
    )


@given(st.integers(2, 4), st.integers(3, 9))
def test_one_row_per_group_still_reshuffles_with_the_seed(n_splits, extra):
    groups = np.asarray([f"S{i:02d}" for i in range(n_splits + extra)])
    partitions = set()
    for seed in range(10):
        folds = _folds(groups, n_splits, shuffle=True, seed=seed)
        counts = np.zeros(len(groups), dtype=int)
        for train, val in folds:
            counts[val] += 1
            assert np.intersect1d(train, val).size == 0, f"seed={seed}: a row is on both sides"
        assert np.all(counts == 1), f"seed={seed}: rows validated {counts.tolist()} times"
        partitions.add(frozenset(frozenset(val.tolist()) for _, val in folds))
    assert len(partitions) > 1, (
        f"{len(groups)} groups of one row each, {n_splits} folds: all 10 seeds give the same "
        f"validation folds; shuffle=True must change which groups are validated together"
    )


@given(grouped_rows(), st.booleans(), st.integers(0, 2**16))
def test_indices_come_sorted(case, shuffle, seed):
    groups, n_splits = case
    for k, (train, val) in enumerate(_folds(groups, n_splits, shuffle=shuffle, seed=seed)):
        for side, idx in (("train", train), ("validation", val)):
            assert np.all(np.diff(idx) > 0), (
                f"fold {k} (shuffle={shuffle}, seed={seed}): {side} indices "
                f"{idx[:8].tolist()}... are not sorted; split() documents sorted row indices"
            )
