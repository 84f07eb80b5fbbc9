"""The Spark runner: PySpark MLlib's ``KMeans`` once per (k, restart), fitted from driver threads.

What :class:`~ksweep.spark.SparkKSweep` runs through the shared pipeline
(``ksweep._pipeline``): :class:`SparkRunner` submits the plan's fits from
``concurrency`` driver threads (at most that many in flight), keeps the best model
of each k while they finish, and computes Spark's silhouette of the best models.
A failure or Ctrl-C cancels the Spark jobs in flight by their job tag. pyspark is
imported only when a fit needs it, with an install hint when it is missing.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import time
import uuid
from types import SimpleNamespace
from typing import Any

import numpy as np

from ksweep._executors import TaskFailed, run_tasks
from ksweep._pipeline import BestKeeper, Plan, Runner
from ksweep._seeding import STRUCTURE_KEY, seed_entropy, spawn
from ksweep._structure_check import STRUCTURE_ROWS
from ksweep._tasks import TaskRecord
from ksweep._validation import check_k_range, param_error
from ksweep.exceptions import SweepInterrupted, SweepTaskError

_INSTALL_HINT = "pip install 'ksweep[spark]'"
INERTIA_DEFINITION = (
    "trainingCost of pyspark.ml.clustering.KMeans: the sum over rows of the squared "
    "Euclidean distance to the closest center"
)


def _pyspark(what: str) -> SimpleNamespace:
    """The pyspark names ksweep uses, imported now, or ``ImportError`` with the install hint."""
    try:
        from pyspark import StorageLevel
        from pyspark.ml.clustering import KMeans
        from pyspark.ml.evaluation import ClusteringEvaluator
        from pyspark.ml.feature import VectorAssembler
        from pyspark.ml.linalg import VectorUDT
        from pyspark.sql import DataFrame, types
    except ImportError as exc:
        raise ImportError(f"{what} requires pyspark: {_INSTALL_HINT}") from exc
    return SimpleNamespace(
        StorageLevel=StorageLevel,
        KMeans=KMeans,
        ClusteringEvaluator=ClusteringEvaluator,
        VectorAssembler=VectorAssembler,
        VectorUDT=VectorUDT,
        DataFrame=DataFrame,
        types=types,
    )


def _check_dataframe(df: Any, owner: str, what: str = "df"):
    if not isinstance(df, _pyspark(owner).DataFrame):
        raise TypeError(
            f"{owner} expects a Spark DataFrame ({what}). Got {type(df).__name__} instead."
        )


def _check_features_column(df: Any, column: str, owner: str) -> None:
    """Raise unless ``column`` is a vector column (or an array of doubles or floats)."""
    spark = _pyspark(owner)
    types = spark.types
    names = df.columns
    if column not in names:
        raise ValueError(
            f"{owner}: the features column {column!r} is not in the DataFrame (its columns: "
            f"{names}). Set features_col=, or build a vector column from numeric columns with "
            "ksweep.spark.assemble_features(df, input_cols)."
        )
    dtype = df.schema[column].dataType
    is_array = isinstance(dtype, types.ArrayType) and isinstance(
        dtype.elementType, (types.DoubleType, types.FloatType)
    )
    if not (isinstance(dtype, spark.VectorUDT) or is_array):
        raise ValueError(
            f"{owner}: the features column {column!r} must hold vectors (pyspark.ml.linalg "
            f"VectorUDT, or an array of doubles or floats). Got {dtype.simpleString()} instead. "
            "Build one from numeric columns with ksweep.spark.assemble_features(df, input_cols)."
        )


@contextlib.contextmanager
def cached_features(df, column: str, cache: bool, owner: str):
    """The features column of ``df``, persisted for the block (``MEMORY_AND_DISK``) unless
    ``cache`` is False or it is persisted already; unpersisted at the end."""
    storage = _pyspark(owner).StorageLevel
    data = df.select(column)
    cached_here = False
    if cache and not (_is_persisted(df) or _is_persisted(data)):
        data = data.persist(storage.MEMORY_AND_DISK)
        cached_here = True
    try:
        yield data
    finally:
        if cached_here:
            data.unpersist()


class SparkRunner(Runner):
    """Fit ``pyspark.ml.clustering.KMeans`` for every task of a plan on ``data``.

    Parameters
    ----------
    sweep : SparkKSweep
        Its parameters, validated.
    data : pyspark.sql.DataFrame
        The features column, cached; its rows are counted (and checked) here.
    k_values : ndarray of int
    n_rows : int or None, default=None
        The row count when known (a rerun), else counted here.
    """

    engine = "mllib"
    inertia_definition = INERTIA_DEFINITION
    reruns = True

    def __init__(self, sweep: Any, data: Any, k_values: np.ndarray, n_rows: int | None = None):
        self.sweep, self.data, self.owner = sweep, data, type(sweep).__name__
        self.k_values = k_values
        #: records of an earlier run on the same data and seeds, reused by key (a rerun)
        self.previous: dict[tuple, TaskRecord] = {}
        self.records: dict[tuple, TaskRecord] = {}
        if n_rows is None:
            n_rows = data.count()  # materializes the cache once, before any fit
        self.n_rows = n_rows
        if n_rows < 2:
            raise ValueError(
                f"{self.owner} needs at least 2 rows to cluster. Got {n_rows} row(s) instead."
            )
        if k_values.max() > n_rows:
            raise param_error(
                "k_range",
                self.owner,
                f"made of ints <= the number of rows ({n_rows})",
                sweep.k_range,
            )

    def plan(self) -> Plan:
        """Every (k, restart) with its seed: the seeds KSweep gives the same tasks."""
        self.entropy = seed_entropy(self.sweep.random_state)
        return Plan(self.k_values, self.sweep.n_init, self.entropy)

    def rerun(self, sweep: Any) -> SparkRunner:
        """A runner of this kind on the same data for ``sweep``; the fits this runner made
        (same seeds: restart r of k) are reused, not refitted."""
        runner = type(self)(sweep, self.data, check_k_range(sweep.k_range), n_rows=self.n_rows)
        runner.previous = self.records
        return runner

    def reused(self, plan: Plan) -> tuple[list, BestKeeper]:
        """The plan's tasks still to fit, and a keeper holding the reused records."""
        keeper = BestKeeper()
        for task in plan.tasks:
            if task.key in self.previous:
                keeper.add(task.key, self.previous[task.key])
        return [task for task in plan.tasks if task.key not in self.previous], keeper

    def structure_rows(self):
        """For the no-structure test: the bounding box (one Summarizer pass) and a uniform
        sample of about ``STRUCTURE_ROWS`` rows collected to the driver."""
        from pyspark.ml.stat import Summarizer
        from pyspark.sql import functions as F

        column = self.sweep.features_col
        bounds = self.data.select(
            Summarizer.metrics("min", "max").summary(F.col(column)).alias("s")
        ).first()["s"]
        seed = int(spawn(self.entropy, STRUCTURE_KEY).generate_state(1)[0])
        fraction = min(1.0, 1.2 * STRUCTURE_ROWS / self.n_rows)
        rows = self.data.sample(False, fraction, seed=seed).select(column).collect()
        sample = np.array([np.asarray(row[0].toArray()) for row in rows], dtype=np.float64)
        return sample, np.asarray(bounds["min"].toArray()), np.asarray(bounds["max"].toArray())

    def _kmeans(self, k: int, seed: int):
        sweep = self.sweep
        return _pyspark(self.owner).KMeans(
            featuresCol=sweep.features_col,
            predictionCol=sweep.prediction_col,
            k=int(k),
            initMode=sweep.init_mode,
            initSteps=int(sweep.init_steps),
            tol=float(sweep.tol),
            maxIter=int(sweep.max_iter),
            seed=int(seed),
        )

    def _fit(self, key: tuple[int, int], seed: int, context: tuple) -> TaskRecord:
        k, restart = key
        _enter_thread(*context, f"ksweep: KMeans k={k} restart={restart}")
        estimator = self._kmeans(k, seed)
        start = time.perf_counter()
        model = estimator.fit(self.data)
        elapsed = time.perf_counter() - start
        cost = float(model.summary.trainingCost)
        return TaskRecord(
            inertia=cost,
            raw_inertia=cost,
            n_iter=int(model.summary.numIter),
            fit_time=elapsed,
            estimator=model,
        )

    def run(self, plan: Plan) -> dict[tuple, TaskRecord]:
        """Fit every task from ``concurrency`` threads, at most that many in flight.

        Only the best model of each k is kept while the sweep runs. A failure or
        Ctrl-C stops submitting, cancels the Spark jobs in flight (by job tag) and
        raises with the finished records.
        """
        sc = _spark_context(self.data)
        tag = f"ksweep-{uuid.uuid4().hex[:12]}"
        context = (sc, _local_properties(sc), tag)
        todo, keeper = self.reused(plan)
        window = self.sweep.concurrency
        pool = concurrent.futures.ThreadPoolExecutor(window, thread_name_prefix="ksweep-spark")
        jobs = ((task.key, self._fit, (task.key, task.seed, context)) for task in todo)
        try:
            for key, record in run_tasks(pool, jobs, window):
                keeper.add(key, record)
        except BaseException as exc:
            _cancel(sc, tag)
            pool.shutdown(wait=True, cancel_futures=True)
            done = keeper.records
            if isinstance(exc, TaskFailed):
                raise _task_error(exc.key, exc.__cause__, done) from exc.__cause__
            if isinstance(exc, KeyboardInterrupt):
                raise SweepInterrupted(
                    f"Sweep interrupted after {len(done)} of {len(plan.tasks)} fits; the "
                    "finished fits are in this exception's 'completed' attribute.",
                    completed=list(done.items()),
                ) from None
            raise
        pool.shutdown(wait=True)
        self.records = keeper.records
        return self.records

    def columns(self, plan: Plan, results, records, models, labels) -> dict[str, np.ndarray]:
        """Spark's squared-Euclidean silhouette of the best model per k, computed concurrently."""
        if not self.sweep._scoring():
            return {}
        sweep = self.sweep
        ClusteringEvaluator = _pyspark(self.owner).ClusteringEvaluator
        sc = _spark_context(self.data)
        context = (sc, _local_properties(sc), f"ksweep-{uuid.uuid4().hex[:12]}")

        def score(k: int) -> float:
            _enter_thread(*context, f"ksweep: silhouette k={k}")
            model = models[k]
            if len(model.clusterCenters()) < 2:
                return float("nan")
            evaluator = ClusteringEvaluator(
                featuresCol=sweep.features_col,
                predictionCol=sweep.prediction_col,
                metricName="silhouette",
                distanceMeasure="squaredEuclidean",
            )
            return float(evaluator.evaluate(model.transform(self.data)))

        with concurrent.futures.ThreadPoolExecutor(
            max_workers=sweep.concurrency, thread_name_prefix="ksweep-spark"
        ) as pool:
            values = list(pool.map(score, [int(k) for k in plan.k_values]))
        return {
            "silhouette": np.asarray(values, dtype=np.float64),
            "silhouette_n_samples": np.full(plan.k_values.shape, self.n_rows, dtype=np.int64),
        }


