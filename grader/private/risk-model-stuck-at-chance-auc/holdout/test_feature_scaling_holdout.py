"""Holdout checks of the fold's preprocessing (never shown to the candidate): other
fractions, every column logged, columns constant on the training rows only."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from test_risk_features import FAST, SEEDS, TOL, oracle, pipeline, risk_table, worst


@FAST
@given(seed=SEEDS, n_customers=st.integers(4, 30), val_fraction=st.sampled_from([0.1, 0.5]))
def test_every_column_logged_at_other_fractions(seed, n_customers, val_fraction):
    X, y, groups, _ = risk_table(seed, n_customers, 3, 0.15)
    X = np.abs(X)
    log_columns = (0, 1, 2)
    got = pipeline.fold(X, y, groups, val_fraction, seed % 50, log_columns)
    train = got["train_idx"]
    mean, scale, Z = oracle(X[train], X, log_columns)
    for name, want in (("mean", mean), ("scale", scale), ("X_train", Z[train]),
                       ("X_val", Z[got["val_idx"]])):  # fmt: skip
        gap, col = worst(got[name], want)
        assert gap <= TOL, f"val_fraction={val_fraction}: {name} column {col} off by {gap:.3e}"


@FAST
@given(seed=SEEDS, n_customers=st.integers(4, 25))
def test_column_constant_on_the_training_rows_keeps_scale_one(seed, n_customers):
    X, y, groups, log_columns = risk_table(seed, n_customers, 3, 0.0)
    split = pipeline.split(groups, 0.3, seed % 50)
    X[split["train"], 2] = 12.0
    X[split["val"], 2] = 12.0 + np.arange(len(split["val"]))
    got = pipeline.fold(X, y, groups, 0.3, seed % 50, log_columns)
    _, scale, Z = oracle(X[split["train"]], X, log_columns)
    assert got["scale"][2] == scale[2], (
        f"column 2 is constant on the training rows: scale {got['scale'][2]:.6g}, expected "
        f"{scale[2]:.6g}"
    )
    for name, rows in (("X_train", split["train"]), ("X_val", split["val"])):
        gap, col = worst(got[name], Z[rows])
        assert gap <= TOL, f"{name} column {col} off by {gap:.3e}"


@FAST
@given(seed=SEEDS, n_customers=st.integers(4, 25))
def test_missing_validation_values_are_imputed_with_the_training_mean(seed, n_customers):
    X, y, groups, log_columns = risk_table(seed, n_customers, 4, 0.05)
    split = pipeline.split(groups, 0.3, seed % 50)
    X[split["val"][::2], :] = np.nan
    got = pipeline.fold(X, y, groups, 0.3, seed % 50, log_columns)
    _, _, Z = oracle(X[split["train"]], X, log_columns)
    gap, col = worst(got["X_val"], Z[split["val"]])
    assert gap <= TOL, f"X_val column {col} (half the rows missing) off by {gap:.3e}"
    assert not np.isnan(got["X_val"]).any(), "missing values left in X_val"
