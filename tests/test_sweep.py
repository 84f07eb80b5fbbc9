"""KSweep on the serial executor: results, seeds, delegation, selection, errors."""

import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from scipy import sparse
from sklearn.base import clone
from sklearn.cluster import DBSCAN, AgglomerativeClustering, KMeans, MiniBatchKMeans
from sklearn.datasets import load_digits, make_blobs
from sklearn.exceptions import NotFittedError
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from ksweep import (
    InvalidParameterError,
    KSweep,
    NoElbowWarning,
    SelectionResult,
    SerialExecutor,
    SweepTaskError,
    available_executors,
    kneedle,
)
from ksweep._families import within_cluster_sum_of_squares
from ksweep._fused import fused_lloyd

# Small k ranges on toy data often have no elbow; the fallback is tested on its own below.
pytestmark = pytest.mark.filterwarnings("ignore::ksweep.NoElbowWarning")


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=240, centers=4, cluster_std=0.6, random_state=3)
    return X, y


@pytest.fixture(scope="module")
def fitted(blobs):
    X, _ = blobs
    return KSweep(k_range=range(1, 9), n_init=4, random_state=0).fit(X)


# -- results_ ---------------------------------------------------------------------------


def test_results_columns_have_one_row_per_k(fitted):
    results = fitted.results_
    assert results["k"].tolist() == list(range(1, 9))
    for name, column in results.items():
        assert column.shape[0] == 8, name
    time = f"restart_{results.time_column}"
    for name in ("restart_inertia", "restart_n_iter", time, "restart_seed"):
        assert results[name].shape == (8, 4), name


def test_best_inertia_is_min_of_restarts_and_matches_estimators(fitted):
    results = fitted.results_
    restarts = results["restart_inertia"]
    np.testing.assert_array_equal(results["inertia"], restarts.min(axis=1))
    np.testing.assert_array_equal(results["best_restart"], restarts.argmin(axis=1))
    np.testing.assert_allclose(results["inertia_mean"], restarts.mean(axis=1))
    np.testing.assert_allclose(results["inertia_std"], restarts.std(axis=1))
    rows = np.arange(8)
    np.testing.assert_array_equal(
        results["n_iter"], results["restart_n_iter"][rows, results["best_restart"]]
    )
    time = results.time_column  # "fit_time_share" on the fused engine
    np.testing.assert_allclose(results[time], results[f"restart_{time}"].sum(axis=1))
    assert (results[f"restart_{time}"] > 0).all()
    for i, k in enumerate(results["k"]):
        model = fitted.estimators_[k]
        assert isinstance(model, KMeans) and model.n_clusters == k
        assert model.inertia_ == results["inertia"][i]
    i_best = results["k"].tolist().index(fitted.best_k_)
    assert fitted.best_estimator_.inertia_ == results["inertia"][i_best]


@pytest.mark.parametrize("engine", ["independent", "fused"])
def test_every_restart_is_reproducible_from_its_recorded_seed(blobs, engine):
    X, _ = blobs
    sweep = KSweep(k_range=range(1, 9), n_init=4, random_state=0, engine=engine).fit(X)
    results = sweep.results_
    assert results.engine == engine
    for i in (1, 4, 7):
        k = int(results["k"][i])
        for r in range(4):
            seed = int(results["restart_seed"][i, r])
            if engine == "independent":
                direct = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(X).inertia_
            else:  # the fused run alone, outside its group: its restart's nested seeding
                assert np.all(results["restart_seed"][:, r] == seed)  # one sequence, every k
                (run,) = fused_lloyd(X, [k], [seed], max_iter=300, tol=1e-4, chains=[seed])
                direct = run.inertia
            assert direct == pytest.approx(results["restart_inertia"][i, r], rel=1e-12)


def test_fitted_attributes_come_from_the_chosen_model(fitted):
    assert fitted.best_k_ == 4
    assert fitted.best_estimator_ is fitted.estimators_[4]
    assert fitted.elbow_.method == "auto" and fitted.elbow_.k == 4
    assert fitted.elbow_.details["method_result"].method == "kneedle"
    assert not fitted.structure_.no_structure
    np.testing.assert_array_equal(fitted.labels_, fitted.best_estimator_.labels_)
    np.testing.assert_array_equal(fitted.cluster_centers_, fitted.best_estimator_.cluster_centers_)
    assert fitted.cluster_centers_.shape == (4, 2)
    assert fitted.n_features_in_ == 2


