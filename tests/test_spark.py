"""ksweep.spark's MLlib engine on a real local[2] SparkSession: each number is checked against
MLlib itself (the fused engine: test_spark_fused.py)."""

from __future__ import annotations

import sys
import warnings

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from pyspark.ml.clustering import KMeans
from pyspark.ml.evaluation import ClusteringEvaluator
from pyspark.ml.functions import vector_to_array
from pyspark.ml.linalg import Vectors
from pyspark.sql import types as T
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError
from sklearn.metrics import adjusted_rand_score

from ksweep import InvalidParameterError, NoStructureWarning, SweepResult, SweepTaskError
from ksweep._seeding import seed_entropy, task_seeds
from ksweep.exceptions import UnderConvergedWarning
from ksweep.spark import SparkKSweep, assemble_features

TRUE_K = 5


def _frame(spark, X, column="features"):
    schema = T.StructType([T.StructField(column, T.ArrayType(T.DoubleType(), False))])
    rows = [(x,) for x in np.asarray(X, dtype=float).tolist()]
    arrays = spark.createDataFrame(rows, schema).repartition(2)
    from pyspark.ml.functions import array_to_vector

    return arrays.select(array_to_vector(column).alias(column))


@pytest.fixture(scope="module")
def blobs(spark):
    X, y = make_blobs(n_samples=600, centers=TRUE_K, n_features=3, cluster_std=0.6, random_state=1)
    # one row per sample, in order, so labels line up with the true ones
    schema = T.StructType(
        [T.StructField("i", T.LongType()), T.StructField("features", T.ArrayType(T.DoubleType()))]
    )
    from pyspark.ml.functions import array_to_vector

    df = (
        spark.createDataFrame([(i, x) for i, x in enumerate(X.tolist())], schema)
        .repartition(2)
        .select("i", array_to_vector("features").alias("features"))
        .cache()
    )
    df.count()
    yield df, y
    df.unpersist()


@pytest.fixture(scope="module")
def uniform(spark):
    """No cluster structure: different seeds end in different local optima."""
    X = np.random.default_rng(7).uniform(size=(400, 4))
    df = _frame(spark, X).cache()
    df.count()
    yield df
    df.unpersist()


@pytest.fixture(scope="module")
def blob_sweep(blobs):
    df, _ = blobs
    return SparkKSweep(
        k_range=range(2, 10),
        n_init=2,
        random_state=0,
        scoring="silhouette",
        concurrency=2,
        engine="mllib",
    ).fit(df)


def _direct_cost(df, k, seed, **params):
    return KMeans(k=k, seed=seed, **params).fit(df)


def _first(k, results):
    return int(k[0])


def _cache_is_empty(spark):
    return spark._jsparkSession.sharedState().cacheManager().isEmpty()


# -- the numbers are MLlib's -------------------------------------------------------------


def test_training_cost_of_every_restart_equals_a_direct_mllib_fit_with_its_seed(uniform):
    sweep = SparkKSweep(
        k_range=range(3, 7),
        n_init=2,
        random_state=3,
        max_iter=15,
        selection=lambda k, r: 3,
        engine="mllib",
    ).fit(uniform)
    results = sweep.results_
    assert isinstance(results, SweepResult)
    seeds = results["restart_seed"]
    # the seeds are ksweep's: the ones KSweep gives these tasks with the same random_state
    np.testing.assert_array_equal(seeds, task_seeds(seed_entropy(3), np.arange(3, 7), 2))
    costs = results["restart_inertia"]
    for i, k in enumerate(results["k"]):
        for r in range(2):
            model = _direct_cost(uniform, int(k), int(seeds[i, r]), maxIter=15)
            assert costs[i, r] == pytest.approx(model.summary.trainingCost, rel=1e-12)
            assert results["restart_n_iter"][i, r] == model.summary.numIter
        best = int(np.argmin(costs[i]))
        assert results["best_restart"][i] == best
        assert results["inertia"][i] == costs[i, best] == results["raw_inertia"][i]
        assert sweep.models_[int(k)].summary.trainingCost == costs[i, best]
        assert sweep.models_[int(k)].getK() == k
    # the comparison can fail: on this data the seed changes the cost
    assert np.any(costs[:, 0] != costs[:, 1])
    assert np.all(results["restart_fit_time"] > 0)


