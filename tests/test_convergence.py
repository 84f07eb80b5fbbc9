"""Under-converged k: convexity breaks of the inertia curve and widely spread restarts."""

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from threadpoolctl import threadpool_limits

from ksweep.convergence import suspicious_k


def test_a_convex_curve_names_no_k():
    check = suspicious_k([1, 2, 3, 4, 5, 6], [100.0, 50.0, 30.0, 20.0, 15.0, 12.0])
    assert check.named == [] and check.reasons == {}
    assert np.isnan(check.excess[[0, -1]]).all()
    assert (check.excess[1:-1] < 0).all()


def test_a_k_that_gains_little_before_a_big_step_is_named():
    # gains 50, 2, 28, 2; median gain 15: k=3's excess is (28 - 2) / 15 = 1.73
    check = suspicious_k([1, 2, 3, 4, 5], [100.0, 50.0, 48.0, 20.0, 18.0])
    assert check.named == [3]
    assert check.excess[2] == pytest.approx(26 / 15)
    assert check.breaks_convexity.tolist() == [False, False, True, False, False]
    assert check.reasons[3] == (
        "k=3: its inertia 48 gains 2 per k over k=2 but the next step gains 28 "
        "(1.73 median gains more)"
    )


def test_the_tolerance_is_in_median_gains():
    k, w = [1, 2, 3, 4, 5], [100.0, 50.0, 48.0, 20.0, 18.0]
    assert suspicious_k(k, w, convexity_tol=1.7).named == [3]
    assert suspicious_k(k, w, convexity_tol=1.8).named == []


def test_a_k_above_the_previous_k_is_named_even_at_the_end():
    check = suspicious_k([1, 2, 3, 4], [100.0, 50.0, 30.0, 31.0])
    assert check.named == [4] and check.rises.tolist() == [False, False, False, True]
    assert check.reasons[4] == "k=4: its inertia 31 is above k=3's (30)"
    # within rtol of the previous k: a tie, not a rise
    assert suspicious_k([1, 2, 3, 4], [100.0, 50.0, 30.0, 30.01]).named == []


def test_a_first_large_drop_does_not_hide_a_poor_k():
    # the case: k=6 barely below k=5, then a big step to k=7; k=1 in the range
    k = np.arange(1, 10)
    w = np.array([40388.0, 4274.0, 3174.0, 2159.0, 1152.0, 1100.0, 163.0, 153.0, 143.0])
    check = suspicious_k(k, w)
    assert check.named == [6]
    gains = -np.diff(w)  # median 972, mean 5031
    assert check.excess[5] == pytest.approx((937 - 52) / 972)
    assert (gains[5] - gains[4]) / gains.mean() < 0.25  # in mean gains it would hide


def test_an_uneven_grid_compares_gains_per_unit_of_k():
    # per unit: (100 - 60) / 2 = 20 then (60 - 20) / 4 = 10: convex
    assert suspicious_k([2, 4, 8], [100.0, 60.0, 20.0]).named == []
    # per unit: 2.5 then 18.75
    assert suspicious_k([2, 4, 8], [100.0, 95.0, 20.0]).named == [4]


def test_a_flat_curve_names_no_k():
    assert suspicious_k([1, 2, 3], [0.0, 0.0, 0.0]).named == []


def test_the_ends_are_judged_by_their_restarts_only():
    # the last step gains more than any before: no neighbour confirms it
    check = suspicious_k([1, 2, 3], [100.0, 99.0, 10.0])
    assert check.named == [2]
    restarts = np.array([[100.0, 100.0], [99.0, 99.0], [10.0, 30.0]])
    assert suspicious_k([1, 2, 3], [100.0, 99.0, 10.0], restarts).named == [2]
    spread = suspicious_k([1, 2, 3], [100.0, 99.0, 10.0], restarts, spread_tol=0.1)
    assert spread.named == [2, 3]


RESTARTS = np.array(
    [
        [90.0, 90.0, 90.0, 90.0],
        [40.0, 40.1, 40.0, 40.0],
        [20.0, 31.0, 30.0, 32.0],  # median 30.5: 52.5% above a best reached once
        [15.0, 30.0, 15.01, 31.0],  # as wide, but a second restart confirms the best
        [12.0, 12.5, 12.2, 12.3],  # narrow
    ]
)


def test_the_spread_test_is_off_by_default_and_its_numbers_are_kept():
    check = suspicious_k([1, 2, 3, 4, 5], np.nanmin(RESTARTS, axis=1), RESTARTS)
    assert check.named == [] and not check.wide_spread.any()
    assert check.n_at_best.tolist() == [4, 3, 1, 2, 1]
    assert check.spread[2] == pytest.approx(0.525)


