"""The fused mini-batch stream: every (k, restart) model of partial_fit updated in one pass."""

import pickle
import re

import numpy as np
import pytest
from sklearn.cluster import Birch, KMeans, MiniBatchKMeans
from sklearn.datasets import make_blobs

import ksweep._minibatch as minibatch
from ksweep import InvalidParameterError, KSweep
from ksweep._incremental import HeldOutSample
from ksweep._minibatch import FusedMiniBatch

K_RANGE = range(2, 10)


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(
        n_samples=8000, centers=5, n_features=3, cluster_std=0.8, center_box=(-10, 10),
        random_state=5,
    )  # fmt: skip
    return X


def stream(sweep, X, n_batches=10):
    for batch in np.array_split(X, n_batches):
        sweep.partial_fit(batch)
    return sweep


def run_slice(engine, r, array):
    return array[engine.offsets[r] : engine.offsets[r + 1]]


@pytest.mark.parametrize(("dtype", "rtol"), [(np.float64, 1e-10), (np.float32, 2e-5)])
def test_one_fused_model_follows_minibatch_kmeans_from_the_same_centers(blobs, dtype, rtol):
    X = blobs.astype(dtype)
    start = [X[[0, 10, 20, 30]], X[:6], X[100:109]]  # runs of k = 4, 6, 9
    engine = FusedMiniBatch([4, 6, 9], [1, 2, 3], init=start, reassignment_ratio=0.0)
    models = [
        MiniBatchKMeans(n_clusters=len(c), init=c, n_init=1, reassignment_ratio=0.0) for c in start
    ]
    for batch in np.array_split(X, 16):
        engine.partial_fit(batch)
        for model in models:
            model.partial_fit(batch)
    for r, model in enumerate(models):
        assert engine.run_centers(r).dtype == dtype
        np.testing.assert_allclose(
            engine.run_centers(r), model.cluster_centers_, rtol=rtol, atol=rtol * 10
        )
        np.testing.assert_array_equal(run_slice(engine, r, engine.weights), model._counts)
        assert model._counts.sum() == X.shape[0]  # every row went to one center of each run
    assert engine.n_steps == 16


def test_seeded_models_follow_minibatch_kmeans_through_start_and_reassignments(blobs):
    ks, seeds = [2, 5, 9, 14], [11, 12, 13, 14]
    settings = {"reassignment_ratio": 0.2, "batch_size": 256}
    engine = FusedMiniBatch(ks, seeds, **settings)
    models = [
        MiniBatchKMeans(n_clusters=k, random_state=s, **settings)
        for k, s in zip(ks, seeds, strict=True)
    ]
    calm = FusedMiniBatch(ks, seeds, reassignment_ratio=0.0, batch_size=256)
    for batch in np.array_split(blobs, 12):
        engine.partial_fit(batch)
        calm.partial_fit(batch)
        for model in models:
            model.partial_fit(batch)
    for r, model in enumerate(models):  # same k-means++ start, same reassignment draws
        np.testing.assert_allclose(engine.run_centers(r), model.cluster_centers_, rtol=1e-10)
        np.testing.assert_array_equal(run_slice(engine, r, engine.weights), model._counts)
        assert engine.n_since_last_reassign[r] == model._n_since_last_reassign
    assert np.any(engine.draws > 1)  # centers were reassigned ...
    assert not np.allclose(engine.centers, calm.centers)  # ... which changed them


def test_with_reassignment_the_stream_behaves_as_the_per_model_path_on_blobs(blobs):
    chosen, fused_inertia, per_model_inertia = [], [], []
    for seed in range(6):  # different seeds: the same behaviour, not the same draws
        fused = stream(KSweep(k_range=K_RANGE, n_init=1, random_state=seed), blobs)
        other = KSweep(k_range=K_RANGE, n_init=1, random_state=seed + 100, engine="independent")
        other = stream(other, blobs)
        assert (fused.results_.engine, other.results_.engine) == ("fused-stream", "incremental")
        chosen += [fused.best_k_, other.best_k_]
        fused_inertia.append(fused.results_["inertia"] / fused.results_["n_holdout"])
        per_model_inertia.append(other.results_["inertia"] / other.results_["n_holdout"])
    assert chosen == [5] * 12
    fused_inertia, per_model_inertia = np.array(fused_inertia), np.array(per_model_inertia)
    # from k = 5 on every run finds the blobs: the typical held-back inertia agrees; below,
    # which blobs merge varies by run, and the best of the runs agrees
    true_k = list(K_RANGE).index(5)
    np.testing.assert_allclose(
        np.median(fused_inertia[:, true_k:], axis=0),
        np.median(per_model_inertia[:, true_k:], axis=0),
        rtol=0.05,
    )
    np.testing.assert_allclose(fused_inertia.min(axis=0), per_model_inertia.min(axis=0), rtol=0.05)


