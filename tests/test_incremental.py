"""KSweep.partial_fit: an incremental sweep over a stream of batches."""

import pickle
import re

import numpy as np
import pytest
from scipy import sparse
from sklearn.cluster import AgglomerativeClustering, Birch, KMeans, MiniBatchKMeans
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError

import ksweep._incremental as incremental
from ksweep import InvalidParameterError, KSweep, NoElbowWarning
from ksweep._seeding import seed_entropy, task_seeds

K_RANGE = range(2, 10)


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(
        n_samples=6000, centers=5, cluster_std=0.6, center_box=(-10, 10), random_state=3
    )
    return X


def stream(sweep, X, n_batches=12):
    for batch in np.array_split(X, n_batches):
        sweep.partial_fit(batch)
    return sweep


class RecordingMiniBatchKMeans(MiniBatchKMeans):
    """MiniBatchKMeans that keeps a copy of every row it is trained on."""

    def partial_fit(self, X, y=None, sample_weight=None):
        self.__dict__.setdefault("trained_rows", []).append(np.array(X, copy=True))
        return super().partial_fit(X, y, sample_weight)


def row_set(rows):
    return {tuple(row) for row in np.asarray(rows).tolist()}


ENGINES = [("auto", "fused-stream"), ("independent", "incremental")]


@pytest.mark.parametrize(("engine", "ran"), ENGINES)
def test_a_stream_of_blob_batches_finds_the_true_k(blobs, engine, ran):
    sweep = stream(KSweep(k_range=K_RANGE, n_init=2, random_state=0, engine=engine), blobs)
    results = sweep.results_
    assert sweep.best_k_ == 5
    assert results["k"].tolist() == list(K_RANGE)
    assert results.engine == ran
    assert results.n_restarts == 2 and results["restart_inertia"].shape == (len(K_RANGE), 2)
    assert np.all(np.diff(results["inertia"]) < 0)
    assert results["n_iter"].tolist() == [12] * len(K_RANGE)  # one update per batch
    assert np.all(results[f"restart_{results.time_column}"] > 0)
    assert results.time_column == ("fit_time_share" if ran == "fused-stream" else "fit_time")
    assert sweep.n_features_in_ == 2
    assert not hasattr(sweep, "labels_")
    assert "<--" in results.to_text(marked_k=sweep.best_k_)
    assert sweep.summary().chosen()["kneedle"] == 5


@pytest.mark.parametrize(("engine", "ran"), ENGINES)
def test_the_sweep_is_the_chosen_minibatch_model_after_partial_fit(blobs, engine, ran):
    sweep = stream(KSweep(k_range=K_RANGE, n_init=2, random_state=0, engine=engine), blobs)
    assert sweep.results_.engine == ran
    best = sweep.best_estimator_
    assert isinstance(best, MiniBatchKMeans) and best.n_clusters == sweep.best_k_
    assert sorted(sweep.estimators_) == list(K_RANGE)
    assert all(model.n_clusters == k for k, model in sweep.estimators_.items())
    assert sweep.estimators_[sweep.best_k_] is best
    np.testing.assert_array_equal(sweep.predict(blobs), best.predict(blobs))
    np.testing.assert_array_equal(sweep.transform(blobs[:5]), best.transform(blobs[:5]))
    assert sweep.score(blobs) == best.score(blobs)
    assert sweep.cluster_centers_ is best.cluster_centers_
    assert np.unique(sweep.predict(blobs)).size == 5
    # the best restart per k is the one with the lowest held-back inertia
    i = list(K_RANGE).index(sweep.best_k_)
    r = sweep.results_["best_restart"][i]
    assert best.random_state == sweep.results_["restart_seed"][i, r]


def test_a_kmeans_estimator_is_swept_as_minibatch_kmeans_with_its_settings(blobs):
    estimator = KMeans(init="random", max_iter=7, tol=0.5)
    sweep = stream(KSweep(estimator, k_range=K_RANGE, n_init=1, random_state=0), blobs)
    best = sweep.best_estimator_
    assert type(best) is MiniBatchKMeans
    assert (best.init, best.max_iter, best.tol, best.compute_labels) == ("random", 7, 0.5, False)


