"""Property tests for PCA against a float64 eigendecomposition of the covariance matrix."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from grader.grading.boundary import candidate

pca = candidate("harness")  # PCA fitted and applied in the subject process

_OFFSET = st.floats(3.0, 30.0, allow_nan=False, allow_infinity=False)
_SIGN = st.sampled_from([-1.0, 1.0])
_SHIFT = st.floats(-50.0, 50.0, allow_nan=False, allow_infinity=False, allow_subnormal=False)


@st.composite
def offset_data(draw):
    """(n, d) data, n > d, with distinct spreads along a random rotation and a nonzero mean."""
    n_features = draw(st.integers(2, 4))
    n_samples = draw(st.integers(n_features + 2, 10))
    offset = draw(hnp.arrays(np.float64, n_features, elements=_OFFSET))
    signs = draw(hnp.arrays(np.float64, n_features, elements=_SIGN))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    rotation, _ = np.linalg.qr(rng.normal(size=(n_features, n_features)))
    spreads = 3.0 * 0.5 ** np.arange(n_features)
    return (rng.normal(size=(n_samples, n_features)) * spreads) @ rotation.T + signs * offset


def _covariance_eigh(X):
    """float64 oracle: eigenvalues (descending) and eigenvectors (as rows) of np.cov(X.T)."""
    values, vectors = np.linalg.eigh(np.cov(X.T))
    return values[::-1], vectors[:, ::-1].T


def _separated(values, rel_gap=1e-3):
    """Indices whose eigenvalue is well separated from all others (direction well defined)."""
    scale = max(values[0], 1e-300)
    return [
        i
        for i in range(len(values))
        if all(abs(values[i] - values[j]) > rel_gap * scale for j in range(len(values)) if j != i)
    ]


@given(offset_data())
def test_components_are_orthonormal(X):
    components = pca.fit(X)["components_"]
    gram = components @ components.T
    d = float(np.abs(gram - np.eye(gram.shape[0])).max())
    assert d < 1e-10, f"components_ @ components_.T is off the identity by {d:.2e}"


@given(offset_data())
def test_shapes_and_ordering(X):
    n, d = X.shape
    k = max(1, d - 1)
    fitted = pca.fit(X, n_components=k, transform=X)
    components, scores = fitted["components_"], fitted["transform"]
    assert components.shape == (k, d), f"components_ shape {components.shape}"
    assert scores.shape == (n, k), f"transform shape {scores.shape}"
    ev = fitted["explained_variance_"]
    assert ev.shape == (k,) and np.all(np.diff(ev) <= 1e-12 * ev[0]), (
        f"explained_variance_ {ev.tolist()} must have {k} entries in decreasing order"
    )


@given(offset_data())
def test_inverse_transform_reconstructs_with_all_components(X):
    back = pca.round_trip(X)
    d = float(np.abs(back - X).max())
    assert d < 1e-9, f"inverse_transform(transform(X)) with all components is off X by {d:.2e}"


@given(offset_data(), hnp.arrays(np.float64, 4, elements=_SHIFT))
def test_components_invariant_to_shifting_the_data(X, shift):
    shift = shift[: X.shape[1]]
    a, b = pca.fit(X), pca.fit(X + shift)
    values, _ = _covariance_eigh(X)
    for i in _separated(values):
        cos = abs(float(a["components_"][i] @ b["components_"][i]))
        assert cos > 1 - 1e-8, (
            f"component {i} turned when every row was shifted by {np.round(shift, 3).tolist()}: "
            f"|cos| between the two fits = {cos:.6f}; PCA must not depend on where the data sits"
        )
    ev_a, ev_b = a["explained_variance_"], b["explained_variance_"]
    d = float(np.abs(ev_a - ev_b).max())
    assert d < 1e-8 * values[0], (
        f"explained_variance_ changed by {d:.3e} under a constant shift of the data "
        f"({np.round(ev_a, 4).tolist()} vs "
        f"{np.round(ev_b, 4).tolist()})"
    )


@given(offset_data())
def test_matches_covariance_eigendecomposition(X):
    fitted = pca.fit(X)
    ev = fitted["explained_variance_"]
    values, vectors = _covariance_eigh(X)
    d = float(np.abs(ev - values).max())
    assert d < 1e-9 * values[0], (
        f"explained_variance_ = {np.round(ev, 5).tolist()} but the "
        f"eigenvalues of np.cov(X.T) are {np.round(values, 5).tolist()} (max |diff| {d:.2e})"
    )
    for i in _separated(values):
        cos = abs(float(fitted["components_"][i] @ vectors[i]))
        assert cos > 1 - 1e-8, (
            f"component {i} is not the covariance eigenvector with eigenvalue {values[i]:.4f}: "
            f"|cos| = {cos:.6f}"
        )


@given(offset_data())
def test_explained_variance_is_variance_of_projections(X):
    fitted = pca.fit(X, transform=X)
    ev = fitted["explained_variance_"]
    scores_cov = np.cov(fitted["transform"].T)
    var = np.diag(scores_cov)
    d = float(np.abs(var - ev).max())
    assert d < 1e-9 * var.max(), (
        f"sample variance of the projected data is {np.round(var, 5).tolist()}, "
        f"explained_variance_ says {np.round(ev, 5).tolist()}"
    )
    off = float(np.abs(scores_cov - np.diag(var)).max())
    assert off < 1e-9 * var.max(), (
        f"projections on different components are correlated (max |covariance| {off:.3e}); "
        f"principal components must be uncorrelated"
    )


@given(offset_data())
def test_explained_variance_ratio_sums_to_one_with_all_components(X):
    ratio = pca.fit(X)["explained_variance_ratio_"]
    total = float(ratio.sum())
    assert abs(total - 1.0) < 1e-9 and np.all(ratio >= 0), (
        f"with all {X.shape[1]} components kept the explained variance ratios "
        f"{np.round(ratio, 4).tolist()} sum to {total:.6f}, expected 1"
    )
