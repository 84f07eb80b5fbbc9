"""The default selection ("auto": kneedle unless no structure), the repair of suspicious k
(``n_init_max``) and the stability of the chosen k (``stability``), through KSweep."""

from __future__ import annotations

import warnings

import dask.array as da
import numpy as np
import pytest
from poor_start import POOR_SIX, seed_k6_restart0_poorly, six_blobs
from sklearn.cluster import KMeans, kmeans_plusplus
from sklearn.datasets import make_blobs

from ksweep import KSweep, NoStructureWarning
from ksweep._seeding import seed_of, task_key
from ksweep.convergence import suspicious_k
from ksweep.exceptions import NonMonotonicWarning, UnderConvergedWarning


@pytest.fixture(scope="module")
def noise():
    return np.random.default_rng(1).normal(size=(1500, 5))


# -- no structure ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["gaussian", "uniform"])
@pytest.mark.parametrize("as_dask", [False, True])
def test_the_default_answers_k1_on_noise_in_memory_and_as_a_dask_array(kind, as_dask):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(1200, 6)) if kind == "gaussian" else rng.uniform(size=(1200, 6))
    data = da.from_array(X, chunks=400) if as_dask else X
    with warnings.catch_warnings():
        warnings.simplefilter("error", NoStructureWarning)
        sweep = KSweep(k_range=range(1, 8), n_init=2, random_state=0).fit(data)
    assert sweep.best_k_ == 1
    assert sweep.structure_.no_structure
    assert sweep.elbow_.reason.startswith("k=1: no structure: gap(1) = ")
    assert sweep.summary()["auto"].k == 1
    # kneedle alone reports a k > 1 on the same sweep: the test is what says "none"
    assert sweep.summary()["kneedle"].k != 1


@pytest.mark.parametrize("as_dask", [False, True])
def test_without_k1_the_default_warns_on_noise_and_keeps_the_elbow(noise, as_dask):
    data = da.from_array(noise, chunks=500) if as_dask else noise
    sweep = KSweep(k_range=range(2, 9), n_init=2, random_state=0)
    with pytest.warns(NoStructureWarning, match=r"no cluster structure .* k=1 is not in k_range"):
        sweep.fit(data)
    assert sweep.structure_.no_structure
    assert sweep.best_k_ == sweep.summary()["kneedle"].k or sweep.elbow_.k is None


def test_the_default_keeps_kneedle_where_there_is_structure():
    X = six_blobs()
    with warnings.catch_warnings():
        warnings.simplefilter("error", NoStructureWarning)
        sweep = KSweep(k_range=range(1, 10), n_init=3, random_state=0).fit(X)
    assert sweep.best_k_ == 6 and not sweep.structure_.no_structure
    assert sweep.elbow_.method == "auto"
    assert sweep.elbow_.reason.startswith("structure: gap(2) - s_2 = ")
    assert sweep.elbow_.k == sweep.summary()["kneedle"].k == 6


def test_the_no_structure_test_does_not_depend_on_the_engine(noise):
    fused = KSweep(k_range=range(1, 6), n_init=1, random_state=3).fit(noise)
    independent = KSweep(k_range=range(1, 6), n_init=1, random_state=3, engine="independent")
    independent.fit(noise)
    np.testing.assert_array_equal(fused.structure_.gap, independent.structure_.gap)


def test_the_stream_tests_its_held_back_rows(noise):
    sweep = KSweep(k_range=range(1, 7), n_init=1, random_state=0)
    for batch in np.array_split(noise, 5):
        sweep.partial_fit(batch)
    assert sweep.best_k_ == 1 and sweep.structure_.no_structure
    X = six_blobs(n_per=200)
    sweep = KSweep(k_range=range(1, 9), n_init=1, random_state=0)
    for batch in np.array_split(np.random.default_rng(0).permutation(X), 5):
        sweep.partial_fit(batch)
    assert not sweep.structure_.no_structure


# -- the repair of suspicious k ----------------------------------------------------------


def _init_with_one_poor_start(always=False):
    """A KMeans ``init`` whose first call for k=6 (every call with ``always``) starts in a
    poor optimum (two centers in blob 0, one between blobs 4 and 5); others k-means++."""
    calls = []

    def init(X, n_clusters, random_state):
        calls.append(n_clusters)
        if n_clusters == 6 and (always or calls.count(6) == 1):
            return POOR_SIX.copy()  # scikit-learn's Lloyd writes in the centers it starts from
        return kmeans_plusplus(X, n_clusters, random_state=random_state)[0]

    return init


