"""Tests for :mod:`ksweep.criteria`.

Expected values come from scikit-learn (``silhouette_score``,
``calinski_harabasz_score``, ``davies_bouldin_score``, ``KMeans``), from
brute-force computations written inside the tests, or from reasoning about
hand-made inputs (written next to each case).
"""

from __future__ import annotations

import pickle
import re
import time
import tracemalloc
from dataclasses import FrozenInstanceError

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits, make_blobs
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score
from threadpoolctl import threadpool_limits

from ksweep._selection import SelectionResult
from ksweep._silhouette import _stratified_sample
from ksweep.criteria import (
    CRITERIA,
    DEFAULT_SILHOUETTE_SAMPLE,
    Criterion,
    SilhouetteScore,
    by_calinski_harabasz,
    by_davies_bouldin,
    by_silhouette,
    calinski_harabasz,
    davies_bouldin,
    gap_statistic,
    reference_datasets,
    select_max,
    select_min,
    silhouette,
)
from ksweep.elbow import kneedle, two_segment

RTOL = 1e-10
PROPERTY_SETTINGS = settings(max_examples=60, deadline=None)


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=300, centers=4, n_features=3, cluster_std=2.0, random_state=1)
    return X, y


@pytest.fixture(scope="module")
def digits():
    X = load_digits().data
    with threadpool_limits(limits=1):
        labels = KMeans(n_clusters=10, n_init=1, random_state=0).fit_predict(X)
    return X, labels


@pytest.fixture(scope="module", params=["blobs", "digits"])
def dataset(request, blobs, digits):
    return {"blobs": blobs, "digits": digits}[request.param]


def _with_singleton(labels):
    """The labels with sample 0 moved into a cluster of its own."""
    labels = np.asarray(labels).copy()
    labels[0] = labels.max() + 1
    return labels


# --------------------------------------------------------------------------------------
# Silhouette: exact path against scikit-learn
# --------------------------------------------------------------------------------------


def test_silhouette_matches_sklearn(dataset):
    X, labels = dataset
    result = silhouette(X, labels)
    assert isinstance(result, SilhouetteScore)
    assert result.exact is True
    assert result.n_samples_used == X.shape[0]
    assert result.score == pytest.approx(silhouette_score(X, labels), rel=RTOL)


def test_silhouette_singleton_cluster_scores_zero_like_sklearn(dataset):
    X, labels = dataset
    labels = _with_singleton(labels)
    assert silhouette(X, labels).score == pytest.approx(silhouette_score(X, labels), rel=RTOL)


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 10_000])
def test_silhouette_independent_of_chunk_size(digits, chunk_size):
    X, labels = digits
    labels = _with_singleton(labels)
    result = silhouette(X, labels, chunk_size=chunk_size)
    assert result.score == pytest.approx(silhouette_score(X, labels), rel=RTOL)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_silhouette_sparse_input(digits, fmt):
    X, labels = digits  # digits are about half zeros
    labels = _with_singleton(labels)
    X_sparse = sp.csr_matrix(X).asformat(fmt)
    expected = silhouette_score(X, labels)
    assert silhouette(X_sparse, labels).score == pytest.approx(expected, rel=RTOL)
    assert silhouette(X_sparse, labels, chunk_size=50).score == pytest.approx(expected, rel=RTOL)


def test_silhouette_float32_input(dataset):
    X, labels = dataset
    X32 = X.astype(np.float32)
    score = silhouette(X32, labels).score
    # computed in float64 from the float32 values ...
    assert score == pytest.approx(silhouette_score(X32.astype(np.float64), labels), rel=RTOL)
    # ... and scikit-learn rounds its distances to float32
    assert score == pytest.approx(silhouette_score(X32, labels), rel=1e-5)


def test_silhouette_label_values_do_not_matter(blobs):
    X, y = blobs
    names = np.array(["north", "south", "east", "west"])[y]
    shifted = y * 10 - 7
    expected = silhouette_score(X, y)
    assert silhouette(X, names).score == pytest.approx(expected, rel=RTOL)
    assert silhouette(X, list(shifted)).score == pytest.approx(expected, rel=RTOL)


def test_silhouette_duplicated_points_score_zero_like_sklearn():
    # all points coincide: a(i) = b(i) = 0, so s(i) = 0 / 0, which counts as 0
    X = np.zeros((6, 2))
    labels = [0, 0, 1, 1, 2, 2]
    assert silhouette(X, labels).score == silhouette_score(X, labels) == 0.0


def test_silhouette_two_point_clusters_by_hand():
    # 1-D points 0, 1 (cluster a) and 10, 11 (cluster b):
    # s(0) = (10.5 - 1) / 10.5, s(1) = (9.5 - 1) / 9.5, and symmetrically for b
    expected = ((10.5 - 1) / 10.5 + (9.5 - 1) / 9.5) / 2
    result = silhouette([[0.0], [1.0], [10.0], [11.0]], ["a", "a", "b", "b"])
    assert result.score == pytest.approx(expected, rel=1e-12)
    assert float(result) == result.score


def test_silhouette_sample_size_at_least_n_is_exact(blobs):
    X, y = blobs
    for size in (X.shape[0], X.shape[0] + 5):
        result = silhouette(X, y, sample_size=size, random_state=0)
        assert result.exact is True
        assert result.n_samples_used == X.shape[0]
        assert result.score == pytest.approx(silhouette_score(X, y), rel=RTOL)