def test_results_are_read_only_and_a_mapping(fitted):
    results = fitted.results_
    assert results.engine == "fused" and results.time_column == "fit_time_share"
    assert set(results) >= {"k", "inertia", "inertia_mean", "inertia_std", "n_iter"}
    assert "fit_time_share" in results and "fit_time" not in results
    assert len(results) == len(dict(results))
    with pytest.raises(ValueError, match="read-only"):
        results["inertia"][0] = 0.0


def test_to_frame_has_one_row_per_k_and_a_column_per_restart(fitted):
    frame = fitted.results_.to_frame(wide=True)
    assert frame["k"].tolist() == list(range(1, 9))
    np.testing.assert_array_equal(frame["inertia"].to_numpy(), fitted.results_["inertia"])
    np.testing.assert_array_equal(
        frame["restart_inertia_3"].to_numpy(), fitted.results_["restart_inertia"][:, 3]
    )


def test_to_frame_is_narrow_by_default_with_k_a_column(fitted):
    frame = fitted.results_.to_frame()
    assert list(frame.columns) == [
        "k", "inertia", "inertia_mean", "inertia_std", "n_iter", "fit_time_share"
    ]  # fmt: skip
    assert frame[["k", "inertia"]].shape == (8, 2)
    np.testing.assert_array_equal(frame["n_iter"].to_numpy(), fitted.results_["n_iter"])


def test_to_text_headers_are_the_frame_columns(fitted):
    header = fitted.results_.to_text().splitlines()[0].split()
    assert header == list(fitted.results_.to_frame().columns)


def test_a_shared_pass_time_is_named_a_share(fitted):
    with pytest.raises(KeyError, match=r"'fused' engine .* 'fit_time_share'"):
        fitted.results_["fit_time"]
    X = np.random.default_rng(0).normal(size=(60, 2))
    alone = KSweep(k_range=range(2, 5), n_init=2, engine="independent", random_state=0).fit(X)
    assert alone.results_.time_column == "fit_time"
    assert "fit_time" in alone.results_.to_frame().columns


def test_to_text_marks_the_chosen_k(fitted):
    lines = fitted.results_.to_text(marked_k=fitted.best_k_).splitlines()
    assert len(lines) == 1 + 8
    marked = [line for line in lines if line.endswith("<--")]
    assert len(marked) == 1 and marked[0].split()[0] == str(fitted.best_k_)


def test_default_estimator_is_kmeans_and_default_range_is_2_to_10():
    X, _ = make_blobs(n_samples=120, centers=3, random_state=0)
    sweep = KSweep(n_init=1, random_state=0).fit(X)
    assert sweep.results_["k"].tolist() == list(range(2, 11))
    assert type(sweep.best_estimator_) is KMeans


# -- seeds and reproducibility ----------------------------------------------------------


def _comparable(results):
    return {name: value for name, value in results.items() if "fit_time" not in name}


def _assert_same_results(a, b):
    for name, value in _comparable(a).items():
        np.testing.assert_array_equal(value, b[name], err_msg=name)


def test_same_random_state_gives_identical_results(blobs):
    X, _ = blobs
    a = KSweep(k_range=range(2, 7), n_init=3, random_state=7).fit(X)
    b = KSweep(k_range=range(2, 7), n_init=3, random_state=7).fit(X)
    _assert_same_results(a.results_, b.results_)
    np.testing.assert_array_equal(a.labels_, b.labels_)


@pytest.mark.parametrize("engine", ["independent", "fused"])
def test_seed_of_each_task_comes_from_seed_sequence_spawn_key(blobs, engine):
    X, _ = blobs
    fitted = KSweep(k_range=range(1, 9), n_init=4, random_state=0, engine=engine).fit(X)
    assert fitted.results_.engine == engine
    seeds = fitted.results_["restart_seed"]
    n_run = fitted.results_["n_restarts_run"]  # the repair's restarts have seeds too
    for i, k in enumerate(fitted.results_["k"]):
        for r in range(n_run[i]):
            # independent: one seed per (k, restart); fused: one nested sequence per restart
            key = (int(k), r) if engine == "independent" else (0, 2**32 - 1, r, 0)
            expected = np.random.SeedSequence(0, spawn_key=key).generate_state(1)[0]
            assert seeds[i, r] == expected
        assert (seeds[i, n_run[i] :] == -1).all()  # restarts this k did not run