@pytest.mark.parametrize(("engine", "ran"), ENGINES)
def test_seeds_follow_fit_and_the_same_stream_gives_identical_results(blobs, engine, ran):
    first = stream(KSweep(k_range=K_RANGE, n_init=2, random_state=7, engine=engine), blobs)
    second = stream(KSweep(k_range=K_RANGE, n_init=2, random_state=7, engine=engine), blobs)
    assert first.results_.engine == ran
    for name, column in first.results_.items():
        if "fit_time" not in name:
            np.testing.assert_array_equal(column, second.results_[name], err_msg=name)
    for k, model in first.estimators_.items():
        np.testing.assert_array_equal(
            model.cluster_centers_, second.estimators_[k].cluster_centers_
        )
    expected = task_seeds(seed_entropy(7), np.array(K_RANGE), 2)
    np.testing.assert_array_equal(first.results_["restart_seed"], expected)
    # a seed per (k, restart), as a fit gives every estimator but the fused engine (whose
    # restarts seed every k from one nested k-means++ sequence: one seed per restart)
    fitted = KSweep(k_range=K_RANGE, n_init=2, random_state=7, engine="independent").fit(
        blobs[:500]
    )
    np.testing.assert_array_equal(first.results_["restart_seed"], fitted.results_["restart_seed"])
    other = stream(KSweep(k_range=K_RANGE, n_init=2, random_state=8, engine=engine), blobs)
    assert not np.array_equal(first.results_["inertia"], other.results_["inertia"])


def test_a_pickled_sweep_continues_the_stream_identically(blobs):
    batches = np.array_split(blobs, 10)
    sweep = KSweep(k_range=K_RANGE, n_init=1, random_state=0)
    for batch in batches[:5]:
        sweep.partial_fit(batch)
    copy = pickle.loads(pickle.dumps(sweep))
    for batch in batches[5:]:
        sweep.partial_fit(batch)
        copy.partial_fit(batch)
    np.testing.assert_array_equal(sweep.results_["inertia"], copy.results_["inertia"])
    assert copy.results_["n_iter"][0] == 10


def test_a_batch_with_another_number_of_features_is_refused(blobs):
    sweep = KSweep(k_range=K_RANGE, n_init=1, random_state=0).partial_fit(blobs[:500])
    message = "X has 3 features, but KSweep is expecting 2 features as input."
    with pytest.raises(ValueError, match=re.escape(message)):
        sweep.partial_fit(np.ones((50, 3)))
    assert sweep.results_["n_iter"][0] == 1  # the sweep is unchanged


def test_partial_fit_does_not_exist_for_an_estimator_that_cannot_learn_incrementally():
    sweep = KSweep(AgglomerativeClustering(), k_range=K_RANGE)
    message = (
        "The 'estimator' parameter of KSweep must be an estimator that learns incrementally "
        "(with a partial_fit method, such as MiniBatchKMeans()) or a KMeans (swept as "
        "MiniBatchKMeans) for partial_fit; AgglomerativeClustering has no partial_fit. "
        "Got AgglomerativeClustering() instead."
    )
    assert not hasattr(sweep, "partial_fit")  # as scikit-learn's meta-estimators do
    with pytest.raises(
        AttributeError, match=re.escape("This 'KSweep' has no attribute 'partial_fit'")
    ) as raised:
        sweep.partial_fit(np.ones((50, 2)))
    assert str(raised.value.__cause__) == message  # shown as the cause in the traceback
    assert not hasattr(sweep, "n_features_in_")
    assert hasattr(KSweep(), "partial_fit") and hasattr(KSweep(Birch()), "partial_fit")


