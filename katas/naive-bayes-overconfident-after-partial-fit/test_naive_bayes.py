"""Property tests for Gaussian naive Bayes against a float64 brute force of its definition.

Data are Gaussian classes with their own means and spreads, drawn from a seeded NumPy
generator.  Batches for ``partial_fit`` are random cuts of the rows, sometimes after sorting
them along one feature, as a stream whose distribution drifts from day to day does.  The
oracle fits on all the rows at once: per-class maximum-likelihood means and variances plus
``var_smoothing`` times the largest feature variance, frequency priors, log-sum-exp.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from grader.grading.boundary import candidate

nb = candidate("harness")  # GaussianNB trained and applied in the subject process


def oracle(
    X: np.ndarray,
    y: np.ndarray,
    classes: np.ndarray,
    X_eval: np.ndarray,
    var_smoothing: float = 1e-9,
) -> dict:
    """float64 brute force of the documented model, fitted on all rows at once."""
    epsilon = var_smoothing * X.var(axis=0).max()
    count = np.array([(y == c).sum() for c in classes], dtype=np.float64)
    theta = np.array([X[y == c].mean(axis=0) for c in classes])
    var = np.array([X[y == c].var(axis=0) for c in classes]) + epsilon
    jll = np.empty((len(X_eval), len(classes)))
    for i, x in enumerate(X_eval):
        for k in range(len(classes)):
            log_density = -0.5 * (np.log(2 * np.pi * var[k]) + (x - theta[k]) ** 2 / var[k])
            jll[i, k] = np.log(count[k] / count.sum()) + log_density.sum()
    top = jll.max(axis=1, keepdims=True)
    log_proba = jll - top - np.log(np.exp(jll - top).sum(axis=1, keepdims=True))
    return {
        "class_count_": count,
        "theta_": theta,
        "var_": var,
        "epsilon_": epsilon,
        "joint_log_proba": jll,
        "log_proba": log_proba,
    }


@st.composite
def datasets(draw, max_features: int = 6):
    """(X, y, classes, X_eval): 2-4 Gaussian classes, every class present, labels shuffled."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_classes = draw(st.integers(2, 4))
    n_features = draw(st.integers(1, max_features))
    n = draw(st.integers(4 * n_classes, 60))
    classes = np.sort(rng.choice(np.arange(10), size=n_classes, replace=False))
    y = np.concatenate([classes, rng.choice(classes, size=n - n_classes)])[rng.permutation(n)]
    means = 3.0 * rng.normal(size=(n_classes, n_features)) + draw(st.sampled_from([0.0, 5.0]))
    spreads = rng.uniform(0.5, 2.0, size=(n_classes, n_features))
    index = np.searchsorted(classes, y)
    X = means[index] + spreads[index] * rng.normal(size=(n, n_features))
    X_eval = means[rng.integers(n_classes, size=12)] + 2.0 * rng.normal(size=(12, n_features))
    return X, y, classes, X_eval


@st.composite
def streams(draw):
    """(X, y, classes, X_eval, batches): the rows cut into 2-6 batches, in a drifting order
    (sorted along one feature) or as they come."""
    X, y, classes, X_eval = draw(datasets())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    order = np.argsort(X[:, 0], kind="stable") if draw(st.booleans()) else np.arange(len(X))
    n_batches = draw(st.integers(2, 6))
    cuts = np.sort(rng.choice(np.arange(1, len(X)), size=n_batches - 1, replace=False))
    batches = [(X[part], y[part]) for part in np.split(order, cuts)]
    return X, y, classes, X_eval, batches


def _max_rel(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.max(np.abs(got - want) / (1.0 + np.abs(want))))


def prediction_error(got: dict, want: dict) -> float:
    """Largest error of the predictions: absolute on the probabilities, and relative on the
    log-probabilities of the classes with a posterior above e^-30 (far below that, a class's
    log-probability is a huge negative number set by rounding in its floor-sized variance)."""
    proba = float(np.abs(np.asarray(got["proba"]) - np.exp(want["log_proba"])).max())
    relevant = want["log_proba"] > -30.0
    log_err = [
        _max_rel(np.asarray(got[k])[relevant], want[k][relevant])
        for k in ("joint_log_proba", "log_proba")
    ]
    return max(proba, *log_err)


