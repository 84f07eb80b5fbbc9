"""The fused Spark runner: X stays on the executors, one array of sums comes back per pass.

What :class:`~ksweep.spark.SparkKSweep` runs with ``engine="fused"`` through the shared
pipeline (``ksweep._pipeline``), with the data-parallel Lloyd of ``ksweep._lloyd``:

- the features column is turned once into NumPy blocks of rows (Spark's Arrow batches,
  read by the executors' Python workers), cached as an RDD (``MEMORY_AND_DISK``), with X's
  row count, mean and variance from the same pass;
- a uniform sample of rows reaches the driver and seeds every run
  (:func:`ksweep._lloyd.seed_from_sample`);
- every Lloyd iteration is one Spark job (:class:`SparkPass`, the ``reduce`` of
  :func:`ksweep._lloyd.data_parallel_lloyd`): each partition computes
  :func:`ksweep._lloyd.chunk_statistics` of its blocks for every live run at once, and the
  partials are added up on the executors, a tree of shuffles ending in one partition, so
  the driver receives one array per iteration whatever the partition count. Partials are
  added in partition order, so a retried task or a lost executor gives the same bits;
- the best run of each k becomes a ``pyspark.ml.clustering.KMeansModel`` of its centers.

The executors' Python workers import numpy, pyarrow, numba and ksweep;
:func:`check_workers` says clearly when they cannot.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
import uuid
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from ksweep._dask_arrays import SAMPLE_ROWS
from ksweep._fused import FusedRun
from ksweep._lloyd import (
    ChunkState,
    add_statistics,
    chunk_statistics,
    data_parallel_lloyd,
    seed_from_sample,
)
from ksweep._pipeline import Plan
from ksweep._seeding import SAMPLE_KEY, spawn
from ksweep._spark import SparkRunner
from ksweep._tasks import TaskRecord
from ksweep._threads import capped_threads
from ksweep.exceptions import SweepInterrupted

#: Modules every executor's Python worker must import for the fused engine.
WORKER_MODULES = ("numpy", "pyarrow", "numba", "ksweep._spark_fused")
#: Bytes of one cached block of rows (float64), at least 1,024 rows.
BLOCK_BYTES = 8 * 2**20
#: Partials added per task of the executors' reduction (more levels past its square).
FAN_IN = 16
INERTIA_DEFINITION = (
    "the sum over rows of the squared Euclidean distance to the closest center "
    "(the scale of pyspark.ml.clustering.KMeans' trainingCost)"
)


# -- which engine ------------------------------------------------------------------------


def fused_unsupported(init_mode: str, init_steps: int, sc: Any) -> str | None:
    """Why the fused engine cannot run a sweep with these settings, or None when it can."""
    if init_mode != "k-means||":
        return f"it seeds with k-means++ on a sample, not init_mode={init_mode!r}"
    if init_steps != 2:
        return f"init_steps={init_steps} tunes MLlib's k-means||, which it does not run"
    if sc is None:
        return "there is no SparkContext (Spark Connect has no RDDs)"
    for module, extra in (("numba", "ksweep[fast]"), ("pyarrow", "pyarrow")):
        try:
            __import__(module)
        except ImportError:
            return f"{module} is not installed (pip install '{extra}')"
    return None


def check_workers(sc: Any) -> None:
    """Raise ``ImportError`` naming the :data:`WORKER_MODULES` the Python workers lack.

    The probe is pickled by value (a nested function), so it runs even where ksweep
    itself cannot be imported; it also starts a worker per slot (up to 16), with the
    modules imported, before the first pass.
    """
    import ksweep

    modules, version = WORKER_MODULES, ksweep.__version__

    def probe(items):
        import importlib

        for _ in items:  # a worker that leaves input unread is not reused
            pass
        missing = []
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception as exc:  # an ImportError, or a module failing as it loads
                missing.append(f"{name} ({type(exc).__name__}: {exc})")
        theirs = "" if missing else importlib.import_module("ksweep").__version__
        if theirs and theirs != version:
            missing.append(f"ksweep {version} (they have ksweep {theirs})")
        yield missing

    slots = max(1, min(int(sc.defaultParallelism), 16))  # each warms up a worker
    found = sc.parallelize(range(slots), slots).mapPartitions(probe).collect()
    missing = sorted({name for names in found for name in names})
    if missing:
        raise ImportError(
            "SparkKSweep(engine='fused') runs ksweep's kernels in the executors' Python "
            f"workers, which cannot import: {'; '.join(missing)}. Install numpy, pyarrow, "
            "numba and ksweep (pip install 'ksweep[fast]' pyarrow) where the executors' "
            "Python runs, in the same version as the driver, or pass engine='mllib'."
        )


# -- X as cached blocks of rows ----------------------------------------------------------


def feature_blocks(data: Any, features_col: str) -> Any:
    """The features column as an RDD of float64 NumPy blocks (rows × features), not cached.

    Spark writes the column as Arrow batches (vectors as arrays of doubles); the
    executors read them into blocks of about :data:`BLOCK_BYTES`.
    """
    from pyspark.ml.functions import vector_to_array
    from pyspark.ml.linalg import VectorUDT
    from pyspark.sql import functions as F

    dtype = data.schema[features_col].dataType
    column = F.col(features_col)
    if isinstance(dtype, VectorUDT):
        column = vector_to_array(column, "float64")
    arrays = data.select(column.cast("array<double>").alias("x"))
    batches = _arrow_batches(arrays)
    if batches is None:
        return _blocks_through_map_in_arrow(arrays, features_col)
    from pyspark.sql.pandas.types import to_arrow_schema

    return batches.mapPartitions(_blocks_of_messages(to_arrow_schema(arrays.schema), features_col))


def _arrow_batches(arrays: Any) -> Any:
    """Spark's own Arrow batches of the plan (what ``toPandas`` reads) as an RDD of bytes,
    or None where the JVM has no ``Dataset.toArrowBatchRdd``."""
    from pyspark.rdd import RDD
    from pyspark.serializers import NoOpSerializer

    try:
        jrdd = arrays._jdf.toArrowBatchRdd().toJavaRDD()
    except Exception:  # another Spark: the public route
        return None
    return RDD(jrdd, arrays.sparkSession.sparkContext, NoOpSerializer())


def _blocks_of_messages(schema: Any, features_col: str) -> Callable:
    def blocks(messages):
        import pyarrow as pa

        yield from _group_rows(
            (pa.ipc.read_record_batch(pa.py_buffer(m), schema) for m in messages), features_col
        )

    return blocks


def _blocks_through_map_in_arrow(arrays: Any, features_col: str) -> Any:
    """The same blocks through ``mapInArrow`` (public, slower: rows go through Pyrolite)."""

    def encode(batches):
        import pyarrow as pa

        for block in _group_rows(batches, features_col):
            yield pa.RecordBatch.from_pydict(
                {"rows": [block.shape[0]], "block": [block.tobytes()]},
                schema=pa.schema([("rows", pa.int64()), ("block", pa.binary())]),
            )

    with warnings.catch_warnings():  # mapInArrow checks pandas' version; it uses no pandas
        warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas")
        coded = arrays.mapInArrow(encode, "rows long, block binary")
    return coded.rdd.map(lambda row: np.frombuffer(row.block).reshape(row.rows, -1))


def _group_rows(batches, features_col: str):
    """Blocks of about ``BLOCK_BYTES`` from Arrow batches of a list<double> column."""
    import numpy as np

    parts, rows, limit = [], 0, None
    for batch in batches:
        values = batch.column(0)
        if len(values) == 0:
            continue
        if values.null_count:
            raise ValueError(
                f"SparkKSweep: the features column {features_col!r} has null rows; "
                "drop them (df.dropna(subset=[...])) before fitting."
            )
        offsets = values.offsets.to_numpy()
        widths = np.diff(offsets)
        if widths[0] == 0 or np.any(widths != widths[0]):
            raise ValueError(
                f"SparkKSweep: the feature vectors in {features_col!r} must all have the "
                f"same, non-zero length. Got lengths {sorted(set(widths.tolist()))[:5]}."
            )
        flat = values.values.to_numpy(zero_copy_only=False)[offsets[0] : offsets[-1]]
        parts.append(flat.reshape(len(values), int(widths[0])))
        rows += len(values)
        if limit is None:
            limit = max(1024, BLOCK_BYTES // (8 * int(widths[0])))
        if rows >= limit:
            yield np.ascontiguousarray(np.concatenate(parts), dtype=np.float64)
            parts, rows = [], 0
    if parts:
        yield np.ascontiguousarray(np.concatenate(parts), dtype=np.float64)


def _partition_moments(index, blocks):
    """Rows, mean, sum of squared deviations and finiteness of one partition's blocks."""
    n, mean, m2, finite, width = 0, None, None, True, None
    for block in blocks:
        width = block.shape[1] if width is None else width
        if block.shape[1] != width:
            raise ValueError(f"Feature vectors of lengths {width} and {block.shape[1]}.")
        finite = finite and bool(np.isfinite(block).all())
        b_mean = block.mean(axis=0)
        b_m2 = ((block - b_mean) ** 2).sum(axis=0)
        n, mean, m2 = _merge_moments(n, mean, m2, block.shape[0], b_mean, b_m2)
    yield index, n, mean, m2, finite