def test_a_first_batch_one_row_larger_than_the_largest_k_gives_results():
    X, _ = make_blobs(n_samples=10, centers=2, random_state=0)
    sweep = KSweep(k_range=K_RANGE, n_init=1, random_state=0).partial_fit(X)
    assert sweep.results_["n_holdout"][0] == 1 and sweep.results_["n_trained"][0] == 9
    assert sweep.n_features_in_ == 2


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"selection": "silhouette"},
            "The 'selection' parameter of KSweep must be 'auto', 'kneedle', 'two_segment' or a "
            "callable for partial_fit (the criteria need the whole data set at once). "
            "Got 'silhouette' instead.",
        ),
        (
            {"scoring": "silhouette"},
            "The 'scoring' parameter of KSweep must be None for partial_fit",
        ),
        (
            {"checkpoint": "somewhere"},
            "The 'checkpoint' parameter of KSweep must be None for partial_fit",
        ),
        (
            {"n_init_max": 8},
            "The 'n_init_max' parameter of KSweep must be 'auto' or None for partial_fit (a "
            "stream does not repair: restarts added later would miss the batches already seen). "
            "Got 8 instead.",
        ),
        (
            {"estimator": KMeans},
            "The 'estimator' parameter of KSweep must be an estimator instance, such as "
            "KMeans(), not the class.",
        ),
        (
            {"estimator": KMeans(init=np.zeros((2, 2)))},
            "The 'estimator' parameter of KSweep must be a KMeans whose init is 'k-means++', "
            "'random' or a callable for partial_fit",
        ),
    ],
)
def test_parameters_a_stream_cannot_honour_are_refused(params, message):
    with pytest.raises(InvalidParameterError, match=re.escape(message)):
        KSweep(**{"k_range": K_RANGE, **params}).partial_fit(np.ones((50, 2)))


def test_a_stream_takes_the_default_n_init_max_and_does_not_repair(blobs):
    X = blobs
    for n_init_max in ("auto", None):
        sweep = KSweep(k_range=K_RANGE, n_init=1, random_state=0, n_init_max=n_init_max)
        for batch in np.array_split(X, 3):
            sweep.partial_fit(batch)
        assert "n_restarts_run" not in sweep.results_ and sweep.results_.n_restarts == 1


def test_sparse_batches_and_changed_parameters_are_refused(blobs):
    sweep = KSweep(k_range=K_RANGE, n_init=1, random_state=0)
    with pytest.raises(
        TypeError, match=re.escape("KSweep.partial_fit takes dense batches; got a sparse")
    ):
        sweep.partial_fit(sparse.csr_matrix(blobs[:100]))
    sweep.partial_fit(blobs[:500])
    sweep.set_params(k_range=range(2, 12))
    message = (
        "The 'k_range' parameter of KSweep must be unchanged between the partial_fit calls of "
        "one stream (it was range(2, 10) at the first call; fit, or a new KSweep, starts a new "
        "stream). Got range(2, 12) instead."
    )
    with pytest.raises(InvalidParameterError, match=re.escape(message)):
        sweep.partial_fit(blobs[500:1000])
    sweep.set_params(k_range=K_RANGE, selection="two_segment")  # selection may change
    sweep.partial_fit(blobs[500:1000])
    assert sweep.elbow_.method == "two_segment"


def test_a_first_batch_smaller_than_the_largest_k_is_buffered(blobs):
    sweep = KSweep(k_range=K_RANGE, n_init=1, random_state=0)
    with pytest.warns(UserWarning, match=r"the models start once there are 9 \(the largest k\)"):
        sweep.partial_fit(blobs[:4])
    with pytest.raises(NotFittedError):
        sweep.predict(blobs[:2])
    assert not hasattr(sweep, "n_features_in_")
    with pytest.raises(ValueError, match="X has 3 features, but KSweep is expecting 2"):
        sweep.partial_fit(np.ones((3, 3)))  # checked against the first batch while buffering
    with pytest.warns(UserWarning, match="not fitted yet"):
        sweep.partial_fit(blobs[4:7])
    for batch in np.array_split(blobs[7:], 10):
        sweep.partial_fit(batch)
    assert sweep.best_k_ == 5
    assert sweep.results_["n_iter"][0] == 10  # the buffered rows went in with the next batch
    assert sweep.results_["n_trained"][0] + sweep.results_["n_holdout"][0] == blobs.shape[0]