def test_a_wide_spread_with_an_unconfirmed_best_is_named():
    check = suspicious_k([1, 2, 3, 4, 5], np.nanmin(RESTARTS, axis=1), RESTARTS, spread_tol=0.1)
    assert check.named == [3]
    assert check.wide_spread.tolist() == [False, False, True, False, False]
    assert check.n_at_best.tolist() == [4, 3, 1, 2, 1]
    np.testing.assert_allclose(check.spread, [0.0, 0.0, 0.525, 7.505 / 15, 0.25 / 12])
    assert check.reasons[3] == (
        "k=3: the median restart is 52.5% above the best (20), reached by 1 of 4 restarts"
    )


def test_missing_restarts_and_a_single_restart():
    runs = RESTARTS.copy()
    runs[2, 1:3] = np.nan  # k=3 had 2 restarts: 20 and 32, median 26
    check = suspicious_k([1, 2, 3, 4, 5], np.nanmin(runs, axis=1), runs, spread_tol=0.1)
    assert check.spread[2] == pytest.approx(0.3)
    assert check.named == [3]
    one = suspicious_k([1, 2, 3, 4, 5], RESTARTS[:, 0], RESTARTS[:, :1], spread_tol=0.1)
    assert not one.wide_spread.any() and one.spread.tolist() == [0.0] * 5


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (([1, 2], [1.0, -1.0]), {}, "The 'inertia' argument of suspicious_k must be finite and"),
        (([1, 2], [1.0, np.nan]), {}, "must be finite and >= 0. Got nan at position 1 instead."),
        (([1, 2, 3], [1.0, 0.5]), {}, "'k' and 'inertia' arguments of suspicious_k must have the"),
        (([1, 2], [2.0, 1.0], [[2.0], [1.0], [1.0]]), {}, "shape (n_k, n_restarts) = (2, R)"),
        (([1, 2], [2.0, 1.0], [[2.0], [0.5]]), {}, "no restart below the best inertia"),
        (([1, 2], [2.0, 1.0], [[2.0], [np.nan]]), {}, "a finite inertia for every k"),
        (([1, 2], [2.0, 1.0], [["a"], ["b"]]), {}, "must contain real numbers"),
        (([1, 2], [2.0, 1.0]), {"convexity_tol": -1}, "'convexity_tol' argument of suspicious_k"),
        (([1, 2], [2.0, 1.0]), {"spread_tol": "x"}, "'spread_tol' argument of suspicious_k"),
        (([2, 1], [2.0, 1.0]), {}, "The 'k' argument of suspicious_k must be strictly"),
    ],
)
def test_bad_input_is_refused_by_name(args, kwargs, message):
    with pytest.raises(ValueError) as info:
        suspicious_k(*args, **kwargs)
    assert message in str(info.value)


SIX = [[0, 0], [10, 0], [20, 0], [0, 10], [10, 10], [20, 10]]


@pytest.fixture(scope="module")
def six_blobs():
    X, _ = make_blobs(1200, centers=SIX, cluster_std=1.0, random_state=0)
    k = np.arange(1, 11)
    with threadpool_limits(limits=1):
        runs = np.array(
            [
                [KMeans(int(j), n_init=1, random_state=r).fit(X).inertia_ for r in range(5)]
                for j in k
            ]
        )
    return X, k, runs


def test_a_good_sweep_names_no_k_even_where_log_inertia_bends(six_blobs):
    _, k, runs = six_blobs
    best = runs.min(axis=1)
    assert suspicious_k(k, best).named == []
    # the log scale would have flagged k=5: the largest log drop is into k=6
    log_gain = -np.diff(np.log(best))
    assert log_gain[4] > log_gain[3]


def test_a_k_seeded_into_a_poor_optimum_is_named(six_blobs):
    """Six blobs; k=6 started with two centers in one blob and none in another."""
    X, k, runs = six_blobs
    init = np.array([[0, 0], [1, 1], [10, 0], [20, 0], [0, 10], [10, 10]], dtype=float)
    poor = KMeans(6, init=init, n_init=1).fit(X).inertia_
    best = runs.min(axis=1)
    assert poor > 1.5 * best[5]  # a real local optimum: two blobs share a center
    curve = best.copy()
    curve[5] = poor
    check = suspicious_k(k, curve)
    assert check.named == [6]
    assert check.reasons[6].startswith("k=6: its inertia ")
