"""Estimator families: tslearn, k-medoids, mixtures, custom scores, and one inertia scale."""

import numpy as np
import pytest
from kmedoids import KMedoids as FasterPAM
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import BisectingKMeans, KMeans, MiniBatchKMeans
from sklearn.metrics import pairwise_distances
from sklearn.mixture import GaussianMixture
from sklearn_extra.cluster import KMedoids as ExtraKMedoids
from tslearn.clustering import TimeSeriesKMeans
from tslearn.datasets import CachedDatasets
from tslearn.metrics import cdist_dtw

import ksweep.distances
from ksweep import KSweep, SweepTaskError
from ksweep.distances import dtw_distance_matrix
from ksweep.exceptions import NonMonotonicWarning

pytestmark = [
    pytest.mark.filterwarnings("ignore::ksweep.NoElbowWarning"),
    pytest.mark.filterwarnings("ignore::ksweep.exceptions.NonMonotonicWarning"),
]


@pytest.fixture(scope="module")
def trace():
    """40 series of tslearn's cached Trace dataset, every 5th time step: (40, 55, 1)."""
    X, y, _, _ = CachedDatasets().load_dataset("Trace")
    return X[:40, ::5, :].copy(), y[:40]


@pytest.fixture(scope="module")
def trace_distances(trace):
    return pairwise_distances(trace[0][:, :, 0])


def assert_same_results(a, b):
    for name, column in a.results_.items():
        if "fit_time" not in name:
            np.testing.assert_array_equal(b.results_[name], column, err_msg=name)
    assert a.best_k_ == b.best_k_


# -- the executor contract for every family ----------------------------------------------

FAMILIES = {
    "tslearn-euclidean": (lambda: TimeSeriesKMeans(metric="euclidean", max_iter=10), "series"),
    "tslearn-dtw": (lambda: TimeSeriesKMeans(metric="dtw", max_iter=3), "series"),
    "tslearn-softdtw": (
        lambda: TimeSeriesKMeans(metric="softdtw", max_iter=2, metric_params={"gamma": 0.5}),
        "short-series",
    ),
    "kmedoids-fasterpam": (lambda: FasterPAM(2, metric="precomputed"), "distances"),
    "sklearn-extra-kmedoids": (
        lambda: ExtraKMedoids(metric="precomputed", method="pam"),
        "distances",
    ),
    "minibatch-kmeans": (lambda: MiniBatchKMeans(batch_size=64), "flat"),
    "bisecting-kmeans": (lambda: BisectingKMeans(), "flat"),
    "gaussian-mixture": (lambda: GaussianMixture(), "flat"),
}


def _input(kind, trace, trace_distances):
    X = trace[0]
    return {
        "series": X,
        "short-series": X[:16, ::2, :],
        "distances": trace_distances,
        "flat": X[:, :, 0],
    }[kind]


@pytest.mark.parametrize("name", list(FAMILIES))
def test_family_gives_identical_results_on_serial_and_processes(name, trace, trace_distances):
    make, kind = FAMILIES[name]
    X = _input(kind, trace, trace_distances)
    params = {"k_range": range(2, 6), "n_init": 2, "random_state": 3}
    serial = KSweep(make(), **params).fit(X)
    processes = KSweep(make(), **params, executor="processes", n_jobs=2).fit(X)
    assert_same_results(serial, processes)
    assert type(serial.best_estimator_) is type(make())
    assert np.isfinite(serial.results_["inertia"]).all()


# -- one inertia scale -------------------------------------------------------------------


def test_tslearn_inertia_is_a_sum_like_scikit_learns(trace):
    X = trace[0]
    sweep = KSweep(TimeSeriesKMeans(metric="euclidean", max_iter=50), k_range=range(2, 7), n_init=3)
    sweep.set_params(random_state=0).fit(X)
    results = sweep.results_
    np.testing.assert_allclose(results["inertia"], results["raw_inertia"] * X.shape[0])
    flat = X.reshape(X.shape[0], -1)
    for i, k in enumerate(results["k"]):
        model = sweep.estimators_[k]
        centers = model.cluster_centers_.reshape(k, -1)
        by_hand = ((flat - centers[model.labels_]) ** 2).sum()
        assert results["inertia"][i] == pytest.approx(by_hand, rel=1e-6)
    # and it agrees with a scikit-learn k-means sweep of the flattened data
    kmeans = KSweep(KMeans(), k_range=range(2, 7), n_init=3, random_state=0).fit(flat)
    np.testing.assert_allclose(results["inertia"], kmeans.results_["inertia"], rtol=0.05)


