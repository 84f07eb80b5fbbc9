"""The gap statistic's five rules match R's cluster::maxSE on hand-made curves."""

import numpy as np
import pytest

from ksweep.gap import GAP_RULES, gap_rule_index, gap_statistic


def r_max_se(f, se, method, se_factor=1.0):
    """R's ``maxSE`` step by step, with R's 1-based positions; returns a 1-based k."""
    f, se = list(f), list(se)
    K = len(f)
    f_se = [se_factor * s for s in se]
    # decr[i] (i = 1..K-1) is diff(f)[i] <= 0; which.max of a logical is its first TRUE
    decr = [f[i] - f[i - 1] <= 0 for i in range(1, K)]
    first_decr = decr.index(True) + 1 if True in decr else K
    if method == "firstmax":
        return first_decr
    if method == "globalmax":
        return f.index(max(f)) + 1
    if method == "Tibs2001SEmax":
        mp = [f[i] >= f[i + 1] - f_se[i + 1] for i in range(K - 1)]
        return mp.index(True) + 1 if True in mp else K
    nc = first_decr if method == "firstSEmax" else f.index(max(f)) + 1
    mp = [f[i] >= f[nc - 1] - f_se[nc - 1] for i in range(nc - 1)]
    return mp.index(True) + 1 if True in mp else nc


# (name, gap curve for k = 1.., standard error, se_factor, {rule: expected k})
CURVES = [
    # the dip of the issue: the gap falls from k = 1 to 3, then rises to its maximum at 7
    (
        "dip-then-rise",
        [0.40, 0.30, 0.25, 0.45, 0.60, 0.75, 0.90, 0.88],
        0.05,
        1.0,
        {"firstSEmax": 1, "Tibs2001SEmax": 1, "globalSEmax": 7, "firstmax": 1, "globalmax": 7},
    ),
    # a slow rise with a shoulder at 4-5 and the maximum at 7: all five rules differ
    # Tibs: 0.80 >= 0.83 - 0.05 at k = 3; firstSEmax: first local maximum k = 5 (0.86),
    # the first k with gap >= 0.81 is 4; globalSEmax: from k = 7 (0.95), >= 0.90 only at 7
    (
        "shoulder",
        [0.10, 0.50, 0.80, 0.83, 0.86, 0.84, 0.95, 0.70],
        0.05,
        1.0,
        {"firstSEmax": 4, "Tibs2001SEmax": 3, "globalSEmax": 7, "firstmax": 5, "globalmax": 7},
    ),
    # the same with SE.factor = 2: the SE rules reach further left
    (
        "shoulder-2se",
        [0.10, 0.50, 0.80, 0.83, 0.86, 0.84, 0.95, 0.70],
        0.05,
        2.0,
        {"firstSEmax": 3, "Tibs2001SEmax": 3, "globalSEmax": 5, "firstmax": 5, "globalmax": 7},
    ),
    # SE.factor = 0: the SE rules become the plain maxima
    (
        "shoulder-0se",
        [0.10, 0.50, 0.80, 0.83, 0.86, 0.84, 0.95, 0.70],
        0.05,
        0.0,
        {"firstSEmax": 5, "Tibs2001SEmax": 5, "globalSEmax": 7, "firstmax": 5, "globalmax": 7},
    ),
    # rising throughout: every rule ends at the last k
    (
        "rising",
        [0.1, 0.2, 0.3, 0.4],
        0.01,
        1.0,
        {"firstSEmax": 4, "Tibs2001SEmax": 4, "globalSEmax": 4, "firstmax": 4, "globalmax": 4},
    ),
    # rising, but within a large standard error: the SE rules step back
    (
        "rising-wide-se",
        [0.1, 0.2, 0.3, 0.4],
        0.25,
        1.0,
        {"firstSEmax": 2, "Tibs2001SEmax": 1, "globalSEmax": 2, "firstmax": 4, "globalmax": 4},
    ),
    # a tie at the top: which.max takes the first; a flat step counts as a fall (<= 0)
    (
        "tie",
        [0.5, 0.9, 0.9, 0.3],
        0.0,
        1.0,
        {"firstSEmax": 2, "Tibs2001SEmax": 2, "globalSEmax": 2, "firstmax": 2, "globalmax": 2},
    ),
    # one k: every rule chooses it
    ("single", [0.3], 0.1, 1.0, dict.fromkeys(GAP_RULES, 1)),
]


@pytest.mark.parametrize(
    ("name", "gap", "se", "factor", "expected"), CURVES, ids=[c[0] for c in CURVES]
)
def test_each_rule_chooses_the_k_r_chooses(name, gap, se, factor, expected):
    s = np.full(len(gap), se)
    assert set(expected) == set(GAP_RULES)
    for rule, k in expected.items():
        assert r_max_se(gap, s, rule, factor) == k, (rule, "the R transcription")
        assert gap_rule_index(gap, s, rule, factor) + 1 == k, rule


def _reference_with(mean, sd, n_references=4):
    """Reference log W* with row means ``mean`` and population standard deviations ``sd``."""
    signs = np.resize([1.0, -1.0], n_references)
    return np.asarray(mean, float)[:, None] + np.asarray(sd, float)[:, None] * signs


