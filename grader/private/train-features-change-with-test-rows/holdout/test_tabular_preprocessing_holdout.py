"""Holdout properties: the returned scaler is the one that made the features, and each test
row is standardised on its own with the training statistics."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_tabular_preprocessing import _GRID, _OFFSET, _SCALE, _max_diff, _train_statistics

from grader.grading.boundary import candidate

prep = candidate("harness")


# Not the visible test's tables(): row bounds are parameters, two classes, other test fractions.
@st.composite
def tables(draw, min_rows=4, max_rows=12):
    n_rows = draw(st.integers(min_rows, max_rows))
    n_features = draw(st.integers(1, 4))
    grid = draw(hnp.arrays(np.float64, (n_rows, n_features), elements=_GRID))
    offset = draw(hnp.arrays(np.float64, n_features, elements=_OFFSET))
    scale = draw(hnp.arrays(np.float64, n_features, elements=_SCALE))
    X = offset + scale * grid
    y = np.arange(n_rows) % 2
    test_fraction = draw(st.sampled_from([0.2, 0.3, 0.4, 0.5]))
    seed = draw(st.integers(0, 2**16))
    return X, y, test_fraction, seed


def _statistics(rows):
    mean, scale, _ = _train_statistics(rows)
    return mean, scale


@given(tables())
def test_returned_scaler_reproduces_the_returned_features(case):
    X, y, test_fraction, seed = case
    # The returned scaler cannot cross: the subject applies it to this same split's rows.
    out = prep.prepare_splits_and_reapply_scaler(X, y, test_fraction=test_fraction, seed=seed)
    for side, idx, got in (
        ("train", out["train_idx"], out["X_train"]),
        ("test", out["test_idx"], out["X_test"]),
    ):
        again = out["transform"][side]  # scaler.transform(X[idx])
        d = _max_diff(again, got)
        assert d < 1e-8, (
            f"scaler.transform(raw {side} rows) differs from X_{side} by up to {d:.3e}: the "
            f"returned scaler must be the one that standardised the returned features"
        )
        back = out["inverse_transform"][side]  # scaler.inverse_transform(got)
        d = _max_diff(back, X[idx])
        assert d < 1e-8, (
            f"scaler.inverse_transform(X_{side}) is off the raw {side} rows by up to {d:.3e}"
        )
    seen, n_train = out["scaler"]["n_samples_seen_"], len(out["train_idx"])
    assert seen == n_train, f"scaler saw {seen} rows, the training side has {n_train}"


@given(tables(min_rows=6), st.integers(0, 10**6), st.floats(1.0, 500.0))
def test_changing_one_test_row_moves_only_that_row(case, pick, delta):
    X, y, test_fraction, seed = case
    before = prep.prepare_splits(X, y, test_fraction=test_fraction, seed=seed)
    k = pick % len(before["test_idx"])
    row = before["test_idx"][k]
    X_changed = X.copy()
    X_changed[row] += delta
    after = prep.prepare_splits(X_changed, y, test_fraction=test_fraction, seed=seed)
    _, scale = _statistics(X[before["train_idx"]])
    want = before["X_test"].copy()
    want[k] += delta / scale
    d = _max_diff(after["X_test"], want)
    assert d < 1e-8, (
        f"adding {delta:.3f} to test row {row} should move only that standardised row, by "
        f"{delta:.3f} / train std; X_test is off that by up to {d:.3e}"
    )


@given(tables(), hnp.arrays(np.float64, (3, 4), elements=_GRID))
def test_new_rows_are_standardised_with_train_statistics(case, new_grid):
    X, y, test_fraction, seed = case
    new_rows = X.mean(axis=0) + 5.0 * new_grid[:, : X.shape[1]]
    out = prep.prepare_splits(X, y, test_fraction=test_fraction, seed=seed, transform=new_rows)
    mean, scale = _statistics(X[out["train_idx"]])
    d = _max_diff(out["transform"], (new_rows - mean) / scale)
    assert d < 1e-8, (
        f"scaler.transform(new rows) differs from (rows - train mean) / train std by up to {d:.3e}"
    )


@given(tables())
def test_standard_scaler_matches_float64_oracle(case):
    X = case[0]
    scaler = prep.standard_scaler(X, transform=X)
    mean, scale = _statistics(X)
    d = max(_max_diff(scaler["mean_"], mean), _max_diff(scaler["scale_"], scale))
    assert d < 1e-9, f"StandardScaler statistics off the float64 oracle by {d:.3e}"
    d = _max_diff(scaler["transform"], (X - mean) / scale)
    assert d < 1e-8, f"StandardScaler.transform off the float64 oracle by {d:.3e}"


@given(tables(min_rows=6), st.integers(0, 3), st.floats(-50.0, 50.0), st.floats(0.5, 20.0))
def test_column_constant_on_train_rows_is_only_centred(case, pick, level, jump):
    X, y, test_fraction, seed = case
    split = prep.prepare_splits(X, y, test_fraction=test_fraction, seed=seed)
    train_idx, test_idx = split["train_idx"], split["test_idx"]
    j = pick % X.shape[1]
    X = X.copy()
    X[train_idx, j] = level  # e.g. a flag that is only ever set in the test period
    X[test_idx, j] = level + jump * (1 + np.arange(len(test_idx)))
    out = prep.prepare_splits(X, y, test_fraction=test_fraction, seed=seed)
    assert np.array_equal(out["train_idx"], train_idx), "the split changed with the values"
    scale = float(out["scaler"]["scale_"][j])
    assert scale == 1.0, (
        f"feature {j} is constant ({level:.3f}) over the training rows: its scale_ must be 1, "
        f"got {scale:.6g}"
    )
    want_test = X[test_idx, j] - X[train_idx, j].mean()
    d = max(_max_diff(out["X_train"][:, j], 0.0), _max_diff(out["X_test"][:, j], want_test))
    assert np.isfinite(d) and d < 1e-8, (
        f"feature {j}, constant over the training rows, should only be centred on them "
        f"(train 0, test x - {level:.3f}); the features are off that by up to {d:.3e}"
    )


@given(tables())
def test_integer_features_come_back_as_float64(case):
    X, y, test_fraction, seed = case
    X_int = np.round(X).astype(np.int64)
    got = prep.prepare_splits(X_int, y, test_fraction=test_fraction, seed=seed)
    want = prep.prepare_splits(X_int.astype(np.float64), y, test_fraction=test_fraction, seed=seed)
    for name in ("X_train", "X_test"):
        assert got[name].dtype == np.float64, f"{name} has dtype {got[name].dtype}, not float64"
        d = _max_diff(got[name], want[name])
        assert d == 0.0, f"integer features give a {name} off the float64 one by {d:.3e}"
