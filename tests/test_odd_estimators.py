"""Estimators whose score is not a within-cluster sum, precomputed inputs, parameters the
fused and dask engines must validate, NaN scores, and refusals that change nothing."""

import time
import warnings

import dask.array as da
import kmedoids
import numpy as np
import pytest
from sklearn.cluster import AgglomerativeClustering, KMeans, SpectralClustering
from sklearn.datasets import make_blobs
from sklearn.metrics import pairwise_distances
from sklearn.utils._param_validation import InvalidParameterError as SklearnInvalidParameter

from ksweep import InvalidParameterError, KSweep
from ksweep._families import within_cluster_sum_of_squares, within_sum_from_distances
from ksweep.exceptions import NaNScoreWarning, NonMonotonicWarning

pytestmark = pytest.mark.filterwarnings("ignore::ksweep.NoElbowWarning")


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(n_samples=160, centers=4, cluster_std=0.6, random_state=0)
    return X


@pytest.fixture(scope="module")
def distances(blobs):
    return pairwise_distances(blobs)


@pytest.fixture(scope="module")
def small_distances():
    X, _ = make_blobs(n_samples=60, centers=4, cluster_std=0.5, random_state=0)
    return pairwise_distances(X)


# -- 1. what a family's score means ------------------------------------------------------