@pytest.mark.parametrize(
    "make",
    [lambda: FasterPAM(2, metric="precomputed"), lambda: ExtraKMedoids(metric="precomputed")],
)
def test_kmedoids_inertia_is_the_sum_of_distances_to_medoids(make, trace_distances):
    D = trace_distances
    sweep = KSweep(make(), k_range=range(2, 7), n_init=2, random_state=0).fit(D)
    for i, k in enumerate(sweep.results_["k"]):
        model = sweep.estimators_[k]
        medoids = np.asarray(model.medoid_indices_)
        by_hand = D[np.arange(D.shape[0]), medoids[model.labels_]].sum()
        assert sweep.results_["inertia"][i] == pytest.approx(by_hand, rel=1e-9)


def test_mixture_records_bic_and_likelihood_and_ranks_restarts_by_likelihood(trace):
    X = trace[0][:, :, 0]
    sweep = KSweep(GaussianMixture(covariance_type="diag"), k_range=range(1, 6), n_init=3)
    sweep.set_params(random_state=0).fit(X)
    results = sweep.results_
    assert results.objective == "neg_log_likelihood"
    np.testing.assert_array_equal(
        results["best_restart"], results["restart_neg_log_likelihood"].argmin(axis=1)
    )
    for i, k in enumerate(results["k"]):
        model = sweep.estimators_[k]
        assert results["bic"][i] == pytest.approx(model.bic(X))
        assert results["neg_log_likelihood"][i] == pytest.approx(-model.score(X) * X.shape[0])


def test_inertia_definition_is_stated(trace, trace_distances):
    ts = KSweep(TimeSeriesKMeans(), k_range=[2, 3, 4], n_init=1).fit(trace[0])
    assert "× n_samples" in ts.results_.inertia_definition
    km = KSweep(FasterPAM(2, metric="precomputed"), k_range=[2, 3, 4], n_init=1)
    assert "not squared" in km.fit(trace_distances).results_.inertia_definition


# -- time series input -------------------------------------------------------------------


def test_two_dimensional_series_equal_one_dimension_3d(trace):
    X = trace[0]
    params = {"k_range": range(2, 5), "n_init": 2, "random_state": 0}
    three_d = KSweep(TimeSeriesKMeans(max_iter=5), **params).fit(X)
    two_d = KSweep(TimeSeriesKMeans(max_iter=5), **params).fit(X[:, :, 0])
    assert_same_results(three_d, two_d)
    assert three_d.n_features_in_ == 1
    np.testing.assert_array_equal(two_d.predict(X[:5, :, 0]), three_d.predict(X[:5]))


def test_variable_length_series_with_dtw(trace):
    X = trace[0]
    rng = np.random.default_rng(0)
    series = [x[: rng.integers(40, 56)] for x in X]
    sweep = KSweep(TimeSeriesKMeans(metric="dtw", max_iter=3), k_range=range(2, 5), n_init=1)
    sweep.set_params(random_state=0).fit(series)
    assert sweep.labels_.shape == (40,)
    np.testing.assert_array_equal(sweep.predict(series[:6]), sweep.labels_[:6])


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda X: X.__setitem__((3, 10, 0), np.nan), "Input X contains NaN inside series 3"),
        (lambda X: X.__setitem__((2, slice(None), 0), np.nan), "an empty series (all NaN)"),
        (lambda X: X.__setitem__((1, 4, 0), np.inf), "Input X contains infinity"),
    ],
)
def test_bad_time_series_are_refused(trace, mutate, message):
    X = trace[0].copy()
    mutate(X)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        KSweep(TimeSeriesKMeans(), k_range=[2, 3, 4], n_init=1).fit(X)


def test_partial_nan_in_a_time_step_is_refused(trace):
    X = np.concatenate([trace[0], trace[0]], axis=2)
    X[5, 7, 1] = np.nan
    with pytest.raises(ValueError, match="NaN in some but not all dimensions"):
        KSweep(TimeSeriesKMeans(), k_range=[2, 3, 4], n_init=1).fit(X)


