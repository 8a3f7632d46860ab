"""Checks that every feature in row t is computable at the forecast origin t - horizon."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.grading.boundary import candidate

features = candidate("harness")  # build_features, run in the subject process

FAST = settings(deadline=None)  # first calls can be slow; phases come from the profile
SEEDS = st.integers(0, 2**32 - 1)
SPECS = st.fixed_dictionaries(
    {
        "horizon": st.integers(1, 3),
        "lags": st.lists(st.integers(1, 4), min_size=0, max_size=2, unique=True),
        "windows": st.lists(st.integers(2, 5), min_size=1, max_size=2, unique=True),
    }
)


def _series(seed: int, n: int) -> tuple[np.ndarray, dict, dict]:
    """A target with trend and noise, one observed covariate and one known in advance."""
    rng = np.random.default_rng(seed)
    target = np.cumsum(rng.normal(size=n)) + 10.0
    observed = {"temp": rng.normal(20.0, 5.0, size=n)}
    known = {"promo": rng.integers(0, 2, size=n).astype(float) + rng.normal(0, 0.1, size=n)}
    return target, observed, known


def _available(name: str, spec: dict) -> int:
    """How many steps before row t the last available value of ``name`` is."""
    return 0 if name == "promo" else spec["horizon"]


def _expected_columns(target, observed, known, spec) -> dict[str, np.ndarray]:
    """Brute force, one row at a time, from the module's documented definitions."""
    n = len(target)
    out: dict[str, np.ndarray] = {}
    for name, values in [("y", target), *observed.items(), *known.items()]:
        lag = _available(name, spec)
        for k in spec["lags"]:
            col = np.full(n, np.nan)
            for t in range(n):
                if t - lag - k + 1 >= 0:
                    col[t] = values[t - lag - k + 1]
            out[f"{name}_lag{k}"] = col
        for w in spec["windows"]:
            mean, std = np.full(n, np.nan), np.full(n, np.nan)
            for t in range(n):
                end = t - lag
                if end - w + 1 >= 0:
                    window = values[end - w + 1 : end + 1]
                    mean[t], std[t] = window.mean(), window.std(ddof=1)
            out[f"{name}_mean{w}"], out[f"{name}_std{w}"] = mean, std
    return out


def _build(target, observed, known, spec):
    got = features.build(target, observed, known, spec)
    return got["features"], got["names"]


@FAST
@given(seed=SEEDS, n=st.integers(12, 30), spec=SPECS, data=st.data())
def test_row_does_not_change_when_unavailable_values_change(seed, n, spec, data):
    target, observed, known = _series(seed, n)
    h = spec["horizon"]
    t = data.draw(st.integers(max(spec["windows"]) + h + 1, n - 1), label="row")
    base, names = _build(target, observed, known, spec)
    rng = np.random.default_rng(seed + 1)
    target2, observed2, known2 = target.copy(), {"temp": observed["temp"].copy()}, dict(known)
    target2[t - h + 1 :] += rng.normal(0.0, 5.0, size=n - t + h - 1)
    observed2["temp"][t - h + 1 :] += rng.normal(0.0, 5.0, size=n - t + h - 1)
    known2 = {"promo": known["promo"].copy()}
    known2["promo"][t + 1 :] += rng.normal(0.0, 5.0, size=n - t - 1)
    other, _ = _build(target2, observed2, known2, spec)
    changed = [
        names[j]
        for j in range(len(names))
        if not np.array_equal(base[t, j], other[t, j], equal_nan=True)
    ]
    assert not changed, (
        f"horizon={h}: row {t} changed in {changed} when only values the forecaster cannot "
        f"know at the origin {t - h} were edited (target and temp from time {t - h + 1}, "
        f"promo from time {t + 1})"
    )


@FAST
@given(seed=SEEDS, n=st.integers(8, 20), spec=SPECS)
def test_window_columns_match_their_definition(seed, n, spec):
    target, observed, known = _series(seed, n)
    got, names = _build(target, observed, known, spec)
    want = _expected_columns(target, observed, known, spec)
    for j, name in enumerate(names):
        if "_lag" in name:
            continue
        a, b = got[:, j], want[name]
        bad = [
            t
            for t in range(n)
            if not np.allclose(a[t], b[t], rtol=1e-12, atol=1e-12, equal_nan=True)
        ]
        assert not bad, (
            f"horizon={spec['horizon']}: column {name} differs from its definition in rows "
            f"{bad[:6]} (row {bad[0]}: got {a[bad[0]]:.6g}, expected {b[bad[0]]:.6g})"
        )


@FAST
@given(seed=SEEDS, n=st.integers(8, 20), spec=SPECS)
def test_lag_columns_match_their_definition(seed, n, spec):
    target, observed, known = _series(seed, n)
    got, names = _build(target, observed, known, spec)
    want = _expected_columns(target, observed, known, spec)
    for j, name in enumerate(names):
        if "_lag" not in name:
            continue
        bad = [t for t in range(n) if not np.array_equal(got[t, j], want[name][t], equal_nan=True)]
        assert not bad, (
            f"horizon={spec['horizon']}: column {name} differs from its definition in rows "
            f"{bad[:6]}"
        )


@FAST
@given(spec=SPECS)
def test_column_names_order_and_dtype(spec):
    target, observed, known = _series(0, 10)
    got, names = _build(target, observed, known, spec)
    want = list(_expected_columns(target, observed, known, spec))
    assert names == want, f"column names {names}, expected {want}"
    assert got.shape == (10, len(want)) and got.dtype == np.float64, (
        f"feature matrix has shape {got.shape} and dtype {got.dtype}, expected "
        f"{(10, len(want))} float64"
    )


@FAST
@given(seed=SEEDS, n=st.integers(10, 24), spec=SPECS, data=st.data())
def test_appending_new_data_does_not_change_earlier_rows(seed, n, spec, data):
    target, observed, known = _series(seed, n)
    m = data.draw(st.integers(2, n - 1), label="prefix")
    full, _ = _build(target, observed, known, spec)
    prefix, _ = _build(
        target[:m], {"temp": observed["temp"][:m]}, {"promo": known["promo"][:m]}, spec
    )
    assert np.array_equal(full[:m], prefix, equal_nan=True), (
        f"the first {m} rows differ between the features of the first {m} steps and those of "
        f"all {n} steps: rows must not depend on how long the series is"
    )
