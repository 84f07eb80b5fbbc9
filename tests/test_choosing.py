"""Choosing k with evidence through KSweep: criteria columns, gap, summary, plot."""

import matplotlib
import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score
from sklearn.mixture import GaussianMixture
from tslearn.clustering import TimeSeriesKMeans

from ksweep import KSweep
from ksweep._fused import fused_lloyd
from ksweep.criteria import gap_statistic, reference_datasets

matplotlib.use("Agg")
import matplotlib.pyplot as plt

pytestmark = pytest.mark.filterwarnings("ignore::ksweep.NoElbowWarning")


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(n_samples=300, centers=4, cluster_std=0.7, random_state=7)
    return X


@pytest.fixture(scope="module")
def scored(blobs):
    sweep = KSweep(
        k_range=range(1, 9),
        n_init=3,
        random_state=0,
        scoring=("silhouette", "calinski_harabasz", "davies_bouldin", "gap"),
        gap_references=5,
    )
    return sweep.fit(blobs)


def test_criteria_columns_equal_scikit_learn_on_the_best_model_per_k(blobs, scored):
    results = scored.results_
    assert np.isnan(results["silhouette"][0]) and np.isnan(results["davies_bouldin"][0])
    for i, k in enumerate(results["k"][1:], start=1):
        labels = scored.estimators_[k].labels_
        assert results["silhouette"][i] == pytest.approx(silhouette_score(blobs, labels))
        assert results["calinski_harabasz"][i] == pytest.approx(
            calinski_harabasz_score(blobs, labels)
        )
        assert results["davies_bouldin"][i] == pytest.approx(davies_bouldin_score(blobs, labels))
    assert results["silhouette_n_samples"][1:].tolist() == [300] * 7  # exact below the sample


def test_gap_columns_follow_the_statistic_from_seeded_reference_fits(blobs, scored):
    results = scored.results_
    reference = results["gap_reference_log_inertia"]
    assert reference.shape == (8, 5)
    expected = gap_statistic(results["k"], np.log(results["inertia"]), reference)
    np.testing.assert_allclose(results["gap"], expected.statistic)
    np.testing.assert_allclose(results["gap_s"], expected.details["s_k"])
    # the references are fitted like the data: best of n_init runs per (k, b), on the fused
    # engine (the default for KMeans) each restart seeded from its nested sequence on b
    assert results.engine == "fused"
    refs = reference_datasets(blobs, 5, random_state=np.random.SeedSequence(0, spawn_key=(0,)))
    k, b = 3, 2
    seeds = [
        int(np.random.SeedSequence(0, spawn_key=(0, 2**32 - 1, r, b + 1)).generate_state(1)[0])
        for r in range(3)
    ]
    direct = min(
        fused_lloyd(refs[b], [k], [s], max_iter=300, tol=1e-4, chains=[s])[0].inertia for s in seeds
    )
    assert reference[k - 1, b] == pytest.approx(np.log(direct))


@pytest.mark.parametrize(
    "selection", ["silhouette", "calinski_harabasz", "davies_bouldin", "gap", "kneedle"]
)
def test_every_selection_picks_the_four_blobs(blobs, selection):
    sweep = KSweep(k_range=range(1, 9), n_init=3, random_state=0, selection=selection)
    sweep.set_params(gap_references=5).fit(blobs)
    assert sweep.best_k_ == 4
    assert sweep.elbow_.method == selection
    if selection != "kneedle":  # selection computes the criterion it needs
        assert selection in sweep.results_


