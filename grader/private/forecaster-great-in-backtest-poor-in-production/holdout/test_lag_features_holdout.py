"""Holdout checks for the time-series feature builder (not shown to the candidate)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from test_lag_features import _build, _expected_columns, _series

FAST = settings(deadline=None)  # first calls can be slow; phases come from the profile
SEEDS = st.integers(0, 2**32 - 1)
LONG_SPECS = st.fixed_dictionaries(
    {
        "horizon": st.integers(4, 7),
        "lags": st.lists(st.integers(1, 10), min_size=0, max_size=3, unique=True),
        "windows": st.lists(st.integers(2, 14), min_size=1, max_size=3, unique=True),
    }
)


@FAST
@given(seed=SEEDS, spec=LONG_SPECS)
def test_long_horizons_and_windows_match_their_definition(seed, spec):
    n = 40
    target, observed, known = _series(seed, n)
    got, names = _build(target, observed, known, spec)
    want = _expected_columns(target, observed, known, spec)
    for j, name in enumerate(names):
        ok = np.allclose(got[:, j], want[name], rtol=1e-12, atol=1e-12, equal_nan=True)
        assert ok, f"horizon={spec['horizon']}: column {name} differs from its definition"


@FAST
@given(seed=SEEDS, spec=LONG_SPECS, data=st.data())
def test_every_row_is_blind_to_the_future_of_the_target(seed, spec, data):
    n = 40
    target, _, _ = _series(seed, n)
    h = spec["horizon"]
    t = data.draw(st.integers(h, n - 1), label="row")
    base, names = _build(target, {}, {}, spec)
    edited = target.copy()
    edited[t - h + 1 :] = -edited[t - h + 1 :] * 3.0
    other, _ = _build(edited, {}, {}, spec)
    changed = [
        names[j]
        for j in range(len(names))
        if not np.array_equal(base[t, j], other[t, j], equal_nan=True)
    ]
    assert not changed, (
        f"target only, horizon={h}: row {t} changed in {changed} when the target from time "
        f"{t - h + 1} on was edited"
    )


@FAST
@given(seed=SEEDS, horizon=st.integers(1, 5), window=st.integers(2, 6))
def test_known_covariate_windows_end_at_the_row(seed, horizon, window):
    n = 20
    target, _, known = _series(seed, n)
    spec = {"horizon": horizon, "lags": [1], "windows": [window]}
    got, names = _build(target, {}, known, spec)
    mean = got[:, names.index(f"promo_mean{window}")]
    want = np.array(
        [
            known["promo"][t - window + 1 : t + 1].mean() if t >= window - 1 else np.nan
            for t in range(n)
        ]
    )
    assert np.allclose(mean, want, rtol=1e-12, atol=1e-12, equal_nan=True), (
        f"horizon={horizon}: promo_mean{window} (known in advance) should average the "
        f"{window} values ending at the row's own time"
    )
