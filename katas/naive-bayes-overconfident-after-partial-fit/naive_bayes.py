"""Gaussian naive Bayes with incremental training, for the streaming intent classifier.

A NumPy stand-in for ``sklearn.naive_bayes.GaussianNB`` with the same attribute names.  The
service calls :meth:`GaussianNB.partial_fit` on every day's batch of labelled embeddings, so
after any sequence of batches the model must be the one :meth:`GaussianNB.fit` gives on their
concatenation.  Conventions:

* ``theta_`` and ``var_`` are the per-class mean and variance of each feature (maximum
  likelihood, i.e. divided by the class count), and ``var_`` includes the floor
  ``epsilon_ = var_smoothing * (largest per-feature variance of all the training data)``,
  so a class with a single sample still has a positive variance;
* class priors are the class frequencies unless ``priors`` is given;
* every likelihood is computed in log space and normalised with log-sum-exp, so
  ``predict_proba`` is finite and sums to one however many features there are and however
  far a point lies from every class.
"""

from __future__ import annotations

import numpy as np


def _merge_moments(
    n_a: float, mean_a: np.ndarray, var_a: np.ndarray, X_b: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """Count, mean and (biased) variance of the union of a summarised set ``a`` and the rows
    ``X_b``, feature by feature, without revisiting the rows of ``a``."""
    n_b = X_b.shape[0]
    if n_b == 0:
        return n_a, mean_a, var_a
    mean_b = X_b.mean(axis=0)
    var_b = X_b.var(axis=0)
    n = n_a + n_b
    mean = (n_a * mean_a + n_b * mean_b) / n
    var = (n_a * var_a + n_b * var_b) / n
    return n, mean, var


class GaussianNB:
    """Gaussian naive Bayes classifier.

    Args:
        var_smoothing: share of the largest feature variance added to every variance.
        priors: class prior probabilities, in the order of ``classes``; default: frequencies.
    """

    def __init__(self, var_smoothing: float = 1e-9, priors: np.ndarray | None = None) -> None:
        self.var_smoothing = var_smoothing
        self.priors = priors

    def fit(self, X: np.ndarray, y: np.ndarray) -> GaussianNB:
        """Train from scratch on one set of rows."""
        self.__dict__.pop("classes_", None)
        return self.partial_fit(X, y, classes=np.unique(y))

    def partial_fit(
        self, X: np.ndarray, y: np.ndarray, classes: np.ndarray | None = None
    ) -> GaussianNB:
        """Update the model with one more batch; ``classes`` is required on the first call."""
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y)
        if not hasattr(self, "classes_"):
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit")
            self.classes_ = np.asarray(classes)
            n_classes, n_features = len(self.classes_), X.shape[1]
            self.class_count_ = np.zeros(n_classes)
            self.theta_ = np.zeros((n_classes, n_features))
            self._var = np.zeros((n_classes, n_features))
            self._seen = (0.0, np.zeros(n_features), np.zeros(n_features))
        if not np.isin(y, self.classes_).all():
            raise ValueError(f"labels {np.setdiff1d(y, self.classes_)} are not in classes_")

        self._seen = _merge_moments(*self._seen, X)
        for i, label in enumerate(self.classes_):
            self.class_count_[i], self.theta_[i], self._var[i] = _merge_moments(
                self.class_count_[i], self.theta_[i], self._var[i], X[y == label]
            )
        self.epsilon_ = self.var_smoothing * self._seen[2].max()
        self.var_ = self._var + self.epsilon_
        if self.priors is not None:
            self.class_prior_ = np.asarray(self.priors, dtype=np.float64)
        else:
            self.class_prior_ = self.class_count_ / self.class_count_.sum()
        return self

    def predict_joint_log_proba(self, X: np.ndarray) -> np.ndarray:
        """``log p(x, c)`` for every row and class, shape ``(n_samples, n_classes)``."""
        X = np.asarray(X, dtype=np.float64)
        log_norm = -0.5 * np.log(2.0 * np.pi * self.var_).sum(axis=1)
        sq = ((X[:, None, :] - self.theta_[None, :, :]) ** 2 / self.var_[None, :, :]).sum(axis=2)
        with np.errstate(divide="ignore"):
            log_prior = np.log(self.class_prior_)
        return log_prior + log_norm - 0.5 * sq

    def predict_log_proba(self, X: np.ndarray) -> np.ndarray:
        """``log p(c | x)``, normalised with log-sum-exp."""
        jll = self.predict_joint_log_proba(X)
        top = jll.max(axis=1, keepdims=True)
        return jll - (top + np.log(np.exp(jll - top).sum(axis=1, keepdims=True)))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.exp(self.predict_log_proba(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[self.predict_joint_log_proba(X).argmax(axis=1)]
