"""The tables of a sweep agree: to_frame() and to_text() name the same columns, k is a
column, apportioned times say so, and an n_iter the estimator does not report is missing."""

import re

import numpy as np
import pytest
from kmedoids import KMedoids
from sklearn.metrics import pairwise_distances

from ksweep import KSweep
from ksweep._results import SweepResult

pytestmark = pytest.mark.filterwarnings("ignore::ksweep.NoElbowWarning")


def _result(engine="independent", n_iter=((3, 4), (5, 2))):
    return SweepResult(
        k=[2, 3],
        restarts={
            "inertia": [[9.0, 7.0], [4.0, 5.0]],
            "raw_inertia": [[9.0, 7.0], [4.0, 5.0]],
            "n_iter": n_iter,
            "fit_time": [[0.1, 0.1], [0.2, 0.2]],
            "seed": [[11, 12], [13, 14]],
        },
        engine=engine,
        columns={"silhouette": [0.5, 0.25]},
    )


@pytest.mark.parametrize("engine", ["fused", "dask", "fused-stream", "spark-fused"])
def test_engines_sharing_a_pass_name_their_time_a_share(engine):
    result = _result(engine)
    assert result.time_column == "fit_time_share"
    assert result["fit_time_share"].tolist() == pytest.approx([0.2, 0.4])
    assert result["restart_fit_time_share"].shape == (2, 2)
    with pytest.raises(KeyError, match="fit_time_share"):
        result["restart_fit_time"]
    assert "fit_time_share" in result.to_frame().columns


@pytest.mark.parametrize("engine", ["independent", "incremental", "mllib"])
def test_measured_engines_keep_fit_time(engine):
    result = _result(engine)
    assert result.time_column == "fit_time" and "fit_time_share" not in result


def test_narrow_frame_and_text_have_the_same_columns_with_criteria():
    result = _result()
    frame = result.to_frame()
    expected = ["k", "inertia", "inertia_mean", "inertia_std", "n_iter", "fit_time", "silhouette"]
    assert list(frame.columns) == expected
    assert result.to_text().splitlines()[0].split() == expected
    assert frame["silhouette"].tolist() == [0.5, 0.25]
    wide = result.to_frame(wide=True)
    assert {"best_restart", "restart_inertia_0", "restart_seed_1"} <= set(wide.columns)


def test_an_unreported_n_iter_is_missing_not_minus_one():
    result = _result(n_iter=((-1, -1), (-1, -1)))
    assert result.to_frame()["n_iter"].isna().all()
    assert result.to_frame(wide=True)["restart_n_iter_0"].isna().all()
    rows = result.to_text().splitlines()[1:]
    assert all(row.split()[4] == "NA" for row in rows)


def test_kmedoids_sweep_reports_no_iterations():
    X = np.random.default_rng(0).normal(size=(30, 3))
    D = pairwise_distances(X)
    sweep = KSweep(KMedoids(2, metric="precomputed"), k_range=range(2, 5), n_init=1)
    sweep.fit(D)
    assert sweep.results_["n_iter"].tolist() == [-1, -1, -1]
    assert sweep.results_.to_frame()["n_iter"].isna().all()


# -- summary ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def blob_sweep():
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(n_samples=300, centers=3, cluster_std=0.5, random_state=0)
    return KSweep(k_range=range(2, 7), n_init=2, random_state=0).fit(X), X


def test_summary_with_x_shows_the_cheap_criteria_and_leaves_results_alone(blob_sweep):
    sweep, X = blob_sweep
    summary = sweep.summary(X)
    assert {"silhouette", "calinski_harabasz", "davies_bouldin"} <= set(summary)
    assert summary.chosen()["silhouette"] == 3
    assert "silhouette" not in sweep.results_


def test_summary_without_x_names_what_it_could_not_show(blob_sweep):
    sweep, _ = blob_sweep
    text = str(sweep.summary())
    assert "Not shown: silhouette, calinski_harabasz, davies_bouldin" in text
    assert "summary(X)" in text


def test_summary_says_when_the_methods_disagree(blob_sweep):
    sweep, X = blob_sweep
    summary = sweep.summary(X)
    last = str(summary).splitlines()[-1]
    groups = {}
    for name, k in summary.chosen().items():
        if name != "vote":
            groups.setdefault(k, []).append(name)
    if len(groups) > 1:
        assert last.startswith("The methods disagree:")
        for k, names in groups.items():
            assert f"k={k} ({', '.join(names)})" in last
    else:
        assert last.startswith("All ")
    agreeing = type(summary)({name: summary[name] for name in ("kneedle", "silhouette")})
    assert str(agreeing).splitlines()[-1] == "All 2 methods that chose a k agree: k=3."


