"""Property tests for the train/test preparation: the split, and where the scaler learns."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from grader.grading.boundary import candidate

prep = candidate("harness")  # prepare_splits, run in the subject process

# Features are offset + scale * (a multiple of 1/4): columns are either exactly constant or
# clearly spread out, so "constant column" has one unambiguous meaning for the oracle.
_GRID = st.integers(-40, 40).map(lambda k: k / 4.0)
_OFFSET = st.floats(-100.0, 100.0, allow_nan=False, allow_infinity=False, allow_subnormal=False)
_SCALE = st.sampled_from([0.5, 1.0, 3.0, 20.0])


@st.composite
def tables(draw):
    """(X, y, test_fraction, seed) with 4-12 rows, 1-4 features and nonzero column means."""
    n_rows = draw(st.integers(4, 12))
    n_features = draw(st.integers(1, 4))
    grid = draw(hnp.arrays(np.float64, (n_rows, n_features), elements=_GRID))
    offset = draw(hnp.arrays(np.float64, n_features, elements=_OFFSET))
    scale = draw(hnp.arrays(np.float64, n_features, elements=_SCALE))
    X = offset + scale * grid
    y = np.arange(n_rows) % 3
    test_fraction = draw(st.sampled_from([0.2, 0.25, 0.3, 0.5]))
    seed = draw(st.integers(0, 2**16))
    return X, y, test_fraction, seed


def _train_statistics(rows):
    """float64 oracle: population mean/std of the given rows; constant columns get scale 1."""
    mean = rows.mean(axis=0)
    std = np.sqrt(((rows - mean) ** 2).mean(axis=0))
    constant = np.ptp(rows, axis=0) == 0
    return mean, np.where(constant, 1.0, std), constant


def _max_diff(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b)), initial=0.0))


@given(tables())
def test_split_is_a_partition_of_the_rows(case):
    X, y, test_fraction, seed = case
    out = prep.prepare_splits(X, y, test_fraction=test_fraction, seed=seed)
    n = X.shape[0]
    train, test = np.asarray(out["train_idx"]), np.asarray(out["test_idx"])
    both = np.intersect1d(train, test)
    assert both.size == 0, f"rows {both.tolist()} are in both train and test (n={n})"
    union = np.union1d(train, test)
    assert np.array_equal(union, np.arange(n)), (
        f"train+test rows {union.tolist()} do not cover rows 0..{n - 1} exactly"
    )
    assert 0 < test.size < n, f"test side has {test.size} of {n} rows; expected between 1 and n-1"


@given(tables())
def test_split_is_reproducible_for_a_seed(case):
    X, y, test_fraction, seed = case
    first = prep.prepare_splits(X, y, test_fraction=test_fraction, seed=seed)
    again = prep.prepare_splits(X.copy(), y.copy(), test_fraction=test_fraction, seed=seed)
    for name in ("train_idx", "test_idx", "X_train", "X_test", "y_train", "y_test"):
        a, b = np.asarray(first[name]), np.asarray(again[name])
        assert a.shape == b.shape, f"{name} has shape {a.shape}, then {b.shape} (seed={seed})"
        assert np.array_equal(a, b), (
            f"{name} differs between two calls with seed={seed} "
            f"(max |diff| = {_max_diff(a, b):.2e}); the split must be reproducible"
        )


@given(tables())
def test_labels_and_shapes_follow_the_split(case):
    X, y, test_fraction, seed = case
    out = prep.prepare_splits(X, y, test_fraction=test_fraction, seed=seed)
    n_features = X.shape[1]
    for side, idx, X_side, y_side in (
        ("train", out["train_idx"], out["X_train"], out["y_train"]),
        ("test", out["test_idx"], out["X_test"], out["y_test"]),
    ):
        assert X_side.shape == (len(idx), n_features), (
            f"X_{side} has shape {X_side.shape}, expected ({len(idx)}, {n_features})"
        )
        assert np.array_equal(y_side, y[idx]), (
            f"y_{side} = {np.asarray(y_side).tolist()} is not y at the {side} rows "
            f"{np.asarray(idx).tolist()} = {y[idx].tolist()}"
        )


@given(tables())
def test_scaler_statistics_come_from_train_rows_only(case):
    X, y, test_fraction, seed = case
    out = prep.prepare_splits(X, y, test_fraction=test_fraction, seed=seed)
    train_idx = out["train_idx"]
    mean, scale, _ = _train_statistics(X[train_idx])
    for name, want in (("mean_", mean), ("scale_", scale)):
        got = np.asarray(out["scaler"][name], dtype=np.float64)
        ok = got.shape == want.shape and np.allclose(got, want, rtol=1e-9, atol=1e-9)
        assert ok, (
            f"scaler.{name} = {np.round(got, 6).tolist()} but the {len(train_idx)} train rows "
            f"give {np.round(want, 6).tolist()} (max |diff| = {_max_diff(got, want):.3e}); "
            f"the scaler statistics must depend on the training rows alone"
        )


@given(tables())
def test_train_features_unchanged_when_test_rows_change(case):
    X, y, test_fraction, seed = case
    before = prep.prepare_splits(X, y, test_fraction=test_fraction, seed=seed)
    test_idx = before["test_idx"]
    X_changed = X.copy()
    X_changed[test_idx] = 7.0 * X[test_idx][::-1] + 50.0
    after = prep.prepare_splits(X_changed, y, test_fraction=test_fraction, seed=seed)
    assert np.array_equal(before["train_idx"], after["train_idx"]), (
        "the split changed with the values"
    )
    d = _max_diff(before["X_train"], after["X_train"])
    assert d == 0.0, (
        f"changing only the {len(test_idx)} test rows {test_idx.tolist()} changed "
        f"the standardised train features (max |diff| = {d:.3e}): test data leaks into training"
    )
    for name in ("mean_", "scale_"):
        d = _max_diff(before["scaler"][name], after["scaler"][name])
        assert d == 0.0, f"changing only the test rows changed scaler.{name} (max |diff| = {d:.3e})"


@given(tables())
def test_train_features_are_standardised(case):
    X, y, test_fraction, seed = case
    out = prep.prepare_splits(X, y, test_fraction=test_fraction, seed=seed)
    _, _, constant = _train_statistics(X[out["train_idx"]])
    col_mean = out["X_train"].mean(axis=0)
    col_std = out["X_train"].std(axis=0)
    for j in np.flatnonzero(~constant):
        assert abs(col_mean[j]) < 1e-9 and abs(col_std[j] - 1.0) < 1e-9, (
            f"standardised train feature {j} has mean {col_mean[j]:.6f} and std {col_std[j]:.6f} "
            f"over the {len(out['train_idx'])} train rows; expected mean 0 and std 1"
        )


@given(tables())
def test_test_features_use_train_statistics(case):
    X, y, test_fraction, seed = case
    out = prep.prepare_splits(X, y, test_fraction=test_fraction, seed=seed)
    mean, scale, _ = _train_statistics(X[out["train_idx"]])
    want = (X[out["test_idx"]] - mean) / scale
    d = _max_diff(out["X_test"], want)
    assert out["X_test"].shape == want.shape and d < 1e-8, (
        f"X_test differs from (X[test_idx] - train mean) / train std by up to {d:.3e}; "
        f"test rows must be transformed with the statistics of the training rows"
    )
