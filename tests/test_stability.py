"""Stability of k over resamples: mean ARI on shared rows, and how often each k is chosen."""

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from ksweep.elbow import kneedle
from ksweep.stability import resample_indices, resample_stability


def test_agreement_is_measured_on_shared_rows_only():
    # resamples share rows 1, 2, 3; on them the labellings agree up to a renaming,
    # while rows 0 and 4 (each in one resample only) would disagree
    indices = [[0, 1, 2, 3], [1, 2, 3, 4]]
    labels = [[[1, 0, 0, 1], [5, 5, 7, 5]]]
    result = resample_stability([2], labels, indices)
    assert result.mean_ari.tolist() == [1.0]
    assert result.sd_ari.tolist() == [0.0]


def test_a_bootstrap_row_drawn_twice_counts_once_with_its_first_label():
    indices = [[0, 0, 1, 2, 3], [0, 1, 2, 3]]
    labels = [[[0, 1, 0, 1, 1], [0, 0, 1, 1]]]  # row 0 first labelled 0, then 1
    assert resample_stability([2], labels, indices).mean_ari.tolist() == [1.0]


def test_the_mean_is_over_every_pair_of_resamples():
    indices = [[0, 1, 2, 3, 4, 5]] * 3
    a, b, c = [0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]
    result = resample_stability([2], [[a, b, c]], indices, threshold=0.5)
    pairs = [adjusted_rand_score(a, b), adjusted_rand_score(a, c), adjusted_rand_score(b, c)]
    assert result.mean_ari[0] == pytest.approx(np.mean(pairs))
    assert result.sd_ari[0] == pytest.approx(np.std(pairs))
    assert result.stable.tolist() == [bool(np.mean(pairs) >= 0.5)]


def test_pairs_sharing_fewer_than_two_rows_are_left_out():
    indices = [[0, 1], [2, 3], [0, 1]]
    labels = [[[0, 1], [0, 1], [1, 0]]]
    result = resample_stability([2], labels, indices)
    assert result.mean_ari.tolist() == [1.0]  # only the pair (0, 2) shares rows
    alone = resample_stability([2], [[[0, 1], [0, 1]]], [[0, 1], [2, 3]])
    assert np.isnan(alone.mean_ari[0]) and not alone.stable[0]


def test_choices_are_counted_and_described():
    indices = [[0, 1, 2, 3]] * 4
    same = [0, 0, 1, 1]
    labels = [[same] * 4, [[0, 1, 2, 2], [0, 0, 1, 2], [2, 1, 0, 0], [0, 1, 1, 2]]]
    result = resample_stability([2, 3], labels, indices, chosen=[2, 2, 3, 2])
    assert result.chosen_count.tolist() == [3, 1]
    assert resample_stability([2, 3], labels, indices, [2, None, 3, 2]).chosen_count.tolist() == [
        2,
        1,
    ]
    assert result.describe(2) == (
        "k=2 chosen in 3 of 4 resamples; mean ARI between resamples 1.00 (stable)"
    )
    assert result.describe(3).startswith("k=3 chosen in 1 of 4 resamples; mean ARI")
    assert result.describe(3).endswith("(below 0.9: unstable)")
    assert resample_stability([2, 3], labels, indices).describe(2) == (
        "k=2: mean ARI between resamples 1.00 (stable)"
    )
    with pytest.raises(ValueError, match=r"must be one of \[2, 3\]. Got 4 instead."):
        result.describe(4)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (([2], [[[0, 1]]], [[0, 1]]), {}, "'indices' argument of resample_stability must be a"),
        (([2], [[[0, 1], [0, 1]]], [[0, 1], [0.5, 1]]), {}, "1-D integer arrays. Got float64"),
        (([2, 3], [[[0, 1], [0, 1]]], [[0, 1], [0, 1]]), {}, "one entry per k (2). Got 1"),
        (([2], [[[0, 1]]], [[0, 1], [0, 1]]), {}, "one labelling per resample (2) for each k"),
        (([2], [[[0, 1], [0]]], [[0, 1], [0, 1]]), {}, "Got 1 labels for the 2 rows of resample"),
        (([2], [[[0, 1], [0, 1]]], [[0, 1], [0, 1]], [2]), {}, "one k (or None) per resample (2)"),
        (([2], [[[0, 1], [0, 1]]], [[0, 1], [0, 1]], [2, 5]), {}, "Got [5] instead."),
        (([3, 2], [[], []], [[0], [1]]), {}, "The 'k' argument of resample_stability must be"),
        (([2], [[[0, 1], [0, 1]]], [[0, 1], [0, 1]]), {"threshold": -1}, "'threshold' argument"),
    ],
)
def test_bad_input_is_refused_by_name(args, kwargs, message):
    with pytest.raises(ValueError) as info:
        resample_stability(*args, **kwargs)
    assert message in str(info.value)


