"""The fused k-means engine: same Lloyd runs as scikit-learn, real estimators, any executor."""

import re
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import get_context

import numpy as np
import pytest
from scipy import sparse
from scipy.spatial.distance import cdist
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.mixture import GaussianMixture
from sklearn.utils.validation import check_is_fitted
from tslearn.clustering import TimeSeriesKMeans

import ksweep._blocks as blocks_module
import ksweep._fused as fused_module
import ksweep._kernels as kernels_module
from ksweep import KSweep
from ksweep._blocks import BLOCK_BYTES, block_rows
from ksweep._fused import fused_lloyd


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(n_samples=600, centers=5, n_features=4, cluster_std=1.2, random_state=7)
    return X


def _independent(X, run, max_iter, tol):
    return KMeans(
        n_clusters=run.k, init=run.init_centers, n_init=1, max_iter=max_iter, tol=tol
    ).fit(X)


@pytest.mark.parametrize("max_iter", [1, 3, 300])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_each_run_matches_scikit_learn_lloyd_from_the_same_initial_centers(blobs, max_iter, dtype):
    X = blobs.astype(dtype)
    ks = list(range(1, 13))
    runs = fused_lloyd(X, ks, list(range(50, 62)), max_iter=max_iter, tol=1e-4)
    rtol = 1e-6 if dtype == np.float64 else 1e-5
    for run in runs:
        reference = _independent(X, run, max_iter, 1e-4)
        assert run.n_iter == reference.n_iter_, run.k
        assert run.inertia == pytest.approx(reference.inertia_, rel=rtol), run.k
        np.testing.assert_array_equal(run.labels, reference.labels_)
        np.testing.assert_allclose(run.centers, reference.cluster_centers_, rtol=rtol, atol=1e-5)
        assert run.centers.dtype == dtype


def test_an_empty_cluster_takes_the_farthest_point_as_in_scikit_learn(blobs):
    far_away = np.full((1, blobs.shape[1]), 1e3)
    init = np.vstack([blobs[:3], far_away])  # the 4th center attracts no point
    (run,) = fused_lloyd(blobs, [4], [0], max_iter=50, tol=1e-4, init_centers=[init])
    reference = KMeans(n_clusters=4, init=init, n_init=1, max_iter=50, tol=1e-4).fit(blobs)
    assert run.inertia == pytest.approx(reference.inertia_, rel=1e-9)
    assert np.bincount(run.labels, minlength=4).min() > 0


def test_small_blocks_give_the_same_runs(blobs, monkeypatch):
    whole = fused_lloyd(blobs, [2, 5, 9], [1, 2, 3], max_iter=20, tol=1e-4)
    monkeypatch.setattr(blocks_module, "BLOCK_BYTES", 16 * 8 * 16)  # 256-row blocks: 3 blocks
    assert block_rows(600, 16, 8) == 256
    blocked = fused_lloyd(blobs, [2, 5, 9], [1, 2, 3], max_iter=20, tol=1e-4)
    for a, b in zip(whole, blocked, strict=True):
        assert a.inertia == pytest.approx(b.inertia, rel=1e-12)
        np.testing.assert_array_equal(a.labels, b.labels)


def test_block_rows_bound_the_distance_block():
    for n, total_k, itemsize in [(60_000, 1_100, 4), (11_346, 1_222, 4), (10**7, 77, 8)]:
        rows = block_rows(n, total_k, itemsize)
        assert rows * total_k * itemsize <= BLOCK_BYTES
        assert rows >= 256


def test_best_of_n_init_is_as_good_as_the_independent_engine(blobs):
    common = dict(k_range=range(2, 11), n_init=5, random_state=0)
    fused = KSweep(engine="fused", **common).fit(blobs)
    independent = KSweep(engine="independent", **common).fit(blobs)
    assert fused.results_.engine == "fused" and independent.results_.engine == "independent"
    # same algorithm, other random draws: equal up to the noise of local optima
    assert np.all(fused.results_["inertia"] <= independent.results_["inertia"] * 1.02)
    assert fused.best_k_ == independent.best_k_ == 5


