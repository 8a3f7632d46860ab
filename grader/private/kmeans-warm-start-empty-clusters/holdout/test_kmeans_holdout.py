"""Holdout properties: the whole trajectory against a float64 Lloyd oracle, the last
cluster left empty, and warm starts where all but one centre are dead."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st
from test_kmeans import far_point, make_blobs, sq_distances

from grader.grading.boundary import candidate

kmeans = candidate("harness")


def oracle_centres(X: np.ndarray, init: np.ndarray, iterations: int) -> tuple[np.ndarray, bool]:
    """The documented algorithm in float64: assign (ties to the lowest index), take the
    means, move the empty clusters (in index order) onto the points with the largest squared
    distance to their assigned centre, largest first.  Also says whether two of the
    distances that decide a re-seed point were tied (to rounding): the contract leaves that
    choice free (the two points of a two-point cluster are equally far from its mean)."""
    centres, tied = init.astype(np.float64).copy(), False
    for _ in range(iterations):
        d = sq_distances(X, centres)
        labels, dist = d.argmin(axis=1), d.min(axis=1)
        new = centres.copy()
        for j in range(len(centres)):
            if (labels == j).any():
                new[j] = X[labels == j].mean(axis=0)
        empty = [j for j in range(len(centres)) if not (labels == j).any()]
        order = np.argsort(-dist, kind="stable")
        if empty:
            deciding = dist[order[: len(empty) + 1]]
            gaps = np.abs(np.diff(deciding))
            tied |= bool((gaps <= 1e-9 * (1.0 + np.abs(deciding[1:]))).any())
        for j, i in zip(empty, order, strict=False):
            new[j] = X[i]
        centres = new
    return centres, tied


@st.composite
def box_starts(draw):
    """(X, init): blobs and k initial centres drawn anywhere in the data's bounding box, so
    clusters empty at the start and during the iterations."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    k = draw(st.integers(3, 6))
    sizes = [draw(st.integers(1, 4)) for _ in range(draw(st.integers(2, 4)))]
    while sum(sizes) < k:
        sizes[0] += 1
    X = make_blobs(rng, sizes, draw(st.integers(1, 3)))
    lo, hi = X.min(axis=0), X.max(axis=0)
    return X, lo + (hi - lo) * rng.uniform(size=(k, X.shape[1]))


@given(box_starts(), st.integers(1, 6))
def test_matches_the_float64_lloyd_oracle(case, iterations):
    X, init = case
    got = kmeans.fit(X, len(init), init=init, max_iter=iterations)["cluster_centers_"]
    want, tied = oracle_centres(X, init, iterations)
    assume(not tied)
    err = float(np.abs(got - want).max())
    assert err < 1e-9 * (1 + float(np.abs(X).max())), (
        f"{len(X)} points, k={len(init)}, start inside the data's bounding box: after "
        f"{iterations} iterations the centres are {err:.3e} away from the documented algorithm's"
    )


@given(st.integers(0, 2**32 - 1), st.integers(3, 6), st.integers(1, 2))
def test_last_cluster_empty_is_reseeded(seed, k, n_far):
    rng = np.random.default_rng(seed)
    X = make_blobs(rng, [int(rng.integers(1, 4)) + 1 for _ in range(k)], 2)
    init = X[rng.choice(len(X), size=k, replace=False)].copy()
    for j in range(k - n_far, k):
        init[j] = far_point(rng, X)
    sizes = np.bincount(kmeans.fit(X, k, init=init)["labels_"], minlength=k)
    assert (sizes > 0).all(), (
        f"warm start with the last {n_far} of {k} centres far from the data: cluster sizes "
        f"at convergence are {sizes.tolist()}"
    )


@given(st.integers(0, 2**32 - 1), st.integers(2, 6))
def test_all_but_one_centre_dead(seed, k):
    rng = np.random.default_rng(seed)
    X = make_blobs(rng, [int(rng.integers(1, 4)) for _ in range(k)], 3)
    keep = int(rng.integers(k))
    init = np.stack([X[0] if j == keep else far_point(rng, X) for j in range(k)])
    fitted = kmeans.fit(X, k, init=init)
    sizes = np.bincount(fitted["labels_"], minlength=k)
    assert (sizes > 0).all() and np.isfinite(fitted["cluster_centers_"]).all(), (
        f"warm start with only centre {keep} of {k} near the data: cluster sizes at "
        f"convergence are {sizes.tolist()}"
    )
