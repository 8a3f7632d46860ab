"""The calls the tests make into ``naive_bayes``, in the subject process.

A fitted ``GaussianNB`` cannot cross the boundary, so each function here trains one on the
batches the test sends, in order, and returns its fitted attributes and its predictions on
the rows the test sends.  Nothing here checks anything: every check and every reference
computation is in the tests.
"""

from __future__ import annotations

import numpy as np
from naive_bayes import GaussianNB

FITTED = ("classes_", "class_count_", "class_prior_", "theta_", "var_", "epsilon_")


def _report(model: GaussianNB, X_eval: np.ndarray | None) -> dict:
    out = {name: getattr(model, name) for name in FITTED}
    if X_eval is not None:
        out["joint_log_proba"] = model.predict_joint_log_proba(X_eval)
        out["log_proba"] = model.predict_log_proba(X_eval)
        out["proba"] = model.predict_proba(X_eval)
        out["predict"] = model.predict(X_eval)
    return out


def fit(
    X: np.ndarray,
    y: np.ndarray,
    X_eval: np.ndarray | None = None,
    var_smoothing: float = 1e-9,
    priors: np.ndarray | None = None,
) -> dict:
    """``GaussianNB(var_smoothing, priors).fit(X, y)``: fitted attributes, and predictions
    on ``X_eval`` (``joint_log_proba``, ``log_proba``, ``proba``, ``predict``)."""
    return _report(GaussianNB(var_smoothing, priors).fit(X, y), X_eval)


def partial_fit(
    batches: list[tuple[np.ndarray, np.ndarray]],
    classes: np.ndarray,
    X_eval: np.ndarray | None = None,
    var_smoothing: float = 1e-9,
) -> dict:
    """``partial_fit`` on each ``(X, y)`` batch in order (``classes`` on the first call),
    then the same report as :func:`fit`."""
    model = GaussianNB(var_smoothing)
    for X, y in batches:
        model.partial_fit(X, y, classes=classes)
    return _report(model, X_eval)
