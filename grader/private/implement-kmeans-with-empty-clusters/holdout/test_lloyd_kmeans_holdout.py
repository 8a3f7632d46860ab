"""Holdout properties for Lloyd's k-means (not shown to the candidate): whole trajectories
against the oracle, ties on integer data, k = 1 and k = n, a tolerance, the last clusters
left empty, and the arguments left untouched."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st
from test_lloyd_kmeans import describe, far_point, oracle_step, scale_of, sq_distances, starts

from grader.grading.boundary import candidate

km = candidate("lloyd_kmeans")
fitting = candidate("harness")


def oracle_fit(X, init, max_iter, tol):
    centers, n_iter = init.copy(), 0
    while n_iter < max_iter:
        new, _, _ = oracle_step(X, centers)
        shift = float(np.square(new - centers).sum(axis=1).max())
        centers, n_iter = new, n_iter + 1
        if shift <= tol:
            break
    return centers, n_iter


@given(starts(), st.integers(1, 8))
def test_trajectory_matches_the_oracle(case, max_iter):
    X, init = case
    result = fitting.fit(X, init, max_iter)
    want, want_iter = oracle_fit(X, init, max_iter, 0.0)
    err = float(np.abs(result["centers"] - want).max())
    assert err <= 1e-9 * scale_of(X, init), (
        f"{describe(X, init)}, max_iter={max_iter}: the centres are {err:.2e} away from the "
        "documented algorithm's"
    )
    assert int(result["n_iter"]) == want_iter, (
        f"{describe(X, init)}: stopped after {int(result['n_iter'])} iterations, the documented "
        f"algorithm after {want_iter}"
    )


@st.composite
def grid_starts(draw):
    """Points and centres on a small integer grid: distances tie all the time."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, k = draw(st.integers(3, 10)), draw(st.integers(2, 5))
    X = rng.integers(0, 4, size=(n, 2)).astype(np.float64)
    init = rng.integers(-3, 7, size=(min(k, n), 2)).astype(np.float64)
    return X, init


@given(grid_starts())
def test_ties_follow_the_documented_rules(case):
    X, init = case
    centers, labels, _ = km.lloyd_step(X, init)
    want_centers, want_labels, _ = oracle_step(X, init)
    assert np.array_equal(np.asarray(labels), want_labels), (
        f"{describe(X, init)}, integer grid: tied distances must go to the lowest cluster index"
    )
    err = float(np.abs(centers - want_centers).max())
    assert err <= 1e-12 * scale_of(X, init), (
        f"{describe(X, init)}, integer grid: centres {err:.2e} away from the documented step "
        "(re-seeding ties go to the lower point index)"
    )


@given(st.integers(0, 2**32 - 1), st.integers(2, 8))
def test_k_equal_to_n_and_k_one(seed, n):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    init = np.repeat(X[:1] + 100.0, n, axis=0)
    result = fitting.fit(X, init, 100)
    # zero up to rounding: |x|^2 - 2 x.c + |c|^2 distances leave ~1e-15 at a data point,
    # while a cluster left unused costs at least the closest pair's squared distance
    assert float(result["inertia"]) <= 1e-12 * (1.0 + float(np.square(X).sum())), (
        f"k = n = {n}, every centre starting at the same far point: inertia "
        f"{float(result['inertia']):.3e} after {int(result['n_iter'])} iterations, expected 0"
    )
    one = fitting.fit(X, X[:1] + 5.0, 10)
    err = float(np.abs(one["centers"][0] - X.mean(axis=0)).max())
    assert err < 1e-12, f"k = 1: the centre is {err:.2e} away from the mean of the data"


@given(starts(), st.sampled_from([1e-6, 1e-2, 1.0]))
def test_tolerance_stops_the_fit(case, tol):
    X, init = case
    result = fitting.fit(X, init, 200, tol)
    _, want_iter = oracle_fit(X, init, 200, tol)
    assert int(result["n_iter"]) == want_iter, (
        f"{describe(X, init)}, tol={tol:g}: stopped after {int(result['n_iter'])} iterations, "
        f"expected {want_iter} (stop once the largest squared centre shift is <= tol)"
    )


def shifts_along(X, init, max_iter):
    """Per iteration of the documented fit: (largest, total) squared centre shift."""
    centers, out = init.copy(), []
    for _ in range(max_iter):
        new, _, _ = oracle_step(X, centers)
        moved = np.square(new - centers).sum(axis=1)
        out.append((float(moved.max()), float(moved.sum())))
        centers = new
        if out[-1][0] == 0.0:
            break
    return out


def first_at_most(values, tol):
    return next((i + 1 for i, v in enumerate(values) if v <= tol), len(values))


@given(starts())
def test_tolerance_is_on_the_largest_shift_of_one_centre(case):
    """A tolerance placed where the documented rule (the largest squared shift of one
    centre <= tol) stops at another iteration than a rule on the total shift would.  The
    tolerance sits well inside the gap, so rounding in how the centres are computed cannot
    move the stop."""
    X, init = case
    shifts = shifts_along(X, init, 50)
    largest, totals = [m for m, _ in shifts], [t for _, t in shifts]
    tol = None
    for m, total in shifts:
        if m > 0.0 and total > m * 1.001:
            candidate_tol = float(np.sqrt(m * total))
            if first_at_most(largest, candidate_tol) != first_at_most(totals, candidate_tol):
                tol = candidate_tol
                break
    assume(tol is not None)
    want_iter = first_at_most(largest, tol)
    result = fitting.fit(X, init, 200, tol)
    assert int(result["n_iter"]) == want_iter, (
        f"{describe(X, init)}, tol={tol:.6g}: stopped after {int(result['n_iter'])} "
        f"iterations, expected {want_iter} (stop once the largest squared shift of one centre "
        "is <= tol)"
    )


@given(st.integers(0, 2**32 - 1), st.integers(3, 6), st.integers(1, 2))
def test_last_clusters_left_empty_are_reseeded(seed, k, n_far):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(3 * k, 2)) * 4
    init = X[rng.choice(len(X), size=k, replace=False)].copy()
    for j in range(k - n_far, k):
        init[j] = far_point(rng, X)
    result = fitting.fit(X, init, 200)
    sizes = np.bincount(np.asarray(result["labels"]), minlength=k)
    assert (sizes > 0).all(), (
        f"k={k}, the last {n_far} centres far from the data: cluster sizes at convergence "
        f"{sizes.tolist()}"
    )


@given(starts())
def test_arguments_are_not_modified(case):
    X, init = case
    answer = fitting.step_and_arguments(X, init)
    assert np.array_equal(answer["X"], X) and np.array_equal(answer["centers"], init), (
        f"{describe(X, init)}: lloyd_step modified its arguments"
    )
    labels = sq_distances(X, init).argmin(axis=1)
    assert np.array_equal(np.asarray(answer["step"][1]), labels), (
        "lloyd_step's labels are not the assignment to the centres it was given"
    )
