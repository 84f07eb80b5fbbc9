"""Hypothesis properties of KSweep, its results and the elbow detectors.

1. Restarts: ``inertia`` is the minimum over every restart a k had (its ``n_init``, and
   the repair's when it was suspicious), ``best_restart`` its argmin, and every restart is
   refitted bit for bit from its ``restart_seed``.
2. Executors: ``results_`` is bit-identical (fit times aside) on serial, threads with any
   ``n_jobs``, a user's thread pool and (once, outside hypothesis) worker processes.
3. Elbow detectors: the chosen k is invariant under positive affine maps of the scores on
   curves whose answer is decided by a margin; unsorted k is refused, sorted pairs agree.
4. Seeds depend only on ``(random_state, k, restart)``.
5. ``SweepResult.to_frame()`` keeps the inertia and is indexed by k.
"""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from threadpoolctl import threadpool_limits

import ksweep._repair
from ksweep import KSweep
from ksweep.convergence import suspicious_k
from ksweep.elbow import kneedle, two_segment
from ksweep.exceptions import UnderConvergedWarning

pytestmark = [
    pytest.mark.filterwarnings("ignore::ksweep.NoElbowWarning"),
    pytest.mark.filterwarnings("ignore::ksweep.exceptions.NonMonotonicWarning"),
]

SWEEPS = settings(max_examples=30, deadline=None, database=None)
CURVES = settings(max_examples=200, deadline=None, database=None)

# --------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------


@st.composite
def blob_data(draw):
    """Small blob data: 30 to 80 samples, 2 to 4 features, 1 to 6 centers, any seed."""
    X, _ = make_blobs(
        n_samples=draw(st.integers(30, 80)),
        n_features=draw(st.integers(2, 4)),
        centers=draw(st.integers(1, 6)),
        cluster_std=draw(st.floats(0.3, 2.0)),
        random_state=draw(st.integers(0, 2**32 - 1)),
    )
    return X


#: Sorted unique k values in 1..8, at least 3 of them.
K_RANGES = st.lists(st.integers(1, 8), min_size=3, max_size=8, unique=True).map(sorted)
RANDOM_STATES = st.integers(0, 2**32 - 1)


def _comparable(results):
    """Every column of ``results_`` but the fit times (the only non-deterministic ones)."""
    return {name: column for name, column in results.items() if "fit_time" not in name}


def _assert_bit_identical(a, b):
    assert set(_comparable(a)) == set(_comparable(b))
    for name, column in _comparable(a).items():
        assert column.dtype == b[name].dtype, name
        np.testing.assert_array_equal(column, b[name], err_msg=name, strict=True)


# --------------------------------------------------------------------------------------
# 1. restarts: best of n_init, and every restart reproducible from its seed
# --------------------------------------------------------------------------------------


@SWEEPS
@given(X=blob_data(), k_range=K_RANGES, n_init=st.integers(1, 3), random_state=RANDOM_STATES)
def test_best_restart_is_the_minimum_and_every_restart_refits_from_its_seed(
    X, k_range, n_init, random_state
):
    sweep = KSweep(
        KMeans(), k_range=k_range, n_init=n_init, random_state=random_state, engine="independent"
    ).fit(X)
    results = sweep.results_
    restarts = results["restart_inertia"]
    # the repair (n_init_max="auto") gives a suspicious k max(2 n_init, 4) restarts: the
    # restart columns hold every restart each k had, NaN (seed -1) after its last
    n_run = results["n_restarts_run"]
    assert set(n_run.tolist()) <= {n_init, max(2 * n_init, 4)}
    assert restarts.shape == (len(k_range), n_run.max())
    ran = np.arange(restarts.shape[1]) < n_run[:, None]
    np.testing.assert_array_equal(np.isfinite(restarts), ran)
    np.testing.assert_array_equal(results["restart_seed"] >= 0, ran)
    np.testing.assert_array_equal(results["k"], k_range)
    np.testing.assert_array_equal(results["inertia"], np.nanmin(restarts, axis=1))
    np.testing.assert_array_equal(results["best_restart"], np.nanargmin(restarts, axis=1))
    for i, k in enumerate(k_range):
        assert sweep.estimators_[k].inertia_ == results["inertia"][i]
        for r in range(n_run[i]):
            seed = int(results["restart_seed"][i, r])
            # ksweep fits with inner_threads=1: one thread gives the same summation order
            with threadpool_limits(limits=1):
                direct = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(X)
            assert direct.inertia_ == restarts[i, r], (k, r)
            assert direct.n_iter_ == results["restart_n_iter"][i, r], (k, r)