@pytest.mark.parametrize(
    ("name", "gap", "se", "factor", "expected"), CURVES[:-1], ids=[c[0] for c in CURVES[:-1]]
)
def test_gap_statistic_applies_the_rule_on_its_grid(name, gap, se, factor, expected):
    """Through gap_statistic, on an uneven grid: positions map to the grid's k values."""
    grid = np.array([2, 3, 5, 8, 13, 21, 34, 55])[: len(gap)]
    log_w = np.zeros(len(gap))  # exact gaps: ties stay ties
    sd = se / np.sqrt(1 + 1 / 4)  # s_k = sd_k * sqrt(1 + 1/B) with B = 4
    reference = _reference_with(np.asarray(gap) + log_w, np.full(len(gap), sd))
    for rule, k in expected.items():
        result = gap_statistic(grid, log_w, reference, rule=rule, se_factor=factor)
        assert result.k == grid[k - 1], rule
        assert result.details["rule"] == rule and result.details["se_factor"] == factor
        assert f"{rule} rule of R's cluster::maxSE" in result.reason
        assert result.reason.startswith(f"k={grid[k - 1]} ") or result.reason.startswith("no k")
        np.testing.assert_allclose(result.statistic, gap, atol=1e-12)
        np.testing.assert_allclose(result.details["s_k"], se, atol=1e-12)


def test_random_curves_match_the_r_transcription():
    rng = np.random.default_rng(0)
    for _ in range(500):
        n_k = int(rng.integers(1, 11))
        # rounded values make ties and flat steps common
        gap = np.round(rng.normal(size=n_k).cumsum() * 0.3, 1)
        s = np.round(rng.uniform(0, 0.4, size=n_k), 1)
        factor = float(rng.choice([0.0, 0.5, 1.0, 2.0]))
        for rule in GAP_RULES:
            assert gap_rule_index(gap, s, rule, factor) + 1 == r_max_se(gap, s, rule, factor)


def test_reasons_name_the_maximum_the_se_rules_look_back_from():
    k = np.arange(1, 9)
    gap = np.array([0.10, 0.50, 0.80, 0.83, 0.86, 0.84, 0.95, 0.70])
    log_w = np.zeros(8)
    reference = _reference_with(gap, np.full(8, 0.05 / np.sqrt(1.25)))
    first = gap_statistic(k, log_w, reference, rule="firstSEmax")
    assert first.reason.startswith("k=4 is the smallest k with gap(k) >= gap(5) - s(5) = 0.8100")
    assert "k=5 is the first local maximum of the gap (0.8600)" in first.reason
    overall = gap_statistic(k, log_w, reference, rule="globalSEmax", se_factor=2)
    assert overall.reason.startswith("k=5 is the smallest k with gap(k) >= gap(7) - 2·s(7)")
    assert "global maximum of the gap (0.9500)" in overall.reason
    assert gap_statistic(k, log_w, reference, rule="firstmax").reason.startswith(
        "k=5 is the first local maximum of the gap (0.8600)"
    )
    assert gap_statistic(k, log_w, reference, rule="globalmax").reason.startswith(
        "k=7 has the largest gap (0.9500)"
    )


def test_default_rule_of_the_function_is_the_papers():
    k = [1, 2, 3, 4, 5, 6, 7, 8]
    gap = [0.10, 0.50, 0.80, 0.83, 0.86, 0.84, 0.95, 0.70]
    reference = _reference_with(gap, np.full(8, 0.05 / np.sqrt(1.25)))
    result = gap_statistic(k, np.zeros(8), reference)
    assert result.k == 3 and result.details["rule"] == "Tibs2001SEmax"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"rule": "tibs"},
            "The 'rule' argument of {func} must be one of 'firstSEmax', 'Tibs2001SEmax', "
            "'globalSEmax', 'firstmax', 'globalmax'. Got 'tibs' instead.",
        ),
        ({"rule": None}, "The 'rule' argument of {func} must be one of"),
        (
            {"se_factor": -1},
            "The 'se_factor' argument of {func} must be a finite real number >= 0. Got -1 instead.",
        ),
        ({"se_factor": float("nan")}, "'se_factor' argument of {func} must be a finite real"),
        ({"se_factor": True}, "Got True instead."),
        ({"se_factor": "1"}, "Got '1' instead."),
    ],
)
def test_bad_rule_or_factor_is_refused_by_name(kwargs, message):
    k, log_w = [1, 2, 3], np.array([3.0, 2.0, 1.0])
    reference = np.array([[3.2, 3.1], [2.6, 2.5], [1.9, 2.0]])
    with pytest.raises(ValueError, match=None) as info:
        gap_statistic(k, log_w, reference, **kwargs)
    assert message.format(func="gap_statistic") in str(info.value)
    with pytest.raises(ValueError) as info:
        gap_rule_index([0.1, 0.2, 0.3], [0.1, 0.1, 0.1], **kwargs)
    assert message.format(func="gap_rule_index") in str(info.value)


@pytest.mark.parametrize(
    ("gap", "s"),
    [
        ([], []),
        ([0.1, 0.2], [0.1]),
        ([[0.1]], [[0.1]]),
        ([0.1, np.nan], [0.1, 0.1]),
        ([0.1], [-0.1]),
    ],
)
def test_gap_rule_index_refuses_bad_curves(gap, s):
    with pytest.raises(ValueError, match="The 'gap' "):
        gap_rule_index(gap, s)