def test_seeds_do_not_depend_on_the_k_range(blobs):
    X, _ = blobs
    a = KSweep(k_range=range(2, 6), n_init=2, random_state=11).fit(X)
    b = KSweep(k_range=[4, 5, 6, 9], n_init=2, random_state=11).fit(X)
    for k in (4, 5):
        ia, ib = a.results_["k"].tolist().index(k), b.results_["k"].tolist().index(k)
        np.testing.assert_array_equal(
            a.results_["restart_seed"][ia], b.results_["restart_seed"][ib]
        )
        np.testing.assert_array_equal(
            a.results_["restart_inertia"][ia], b.results_["restart_inertia"][ib]
        )


def test_different_or_missing_random_state_changes_the_seeds(blobs):
    X, _ = blobs
    seeds = [
        KSweep(k_range=[2, 3, 4], n_init=2, random_state=rs).fit(X).results_["restart_seed"]
        for rs in (1, 2, None, None)
    ]
    for i in range(4):
        for j in range(i + 1, 4):
            assert not np.array_equal(seeds[i], seeds[j])


@pytest.mark.parametrize(
    "make_state", [lambda: np.random.RandomState(5), lambda: np.random.default_rng(5)]
)
def test_random_state_objects_are_accepted_and_reproducible(blobs, make_state):
    X, _ = blobs
    a = KSweep(k_range=[2, 3, 4], n_init=2, random_state=make_state()).fit(X)
    b = KSweep(k_range=[2, 3, 4], n_init=2, random_state=make_state()).fit(X)
    _assert_same_results(a.results_, b.results_)


# -- executors --------------------------------------------------------------------------


class RecordingExecutor(SerialExecutor):
    """A serial executor that remembers the k of every task submitted."""

    def __init__(self):
        super().__init__()
        self.submitted_k = []

    def submit(self, fn, /, *args, **kwargs):
        self.submitted_k.append(args[2])
        return super().submit(fn, *args, **kwargs)


def test_tasks_are_submitted_largest_k_first(blobs):
    X, _ = blobs
    executor = RecordingExecutor()
    KSweep(
        k_range=[2, 3, 5, 8], n_init=2, executor=executor, random_state=0, engine="independent"
    ).fit(X)
    assert executor.submitted_k == [8, 8, 5, 5, 3, 3, 2, 2]


def test_user_executor_gives_serial_results_and_is_not_shut_down(blobs):
    X, _ = blobs
    serial = KSweep(k_range=range(2, 7), n_init=3, random_state=4).fit(X)
    with ThreadPoolExecutor(max_workers=2) as pool:
        threaded = KSweep(k_range=range(2, 7), n_init=3, random_state=4, executor=pool).fit(X)
        assert pool.submit(sum, [1, 2]).result() == 3  # still usable: ksweep did not shut it down
    _assert_same_results(serial.results_, threaded.results_)
    assert serial.best_k_ == threaded.best_k_


# -- delegation -------------------------------------------------------------------------


def test_predict_transform_score_delegate_to_best_estimator(blobs, fitted):
    X, _ = blobs
    best = fitted.best_estimator_
    np.testing.assert_array_equal(fitted.predict(X), best.predict(X))
    np.testing.assert_allclose(fitted.transform(X), best.transform(X))
    assert fitted.score(X) == pytest.approx(best.score(X))
    assert fitted.score(X) == pytest.approx(-best.inertia_)


def test_fit_predict_and_fit_transform_match_fit_then_method(blobs):
    X, _ = blobs
    sweep = KSweep(k_range=range(2, 7), n_init=2, random_state=0)
    labels = sweep.fit_predict(X)
    np.testing.assert_array_equal(labels, sweep.labels_)
    distances = clone(sweep).fit_transform(X)
    np.testing.assert_allclose(distances, sweep.transform(X))
    assert distances.shape == (X.shape[0], sweep.best_k_)


