"""SparkKSweep's fused engine on a real SparkSession (local[2], one retry per task).

Each number is checked against the in-memory fused engine run from the same start.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from poor_start import CENTERS, seed_k6_restart0_poorly, six_blobs
from pyspark.ml.clustering import KMeansModel
from pyspark.ml.functions import array_to_vector, vector_to_array
from pyspark.sql import types as T
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

import ksweep._spark_fused as spark_fused
from ksweep import InvalidParameterError
from ksweep._fused import fused_lloyd
from ksweep._lloyd import ChunkState, chunk_statistics
from ksweep._seeding import seed_entropy, task_seeds
from ksweep._spark_fused import fit_spark
from ksweep.exceptions import NonMonotonicWarning, UnderConvergedWarning
from ksweep.spark import SparkKSweep

#: Two cores; a failed task is tried once more (Spark's local[N, maxFailures]).
SPARK_MASTER = "local[2,2]"
TRUE_K = 6


def _frame(spark, X, partitions: int, column: str = "features"):
    """X as a vector column, rows in X's order over ``partitions`` partitions."""
    rows = spark.sparkContext.parallelize([(i, x) for i, x in enumerate(X.tolist())], partitions)
    schema = T.StructType(
        [T.StructField("i", T.LongType()), T.StructField("x", T.ArrayType(T.DoubleType()))]
    )
    return spark.createDataFrame(rows, schema).select("i", array_to_vector("x").alias(column))


@pytest.fixture(scope="module")
def overlapping():
    """Blobs that overlap: Lloyd needs several iterations on X after the sample."""
    X, _ = make_blobs(n_samples=4000, centers=4, n_features=3, cluster_std=2.5, random_state=4)
    return X


@pytest.fixture
def small_sample(monkeypatch):
    """Seed on 300 rows, not all of X: Lloyd on X then has centers to move."""
    monkeypatch.setattr(spark_fused, "SAMPLE_ROWS", 300)


@pytest.fixture(scope="module")
def blobs(spark):
    X, y = make_blobs(n_samples=6000, centers=TRUE_K, n_features=5, cluster_std=1.0, random_state=3)
    df = _frame(spark, X, 2).cache()
    df.count()
    yield df, y
    df.unpersist()


def _plan(ks, n_init, random_state):
    """Runs (k, seed), k by k, with the seeds the sweep gives them."""
    seeds = task_seeds(seed_entropy(random_state), np.asarray(ks), n_init)
    return [int(k) for k in ks for _ in range(n_init)], seeds.ravel().tolist()


def _fit(df, ks, seeds, **params):
    options = dict(max_iter=20, tol=1e-4, sample_seed=np.random.SeedSequence(0, spawn_key=(1,)))
    return fit_spark(df, "features", ks, seeds, **{**options, **params})


# -- the numbers are the fused engine's -------------------------------------------------


def test_each_run_equals_an_in_memory_fused_run_from_the_same_initial_centers(
    spark, overlapping, small_sample
):
    df = _frame(spark, overlapping, 3).cache()
    ks, seeds = _plan([3, 4], 2, random_state=1)
    fit = _fit(df, ks, seeds)
    df.unpersist()
    assert [run.k for run in fit.runs] == [3, 3, 4, 4]
    most = max(run.n_iter for run in fit.runs)
    assert most > 2  # X moved the centers, not just the sample
    # a pass per iteration of the slowest run and one for the exact inertia, one array each
    assert [objects for objects, _ in fit.passes.received] == [1] * (most + 1)
    for k, seed, run in zip(ks, seeds, fit.runs, strict=True):
        alone = fused_lloyd(
            overlapping, [k], [seed], max_iter=20, tol=1e-4, init_centers=[run.init_centers]
        )[0]
        np.testing.assert_allclose(run.centers, alone.centers, rtol=1e-10, atol=1e-10)
        assert run.inertia == pytest.approx(alone.inertia, rel=1e-10)
        assert run.n_iter == alone.n_iter