def _name_every_k(k, inertia, restart_inertia=None, **kwargs):
    """suspicious_k, with every k named: the repair then runs for all of them."""
    check = suspicious_k(k, inertia, restart_inertia, **kwargs)
    check.suspicious[:] = True
    check.reasons.update({int(v): f"k={v}: named by the test" for v in check.k})
    return check


@settings(max_examples=10, deadline=None, database=None)
@given(X=blob_data(), k_range=K_RANGES, n_init=st.integers(1, 2), random_state=RANDOM_STATES)
def test_after_a_repair_the_best_is_the_minimum_of_every_restart_a_k_had(
    X, k_range, n_init, random_state
):
    sweep = KSweep(
        KMeans(), k_range=k_range, n_init=n_init, random_state=random_state, engine="independent"
    )
    with pytest.MonkeyPatch.context() as patch, warnings.catch_warnings():
        patch.setattr(ksweep._repair, "suspicious_k", _name_every_k)
        warnings.simplefilter("ignore", UnderConvergedWarning)  # every k stays "suspicious"
        sweep.fit(X)
    results = sweep.results_
    restarts = results["restart_inertia"]
    budget = max(2 * n_init, 4)
    assert restarts.shape == (len(k_range), budget) and np.isfinite(restarts).all()
    assert results["n_restarts_run"].tolist() == [budget] * len(k_range)
    np.testing.assert_array_equal(results["inertia"], restarts.min(axis=1))
    np.testing.assert_array_equal(results["best_restart"], restarts.argmin(axis=1))
    for i, k in enumerate(k_range):
        assert sweep.estimators_[k].inertia_ == results["inertia"][i]
        for r in range(budget):
            seed = int(results["restart_seed"][i, r])
            with threadpool_limits(limits=1):
                direct = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(X)
            assert direct.inertia_ == restarts[i, r], (k, r)


# --------------------------------------------------------------------------------------
# 2. executors and n_jobs do not change results_
# --------------------------------------------------------------------------------------