def test_the_sweep_picks_the_true_k_on_well_separated_blobs(blob_sweep):
    assert blob_sweep.best_k_ == TRUE_K
    assert blob_sweep.elbow_.method == "auto"  # the default: kneedle, as there is structure
    assert blob_sweep.elbow_.details["method_result"].method == "kneedle"
    assert not blob_sweep.structure_.no_structure
    assert blob_sweep.elbow_.k == TRUE_K
    chosen = blob_sweep.summary().chosen()
    assert chosen == {
        "auto": TRUE_K,
        "kneedle": TRUE_K,
        "two_segment": TRUE_K,
        "silhouette": TRUE_K,
        "vote": TRUE_K,
    }
    assert "silhouette" in str(blob_sweep.summary())
    assert blob_sweep.best_model_ is blob_sweep.models_[TRUE_K]
    results = blob_sweep.results_
    for i, k in enumerate(results["k"]):  # the kept model is the best restart, first on ties
        best_seed = results["restart_seed"][i, results["best_restart"][i]]
        assert blob_sweep.models_[int(k)].getSeed() == best_seed
    assert blob_sweep.cluster_centers_.shape == (TRUE_K, 3)
    assert blob_sweep.n_features_in_ == 3
    assert blob_sweep.n_rows_ == 600


def test_the_default_warns_that_uniform_noise_has_no_structure(uniform):
    # Spark cannot sweep k=1, so "no structure" is a warning and kneedle's k stays
    sweep = SparkKSweep(k_range=range(2, 8), random_state=0)
    with pytest.warns(NoStructureWarning, match="no cluster structure .*k=1 is not in k_range"):
        sweep.fit(uniform)
    assert sweep.structure_.no_structure and sweep.structure_.n_references == 10
    assert sweep.summary()["auto"].reason.startswith("no structure: gap(1) = ")


def test_silhouette_equals_clustering_evaluator_on_the_best_model_of_each_k(blobs, blob_sweep):
    df, _ = blobs
    evaluator = ClusteringEvaluator(metricName="silhouette", distanceMeasure="squaredEuclidean")
    for i, k in enumerate(blob_sweep.results_["k"]):
        expected = evaluator.evaluate(blob_sweep.models_[int(k)].transform(df))
        assert blob_sweep.results_["silhouette"][i] == pytest.approx(expected, rel=1e-12)
    assert np.all(blob_sweep.results_["silhouette_n_samples"] == 600)


def test_predict_and_transform_go_through_the_best_kmeans_model(blobs, blob_sweep):
    df, y = blobs
    out = blob_sweep.predict(df).orderBy("i").select("prediction").collect()
    labels = np.array([row.prediction for row in out])
    assert adjusted_rand_score(y, labels) == 1.0
    direct = blob_sweep.best_model_.transform(df).orderBy("i").select("prediction").collect()
    np.testing.assert_array_equal(labels, [row.prediction for row in direct])
    assert blob_sweep.transform(df).columns == ["i", "features", "prediction"]
    center = blob_sweep.cluster_centers_[2]
    assert blob_sweep.predict(Vectors.dense(center)) == 2


def test_results_table_frame_and_plot_work_unchanged(blob_sweep):
    frame = blob_sweep.results_.to_frame(wide=True)
    assert frame["k"].tolist() == list(range(2, 10))
    assert {"inertia", "silhouette", "restart_seed_0", "restart_seed_1"} <= set(frame.columns)
    assert "<--" in blob_sweep.results_.to_text(marked_k=blob_sweep.best_k_)
    fig = blob_sweep.plot()
    assert len(fig.axes) >= 2  # elbow (+ its twin axis) and the silhouette panel
    _, ax = plt.subplots()
    assert blob_sweep.plot(ax=ax) is ax
    plt.close("all")


