"""Holdout properties: rare positives, more features and a strong penalty, and predictions
that are the sigmoid of the fitted linear model."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from test_logistic_regression import GRAD_TOL, datasets, gradient_at

from grader.grading.boundary import candidate

logreg = candidate("harness")


@given(st.integers(0, 2**32 - 1), st.sampled_from([0.2, 1.0, 5.0]))
def test_rare_positives(seed, l2):
    rng = np.random.default_rng(seed)
    n = 400
    X = rng.normal(size=(n, 3)) + rng.uniform(-1, 1, size=3)
    y = (rng.uniform(size=n) < 0.05).astype(np.float64)
    y[:2] = [0.0, 1.0]
    fitted = logreg.fit(X, y, l2)
    proba = np.asarray(fitted["proba"])
    assert abs(proba.mean() - y.mean()) < GRAD_TOL, (
        f"{int(y.sum())} positives in {n} rows, l2={l2}: mean predicted probability "
        f"{proba.mean():.5f}, positive rate {y.mean():.5f}"
    )
    gw, gb = gradient_at(fitted, X, y, l2)
    assert float(np.sqrt(gw @ gw + gb**2)) < GRAD_TOL, "the gradient at the fit is not zero"


@given(datasets(max_features=10), st.sampled_from([3.0, 10.0]))
def test_many_features_and_a_strong_penalty(data, l2):
    X, y = data
    gw, gb = gradient_at(logreg.fit(X, y, l2), X, y, l2)
    norm = float(np.sqrt(gw @ gw + gb**2))
    assert norm < GRAD_TOL, (
        f"{X.shape[1]} features, l2={l2}: the gradient at the fit has norm {norm:.2e}"
    )


@given(datasets(), st.sampled_from([0.1, 1.0]))
def test_probabilities_are_the_sigmoid_of_the_linear_model(data, l2):
    X, y = data
    rng = np.random.default_rng(len(y))
    X_eval = rng.normal(size=(7, X.shape[1])) * 3
    fitted = logreg.fit(X, y, l2, X_eval=X_eval)
    z = X_eval @ np.asarray(fitted["coef_"]) + float(fitted["intercept_"])
    want = 1 / (1 + np.exp(-z))
    err = float(np.abs(np.asarray(fitted["proba"]) - want).max())
    assert err < 1e-12, f"predict_proba differs from sigmoid(X @ coef_ + intercept_) by {err:.2e}"
