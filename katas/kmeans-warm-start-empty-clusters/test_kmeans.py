"""Property tests for Lloyd's k-means, with warm starts as the nightly job uses them.

Data are small, tight, well-separated blobs drawn from a seeded NumPy generator, so
distances never tie and the best partition (found by brute force over every labelling) is
the blobs.  Warm starts put some centres on (or next to) data points and the others far
from all the data, as the previous run's centres of clusters that have since vanished.
"""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from grader.grading.boundary import candidate

kmeans = candidate("harness")  # KMeans fitted in the subject process


def make_blobs(rng: np.random.Generator, sizes: list[int], dim: int) -> np.ndarray:
    """Blobs with the given sizes, spread 0.3, centres at least 8 apart, rows shuffled."""
    centres = rng.normal(size=(len(sizes), dim))
    gaps = [np.linalg.norm(a - b) for a, b in itertools.combinations(centres, 2)]
    centres *= 8.0 / min(gaps)
    X = np.concatenate(
        [c + 0.3 * rng.normal(size=(n, dim)) for c, n in zip(centres, sizes, strict=True)]
    )
    return X[rng.permutation(len(X))]


def far_point(rng: np.random.Generator, X: np.ndarray) -> np.ndarray:
    """A point about ten data diameters away from every row of X, in a random direction."""
    direction = rng.normal(size=X.shape[1])
    extent = float(np.ptp(X, axis=0).max()) + 1.0
    return X.mean(axis=0) + direction / np.linalg.norm(direction) * extent * rng.uniform(10, 20)


@st.composite
def warm_starts(draw, max_k: int = 5, max_far: int = 2):
    """(X, init, far): blobs, k initial centres of which those at indices ``far`` are far
    away from all the data and the others sit next to distinct data points."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    k = draw(st.integers(3, max_k))
    n_far = draw(st.integers(1, min(max_far, k - 1)))
    sizes = [draw(st.integers(1, 4)) for _ in range(draw(st.integers(2, k)))]
    while sum(sizes) < k:
        sizes[0] += 1
    X = make_blobs(rng, sizes, draw(st.integers(2, 3)))
    far = np.sort(rng.choice(k, size=n_far, replace=False))
    init = X[rng.choice(len(X), size=k, replace=False)] + 0.01 * rng.normal(size=(k, X.shape[1]))
    for j in far:
        init[j] = far_point(rng, X)
    return X, init, far


@st.composite
def one_dead_cluster(draw):
    """(X, init, far): k blobs; k - 1 centres next to a point of distinct blobs, one far away.
    From this start the re-seeding rule finds the uncovered blob, so Lloyd ends at the blobs."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    k = draw(st.integers(2, 3))
    sizes = [draw(st.integers(1, 3)) for _ in range(k)]
    dim = draw(st.integers(2, 3))
    X = make_blobs(rng, sizes, dim)
    blob = bruteforce_labels(X, k)  # the blobs: they are far apart
    far = int(rng.integers(k))
    covered = rng.permutation(k)[: k - 1]
    init = np.empty((k, dim))
    others = [j for j in range(k) if j != far]
    for j, b in zip(others, covered, strict=True):
        init[j] = X[rng.choice(np.flatnonzero(blob == b))] + 0.01 * rng.normal(size=dim)
    init[far] = far_point(rng, X)
    return X, init, np.array([far])


def bruteforce_labels(X: np.ndarray, k: int) -> np.ndarray:
    """float64 brute force: the labelling with the least k-means cost over all k**n."""
    return _bruteforce(X, k)[1]


def bruteforce_inertia(X: np.ndarray, k: int) -> float:
    return _bruteforce(X, k)[0]


def _bruteforce(X: np.ndarray, k: int) -> tuple[float, np.ndarray]:
    n = len(X)
    labellings = np.array(list(itertools.product(range(k), repeat=n)))  # (k**n, n)
    onehot = labellings[:, :, None] == np.arange(k)  # (L, n, k)
    counts = onehot.sum(axis=1)  # (L, k)
    sums = np.einsum("lnk,nd->lkd", onehot.astype(np.float64), X)
    explained = (np.square(sums).sum(axis=-1) / np.maximum(counts, 1)).sum(axis=-1)
    costs = np.square(X).sum() - explained
    best = int(np.argmin(costs))
    return float(costs[best]), labellings[best]


def sq_distances(X: np.ndarray, centres: np.ndarray) -> np.ndarray:
    return np.square(X[:, None, :] - centres[None, :, :]).sum(axis=-1)