def test_summary_refuses_data_other_than_the_training_data(blob_sweep):
    sweep, X = blob_sweep
    with pytest.raises(ValueError, match=r"summary must be the training data \(300 samples"):
        sweep.summary(X[:50])


# -- small gaps a new user hits -----------------------------------------------------------


def test_a_text_column_is_named_in_the_error():
    import pandas as pd

    X = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "region": ["north", "south", "east", "west"]})
    with pytest.raises(ValueError, match="non-numeric column 'region'") as info:
        KSweep(k_range=[1, 2, 3]).fit(X)
    assert "could not convert string to float: 'north'" in str(info.value)
    assert "OneHotEncoder" in str(info.value)


def test_a_text_column_of_a_dask_dataframe_is_named_before_any_compute():
    import dask
    import dask.dataframe as dd
    import pandas as pd

    frame = pd.DataFrame({"x": np.arange(8.0), "region": ["north", "south"] * 4})
    X = dd.from_pandas(frame, npartitions=2)
    with dask.config.set(scheduler=lambda *a, **k: pytest.fail("computed")):
        with pytest.raises(ValueError, match="non-numeric column 'region'"):
            KSweep(k_range=[1, 2, 3]).fit(X)


def test_nan_gets_clustering_advice_not_a_supervised_model():
    X = np.array([[1.0, np.nan], [2.0, 3.0], [4.0, 5.0]])
    with pytest.raises(ValueError, match=r"^Input X contains NaN\. KSweep clusters") as info:
        KSweep(k_range=[1, 2, 3]).fit(X)
    assert "SimpleImputer" in str(info.value)
    assert "HistGradientBoosting" not in str(info.value)


def test_kmedoids_on_distances_labels_new_samples_by_their_nearest_medoid():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 0.2, (15, 2)), rng.normal(5, 0.2, (15, 2))])
    D = pairwise_distances(X)
    sweep = KSweep(KMedoids(2, metric="precomputed"), k_range=range(2, 6), n_init=2)
    sweep.set_params(random_state=0, selection="silhouette").fit(D)
    assert sweep.best_k_ == 2
    medoids = sweep.best_estimator_.medoid_indices_
    new = np.array([[0.1, 0.0], [5.1, 4.9]])
    labels = sweep.predict(pairwise_distances(new, X[medoids]))
    assert labels.tolist() == [sweep.labels_[0], sweep.labels_[20]]
    with pytest.raises(ValueError, match=r"a finite \(n_new, 2\) matrix of distances"):
        sweep.predict(pairwise_distances(new, X))


def test_silhouette_is_scored_on_precomputed_distances():
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(1)
    X = np.concatenate([rng.normal(0, 0.3, (12, 2)), rng.normal(4, 0.3, (12, 2))])
    D = pairwise_distances(X)
    sweep = KSweep(KMedoids(2, metric="precomputed"), k_range=range(2, 5), n_init=1)
    sweep.set_params(scoring=("silhouette",), random_state=0).fit(D)
    for i, k in enumerate(sweep.results_["k"]):
        labels = sweep.estimators_[k].labels_
        expected = silhouette_score(D, labels, metric="precomputed")
        assert sweep.results_["silhouette"][i] == pytest.approx(expected)
    sampled = sweep.set_params(silhouette_sample=10).fit(D).results_
    assert sampled["silhouette_n_samples"].tolist() == [10, 10, 10]


@pytest.mark.parametrize(
    ("executor", "why"),
    [("serial", "executor='serial'"), ("instance", "an executor instance (ThreadPoolExecutor)")],
)
def test_n_jobs_an_executor_ignores_is_warned_about(executor, why):
    from concurrent.futures import ThreadPoolExecutor

    X = np.random.default_rng(0).normal(size=(40, 2))
    with ThreadPoolExecutor(1) as pool:
        chosen = pool if executor == "instance" else executor
        sweep = KSweep(k_range=range(2, 5), n_init=1, executor=chosen, n_jobs=-1)
        with pytest.warns(UserWarning, match=rf"n_jobs=-1 is not used by {re.escape(why)}") as w:
            sweep.fit(X)
    assert [x.filename for x in w if "n_jobs" in str(x.message)] == [__file__]
