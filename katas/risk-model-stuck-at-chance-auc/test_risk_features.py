"""Preprocessing (risk_features.py) against a float64 NumPy oracle of the documented transform:
log1p on the log columns, then (x - mean) / std over the non-missing values of the rows the
standardizer is fitted on (population std, scale 1 for a constant column), missing -> 0."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.grading.boundary import candidate

pipeline = candidate("harness")  # preprocessing and folds, run in the subject process

FAST = settings(deadline=None)  # first calls can be slow; phases come from the profile
SEEDS = st.integers(0, 2**32 - 1)
TOL = 1e-9


def risk_table(
    seed: int, n_customers: int, n_features: int, missing: float
) -> tuple[np.ndarray, np.ndarray, list[str], tuple[int, ...]]:
    """Customer-months in a random order: features on very different scales (the log
    columns non-negative and heavy-tailed), about ``missing`` of the values NaN, labels 0/1."""
    rng = np.random.default_rng(seed)
    rows_per_customer = rng.integers(2, 7, size=n_customers)
    groups = np.repeat([f"C{i:03d}" for i in range(n_customers)], rows_per_customer)
    groups = groups[rng.permutation(len(groups))]
    n = len(groups)
    loc = rng.uniform(-50, 50, n_features)
    scale = 10.0 ** rng.uniform(-2, 3, n_features)
    X = loc + scale * rng.standard_normal((n, n_features))
    log_columns = tuple(int(j) for j in range(n_features) if j % 2 == 1)
    for j in log_columns:
        X[:, j] = rng.lognormal(rng.uniform(0, 6), 1.0, n)
    X[rng.random(X.shape) < missing] = np.nan
    X[rng.integers(0, n, n_features), np.arange(n_features)] = np.nan  # at least one per column
    X[0] = np.where(np.isnan(X[0]), np.abs(loc) + 1.0, X[0])  # and one value per column
    y = (rng.random(n) < 0.3).astype(np.int64)
    return X, y, groups.tolist(), log_columns


def oracle(X_fit: np.ndarray, X_apply: np.ndarray, log_columns) -> tuple[np.ndarray, ...]:
    """float64 NumPy: (mean, scale, standardised X_apply) with the statistics of X_fit."""

    def logged(X):
        X = X.copy()
        X[:, list(log_columns)] = np.log1p(X[:, list(log_columns)])
        return X

    F = logged(X_fit)
    mean, std = np.nanmean(F, axis=0), np.nanstd(F, axis=0)
    scale = np.where(std > 1e-12 * np.maximum(np.abs(mean), 1.0), std, 1.0)
    Z = (logged(X_apply) - mean) / scale
    return mean, scale, np.where(np.isnan(Z), 0.0, Z)


def worst(got: np.ndarray, want: np.ndarray) -> tuple[float, int]:
    """Largest gap relative to max(1, |want|), and its column."""
    gap = np.abs(np.asarray(got) - want) / np.maximum(1.0, np.abs(want))
    if gap.size == 0:
        return 0.0, 0
    at = np.unravel_index(int(np.argmax(gap)), gap.shape)
    return float(gap[at]), int(at[-1])


@FAST
@given(seed=SEEDS, n_customers=st.integers(5, 25), n_features=st.integers(1, 5),
       missing=st.sampled_from([0.0, 0.1]))  # fmt: skip
def test_fold_features_are_standardised_with_training_statistics(
    seed, n_customers, n_features, missing
):
    X, y, groups, log_columns = risk_table(seed, n_customers, n_features, missing)
    got = pipeline.fold(X, y, groups, 0.25, seed % 100, log_columns)
    train, val = got["train_idx"], got["val_idx"]
    for side, rows in (("X_train", train), ("X_val", val)):
        _, _, want = oracle(X[train], X[rows], log_columns)
        gap, col = worst(got[side], want)
        assert gap <= TOL, (
            f"{side}, column {col}: off by {gap:.3e} from the standardisation fitted on the "
            f"{len(train)} training rows (table of {len(X)} rows)"
        )


@FAST
@given(seed=SEEDS, n_customers=st.integers(5, 25), n_features=st.integers(1, 5),
       missing=st.sampled_from([0.0, 0.1]))  # fmt: skip
def test_training_features_ignore_the_validation_rows(seed, n_customers, n_features, missing):
    X, y, groups, log_columns = risk_table(seed, n_customers, n_features, missing)
    first = pipeline.fold(X, y, groups, 0.25, seed % 100, log_columns)
    edited = X.copy()
    val = first["val_idx"]
    edited[val] = np.abs(edited[val]) * 100.0 + 7.0  # e.g. amounts exported in cents
    second = pipeline.fold(edited, y, groups, 0.25, seed % 100, log_columns)
    assert np.array_equal(first["train_idx"], second["train_idx"]), "the split changed with X"
    for name in ("X_train", "mean", "scale"):
        gap = float(np.max(np.abs(first[name] - second[name]), initial=0.0))
        assert gap == 0.0, (
            f"editing only the {len(val)} validation rows changed {name} (by up to {gap:.4g}); "
            "training features and the saved standardizer must not see validation rows"
        )


@FAST
@given(seed=SEEDS, n_customers=st.integers(5, 25), n_features=st.integers(1, 5))
def test_saved_standardizer_holds_the_training_statistics(seed, n_customers, n_features):
    X, y, groups, log_columns = risk_table(seed, n_customers, n_features, 0.1)
    got = pipeline.fold(X, y, groups, 0.25, seed % 100, log_columns)
    train = got["train_idx"]
    mean, scale, Z_all = oracle(X[train], X, log_columns)
    for name, want in (("mean", mean), ("scale", scale), ("Z_all", Z_all)):
        gap, col = worst(got[name], want)
        assert gap <= TOL, (
            f"the fold's standardizer: {name} of column {col} is off by {gap:.3e} from the "
            f"statistics of the {len(train)} training rows"
        )


@FAST
@given(seed=SEEDS, n_customers=st.integers(1, 8), n_features=st.integers(1, 5),
       missing=st.sampled_from([0.0, 0.2]))  # fmt: skip
def test_standardizer_matches_the_float64_oracle(seed, n_customers, n_features, missing):
    X, _, _, log_columns = risk_table(seed, n_customers, n_features, missing)
    X_fit, X_apply = X[: len(X) // 2 + 1].copy(), X[len(X) // 2 :]
    X_fit[:, 0] = 3.5  # a column that is constant on the fitted rows keeps scale 1
    got = pipeline.standardize(X_fit, X_apply, log_columns)
    for name, want in zip(("mean", "scale", "Z"), oracle(X_fit, X_apply, log_columns), strict=True):
        gap, col = worst(got[name], want)
        assert gap <= TOL, f"Standardizer: {name} of column {col} is off the oracle by {gap:.3e}"


@FAST
@given(seed=SEEDS, n_customers=st.integers(3, 20), n_features=st.integers(1, 4))
def test_fold_rows_and_labels_follow_its_indices(seed, n_customers, n_features):
    X, y, groups, log_columns = risk_table(seed, n_customers, n_features, 0.1)
    got = pipeline.fold(X, y, groups, 0.3, seed % 100, log_columns)
    train, val = got["train_idx"], got["val_idx"]
    split = pipeline.split(groups, 0.3, seed % 100)
    assert np.array_equal(train, split["train"]) and np.array_equal(val, split["val"]), (
        "the fold's rows are not those of customer_split(groups, val_fraction, seed)"
    )
    assert np.array_equal(got["y_train"], y[train]) and np.array_equal(got["y_val"], y[val]), (
        "y_train / y_val are not the labels of the fold's rows"
    )
    for side, rows in (("X_train", train), ("X_val", val)):
        gap, col = worst(got[side], got["Z_all"][rows])
        assert gap <= TOL, (
            f"{side} differs by {gap:.3e} (column {col}) from the fold's own standardizer "
            "applied to the rows it lists"
        )