def test_predict_with_other_number_of_dimensions_is_refused(trace):
    sweep = KSweep(TimeSeriesKMeans(), k_range=[2, 3, 4], n_init=1).fit(trace[0])
    X2 = np.concatenate([trace[0], trace[0]], axis=2)
    with pytest.raises(ValueError, match="X has 2 features, but KSweep is expecting 1 features"):
        sweep.predict(X2)


def test_series_to_a_tabular_estimator_are_refused(trace):
    with pytest.raises(ValueError, match="Found array with dim 3"):
        KSweep(KMeans(), k_range=[2, 3, 4], n_init=1).fit(trace[0])


# -- precomputed DTW, computed once ------------------------------------------------------


def test_dtw_matrix_is_computed_once_and_reused_by_every_task(trace, monkeypatch):
    X = trace[0]
    calls = []

    def counting_cdist_dtw(a, b=None, **kwargs):
        calls.append((a.shape[0], b.shape[0]))
        return cdist_dtw(a, b, **kwargs)

    monkeypatch.setattr("tslearn.metrics.cdist_dtw", counting_cdist_dtw)
    D = dtw_distance_matrix(X, block_size=16)
    # three blocks of rows, each against itself and the later series: every pair once
    assert calls == [(16, 40), (16, 24), (8, 8)]
    np.testing.assert_allclose(D, cdist_dtw(X), rtol=1e-12)
    calls.clear()
    sweep = KSweep(FasterPAM(2, metric="precomputed"), k_range=range(2, 8), n_init=3)
    sweep.set_params(random_state=0).fit(D)
    assert calls == []  # the 18 tasks read D; none recomputes a distance
    assert sweep.results_["restart_inertia"].shape == (6, 3)


def test_dtw_matrix_through_processes_equals_serial(trace):
    X = trace[0]
    serial = dtw_distance_matrix(X, block_size=10)
    parallel = dtw_distance_matrix(X, block_size=10, executor="processes", n_jobs=2)
    np.testing.assert_array_equal(parallel, serial)
    assert ksweep.distances.__all__ == ["dtw_distance_matrix", "dtw_to_medoids"]


def test_dtw_matrix_bad_block_size(trace):
    with pytest.raises(ValueError, match="The 'block_size' parameter of dtw_distance_matrix"):
        dtw_distance_matrix(trace[0], block_size=0)


# -- scores and monotonicity -------------------------------------------------------------


class Unscorable(ClusterMixin, BaseEstimator):
    """Has a cluster count and fits, but exposes no inertia, labels or predict."""

    def __init__(self, n_clusters=2):
        self.n_clusters = n_clusters

    def fit(self, X, y=None):
        self.fitted_ = True
        return self


def test_estimator_without_a_score_says_how_to_supply_one(trace):
    X = trace[0][:, :, 0]
    with pytest.raises(SweepTaskError, match=r"Pass KSweep\(score_func=\.\.\.\)") as info:
        KSweep(Unscorable(), k_range=[2, 3, 4], n_init=1).fit(X)
    assert "no 'inertia_', no 'labels_' and no 'predict'" in str(info.value.__cause__)


def test_score_func_scores_every_fit(trace):
    X = trace[0][:, :, 0]
    sweep = KSweep(
        Unscorable(),
        k_range=[2, 3, 4, 5],
        n_init=1,
        score_func=lambda model, data: 100.0 / model.n_clusters + data.shape[0],
    ).fit(X)
    np.testing.assert_allclose(sweep.results_["inertia"], [90.0, 40 + 100 / 3, 65.0, 60.0])


def test_non_monotonic_inertia_is_flagged_and_warned(trace):
    X = trace[0][:, :, 0]
    scores = {2: 10.0, 3: 5.0, 4: 6.0, 5: 1.0, 6: 2.0}
    sweep = KSweep(
        KMeans(), k_range=range(2, 7), n_init=2, score_func=lambda m, _: scores[m.n_clusters]
    )
    with pytest.warns(NonMonotonicWarning, match=r"rises with k at k=3->4, 5->6 .*Raise n_init"):
        sweep.set_params(random_state=0).fit(X)
    assert sweep.results_["non_monotonic"].tolist() == [False, False, True, False, True]
    assert "!" in sweep.results_.to_text().splitlines()[3]
