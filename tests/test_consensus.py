"""selection="vote" and gap_rule through KSweep; the pure vote function."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from ksweep import KSweep, SelectionResult
from ksweep.consensus import vote
from ksweep.gap import GAP_RULES, gap_statistic


def test_the_most_voted_k_wins_and_the_tally_lists_the_voters():
    result = vote({"a": 3, "b": 5, "c": 3, "d": 5, "e": 3, "f": 7})
    assert result.k == 3
    assert result.method == "vote"
    assert result.candidates.tolist() == [3, 5, 7]
    assert result.statistic.tolist() == [3, 2, 1]
    assert result.details["tally"] == {3: ["a", "c", "e"], 5: ["b", "d"], 7: ["f"]}
    assert result.reason == "k=3 has 3 of 6 votes (a, c, e); k=5: 2 (b, d); k=7: 1 (f)"


def test_a_tie_goes_to_the_k_of_the_first_listed_voter():
    assert vote({"a": 6, "b": 6, "c": 2, "d": 2}).k == 6
    assert vote({"c": 2, "d": 2, "a": 6, "b": 6}).k == 2
    assert vote({"a": 9, "b": 4}).k == 9
    # the first voter's k wins only among the tied: a majority still wins
    assert vote({"a": 9, "b": 4, "c": 4}).k == 4


def test_selection_results_vote_and_no_choice_abstains():
    chosen = SelectionResult(4, "m1", np.array([2, 4]), np.zeros(2), "s", "why")
    none = SelectionResult.no_choice("m2", [2, 4], "flat curve")
    result = vote({"m1": chosen, "m2": none, "m3": None, "m4": np.int64(2)}, candidates=[2, 3, 4])
    assert result.k == 4  # 1 vote each for 4 and 2: m1 is listed first
    assert result.statistic.tolist() == [1, 0, 1]
    assert result.details["votes"] == {"m1": 4, "m2": None, "m3": None, "m4": 2}
    assert result.reason == "k=4 has 1 of 2 votes (m1); k=2: 1 (m4); m2, m3 abstained"


def test_no_votes_chooses_no_k():
    result = vote({"a": None}, candidates=[2, 3])
    assert result.k is None
    assert result.statistic.tolist() == [0, 0]
    assert result.reason == "no votes: every method abstained; a abstained"


@pytest.mark.parametrize(
    ("choices", "candidates", "message"),
    [
        ([3, 4], None, "The 'choices' argument of vote must be a mapping of method name to "),
        ({"a": 2.5}, None, "must map each method name to a SelectionResult, an int or None. "),
        ({"a": True}, None, "Got True for 'a' instead."),
        (
            {"a": 5},
            [2, 3, 4],
            "The 'candidates' argument of vote must include every k voted for. "
            "Got votes for k=[5] outside [2, 3, 4] instead.",
        ),
    ],
)
def test_bad_votes_are_refused(choices, candidates, message):
    with pytest.raises(ValueError) as info:
        vote(choices, candidates=candidates)
    assert message in str(info.value)


@pytest.fixture(scope="module")
def overlapping():
    """Blobs that overlap a little, so that the methods disagree."""
    X, _ = make_blobs(n_samples=400, centers=5, cluster_std=2.2, random_state=3)
    return X


def test_vote_selection_computes_the_criteria_and_counts_every_method(overlapping):
    sweep = KSweep(k_range=range(2, 10), n_init=3, random_state=0, selection="vote")
    sweep.fit(overlapping)
    assert {"silhouette", "calinski_harabasz", "davies_bouldin"} <= set(sweep.results_)
    assert "gap" not in sweep.results_  # B extra sweeps only when scoring names it
    summary = sweep.summary()
    voters = {name: r for name, r in summary.items() if name != "vote"}
    assert list(voters) == [
        "kneedle",
        "two_segment",
        "silhouette",
        "calinski_harabasz",
        "davies_bouldin",
    ]
    chosen = [r.k for r in voters.values()]
    most = max(chosen.count(k) for k in chosen)
    assert sweep.best_k_ == next(k for k in chosen if chosen.count(k) == most)
    assert sweep.elbow_.method == "vote"
    assert sweep.elbow_.statistic.tolist() == [chosen.count(k) for k in range(2, 10)]
    assert summary["vote"].k == sweep.best_k_


def test_vote_counts_the_gap_when_it_is_computed(overlapping):
    sweep = KSweep(k_range=range(1, 9), n_init=2, random_state=0, selection="vote")
    sweep.set_params(scoring="gap", gap_references=3).fit(overlapping)
    assert "gap" in sweep.elbow_.details["votes"]
    assert sum(sweep.elbow_.statistic) == 6


def _gap_of(results, rule, factor):
    """The gap statistic of a sweep's results, by the pure function."""
    log_w, reference = np.log(results["inertia"]), results["gap_reference_log_inertia"]
    return gap_statistic(results["k"], log_w, reference, rule=rule, se_factor=factor)


@pytest.fixture(scope="module")
def gap_sweep(overlapping):
    sweep = KSweep(k_range=range(1, 9), n_init=2, random_state=0, scoring="gap")
    return sweep.set_params(gap_references=4).fit(overlapping)


@pytest.mark.parametrize("rule", GAP_RULES)
@pytest.mark.parametrize("factor", [0.0, 1.0, 2.5])
def test_gap_rule_and_se_factor_reach_the_gap_statistic(gap_sweep, rule, factor):
    results = gap_sweep.results_
    expected = _gap_of(results, rule, factor)
    sweep = gap_sweep.set_params(gap_rule=rule, gap_se_factor=factor)
    assert sweep.summary()["gap"].k == expected.k
    assert sweep.summary()["gap"].details["rule"] == rule
    assert sweep.summary()["gap"].details["se_factor"] == factor


@pytest.mark.parametrize(("rule", "factor"), [("globalSEmax", 2.5), ("firstmax", 1.0)])
def test_selection_gap_chooses_with_the_sweeps_rule(overlapping, rule, factor):
    sweep = KSweep(k_range=range(1, 9), n_init=2, random_state=0, selection="gap")
    sweep.set_params(gap_references=4, gap_rule=rule, gap_se_factor=factor).fit(overlapping)
    results = sweep.results_
    expected = _gap_of(results, rule, factor)
    assert sweep.best_k_ == expected.k
    assert sweep.elbow_.details["rule"] == rule
    assert sweep.elbow_.reason == expected.reason


def test_the_default_gap_rule_is_the_papers():
    assert KSweep().gap_rule == "Tibs2001SEmax" and KSweep().gap_se_factor == 1.0