def test_methods_exist_only_where_the_estimator_has_them(blobs):
    X, _ = blobs
    agglo = KSweep(AgglomerativeClustering(), k_range=range(2, 7), n_init=1)
    for name in ("predict", "transform", "score"):
        assert not hasattr(agglo, name)
    assert hasattr(agglo, "fit_predict")
    gmm = KSweep(GaussianMixture(), k_range=range(2, 7), n_init=1, random_state=0).fit(X)
    assert hasattr(gmm, "predict") and hasattr(gmm, "score") and not hasattr(gmm, "transform")
    np.testing.assert_array_equal(gmm.predict(X), gmm.best_estimator_.predict(X))
    assert gmm.score(X) == pytest.approx(gmm.best_estimator_.score(X))


def test_predict_before_fit_raises_not_fitted():
    with pytest.raises(NotFittedError, match="This KSweep instance is not fitted yet"):
        KSweep().predict(np.zeros((3, 2)))


def test_predict_with_wrong_number_of_features_names_both(fitted):
    with pytest.raises(
        ValueError, match="X has 3 features, but KSweep is expecting 2 features as input"
    ):
        fitted.predict(np.zeros((4, 3)))


def test_pipeline_with_scaler(blobs):
    X, _ = blobs
    X = X * np.array([1.0, 100.0]) + 5.0
    pipe = Pipeline(
        [("scale", StandardScaler()), ("sweep", KSweep(k_range=range(2, 8), random_state=0))]
    )
    pipe.set_params(sweep__n_init=3, sweep__estimator=KMeans(max_iter=50))
    labels = pipe.fit(X).predict(X)
    sweep = pipe.named_steps["sweep"]
    assert sweep.best_estimator_.max_iter == 50
    scaled = StandardScaler().fit_transform(X)
    direct = KSweep(KMeans(max_iter=50), k_range=range(2, 8), n_init=3, random_state=0).fit(scaled)
    np.testing.assert_array_equal(labels, direct.predict(scaled))
    assert sweep.best_k_ == direct.best_k_
    assert make_pipeline(StandardScaler(), clone(sweep)).fit(X).score(X) < 0


def test_clone_and_params_round_trip():
    sweep = KSweep(MiniBatchKMeans(batch_size=64), k_range=[2, 4, 8], n_init=3, random_state=1)
    params = sweep.get_params()
    assert params["estimator__batch_size"] == 64 and params["k_range"] == [2, 4, 8]
    copy = clone(sweep)
    assert copy.get_params(deep=False).keys() == sweep.get_params(deep=False).keys()
    assert copy.k_range == [2, 4, 8] and copy.estimator is not sweep.estimator
    assert KSweep().get_params()["k_range"] == range(2, 11)


def test_user_estimator_is_not_modified(blobs):
    X, _ = blobs
    estimator = KMeans(n_clusters=7, n_init=5, random_state=123)
    KSweep(estimator, k_range=[2, 3, 4], n_init=2, random_state=0).fit(X)
    assert estimator.get_params()["n_clusters"] == 7
    assert estimator.get_params()["n_init"] == 5
    assert not hasattr(estimator, "cluster_centers_")


# -- estimator families -----------------------------------------------------------------


def test_mixture_models_sweep_n_components(blobs):
    X, _ = blobs
    sweep = KSweep(GaussianMixture(), k_range=range(1, 8), n_init=2, random_state=0).fit(X)
    assert [sweep.estimators_[k].n_components for k in range(1, 8)] == list(range(1, 8))
    # no inertia_: the within-cluster sum of squares of the predicted labels is used
    model = sweep.estimators_[3]
    expected = within_cluster_sum_of_squares(X, model.predict(X))
    assert sweep.results_["inertia"][2] == pytest.approx(expected)
    assert sweep.best_k_ == 4


def test_estimator_without_random_state_runs_once_per_k_with_a_warning(blobs):
    X, _ = blobs
    with pytest.warns(UserWarning, match="AgglomerativeClustering has no 'random_state'"):
        sweep = KSweep(AgglomerativeClustering(), k_range=range(2, 7), n_init=3).fit(X)
    assert sweep.results_["restart_inertia"].shape == (5, 1)
    assert sweep.best_k_ == 4
    np.testing.assert_array_equal(sweep.labels_, sweep.best_estimator_.labels_)