def test_summary_shows_every_method_side_by_side(scored):
    summary = scored.summary()
    assert list(summary) == [
        "auto",  # the default selection (its no-structure test found structure); no vote
        "kneedle",
        "two_segment",
        "silhouette",
        "calinski_harabasz",
        "davies_bouldin",
        "gap",
        "vote",
    ]
    assert summary["silhouette"].k == int(np.nanargmax(scored.results_["silhouette"])) + 1
    assert summary.chosen()["gap"] == 4
    table = str(summary).splitlines()
    assert table[0].split() == ["method", "k", "reason"]
    assert len(table) == 10 and all(line.split()[1] == "4" for line in table[1:9])
    assert table[9].startswith("All ") and table[9].endswith("methods that chose a k agree: k=4.")
    # the vote row shows the tally: all six methods chose 4
    assert summary["vote"].reason == (
        "k=4 has 6 of 6 votes (kneedle, two_segment, silhouette, calinski_harabasz, "
        "davies_bouldin, gap)"
    )
    assert summary["vote"].statistic.tolist() == [0, 0, 0, 6, 0, 0, 0, 0]


def test_summary_of_a_mixture_includes_bic(blobs):
    sweep = KSweep(GaussianMixture(), k_range=range(1, 8), n_init=2, random_state=0)
    sweep.set_params(selection="bic").fit(blobs)
    assert sweep.best_k_ == int(sweep.results_["k"][np.argmin(sweep.results_["bic"])]) == 4
    assert "bic" in sweep.summary()


def test_bic_selection_without_a_mixture_warns_and_falls_back(blobs):
    sweep = KSweep(k_range=range(2, 6), n_init=1, random_state=0, selection="bic")
    with pytest.warns(UserWarning, match=r"needs results_\['bic'\]: it is recorded for mixture"):
        sweep.fit(blobs)
    assert sweep.best_k_ == 5


def test_large_n_silhouette_is_sampled_and_reports_the_sample_size():
    X, _ = make_blobs(n_samples=3000, centers=3, random_state=0)
    sweep = KSweep(k_range=range(2, 6), n_init=1, random_state=0, scoring="silhouette")
    sweep.set_params(silhouette_sample=500).fit(X)
    assert sweep.results_["silhouette_n_samples"].tolist() == [500] * 4
    exact = silhouette_score(X, sweep.estimators_[3].labels_)
    assert abs(sweep.results_["silhouette"][1] - exact) < 0.03


def test_criteria_are_refused_for_time_series():
    with pytest.raises(
        ValueError, match="The 'scoring' parameter of KSweep must be empty for time"
    ):
        KSweep(TimeSeriesKMeans(), k_range=[2, 3, 4], scoring="silhouette").fit(np.zeros((9, 5)))


def test_to_frame_expands_the_gap_reference_matrix(scored):
    frame = scored.results_.to_frame(wide=True)
    assert {"silhouette", "gap", "gap_s", "gap_reference_log_inertia_4"} <= set(frame.columns)
    assert frame.shape[0] == 8
    narrow = scored.results_.to_frame()
    assert {"silhouette", "calinski_harabasz", "davies_bouldin", "gap", "gap_s"} <= set(narrow)
    assert not any(name.startswith("gap_reference") for name in narrow)
    assert scored.results_.to_text().splitlines()[0].split() == list(narrow.columns)


def test_plot_draws_the_elbow_and_one_panel_per_criterion(scored, tmp_path):
    fig = scored.plot()
    main = fig.axes[0]
    np.testing.assert_array_equal(main.lines[0].get_xdata(), scored.results_["k"])
    chosen = [line for line in main.lines if list(line.get_xdata()) == [4, 4]]
    assert chosen, "the chosen k is marked with a vertical line"
    titles = " ".join(ax.get_ylabel() + ax.get_title() for ax in fig.axes)
    for name in ("silhouette", "calinski_harabasz", "davies_bouldin", "gap"):
        assert name in titles
    fig.savefig(tmp_path / "sweep.png")
    assert (tmp_path / "sweep.png").stat().st_size > 10_000
    plt.close(fig)


def test_plot_on_given_axes_draws_only_the_elbow(scored):
    fig, ax = plt.subplots()
    returned = scored.plot(ax=ax)
    assert returned is ax and len(fig.axes) == 1
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), scored.results_["inertia"])
    plt.close(fig)
