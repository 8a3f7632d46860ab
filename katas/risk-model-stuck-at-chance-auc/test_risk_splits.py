"""Customer-level splits (risk_splits.py) on synthetic tables whose rows come in any order.

Customer ids are strings or sparse integers (sent as lists); a table holds several customers
with more than one row, their rows interleaved as in an export ordered by month.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.grading.boundary import candidate

pipeline = candidate("harness")  # the splits, run in the subject process

FAST = settings(deadline=None)  # first calls can be slow; phases come from the profile
SEEDS = st.integers(0, 2**32 - 1)
FRACTIONS = st.sampled_from([0.1, 0.2, 0.25, 0.3, 0.5])
ID_KINDS = st.sampled_from(["strings", "sparse-ints"])


def customer_table(seed: int, n_customers: int, id_kind: str) -> np.ndarray:
    """One customer id per row, rows in a random order: every customer has 1 to 8 rows and
    at least four have two or more."""
    rng = np.random.default_rng(seed)
    rows_per_customer = rng.integers(1, 9, size=n_customers)
    rows_per_customer[:4] = np.maximum(rows_per_customer[:4], 2)
    if id_kind == "strings":
        ids = np.array([f"C{i:05d}" for i in rng.choice(100_000, n_customers, replace=False)])
    else:
        ids = rng.choice(10**9, n_customers, replace=False)
    groups = np.repeat(ids, rows_per_customer)
    return groups[rng.permutation(len(groups))]


def expected_held_out(n_customers: int, val_fraction: float) -> int:
    return min(max(round(val_fraction * n_customers), 1), n_customers - 1)


def _where(groups: np.ndarray, rows: np.ndarray) -> Counter:
    return Counter(groups[rows].tolist())


def check_whole_customers(groups, train, val, what: str) -> None:
    in_train, in_val = _where(groups, train), _where(groups, val)
    shared = sorted(set(in_train) & set(in_val))
    if shared:
        c = shared[0]
        raise AssertionError(
            f"{what}: {len(shared)} of {len(set(groups.tolist()))} customers have rows on both "
            f"sides, e.g. customer {c!r} with {in_train[c]} rows in training and {in_val[c]} "
            "in validation"
        )


@FAST
@given(seed=SEEDS, n_customers=st.integers(6, 40), val_fraction=FRACTIONS, id_kind=ID_KINDS)
def test_no_customer_has_rows_in_training_and_validation(seed, n_customers, val_fraction, id_kind):
    groups = customer_table(seed, n_customers, id_kind)
    got = pipeline.split(groups.tolist(), val_fraction, seed % 1000)
    check_whole_customers(groups, got["train"], got["val"], f"val_fraction={val_fraction}")


@FAST
@given(seed=SEEDS, n_customers=st.integers(6, 40), val_fraction=FRACTIONS, id_kind=ID_KINDS)
def test_validation_is_every_row_of_the_held_out_customers(
    seed, n_customers, val_fraction, id_kind
):
    groups = customer_table(seed, n_customers, id_kind)
    val = pipeline.split(groups.tolist(), val_fraction, seed % 1000)["val"]
    held_out = set(groups[val].tolist())
    want = expected_held_out(n_customers, val_fraction)
    assert len(held_out) == want, (
        f"{n_customers} customers, val_fraction={val_fraction}: validation rows belong to "
        f"{len(held_out)} customers, expected {want} held-out customers"
    )
    rows_of_held_out = int(np.isin(groups, list(held_out)).sum())
    assert len(val) == rows_of_held_out, (
        f"the {want} customers in validation have {rows_of_held_out} rows in the table, but "
        f"validation has {len(val)}"
    )


@FAST
@given(seed=SEEDS, n_customers=st.integers(6, 30), n_folds=st.integers(2, 5), id_kind=ID_KINDS)
def test_each_customer_is_validated_in_exactly_one_fold(seed, n_customers, n_folds, id_kind):
    groups = customer_table(seed, n_customers, id_kind)
    all_folds = pipeline.folds(groups.tolist(), n_folds, seed % 1000)
    assert len(all_folds) == n_folds, f"asked for {n_folds} folds, got {len(all_folds)}"
    times_validated = np.zeros(len(groups), dtype=int)
    for k, fold in enumerate(all_folds):
        check_whole_customers(groups, fold["train"], fold["val"], f"fold {k} of {n_folds}")
        times_validated[fold["val"]] += 1
    bad = np.flatnonzero(times_validated != 1)
    assert len(bad) == 0, (
        f"{n_folds} folds: {len(bad)} of {len(groups)} rows are validated in "
        f"{times_validated[bad[0]]} folds instead of exactly one (row {bad[0]})"
    )
    sizes = [len(set(groups[fold["val"]].tolist())) for fold in all_folds]
    assert max(sizes) - min(sizes) <= 1, f"customers per fold {sizes} differ by more than one"


@FAST
@given(seed=SEEDS, n_customers=st.integers(2, 40), val_fraction=FRACTIONS, id_kind=ID_KINDS)
def test_split_is_a_sorted_partition_of_the_rows(seed, n_customers, val_fraction, id_kind):
    groups = customer_table(seed, n_customers, id_kind)
    got = pipeline.split(groups.tolist(), val_fraction, seed % 1000)
    train, val = np.asarray(got["train"]), np.asarray(got["val"])
    for name, idx in (("train", train), ("val", val)):
        assert np.array_equal(idx, np.unique(idx)), f"{name} indices are not sorted and distinct"
    both = np.concatenate([train, val])
    assert len(val) > 0 and len(train) > 0, f"{len(train)} training and {len(val)} validation rows"
    assert np.array_equal(np.sort(both), np.arange(len(groups))), (
        f"train ({len(train)}) and validation ({len(val)}) rows do not partition the "
        f"{len(groups)} rows of the table"
    )


@FAST
@given(seed=SEEDS, n_customers=st.integers(6, 40), id_kind=ID_KINDS)
def test_split_repeats_for_a_seed_and_changes_with_it(seed, n_customers, id_kind):
    groups = customer_table(seed, n_customers, id_kind)
    first = pipeline.split(groups.tolist(), 0.3, 7)
    again = pipeline.split(groups.tolist(), 0.3, 7)
    assert np.array_equal(first["val"], again["val"]), "the same seed gave different splits"
    vals = {tuple(pipeline.split(groups.tolist(), 0.3, s)["val"].tolist()) for s in range(6)}
    assert len(vals) > 1, f"seeds 0-5 all hold out the same rows of {n_customers} customers"


@FAST
@given(seed=SEEDS, n_customers=st.integers(4, 20), n_folds=st.integers(2, 4))
def test_fold_training_rows_are_the_rest_of_the_table(seed, n_customers, n_folds):
    groups = customer_table(seed, n_customers, "strings")
    for k, fold in enumerate(pipeline.folds(groups.tolist(), n_folds, seed % 1000)):
        rest = np.setdiff1d(np.arange(len(groups)), fold["val"])
        assert np.array_equal(fold["train"], rest), (
            f"fold {k}: training rows are not the table's rows outside validation"
        )


def test_split_rejects_fractions_outside_zero_one():
    for val_fraction in (0.0, 1.0, -0.2, 1.5):
        with pytest.raises(ValueError):
            pipeline.split(["a", "a", "b", "c"], val_fraction, 0)


def test_summary_counts_rows_customers_and_positive_rate():
    groups = ["b", "a", "b", "c", "a", "b"]
    got = pipeline.summary(groups, np.array([1, 0, 0, 1, 1, 0]), np.array([0, 2, 3]))
    assert got == {"rows": 3, "customers": 2, "positive_rate": 2 / 3}, f"summary {got}"