def test_within_cluster_sum_of_squares_dense_and_sparse():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5))
    X[X < 0.3] = 0.0
    labels = rng.integers(0, 4, size=60)
    brute = sum(
        np.sum((X[i] - X[labels == labels[i]].mean(axis=0)) ** 2) for i in range(X.shape[0])
    )
    assert within_cluster_sum_of_squares(X, labels) == pytest.approx(brute, rel=1e-10)
    assert within_cluster_sum_of_squares(sparse.csr_matrix(X), labels) == pytest.approx(
        brute, rel=1e-10
    )


def test_sparse_input_is_fitted_like_dense(blobs):
    X, _ = blobs
    X = np.abs(X)
    X[X < 2.0] = 0.0
    dense = KSweep(k_range=range(2, 6), n_init=2, random_state=0, engine="independent").fit(X)
    sp = KSweep(k_range=range(2, 6), n_init=2, random_state=0).fit(sparse.csr_matrix(X))
    np.testing.assert_allclose(sp.results_["inertia"], dense.results_["inertia"], rtol=1e-6)
    np.testing.assert_array_equal(sp.predict(sparse.csr_matrix(X)), dense.predict(X))


# -- selection --------------------------------------------------------------------------


def _brute_force_two_segment(k, scores):
    best_k, best = None, -np.inf
    for split in range(2, len(k) - 1):
        r2 = []
        for xs, ys in ((k[:split], scores[:split]), (k[split:], scores[split:])):
            fitted_line = np.polyval(np.polyfit(xs, ys, 1), xs)
            r2.append(1 - np.sum((ys - fitted_line) ** 2) / np.sum((ys - ys.mean()) ** 2))
        if np.mean(r2) > best:
            best_k, best = k[split], np.mean(r2)
    return best_k


def test_two_segment_selection_on_digits_matches_brute_force():
    X = StandardScaler().fit_transform(load_digits().data)
    sweep = KSweep(k_range=range(2, 16), n_init=2, selection="two_segment", random_state=0)
    sweep.fit(X)
    k, inertia = sweep.results_["k"], sweep.results_["inertia"]
    assert sweep.best_k_ == _brute_force_two_segment(k.astype(float), inertia)
    assert sweep.elbow_.method == "two_segment"
    assert sweep.best_estimator_.n_clusters == sweep.best_k_


def test_selection_callable_gets_k_and_results_and_returns_a_result_or_an_int(blobs):
    X, _ = blobs
    seen = {}

    def pick_smallest_below(k, results):
        seen["args"] = (k, results)
        inertia = results["inertia"]
        return int(k[np.argmax(inertia < 0.2 * inertia[0])])

    sweep = KSweep(k_range=range(1, 8), n_init=2, random_state=0, selection=pick_smallest_below)
    sweep.fit(X)
    k, results = seen["args"]
    np.testing.assert_array_equal(k, sweep.results_["k"])
    assert results is sweep.results_
    assert sweep.best_k_ == pick_smallest_below(k, results)
    assert sweep.elbow_.method == "pick_smallest_below"

    def gentle_kneedle(k, results):
        return kneedle(k, np.log(results["inertia"]), sensitivity=0.5)

    sweep.set_params(selection=gentle_kneedle).fit(X)
    assert isinstance(sweep.elbow_, SelectionResult)
    assert sweep.best_k_ == kneedle(k, np.log(results["inertia"]), sensitivity=0.5).k


def test_selection_returning_an_unfitted_k_is_an_error(blobs):
    X, _ = blobs
    sweep = KSweep(k_range=[2, 3, 4], n_init=1, selection=lambda k, s: 7)
    with pytest.raises(
        InvalidParameterError, match=r"returns one of the fitted k values \[2, 3, 4\]"
    ):
        sweep.fit(X)


def test_no_elbow_warns_and_falls_back_to_the_largest_k():
    # evenly spaced points on a line: inertia falls without any elbow in k = 2..4
    X = np.arange(40, dtype=float).reshape(-1, 1)
    # kneedle itself (the default "auto" also finds no structure here and says so)
    sweep = KSweep(k_range=[2, 3, 4], n_init=2, random_state=0, selection="kneedle")
    with pytest.warns(NoElbowWarning, match=r"chose no k \(no knee found.*using the largest k=4"):
        sweep.fit(X)
    assert sweep.elbow_.k is None
    assert sweep.best_k_ == 4 and sweep.best_estimator_.n_clusters == 4