def test_silhouette_score_is_frozen():
    result = silhouette([[0.0], [1.0], [10.0], [11.0]], [0, 0, 1, 1])
    with pytest.raises(FrozenInstanceError):
        result.score = 1.0


# --------------------------------------------------------------------------------------
# Silhouette: bounded memory and the sampled path at large n
# --------------------------------------------------------------------------------------

LARGE_N = 17_000
# sizes of the five clusters: unequal, so that stratification matters
LARGE_SIZES = [8_000, 5_000, 2_500, 1_200, 300]


@pytest.fixture(scope="module")
def large_blobs():
    X, y = make_blobs(
        n_samples=LARGE_SIZES, n_features=2, cluster_std=2.0, center_box=(-8, 8), random_state=3
    )
    assert X.shape[0] == LARGE_N
    return X, y


@pytest.fixture(scope="module")
def large_exact(large_blobs):
    """The exact silhouette at n = 17,000, with its peak traced allocation and time."""
    X, y = large_blobs
    tracemalloc.start()
    try:
        start = time.perf_counter()
        result = silhouette(X, y)
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak, elapsed


def test_exact_silhouette_never_allocates_an_n_by_n_matrix(large_exact):
    result, peak, elapsed = large_exact
    assert LARGE_N**2 * 8 > 2 * 2**30  # a full float64 distance matrix would need > 2 GiB
    assert result.exact is True
    assert result.n_samples_used == LARGE_N
    assert -1.0 <= result.score <= 1.0
    # blocks of about 16 MiB plus copies of the 17,000 × 2 data; 100 MB leaves room for
    # allocator noise and still fails for any block of more than ~700 full rows
    assert peak < 100 * 2**20, f"peak traced allocation {peak / 2**20:.1f} MiB"
    assert elapsed < 20.0


def test_sampled_silhouette_close_to_exact(large_blobs, large_exact):
    X, y = large_blobs
    exact = large_exact[0].score
    result = silhouette(X, y, sample_size=2_000, random_state=0)
    assert result.exact is False
    assert result.n_samples_used == 2_000
    # a stratified sample of 2,000 estimates the mean of s(i) with a standard error of
    # about std(s) / sqrt(2,000) < 0.01; 0.02 allows for the bias of a smaller sample
    assert abs(result.score - exact) <= 0.02


def test_sampled_silhouette_reproducible(large_blobs):
    X, y = large_blobs
    first = silhouette(X, y, sample_size=500, random_state=42)
    again = silhouette(X, y, sample_size=500, random_state=42)
    other = silhouette(X, y, sample_size=500, random_state=43)
    assert first == again
    assert first.score != other.score
    generator = silhouette(X, y, sample_size=500, random_state=np.random.default_rng(42))
    assert generator.score == first.score


def test_sampled_silhouette_equals_exact_silhouette_of_its_sample(large_blobs):
    X, y = large_blobs
    rng = np.random.default_rng(7)
    _, codes = np.unique(y, return_inverse=True)
    index = _stratified_sample(codes, np.bincount(codes), 300, rng)
    result = silhouette(X, y, sample_size=300, random_state=7)
    assert result.score == pytest.approx(silhouette_score(X[index], y[index]), rel=RTOL)


@pytest.mark.parametrize("sample_size", [9, 10, 57, 200, 1_999])
def test_stratified_sample_represents_every_cluster_proportionally(sample_size):
    # five clusters of very different sizes, one of them a singleton
    sizes = np.array([1_500, 400, 90, 9, 1])
    codes = np.repeat(np.arange(5), sizes)
    np.random.default_rng(0).shuffle(codes)
    index = _stratified_sample(codes, sizes, sample_size, np.random.default_rng(1))
    assert index.shape == (sample_size,)
    assert np.unique(index).shape == (sample_size,)
    taken = np.bincount(codes[index], minlength=5)
    minimum = np.minimum(sizes, 2)
    assert np.all(taken >= minimum)  # every cluster represented
    assert np.all(taken <= sizes)
    # Proportional otherwise: the members the minimum adds to small clusters are taken
    # from the others, so a cluster's count is its proportional share to within one
    # (rounding) plus that deficit.
    share = sample_size * sizes / sizes.sum()
    deficit = np.sum(np.maximum(minimum - share, 0.0))
    unbound = share >= minimum
    assert np.all(np.abs(taken[unbound] - share[unbound]) <= 1 + deficit)


def test_stratified_sample_differs_between_seeds():
    codes = np.repeat(np.arange(3), [500, 300, 200])
    counts = np.array([500, 300, 200])
    a = _stratified_sample(codes, counts, 100, np.random.default_rng(0))
    b = _stratified_sample(codes, counts, 100, np.random.default_rng(1))
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(np.bincount(codes[a]), np.bincount(codes[b]))


def test_default_sample_constant():
    assert DEFAULT_SILHOUETTE_SAMPLE == 10_000


# --------------------------------------------------------------------------------------
# Calinski-Harabasz and Davies-Bouldin against scikit-learn
# --------------------------------------------------------------------------------------

PAIRS = [
    pytest.param(calinski_harabasz, calinski_harabasz_score, id="calinski_harabasz"),
    pytest.param(davies_bouldin, davies_bouldin_score, id="davies_bouldin"),
]


@pytest.mark.parametrize(("ours", "theirs"), PAIRS)
def test_criterion_matches_sklearn(dataset, ours, theirs):
    X, labels = dataset
    value = ours(X, labels)
    assert isinstance(value, float)
    assert value == pytest.approx(theirs(X, labels), rel=RTOL)