def _poor_sweep(always=False, **params):
    estimator = KMeans(init=_init_with_one_poor_start(always), n_init=1)
    return KSweep(
        estimator, k_range=range(1, 10), n_init=1, executor="serial", random_state=0, **params
    )


def test_by_default_a_k_seeded_into_a_poor_optimum_is_repaired_by_more_restarts():
    X = six_blobs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the poor k=6 makes the curve rise: warned
        stuck = _poor_sweep(n_init_max=None).fit(X)
    with warnings.catch_warnings():  # repaired: no rise, nothing left suspicious
        warnings.simplefilter("error", UnderConvergedWarning)
        warnings.simplefilter("error", NonMonotonicWarning)
        repaired = _poor_sweep().fit(X)  # n_init_max="auto": max(2 * 1, 4) restarts
    i = 5  # k = 6
    results = repaired.results_
    assert stuck.results_["inertia"][i] > 2 * results["inertia"][i]
    assert stuck.best_k_ != 6 and repaired.best_k_ == 6
    assert results["n_restarts_run"].tolist() == [1, 1, 1, 1, 1, 4, 1, 1, 1]
    assert results["restarts_reason"][i].startswith("k=6: its inertia ")
    assert set(results["restarts_reason"][np.arange(9) != i]) == {""}
    # every restart k=6 had is in the restart columns: the sweep's own (reused, not
    # refitted: the poor one) and three new; the other k ran one
    restarts = results["restart_inertia"]
    assert restarts.shape == (9, 4) and results.n_restarts == 4
    assert np.isfinite(restarts).sum(axis=1).tolist() == results["n_restarts_run"].tolist()
    assert restarts[i, 0] == stuck.results_["inertia"][i]
    np.testing.assert_array_equal(results["inertia"], np.nanmin(restarts, axis=1))
    assert results["best_restart"][i] == np.nanargmin(restarts[i]) >= 1  # a new restart won
    assert (results["restart_seed"][np.arange(9) != i, 1:] == -1).all()
    assert results["restart_seed"][i].tolist() == [seed_of(0, task_key(6, r)) for r in range(4)]
    assert repaired.estimators_[6].inertia_ == pytest.approx(results["inertia"][i])
    assert not results["non_monotonic"].any()
    assert "n_restarts_run" not in stuck.results_


def test_a_k_whose_neighbour_was_stuck_too_is_repaired_in_a_second_round():
    """k = 5 and 6 both start poorly, each barely below the k before it: only k = 6 breaks
    the curve at first; once it is repaired, k = 5 does, and the next round repairs it."""
    X = six_blobs()
    # k = 4's optimum (the left group as one cluster) with blob 3 split: barely below k = 4
    poor_five = np.array([[3, 5 / 3], [19.7, 0], [20.3, 0], [26, 0], [23, 5]]) - X.mean(axis=0)
    calls = []

    def init(X, n_clusters, random_state):  # scikit-learn hands init the centered X
        calls.append(n_clusters)
        if calls.count(n_clusters) == 1 and n_clusters in (5, 6):
            return (poor_five if n_clusters == 5 else POOR_SIX).copy()  # Lloyd writes in it
        return kmeans_plusplus(X, n_clusters, random_state=random_state)[0]

    def sweep(**params):
        calls.clear()
        estimator = KMeans(init=init, n_init=1)
        return KSweep(
            estimator, k_range=range(1, 10), n_init=1, executor="serial", random_state=0, **params
        ).fit(X)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stuck = sweep(n_init_max=None).results_["inertia"]
    assert stuck[3] > stuck[4] > stuck[5] > 10 * stuck[6]  # k = 4, 5, 6: no rise
    assert suspicious_k(np.arange(1, 10), stuck, None).named == [6]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnderConvergedWarning)
        repaired = sweep()
    results = repaired.results_
    assert results["n_restarts_run"].tolist() == [1, 1, 1, 1, 4, 4, 1, 1, 1]
    assert results["restarts_reason"][4].startswith("k=5: ")
    assert results["inertia"][4] < 0.6 * stuck[4] and results["inertia"][5] < 0.1 * stuck[5]
    assert repaired.best_k_ == 6