@given(warm_starts())
def test_centres_are_finite_and_labels_are_the_nearest_centre(case):
    X, init, _ = case
    k = len(init)
    for start in (init, None):
        fitted = kmeans.fit(X, k, init=start)
        centres, labels = fitted["cluster_centers_"], fitted["labels_"]
        assert centres.shape == (k, X.shape[1]) and np.isfinite(centres).all(), (
            f"cluster_centers_ has shape {centres.shape} with "
            f"{int((~np.isfinite(centres)).sum())} non-finite entries; expected {k} finite centres"
        )
        d = sq_distances(X, centres)
        nearest = d.argmin(axis=1)
        wrong = int((labels != nearest).sum())
        assert wrong == 0, f"{wrong} of {len(X)} labels_ are not the nearest centre"
        inertia = float(d.min(axis=1).sum())
        assert abs(fitted["inertia_"] - inertia) <= 1e-9 * (1 + inertia), (
            f"inertia_ = {fitted['inertia_']:.6f}, the squared distances to the nearest "
            f"centres sum to {inertia:.6f}"
        )


@given(warm_starts())
def test_inertia_never_increases_over_iterations(case):
    X, init, _ = case
    path = kmeans.inertia_by_iteration(X, len(init), init, 6)
    for t in range(1, len(path)):
        assert path[t] <= path[t - 1] * (1 + 1e-12) + 1e-12, (
            f"inertia went up from {path[t - 1]:.6f} after {t} iterations to "
            f"{path[t]:.6f} after {t + 1}"
        )


@given(warm_starts())
def test_converged_centres_are_the_means_of_their_members(case):
    X, init, _ = case
    fitted = kmeans.fit(X, len(init), init=init)
    centres, labels = fitted["cluster_centers_"], fitted["labels_"]
    for j in np.unique(labels):
        mean = X[labels == j].mean(axis=0)
        err = float(np.abs(centres[j] - mean).max())
        assert err < 1e-9 * (1 + float(np.abs(X).max())), (
            f"after convergence, centre {j} is {err:.3e} away from the mean of its "
            f"{int((labels == j).sum())} points"
        )


@given(st.integers(0, 2**32 - 1), st.integers(2, 5))
def test_kmeans_plusplus_is_reproducible_and_uses_every_cluster(seed, k):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(int(rng.integers(k + 2, 30)), 2))
    a = kmeans.fit(X, k, random_state=seed % 1000)
    b = kmeans.fit(X, k, random_state=seed % 1000)
    assert np.array_equal(a["cluster_centers_"], b["cluster_centers_"]), (
        "two fits with the same random_state gave different centres"
    )
    sizes = np.bincount(a["labels_"], minlength=k)
    assert (sizes > 0).all(), f"k-means++ fit with k={k}: cluster sizes {sizes.tolist()}"


@given(warm_starts())
def test_no_cluster_is_left_empty_after_a_warm_start(case):
    X, init, far = case
    k = len(init)
    fitted = kmeans.fit(X, k, init=init)
    sizes = np.bincount(fitted["labels_"], minlength=k)
    assert (sizes > 0).all(), (
        f"warm start with {k} centres, {len(far)} of them (indices {far.tolist()}) far "
        f"from the data: cluster sizes at convergence are {sizes.tolist()}; "
        f"every cluster should have members ({len(X)} distinct points)"
    )


@given(one_dead_cluster())
def test_warm_start_reaches_the_bruteforce_optimum(case):
    X, init, far = case
    k = len(init)
    fitted = kmeans.fit(X, k, init=init)
    best = bruteforce_inertia(X, k)
    assert fitted["inertia_"] <= best * (1 + 1e-9) + 1e-12, (
        f"{len(X)} points in {k} well-separated blobs, warm start with centre {int(far[0])} "
        f"far away: inertia_ = {fitted['inertia_']:.4f}, the best partition has {best:.4f}"
    )


@given(warm_starts(max_far=3))
def test_empty_clusters_move_onto_the_worst_served_points(case):
    X, init, _ = case
    labels, dist = sq_distances(X, init).argmin(axis=1), sq_distances(X, init).min(axis=1)
    k = len(init)
    empty = np.setdiff1d(np.arange(k), labels)
    worst = np.argsort(-dist, kind="stable")[: len(empty)]
    got = kmeans.fit(X, k, init=init, max_iter=1)["cluster_centers_"]
    for j, i in zip(empty, worst, strict=True):
        err = float(np.abs(got[j] - X[i]).max())
        assert err == 0.0, (
            f"cluster {j} has no points after the first assignment; one iteration should move "
            f"its centre onto point {i} (squared distance {dist[i]:.3f} to its centre), "
            f"but it is {float(np.linalg.norm(got[j] - X[i])):.3f} away from it"
        )
    for j in np.setdiff1d(np.arange(k), empty):
        err = float(np.abs(got[j] - X[labels == j].mean(axis=0)).max())
        assert err < 1e-12 * (1 + float(np.abs(X).max())), (
            f"after one iteration centre {j} is {err:.3e} away from the mean of its points"
        )