def test_the_driver_receives_one_array_per_pass_whatever_the_partition_count(spark, overlapping):
    """One pass (what each Lloyd iteration runs) over X in 4 and in 64 partitions."""
    ks = [2, 3, 5]
    mean = overlapping.mean(axis=0)
    centers = np.concatenate([overlapping[10 * k : 10 * k + k] for k in ks]) - mean
    state = ChunkState(
        mean,
        centers,
        0.5 * (centers**2).sum(axis=1),
        np.concatenate([[0], np.cumsum(ks)]),
        np.array([1]),  # run 1's centers are final: its exact inertia
    )
    expected = chunk_statistics(overlapping, state)
    one_array = 8 * (sum(ks) * (overlapping.shape[1] + 1) + len(ks))
    for n in (4, 64):
        blocks = spark.sparkContext.parallelize(np.array_split(overlapping, n), n).cache()
        passes = spark_fused.SparkPass(blocks, threads=1)
        got = passes(state)
        blocks.unpersist()
        assert blocks.getNumPartitions() == n
        assert passes.received == [(1, one_array)]  # one array, whatever n
        np.testing.assert_allclose(got, expected, rtol=1e-12)
        _, counts, _ = state.unpack(got)
        assert counts.sum() == len(ks) * len(overlapping)  # every row, once per run