# -- task failures ----------------------------------------------------------------------


class FailsAtThree(KMeans):
    def fit(self, X, y=None, sample_weight=None):
        if self.n_clusters == 3:
            raise ArithmeticError("boom at three")
        return super().fit(X, y, sample_weight)


def test_failing_task_names_k_and_restart_and_keeps_finished_work(blobs):
    X, _ = blobs
    sweep = KSweep(FailsAtThree(), k_range=[2, 3, 4, 5], n_init=2, random_state=0)
    with pytest.raises(SweepTaskError, match=r"FailsAtThree with k=3 \(restart 0\) failed") as info:
        sweep.fit(X)
    err = info.value
    assert (err.k, err.restart) == (3, 0)
    assert isinstance(err.__cause__, ArithmeticError)
    assert sorted(key for key, _ in err.completed) == [(4, 0), (4, 1), (5, 0), (5, 1)]
    models = [(key, rec.estimator) for key, rec in err.completed if rec.estimator is not None]
    assert sorted(key[0] for key, _ in models) == [
        4,
        5,
    ]  # the best restart of each k keeps its model
    assert all(model.n_clusters == key[0] for key, model in models)
    assert not hasattr(sweep, "results_")


# -- bad input --------------------------------------------------------------------------

X_SMALL = np.random.default_rng(0).normal(size=(20, 3))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"k_range": []}, "The 'k_range' parameter of KSweep must be non-empty. Got [] instead."),
        ({"k_range": range(3, 3)}, "must be non-empty. Got range(3, 3) instead."),
        ({"k_range": [2, 3.5]}, "must be a range or a 1-D array-like of ints. Got [2, 3.5]"),
        ({"k_range": "2-5"}, "must be a range or a 1-D array-like of ints. Got '2-5' instead."),
        ({"k_range": 5}, "must be a range or a 1-D array-like of ints. Got 5 instead."),
        ({"k_range": [[2, 3]]}, "must be a range or a 1-D array-like of ints. Got [[2, 3]]"),
        ({"k_range": [True, 2]}, "must be a range or a 1-D array-like of ints. Got [True, 2]"),
        ({"k_range": [0, 1, 2]}, "must be made of ints >= 1. Got [0, 1, 2] instead."),
        ({"k_range": range(-2, 3)}, "must be made of ints >= 1. Got range(-2, 3) instead."),
        ({"k_range": [2, 3, 3]}, "must be free of duplicated values. Got [2, 3, 3] instead."),
        ({"k_range": [4, 2, 3]}, "must be sorted in increasing order. Got [4, 2, 3] instead."),
        (
            {"k_range": range(2, 30)},
            "must be made of ints <= n_samples=20 (the number of samples in X). "
            "Got range(2, 30) instead.",
        ),
        (
            {"k_range": [2, 3]},
            "The 'k_range' parameter of KSweep must be at least 3 values long for "
            "selection='auto'. Got [2, 3] instead.",
        ),
        (
            {"k_range": [2, 3, 4], "selection": "two_segment"},
            "must be at least 4 values long for selection='two_segment'. Got [2, 3, 4] instead.",
        ),
        (
            {"elbow_scale": "log2"},
            "The 'elbow_scale' parameter of KSweep must be a str among {'auto', 'log', "
            "'linear'}. Got 'log2' instead.",
        ),
        ({"n_init": 0}, "The 'n_init' parameter of KSweep must be an int in the range [1, inf)."),
        ({"n_init": -3}, "must be an int in the range [1, inf). Got -3 instead."),
        ({"n_init": 2.0}, "must be an int in the range [1, inf). Got 2.0 instead."),
        ({"n_init": "10"}, "must be an int in the range [1, inf). Got '10' instead."),
        ({"n_jobs": 0}, "The 'n_jobs' parameter of KSweep must be a nonzero int or None. Got 0"),
        (
            {"random_state": -1},
            "The 'random_state' parameter of KSweep must be an int in the range [0, inf), "
            "a numpy RandomState or Generator or None. Got -1 instead.",
        ),
        (
            {"selection": "elbow"},
            "The 'selection' parameter of KSweep must be a str among {'auto', 'kneedle', "
            "'two_segment', 'silhouette', 'calinski_harabasz', 'davies_bouldin', 'gap', 'bic', "
            "'vote'} or a callable. Got 'elbow' instead.",
        ),
        (
            {"scoring": ("silhouette", "dunn")},
            "The 'scoring' parameter of KSweep must be a tuple of str among {'silhouette', "
            "'calinski_harabasz', 'davies_bouldin', 'gap'}, a str among {'silhouette', "
            "'calinski_harabasz', 'davies_bouldin', 'gap'} or None. Got ('silhouette', 'dunn') "
            "instead.",
        ),
        (
            {"silhouette_sample": 1},
            "The 'silhouette_sample' parameter of KSweep must be an int in the range [2, inf) "
            "or None. Got 1 instead.",
        ),
        (
            {"gap_references": 0},
            "The 'gap_references' parameter of KSweep must be an int in the range [1, inf). "
            "Got 0 instead.",
        ),
        (
            {"gap_reference": "normal"},
            "The 'gap_reference' parameter of KSweep must be a str among {'uniform', 'pca'}. "
            "Got 'normal' instead.",
        ),
        (
            {"executor": "gpu"},
            "The 'executor' parameter of KSweep must be a str among {"
            + ", ".join(repr(name) for name in available_executors())
            + "}, an instance of concurrent.futures.Executor or a distributed.Client. "
            "Got 'gpu' instead.",
        ),
        (
            {"inner_threads": 0},
            "The 'inner_threads' parameter of KSweep must be a str among {'auto'}, an int in "
            "the range [1, inf) or None. Got 0 instead.",
        ),
        (
            {"progress": "yes"},
            "The 'progress' parameter of KSweep must be a bool. Got 'yes' instead.",
        ),
        (
            {"n_jobs": -5000},
            "The 'n_jobs' parameter of KSweep must be a number that leaves at least one worker on",
        ),
        (
            {"estimator": DBSCAN()},
            "The 'estimator' parameter of KSweep must be a clusterer whose number of clusters "
            "is a parameter ('n_clusters' or 'n_components'); DBSCAN has none of them. "
            "Got DBSCAN() instead.",
        ),
        (
            {"estimator": "kmeans"},
            "The 'estimator' parameter of KSweep must be a scikit-learn style estimator with "
            "fit and get_params. Got 'kmeans' instead.",
        ),
    ],
)
def test_bad_parameters_raise_with_parameter_and_value(params, message):
    with pytest.raises(InvalidParameterError, match=re.escape(message)):
        KSweep(**{"k_range": range(2, 5), **params}).fit(X_SMALL)


