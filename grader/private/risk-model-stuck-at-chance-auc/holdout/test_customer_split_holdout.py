"""Holdout checks of the customer split (never shown to the candidate): a table laid out like
the monthly export, ids of every kind, leave-one-customer-out folds."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from test_risk_splits import FAST, SEEDS, check_whole_customers, expected_held_out, pipeline


def monthly_export(seed: int, n_customers: int) -> list[str]:
    """Customer ids of an export ordered by month: each customer active for a stretch of
    months, one row per active month."""
    rng = np.random.default_rng(seed)
    start = rng.integers(0, 6, n_customers)
    months = rng.integers(1, 10, n_customers)
    rows = []
    for month in range(int((start + months).max())):
        rows += [f"K{c}" for c in range(n_customers) if start[c] <= month < start[c] + months[c]]
    return rows


@FAST
@given(seed=SEEDS, n_customers=st.integers(4, 60), val_fraction=st.sampled_from([0.2, 0.35]))
def test_monthly_export_keeps_customers_whole(seed, n_customers, val_fraction):
    groups = monthly_export(seed, n_customers)
    got = pipeline.split(groups, val_fraction, seed % 997)
    arr = np.array(groups)
    check_whole_customers(arr, got["train"], got["val"], f"monthly export, {n_customers} customers")
    held = set(arr[got["val"]].tolist())
    assert len(held) == expected_held_out(n_customers, val_fraction), (
        f"{len(held)} customers in validation, expected "
        f"{expected_held_out(n_customers, val_fraction)}"
    )
    assert len(got["val"]) == int(np.isin(arr, list(held)).sum()), (
        "validation does not hold every row of its customers"
    )


@FAST
@given(seed=SEEDS, n_customers=st.integers(3, 30), kind=st.sampled_from(["neg", "str"]))
def test_ids_of_any_kind_and_length(seed, n_customers, kind):
    rng = np.random.default_rng(seed)
    if kind == "neg":
        ids = [int(i) for i in rng.choice(np.arange(-(10**6), 10**6), n_customers, replace=False)]
    else:
        ids = ["x" * int(k) + str(i) for i, k in enumerate(rng.integers(0, 4, n_customers))]
    groups = [ids[i] for i in rng.integers(0, n_customers, 6 * n_customers)] + ids
    groups = [groups[i] for i in rng.permutation(len(groups))]
    got = pipeline.split(groups, 0.3, seed % 997)
    arr = np.array(groups)
    check_whole_customers(arr, got["train"], got["val"], f"{kind} ids")
    held = set(arr[got["val"]].tolist())
    assert len(held) == expected_held_out(n_customers, 0.3), f"{len(held)} held-out customers"


@FAST
@given(seed=SEEDS, n_customers=st.integers(2, 12))
def test_leave_one_customer_out(seed, n_customers):
    groups = monthly_export(seed, n_customers)
    arr = np.array(groups)
    all_folds = pipeline.folds(groups, n_customers, seed % 997)
    seen = []
    for k, fold in enumerate(all_folds):
        check_whole_customers(arr, fold["train"], fold["val"], f"fold {k}")
        customers = set(arr[fold["val"]].tolist())
        assert len(customers) == 1, f"fold {k} validates {len(customers)} customers, expected 1"
        (c,) = customers
        assert len(fold["val"]) == groups.count(c), f"fold {k} misses rows of customer {c}"
        seen.append(c)
    assert sorted(seen) == sorted(set(groups)), "some customer is never validated"