def test_the_held_back_inertia_is_the_per_model_paths(blobs):
    fused = stream(KSweep(k_range=K_RANGE, n_init=2, random_state=3), blobs)
    other = stream(KSweep(k_range=K_RANGE, n_init=2, random_state=3, engine="independent"), blobs)
    np.testing.assert_allclose(
        fused.results_["restart_inertia"], other.results_["restart_inertia"], rtol=1e-9
    )
    np.testing.assert_array_equal(fused.results_["n_holdout"], other.results_["n_holdout"])
    assert fused.best_k_ == other.best_k_ == 5
    for k, model in fused.estimators_.items():
        np.testing.assert_allclose(
            model.cluster_centers_, other.estimators_[k].cluster_centers_, rtol=1e-10
        )


def test_the_thread_count_changes_no_bit(blobs, monkeypatch):
    monkeypatch.setattr(minibatch, "STREAM_BLOCK_BYTES", 4096)  # many blocks per batch,
    monkeypatch.setattr(minibatch, "PARTIAL_SUMS_BYTES", 5000)  # several in a chunk of the sweep
    X = blobs.astype(np.float32)
    one = stream(KSweep(k_range=K_RANGE, n_init=2, random_state=0, n_jobs=1), X)
    two = stream(KSweep(k_range=K_RANGE, n_init=2, random_state=0, n_jobs=2), X)
    for name, column in one.results_.items():
        if "fit_time" not in name:
            np.testing.assert_array_equal(column, two.results_[name], err_msg=name)
    state_one, state_two = one._incremental.fused, two._incremental.fused
    assert np.array_equal(state_one.centers, state_two.centers)
    assert np.array_equal(state_one.weights, state_two.weights)
    engine = FusedMiniBatch([3, 7], [0, 1])
    for batch in np.array_split(X, 4):
        engine.partial_fit(batch, threads=3)
    alone = FusedMiniBatch([3, 7], [0, 1])
    for batch in np.array_split(X, 4):
        alone.partial_fit(batch, threads=1)
    assert np.array_equal(engine.centers, alone.centers)
    assert np.array_equal(engine.score(X, threads=3), alone.score(X, threads=1))


@pytest.mark.parametrize(
    "estimator", [None, KMeans(tol=1e-3), MiniBatchKMeans(), MiniBatchKMeans(init="random")]
)
def test_the_models_are_fitted_minibatch_kmeans_as_partial_fit_leaves_them(blobs, estimator):
    sweep = stream(KSweep(estimator, k_range=K_RANGE, n_init=1, random_state=0), blobs)
    assert sweep.results_.engine == "fused-stream"
    best = sweep.best_estimator_
    seed = int(sweep.results_["restart_seed"][list(K_RANGE).index(sweep.best_k_), 0])
    params = sweep._incremental.template.get_params()
    real = MiniBatchKMeans(**{**params, "n_clusters": sweep.best_k_, "random_state": seed})
    held = sweep._incremental.holdout
    assert held.n_candidates < held.capacity  # nothing evicted: held rows were never trained on
    for batch in np.array_split(blobs, 10):  # the rows the sweep trained on, in its batches
        rows = {tuple(row) for row in held.rows.tolist()}
        train = np.array([row for row in batch if tuple(row) not in rows])
        real.partial_fit(train)
    assert type(best) is MiniBatchKMeans and best.n_clusters == sweep.best_k_
    assert set(vars(best)) == set(vars(real))
    for name, value in vars(real).items():
        if name in ("cluster_centers_", "_counts", "inertia_"):
            np.testing.assert_allclose(getattr(best, name), value, rtol=1e-9, err_msg=name)
        elif name == "_random_state":
            assert best._random_state.randint(10**9) == value.randint(10**9)
        elif name != "_n_threads":
            np.testing.assert_array_equal(getattr(best, name), value, err_msg=name)
    swept_kmeans = estimator is None or isinstance(estimator, KMeans)
    assert best.compute_labels is not swept_kmeans and hasattr(best, "labels_") is not swept_kmeans
    np.testing.assert_array_equal(best.predict(blobs), real.predict(blobs))
    np.testing.assert_allclose(best.transform(blobs[:5]), real.transform(blobs[:5]), rtol=1e-9)
    np.testing.assert_allclose(best.score(blobs), real.score(blobs), rtol=1e-9)
    np.testing.assert_array_equal(sweep.predict(blobs), best.predict(blobs))


def test_a_fitted_model_continues_as_scikit_learn_would_and_leaves_the_stream_alone(blobs):
    sweep = stream(KSweep(k_range=K_RANGE, n_init=1, random_state=0), blobs[:4000], 4)
    best = sweep.best_estimator_
    copy = pickle.loads(pickle.dumps(best))
    centers_before = sweep._incremental.fused.centers.copy()
    best.partial_fit(blobs[4000:5000])
    copy.partial_fit(blobs[4000:5000])
    np.testing.assert_array_equal(best.cluster_centers_, copy.cluster_centers_)
    np.testing.assert_array_equal(sweep._incremental.fused.centers, centers_before)