def brute_force_davies_bouldin(X, labels):
    """Davies-Bouldin from its definition, with distances from explicit differences."""
    clusters = [X[labels == c] for c in np.unique(labels)]
    centroids = [c.mean(axis=0) for c in clusters]
    scatter = [
        np.mean(np.linalg.norm(c - m, axis=1)) for c, m in zip(clusters, centroids, strict=True)
    ]
    worst = []
    for i in range(len(clusters)):
        ratios = [
            (scatter[i] + scatter[j]) / np.linalg.norm(centroids[i] - centroids[j])
            for j in range(len(clusters))
            if j != i
        ]
        worst.append(max(ratios))
    return float(np.mean(worst))


def test_calinski_harabasz_with_singleton_cluster(dataset):
    X, labels = dataset
    labels = _with_singleton(labels)
    assert calinski_harabasz(X, labels) == pytest.approx(
        calinski_harabasz_score(X, labels), rel=RTOL
    )


def test_davies_bouldin_with_singleton_cluster(dataset):
    X, labels = dataset
    labels = _with_singleton(labels)
    value = davies_bouldin(X, labels)
    assert value == pytest.approx(brute_force_davies_bouldin(X, labels), rel=RTOL)
    # scikit-learn measures the singleton's distance to its own centroid with
    # ||x||² - 2 x·c + ||c||², whose rounding leaves about sqrt(eps · ||x||²) instead of 0
    assert value == pytest.approx(davies_bouldin_score(X, labels), rel=1e-6)


def test_davies_bouldin_matches_brute_force(dataset):
    X, labels = dataset
    assert davies_bouldin(X, labels) == pytest.approx(
        brute_force_davies_bouldin(X, labels), rel=RTOL
    )


@pytest.mark.parametrize(("ours", "theirs"), PAIRS)
def test_criterion_sparse_input_equals_dense(digits, ours, theirs):
    X, labels = digits
    expected = theirs(X, labels)
    assert ours(sp.csr_matrix(X), labels) == pytest.approx(expected, rel=RTOL)
    assert ours(sp.csc_matrix(X), labels) == pytest.approx(expected, rel=RTOL)


@pytest.mark.parametrize(("ours", "theirs"), PAIRS)
def test_criterion_float32_input(blobs, ours, theirs):
    X, y = blobs
    X32 = X.astype(np.float32)
    assert ours(X32, y) == pytest.approx(theirs(X32.astype(np.float64), y), rel=RTOL)
    assert ours(X32, y) == pytest.approx(theirs(X32, y), rel=1e-5)


def test_calinski_harabasz_zero_within_dispersion_is_one_like_sklearn():
    X = np.array([[0.0, 1.0], [0.0, 1.0], [5.0, 2.0], [5.0, 2.0]])
    labels = [0, 0, 1, 1]
    assert calinski_harabasz(X, labels) == calinski_harabasz_score(X, labels) == 1.0


def test_calinski_harabasz_by_hand():
    # clusters {0, 2} and {10, 12}: means 1 and 11, overall mean 6;
    # B = 2·25 + 2·25 = 100, W = 4 · 1 = 4, CH = (100 / 1) / (4 / 2) = 50
    assert calinski_harabasz([[0.0], [2.0], [10.0], [12.0]], [0, 0, 1, 1]) == 50.0


def test_davies_bouldin_clusters_sharing_a_centroid_like_sklearn():
    # clusters 0 and 1 both have their centroid at the origin
    X = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, -2.0], [0.0, 2.0], [9.0, 9.0], [10.0, 9.0]])
    labels = [0, 0, 1, 1, 2, 2]
    assert davies_bouldin(X, labels) == pytest.approx(davies_bouldin_score(X, labels), rel=RTOL)


def test_davies_bouldin_by_hand():
    # two clusters of scatter 1 whose centroids are 10 apart: (1 + 1) / 10 for each
    assert davies_bouldin([[0.0], [2.0], [10.0], [12.0]], [0, 0, 1, 1]) == pytest.approx(0.2)


# --------------------------------------------------------------------------------------
# Bad inputs of the criteria
# --------------------------------------------------------------------------------------

CRITERION_FUNCS = [
    pytest.param(silhouette, "silhouette", id="silhouette"),
    pytest.param(calinski_harabasz, "calinski_harabasz", id="calinski_harabasz"),
    pytest.param(davies_bouldin, "davies_bouldin", id="davies_bouldin"),
]