@settings(max_examples=6, deadline=None, database=None)
@given(X=blob_data(), k_range=K_RANGES, n_init=st.integers(1, 3), random_state=RANDOM_STATES)
def test_results_are_bit_identical_on_every_thread_executor(X, k_range, n_init, random_state):
    def sweep(**params):
        return KSweep(k_range=k_range, n_init=n_init, random_state=random_state, **params).fit(X)

    serial = sweep()
    variants = [sweep(executor="threads", n_jobs=1), sweep(executor="threads", n_jobs=2)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        variants.append(sweep(executor=pool))
    for other in variants:
        _assert_bit_identical(serial.results_, other.results_)
        assert other.best_k_ == serial.best_k_
        np.testing.assert_array_equal(other.labels_, serial.labels_)


def test_results_are_bit_identical_on_worker_processes():
    X, _ = make_blobs(n_samples=90, n_features=3, centers=4, random_state=11)
    params = {"k_range": [1, 2, 3, 5, 8], "n_init": 3, "random_state": 2024}
    serial = KSweep(**params).fit(X)
    processes = KSweep(**params, executor="processes", n_jobs=2).fit(X)
    _assert_bit_identical(serial.results_, processes.results_)
    assert processes.best_k_ == serial.best_k_
    np.testing.assert_array_equal(processes.labels_, serial.labels_)


# --------------------------------------------------------------------------------------
# 3. elbow detectors: positive affine maps of the scores, and the order of the pairs
# --------------------------------------------------------------------------------------


@st.composite
def elbow_curves(draw):
    """A steep run then a shallow run on an uneven integer k grid, jittered slopes.

    The slope per unit k is ``steep`` up to the bend at index ``bend`` and ``steep *
    ratio`` after it, each step multiplied by a jitter in [0.8, 1.2]; about half of the
    curves are mirrored (``-scores``: rising and concave instead of falling and convex).
    """
    n = draw(st.integers(5, 12))
    k = np.array(sorted(draw(st.sets(st.integers(1, 40), min_size=n, max_size=n))))
    bend = draw(st.integers(1, n - 3))
    steep = draw(st.floats(5.0, 50.0))
    ratio = draw(st.floats(0.02, 0.3))
    jitter = np.array(draw(st.lists(st.floats(0.8, 1.2), min_size=n - 1, max_size=n - 1)))
    slopes = np.where(np.arange(n - 1) < bend, steep, steep * ratio) * jitter
    scores = 100.0 + np.concatenate(([0.0], -np.cumsum(slopes * np.diff(k))))
    if draw(st.booleans()):
        scores = -scores
    return k, scores


MARGIN = 1e-6
POSITIVE_SCALES = st.floats(1e-3, 1e3)
OFFSETS = st.floats(-1e6, 1e6)


def _two_segment_margin(result) -> float:
    """How far the best split is ahead of the runner-up (in mean R²)."""
    best_two = np.sort(result.statistic)[-2:]
    return float(best_two[1] - best_two[0])


def _kneedle_margin(result) -> float:
    """The smallest gap by which any comparison kneedle made was decided.

    Kneedle compares neighbouring differences (to find local maxima), interior
    differences with 0 (a knee must be above the diagonal), every later difference with
    an earlier one minus the drop threshold (to confirm a knee) and the confirmed knees
    with each other (to pick the sharpest). Both end differences are exactly 0.
    """
    d = np.asarray(result.statistic)
    drop = result.details["threshold_drop"]
    later, earlier = np.triu_indices(d.shape[0], k=1)[::-1]
    knees = np.flatnonzero(np.isin(result.candidates, result.details["knees"]))
    gaps = [
        np.diff(d),
        d[1:-1],
        d[later] - (d[earlier] - drop),
        (d[knees][:, None] - d[knees][None, :])[~np.eye(knees.size, dtype=bool)],
    ]
    return float(min(np.abs(g).min() for g in gaps if g.size))


@CURVES
@given(curve=elbow_curves(), a=POSITIVE_SCALES, b=OFFSETS)
def test_two_segment_answer_survives_positive_affine_maps(curve, a, b):
    k, scores = curve
    base = two_segment(k, scores)
    assume(_two_segment_margin(base) > MARGIN)
    mapped = two_segment(k, a * scores + b)
    assert mapped.k == base.k
    np.testing.assert_allclose(mapped.statistic, base.statistic, rtol=0, atol=MARGIN / 4)


@CURVES
@given(curve=elbow_curves(), a=POSITIVE_SCALES, b=OFFSETS)
def test_kneedle_answer_survives_positive_affine_maps(curve, a, b):
    k, scores = curve
    base = kneedle(k, scores)
    assume(_kneedle_margin(base) > MARGIN)
    mapped = kneedle(k, a * scores + b)
    assert mapped.k == base.k
    np.testing.assert_array_equal(mapped.details["knees"], base.details["knees"])
    assert mapped.details["curve"] == base.details["curve"]
    assert mapped.details["direction"] == base.details["direction"]
    np.testing.assert_allclose(mapped.statistic, base.statistic, rtol=0, atol=MARGIN / 4)


@st.composite
def shuffled_curves(draw):
    k, scores = draw(elbow_curves())
    order = np.array(draw(st.permutations(range(k.shape[0]))))
    return k, scores, order


@CURVES
@given(curve=shuffled_curves())
@pytest.mark.parametrize("detector", [kneedle, two_segment], ids=lambda f: f.__name__)
def test_detectors_need_sorted_k_and_sorting_shuffled_pairs_restores_the_answer(detector, curve):
    k, scores, order = curve
    base = detector(k, scores)
    k_shuffled, scores_shuffled = k[order], scores[order]
    if not np.array_equal(order, np.arange(order.size)):
        with pytest.raises(
            ValueError,
            match=rf"^The 'k' argument of {detector.__name__} must be strictly increasing\. "
            r"Got unsorted values",
        ):
            detector(k_shuffled, scores_shuffled)
    by_k = np.argsort(k_shuffled, kind="stable")
    again = detector(k_shuffled[by_k], scores_shuffled[by_k])
    assert again.k == base.k
    np.testing.assert_array_equal(again.statistic, base.statistic)
    np.testing.assert_array_equal(again.candidates, base.candidates)


# --------------------------------------------------------------------------------------
# 4. seeds depend only on (random_state, k, restart)
# --------------------------------------------------------------------------------------

X_SEEDS = np.random.default_rng(3).normal(size=(12, 2))


def _first_k(k, results):
    return int(k[0])


@settings(max_examples=40, deadline=None, database=None)
@given(
    random_state=st.integers(0, 2**128),
    shared=st.integers(1, 8),
    extra_a=st.sets(st.integers(1, 8), max_size=5),
    extra_b=st.sets(st.integers(1, 8), max_size=5),
    n_init_a=st.integers(1, 3),
    n_init_b=st.integers(1, 3),
)
def test_seeds_of_a_shared_k_do_not_depend_on_the_rest_of_the_sweep(
    random_state, shared, extra_a, extra_b, n_init_a, n_init_b
):
    runs = []
    for extra, n_init in ((extra_a, n_init_a), (extra_b, n_init_b)):
        k_range = sorted(extra | {shared})
        sweep = KSweep(
            k_range=k_range, n_init=n_init, random_state=random_state, selection=_first_k
        ).fit(X_SEEDS)
        row = k_range.index(shared)
        runs.append((sweep.results_["restart_seed"][row], sweep.results_["restart_inertia"][row]))
    (seeds_a, inertia_a), (seeds_b, inertia_b) = runs
    common = min(n_init_a, n_init_b)
    np.testing.assert_array_equal(seeds_a[:common], seeds_b[:common])
    np.testing.assert_array_equal(inertia_a[:common], inertia_b[:common])
    # KMeans runs on the fused engine: restart r of every k starts from the nested
    # k-means++ sequence of spawn key (0, 2**32 - 1, r, 0)
    expected = [
        np.random.SeedSequence(random_state, spawn_key=(0, 2**32 - 1, r, 0)).generate_state(1)[0]
        for r in range(max(n_init_a, n_init_b))
    ]
    longer = seeds_a if n_init_a >= n_init_b else seeds_b
    np.testing.assert_array_equal(longer, expected)


# --------------------------------------------------------------------------------------
# 5. to_frame round trip
# --------------------------------------------------------------------------------------


@settings(max_examples=15, deadline=None, database=None)
@given(X=blob_data(), k_range=K_RANGES, n_init=st.integers(1, 3), random_state=RANDOM_STATES)
def test_to_frame_keeps_inertia_and_has_k_as_a_column(X, k_range, n_init, random_state):
    results = KSweep(k_range=k_range, n_init=n_init, random_state=random_state).fit(X).results_
    frame = results.to_frame(wide=True)
    np.testing.assert_array_equal(frame["k"].to_numpy(), results["k"])
    assert list(results.to_frame().columns) == results.table_columns()
    np.testing.assert_array_equal(frame["inertia"].to_numpy(), results["inertia"], strict=True)
    for r in range(n_init):
        np.testing.assert_array_equal(
            frame[f"restart_inertia_{r}"].to_numpy(), results["restart_inertia"][:, r]
        )
        np.testing.assert_array_equal(
            frame[f"restart_seed_{r}"].to_numpy(), results["restart_seed"][:, r]
        )
    assert len(frame) == len(k_range)