def test_engine_auto_keeps_the_per_model_path_where_the_fused_stream_does_not_apply(blobs):
    class Subclass(MiniBatchKMeans):
        pass

    def first_rows(X, n_clusters, random_state):
        return X[:n_clusters]

    for estimator, extra in [
        (Birch(threshold=0.5), {}),
        (Subclass(), {}),
        (MiniBatchKMeans(init=first_rows), {}),
        (MiniBatchKMeans(), {"score_func": lambda model, X: -model.score(X)}),
    ]:
        sweep = KSweep(estimator, k_range=K_RANGE, n_init=1, random_state=0, **extra)
        assert stream(sweep, blobs[:3000], 3).results_.engine == "incremental"
    message = (
        "The 'engine' parameter of KSweep must be 'auto' or 'independent' here: the fused "
        "stream cannot run because it updates scikit-learn's KMeans and MiniBatchKMeans only, "
        "not Birch. Got 'fused' instead."
    )
    with pytest.raises(InvalidParameterError, match=re.escape(message)):
        KSweep(Birch(), k_range=K_RANGE, n_init=1, engine="fused").partial_fit(blobs[:100])
    sweep = KSweep(k_range=K_RANGE, engine="fused", random_state=0).partial_fit(blobs[:500])
    assert sweep.results_.engine == "fused-stream"


def test_bad_input_gives_the_per_model_paths_errors(blobs):
    for engine in ("auto", "independent"):
        bad = KSweep(MiniBatchKMeans(reassignment_ratio=-1.0), k_range=K_RANGE, engine=engine)
        with pytest.raises(ValueError, match=re.escape("'reassignment_ratio' parameter of")):
            bad.partial_fit(blobs[:500])
    sweep = KSweep(k_range=K_RANGE, n_init=1, random_state=0).partial_fit(blobs[:500])
    with pytest.raises(ValueError, match="X has 2 features, but KSweep is expecting 3"):
        sweep.partial_fit(blobs[:50, :2])
    sweep.set_params(engine="independent")
    message = (
        "The 'engine' parameter of KSweep must be unchanged between the partial_fit calls of "
        "one stream (it was 'auto' at the first call; fit, or a new KSweep, starts a new "
        "stream). Got 'independent' instead."
    )
    with pytest.raises(InvalidParameterError, match=re.escape(message)):
        sweep.partial_fit(blobs[500:1000])
    assert sweep.results_["n_iter"][0] == 1  # the sweep is unchanged
    with pytest.raises(InvalidParameterError, match="The 'n_jobs' parameter of KSweep"):
        KSweep(k_range=K_RANGE, n_jobs=-100).partial_fit(blobs[:500])


def _sequential_split(holdout, X):
    """The reservoir's split one candidate at a time (Algorithm R as first written): the
    rows that fill the reservoir leave the batch; a row that takes a slot of the full
    reservoir trains, in its place, on the row it evicts."""
    if holdout._rows is None:
        holdout._rows = np.empty((holdout.capacity, X.shape[1]), dtype=X.dtype)
    candidate = holdout._rng.random(X.shape[0]) < holdout.fraction
    if holdout.size == 0 and not candidate.any() and X.shape[0] > 1:
        candidate[holdout._rng.integers(X.shape[0])] = True
    train = []
    for row, is_candidate in zip(X, candidate, strict=True):
        if not is_candidate:
            train.append(row)
            continue
        holdout.n_candidates += 1
        if holdout.size < holdout.capacity:
            holdout._rows[holdout.size] = row
            holdout.size += 1
            continue
        slot = int(holdout._rng.integers(holdout.n_candidates))
        if slot < holdout.capacity:
            train.append(holdout._rows[slot].copy())
            holdout._rows[slot] = row
        else:
            train.append(row)
    return np.array(train).reshape(-1, X.shape[1])


@pytest.mark.parametrize(
    ("capacity", "fraction", "sizes"),
    [(5, 0.5, [3, 10, 40, 1, 2, 7, 100]), (40, 0.1, [500] * 12), (3, 0.9, [50] * 20)],
)
def test_the_vectorized_reservoir_holds_and_trains_the_same_rows(capacity, fraction, sizes):
    fast, slow = HeldOutSample(7, fraction, capacity), HeldOutSample(7, fraction, capacity)
    rng = np.random.default_rng(0)
    for size in sizes:
        X = rng.normal(size=(size, 3))
        np.testing.assert_array_equal(fast.split(X), _sequential_split(slow, X))
        np.testing.assert_array_equal(fast.rows, slow.rows)
        assert fast.n_candidates == slow.n_candidates
    assert fast.n_candidates > capacity  # rows were evicted