def _dies_once(flag: str):
    """``chunk_statistics`` whose first call, in any worker, kills its Python worker."""

    def statistics(chunk, state):
        import os

        from ksweep._lloyd import chunk_statistics as real

        try:
            os.close(os.open(flag, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return real(chunk, state)
        os._exit(1)  # the worker process dies mid-task, as on a lost executor

    return statistics


def test_a_task_killed_once_and_retried_by_spark_changes_nothing(
    spark, overlapping, small_sample, monkeypatch, tmp_path
):
    df = _frame(spark, overlapping, 3).cache()
    df.count()
    params = dict(k_range=range(2, 6), n_init=2, random_state=0)
    clean = SparkKSweep(**params).fit(df)
    flag = tmp_path / "killed"
    monkeypatch.setattr(spark_fused, "chunk_statistics", _dies_once(str(flag)))
    retried = SparkKSweep(**params).fit(df)
    df.unpersist()
    assert flag.exists()  # the first attempt of a task did die
    for name in ("restart_inertia", "restart_n_iter", "inertia"):
        np.testing.assert_array_equal(retried.results_[name], clean.results_[name])
    np.testing.assert_array_equal(retried.cluster_centers_, clean.cluster_centers_)


# -- the sweep --------------------------------------------------------------------------


def test_the_default_sweep_is_fused_and_chooses_the_true_k_on_blobs(blobs):
    df, y = blobs
    sweep = SparkKSweep(k_range=range(2, 11), random_state=0, scoring="silhouette").fit(df)
    assert sweep.results_.engine == "spark-fused"
    assert sweep.best_k_ == TRUE_K
    assert sweep.summary().chosen() == {
        "auto": TRUE_K,
        "kneedle": TRUE_K,
        "two_segment": TRUE_K,
        "silhouette": TRUE_K,
        "vote": TRUE_K,
    }
    assert isinstance(sweep.best_model_, KMeansModel)
    assert sweep.best_model_ is sweep.models_[TRUE_K]
    assert sweep.cluster_centers_.shape == (TRUE_K, 5)
    out = sweep.predict(df).orderBy("i").select("features", "prediction").collect()
    X = np.array([row.features.toArray() for row in out])
    labels = np.array([row.prediction for row in out])
    nearest = ((X[:, None, :] - sweep.cluster_centers_[None]) ** 2).sum(axis=2).argmin(axis=1)
    np.testing.assert_array_equal(labels, nearest)  # the prediction column of best_model_
    assert adjusted_rand_score(y, labels) > 0.999  # a handful of points lie between blobs
    # the cost per k is the sum of squared distances to the centers, as MLlib's trainingCost
    for k in (3, TRUE_K, 9):
        centers = np.array(sweep.models_[k].clusterCenters())
        cost = ((X[:, None, :] - centers[None]) ** 2).sum(axis=2).min(axis=1).sum()
        i = int(np.flatnonzero(sweep.results_["k"] == k)[0])
        assert sweep.results_["inertia"][i] == pytest.approx(cost, rel=1e-9)
    assert np.all(np.diff(sweep.results_["inertia"]) < 0)
    assert "<--" in sweep.results_.to_text(marked_k=sweep.best_k_)


def test_the_best_model_saves_and_loads_as_an_mllib_model(blobs, tmp_path):
    df, _ = blobs
    sweep = SparkKSweep(k_range=[2, 4, 6], random_state=0, selection=lambda k, r: 6)
    model = sweep.fit(df).best_model_
    assert (model.getK(), model.getFeaturesCol(), model.hasSummary) == (6, "features", False)
    model.write().save(str(tmp_path / "model"))
    loaded = KMeansModel.load(str(tmp_path / "model"))
    np.testing.assert_array_equal(loaded.clusterCenters(), sweep.cluster_centers_)
    assert loaded.getK() == 6
    assert loaded.transform(df).select("prediction").collect() == (
        sweep.predict(df).select("prediction").collect()
    )


def test_array_columns_and_auto_falling_back_to_mllib(blobs):
    df, _ = blobs
    params = dict(k_range=[2, 4, 6], random_state=1, selection=lambda k, r: 6)
    vectors = SparkKSweep(**params).fit(df)
    doubles = df.select(vector_to_array("features").alias("arr"))
    arrays = SparkKSweep(features_col="arr", **params).fit(doubles)
    np.testing.assert_array_equal(arrays.results_["inertia"], vectors.results_["inertia"])
    floats = df.select(vector_to_array("features", "float32").alias("arr"))
    on_floats = SparkKSweep(features_col="arr", **params).fit(floats)
    np.testing.assert_allclose(on_floats.results_["inertia"], vectors.results_["inertia"], 1e-5)
    mllib = SparkKSweep(init_mode="random", **params).fit(df)
    assert mllib.results_.engine == "mllib"
    assert mllib.models_[6].hasSummary  # a fitted MLlib model


# -- bad input --------------------------------------------------------------------------


def test_bad_engine_values_and_settings_are_refused_naming_the_parameter(blobs):
    df, _ = blobs
    with pytest.raises(
        InvalidParameterError,
        match=r"The 'engine' parameter of SparkKSweep must be a str among .*Got 'spark'",
    ):
        SparkKSweep(engine="spark").fit(df)
    with pytest.raises(
        InvalidParameterError,
        match=r"The 'engine' parameter of SparkKSweep must be 'auto' or 'mllib' here: the "
        r"fused engine cannot run because it seeds with k-means\+\+ on a sample, not "
        r"init_mode='random'. Got 'fused' instead.",
    ):
        SparkKSweep(engine="fused", init_mode="random").fit(df)


def test_bad_rows_are_refused_clearly(spark):
    schema = "x array<double>"
    sweep = SparkKSweep(k_range=[2, 3, 4], engine="fused", features_col="x", selection=_first)
    ragged = spark.createDataFrame([([1.0, 2.0],), ([3.0],), ([4.0, 5.0],)] * 4, schema)
    with pytest.raises(ValueError, match=r"'x' must all have the same, non-zero length"):
        sweep.fit(ragged)
    nulls = spark.createDataFrame([([1.0, 2.0],), (None,), ([4.0, 5.0],)] * 4, schema)
    with pytest.raises(ValueError, match=r"features column 'x' has null rows"):
        sweep.fit(nulls)
    nan = spark.createDataFrame([([1.0, 2.0],), ([float("nan"), 3.0],)] * 4, schema)
    with pytest.raises(ValueError, match="Input X contains NaN or infinity"):
        sweep.fit(nan)


def _first(k, results):
    return int(k[0])


def test_workers_that_cannot_import_what_the_engine_needs_are_named(blobs, monkeypatch):
    df, _ = blobs
    missing = "ksweep_module_no_worker_has"
    sweep = SparkKSweep(k_range=[2, 3, 4], engine="fused")
    with monkeypatch.context() as patch:
        patch.setattr(spark_fused, "WORKER_MODULES", (*spark_fused.WORKER_MODULES, missing))
        with pytest.raises(ImportError, match=rf"cannot import: {missing} \(Module.*'mllib'"):
            sweep.fit(df)
    import ksweep

    workers_have = ksweep.__version__
    monkeypatch.setattr(ksweep, "__version__", "0.0.0+driver")
    with pytest.raises(
        ImportError, match=rf"ksweep 0\.0\.0\+driver \(they have ksweep {workers_have}\)"
    ):
        sweep.fit(df)


def test_the_public_map_in_arrow_route_gives_the_same_blocks(spark, overlapping, monkeypatch):
    df = _frame(spark, overlapping, 2)
    through_batches = np.concatenate(spark_fused.feature_blocks(df, "features").collect())
    monkeypatch.setattr(spark_fused, "_arrow_batches", lambda arrays: None)  # another Spark
    through_map = np.concatenate(spark_fused.feature_blocks(df, "features").collect())
    np.testing.assert_array_equal(through_batches, overlapping)
    np.testing.assert_array_equal(through_map, overlapping)


# -- under-converged k ---------------------------------------------------------------


def test_the_default_sweep_repairs_a_k_seeded_into_a_poor_optimum(spark, monkeypatch):
    """The issue's case: with n_init=1, k=6 of six blobs stuck in a poor optimum made the
    sweep choose 7; the default repair gives k=6 more restarts and the sweep chooses 6."""
    df = _frame(spark, six_blobs(), 2).cache()
    df.count()
    seed_k6_restart0_poorly(monkeypatch, spark_fused)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the poor k=6 makes the cost rise: warned
        stuck = SparkKSweep(random_state=0, n_init_max=None, selection="kneedle").fit(df)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnderConvergedWarning)
        warnings.simplefilter("error", NonMonotonicWarning)
        sweep = SparkKSweep(random_state=0, selection="kneedle").fit(df)  # n_init=1
    df.unpersist()
    i = 4  # k = 6 in k_range=range(2, 11)
    results = sweep.results_
    assert results.engine == "spark-fused" and sweep.n_init_max == "auto"
    assert stuck.results_["inertia"][i] > 2 * results["inertia"][i]
    assert stuck.best_k_ == 7 and sweep.best_k_ == 6
    assert results["n_restarts_run"].tolist() == [1, 1, 1, 1, 4, 1, 1, 1, 1]
    assert results["restarts_reason"][i].startswith("k=6: its inertia ")
    # restart 0 is the sweep's own poor fit (not refitted); a new one won
    assert results["restart_inertia"][i, 0] == stuck.results_["inertia"][i]
    np.testing.assert_array_equal(results["inertia"], np.nanmin(results["restart_inertia"], 1))
    assert results["best_restart"][i] >= 1 and not results["non_monotonic"].any()
    assert len(sweep.models_[6].clusterCenters()) == 6
    centers = np.array([np.asarray(c) for c in sweep.models_[6].clusterCenters()])
    assert np.abs(np.sort(centers[:, 0]) - np.sort(CENTERS[:, 0])).max() < 0.5
    others = np.arange(9) != i  # the other k are the sweep's own
    np.testing.assert_array_equal(results["inertia"][others], stuck.results_["inertia"][others])
