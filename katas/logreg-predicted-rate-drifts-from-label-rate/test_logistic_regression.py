"""Property tests for L2-regularised logistic regression.

The oracle is torch autograd of the documented objective in float64: the objective is
strictly convex, so the fit is its minimiser exactly when the gradient vanishes there.  Data
are drawn from a seeded NumPy generator: features with nonzero means, a logistic model with
a negative bias (fewer positives than negatives), and labels drawn from it, so the classes
overlap and the optimum is finite.
"""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st

from grader.grading.boundary import candidate

logreg = candidate("harness")  # LogisticRegression fitted in the subject process

GRAD_TOL = 1e-7


def documented_loss(
    w: torch.Tensor, b: torch.Tensor, X: np.ndarray, y: np.ndarray, l2: float
) -> torch.Tensor:
    """mean BCE(sigmoid(X w + b), y) + l2 / 2 * ||w||^2, in float64."""
    z = torch.from_numpy(X) @ w + b
    return torch.nn.functional.binary_cross_entropy_with_logits(
        z, torch.from_numpy(y)
    ) + 0.5 * l2 * (w @ w)


def gradient_at(
    fitted: dict, X: np.ndarray, y: np.ndarray, l2: float, fit_intercept: bool = True
) -> tuple[np.ndarray, float]:
    """Gradient of the documented objective at the fitted parameters: (d/dw, d/db)."""
    w = torch.tensor(np.asarray(fitted["coef_"]), dtype=torch.float64, requires_grad=True)
    b = torch.tensor(float(fitted["intercept_"]), dtype=torch.float64, requires_grad=fit_intercept)
    documented_loss(w, b, X, y, l2).backward()
    return w.grad.numpy(), float(b.grad) if fit_intercept else 0.0


@st.composite
def datasets(draw, max_features: int = 4, centred: bool = False):
    """(X, y): overlapping classes, 20-45 % positives, features off-centre unless ``centred``."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(60, 200))
    d = draw(st.integers(1, max_features))
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 1.5, size=d)
    if not centred:
        X += rng.uniform(-1, 1, size=d)
    w = rng.normal(size=d)
    z = (X - X.mean(axis=0)) @ w + draw(st.floats(-1.5, -0.2))
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-z))).astype(np.float64)
    y[:2] = [0.0, 1.0]
    return X, y


l2s = st.sampled_from([0.1, 0.3, 1.0, 3.0])


@given(datasets(), l2s)
def test_reported_loss_is_the_documented_objective(data, l2):
    X, y = data
    fitted = logreg.fit(X, y, l2)
    w = torch.tensor(np.asarray(fitted["coef_"]), dtype=torch.float64)
    want = float(
        documented_loss(w, torch.tensor(float(fitted["intercept_"]), dtype=torch.float64), X, y, l2)
    )
    assert abs(fitted["loss_"] - want) < 1e-9 * (1 + abs(want)), (
        f"loss_ = {fitted['loss_']:.10f}, the documented objective at the fit is {want:.10f}"
    )


@given(datasets(centred=True))
def test_unregularised_fit_reaches_the_optimum(data):
    X, y = data
    gw, gb = gradient_at(logreg.fit(X, y, 0.0), X, y, 0.0)
    norm = float(np.sqrt(gw @ gw + gb**2))
    assert norm < GRAD_TOL, f"l2=0: the gradient of the log-loss at the fit has norm {norm:.2e}"


@given(datasets(), l2s)
def test_fit_without_intercept_reaches_the_optimum(data, l2):
    X, y = data
    fitted = logreg.fit(X, y, l2, fit_intercept=False)
    assert fitted["intercept_"] == 0.0, (
        f"fit_intercept=False but intercept_ = {fitted['intercept_']}"
    )
    gw, _ = gradient_at(fitted, X, y, l2, fit_intercept=False)
    norm = float(np.linalg.norm(gw))
    assert norm < GRAD_TOL, (
        f"fit_intercept=False, l2={l2}: the gradient at the fit has norm {norm:.2e}"
    )


@given(datasets(), l2s)
def test_gradient_of_the_documented_loss_vanishes_at_the_fit(data, l2):
    X, y = data
    gw, gb = gradient_at(logreg.fit(X, y, l2), X, y, l2)
    norm = float(np.sqrt(gw @ gw + gb**2))
    assert norm < GRAD_TOL, (
        f"l2={l2}, {X.shape[0]} rows, {X.shape[1]} features: the gradient of the documented "
        f"objective at the fit has norm {norm:.2e} (d/dintercept = {gb:.2e})"
    )


@given(datasets(), l2s)
def test_mean_predicted_probability_equals_the_positive_rate(data, l2):
    X, y = data
    proba = np.asarray(logreg.fit(X, y, l2)["proba"])
    gap = float(proba.mean() - y.mean())
    assert abs(gap) < GRAD_TOL, (
        f"l2={l2}: mean predicted probability on the training rows is {proba.mean():.6f}, the "
        f"positive rate is {y.mean():.6f}; with an unpenalised intercept they are equal"
    )


@given(datasets(), l2s, st.floats(-1.5, 1.5).filter(lambda c: abs(c) > 0.5), st.integers(0, 3))
def test_shifting_a_feature_only_moves_the_intercept(data, l2, shift, column):
    X, y = data
    column %= X.shape[1]
    moved = X.copy()
    moved[:, column] += shift
    a, b = logreg.fit(X, y, l2), logreg.fit(moved, y, l2, X_eval=moved)
    dp = float(np.abs(np.asarray(a["proba"]) - np.asarray(b["proba"])).max())
    dw = float(np.abs(np.asarray(a["coef_"]) - np.asarray(b["coef_"])).max())
    assert dp < 1e-6 and dw < 1e-6, (
        f"l2={l2}: adding {shift:.2f} to feature {column} changed the coefficients by {dw:.2e} "
        f"and the predicted probabilities by up to {dp:.2e}; only the intercept should move"
    )