def test_a_k_that_stays_suspicious_is_named_in_a_warning():
    sweep = _poor_sweep(always=True, n_init_max=3)
    with pytest.warns(UnderConvergedWarning, match=r"k=\[6\] still look stuck .* 3 restarts each"):
        sweep.fit(six_blobs())
    assert sweep.results_["n_restarts_run"][5] == 3
    # the three restarts of k=6 join the restart columns even though none was better
    assert np.isfinite(sweep.results_["restart_inertia"][5]).all()
    assert sweep.results_["best_restart"][5] == 0


def test_no_repair_where_the_curve_is_convex():
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnderConvergedWarning)
        sweep = KSweep(k_range=range(1, 10), n_init=2, random_state=0).fit(six_blobs())
    assert sweep.results_["n_restarts_run"].tolist() == [2] * 9
    assert sweep.results_.n_restarts == 2 and np.isfinite(sweep.results_["restart_inertia"]).all()


# -- stability of the chosen k ----------------------------------------------------------


def test_on_blobs_the_true_k_is_chosen_in_nearly_every_resample():
    X, _ = make_blobs(400, centers=4, cluster_std=0.6, random_state=1)
    sweep = KSweep(k_range=range(1, 9), n_init=2, random_state=0, stability=10).fit(X)
    result = sweep.stability_
    assert sweep.best_k_ == 4
    chosen = dict(zip(result.k.tolist(), result.chosen_count.tolist(), strict=True))
    assert chosen[4] >= 9 and sum(chosen.values()) == 10
    assert result.stable[3] and result.mean_ari[3] > 0.95
    assert sweep.results_["stability_chosen"].tolist() == result.chosen_count.tolist()
    row = sweep.summary()["stability"]
    assert row.k == 4 and row.reason.startswith(f"k=4 chosen in {chosen[4]} of 10 resamples")


def test_on_uniform_noise_no_k_above_1_is_stable():
    X = np.random.default_rng(4).uniform(size=(600, 6))
    sweep = KSweep(k_range=range(1, 7), n_init=2, random_state=0, stability=5).fit(X)
    result = sweep.stability_
    assert sweep.best_k_ == 1 and result.chosen_count[0] == 5  # every resample: no structure
    assert not result.stable[1:].any() and result.mean_ari[1:].max() < 0.5


def test_stability_is_refused_where_resamples_cannot_be_drawn(noise):
    from ksweep import InvalidParameterError

    sweep = KSweep(k_range=range(1, 5), n_init=1, stability=3)
    with pytest.raises(InvalidParameterError, match="The 'stability' parameter of KSweep must be"):
        sweep.fit(da.from_array(noise, chunks=500))
    with pytest.raises(InvalidParameterError, match="None for partial_fit"):
        sweep.partial_fit(noise[:100])


def test_by_default_a_dask_array_sweep_repairs_a_poor_k_through_the_workers(monkeypatch):
    import ksweep._dask_arrays

    X = da.from_array(six_blobs(), chunks=120)
    seed_k6_restart0_poorly(monkeypatch, ksweep._dask_arrays)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the poor k=6 makes the curve rise: warned
        stuck = KSweep(k_range=range(1, 10), n_init=1, random_state=0, n_init_max=None).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnderConvergedWarning)
        warnings.simplefilter("error", NonMonotonicWarning)
        sweep = KSweep(k_range=range(1, 10), n_init=1, random_state=0).fit(X)
    i = 5  # k = 6
    results = sweep.results_
    assert results.engine == "dask" and stuck.results_.engine == "dask"
    assert stuck.results_["inertia"][i] > 2 * results["inertia"][i]
    assert stuck.best_k_ != 6 and sweep.best_k_ == 6
    assert results["n_restarts_run"].tolist() == [1, 1, 1, 1, 1, 4, 1, 1, 1]
    assert results["restarts_reason"][i].startswith("k=6: its inertia ")
    # restart 0 (refitted in the repair's passes) is the same poor fit; a new one won
    assert results["restart_inertia"][i, 0] == pytest.approx(stuck.results_["inertia"][i])
    np.testing.assert_array_equal(results["inertia"], np.nanmin(results["restart_inertia"], 1))
    assert results["best_restart"][i] >= 1
    assert sweep.estimators_[6].cluster_centers_.shape == (6, 2)
    # the other k are the sweep's own
    others = np.arange(9) != i
    np.testing.assert_array_equal(results["inertia"][others], stuck.results_["inertia"][others])