def _task_error(key, exc: BaseException, records: dict) -> SweepTaskError:
    k, restart = key
    return SweepTaskError(
        f"Fitting pyspark KMeans with k={k} (restart {restart}) failed: "
        f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}. "
        f"The {len(records)} finished fit(s) are in this exception's 'completed' attribute.",
        k=k,
        restart=restart,
        completed=list(records.items()),
    )


def _is_persisted(df) -> bool:
    level = df.storageLevel
    return bool(level.useMemory or level.useDisk or level.useOffHeap)


def _spark_context(df) -> Any:
    """The DataFrame's SparkContext, or None where there is none (Spark Connect)."""
    try:
        return df.sparkSession.sparkContext
    except Exception:
        return None


def _local_properties(sc) -> Any:
    """The calling thread's Spark local properties (scheduler pool, job group), or None."""
    try:
        return sc._jsc.sc().getLocalProperties().clone()
    except Exception:  # no JVM handle (Spark Connect): nothing to inherit
        return None


def _enter_thread(sc, properties, tag: str, description: str) -> None:
    """Give this worker thread the caller's local properties, the sweep's job tag and a name.

    PySpark pins each Python thread to a JVM thread; a thread of a plain pool does not
    inherit the caller's local properties (``spark.scheduler.pool``, ...), so they are
    copied as ``pyspark.InheritableThread`` does.
    """
    if sc is None:
        return
    if properties is not None:
        sc._jsc.sc().setLocalProperties(properties.clone())
    if hasattr(sc, "addJobTag"):
        sc.addJobTag(tag)
    else:  # pragma: no cover - pyspark < 3.5
        sc.setJobGroup(tag, description)
    sc.setJobDescription(description)


def _cancel(sc, tag: str) -> None:
    """Cancel the Spark jobs in flight (pending fits are cancelled with the pool)."""
    if sc is None:
        return
    try:
        if hasattr(sc, "cancelJobsWithTag"):
            sc.cancelJobsWithTag(tag)
        else:  # pragma: no cover - pyspark < 3.5
            sc.cancelJobGroup(tag)
    except Exception:  # the context may be gone already; the original error matters
        pass