# -- concurrency, caching, failures ------------------------------------------------------


def test_results_do_not_depend_on_concurrency_and_vector_or_array_columns_agree(uniform):
    params = dict(
        k_range=[2, 4, 5, 8], n_init=1, random_state=11, selection=lambda k, r: 4, engine="mllib"
    )
    one = SparkKSweep(concurrency=1, **params).fit(uniform)
    three = SparkKSweep(concurrency=3, **params).fit(uniform)
    np.testing.assert_array_equal(one.results_["restart_seed"], three.results_["restart_seed"])
    np.testing.assert_allclose(
        one.results_["restart_inertia"], three.results_["restart_inertia"], rtol=1e-12
    )
    assert one.best_k_ == three.best_k_ == 4
    arrays = uniform.select(vector_to_array("features").alias("arr"))
    on_arrays = SparkKSweep(features_col="arr", concurrency=2, **params).fit(arrays)
    np.testing.assert_allclose(
        on_arrays.results_["restart_inertia"], one.results_["restart_inertia"], rtol=1e-12
    )


def test_the_input_is_cached_once_and_released_only_if_the_sweep_cached_it(spark, uniform):
    assert not _cache_is_empty(spark)  # the fixtures' frames
    spark.catalog.clearCache()
    plain = uniform.select("features")
    mllib = dict(k_range=[2, 3, 4], n_init=1, random_state=0, selection=_first, engine="mllib")
    try:
        assert _cache_is_empty(spark) and not plain.storageLevel.useMemory
        SparkKSweep(**mllib).fit(plain)
        assert _cache_is_empty(spark)  # what it cached is gone
        cached = plain.cache()
        SparkKSweep(**mllib).fit(cached)
        assert cached.storageLevel.useMemory  # the user's cache is left alone
        cached.unpersist()
    finally:
        uniform.cache().count()


def test_a_failing_fit_names_its_k_and_restart_and_keeps_finished_fits(spark, uniform, monkeypatch):
    real_fit = KMeans.fit

    def flaky_fit(self, dataset, params=None):
        if self.getK() == 3 and self.getSeed() == seeds[1, 1]:
            raise RuntimeError("executor lost")
        return real_fit(self, dataset, params)

    seeds = task_seeds(seed_entropy(5), np.array([2, 3, 4]), 2)
    monkeypatch.setattr(KMeans, "fit", flaky_fit)
    plain = uniform.select("features")
    spark.catalog.clearCache()
    try:
        with pytest.raises(SweepTaskError, match=r"k=3 \(restart 1\).*executor lost") as info:
            SparkKSweep(
                k_range=[2, 3, 4], n_init=2, random_state=5, concurrency=1, engine="mllib"
            ).fit(plain)
        assert (info.value.k, info.value.restart) == (3, 1)
        assert isinstance(info.value.__cause__, RuntimeError)
        # largest k first, one at a time: k=4 and restart 0 of k=3 had finished
        assert [key for key, _ in info.value.completed] == [(4, 0), (4, 1), (3, 0)]
        assert _cache_is_empty(spark)
    finally:
        uniform.cache().count()


# -- validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"k_range": range(1, 5)},
            "The 'k_range' parameter of SparkKSweep must be made of ints >= 2",
        ),
        ({"concurrency": 0}, "The 'concurrency' parameter of SparkKSweep must be an int in the"),
        ({"selection": "gap"}, "The 'selection' parameter of SparkKSweep must be a str among"),
        ({"scoring": ("gap",)}, "The 'scoring' parameter of SparkKSweep must be a tuple of str"),
        ({"n_init": 0}, "The 'n_init' parameter of SparkKSweep must be an int in the range"),
        ({"k_range": [2, 3]}, "must be at least 3 values long for selection='auto'"),
        ({"k_range": range(2, 600)}, r"must be made of ints <= the number of rows \(400\)"),
    ],
)
def test_bad_parameters_are_refused_in_scikit_learn_style(uniform, params, message):
    with pytest.raises(InvalidParameterError, match=message):
        SparkKSweep(**params).fit(uniform)