@pytest.mark.parametrize(
    ("X", "message"),
    [
        (np.array([[0.0, 1.0], [np.nan, 2.0], [1.0, 1.0]]), "Input X contains NaN."),
        (np.array([[0.0, 1.0], [np.inf, 2.0], [1.0, 1.0]]), "Input X contains infinity"),
        (np.zeros((0, 3)), "Found array with 0 sample(s)"),
        (np.zeros((1, 3)), "Found array with 1 sample(s) (shape=(1, 3)) while a minimum of 2"),
        (np.array([["a", "b"], ["c", "d"]]), "could not convert string to float"),
        (np.ones((4, 2)) * (1 + 1j), "Complex data not supported"),
        (np.zeros((4, 2, 2)), "Found array with dim 3, while dim <= 2 is required by KSweep."),
    ],
)
def test_bad_X_raises_before_any_fit(X, message):
    executor = RecordingExecutor()
    with pytest.raises(ValueError, match=re.escape(message)):
        KSweep(k_range=[1, 2, 3], executor=executor).fit(X)
    assert executor.submitted_k == []


def test_bad_parameters_are_reported_before_any_task_runs():
    executor = RecordingExecutor()
    with pytest.raises(InvalidParameterError, match="n_samples=20"):
        KSweep(k_range=range(2, 40), executor=executor).fit(X_SMALL)
    assert executor.submitted_k == []
