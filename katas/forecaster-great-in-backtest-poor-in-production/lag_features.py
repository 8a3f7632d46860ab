"""Lagged and rolling features for the daily demand forecaster.

Row ``t`` of the feature matrix is the input for forecasting ``target[t]``, made at the
forecast origin ``t - horizon``.  Every feature in row ``t`` must therefore be computable
at the origin:

* the target, and covariates that are only observed as they happen (temperature, price),
  are available up to and including time ``t - horizon``;
* covariates known in advance (calendar, planned promotions) are available up to and
  including time ``t``.

For a series ``name`` whose last available value in row ``t`` is at time ``a`` (``a = t -
horizon`` or ``a = t``), the columns are, in this order::

    {name}_lag{k}    value at time a - k + 1 (so lag1 is the last available value)
    {name}_mean{w}   mean of the w values at times a - w + 1 .. a
    {name}_std{w}    sample standard deviation (ddof=1) of the same w values

for each ``k`` in ``spec.lags`` and then each ``w`` in ``spec.windows``.  Entries that
would need a value before the start of the series are NaN; the training code drops those
rows.  The columns of the target come first, then the observed covariates, then the
known-in-advance ones, each group in the order given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


@dataclass(frozen=True)
class FeatureSpec:
    horizon: int = 1
    lags: tuple[int, ...] = (1, 2, 7)
    windows: tuple[int, ...] = (3, 7)

    def __post_init__(self) -> None:
        if self.horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {self.horizon}")
        if min(self.lags, default=1) < 1 or min(self.windows, default=2) < 2:
            raise ValueError("lags must be >= 1 and windows >= 2")


def shift(values: np.ndarray, steps: int) -> np.ndarray:
    """``out[t] = values[t - steps]`` (NaN for ``t < steps``), as ``pandas.Series.shift``."""
    out = np.full(len(values), np.nan)
    if steps == 0:
        out[:] = values
    elif steps < len(values):
        out[steps:] = values[: len(values) - steps]
    return out


def rolling_windows(values: np.ndarray, window: int) -> np.ndarray:
    """``(len(values), window)`` array whose row ``t`` holds ``values[t - window + 1 : t + 1]``;
    positions before the start of the series are NaN."""
    padded = np.concatenate([np.full(window - 1, np.nan), np.asarray(values, dtype=float)])
    return sliding_window_view(padded, window)


def series_features(
    name: str, values: np.ndarray, available_lag: int, spec: FeatureSpec
) -> dict[str, np.ndarray]:
    """The columns of one series whose value at ``t - available_lag`` is the last one
    available in row ``t``."""
    last_available = shift(values, available_lag)
    columns = {f"{name}_lag{k}": shift(last_available, k - 1) for k in spec.lags}
    for w in spec.windows:
        windows = rolling_windows(values, w)
        columns[f"{name}_mean{w}"] = windows.mean(axis=1)
        columns[f"{name}_std{w}"] = windows.std(axis=1, ddof=1)
    return columns


def build_features(
    target: np.ndarray,
    observed: dict[str, np.ndarray],
    known: dict[str, np.ndarray],
    spec: FeatureSpec,
) -> tuple[np.ndarray, list[str]]:
    """Feature matrix ``(len(target), n_features)`` float64 and its column names."""
    n = len(target)
    for name, series in {**observed, **known}.items():
        if len(series) != n:
            raise ValueError(f"covariate {name!r} has length {len(series)}, target has {n}")
    columns = series_features("y", target, spec.horizon, spec)
    for name, series in observed.items():
        columns.update(series_features(name, series, spec.horizon, spec))
    for name, series in known.items():
        columns.update(series_features(name, series, 0, spec))
    names = list(columns)
    return np.stack([columns[c] for c in names], axis=1), names
