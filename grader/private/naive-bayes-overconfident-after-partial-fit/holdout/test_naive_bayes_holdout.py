"""Holdout properties: one row per batch, classes that only appear late in the stream, and
the variance floor of a streamed model with a large var_smoothing."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from test_naive_bayes import _max_rel, datasets, oracle, prediction_error

from grader.grading.boundary import candidate

nb = candidate("harness")


@given(datasets(max_features=3))
def test_one_row_per_batch(case):
    X, y, classes, X_eval = case
    order = np.argsort(X[:, 0], kind="stable")
    batches = [(X[i : i + 1], y[i : i + 1]) for i in order]
    got = nb.partial_fit(batches, classes, X_eval)
    want = oracle(X, y, classes, X_eval)
    err = _max_rel(np.asarray(got["var_"]), want["var_"])
    assert err < 1e-9, f"{len(X)} rows streamed one at a time: var_ is off by {err:.2e} (relative)"


@given(datasets())
def test_classes_that_only_appear_late(case):
    X, y, classes, X_eval = case
    rank = np.searchsorted(classes, y)
    order = np.argsort(rank, kind="stable")
    batches = [(X[part], y[part]) for part in np.array_split(order, 4)]
    got = nb.partial_fit(batches, classes, X_eval)
    want = oracle(X, y, classes, X_eval)
    for key in ("class_count_", "theta_", "var_"):
        err = _max_rel(np.asarray(got[key]), want[key])
        assert err < 1e-9, (
            f"rows streamed class by class in 4 batches: {key} is off the model fitted on all "
            f"rows by {err:.2e} (relative)"
        )
    err = prediction_error(got, want)
    assert err < 1e-9, f"rows streamed class by class: the predictions are off by {err:.2e}"


@given(datasets(), st.sampled_from([1e-3, 1e-2, 0.1]), st.integers(2, 5))
def test_variance_floor_of_a_streamed_model(case, var_smoothing, n_batches):
    X, y, classes, X_eval = case
    parts = np.array_split(np.argsort(X[:, -1], kind="stable"), n_batches)
    batches = [(X[p], y[p]) for p in parts if len(p)]
    got = nb.partial_fit(batches, classes, X_eval, var_smoothing=var_smoothing)
    want = oracle(X, y, classes, X_eval, var_smoothing)
    err = abs(float(got["epsilon_"]) - want["epsilon_"]) / want["epsilon_"]
    assert err < 1e-9, (
        f"var_smoothing={var_smoothing:g}, {len(batches)} batches: epsilon_ = "
        f"{float(got['epsilon_']):.6g}, var_smoothing times the largest feature variance of "
        f"all rows is {want['epsilon_']:.6g}"
    )
    err = prediction_error(got, want)
    assert err < 1e-9, f"the predictions are off the definition by {err:.2e}"
