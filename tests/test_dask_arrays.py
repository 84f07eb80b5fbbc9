"""Sweeps of dask arrays on a 2-worker distributed Client: X never comes to the client."""

import re

import dask
import dask.array as da
import dask.dataframe as dd
import distributed
import numpy as np
import pytest
from dask.sizeof import sizeof
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.mixture import GaussianMixture

import ksweep._dask_arrays as dask_arrays
from ksweep import KSweep

SWEEP = dict(k_range=range(2, 9), n_init=2, random_state=0)


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(n_samples=120_000, centers=5, n_features=6, random_state=1)
    return X


@pytest.fixture(scope="module")
def fitted(client, blobs):
    return KSweep(**SWEEP).fit(da.from_array(blobs, chunks=(15_000, 6)))


def test_dask_sweep_picks_the_true_k_within_one_percent_of_in_memory(fitted, blobs):
    in_memory = KSweep(**SWEEP).fit(blobs)
    assert fitted.results_.engine == "dask" and in_memory.results_.engine == "fused"
    assert fitted.best_k_ == in_memory.best_k_ == 5
    np.testing.assert_allclose(fitted.results_["inertia"], in_memory.results_["inertia"], rtol=0.01)
    assert isinstance(fitted.best_estimator_, KMeans)
    assert fitted.best_estimator_.cluster_centers_.shape == (5, 6)


@pytest.fixture
def received(monkeypatch):
    """The size of everything the Client gathers (brings to the client), in order."""
    sizes = []
    gather = distributed.Client.gather

    def recording_gather(self, futures, *args, **kwargs):
        result = gather(self, futures, *args, **kwargs)
        sizes.append(sizeof(result))
        return result

    monkeypatch.setattr(distributed.Client, "gather", recording_gather)
    return sizes


def test_x_is_never_computed_whole_on_the_client(client, blobs, received, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("X was turned into a numpy array on the client")

    monkeypatch.setattr(da.Array, "__array__", refuse)
    X = da.from_array(blobs, chunks=(15_000, 6))
    sweep = KSweep(**SWEEP, seeding_sample=1_000).fit(X)
    labels = sweep.predict(X)
    assert isinstance(labels, da.Array)
    assert sweep.score(X) < 0
    assert received, "nothing was computed through the Client"
    assert max(received) < blobs.nbytes / 50  # sums, counts and a 1,000-row sample only


def test_predict_transform_and_score_are_lazy_and_match_the_model(fitted, blobs):
    X = da.from_array(blobs, chunks=(15_000, 6))
    labels = fitted.predict(X)
    assert isinstance(labels, da.Array) and labels.dtype == np.int32
    np.testing.assert_array_equal(labels.compute(), fitted.best_estimator_.predict(blobs))
    distances = fitted.transform(X)
    assert isinstance(distances, da.Array) and distances.shape == (len(blobs), 5)
    np.testing.assert_allclose(distances.compute(), fitted.best_estimator_.transform(blobs))
    assert fitted.score(X) == pytest.approx(fitted.best_estimator_.score(blobs), rel=1e-9)
    np.testing.assert_array_equal(fitted.labels_.compute(), labels.compute())
    np.testing.assert_array_equal(fitted.predict(blobs[:10]), labels[:10].compute())


def test_same_seed_same_results_and_a_dask_dataframe_works(client, fitted, blobs):
    frame = dd.from_array(blobs, chunksize=15_000)
    again = KSweep(**SWEEP).fit(da.from_array(blobs, chunks=(15_000, 6)))
    np.testing.assert_array_equal(
        again.results_["restart_inertia"], fitted.results_["restart_inertia"]
    )
    again = KSweep(**SWEEP).fit(frame)  # its mean may differ in the last bit
    np.testing.assert_allclose(
        again.results_["restart_inertia"], fitted.results_["restart_inertia"], rtol=1e-12
    )
    assert again.best_k_ == 5 and again.n_features_in_ == 6


def test_progress_counts_the_passes_over_x(client, blobs, capsys):
    X = da.from_array(blobs[:20_000], chunks=(5_000, 6))
    sweep = KSweep(k_range=range(2, 8), n_init=1, random_state=0, progress=True).fit(X)
    err = capsys.readouterr().err
    assert "ksweep (dask: 6 runs share each pass, at most 301)" in err
    passes = int(sweep.results_["restart_n_iter"].max()) + 1
    assert f"{passes}/{passes} [" in err  # a converged sweep ends its bar full


def test_without_a_client_the_local_scheduler_runs_it(blobs):
    X = da.from_array(blobs[:20_000], chunks=(5_000, 6))
    with dask.config.set(scheduler="threads"):
        sweep = KSweep(k_range=range(2, 8), n_init=1, random_state=0).fit(X)
    assert sweep.best_k_ == 5


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"estimator": GaussianMixture()},
            "The 'estimator' parameter of KSweep must be a scikit-learn KMeans with "
            "init='k-means++' for dask arrays. Got GaussianMixture() instead.",
        ),
        (
            {"estimator": KMeans(init="random")},
            "The 'estimator' parameter of KSweep must be a scikit-learn KMeans",
        ),
        (
            {"engine": "independent"},
            "The 'engine' parameter of KSweep must be 'auto' or 'fused' for dask arrays. "
            "Got 'independent' instead.",
        ),
        (
            {"checkpoint": "somewhere"},
            "The 'checkpoint' parameter of KSweep must be None for dask arrays. "
            "Got 'somewhere' instead.",
        ),
        (
            {"scoring": "silhouette"},
            "The 'scoring' parameter of KSweep must be empty for dask arrays. "
            "Got 'silhouette' instead.",
        ),
    ],
)
def test_what_the_dask_path_cannot_do_is_refused_by_name(blobs, params, message):
    X = da.from_array(blobs[:1_000], chunks=(500, 6))
    with pytest.raises(ValueError, match=re.escape(message)):
        KSweep(**{**SWEEP, **params}).fit(X)


