"""Property tests for Lloyd's k-means with empty-cluster re-seeding.

The oracle is the module docstring written out as NumPy loops in float64 (and, for the
optimum, a brute force over every labelling).  Starting centres are chosen to leave
clusters empty: some far away from all the data, some duplicated (the copy with the higher
index gets no point), some on data points.
"""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from grader.grading.boundary import candidate

km = candidate("lloyd_kmeans")  # lloyd_step, kmeans_plusplus: arrays in, arrays out
fitting = candidate("harness")  # fit, with its result as a dict


def sq_distances(X: np.ndarray, C: np.ndarray) -> np.ndarray:
    return np.square(X[:, None, :] - C[None, :, :]).sum(axis=-1)


def oracle_step(X: np.ndarray, C: np.ndarray):
    d = sq_distances(X, C)
    labels = d.argmin(axis=1)
    dist = d[np.arange(len(X)), labels]
    new = C.copy()
    for j in range(len(C)):
        if (labels == j).any():
            new[j] = X[labels == j].mean(axis=0)
    empty = [j for j in range(len(C)) if not (labels == j).any()]
    order = np.argsort(-dist, kind="stable")
    for j, i in zip(empty, order, strict=False):
        new[j] = X[i]
    return new, labels, float(dist.sum())


def far_point(rng: np.random.Generator, X: np.ndarray) -> np.ndarray:
    direction = rng.normal(size=X.shape[1])
    extent = float(np.ptp(X, axis=0).max()) + 1.0
    return X.mean(axis=0) + direction / np.linalg.norm(direction) * extent * rng.uniform(5, 20)


