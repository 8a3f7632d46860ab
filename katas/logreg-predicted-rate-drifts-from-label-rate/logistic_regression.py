"""L2-regularised logistic regression trained by full-batch gradient descent.

Used by the risk-scoring notebooks where scikit-learn is not installed.  The model is
``p(y = 1 | x) = sigmoid(x @ coef_ + intercept_)``, fitted by minimising

    loss(w, b) = mean_i BCE(sigmoid(x_i @ w + b), y_i) + (l2 / 2) * ||w||^2,

the usual convention in which the intercept ``b`` is *not* penalised.  Gradient descent runs
with the step ``1 / L``, ``L`` a bound on the Lipschitz constant of the gradient, until the
gradient norm drops below ``tol`` (or ``max_iter`` steps); so at the returned parameters the
gradient of ``loss`` is (numerically) zero.  Plain gradient descent needs features of moderate
scale and offset (say, standardised, or shifted by a few units): a column far from zero makes
the problem ill-conditioned and the fit can stop at ``max_iter`` short of the optimum.  With
an intercept, that optimum has the property that the mean predicted
probability on the training set equals the fraction of positive labels.
"""

from __future__ import annotations

import numpy as np


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function."""
    out = np.empty_like(z)
    positive = z >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-z[positive]))
    exp_z = np.exp(z[~positive])
    out[~positive] = exp_z / (1.0 + exp_z)
    return out


def _design(X: np.ndarray, fit_intercept: bool) -> np.ndarray:
    """``X`` with a trailing column of ones when the model has an intercept."""
    return np.hstack([X, np.ones((X.shape[0], 1))]) if fit_intercept else X


def _loss_and_grad(
    theta: np.ndarray, A: np.ndarray, y: np.ndarray, l2: float, fit_intercept: bool
) -> tuple[float, np.ndarray]:
    """The objective of the module docstring and its gradient, for ``theta = [w, b]``."""
    z = A @ theta
    w = theta[:-1] if fit_intercept else theta
    # log(1 + e^z) - y z, written so that it never overflows
    nll = np.mean(np.logaddexp(0.0, z) - y * z)
    loss = nll + 0.5 * l2 * float(w @ w)
    grad = A.T @ (_sigmoid(z) - y) / len(y) + l2 * theta
    return float(loss), grad


class LogisticRegression:
    """Binary logistic regression.

    Args:
        l2: strength of the L2 penalty on the coefficients (not on the intercept).
        fit_intercept: whether to learn ``intercept_`` (otherwise it is 0).
        tol: stop when the gradient norm is below this.
        max_iter: at most this many gradient steps.
    """

    def __init__(
        self,
        l2: float = 1.0,
        fit_intercept: bool = True,
        tol: float = 1e-10,
        max_iter: int = 20_000,
    ) -> None:
        if l2 < 0:
            raise ValueError(f"l2 must be >= 0, got {l2}")
        self.l2 = l2
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, X: np.ndarray, y: np.ndarray) -> LogisticRegression:
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if not np.isin(y, (0.0, 1.0)).all():
            raise ValueError("labels must be 0 or 1")
        A = _design(X, self.fit_intercept)
        # sigmoid' <= 1/4, so the gradient is (||A||_2^2 / (4 n) + l2)-Lipschitz.
        step = 1.0 / (np.linalg.norm(A, ord=2) ** 2 / (4 * len(y)) + self.l2)
        theta = np.zeros(A.shape[1])
        self.n_iter_ = 0
        while True:
            loss, grad = _loss_and_grad(theta, A, y, self.l2, self.fit_intercept)
            if np.linalg.norm(grad) < self.tol or self.n_iter_ == self.max_iter:
                break
            theta -= step * grad
            self.n_iter_ += 1
        self.loss_ = loss
        self.coef_ = theta[:-1].copy() if self.fit_intercept else theta.copy()
        self.intercept_ = float(theta[-1]) if self.fit_intercept else 0.0
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, dtype=np.float64) @ self.coef_ + self.intercept_

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probability of the positive class, shape ``(n_samples,)``."""
        return _sigmoid(self.decision_function(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (self.decision_function(X) > 0).astype(np.int64)