def test_resamples_are_seeded_per_child_and_sorted():
    first = resample_indices(100, 3, random_state=7)
    more = resample_indices(100, 5, random_state=7)
    assert all(np.array_equal(a, b) for a, b in zip(first, more[:3], strict=True))
    assert all(len(i) == 80 and len(np.unique(i)) == 80 for i in first)
    assert all(np.all(np.diff(i) > 0) for i in first)
    boot = resample_indices(50, 2, method="bootstrap", random_state=1)
    assert all(len(i) == 50 and np.all(np.diff(i) >= 0) for i in boot)
    assert any(len(np.unique(i)) < 50 for i in boot)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((1, 3), {}, "The 'n_samples' argument of resample_indices must be an int >= 2."),
        ((10, 1), {}, "The 'n_resamples' argument of resample_indices must be an int >= 2."),
        ((10, 2), {"method": "jackknife"}, "one of 'subsample' or 'bootstrap'"),
        ((10, 2), {"fraction": 1.5}, "must be in (0, 1] and keep at least 2 of the 10 rows"),
        ((10, 2), {"fraction": 0.1}, "Got 0.1 instead."),
    ],
)
def test_bad_resampling_is_refused_by_name(args, kwargs, message):
    with pytest.raises(ValueError) as info:
        resample_indices(*args, **kwargs)
    assert message in str(info.value)


K = np.arange(2, 9)


def _sweep_resamples(X, indices):
    """KMeans for every k on every resample; labels per k and kneedle's choice per resample."""
    with threadpool_limits(limits=1):
        fits = [
            [KMeans(int(k), n_init=3, random_state=b).fit(X[i]) for b, i in enumerate(indices)]
            for k in K
        ]
    labels = [[fit.labels_ for fit in per_k] for per_k in fits]
    inertia = np.array([[fit.inertia_ for fit in per_k] for per_k in fits])  # (n_k, B)
    chosen = [kneedle(K, np.log(inertia[:, b])).k for b in range(len(indices))]
    return labels, chosen


def test_on_blobs_the_true_k_is_chosen_in_most_resamples_and_is_stable():
    X, _ = make_blobs(600, centers=5, cluster_std=0.8, center_box=(-12, 12), random_state=3)
    indices = resample_indices(len(X), 10, random_state=0)
    labels, chosen = _sweep_resamples(X, indices)
    result = resample_stability(K, labels, indices, chosen=chosen)
    five = int(np.flatnonzero(K == 5)[0])
    assert result.chosen_count[five] >= 9  # >= 90% of the resamples
    assert result.stable[five] and result.mean_ari[five] > 0.95
    assert result.mean_ari[five] > result.mean_ari[five + 1 :].max()


@pytest.mark.parametrize(
    "make",
    [
        lambda rng: rng.random((600, 6)),
        lambda rng: rng.standard_normal((600, 8)),
    ],
    ids=["uniform 6-D", "Gaussian 8-D"],
)
def test_on_noise_no_k_is_stable(make):
    X = make(np.random.default_rng(0))
    indices = resample_indices(len(X), 8, random_state=1)
    labels, chosen = _sweep_resamples(X, indices)
    result = resample_stability(K, labels, indices, chosen=chosen)
    assert not result.stable.any(), result.mean_ari
    assert result.mean_ari.max() < 0.6