@pytest.mark.parametrize("method", ["fastmsc", "fastermsc", "pamsil", "pammedsil"])
def test_medoid_silhouette_methods_keep_the_highest_silhouette_and_find_4(small_distances, method):
    distances = small_distances
    sweep = KSweep(
        kmedoids.KMedoids(2, method=method), k_range=range(2, 8), n_init=3, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", NonMonotonicWarning)
        sweep.fit(distances)
    results = sweep.results_
    assert sweep.best_k_ == 4
    assert results.objective == "neg_medoid_silhouette"
    per_restart = -results["restart_neg_medoid_silhouette"]
    np.testing.assert_array_equal(results["medoid_silhouette"], per_restart.max(axis=1))
    np.testing.assert_array_equal(results["raw_inertia"], results["medoid_silhouette"])
    # inertia is the sum of distances to the medoids of the best restart's model
    model = sweep.estimators_[4]
    own = distances[np.arange(60), model.medoid_indices_[model.labels_]].sum()
    assert results["inertia"][results["k"] == 4][0] == pytest.approx(own)
    assert np.argmax(results["medoid_silhouette"]) == 2  # k = 4 also by the silhouette


def test_dynmsc_is_refused_because_its_k_is_a_maximum(distances):
    with pytest.raises(
        InvalidParameterError, match=r"method='dynmsc'\) treats n_clusters as a maximum"
    ):
        KSweep(kmedoids.KMedoids(2, method="dynmsc"), k_range=range(2, 6)).fit(distances)


# -- 2. the fused and dask engines validate as the estimator's fit would -----------------

BAD_KMEANS = [
    (KMeans(max_iter=0), "'max_iter' parameter of KMeans"),
    (KMeans(max_iter=-5), "'max_iter' parameter of KMeans"),
    (KMeans(tol=-1), "'tol' parameter of KMeans"),
    (KMeans(algorithm="bogus"), "'algorithm' parameter of KMeans"),
]


@pytest.mark.parametrize(("estimator", "message"), BAD_KMEANS)
@pytest.mark.parametrize("engine", ["fused", "auto"])
def test_fused_engine_runs_kmeans_parameter_validation(blobs, estimator, message, engine):
    with pytest.raises(SklearnInvalidParameter, match=message):
        KSweep(estimator, k_range=range(2, 5), n_init=1, engine=engine).fit(blobs)


@pytest.mark.parametrize(("estimator", "message"), BAD_KMEANS)
def test_independent_engine_reports_the_same_error(blobs, estimator, message):
    with pytest.raises(Exception) as caught:
        KSweep(estimator, k_range=range(2, 5), n_init=1, engine="independent").fit(blobs)
    assert isinstance(caught.value.__cause__, SklearnInvalidParameter)
    assert message in str(caught.value.__cause__)


@pytest.mark.parametrize(("estimator", "message"), BAD_KMEANS)
def test_dask_array_path_runs_kmeans_parameter_validation(blobs, estimator, message):
    with pytest.raises(SklearnInvalidParameter, match=message):
        KSweep(estimator, k_range=range(2, 5), n_init=1).fit(da.from_array(blobs, chunks=40))


# -- 3. precomputed inputs -----------------------------------------------------------------


def test_kmedoids_default_precomputed_refuses_features(blobs):
    with pytest.raises(ValueError, match=r"metric='precomputed'.*square matrix.*\(160, 2\)"):
        KSweep(kmedoids.KMedoids(2), k_range=range(2, 5)).fit(blobs)


def test_precomputed_refuses_a_nonzero_diagonal_and_negative_values(distances):
    features = np.random.default_rng(0).normal(size=(40, 40))
    with pytest.raises(ValueError, match=r"metric='precomputed'.*non-negative.*negative entries"):
        KSweep(kmedoids.KMedoids(2), k_range=range(2, 5)).fit(features)
    with pytest.raises(ValueError, match=r"zero diagonal.*40 nonzero diagonal entries"):
        KSweep(kmedoids.KMedoids(2), k_range=range(2, 5)).fit(np.abs(features))
    with_nan = distances.copy()
    with_nan[3, 4] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        KSweep(kmedoids.KMedoids(2), k_range=range(2, 5)).fit(with_nan)


def test_an_asymmetric_distance_matrix_is_warned_about(distances):
    skewed = distances.copy()
    skewed[0, 1] += 1.0
    with pytest.warns(UserWarning, match=r"not symmetric \(largest \|X - X.T\| = 1\)"):
        KSweep(kmedoids.KMedoids(2), k_range=range(2, 5), n_init=1, random_state=0).fit(skewed)


def test_precomputed_affinity_is_checked_and_needs_a_score_func():
    with pytest.raises(InvalidParameterError, match=r"'score_func'.*affinity='precomputed'"):
        KSweep(SpectralClustering(affinity="precomputed"), k_range=range(2, 5)).fit(np.eye(20))
    with pytest.raises(ValueError, match=r"affinity='precomputed'.*square matrix"):
        KSweep(
            SpectralClustering(affinity="precomputed"),
            k_range=range(2, 5),
            score_func=lambda m, X: 0.0,
        ).fit(np.ones((20, 3)))


@pytest.mark.parametrize("selection", ["calinski_harabasz", "davies_bouldin", "gap"])
def test_feature_criteria_are_refused_for_precomputed(distances, selection):
    estimator = AgglomerativeClustering(metric="precomputed", linkage="average")
    with pytest.raises(
        InvalidParameterError,
        match=r"'scoring' parameter.*empty or \('silhouette',\) for precomputed distances",
    ):
        KSweep(estimator, k_range=range(2, 5), selection=selection).fit(distances)
    with pytest.raises(InvalidParameterError, match=r"Got \('calinski_harabasz',\) instead"):
        KSweep(estimator, k_range=range(2, 5), scoring=("calinski_harabasz",)).fit(distances)


def test_precomputed_inertia_is_the_within_sum_of_the_features(blobs, distances):
    estimator = AgglomerativeClustering(metric="precomputed", linkage="average")
    sweep = KSweep(estimator, k_range=range(2, 8), n_init=1).fit(distances)
    for k, inertia in zip(sweep.results_["k"], sweep.results_["inertia"], strict=True):
        labels = sweep.estimators_[int(k)].labels_
        assert inertia == pytest.approx(within_cluster_sum_of_squares(blobs, labels))
    assert sweep.best_k_ == 4
    assert within_sum_from_distances(distances, np.zeros(160)) == pytest.approx(
        within_cluster_sum_of_squares(blobs, np.zeros(160))
    )


# -- 4. NaN scores ---------------------------------------------------------------------------


def nan_at_5(model, X):
    return float("nan") if model.n_clusters == 5 else float(model.inertia_)


def test_a_nan_score_excludes_its_k_by_name_and_keeps_the_curve(blobs):
    sweep = KSweep(k_range=range(2, 10), n_init=2, random_state=0, score_func=nan_at_5)
    with pytest.warns(NaNScoreWarning, match=r"NaN or infinite at k=5;"):
        sweep.fit(blobs)
    assert sweep.best_k_ == 4
    assert np.isnan(sweep.results_["inertia"][3])
    assert 5 not in sweep.elbow_.candidates.tolist()


# -- 6. refusals change nothing; criteria checked before fitting -----------------------------


def test_a_refused_extend_leaves_the_sweep_as_it_was(blobs):
    sweep = KSweep(k_range=range(2, 6), n_init=1, random_state=0).fit(blobs)
    results = sweep.results_
    with pytest.raises(InvalidParameterError, match="'k_range' parameter of extend"):
        sweep.extend(blobs, k_range=[500])
    with pytest.raises(InvalidParameterError, match="'n_init' parameter"):
        sweep.extend(blobs, k_range=[6, 7], n_init=0)
    assert sweep.k_range == range(2, 6) and sweep.n_init == 1
    assert sweep.results_ is results


def test_a_too_small_silhouette_sample_is_refused_before_any_fit(blobs, monkeypatch):
    import ksweep._local

    monkeypatch.setattr(ksweep._local.LocalRunner, "execute", pytest.fail)
    with pytest.raises(InvalidParameterError, match=r"'silhouette_sample'.*>= 16"):
        KSweep(k_range=range(2, 9), scoring="silhouette", silhouette_sample=10).fit(blobs)


# -- 7. a huge k range fails fast --------------------------------------------------------------


@pytest.mark.parametrize("stop", [10**7, 10**9, 10**18])
def test_a_huge_range_is_refused_without_being_expanded(blobs, stop):
    start = time.perf_counter()
    with pytest.raises(InvalidParameterError, match="'k_range' parameter of KSweep"):
        KSweep(k_range=range(2, stop)).fit(blobs)
    assert time.perf_counter() - start < 5  # not a benchmark: 10**9 values would not fit in memory


def test_a_range_beyond_n_samples_names_n_samples(blobs):
    with pytest.raises(InvalidParameterError, match=r"<= n_samples=160"):
        KSweep(k_range=range(2, 1000)).fit(blobs)
