"""The calls the tests make into ``logistic_regression``, in the subject process.

A fitted ``LogisticRegression`` cannot cross the boundary, so :func:`fit` trains one on the
data the test sends and returns its fitted parameters and its predictions on the rows the
test sends.  Nothing here checks anything: every check and every reference computation is in
the tests.
"""

from __future__ import annotations

import numpy as np
from logistic_regression import LogisticRegression


def fit(
    X: np.ndarray,
    y: np.ndarray,
    l2: float = 1.0,
    fit_intercept: bool = True,
    X_eval: np.ndarray | None = None,
) -> dict:
    """``LogisticRegression(l2, fit_intercept).fit(X, y)``: ``coef_``, ``intercept_``,
    ``loss_``, ``n_iter_``, and ``predict_proba`` of ``X_eval`` (default: ``X``)."""
    model = LogisticRegression(l2=l2, fit_intercept=fit_intercept).fit(X, y)
    return {
        "coef_": model.coef_,
        "intercept_": model.intercept_,
        "loss_": model.loss_,
        "n_iter_": model.n_iter_,
        "proba": model.predict_proba(X if X_eval is None else X_eval),
    }
