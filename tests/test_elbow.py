"""Tests for the elbow detectors :func:`ksweep.elbow.two_segment` and :func:`ksweep.elbow.kneedle`.

Expected answers come either from reasoning about hand-made curves (the reasoning is
written next to each case) or from an independent computation inside the test
(brute-force line fits with ``numpy.polyfit``, or the Kneedle scaling done by hand).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from ksweep.elbow import SelectionResult, kneedle, two_segment

PROPERTY_SETTINGS = settings(max_examples=60, deadline=None)

DETECTORS = [
    pytest.param(two_segment, "two_segment", 4, id="two_segment"),
    pytest.param(kneedle, "kneedle", 3, id="kneedle"),
]


# --------------------------------------------------------------------------------------
# Independent reference computations
# --------------------------------------------------------------------------------------


def _r2_polyfit(x, y):
    """R² = 1 - SS_res / SS_tot of a degree-1 ``numpy.polyfit``; 1 for a constant segment."""
    if np.all(y == y[0]):
        return 1.0
    slope, intercept = np.polyfit(x, y, 1)
    ss_res = np.sum((y - (slope * x + intercept)) ** 2)
    ss_tot = np.sum((y - y.mean()) ** 2)
    return 1.0 - ss_res / ss_tot


def brute_force_two_segment(k, scores):
    """Chosen k and mean-R² array of every split with at least 2 points per side."""
    x = np.asarray(k, dtype=np.float64)
    y = np.asarray(scores, dtype=np.float64)
    n = x.shape[0]
    stats = np.array(
        [(_r2_polyfit(x[:s], y[:s]) + _r2_polyfit(x[s:], y[s:])) / 2.0 for s in range(2, n - 1)]
    )
    best = int(np.argmax(stats))  # np.argmax returns the first index on ties
    return np.asarray(k)[2 + best], stats


def kneedle_difference(k, scores, curve, direction):
    """Kneedle difference curve: both axes scaled to [0, 1], compared with the diagonal."""
    x = np.asarray(k, dtype=np.float64)
    y = np.asarray(scores, dtype=np.float64)
    x_scaled = (x - x.min()) / (x.max() - x.min())
    y_scaled = (y - y.min()) / (y.max() - y.min())
    diagonal = x_scaled if direction == "increasing" else 1.0 - x_scaled
    return y_scaled - diagonal if curve == "concave" else diagonal - y_scaled


@pytest.fixture(scope="module")
def digits_inertia():
    """Best KMeans inertia per k on standardized digits, fitted with scikit-learn directly."""
    X = StandardScaler().fit_transform(load_digits().data)
    ks = np.arange(2, 13)
    inertia = np.array(
        [KMeans(n_clusters=int(k), n_init=3, random_state=0).fit(X).inertia_ for k in ks]
    )
    return ks, inertia


# --------------------------------------------------------------------------------------
# two_segment: hand-made curves
# --------------------------------------------------------------------------------------


def _assert_two_segment_structure(result, k):
    k = np.asarray(k)
    n = k.shape[0]
    assert isinstance(result, SelectionResult)
    assert result.method == "two_segment"
    np.testing.assert_array_equal(result.candidates, k[2 : n - 1])
    assert result.statistic.shape == result.candidates.shape
    r2_left = result.details["r2_left"]
    r2_right = result.details["r2_right"]
    assert r2_left.shape == r2_right.shape == result.statistic.shape
    np.testing.assert_allclose(result.statistic, (r2_left + r2_right) / 2.0, rtol=0, atol=1e-15)
    assert np.all((result.statistic >= 0.0) & (result.statistic <= 1.0))
    assert result.k in k.tolist()


@pytest.mark.parametrize(
    ("k", "scores", "expected"),
    [
        # Left line 100 - 20 (k - 1) on k = 1..4, then a jump to the line 14 - k on k = 5..8.
        # Only the split with right segment k = 5..8 fits both sides exactly.
        pytest.param(np.arange(1, 9), [100, 80, 60, 40, 9, 8, 7, 6], 5, id="even-jump"),
        # Lines 100 - 10 k and 60 - k meet at k = 40 / 9 = 4.44, between grid points:
        # the left segment is k = 1..4 and the right one k = 5..10, so the answer is 5.
        pytest.param(
            np.arange(1, 11), [90, 80, 70, 60, 55, 54, 53, 52, 51, 50], 5, id="even-offgrid"
        ),
        # Uneven grid: 200 - 20 k on k = 2, 3, 5 and 50 - 0.5 k on k = 8..30.
        # The answer is the first k of the right segment, 8.
        pytest.param(
            np.array([2, 3, 5, 8, 12, 17, 23, 30]),
            [160.0, 140.0, 100.0, 46.0, 44.0, 41.5, 38.5, 35.0],
            8,
            id="uneven-jump",
        ),
        # Uneven grid, increasing: 3 k on k = 1, 2, 4, 7 (meets 2 k + 10 at k = 10, not on
        # the grid) then 2 k + 10 on k = 11, 16, 22: the right segment starts at 11.
        pytest.param(
            np.array([1, 2, 4, 7, 11, 16, 22]), [3, 6, 12, 21, 32, 42, 54], 11, id="uneven-up"
        ),
        # A constant right segment is fitted exactly by a horizontal line (R² = 1):
        # 100 - 20 (k - 1) on k = 1..4, then 5 on k = 5..8.
        pytest.param(np.arange(1, 9), [100, 80, 60, 40, 5, 5, 5, 5], 5, id="flat-tail"),
    ],
)
def test_two_segment_two_exact_lines(k, scores, expected):
    result = two_segment(k, scores)
    _assert_two_segment_structure(result, k)
    assert result.k == expected
    best = list(result.candidates).index(expected)
    # Both sides are exact lines at the chosen split, and no other split is exact.
    assert result.details["r2_left"][best] == pytest.approx(1.0, abs=1e-12)
    assert result.details["r2_right"][best] == pytest.approx(1.0, abs=1e-12)
    others = np.delete(result.statistic, best)
    assert np.all(others < 1.0 - 1e-6)


def test_two_segment_accepts_float_k_and_returns_input_value():
    k = np.array([0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5])
    result = two_segment(k, [100, 80, 60, 40, 9, 8, 7, 6])
    assert result.k == 4.5
    _assert_two_segment_structure(result, k)


@pytest.mark.parametrize(
    "scores",
    [
        pytest.param([100, 60, 20, 18, 16, 14], id="docstring-example"),
        pytest.param([100, 60, 20, 18, 16], id="docstring-example-minus-last"),
        pytest.param([30, 25, 20, 19, 18], id="slopes-5-and-1"),
        pytest.param([50, 40, 30, 20, 10, 9, 8, 7, 6], id="slopes-10-and-1"),
        pytest.param([35, 30, 25, 20, 19, 18], id="slopes-5-and-1-long-left"),
    ],
)
def test_two_segment_ties_choose_the_first_split(scores):
    # Two exact lines that share a vertex on the grid, at the point where the slope
    # changes (k = 3 in the docstring example: 20 lies on both 100, 60, 20 and 20, 18, ...).
    # Then two splits fit both sides exactly (mean R² = 1): the one whose right segment
    # starts at the vertex and the one just after it. The docstring promises "the first
    # such split on ties", i.e. the vertex, as in the docstring example itself.
    k = np.arange(1, len(scores) + 1)
    slopes = np.diff(scores)
    vertex = int(np.flatnonzero(slopes != slopes[0])[0])  # index where the slope changes
    result = two_segment(k, scores)
    _assert_two_segment_structure(result, k)
    assert result.k == k[vertex]


def test_two_segment_answer_independent_of_offset_and_scale():
    # The answer is independent of where the scores sit and how they are scaled.
    k = np.arange(1, 9)
    base = np.array([100, 80, 60, 40, 9, 8, 7, 6], dtype=float)
    for a, b in [(1.0, 0.0), (1e-3, 5e5), (250.0, -1e6), (3.7, 42.0)]:
        assert two_segment(k, a * base + b).k == 5


# --------------------------------------------------------------------------------------
# two_segment: agreement with the brute-force computation
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(8))
def test_two_segment_matches_brute_force_on_random_curves(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 16))
    k = np.cumsum(rng.integers(1, 6, size=n)) + int(rng.integers(0, 5))
    if seed % 2:
        # Elbow-like: decreasing with shrinking steps plus noise.
        scores = np.cumsum(-np.sort(rng.exponential(10.0, size=n))[::-1]) + rng.normal(0, 0.5, n)
    else:
        scores = rng.normal(0.0, 1.0, size=n) * 10.0 ** rng.uniform(-3, 3)
    expected_k, expected_stat = brute_force_two_segment(k, scores)
    result = two_segment(k, scores)
    _assert_two_segment_structure(result, k)
    np.testing.assert_allclose(result.statistic, expected_stat, rtol=1e-9, atol=1e-12)
    assert result.k == expected_k


def test_two_segment_matches_brute_force_on_kmeans_digits(digits_inertia):
    ks, inertia = digits_inertia
    expected_k, expected_stat = brute_force_two_segment(ks, inertia)
    result = two_segment(ks, inertia)
    _assert_two_segment_structure(result, ks)
    np.testing.assert_allclose(result.statistic, expected_stat, rtol=1e-9)
    assert result.k == expected_k


@pytest.mark.parametrize("scale", [1e-170, 1e160])
def test_two_segment_handles_extreme_score_scales(scale):
    # Finite scores pass validation, and the mean R² is invariant to positive scaling,
    # so the two-line curve of test_two_segment_two_exact_lines must give 5 at any scale.
    k = np.arange(1, 9)
    scores = np.array([100, 80, 60, 40, 9, 8, 7, 6], dtype=float) * scale
    with np.errstate(all="ignore"):
        result = two_segment(k, scores)
    assert np.all(np.isfinite(result.statistic))
    assert result.k == 5


@pytest.mark.parametrize("scale", [1e-170, 1e160])
def test_kneedle_handles_extreme_score_scales(scale):
    k = np.arange(1, 9)
    scores = np.array([100, 80, 60, 40, 9, 8, 7, 6], dtype=float)
    reference = kneedle(k, scores)
    result = kneedle(k, scores * scale)
    # Scaled: k = 5 has difference 3/7 - 3/94 = 0.40, its neighbours 4/7 - 34/94 = 0.21
    # and 2/7 - 2/94 = 0.26, so the knee is the first point after the jump.
    assert result.k == reference.k == 5
    np.testing.assert_allclose(result.statistic, reference.statistic, atol=1e-12)


# --------------------------------------------------------------------------------------
# kneedle: hand-made curves
# --------------------------------------------------------------------------------------

# Steep-then-flat on k = 1..9: slope -40 on k = 1..3, then -2 on k = 3..9.
# Scaled (x = (k - 1) / 8, y = (s - 8) / 92), the steep part has slope -40 * 8 / 92 = -3.5
# (steeper than the diagonal's -1, so the difference grows) and the flat part
# -2 * 8 / 92 = -0.17 (the difference shrinks): the maximum is at the vertex k = 3.
STEEP_FLAT = np.array([100, 60, 20, 18, 16, 14, 12, 10, 8], dtype=float)
K9 = np.arange(1, 10)


def _assert_kneedle_structure(result, k, scores, curve, direction):
    k = np.asarray(k)
    assert isinstance(result, SelectionResult)
    assert result.method == "kneedle"
    np.testing.assert_array_equal(result.candidates, k)
    assert result.statistic.shape == k.shape
    np.testing.assert_allclose(
        result.statistic, kneedle_difference(k, scores, curve, direction), atol=1e-12
    )
    assert result.details["curve"] == curve
    assert result.details["direction"] == direction
    assert set(result.details["knees"].tolist()) <= set(k.tolist())
    if result.k is not None:
        assert result.k in result.details["knees"].tolist()


@pytest.mark.parametrize(
    ("scores", "curve", "direction", "expected"),
    [
        # The steep-then-flat curve itself: convex, decreasing, knee at the vertex k = 3.
        pytest.param(STEEP_FLAT, "convex", "decreasing", 3, id="convex-decreasing"),
        # Negated: y_scaled becomes 1 - y_scaled and the diagonal x, so the concave
        # difference (1 - y_scaled) - x is the same curve: knee at k = 3 again.
        pytest.param(-STEEP_FLAT, "concave", "increasing", 3, id="concave-increasing"),
        # Mirrored in k (flat then steep, vertex at k = 7): the convex increasing
        # difference x - y_scaled is the mirror image, maximal at k = 9 + 1 - 3 = 7.
        pytest.param(STEEP_FLAT[::-1], "convex", "increasing", 7, id="convex-increasing"),
        # Mirrored and negated: concave decreasing, same mirror argument, k = 7.
        pytest.param(-STEEP_FLAT[::-1], "concave", "decreasing", 7, id="concave-decreasing"),
    ],
)
def test_kneedle_four_curve_shapes(scores, curve, direction, expected):
    explicit = kneedle(K9, scores, curve=curve, direction=direction)
    _assert_kneedle_structure(explicit, K9, scores, curve, direction)
    assert explicit.k == expected
    # The hand-derived maximum of the difference: 0.75 - 12 / 92 at the vertex.
    assert explicit.statistic.max() == pytest.approx(0.75 - 12 / 92)
    # Inference recovers the same shape and answer.
    inferred = kneedle(K9, scores)
    assert inferred.details["curve"] == curve
    assert inferred.details["direction"] == direction
    assert inferred.k == expected
    np.testing.assert_array_equal(inferred.statistic, explicit.statistic)


def test_kneedle_knee_at_second_point():
    # One steep drop, then flat: y_scaled = [1, 0, 0, 0, 0, 0], diagonal [1, .8, .6, .4, .2, 0],
    # difference [0, .8, .6, .4, .2, 0]: maximal at index 1; it later falls to 0.4 < 0.8 - 0.2.
    k = np.arange(1, 7)
    scores = [10, 0, 0, 0, 0, 0]
    result = kneedle(k, scores)
    _assert_kneedle_structure(result, k, scores, "convex", "decreasing")
    assert result.k == 2
    np.testing.assert_allclose(result.statistic, [0, 0.8, 0.6, 0.4, 0.2, 0], atol=1e-12)
    np.testing.assert_array_equal(result.details["knees"], [2])


def test_kneedle_knee_at_first_point():
    # scores [4, 10, 5, 1, 0] scale to [.4, 1, .5, .1, 0]; diagonal [1, .75, .5, .25, 0]:
    # difference = [.6, -.25, 0, .15, 0]. Index 0 is a local maximum (.6 >= -.25); the next
    # local maximum is index 3, and before it the difference falls to -.25 < .6 - 1/4.
    # Index 3 (.15) is never followed by a value below .15 - .25 < 0, so it is no knee.
    k = np.arange(1, 6)
    scores = [4, 10, 5, 1, 0]
    result = kneedle(k, scores, curve="convex", direction="decreasing")
    _assert_kneedle_structure(result, k, scores, "convex", "decreasing")
    np.testing.assert_allclose(result.statistic, [0.6, -0.25, 0.0, 0.15, 0.0], atol=1e-12)
    assert result.k == 1
    np.testing.assert_array_equal(result.details["knees"], [1])


def test_kneedle_uneven_grid_uses_real_k_spacing():
    k = np.array([2, 3, 5, 10, 20, 40])
    scores = np.array([110, 50, 40, 30, 20, 10], dtype=float)
    # Independent computation in the real k units ...
    diff_real = kneedle_difference(k, scores, "convex", "decreasing")
    expected_index = int(np.argmax(diff_real))
    # ... must differ from the (wrong) answer obtained by treating the grid as even.
    diff_even = kneedle_difference(np.arange(6), scores, "convex", "decreasing")
    assert int(np.argmax(diff_even)) != expected_index
    # The global maximum is confirmed: the last difference (0) is below it minus 1/5.
    assert diff_real[-1] < diff_real[expected_index] - 1 / 5
    result = kneedle(k, scores)
    _assert_kneedle_structure(result, k, scores, "convex", "decreasing")
    assert result.k == k[expected_index] == 5
    np.testing.assert_allclose(result.details["k_scaled"], (k - 2) / 38)


def test_kneedle_three_points():
    # k = 1, 2, 3; scores [10, 1, 0] scale to [1, .1, 0]: difference [0, .4, 0].
    k = [1, 2, 3]
    low = kneedle(k, [10, 1, 0], sensitivity=0.1)  # must drop below .4 - .05: 0 does
    assert low.k == 2
    # With sensitivity 1 the drop is 1/2, more than the largest possible difference
    # (the middle point sits on x = 1/2), so a monotone 3-point curve has no knee.
    high = kneedle(k, [10, 1, 0], sensitivity=1.0)
    assert high.k is None
    assert high.reason.startswith("no knee found")
    # The extreme case: difference exactly 1/2, which must drop strictly below 0.
    edge = kneedle(k, [10, 0, 0], sensitivity=1.0)
    np.testing.assert_allclose(edge.statistic, [0, 0.5, 0])
    assert edge.k is None
    assert edge.details["knees"].size == 0


@pytest.mark.parametrize(
    ("k", "scores"),
    [
        pytest.param([1, 2, 3, 4, 5], [10, 8, 6, 4, 2], id="decreasing"),
        pytest.param([1, 2, 4, 7, 11], [3.5 * v + 2 for v in (1, 2, 4, 7, 11)], id="uneven-up"),
        pytest.param(
            [2, 3, 5, 10, 20, 40], [-0.3 * v + 7 for v in (2, 3, 5, 10, 20, 40)], id="uneven-down"
        ),
    ],
)
def test_kneedle_straight_line_has_no_knee(k, scores):
    result = kneedle(k, scores)
    assert result.k is None
    assert result.reason.startswith("no knee found")
    assert result.details["knees"].size == 0
    np.testing.assert_allclose(result.statistic, 0.0, atol=1e-12)


def test_kneedle_drop_must_happen_before_next_local_maximum():
    # scores / 200 = [1, .475, .4, .245, .2, .175, .15, .075, 0]; with the diagonal
    # [1, .875, ..., 0] the difference is [0, .4, .35, .38, .3, .2, .1, .05, 0].
    # Local maxima: k = 2 (.4) and k = 4 (.38). Before k = 4 the difference only falls to
    # .35, not below .4 - 1/8, so k = 2 is not confirmed even though the curve falls much
    # further later; k = 4 is confirmed (.3 ... 0 < .38 - 1/8). The answer is k = 4, not
    # the global maximum of the difference.
    scores = [200, 95, 80, 49, 40, 35, 30, 15, 0]
    result = kneedle(K9, scores)
    _assert_kneedle_structure(result, K9, scores, "convex", "decreasing")
    np.testing.assert_allclose(
        result.statistic, [0, 0.4, 0.35, 0.38, 0.3, 0.2, 0.1, 0.05, 0], atol=1e-12
    )
    np.testing.assert_array_equal(result.details["knees"], [4])
    assert result.k == 4


def test_kneedle_wrong_side_curve_has_no_knee():
    # -STEEP_FLAT is concave increasing; declared convex, its difference is the negative of
    # the (non-negative) concave one: local maximum 0 at the first point, below 0 after.
    # A non-positive maximum is no knee, however far the difference falls after it.
    scores = -STEEP_FLAT
    result = kneedle(K9, scores, curve="convex", direction="increasing")
    concave = kneedle_difference(K9, scores, "concave", "increasing")
    np.testing.assert_allclose(result.statistic, -concave, atol=1e-12)
    assert result.k is None
    assert result.details["knees"].size == 0
    assert result.reason == (
        "no knee found: the curve never bends to the convex side of its diagonal"
    )


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        # y_scaled = scores / 40 = [1, .575, .5, .425, .15, .075, .05, .025, 0];
        # difference [0, .3, .25, .2, .35, .3, .2, .1, 0]: local maxima at k = 2 and k = 5,
        # each followed by a fall of more than 0.5 / 8 (to .2 and to 0). Best: k = 5 (.35).
        pytest.param([40, 23, 20, 17, 6, 3, 2, 1, 0], 5, id="stronger-later"),
        # difference [0, .4, .3, .2, .3, .25, .15, .05, 0]: both maxima confirmed, the
        # first (.4 at k = 2) is the stronger one.
        pytest.param([40, 19, 18, 17, 8, 5, 4, 3, 0], 2, id="stronger-earlier"),
    ],
)
def test_kneedle_several_knees_choose_largest_difference(scores, expected):
    result = kneedle(K9, scores, sensitivity=0.5)
    _assert_kneedle_structure(result, K9, scores, "convex", "decreasing")
    np.testing.assert_array_equal(result.details["knees"], [2, 5])
    assert result.k == expected
    assert "1 weaker knee(s)" in result.reason


@pytest.mark.parametrize(
    "source", ["reciprocal", "digits"], ids=["1/k-curve", "kmeans-digits-inertia"]
)
def test_kneedle_inferred_shape_of_inertia_like_curve(source, digits_inertia):
    if source == "digits":
        k, scores = digits_inertia
    else:
        k = np.arange(1, 11)
        scores = 1000.0 / k + 50.0
    inferred = kneedle(k, scores)
    assert inferred.details["curve"] == "convex"
    assert inferred.details["direction"] == "decreasing"
    explicit = kneedle(k, scores, curve="convex", direction="decreasing")
    assert inferred.k == explicit.k
    assert inferred.k is not None
    np.testing.assert_array_equal(inferred.statistic, explicit.statistic)
    np.testing.assert_array_equal(inferred.details["knees"], explicit.details["knees"])
    _assert_kneedle_structure(inferred, k, scores, "convex", "decreasing")


@pytest.mark.parametrize(
    ("sensitivity", "expected"),
    [(0.0, 5), (0.5, 5), (1, 5), (np.float64(1.9), 5), (2.5, None), (10.0, None)],
)
def test_kneedle_sensitivity_on_mild_curve(sensitivity, expected):
    # scores (8 - i)² on k = 1..9 scale to (1 - x)², so the difference is x (1 - x):
    # maximal (1/4) at x = 1/2, i.e. k = 5, and never negative. It ends at 0, so the
    # knee is confirmed iff the drop S / 8 is below 1/4, i.e. S < 2.
    scores = (8 - np.arange(9)) ** 2
    result = kneedle(K9, scores, sensitivity=sensitivity)
    x = np.arange(9) / 8
    np.testing.assert_allclose(result.statistic, x * (1 - x), atol=1e-12)
    assert result.details["threshold_drop"] == pytest.approx(sensitivity / 8)
    assert result.k == expected
    if expected is None:
        assert result.reason.startswith("no knee found")


def test_documented_details_keys_are_present():
    # Each docstring lists the keys of ``details``; all of them must be there.
    cases = [
        (two_segment, two_segment(K9, STEEP_FLAT)),
        (kneedle, kneedle(K9, STEEP_FLAT)),
    ]
    for func, result in cases:
        doc = " ".join(func.__doc__.split())
        sentence = re.search(r"``details`` holds (.*?)\.", doc)
        assert sentence is not None
        documented = set(re.findall(r"``(\w+)``", sentence.group(1)))
        assert documented
        missing = documented - set(result.details)
        assert not missing, f"{func.__name__}: documented details keys {missing} missing"


# --------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------

K5 = [1, 2, 3, 4, 5]
S5 = [50.0, 30.0, 20.0, 15.0, 12.0]


@pytest.mark.parametrize(("func", "name", "min_points"), DETECTORS)
def test_mismatched_lengths(func, name, min_points):
    msg = (
        f"The 'k' and 'scores' arguments of {name} must have the same length. Got 5 and 4 instead."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        func(K5, S5[:4])


@pytest.mark.parametrize(("func", "name", "min_points"), DETECTORS)
def test_too_few_points(func, name, min_points):
    m = min_points - 1
    msg = (
        f"The 'scores' argument of {name} must have at least {min_points} points. Got {m} instead."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        func(K5[:m], S5[:m])
    # The minimum itself is accepted.
    assert func(K5[:min_points], S5[:min_points]).method == name


@pytest.mark.parametrize(("func", "name", "min_points"), DETECTORS)
@pytest.mark.parametrize(
    ("argument", "position", "value", "shown"),
    [
        ("scores", 2, np.nan, "nan"),
        ("scores", 1, np.inf, "inf"),
        ("scores", 4, -np.inf, "-inf"),
        ("k", 1, np.nan, "nan"),
        ("k", 3, np.inf, "inf"),
    ],
)
def test_non_finite_values(func, name, min_points, argument, position, value, shown):
    k = np.array(K5, dtype=float)
    scores = np.array(S5)
    (k if argument == "k" else scores)[position] = value
    msg = (
        f"The '{argument}' argument of {name} must contain only finite values. "
        f"Got {shown} at position {position} instead."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        func(k, scores)


@pytest.mark.parametrize(("func", "name", "min_points"), DETECTORS)
@pytest.mark.parametrize(
    ("k", "detail"),
    [
        ([1, 3, 2, 4, 5], "unsorted values 3 and 2 at positions 1 and 2"),
        ([5, 4, 3, 2, 1], "unsorted values 5 and 4 at positions 0 and 1"),
        ([1, 2, 3, 3, 4], "duplicated values 3 and 3 at positions 2 and 3"),
        ([1.5, 1.5, 2, 3, 4], "duplicated values 1.5 and 1.5 at positions 0 and 1"),
    ],
)
def test_k_not_strictly_increasing(func, name, min_points, k, detail):
    msg = f"The 'k' argument of {name} must be strictly increasing. Got {detail} instead."
    with pytest.raises(ValueError, match=re.escape(msg)):
        func(k, S5)


@pytest.mark.parametrize(("func", "name", "min_points"), DETECTORS)
@pytest.mark.parametrize("argument", ["k", "scores"])
def test_two_dimensional_input(func, name, min_points, argument):
    k, scores = np.array(K5), np.array(S5)
    if argument == "k":
        k = k.reshape(1, 5)
    else:
        scores = scores.reshape(5, 1)
    shape = (1, 5) if argument == "k" else (5, 1)
    msg = (
        f"The '{argument}' argument of {name} must be a 1-D array-like. "
        f"Got an array of shape {shape} instead."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        func(k, scores)


@pytest.mark.parametrize(("func", "name", "min_points"), DETECTORS)
@pytest.mark.parametrize(
    ("scores", "dtype"),
    [
        (["a", "b", "c", "d", "e"], "<U1"),
        (["50", "30", "20", "15", "12"], "<U2"),
        (np.array(S5) + 1j, "complex128"),
        ([50, 30, 20, 15, None], "object"),
    ],
)
def test_non_real_scores(func, name, min_points, scores, dtype):
    msg = f"The 'scores' argument of {name} must contain real numbers. Got dtype {dtype} instead."
    with pytest.raises(ValueError, match=re.escape(msg)):
        func(K5, scores)


@pytest.mark.parametrize(("func", "name", "min_points"), DETECTORS)
def test_non_real_k(func, name, min_points):
    msg = f"The 'k' argument of {name} must contain real numbers. Got dtype complex128 instead."
    with pytest.raises(ValueError, match=re.escape(msg)):
        func(np.array(K5) + 0j, S5)
    msg = f"The 'k' argument of {name} must contain real numbers. Got dtype <U1 instead."
    with pytest.raises(ValueError, match=re.escape(msg)):
        func(list("12345"), S5)


@pytest.mark.parametrize(("func", "name", "min_points"), DETECTORS)
def test_bare_string_input(func, name, min_points):
    msg = (
        f"The 'scores' argument of {name} must be a 1-D array-like. "
        "Got an array of shape () instead."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        func(K5, "abcde")


@pytest.mark.parametrize(("func", "name", "min_points"), DETECTORS)
def test_constant_scores(func, name, min_points):
    msg = (
        f"The 'scores' argument of {name} must not be constant: a flat curve has no elbow. "
        "Got all values equal to 5 instead."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        func(K5, [5, 5, 5, 5, 5])


@pytest.mark.parametrize("curve", ["convx", "Convex", "", 1])
def test_kneedle_bad_curve(curve):
    msg = (
        "The 'curve' argument of kneedle must be one of 'convex', 'concave' or None. "
        f"Got {curve!r} instead."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        kneedle(K5, S5, curve=curve)


@pytest.mark.parametrize("direction", ["down", "Decreasing", "", -1])
def test_kneedle_bad_direction(direction):
    msg = (
        "The 'direction' argument of kneedle must be one of 'increasing', 'decreasing' or None. "
        f"Got {direction!r} instead."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        kneedle(K5, S5, direction=direction)


@pytest.mark.parametrize(
    "sensitivity",
    [-0.5, -1, float("nan"), float("inf"), "1.0", True, False, None, np.bool_(True)],
    ids=repr,
)
def test_kneedle_bad_sensitivity(sensitivity):
    msg = (
        "The 'sensitivity' argument of kneedle must be a finite real number >= 0. "
        f"Got {sensitivity!r} instead."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        kneedle(K5, S5, sensitivity=sensitivity)


def test_kneedle_cannot_infer_direction():
    # Symmetric bump: zero least-squares slope and equal end points.
    with pytest.raises(ValueError, match=r"^kneedle could not infer the curve's direction"):
        kneedle([1, 2, 3], [0, 1, 0])
    # Passing the direction explicitly resolves it.
    assert kneedle([1, 2, 3], [0, 1, 0], direction="increasing").details["direction"] == (
        "increasing"
    )


# --------------------------------------------------------------------------------------
# Property tests
# --------------------------------------------------------------------------------------


@st.composite
def decreasing_convex_curves(draw):
    """Strictly decreasing curves with shrinking decrements on a random uneven k grid."""
    n = draw(st.integers(5, 14))
    k = sorted(draw(st.lists(st.integers(1, 200), min_size=n, max_size=n, unique=True)))
    steps = draw(st.lists(st.floats(1.0, 1000.0), min_size=n - 1, max_size=n - 1))
    steps = np.sort(np.asarray(steps))[::-1]
    scores = np.concatenate(([0.0], -np.cumsum(steps)))
    return np.array(k), scores - scores.min()


@st.composite
def arbitrary_curves(draw, min_points):
    n = draw(st.integers(min_points, 12))
    k = sorted(draw(st.lists(st.integers(-50, 500), min_size=n, max_size=n, unique=True)))
    scores = draw(
        st.lists(
            st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False), min_size=n, max_size=n
        )
    )
    scores = np.asarray(scores)
    # Constant curves are rejected (tested above); squares of deviations below ~1e-162
    # underflow to 0 in two_segment (see test_two_segment_handles_extreme_score_scales).
    assume(np.ptp(scores) > 1e-6)
    return np.array(k), scores


AFFINE_A = st.floats(1e-3, 1e3)
AFFINE_B = st.floats(-1e6, 1e6)
MARGIN = 1e-5


@PROPERTY_SETTINGS
@given(curve=decreasing_convex_curves(), a=AFFINE_A, b=AFFINE_B)
def test_two_segment_invariant_to_positive_affine_transform(curve, a, b):
    k, scores = curve
    base = two_segment(k, scores)
    top_two = np.sort(base.statistic)[-2:]
    assume(top_two[1] - top_two[0] > MARGIN)  # a well-defined best split
    transformed = two_segment(k, a * scores + b)
    assert transformed.k == base.k
    np.testing.assert_allclose(transformed.statistic, base.statistic, atol=MARGIN / 2)


def _kneedle_decisions_are_robust(difference, drop):
    """True when every comparison Kneedle makes is decided by more than MARGIN."""
    n = difference.shape[0]
    i, j = np.triu_indices(n, k=1)
    not_ends = ~((i == 0) & (j == n - 1))  # both end differences are exactly 0
    gaps = difference[i] - difference[j]
    return (
        np.all(np.abs(gaps[not_ends]) > MARGIN)
        and np.all(np.abs(gaps - drop) > MARGIN)
        and np.all(np.abs(difference[1:-1]) > MARGIN)
    )


@PROPERTY_SETTINGS
@given(curve=decreasing_convex_curves(), a=AFFINE_A, b=AFFINE_B)
def test_kneedle_invariant_to_positive_affine_transform(curve, a, b):
    k, scores = curve
    difference = kneedle_difference(k, scores, "convex", "decreasing")
    assume(_kneedle_decisions_are_robust(difference, 1.0 / (len(k) - 1)))
    base = kneedle(k, scores)
    transformed = kneedle(k, a * scores + b)
    assert transformed.k == base.k
    np.testing.assert_array_equal(transformed.details["knees"], base.details["knees"])
    assert transformed.details["curve"] == base.details["curve"]
    assert transformed.details["direction"] == base.details["direction"] == "decreasing"


@PROPERTY_SETTINGS
@given(curve=arbitrary_curves(min_points=4))
def test_two_segment_result_shape_properties(curve):
    k, scores = curve
    result = two_segment(k, scores)
    _assert_two_segment_structure(result, k)
    assert isinstance(result.k, int)


@PROPERTY_SETTINGS
@given(
    curve=arbitrary_curves(min_points=3),
    shape=st.sampled_from([None, "convex", "concave"]),
    direction=st.sampled_from([None, "increasing", "decreasing"]),
    sensitivity=st.floats(0.0, 3.0),
)
def test_kneedle_result_shape_properties(curve, shape, direction, sensitivity):
    k, scores = curve
    try:
        result = kneedle(k, scores, curve=shape, direction=direction, sensitivity=sensitivity)
    except ValueError as exc:
        # Only an undecidable direction may be refused: it needs equal end scores.
        assert direction is None
        assert "could not infer the curve's direction" in str(exc)
        assert scores[0] == scores[-1]
        return
    assert result.k is None or result.k in k.tolist()
    assert result.k is None or isinstance(result.k, int)
    np.testing.assert_array_equal(result.candidates, k)
    assert result.statistic.shape == result.candidates.shape
    assert np.all(np.isfinite(result.statistic))
    assert set(result.details["knees"].tolist()) <= set(k.tolist())
    assert (result.k is None) == (result.details["knees"].size == 0)
    assert (result.k is None) == result.reason.startswith("no knee found")