@pytest.mark.parametrize(("func", "name"), CRITERION_FUNCS)
def test_one_label_is_refused_like_sklearn(func, name):
    X = np.arange(10.0).reshape(5, 2)
    message = (
        "Number of labels is 1. Valid values are 2 to n_samples - 1 (inclusive): "
        f"the 'labels' argument of {name} must hold 2 to 4 distinct values for 5 samples."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        func(X, [3, 3, 3, 3, 3])


@pytest.mark.parametrize(("func", "name"), CRITERION_FUNCS)
def test_one_label_per_sample_is_refused(func, name):
    X = np.arange(10.0).reshape(5, 2)
    with pytest.raises(ValueError, match=re.escape("Number of labels is 5. Valid values are 2")):
        func(X, [0, 1, 2, 3, 4])


@pytest.mark.parametrize(("func", "name"), CRITERION_FUNCS)
def test_labels_of_wrong_length(func, name):
    X = np.arange(10.0).reshape(5, 2)
    message = (
        f"The 'labels' argument of {name} must have one entry per sample of X. "
        "Got 4 labels for 5 samples instead."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        func(X, [0, 0, 1, 1])


@pytest.mark.parametrize(("func", "name"), CRITERION_FUNCS)
def test_two_dimensional_labels(func, name):
    X = np.arange(10.0).reshape(5, 2)
    message = f"The 'labels' argument of {name} must be a 1-D array-like. Got an array of shape"
    with pytest.raises(ValueError, match=re.escape(message)):
        func(X, [[0], [0], [1], [1], [1]])


@pytest.mark.parametrize(("func", "name"), CRITERION_FUNCS)
def test_non_finite_X(func, name):
    X = np.arange(10.0).reshape(5, 2)
    X[2, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        func(X, [0, 0, 1, 1, 1])


@pytest.mark.parametrize("sample_size", [0, 1, 2.5, True, "100"])
def test_silhouette_bad_sample_size(sample_size):
    message = (
        "The 'sample_size' argument of silhouette must be an int >= 2 or None. "
        f"Got {sample_size!r} instead."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        silhouette(np.arange(10.0).reshape(5, 2), [0, 0, 1, 1, 1], sample_size=sample_size)


def test_silhouette_sample_too_small_to_represent_every_cluster():
    X = np.arange(40.0).reshape(20, 2)
    labels = np.repeat([0, 1, 2, 3], [10, 5, 4, 1])  # needs 2 + 2 + 2 + 1 = 7
    message = (
        "The 'sample_size' argument of silhouette must be at least 7 for these labels "
        "(2 members of each of the 4 clusters, 1 of a singleton), so that every cluster is "
        "represented. Got 6 instead."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        silhouette(X, labels, sample_size=6, random_state=0)
    assert silhouette(X, labels, sample_size=7, random_state=0).n_samples_used == 7


@pytest.mark.parametrize("chunk_size", [0, -3, 1.5])
def test_silhouette_bad_chunk_size(chunk_size):
    message = (
        "The 'chunk_size' argument of silhouette must be an int >= 1 or None. "
        f"Got {chunk_size!r} instead."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        silhouette(np.arange(10.0).reshape(5, 2), [0, 0, 1, 1, 1], chunk_size=chunk_size)


@pytest.mark.parametrize("random_state", ["seed", -1, 1.5])
def test_silhouette_bad_random_state(random_state):
    message = (
        "The 'random_state' argument of silhouette must be an int >= 0, a numpy Generator "
        f"or SeedSequence, or None. Got {random_state!r} instead."
    )
    X = np.arange(40.0).reshape(20, 2)
    with pytest.raises(ValueError, match=re.escape(message)):
        silhouette(X, [0] * 10 + [1] * 10, sample_size=10, random_state=random_state)


# --------------------------------------------------------------------------------------
# Gap statistic: the 1-standard-error rule on hand-made arrays
# --------------------------------------------------------------------------------------


def _reference_with(mean, sd, n_references=4):
    """Reference log W* whose row means are ``mean`` and population stds are ``sd``.

    Each row is ``mean ± sd`` alternating over an even number of references, so its
    mean is exactly ``mean`` and its standard deviation (ddof=0) exactly ``sd``.
    """
    signs = np.resize([1.0, -1.0], n_references)
    return np.asarray(mean, float)[:, None] + np.asarray(sd, float)[:, None] * signs


def brute_force_gap(k, log_w, ref):
    """Chosen k by the 1-SE rule, with the textbook definitions, one k at a time."""
    n_k, n_refs = ref.shape
    gap = [np.mean(ref[i]) - log_w[i] for i in range(n_k)]
    s = [np.sqrt(np.mean((ref[i] - np.mean(ref[i])) ** 2) * (1 + 1 / n_refs)) for i in range(n_k)]
    for i in range(n_k - 1):
        if gap[i] >= gap[i + 1] - s[i + 1]:
            return k[i], np.array(gap), np.array(s)
    return k[int(np.argmax(gap))], np.array(gap), np.array(s)


GAP_CASES = [
    # the first k already satisfies gap(1) = 1.0 >= gap(2) - s(2) = 0.9 - s
    pytest.param([1, 2, 3], [1.0, 0.9, 1.2], [0.01, 0.01, 0.01], 1, id="first-k"),
    # 0.1 < 0.5 - s and 0.5 < 1.0 - s, but 1.0 >= 1.02 - s(4) with s(4) = 0.05·sqrt(1.25)
    pytest.param(
        [1, 2, 3, 4, 5], [0.1, 0.5, 1.0, 1.02, 0.9], [0.05] * 5, 3, id="later-k-within-one-se"
    ),
    # same gaps with a tiny s: 1.0 < 1.02 - s, so the rule first holds at k = 4 (1.02 >= 0.9)
    pytest.param([1, 2, 3, 4, 5], [0.1, 0.5, 1.0, 1.02, 0.9], [1e-4] * 5, 4, id="tiny-s"),
    # equality counts: gap(1) = gap(2) - s(2) with s = 0
    pytest.param([1, 2, 3], [1.0, 1.0, 2.0], [0.0, 0.0, 0.0], 1, id="equality"),
    # an uneven grid: "the next k" is the next grid value
    pytest.param([2, 4, 8, 16], [0.2, 0.9, 0.95, 0.5], [0.1] * 4, 4, id="uneven-grid"),
]


@pytest.mark.parametrize(("k", "gap", "sd", "expected"), GAP_CASES)
def test_gap_one_standard_error_rule(k, gap, sd, expected):
    log_w = np.linspace(5.0, 3.0, len(k))
    ref = _reference_with(np.asarray(gap) + log_w, sd)
    result = gap_statistic(k, log_w, ref)
    brute_k, brute_gap, brute_s = brute_force_gap(k, log_w, ref)
    assert result.k == expected == brute_k
    assert isinstance(result, SelectionResult)
    assert result.method == "gap"
    assert result.statistic_name == "gap"
    np.testing.assert_array_equal(result.candidates, k)
    np.testing.assert_allclose(result.statistic, gap, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(result.statistic, brute_gap, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(result.details["sd_k"], sd, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(result.details["s_k"], brute_s, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        result.details["s_k"], np.asarray(sd) * np.sqrt(1.25), rtol=1e-12, atol=1e-12
    )
    assert result.details["n_references"] == 4
    assert result.reason.startswith(f"k={expected} is the smallest k with gap(k) >= ")
    assert "\n" not in result.reason


def test_gap_no_k_satisfies_rule_falls_back_to_largest_gap():
    k = [1, 2, 3, 4]
    gap = [0.1, 0.4, 0.8, 1.5]  # rises by more than s every step
    log_w = np.zeros(4)
    result = gap_statistic(k, log_w, _reference_with(gap, [0.01] * 4))
    assert result.k == 4 == brute_force_gap(k, log_w, _reference_with(gap, [0.01] * 4))[0]
    assert result.reason.startswith("no k satisfies gap(k) >= gap(next k) - s(next k); k=4 ")
    assert "largest gap (1.5000)" in result.reason
    assert not result.details["satisfies_rule"].any()


def test_gap_single_reference_has_zero_spread():
    k = [1, 2, 3]
    log_w = np.array([3.0, 1.5, 1.25])
    ref = np.array([[3.25], [2.5], [2.25]])  # gaps 0.25, 1.0, 1.0 (exact in binary)
    result = gap_statistic(k, log_w, ref)
    assert result.k == 2
    np.testing.assert_array_equal(result.details["s_k"], 0.0)
    assert result.details["n_references"] == 1


def test_gap_random_inputs_match_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(50):
        n_k, n_refs = rng.integers(2, 9), rng.integers(1, 12)
        k = np.sort(rng.choice(np.arange(1, 40), size=n_k, replace=False))
        log_w = rng.normal(size=n_k)
        ref = rng.normal(size=(n_k, n_refs)) * rng.uniform(0.01, 1.0) + rng.normal(size=(n_k, 1))
        assert gap_statistic(k, log_w, ref).k == brute_force_gap(k, log_w, ref)[0]


# --------------------------------------------------------------------------------------
# Gap statistic: the whole pipeline on well-separated blobs
# --------------------------------------------------------------------------------------

GAP_K = np.arange(1, 9)


def _log_inertia_per_k(X):
    return np.array(
        [np.log(KMeans(n_clusters=int(k), n_init=3, random_state=0).fit(X).inertia_) for k in GAP_K]
    )


@pytest.fixture(scope="module")
def four_blobs():
    centers = [[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]]
    X, _ = make_blobs(n_samples=300, centers=centers, cluster_std=1.0, random_state=0)
    with threadpool_limits(limits=1):
        log_w = _log_inertia_per_k(X)
    return X, log_w


@pytest.mark.parametrize("method", ["uniform", "pca"])
def test_gap_pipeline_finds_four_blobs(four_blobs, method):
    X, log_w = four_blobs
    references = reference_datasets(X, n_references=10, method=method, random_state=0)
    with threadpool_limits(limits=1):
        ref = np.column_stack([_log_inertia_per_k(R) for R in references])
    result = gap_statistic(GAP_K, log_w, ref)
    assert result.k == 4, result.reason
    assert result.details["n_references"] == 10
    assert result.details["satisfies_rule"][3]


# --------------------------------------------------------------------------------------
# Reference data sets
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def diagonal_cloud():
    """Points along the line y = x with little noise across it."""
    rng = np.random.default_rng(5)
    t = rng.uniform(-10, 10, size=400)
    X = np.column_stack([t, t]) + rng.normal(scale=0.1, size=(400, 2)) + [3.0, -2.0]
    return X


@pytest.mark.parametrize("method", ["uniform", "pca"])
def test_reference_datasets_reproducible(diagonal_cloud, method):
    X = diagonal_cloud
    a = reference_datasets(X, 3, method=method, random_state=11)
    b = reference_datasets(X, 3, method=method, random_state=11)
    c = reference_datasets(X, 3, method=method, random_state=12)
    more = reference_datasets(X, 5, method=method, random_state=11)
    seq = reference_datasets(X, 3, method=method, random_state=np.random.SeedSequence(11))
    assert isinstance(a, list) and len(a) == 3 and len(more) == 5
    for i in range(3):
        assert a[i].shape == X.shape and a[i].dtype == X.dtype
        np.testing.assert_array_equal(a[i], b[i])
        np.testing.assert_array_equal(a[i], more[i])  # more references keep the first ones
        np.testing.assert_array_equal(a[i], seq[i])
        assert not np.array_equal(a[i], c[i])
    assert not np.array_equal(a[0], a[1])  # each reference has its own seed


def test_uniform_references_fill_the_bounding_box(diagonal_cloud):
    X = diagonal_cloud
    low, high = X.min(axis=0), X.max(axis=0)
    for R in reference_datasets(X, 4, method="uniform", random_state=0):
        assert np.all(R >= low) and np.all(R <= high)
        # uniform over the box: each feature spans most of its range, mean near the middle
        assert np.all(R.max(axis=0) - R.min(axis=0) > 0.95 * (high - low))
        assert np.all(np.abs(R.mean(axis=0) - (low + high) / 2) < 0.1 * (high - low))


def test_pca_references_fill_the_box_of_the_principal_axes(diagonal_cloud):
    X = diagonal_cloud
    # principal axes computed independently, from the covariance matrix
    mean = X.mean(axis=0)
    _, vectors = np.linalg.eigh(np.cov(X - mean, rowvar=False))
    projected = (X - mean) @ vectors
    low, high = projected.min(axis=0), projected.max(axis=0)
    for R in reference_datasets(X, 4, method="pca", random_state=0):
        rotated = (R - mean) @ vectors
        assert np.all(rotated >= low - 1e-9) and np.all(rotated <= high + 1e-9)
        assert np.all(rotated.max(axis=0) - rotated.min(axis=0) > 0.95 * (high - low))
    # along the thin minor axis, the pca box is thin and the feature-aligned box is not
    minor = vectors[:, 0]
    pca_ref = reference_datasets(X, 1, method="pca", random_state=0)[0]
    box_ref = reference_datasets(X, 1, method="uniform", random_state=0)[0]
    assert np.ptp(pca_ref @ minor) <= np.ptp(X @ minor) + 1e-9
    assert np.ptp(box_ref @ minor) > 10 * np.ptp(X @ minor)


def test_reference_datasets_keep_float32(diagonal_cloud):
    X32 = diagonal_cloud.astype(np.float32)
    for method in ("uniform", "pca"):
        R = reference_datasets(X32, 2, method=method, random_state=0)
        assert all(r.dtype == np.float32 for r in R)


@pytest.mark.parametrize("n_references", [0, -1, 2.0, True])
def test_reference_datasets_bad_n_references(n_references):
    message = (
        "The 'n_references' argument of reference_datasets must be an int >= 1. "
        f"Got {n_references!r} instead."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        reference_datasets(np.eye(3), n_references)


def test_reference_datasets_bad_method():
    message = (
        "The 'method' argument of reference_datasets must be one of 'uniform' or 'pca'. "
        "Got 'gaussian' instead."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        reference_datasets(np.eye(3), 2, method="gaussian")


@pytest.mark.parametrize("random_state", [-1, "0", np.random.default_rng(0)])
def test_reference_datasets_bad_random_state(random_state):
    message = (
        "The 'random_state' argument of reference_datasets must be an int >= 0, a numpy "
        f"SeedSequence or None. Got {random_state!r} instead."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        reference_datasets(np.eye(3), 2, random_state=random_state)


# --------------------------------------------------------------------------------------
# Gap statistic: bad inputs
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("k", "log_w", "ref", "message"),
    [
        (
            [1, 2, 3],
            [3.0, 2.0],
            np.zeros((3, 2)),
            "The 'k' and 'log_inertia' arguments of gap_statistic must have the same length. "
            "Got 3 and 2 instead.",
        ),
        (
            [1],
            [3.0],
            np.zeros((1, 2)),
            "The 'k' argument of gap_statistic must have at least 2 values. Got 1 instead.",
        ),
        (
            [[1, 2]],
            [3.0, 2.0],
            np.zeros((2, 2)),
            "The 'k' argument of gap_statistic must be a 1-D array-like. "
            "Got an array of shape (1, 2) instead.",
        ),
        (
            [1, 3, 2],
            [3.0, 2.0, 1.0],
            np.zeros((3, 2)),
            "The 'k' argument of gap_statistic must be strictly increasing. "
            "Got unsorted values 3 and 2 at positions 1 and 2 instead.",
        ),
        (
            [1, 2, 3],
            [3.0, -np.inf, 1.0],
            np.zeros((3, 2)),
            "The 'log_inertia' argument of gap_statistic must contain only finite values. "
            "Got -inf at position 1 instead.",
        ),
        (
            [1, 2, 3],
            [3.0, 2.0, 1.0],
            np.zeros(3),
            "The 'reference_log_inertia' argument of gap_statistic must be a 2-D array of "
            "shape (n_k, n_references) = (3, B) with B >= 1. Got an array of shape (3,) instead.",
        ),
        (
            [1, 2, 3],
            [3.0, 2.0, 1.0],
            np.zeros((2, 5)),
            "The 'reference_log_inertia' argument of gap_statistic must be a 2-D array of "
            "shape (n_k, n_references) = (3, B) with B >= 1. "
            "Got an array of shape (2, 5) instead.",
        ),
        (
            [1, 2, 3],
            [3.0, 2.0, 1.0],
            np.zeros((3, 0)),
            "The 'reference_log_inertia' argument of gap_statistic must be a 2-D array of "
            "shape (n_k, n_references) = (3, B) with B >= 1. "
            "Got an array of shape (3, 0) instead.",
        ),
        (
            [1, 2, 3],
            [3.0, 2.0, 1.0],
            np.array([[1.0, 2.0], [1.0, np.nan], [0.0, 0.0]]),
            "The 'reference_log_inertia' argument of gap_statistic must contain only finite "
            "values. Got nan at position (1, 1) instead.",
        ),
        (
            [1, 2, 3],
            ["a", "b", "c"],
            np.zeros((3, 2)),
            "The 'log_inertia' argument of gap_statistic must contain real numbers. "
            "Got dtype <U1 instead.",
        ),
    ],
)
def test_gap_statistic_bad_inputs(k, log_w, ref, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        gap_statistic(k, log_w, ref)


# --------------------------------------------------------------------------------------
# Selection by a criterion
# --------------------------------------------------------------------------------------

SELECTORS = [
    pytest.param(by_silhouette, "by_silhouette", True, "silhouette", id="by_silhouette"),
    pytest.param(
        by_calinski_harabasz,
        "by_calinski_harabasz",
        True,
        "calinski_harabasz",
        id="by_calinski_harabasz",
    ),
    pytest.param(
        by_davies_bouldin, "by_davies_bouldin", False, "davies_bouldin", id="by_davies_bouldin"
    ),
]


@pytest.mark.parametrize(("select", "name", "greater", "method"), SELECTORS)
def test_selection_picks_the_best_and_ignores_nan(select, name, greater, method):
    k = np.array([1, 2, 3, 4, 5, 6])
    scores = np.array([np.nan, 0.30, 0.62, 0.45, 0.12, np.nan])
    result = select(k, scores)
    expected = 3 if greater else 5  # 0.62 is the largest value, 0.12 the smallest
    assert result.k == expected and isinstance(result.k, int)
    assert result.method == method
    np.testing.assert_array_equal(result.candidates, k)
    np.testing.assert_array_equal(result.statistic, scores)  # NaN kept in place
    np.testing.assert_array_equal(result.details["undefined"], [1, 6])
    assert result.details["greater_is_better"] is greater
    value = "0.62" if greater else "0.12"
    assert result.reason.startswith(f"k={expected} has the {'highest' if greater else 'lowest'} ")
    assert f"({value}) of the 4 k values scored; undefined (NaN) at k=1, 6, ignored" in (
        result.reason
    )


@pytest.mark.parametrize(("select", "name", "greater", "method"), SELECTORS)
def test_selection_ties_go_to_the_smallest_k(select, name, greater, method):
    scores = [0.5, 0.9, 0.9, 0.1] if greater else [0.5, 0.1, 0.1, 0.9]
    assert select([2, 3, 4, 5], scores).k == 3


@pytest.mark.parametrize(("select", "name", "greater", "method"), SELECTORS)
def test_selection_returns_the_input_k_value(select, name, greater, method):
    result = select(np.array([2.5, 4.0, 8.0]), [0.1, 0.2, 0.3])
    assert result.k == (8.0 if greater else 2.5)


def test_select_max_and_min_with_custom_names():
    result = select_max([1, 2, 3], [1.0, 3.0, 2.0], method="mine", statistic_name="my score")
    assert (result.k, result.method, result.statistic_name) == (2, "mine", "my score")
    assert result.reason == "k=2 has the highest my score (3) of the 3 k values scored"
    result = select_min([1, 2, 3], [1.0, 3.0, 2.0])
    assert (result.k, result.method, result.statistic_name) == (1, "min", "score")


@pytest.mark.parametrize(("select", "name", "greater", "method"), SELECTORS)
@pytest.mark.parametrize(
    ("k", "scores", "message"),
    [
        (
            [1, 2, 3],
            [np.nan, np.nan, np.nan],
            "The 'scores' argument of {name} must have at least 2 values that are not NaN. "
            "Got 0 instead.",
        ),
        (
            [1, 2, 3],
            [np.nan, 0.5, np.nan],
            "The 'scores' argument of {name} must have at least 2 values that are not NaN. "
            "Got 1 instead.",
        ),
        (
            [1, 2, 3, 4],
            [np.nan, 0.5, 0.5, 0.5],
            "The 'scores' argument of {name} must not be constant: every k would score the "
            "same. Got all values equal to 0.5 instead.",
        ),
        (
            [1, 2, 3],
            [7, 7, 7],
            "The 'scores' argument of {name} must not be constant",
        ),
        (
            [1, 2, 3],
            [0.1, np.inf, 0.3],
            "The 'scores' argument of {name} must contain only finite values. "
            "Got inf at position 1 instead.",
        ),
        (
            [1, 2],
            [0.1, 0.2, 0.3],
            "The 'k' and 'scores' arguments of {name} must have the same length. "
            "Got 2 and 3 instead.",
        ),
        (
            [1, 3, 2],
            [0.1, 0.2, 0.3],
            "The 'k' argument of {name} must be strictly increasing.",
        ),
        (
            [1, 2, 3],
            [[0.1, 0.2, 0.3]],
            "The 'scores' argument of {name} must be a 1-D array-like.",
        ),
    ],
)
def test_selection_bad_inputs(select, name, greater, method, k, scores, message):
    with pytest.raises(ValueError, match=re.escape(message.format(name=name))):
        select(k, scores)


# --------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------


def test_registry_entries(blobs):
    X, y = blobs
    references = {
        "silhouette": silhouette_score,
        "calinski_harabasz": calinski_harabasz_score,
        "davies_bouldin": davies_bouldin_score,
    }
    selectors = {
        "silhouette": by_silhouette,
        "calinski_harabasz": by_calinski_harabasz,
        "davies_bouldin": by_davies_bouldin,
    }
    assert set(CRITERIA) == set(references)
    for name, criterion in CRITERIA.items():
        assert isinstance(criterion, Criterion)
        assert criterion.name == name
        assert criterion.min_k == 2
        assert criterion.select is selectors[name]
        value = criterion.compute(X, y)
        assert isinstance(value, float)
        assert value == pytest.approx(references[name](X, y), rel=RTOL)
        # the direction flag agrees with what the selection function does
        chosen = criterion.select([2, 3, 4], [1.0, 3.0, 2.0]).k
        assert chosen == (3 if criterion.greater_is_better else 2)
        with pytest.raises(FrozenInstanceError):
            criterion.min_k = 1


def test_registry_silhouette_passes_keywords(large_blobs):
    X, y = large_blobs
    value = CRITERIA["silhouette"].compute(X, y, sample_size=300, random_state=1)
    assert value == silhouette(X, y, sample_size=300, random_state=1).score


def test_registry_pickles(blobs):
    X, y = blobs
    restored = pickle.loads(pickle.dumps(CRITERIA))
    for name in CRITERIA:
        assert restored[name].compute(X, y) == CRITERIA[name].compute(X, y)


# --------------------------------------------------------------------------------------
# Properties: the chosen k survives a positive affine rescaling of the scores
# --------------------------------------------------------------------------------------

AFFINE_A = st.floats(1e-3, 1e3)
AFFINE_B = st.floats(-1e3, 1e3)


@st.composite
def criterion_curves(draw):
    """A criterion curve whose values differ pairwise by at least 1/n, with some NaN."""
    n = draw(st.integers(3, 15))
    k = np.arange(2, 2 + n) * draw(st.integers(1, 3))
    ranks = np.array(draw(st.permutations(range(n))), dtype=float)
    scores = ranks / n - 0.5  # distinct values in [-0.5, 0.5), silhouette-like
    undefined = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    undefined[int(np.argmax(ranks))] = undefined[int(np.argmin(ranks))] = False
    scores[np.asarray(undefined)] = np.nan
    return k, scores


@PROPERTY_SETTINGS
@given(curve=criterion_curves(), a=AFFINE_A, b=AFFINE_B)
def test_criterion_selection_invariant_to_positive_affine_transform(curve, a, b):
    k, scores = curve
    for select in (by_silhouette, by_calinski_harabasz, by_davies_bouldin):
        base = select(k, scores)
        transformed = select(k, a * scores + b)
        assert transformed.k == base.k
        np.testing.assert_array_equal(np.isnan(transformed.statistic), np.isnan(scores))
    # and the answer is the argmax / argmin of the defined values
    assert by_silhouette(k, scores).k == k[np.nanargmax(scores)]
    assert by_davies_bouldin(k, scores).k == k[np.nanargmin(scores)]


@st.composite
def planted_elbow_curves(draw):
    """Decreasing curves made of a steep and a shallow straight line, with a drop between.

    On a uniform grid of n points, points 0 .. e-1 lie on a line of slope -A and points
    e .. n-1 on a line of slope -a (a <= A / (10 n)); between points e-1 and e the curve
    falls by A + J (J = j·A, j in [0.5, 1.5]). So:

    - two_segment: only the split whose right segment starts at point e fits two lines
      exactly (mean R² = 1); every other split has a point off its line by >= A/2.
    - kneedle (convex, decreasing, sensitivity 1): the difference curve rises strictly
      up to point e (each step of the steep part drops by at least 1 / (e + j + 0.1) of
      the range, more than the 1 / (n - 1) of the diagonal, since e <= n - 3) and falls
      by about 1 / (n - 1) per step after it, so point e is the only knee, confirmed two
      points later.
    """
    n = draw(st.integers(6, 14))
    e = draw(st.integers(2, n - 3))
    k0 = draw(st.integers(1, 5))
    steep = draw(st.floats(10.0, 1000.0))
    jump = steep * draw(st.floats(0.5, 1.5))
    shallow = steep * draw(st.floats(0.0, 1.0 / (10 * n)))
    i = np.arange(n)
    right = shallow * (n - 1 - i)
    left = shallow * (n - 1 - e) + jump + steep * (e - i)
    return k0 + i, np.where(i < e, left, right), k0 + e


@PROPERTY_SETTINGS
@given(curve=planted_elbow_curves(), a=AFFINE_A, b=AFFINE_B)
def test_elbow_detectors_find_planted_elbow_under_affine_transform(curve, a, b):
    k, scores, elbow = curve
    for transformed in (scores, a * scores + b):
        assert two_segment(k, transformed).k == elbow
        result = kneedle(k, transformed)
        assert result.k == elbow, result.reason
        np.testing.assert_array_equal(result.details["knees"], [elbow])


def test_exact_silhouette_is_the_same_on_one_thread_and_two(monkeypatch):
    import ksweep._silhouette as module

    rng = np.random.default_rng(3)
    X = np.concatenate([rng.normal(c, 1.0, (150, 4)) for c in (0.0, 4.0, 9.0)])
    labels = np.repeat([0, 1, 2], 150)
    scores = []
    for cores in (1, 2):
        monkeypatch.setattr(module, "cpu_cores", lambda cores=cores: cores)
        scores.append(silhouette(X, labels, chunk_size=37).score)  # 13 blocks
    assert scores[0] == scores[1]
    assert scores[0] == pytest.approx(silhouette_score(X, labels), abs=1e-12)