def test_bad_dask_input_is_refused(fitted, blobs):
    with pytest.raises(ValueError, match=re.escape("Expected a 2-D dask array for X, got 3-D")):
        KSweep(**SWEEP).fit(da.zeros((10, 2, 2), chunks=5))
    with pytest.raises(
        ValueError, match=re.escape("X has 4 features, but KSweep is expecting 6 features")
    ):
        fitted.predict(da.from_array(blobs[:, :4], chunks=(15_000, 4)))
    with pytest.raises(ValueError, match=re.escape("The 'k_range' parameter of KSweep")):
        KSweep(k_range=range(2, 30), n_init=1).fit(da.from_array(blobs[:20], chunks=10))


def test_nan_in_a_dask_array_is_refused_not_clustered(client):
    X = np.random.default_rng(0).normal(size=(600, 2))
    X[17, 1] = np.nan
    with pytest.raises(ValueError, match=re.escape("Input X contains NaN or infinity.")):
        KSweep(k_range=range(2, 6), n_init=1).fit(da.from_array(X, chunks=(200, 2)))


def test_chunks_without_rows_are_skipped(client, blobs):
    X = da.from_array(blobs[:20_000], chunks=(5_000, 6))
    X = X[da.from_array(np.r_[np.ones(5_000), np.zeros(5_000), np.ones(10_000)] > 0, chunks=5_000)]
    X = X.compute_chunk_sizes()
    assert 0 in X.chunks[0]
    sweep = KSweep(k_range=range(2, 8), n_init=1, random_state=0).fit(X)
    assert sweep.best_k_ == 5
    assert sweep.predict(X).compute().shape == (15_000,)
    assert sweep.transform(X).compute().shape == (15_000, 5)
    assert sweep.score(X) < 0


def test_extend_refuses_a_dask_array_instead_of_loading_it(fitted, blobs):
    with pytest.raises(TypeError, match=re.escape("extend takes X in memory; for a dask array")):
        fitted.extend(da.from_array(blobs, chunks=(15_000, 6)), k_range=[9])


def test_the_client_receives_one_array_per_iteration_whatever_the_chunk_count(
    client, blobs, received, monkeypatch
):
    """Partial sums are added up on the workers: at 256 chunks the client receives per
    Lloyd pass what it receives at 16, one statistics array (not one per chunk)."""
    on_workers = dask_arrays._on_workers
    per_pass: dict[int, list[int]] = {}
    array_bytes: list[int] = []

    for n_chunks in (16, 256):
        passes = per_pass[n_chunks] = []

        def counting(blocks, split_every, passes=passes):
            reduce = on_workers(blocks, split_every)

            def measured(state):
                before = len(received)
                total = reduce(state)
                passes.append(sum(received[before:]))
                array_bytes.append(8 * state.size)
                return total

            return measured

        monkeypatch.setattr(dask_arrays, "_on_workers", counting)
        X = da.from_array(blobs[:32_000], chunks=(32_000 // n_chunks, 6))
        assert X.numblocks[0] == n_chunks
        KSweep(k_range=range(2, 7), n_init=2, random_state=0, seeding_sample=500).fit(X)
    assert len(per_pass[16]) > 1 and len(per_pass[256]) > 1
    # the first pass has every run live: the largest array, the same size at both counts
    assert per_pass[256][0] == per_pass[16][0] == max(per_pass[256]) == max(per_pass[16])
    assert max(per_pass[256]) < max(array_bytes) + 1_024  # one array and its header