def test_auto_picks_fused_for_kmeans_and_the_estimators_are_real(blobs):
    sweep = KSweep(k_range=range(2, 8), n_init=2, random_state=0).fit(blobs)
    assert sweep.results_.engine == "fused"
    assert "engine='fused'" in repr(sweep.results_)
    real = KMeans(n_clusters=3, n_init=1, random_state=0).fit(blobs)
    for k, model in sweep.estimators_.items():
        assert type(model) is KMeans and model.n_clusters == k
        check_is_fitted(model)
        assert set(vars(model)) == set(vars(real))  # every attribute a fit sets
        np.testing.assert_array_equal(model.predict(blobs), model.labels_)
        np.testing.assert_allclose(model.transform(blobs), cdist(blobs, model.cluster_centers_))
        assert -model.score(blobs) == pytest.approx(model.inertia_, rel=1e-9)
    row = int(np.flatnonzero(sweep.results_["k"] == sweep.best_k_)[0])
    assert sweep.best_estimator_.inertia_ == sweep.results_["inertia"][row]
    np.testing.assert_array_equal(sweep.labels_, sweep.best_estimator_.labels_)


def test_float32_stays_float32(blobs):
    sweep = KSweep(k_range=range(2, 6), n_init=1, random_state=0).fit(blobs.astype(np.float32))
    assert sweep.cluster_centers_.dtype == np.float32
    assert sweep.results_.engine == "fused"


def _executors():
    spawn = get_context("spawn")
    return [
        pytest.param(lambda: "serial", id="serial"),
        pytest.param(lambda: ThreadPoolExecutor(2), id="threads"),
        pytest.param(lambda: ProcessPoolExecutor(2, mp_context=spawn), id="processes"),
    ]


@pytest.mark.parametrize("make_executor", _executors())
def test_results_are_identical_on_every_executor(blobs, make_executor):
    common = dict(k_range=range(2, 9), n_init=3, random_state=3)
    serial = KSweep(**common).fit(blobs)
    executor = make_executor()
    try:
        sweep = KSweep(**common, executor=executor).fit(blobs)
    finally:
        if not isinstance(executor, str):
            executor.shutdown()
    for name in ("restart_inertia", "restart_n_iter", "restart_seed"):
        np.testing.assert_array_equal(sweep.results_[name], serial.results_[name])
    assert sweep.best_k_ == serial.best_k_


def test_time_series_kmeans_euclidean_runs_fused_with_tslearn_attributes():
    rng = np.random.default_rng(0)
    shapes = np.stack([np.sin(np.linspace(0, f, 30)) for f in (2, 6, 12)])
    X = (shapes[rng.integers(0, 3, 150)] + rng.normal(scale=0.1, size=(150, 30)))[:, :, None]
    template = TimeSeriesKMeans(metric="euclidean", max_iter=50, tol=1e-8, random_state=0)
    sweep = KSweep(template, k_range=range(2, 7), n_init=2, random_state=0).fit(X)
    assert sweep.results_.engine == "fused"
    assert sweep.best_k_ == 3
    real = TimeSeriesKMeans(n_clusters=3, metric="euclidean", random_state=0).fit(X)
    for k, model in sweep.estimators_.items():
        assert type(model) is TimeSeriesKMeans and model.cluster_centers_.shape == (k, 30, 1)
        assert set(vars(model)) == set(vars(real))
        np.testing.assert_array_equal(model.predict(X), model.labels_)
        row = int(np.flatnonzero(sweep.results_["k"] == k)[0])
        assert model.inertia_ == sweep.results_["raw_inertia"][row]  # tslearn's mean
        assert sweep.results_["inertia"][row] == pytest.approx(model.inertia_ * 150, rel=1e-12)
    # converged runs end where tslearn's own Lloyd ends from the same centers
    flat = X[:, :, 0]
    (run,) = fused_lloyd(flat, [3], [11], max_iter=100, tol=1e-10, stop_rule="tslearn")
    own = TimeSeriesKMeans(
        n_clusters=3, metric="euclidean", init=run.init_centers[:, :, None], max_iter=100, tol=1e-10
    ).fit(X)
    assert run.inertia / 150 == pytest.approx(own.inertia_, rel=1e-6)