def test_held_back_rows_are_never_trained_on(blobs, monkeypatch):
    monkeypatch.setattr(incremental, "HOLDOUT_MAX", 40)
    recording = KSweep(RecordingMiniBatchKMeans(), k_range=K_RANGE, n_init=1, random_state=0)
    sweep = stream(recording, blobs)
    state = sweep._incremental
    held = row_set(state.holdout.rows)
    assert len(held) == 40 == sweep.results_["n_holdout"][0]
    assert state.holdout.n_candidates > 40  # the reservoir was full and evicted rows
    for row in state.models:
        trained = np.concatenate(row[0].trained_rows)
        assert trained.shape[0] == blobs.shape[0] - 40 == sweep.results_["n_trained"][0]
        assert held.isdisjoint(row_set(trained))
        assert row_set(trained) | held == row_set(blobs)
    assert "40 held-back rows" in sweep.results_.inertia_definition


def test_the_holdout_is_about_a_tenth_of_the_stream_and_capped(blobs, monkeypatch):
    sweep = stream(KSweep(k_range=K_RANGE, n_init=1, random_state=0), blobs)
    assert 0.07 * blobs.shape[0] < sweep.results_["n_holdout"][0] < 0.13 * blobs.shape[0]
    monkeypatch.setattr(incremental, "HOLDOUT_MAX", 100)
    capped = stream(KSweep(k_range=K_RANGE, n_init=1, random_state=0), blobs)
    assert capped.results_["n_holdout"][0] == 100


def test_fit_after_partial_fit_starts_over_and_partial_fit_after_fit_starts_a_stream(blobs):
    sweep = stream(KSweep(k_range=K_RANGE, n_init=2, random_state=0), blobs)
    sweep.fit(blobs[:1000])
    fresh = KSweep(k_range=K_RANGE, n_init=2, random_state=0).fit(blobs[:1000])
    assert sweep.results_.engine != "incremental"
    np.testing.assert_array_equal(sweep.results_["inertia"], fresh.results_["inertia"])
    np.testing.assert_array_equal(sweep.labels_, fresh.labels_)
    sweep.partial_fit(blobs[:1000])
    assert sweep.results_.engine == "fused-stream"  # the default engine for KMeans
    assert sweep.results_["n_iter"][0] == 1  # a new stream, not a continuation
    assert sweep.results_["n_trained"][0] + sweep.results_["n_holdout"][0] == 1000
    assert not hasattr(sweep, "labels_")


def test_an_estimator_without_centers_is_scored_through_its_labels(blobs):
    with pytest.warns(UserWarning, match="no 'random_state' parameter"):
        sweep = stream(KSweep(Birch(threshold=0.5), k_range=K_RANGE, n_init=3), blobs[:3000])
    assert sweep.results_.n_restarts == 1
    assert np.all(sweep.results_["inertia"] > 0)
    assert sweep.best_k_ == 5


def test_batches_keep_the_first_batch_dtype(blobs):
    sweep = KSweep(k_range=K_RANGE, n_init=1, random_state=0)
    sweep.partial_fit(blobs[:3000].astype(np.float32))
    sweep.partial_fit(blobs[3000:])  # float64: cast to float32
    assert sweep.cluster_centers_.dtype == np.float32


def test_a_callable_selection_runs_after_every_batch_and_warns_at_the_callers_line(blobs):
    calls = []

    def no_choice(k, results):
        calls.append(int(results["n_trained"][0]))
        return None

    sweep = KSweep(k_range=K_RANGE, n_init=1, random_state=0, selection=no_choice)
    with pytest.warns(NoElbowWarning, match="chose no k") as caught:
        for batch in np.array_split(blobs, 3):
            sweep.partial_fit(batch)
    assert {w.filename for w in caught} == {__file__}
    assert len(calls) == 3 and calls == sorted(calls)
    assert sweep.best_k_ == K_RANGE[-1]