def _merge_moments(n_a, mean_a, m2_a, n_b, mean_b, m2_b):
    """Chan et al.'s pairwise update of counts, means and sums of squared deviations."""
    if n_a == 0:
        return n_b, mean_b, m2_b
    n = n_a + n_b
    delta = mean_b - mean_a
    return n, mean_a + delta * (n_b / n), m2_a + m2_b + delta**2 * (n_a * n_b / n)


def moments(blocks: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows per partition, X's mean and (population) variance; one pass over the blocks.

    Raises ``ValueError`` when X holds NaN or infinity, has no rows, or vectors of
    different lengths.
    """
    parts = sorted(blocks.mapPartitionsWithIndex(_partition_moments).collect())
    counts = np.zeros(blocks.getNumPartitions(), dtype=np.int64)
    n, mean, m2 = 0, None, None
    widths = {p_mean.shape[0] for _, rows, p_mean, _, _ in parts if rows}
    if len(widths) > 1:
        raise ValueError(f"The feature vectors must all have one length. Got {sorted(widths)}.")
    for index, rows, p_mean, p_m2, finite in parts:
        if not finite:
            raise ValueError("Input X contains NaN or infinity.")
        counts[index] = rows
        if rows:
            n, mean, m2 = _merge_moments(n, mean, m2, rows, p_mean, p_m2)
    if n == 0:
        raise ValueError("SparkKSweep needs at least 2 rows to cluster. Got 0 row(s) instead.")
    return counts, mean, m2 / n


def sample_rows(blocks: Any, counts: np.ndarray, size: int, seed_sequence) -> np.ndarray:
    """A uniform sample of ``size`` rows (in row order), as ``_dask_arrays.sample_rows``."""
    n = int(counts.sum())
    rng = np.random.default_rng(seed_sequence)
    idx = np.sort(rng.choice(n, size=min(n, size), replace=False))
    starts = np.concatenate([[0], np.cumsum(counts)])
    wanted = {
        p: idx[(idx >= starts[p]) & (idx < starts[p + 1])] - starts[p]
        for p in range(counts.size)
        if np.any((idx >= starts[p]) & (idx < starts[p + 1]))
    }

    def take(index, part_blocks):
        local = wanted.get(index, np.empty(0, dtype=np.int64))
        first = 0
        for block in part_blocks:  # every block is read: workers are reused only then
            mine = local[(local >= first) & (local < first + block.shape[0])] - first
            if mine.size:
                yield index, first, block[mine]
            first += block.shape[0]

    pieces = sorted(blocks.mapPartitionsWithIndex(take).collect(), key=lambda p: p[:2])
    return np.concatenate([rows for _, _, rows in pieces])


# -- the per-iteration pass: the `reduce` of the data-parallel Lloyd driver --------------


class SparkPass:
    """One pass over the cached blocks per call: the statistics of every live run, summed.

    ``self(state)`` runs one Spark job: each partition adds up
    :func:`~ksweep._lloyd.chunk_statistics` of its blocks, and the partials are added in a
    tree of shuffles on the executors (:data:`FAN_IN` per task, in partition order) down to
    one partition, whose single array is all the driver receives (``received`` logs the
    objects and bytes of each pass).

    Parameters
    ----------
    blocks : pyspark.RDD of ndarray
        The cached blocks of X.
    threads : int
        BLAS and OpenMP threads per task (``spark.task.cpus``).
    """

    def __init__(self, blocks: Any, threads: int):
        self.blocks = blocks
        self.threads = int(threads)
        self.received: list[tuple[int, int]] = []

    def __call__(self, state: ChunkState) -> np.ndarray:
        threads = self.threads

        def statistics(index, part_blocks):
            total = None
            with capped_threads(threads):
                for block in part_blocks:
                    part = chunk_statistics(block, state)
                    total = part if total is None else add_statistics(total, part)
            if total is not None:
                yield index, total

        level = self.blocks.mapPartitionsWithIndex(statistics)
        width = self.blocks.getNumPartitions()
        fan = max(FAN_IN, math.ceil(math.sqrt(width)))
        while True:  # each level adds up groups of `fan` positions on the executors
            width = math.ceil(width / fan)
            level = (
                level.map(lambda item, fan=fan: (item[0] // fan, item))
                .groupByKey(width, partitionFunc=int)
                .map(lambda group: (group[0], _add_in_order(group[1])))
            )
            if width == 1:
                break
        out = level.map(lambda item: item[1].tobytes()).collect()
        self.received.append((len(out), sum(len(b) for b in out)))
        if len(out) != 1:
            raise RuntimeError(f"Expected one array from the executors, got {len(out)}.")
        return np.frombuffer(out[0], dtype=np.float64)


def _add_in_order(items) -> np.ndarray:
    """Add ``(position, array)`` partials in position order: the same bits in any arrival order."""
    return add_statistics(*[part for _, part in sorted(items, key=lambda item: item[0])])


# -- the runner --------------------------------------------------------------------------


class FusedFit(NamedTuple):
    """What :func:`fit_spark` returns."""

    #: The runs (``init_centers``, ``centers``, ``inertia``, ``n_iter``), in input order.
    runs: list[FusedRun]
    #: The per-iteration pass; its ``received`` logs what the driver got.
    passes: SparkPass


def fit_spark(
    data: Any,
    features_col: str,
    ks: list[int],
    seeds: list[int],
    *,
    max_iter: int,
    tol: float,
    sample_seed: np.random.SeedSequence,
    sample_size: int | None = None,
) -> FusedFit:
    """Lloyd k-means for every ``(k, seed)`` over the features column of ``data``.

    The runs are seeded on a sample of ``sample_size`` rows (default :data:`SAMPLE_ROWS`,
    at least 3 × the largest k).
    """
    from pyspark import StorageLevel

    sc = data.sparkSession.sparkContext
    check_workers(sc)
    tag = f"ksweep-{uuid.uuid4().hex[:12]}"
    if hasattr(sc, "addJobTag"):
        sc.addJobTag(tag)
    blocks = feature_blocks(data, features_col).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        with _worker_errors():
            counts, mean, var = moments(blocks)  # also fills the cache
        size = max(SAMPLE_ROWS if sample_size is None else sample_size, 3 * max(ks))
        sample = sample_rows(blocks, counts, size, sample_seed) - mean
        init = seed_from_sample(sample, ks, seeds, max_iter=max_iter, tol=tol)
        passes = SparkPass(blocks, int(sc.getConf().get("spark.task.cpus", "1")))
        runs = data_parallel_lloyd(
            passes,
            ks,
            seeds,
            init,
            mean=mean,
            mean_variance=float(np.mean(var)),
            max_iter=max_iter,
            tol=tol,
            relocation_rows=sample,
        )
    except KeyboardInterrupt:
        if hasattr(sc, "cancelJobsWithTag"):
            sc.cancelJobsWithTag(tag)
        raise SweepInterrupted(
            "Sweep interrupted: the fused engine's Spark jobs were cancelled; every run "
            "shares each pass, so none had finished.",
            completed=[],
        ) from None
    finally:
        blocks.unpersist()
        if hasattr(sc, "removeJobTag"):
            sc.removeJobTag(tag)
    return FusedFit(runs, passes)


class SparkFusedRunner(SparkRunner):
    """Fit every task of a plan with the fused engine on ``data`` (see the module docstring).

    Rows are counted and checked, and silhouettes scored, as by :class:`SparkRunner`.
    """

    engine = "spark-fused"
    inertia_definition = INERTIA_DEFINITION

    def run(self, plan: Plan) -> dict[tuple, TaskRecord]:
        """A record per task; the best restart of each k with its ``KMeansModel``."""
        sweep = self.sweep
        todo, keeper = self.reused(plan)  # keeps the best restart's model of each k only
        todo = sorted(todo, key=lambda task: task.key)  # k by k, restart by restart
        start = time.perf_counter()
        fit = fit_spark(
            self.data,
            sweep.features_col,
            [task.k for task in todo],
            [task.seed for task in todo],
            max_iter=int(sweep.max_iter),
            tol=float(sweep.tol),
            sample_seed=spawn(plan.entropy, SAMPLE_KEY),
        )
        seconds = time.perf_counter() - start
        work = np.array([run.k * (run.n_iter + 1) for run in fit.runs], dtype=float)
        fit_time = seconds * work / work.sum()  # each run's share, by k × passes
        for task, run, seconds_of_run in zip(todo, fit.runs, fit_time, strict=True):
            record = TaskRecord(run.inertia, run.inertia, run.n_iter, seconds_of_run, run.centers)
            keeper.add(task.key, record)
        self.passes = fit.passes
        sc = self.data.sparkSession.sparkContext
        self.records = {
            key: record
            if not isinstance(record.estimator, np.ndarray)  # None, or a reused model
            else dataclasses.replace(
                record,
                estimator=kmeans_model(
                    sc, record.estimator, sweep.features_col, sweep.prediction_col
                ),
            )
            for key, record in keeper.records.items()
        }
        return self.records


def kmeans_model(sc: Any, centers: np.ndarray, features_col: str, prediction_col: str) -> Any:
    """A ``pyspark.ml.clustering.KMeansModel`` with these centers (built in the JVM).

    It transforms, predicts and saves like a fitted one; it has no training summary.
    """
    from pyspark.ml.clustering import KMeansModel
    from pyspark.mllib.common import _py2java
    from pyspark.mllib.linalg import DenseVector

    jvm = sc._jvm
    vectors = _py2java(sc, [DenseVector(row) for row in np.asarray(centers, dtype=np.float64)])
    parent = jvm.org.apache.spark.mllib.clustering.KMeansModel(vectors)
    uid = jvm.org.apache.spark.ml.util.Identifiable.randomUID("KMeans")
    java_model = jvm.org.apache.spark.ml.clustering.KMeansModel(uid, parent)
    java_model.setFeaturesCol(features_col).setPredictionCol(prediction_col)
    java_model.set(java_model.k().w(int(centers.shape[0])))
    model = KMeansModel(java_model)  # the same params on the Python side, without the JVM
    model._set(k=int(centers.shape[0]), featuresCol=features_col, predictionCol=prediction_col)
    return model


@contextlib.contextmanager
def _worker_errors():
    """Re-raise a ``ValueError`` that ksweep raised in a Python worker as itself."""
    try:
        yield
    except Exception as exc:
        lines = [
            line.strip()
            for line in str(exc).splitlines()
            if line.strip().startswith("ValueError: SparkKSweep")
        ]
        if lines:
            raise ValueError(lines[-1].removeprefix("ValueError: ")) from None
        raise