@given(datasets())
def test_fit_matches_the_float64_definition(case):
    X, y, classes, X_eval = case
    got, want = nb.fit(X, y, X_eval), oracle(X, y, classes, X_eval)
    for key in ("class_count_", "theta_", "var_"):
        err = _max_rel(np.asarray(got[key]), want[key])
        assert err < 1e-9, (
            f"fit on {len(X)} rows, {len(classes)} classes: {key} is off the definition "
            f"by {err:.2e} (relative)"
        )
    err = prediction_error(got, want)
    assert err < 1e-9, f"fit on {len(X)} rows: the predictions are off the definition by {err:.2e}"


@given(st.integers(0, 2**32 - 1), st.sampled_from([50, 300, 1000]), st.sampled_from([10.0, 1e3]))
def test_probabilities_stay_finite_in_high_dimension_and_far_away(seed, n_features, distance):
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1, 2], 6)
    X = rng.normal(size=(18, n_features)) + np.repeat(rng.normal(size=(3, n_features)), 6, axis=0)
    X_eval = distance * rng.normal(size=(5, n_features))
    got = nb.fit(X, y, X_eval)
    proba = got["proba"]
    assert np.isfinite(proba).all() and np.allclose(proba.sum(axis=1), 1.0), (
        f"{n_features} features, points about {distance:g} away: predict_proba has "
        f"{int((~np.isfinite(proba)).sum())} non-finite entries, "
        f"row sums {np.round(proba.sum(axis=1), 4).tolist()}"
    )
    same = np.array_equal(got["predict"], got["classes_"][got["joint_log_proba"].argmax(axis=1)])
    assert same, "predict is not the class with the largest joint log-likelihood"


@given(datasets())
def test_a_class_with_one_sample_keeps_a_positive_variance(case):
    X, y, _, X_eval = case
    X1 = np.vstack([X, X_eval[:1]])
    y1 = np.append(y, 99)
    got = nb.fit(X1, y1, X_eval)
    var = np.asarray(got["var_"])[-1]
    assert np.isfinite(var).all() and (var > 0).all(), (
        f"class 99 has a single sample: its var_ is {np.round(var, 12).tolist()}; the "
        f"var_smoothing floor must keep it positive"
    )
    assert np.isfinite(got["proba"]).all(), "predict_proba is not finite with a one-sample class"


@given(streams(), st.integers(0, 2**32 - 1))
def test_batch_order_does_not_change_the_model(case, seed):
    _, _, classes, X_eval, batches = case
    order = np.random.default_rng(seed).permutation(len(batches))
    a = nb.partial_fit(batches, classes, X_eval)
    b = nb.partial_fit([batches[i] for i in order], classes, X_eval)
    err = float(np.abs(np.asarray(a["proba"]) - np.asarray(b["proba"])).max())
    assert err < 1e-9, (
        f"the same {len(batches)} batches in another order change predict_proba by {err:.2e}"
    )


@given(streams())
def test_partial_fit_gives_the_model_fit_gives_on_all_rows(case):
    X, y, classes, X_eval, batches = case
    streamed = nb.partial_fit(batches, classes, X_eval)
    want = oracle(X, y, classes, X_eval)
    for key in ("class_count_", "theta_", "var_"):
        err = _max_rel(np.asarray(streamed[key]), want[key])
        assert err < 1e-9, (
            f"partial_fit on {len(batches)} batches of sizes {[len(b[1]) for b in batches]}: "
            f"{key} is off the model fitted on all {len(X)} rows by {err:.2e} (relative)"
        )


@given(streams())
def test_partial_fit_probabilities_match_the_definition(case):
    X, y, classes, X_eval, batches = case
    got = np.asarray(nb.partial_fit(batches, classes, X_eval)["proba"])
    want = np.exp(oracle(X, y, classes, X_eval)["log_proba"])
    err = float(np.abs(got - want).max())
    assert err < 1e-8, (
        f"partial_fit on {len(batches)} batches: predict_proba differs from the model fitted "
        f"on all {len(X)} rows by up to {err:.4f}"
    )