@st.composite
def starts(draw, min_k: int = 2, max_k: int = 6, max_n: int = 12):
    """(X, init): 3-12 points (uniform or in blobs), k starting centres of four kinds:
    far from the data, a duplicate of an earlier centre, on a data point, in the data's box."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, dim = draw(st.integers(3, max_n)), draw(st.integers(1, 3))
    if draw(st.booleans()):
        X = rng.normal(size=(n, dim))
    else:
        centres = 6.0 * rng.normal(size=(draw(st.integers(2, 4)), dim))
        X = centres[rng.integers(len(centres), size=n)] + 0.3 * rng.normal(size=(n, dim))
    k = draw(st.integers(min_k, min(max_k, n)))
    init = np.empty((k, dim))
    for j in range(k):
        kind = draw(st.sampled_from(["far", "duplicate", "point", "box"]))
        if kind == "far":
            init[j] = far_point(rng, X)
        elif kind == "duplicate" and j > 0:
            init[j] = init[rng.integers(j)]
        elif kind == "point":
            init[j] = X[rng.integers(n)]
        else:
            init[j] = X.min(axis=0) + np.ptp(X, axis=0) * rng.uniform(size=dim)
    return X, init


def scale_of(X: np.ndarray, init: np.ndarray) -> float:
    return 1.0 + float(np.abs(X).max()) + float(np.abs(init).max())


def describe(X: np.ndarray, init: np.ndarray) -> str:
    labels = sq_distances(X, init).argmin(axis=1)
    n_empty = len(init) - len(np.unique(labels))
    return f"{len(X)} points in {X.shape[1]}-d, k={len(init)} ({n_empty} empty at the start)"


@given(starts())
def test_one_step_matches_the_float64_oracle(case):
    X, init = case
    centers, labels, inertia = km.lloyd_step(X, init)
    want_centers, want_labels, want_inertia = oracle_step(X, init)
    assert np.array_equal(np.asarray(labels), want_labels), (
        f"{describe(X, init)}: labels of the assignment differ at points "
        f"{np.flatnonzero(np.asarray(labels) != want_labels)[:5].tolist()}"
    )
    assert abs(float(inertia) - want_inertia) <= 1e-12 * scale_of(X, init) ** 2 * len(X), (
        f"{describe(X, init)}: inertia {float(inertia):.6f}, expected {want_inertia:.6f} "
        "(the assignment to the old centres)"
    )
    assert centers.shape == init.shape and np.isfinite(centers).all(), (
        f"{describe(X, init)}: new centres have shape {centers.shape}, "
        f"{int((~np.isfinite(centers)).sum())} non-finite entries"
    )
    err = np.abs(centers - want_centers).max(axis=1)
    j = int(np.argmax(err))
    assert err[j] <= 1e-12 * scale_of(X, init), (
        f"{describe(X, init)}: after one step centre {j} is {err[j]:.3e} away from the "
        "documented update (mean of its points, or re-seeded if empty)"
    )


@st.composite
def starts_with_far_centres(draw):
    """Starts where at least two centres are far from all the data."""
    X, init = draw(starts(min_k=3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    for j in rng.choice(len(init), size=draw(st.integers(2, len(init) - 1)), replace=False):
        init[j] = far_point(rng, X)
    return X, init


@given(starts_with_far_centres())
def test_empty_clusters_take_distinct_worst_served_points(case):
    X, init = case
    labels, dist = sq_distances(X, init).argmin(axis=1), sq_distances(X, init).min(axis=1)
    empty = np.setdiff1d(np.arange(len(init)), labels)
    worst = np.argsort(-dist, kind="stable")[: len(empty)]
    centers, _, _ = km.lloyd_step(X, init)
    for j, i in zip(empty, worst, strict=True):
        err = float(np.abs(centers[j] - X[i]).max())
        assert err == 0.0, (
            f"{describe(X, init)}: cluster {j} is empty after the assignment, so it should move "
            f"onto point {i} (squared distance {dist[i]:.3f} to its centre, rank "
            f"{int(np.flatnonzero(worst == i)[0]) + 1} among the worst served); it is "
            f"{float(np.linalg.norm(centers[j] - X[i])):.3f} away from it"
        )


@given(starts(), st.integers(2, 30))
def test_inertia_never_increases(case, max_iter):
    X, init = case
    history = [float(h) for h in fitting.fit(X, init, max_iter)["history"]]
    for t in range(1, len(history)):
        assert history[t] <= history[t - 1] * (1 + 1e-12) + 1e-12, (
            f"{describe(X, init)}: inertia went up from {history[t - 1]:.6f} at iteration {t} "
            f"to {history[t]:.6f} at iteration {t + 1}"
        )


@given(starts())
def test_converged_fit_is_a_fixed_point_that_uses_every_cluster(case):
    X, init = case
    result = fitting.fit(X, init, 300)
    centers, labels = result["centers"], np.asarray(result["labels"])
    k = len(init)
    sizes = np.bincount(labels, minlength=k)
    assert (sizes > 0).all(), (
        f"{describe(X, init)}: after {result['n_iter']} iterations cluster sizes are "
        f"{sizes.tolist()} ({len(np.unique(X, axis=0))} distinct points)"
    )
    nearest = sq_distances(X, centers).argmin(axis=1)
    assert np.array_equal(labels, nearest), (
        f"{describe(X, init)}: the returned labels are not the nearest returned centres at "
        f"points {np.flatnonzero(labels != nearest)[:5].tolist()}"
    )
    for j in range(k):
        err = float(np.abs(centers[j] - X[labels == j].mean(axis=0)).max())
        assert err <= 1e-9 * scale_of(X, init), (
            f"{describe(X, init)}: at convergence centre {j} is {err:.2e} away from the mean "
            "of its points"
        )


def bruteforce_inertia(X: np.ndarray, k: int) -> float:
    """The least k-means cost over all k**n labellings (float64, vectorised)."""
    labellings = np.array(list(itertools.product(range(k), repeat=len(X))))  # (L, n)
    onehot = (labellings[:, :, None] == np.arange(k)).astype(np.float64)  # (L, n, k)
    counts = onehot.sum(axis=1)  # (L, k)
    sums = np.einsum("lnk,nd->lkd", onehot, X)
    explained = (np.square(sums).sum(axis=-1) / np.maximum(counts, 1)).sum(axis=-1)
    return float((np.square(X).sum() - explained).min())


@given(st.integers(0, 2**32 - 1), st.integers(2, 3))
def test_warm_start_with_a_dead_centre_reaches_the_optimum(seed, k):
    rng = np.random.default_rng(seed)
    blobs = rng.normal(size=(k, 2))
    blobs *= 10.0 / min(np.linalg.norm(a - b) for a, b in itertools.combinations(blobs, 2))
    sizes = rng.integers(1, 4, size=k)
    X = np.concatenate(
        [c + 0.2 * rng.normal(size=(s, 2)) for c, s in zip(blobs, sizes, strict=True)]
    )
    X = X[rng.permutation(len(X))]
    init = blobs[rng.permutation(k)] + 0.05 * rng.normal(size=(k, 2))
    dead = int(rng.integers(k))
    init[dead] = far_point(rng, X)
    result = fitting.fit(X, init, 100)
    best = bruteforce_inertia(X, k)
    assert float(result["inertia"]) <= best * (1 + 1e-9) + 1e-12, (
        f"{len(X)} points in {k} separated blobs, centre {dead} starting far away: inertia "
        f"{float(result['inertia']):.4f}, the best partition has {best:.4f}"
    )


@given(starts(), st.integers(1, 3))
def test_result_describes_the_final_centres(case, max_iter):
    X, init = case
    result = fitting.fit(X, init, max_iter)
    centers, labels = result["centers"], np.asarray(result["labels"])
    d = sq_distances(X, centers)
    assert np.array_equal(labels, d.argmin(axis=1)), (
        f"{describe(X, init)}, max_iter={max_iter}: labels are not the nearest final centres"
    )
    want = float(d.min(axis=1).sum())
    assert abs(float(result["inertia"]) - want) <= 1e-9 * max(1.0, want), (
        f"{describe(X, init)}, max_iter={max_iter}: inertia {float(result['inertia']):.6f}, "
        f"but the final centres give {want:.6f}"
    )
    n_iter, history = int(result["n_iter"]), list(result["history"])
    assert 1 <= n_iter <= max_iter and len(history) == n_iter, (
        f"max_iter={max_iter}: n_iter={n_iter} with {len(history)} inertia values in history"
    )


@given(st.integers(0, 2**32 - 1), st.integers(1, 6))
def test_kmeans_plusplus_picks_distinct_data_points(seed, k):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(8, 2))
    centers = km.kmeans_plusplus(X, k, seed)
    rows = {tuple(c) for c in centers}
    assert len(rows) == k and rows <= {tuple(x) for x in X}, (
        f"k-means++ with k={k} returned {len(rows)} distinct centres, not all data points"
    )