def test_a_missing_or_non_vector_features_column_is_refused_clearly(spark, uniform):
    with pytest.raises(ValueError, match=r"features column 'xyz' is not in the DataFrame"):
        SparkKSweep(features_col="xyz").fit(uniform)
    numbers = spark.createDataFrame([(1.0, "a"), (2.0, "b"), (3.0, "c")], ["x", "s"])
    with pytest.raises(ValueError, match=r"must hold vectors .* Got double instead.*assemble"):
        SparkKSweep(features_col="x").fit(numbers)
    with pytest.raises(TypeError, match="expects a Spark DataFrame"):
        SparkKSweep().fit(np.zeros((10, 2)))
    with pytest.raises(NotFittedError):
        SparkKSweep().summary()


def test_assemble_features_builds_the_vector_column(spark):
    df = spark.createDataFrame([(1.0, 2, 3.5), (4.0, 5, 6.5)], ["a", "b", "c"])
    out = assemble_features(df, ["c", "a"])
    assert out.columns == ["a", "b", "c", "features"]
    assert [row.features.toArray().tolist() for row in out.collect()] == [[3.5, 1.0], [6.5, 4.0]]
    with pytest.raises(ValueError, match=r"columns \['z'\] are not in the DataFrame"):
        assemble_features(df, ["a", "z"])
    with pytest.raises(ValueError, match="already has a column 'a'"):
        assemble_features(df, ["b"], output_col="a")


def test_without_pyspark_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark", None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ImportError, match=r"pip install 'ksweep\[spark\]'"):
            SparkKSweep(k_range=range(2, 5)).fit(object())


def test_the_mllib_repair_fits_only_the_new_restarts_of_a_suspicious_k(uniform, monkeypatch):
    import ksweep._repair
    from ksweep._spark import SparkRunner
    from ksweep.convergence import suspicious_k

    def name_k4(k, inertia, restart_inertia=None, **kwargs):  # k=4 named, the rest measured
        check = suspicious_k(k, inertia, restart_inertia, **kwargs)
        check.suspicious[list(k).index(4)] = True
        check.reasons.setdefault(4, "k=4: named by the test")
        return check

    fits = []
    fit = SparkRunner._fit

    def logged(self, key, seed, context):
        fits.append(key)
        return fit(self, key, seed, context)

    monkeypatch.setattr(ksweep._repair, "suspicious_k", name_k4)
    monkeypatch.setattr(SparkRunner, "_fit", logged)
    sweep = SparkKSweep(k_range=[3, 4, 5], random_state=3, engine="mllib", n_init_max=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnderConvergedWarning)  # k=4 stays "suspicious"
        sweep.fit(uniform)
    # the sweep's restart 0 of k=4 is reused, not refitted
    assert sorted(fits) == [(3, 0), (4, 0), (4, 1), (4, 2), (5, 0)]
    results = sweep.results_
    assert results["n_restarts_run"].tolist() == [1, 3, 1]
    assert results["restarts_reason"][1] == "k=4: named by the test"
    seeds = task_seeds(seed_entropy(3), np.array([4]), 3)[0]
    np.testing.assert_array_equal(results["restart_seed"][1], seeds)
    assert (results["restart_seed"][[0, 2], 1:] == -1).all()
    costs = results["restart_inertia"][1]
    direct = _direct_cost(uniform, 4, int(seeds[2]))
    assert costs[2] == pytest.approx(direct.summary.trainingCost, rel=1e-12)
    best = int(np.argmin(costs))
    assert results["inertia"][1] == costs[best] and results["best_restart"][1] == best
    assert sweep.models_[4].summary.trainingCost == costs[best]