@pytest.mark.parametrize(
    ("estimator", "X_kind", "why"),
    [
        (GaussianMixture(), "dense", "not GaussianMixture"),
        (KMeans(init="random"), "dense", "init='k-means++' only, not init='random'"),
        (KMeans(), "sparse", "X is sparse"),
        (TimeSeriesKMeans(metric="dtw"), "series", "metric='euclidean' only, not metric='dtw'"),
    ],
)
def test_fused_where_it_cannot_run_names_the_parameter_and_why(blobs, estimator, X_kind, why):
    X = {"dense": blobs, "sparse": sparse.csr_matrix(np.abs(blobs)), "series": blobs[:, :, None]}
    sweep = KSweep(estimator, k_range=[2, 3, 4], n_init=1, engine="fused")
    with pytest.raises(ValueError, match=re.escape(why)) as info:
        sweep.fit(X[X_kind])
    assert str(info.value).startswith(
        "The 'engine' parameter of KSweep must be 'auto' or 'independent' here: the fused "
        "engine cannot run because"
    )
    assert str(info.value).endswith("Got 'fused' instead.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        auto = KSweep(estimator, k_range=[2, 3, 4], n_init=1, random_state=0).fit(X[X_kind])
    assert auto.results_.engine == "independent"


def test_score_func_keeps_the_independent_engine(blobs):
    sweep = KSweep(k_range=[2, 3, 4], n_init=1, score_func=lambda m, X: m.inertia_).fit(blobs)
    assert sweep.results_.engine == "independent"
    with pytest.raises(ValueError, match="because a score_func is set"):
        KSweep(k_range=[2, 3, 4], engine="fused", score_func=lambda m, X: 0.0).fit(blobs)


def test_bad_engine_value_is_refused(blobs):
    with pytest.raises(ValueError, match=re.escape("The 'engine' parameter of KSweep must be")):
        KSweep(engine="gpu").fit(blobs)


def test_without_numba_auto_falls_back_and_fused_says_how_to_install(blobs, monkeypatch):
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba now fails
    monkeypatch.setattr(kernels_module, "_KERNELS", [])
    monkeypatch.setattr(fused_module, "numba_available", kernels_module.numba_available)
    assert not kernels_module.numba_available()
    sweep = KSweep(k_range=[2, 3, 4], n_init=1, random_state=0).fit(blobs)
    assert sweep.results_.engine == "independent"
    with pytest.raises(ValueError, match=re.escape("numba is not installed")):
        KSweep(k_range=[2, 3, 4], engine="fused").fit(blobs)
    with pytest.raises(ImportError, match=re.escape("pip install 'ksweep[fast]'")):
        kernels_module.kernels()


def test_gap_statistic_runs_on_the_fused_engine(blobs):
    sweep = KSweep(
        k_range=range(2, 8), n_init=2, selection="gap", gap_references=3, random_state=0
    ).fit(blobs)
    assert sweep.results_.engine == "fused"
    assert sweep.best_k_ == 5


def test_kernel_threads_do_not_change_any_result(blobs):
    one = fused_lloyd(blobs, list(range(2, 12)), list(range(10)), max_iter=30, tol=1e-4)
    three = fused_lloyd(
        blobs, list(range(2, 12)), list(range(10)), max_iter=30, tol=1e-4, threads=3
    )
    for a, b in zip(one, three, strict=True):
        assert a.inertia == b.inertia and a.n_iter == b.n_iter
        np.testing.assert_array_equal(a.init_centers, b.init_centers)
        np.testing.assert_array_equal(a.labels, b.labels)


@pytest.mark.parametrize(
    ("k_range", "n_init", "groups"),
    [
        (range(3, 50), 2, [(0,), (1,)]),  # 1,222 centers per restart: one restart a task
        (range(5, 16), 10, [(0, 1, 2, 3, 4), (5, 6, 7, 8, 9)]),  # 110: five restarts a task
        (range(2, 5), 3, [(0, 1, 2)]),
    ],
)
def test_restarts_are_grouped_by_centers_not_by_executor(k_range, n_init, groups):
    from ksweep._local import _fused_groups, _group_tasks

    plan = [((k, r), 0, k, 100 * k + r) for k in reversed(k_range) for r in range(n_init)]
    tasks = list(_group_tasks(KMeans(), {0: None}, _fused_groups(plan), 1, None))
    assert [key[2] for key, _, _ in tasks] == groups
    for key, _, args in tasks:
        keys, ks = args[2], args[3]
        assert sorted(ks) == sorted(list(k_range) * len(key[2]))  # every k of its restarts
        assert {r for _, r in keys} == set(key[2])


def test_every_run_is_handed_to_on_done_once_as_it_ends(blobs):
    seen = {}

    def on_done(index, run):
        assert index not in seen
        seen[index] = (run.labels.copy(), run.centers.copy(), run.inertia)

    ks = [2, 4, 5, 9]  # tol=0: each run ends when its labels stop changing
    runs = fused_lloyd(blobs, ks, [3] * 4, max_iter=300, tol=0.0, chains=[3] * 4, on_done=on_done)
    assert sorted(seen) == [0, 1, 2, 3]
    for index, run in enumerate(runs):
        labels, centers, inertia = seen[index]
        np.testing.assert_array_equal(labels, run.labels)
        np.testing.assert_array_equal(centers, run.centers)
        assert inertia == run.inertia


@pytest.mark.parametrize(("dtype", "stop_rule"), [(np.float64, "sklearn"), (np.float32, "tslearn")])
def test_runs_go_on_from_a_snapshot_bit_for_bit(dtype, stop_rule):
    X = (np.random.default_rng(1).normal(size=(2000, 6)) * 2).astype(dtype)
    ks = list(range(2, 12))
    options = {"max_iter": 300, "tol": 1e-4 if stop_rule == "sklearn" else 1e-6}
    options.update(stop_rule=stop_rule, chains=[5] * len(ks))
    snapshots = []
    whole = fused_lloyd(X, ks, [5] * len(ks), on_pass=lambda s: snapshots.append(s()), **options)
    middle = len(snapshots) // 2
    assert 0 < len(snapshots[middle]) < len(ks)  # some runs have finished by then
    for at in (0, middle):
        states = dict(snapshots[at])
        # every run again: those of the snapshot go on from it, the others start over
        again = fused_lloyd(
            X, ks, [5] * len(ks), states=[states.get(i) for i in range(len(ks))], **options
        )
        # some alone, in another order, in other products
        picked = sorted(states, reverse=True)[:3]
        alone = fused_lloyd(
            X,
            [ks[i] for i in picked],
            [5] * len(picked),
            states=[states[i] for i in picked],
            **{**options, "chains": [5] * len(picked)},
        )
        for i, run in [*enumerate(again), *zip(picked, alone, strict=True)]:
            assert (run.inertia, run.n_iter) == (whole[i].inertia, whole[i].n_iter)
            np.testing.assert_array_equal(run.labels, whole[i].labels)
            assert run.centers.tobytes() == whole[i].centers.tobytes()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_finished_runs_are_rebuilt_from_their_centers_bit_for_bit(blobs, dtype, monkeypatch):
    X = blobs.astype(dtype)
    ks = [2, 3, 5, 9, 12]
    runs = fused_lloyd(X, ks, [4] * 5, max_iter=300, tol=1e-4, chains=[4] * 5)
    picked = [4, 0, 2]  # other runs beside them, in another order, in 256-row blocks
    monkeypatch.setattr(blocks_module, "BLOCK_BYTES", 256 * 26 * X.itemsize)
    again = fused_module.rebuild_runs(
        X,
        [ks[i] for i in picked],
        [4] * 3,
        [runs[i].centered.astype(np.float64) for i in picked],  # as a checkpoint reads them
        [runs[i].n_iter for i in picked],
    )
    for i, run in zip(picked, again, strict=True):
        np.testing.assert_array_equal(run.labels, runs[i].labels)
        assert run.centers.dtype == dtype
        assert run.centers.tobytes() == runs[i].centers.tobytes()
        assert run.inertia == runs[i].inertia and run.n_iter == runs[i].n_iter


def test_nan_padded_series_of_different_lengths_run_on_the_independent_engine():
    from tslearn.utils import to_time_series_dataset

    rng = np.random.default_rng(0)
    series = [np.sin(np.linspace(0, 3 * (i % 3 + 1), rng.integers(8, 12))) for i in range(60)]
    X = to_time_series_dataset(series)
    assert np.isnan(X).any()
    template = TimeSeriesKMeans(metric="euclidean", max_iter=5, random_state=0)
    with pytest.raises(ValueError, match=re.escape("X has NaN (series of different lengths")):
        KSweep(template, k_range=[2, 3, 4], n_init=1, engine="fused").fit(X)
    assert fused_module.fused_unsupported(template, X, None).startswith("X has NaN")


def test_nested_seeding_starts_each_k_from_a_prefix_of_its_restart_sequence(blobs):
    from ksweep._kmeanspp import nested_trials

    ks = [2, 5, 9]
    together = fused_lloyd(blobs, ks, [7, 7, 7], max_iter=20, tol=1e-4, chains=[7, 7, 7])
    largest = together[-1].init_centers
    for run in together:  # every k starts from the first k centers of one sequence
        np.testing.assert_array_equal(run.init_centers, largest[: run.k])
    for k in ks:  # ... drawn the same whatever the other k (no dependence on the k range)
        (alone,) = fused_lloyd(blobs, [k], [7], max_iter=20, tol=1e-4, chains=[7])
        match = next(run for run in together if run.k == k)
        np.testing.assert_array_equal(alone.init_centers, match.init_centers)
        assert alone.inertia == match.inertia
    other = fused_lloyd(blobs, [9], [8], max_iter=20, tol=1e-4, chains=[8])[0]
    assert not np.array_equal(other.init_centers, largest)  # another chain, another draw
    assert [nested_trials(c) for c in (1, 150, 500)] == [7, 7, 8]
