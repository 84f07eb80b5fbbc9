"""k sweeps on Spark: k-means for every k on a Spark DataFrame, with ksweep's results and selection.

:class:`SparkKSweep` fits k-means for every ``(k, restart)`` on a Spark DataFrame with a
vector column, with ksweep's fused engine (every k in one Spark job per Lloyd iteration) or
with ``pyspark.ml.clustering.KMeans`` (``engine="mllib"``), keeps the best model per k
(lowest cost, the sum of squared distances: MLlib's ``trainingCost``), records every
restart in a :class:`~ksweep.SweepResult` and chooses k with the same selection methods as
:class:`~ksweep.KSweep`, so ``results_``, ``summary()``, ``to_frame()`` and ``plot()`` read
the same. :func:`assemble_features` builds the vector column from numeric
columns.

pyspark is imported only when a fit, a prediction or :func:`assemble_features` needs it;
without it they raise ``ImportError`` with the install hint ``pip install 'ksweep[spark]'``.

Example (needs a running SparkSession, so it is not a doctest)::

    from ksweep.spark import SparkKSweep, assemble_features

    df = assemble_features(spark.read.parquet("points.parquet"), ["x0", "x1", "x2"])
    sweep = SparkKSweep(k_range=range(2, 13), n_init=2, random_state=0).fit(df)
    print(sweep.results_.to_text(marked_k=sweep.best_k_))
    labelled = sweep.predict(df)  # df with a "prediction" column, from sweep.best_model_
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import threading
import time
import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np

from ksweep._choosing import Summary, check_long_enough, choose_k, needed_scoring, summary
from ksweep._results import SweepResult
from ksweep._spark_fused import fused_unsupported, run_fused
from ksweep._sweep import _warn_non_monotonic, seed_entropy, task_seeds
from ksweep._tasks import TaskRecord
from ksweep._validation import (
    CALLABLE,
    NONE,
    RANDOM_STATE,
    Constraint,
    check_k_range,
    int_at_least,
    options,
    param_error,
    validate_params,
)
from ksweep.exceptions import SweepInterrupted, SweepTaskError

__all__ = ["SparkKSweep", "assemble_features"]

_INSTALL_HINT = "pip install 'ksweep[spark]'"
#: Selection names SparkKSweep accepts (the criteria it can compute on Spark).
SPARK_SELECTION_NAMES = ("kneedle", "two_segment", "silhouette")
#: Criteria ``scoring=`` can name.
SPARK_SCORING_NAMES = ("silhouette",)
_INERTIA_DEFINITION = (
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


def assemble_features(df, input_cols, output_col: str = "features", handle_invalid: str = "error"):
    """Add a vector column built from numeric columns, with Spark's ``VectorAssembler``.

    Parameters
    ----------
    df : pyspark.sql.DataFrame
    input_cols : sequence of str
        The numeric (or vector) columns to put side by side, in order.
    output_col : str, default="features"
        Name of the new vector column (the ``features_col`` of :class:`SparkKSweep`).
    handle_invalid : {"error", "skip", "keep"}, default="error"
        What ``VectorAssembler`` does with null or NaN values: fail, drop the row, or keep NaN.

    Returns
    -------
    pyspark.sql.DataFrame
        ``df`` with ``output_col`` added.

    Examples
    --------
    >>> from pyspark.sql import SparkSession
    >>> spark = (
    ...     SparkSession.builder.master("local[1]")
    ...     .config("spark.ui.enabled", "false")
    ...     .config("spark.ui.showConsoleProgress", "false")
    ...     .config("spark.sql.shuffle.partitions", "1")
    ...     .getOrCreate()
    ... )
    >>> spark.sparkContext.setLogLevel("ERROR")
    >>> from ksweep.spark import assemble_features
    >>> points = spark.range(3).selectExpr("id + 1 AS x", "(id + 1) * 10 AS y")
    >>> df = assemble_features(points, ["x", "y"])
    >>> df.columns
    ['x', 'y', 'features']
    >>> df.orderBy("x").first().features
    DenseVector([1.0, 10.0])
    >>> spark.stop()
    """
    owner = "assemble_features"
    _check_dataframe(df, owner)
    if isinstance(input_cols, str) or not all(isinstance(c, str) for c in input_cols):
        raise param_error("input_cols", owner, "a non-empty sequence of column names", input_cols)
    input_cols = list(input_cols)
    if not input_cols:
        raise param_error("input_cols", owner, "a non-empty sequence of column names", input_cols)
    missing = [c for c in input_cols if c not in df.columns]
    if missing:
        raise ValueError(
            f"{owner}: the columns {missing} are not in the DataFrame (its columns: {df.columns})."
        )
    if output_col in df.columns:
        raise ValueError(f"{owner}: the DataFrame already has a column {output_col!r}.")
    validate_params(
        owner,
        {"output_col": [Constraint("a str", lambda v: isinstance(v, str))]},
        {"output_col": output_col},
    )
    validate_params(
        owner,
        {"handle_invalid": [options("error", "skip", "keep")]},
        {"handle_invalid": handle_invalid},
    )
    assembler = _pyspark(owner).VectorAssembler(
        inputCols=input_cols, outputCol=output_col, handleInvalid=handle_invalid
    )
    return assembler.transform(df)


class _Cancelled(Exception):
    """A task saw the sweep being stopped before it started its fit."""


class SparkKSweep:
    """Sweep k-means over a k range on a Spark DataFrame and choose k.

    With the fused engine (the default), every ``(k, restart)`` runs Lloyd's algorithm on
    the executors, all of them sharing one Spark job per iteration (see ``engine``). With
    ``engine="mllib"``, every ``(k, restart)`` is one ``pyspark.ml.clustering.KMeans`` fit,
    with its own seed; ``concurrency`` driver threads submit the fits, so Spark can run the
    jobs of several k side by side (largest k first). The best restart of each k (lowest
    cost) is kept as a ``KMeansModel``; the selection method then picks ``best_k_``, and
    ``predict``/``transform`` delegate to ``best_model_``.

    This is not a scikit-learn estimator (Spark models are not): there is no ``get_params``
    and ``fit`` takes a Spark DataFrame.

    Parameters
    ----------
    k_range : range or array-like of int, default=range(2, 11)
        The k values to fit, increasing, each >= 2 (Spark's KMeans refuses k=1) and at most
        the number of rows.
    n_init : int, default=1
        Fits per k, each with its own seed; the lowest ``trainingCost`` wins. One is Spark's
        (and scikit-learn's ``n_init="auto"``) choice for k-means||, whose initialization is
        already a k-means++ style one; raise it when ``results_["non_monotonic"]`` flags a k.
    random_state : int, numpy RandomState or Generator, or None, default=None
        Root of every seed. The Spark seed of restart r of k is
        ``SeedSequence(entropy, spawn_key=(k, r)).generate_state(1)[0]`` (a 32-bit value,
        which Spark takes as a long): the same seed :class:`~ksweep.KSweep` gives that task
        with the same ``random_state``, independent of the k range, ``concurrency`` and the
        order fits run in. ``results_["restart_seed"]`` holds them:
        ``KMeans(k=k, seed=seed, ...).fit(df)`` refits any restart.
    selection : {"kneedle", "two_segment", "silhouette"} or callable, default="kneedle"
        How to choose k, as in :class:`~ksweep.KSweep`: the elbow detectors read the best
        ``trainingCost`` per k; ``"silhouette"`` the highest silhouette (computed even when
        ``scoring`` does not name it); a callable ``f(k, results)`` returns a
        :class:`~ksweep.SelectionResult`, an object with ``.k``, an int or None. When the
        method finds no k, a :class:`~ksweep.exceptions.NoElbowWarning` is issued and the
        largest k is used.
    elbow_scale : {"auto", "log", "linear"}, default="auto"
        Scale of the cost handed to the elbow detectors: ``"auto"`` is the log for kneedle
        and linear for two_segment, as in :class:`~ksweep.KSweep`.
    scoring : None, "silhouette" or ("silhouette",), default=None
        Criteria to add as columns of ``results_``, from the best model of each k. The
        silhouette is Spark's ``ClusteringEvaluator(distanceMeasure="squaredEuclidean")`` on
        every row: it uses *squared* Euclidean distances, so it is not the Euclidean
        silhouette ``KSweep`` computes (the two are not comparable number for number).
    features_col : str, default="features"
        The vector column (``VectorUDT``, or an array of doubles or floats) to cluster.
    prediction_col : str, default="prediction"
        The column ``predict`` and ``transform`` add (the models' ``predictionCol``).
    max_iter : int, default=20
        Most Lloyd iterations per fit (Spark's ``maxIter``).
    tol : float, default=1e-4
        Convergence tolerance. "mllib": Spark's ``tol`` (every center moved by less than
        it). "fused": scikit-learn's rule (the squared center shift, summed over the
        centers, at most ``tol`` × the mean feature variance).
    init_mode : {"k-means||", "random"}, default="k-means||"
        Spark's ``initMode`` ("mllib" only; "random" makes "auto" use "mllib").
    init_steps : int, default=2
        Spark's ``initSteps`` for k-means|| ("mllib" only; another value makes "auto" use
        "mllib").
    engine : {"auto", "fused", "mllib"}, default="auto"
        "fused": ksweep's data-parallel engine. The features are cached once on the
        executors as NumPy blocks; every Lloyd iteration of every ``(k, restart)`` shares
        one Spark job over them, whose per-center sums are added up on the executors (the
        driver receives one array per iteration). Each run starts from the best of five
        k-means++ draws refined on a uniform sample of 20,000 rows; the cost per k is
        the exact sum of squared distances (the scale of ``trainingCost``); ``best_model_``
        is a ``KMeansModel`` built from the chosen centers. The executors' Python
        workers need numpy, pyarrow, numba and ksweep. "mllib": one
        ``pyspark.ml.clustering.KMeans`` fit per ``(k, restart)``, ``concurrency`` at a
        time. "auto" is "fused" unless ``init_mode``/``init_steps`` ask for MLlib's
        initialization, there is no SparkContext (Spark Connect), or numba or pyarrow
        is missing on the driver; ``results_.engine`` says which ran.
    concurrency : int, default=2
        ("mllib" only.) Driver threads that submit fits at once. Spark's scheduler runs the
        jobs of several threads side by side (FIFO by default; FAIR with
        ``spark.scheduler.mode=FAIR``), so the driver-side work of one fit overlaps the
        cluster work of another. 1 fits one after another.
    cache : bool, default=True
        Persist the features column once (``MEMORY_AND_DISK``) before the fits, and
        unpersist it at the end, unless ``df`` is already persisted (then its storage is used
        and left alone). False passes ``df`` as is (Spark's KMeans then caches its own copy
        for every fit). The fused engine keeps its own cached blocks while it fits, so it
        persists the column only to score silhouettes.

    Attributes
    ----------
    results_ : SweepResult
        One row per k: ``inertia`` and ``raw_inertia`` (the best ``trainingCost``),
        ``inertia_mean``, ``inertia_std``, ``best_restart``, ``n_iter``
        (``summary.numIter``), ``fit_time`` (wall seconds of the fits of that k, summed; with
        ``concurrency > 1`` fits share the cores, so each is longer than alone),
        ``non_monotonic``, the per-restart columns ``restart_*``, and ``silhouette`` when
        scored.
    best_k_ : int
        The chosen k.
    best_model_ : pyspark.ml.clustering.KMeansModel
        The best model of ``best_k_`` (with the fused engine, built from its centers: it
        transforms and predicts as a fitted one, and has no training summary).
    models_ : dict of int to KMeansModel
        The best model of every k.
    elbow_ : SelectionResult
        What the selection method chose and why.
    cluster_centers_ : ndarray of shape (n_centers, n_features)
        ``best_model_.clusterCenters()`` as an array.
    n_rows_ : int
        Number of rows fitted.
    n_features_in_ : int
        Length of the feature vectors.

    Notes
    -----
    Seeds, ``results_`` and selection are ksweep's. With ``engine="mllib"`` the fits are
    Spark's: ``trainingCost`` per k equals a direct ``KMeans(k=k, seed=seed, ...).fit(df)``
    with the seed from ``results_["restart_seed"]``, and a failing fit raises
    :class:`~ksweep.exceptions.SweepTaskError` naming its k and restart, with the finished
    fits in ``.completed``; the other fits in flight are cancelled (Spark job tag
    ``ksweep-...``). Ctrl-C cancels them too and raises
    :class:`~ksweep.exceptions.SweepInterrupted`.

    Examples
    --------
    Three tight groups of points around (0, 0), (10, 10) and (20, 20), made in Spark:

    >>> from pyspark.sql import SparkSession
    >>> spark = (
    ...     SparkSession.builder.master("local[1]")
    ...     .config("spark.ui.enabled", "false")
    ...     .config("spark.ui.showConsoleProgress", "false")
    ...     .config("spark.sql.shuffle.partitions", "1")
    ...     .getOrCreate()
    ... )
    >>> spark.sparkContext.setLogLevel("ERROR")
    >>> from ksweep.spark import SparkKSweep, assemble_features
    >>> points = spark.range(300).selectExpr(
    ...     "(id % 3) * 10 + (id % 7) * 0.1 AS x", "(id % 3) * 10 + (id % 11) * 0.1 AS y"
    ... )
    >>> df = assemble_features(points, ["x", "y"])
    >>> sweep = SparkKSweep(k_range=range(2, 7), random_state=0).fit(df)
    >>> sweep.results_["k"].tolist(), sweep.best_k_
    ([2, 3, 4, 5, 6], 3)
    >>> sweep.predict(df).select("prediction").distinct().count()
    3
    >>> spark.stop()
    """

    _parameter_constraints: dict[str, list[Constraint]] = {  # noqa: RUF012
        "n_init": [int_at_least(1)],
        "random_state": [RANDOM_STATE, NONE],
        "selection": [options(*SPARK_SELECTION_NAMES), CALLABLE],
        "elbow_scale": [options("auto", "log", "linear")],
        "scoring": [
            Constraint(
                "a tuple of str among {'silhouette'}",
                lambda v: (
                    isinstance(v, (tuple, list))
                    and all(isinstance(n, str) and n in SPARK_SCORING_NAMES for n in v)
                ),
            ),
            options(*SPARK_SCORING_NAMES),
            NONE,
        ],
        "features_col": [Constraint("a non-empty str", lambda v: isinstance(v, str) and v)],
        "prediction_col": [Constraint("a non-empty str", lambda v: isinstance(v, str) and v)],
        "max_iter": [int_at_least(1)],
        "tol": [
            Constraint(
                "a float in the range [0, inf)",
                lambda v: (
                    isinstance(v, (int, float, np.floating, np.integer))
                    and not isinstance(v, bool)
                    and np.isfinite(v)
                    and v >= 0
                ),
            )
        ],
        "init_mode": [options("k-means||", "random")],
        "init_steps": [int_at_least(1)],
        "engine": [options("auto", "fused", "mllib")],
        "concurrency": [int_at_least(1)],
        "cache": [Constraint("a bool", lambda v: isinstance(v, bool | np.bool_))],
    }

    def __init__(
        self,
        *,
        k_range=range(2, 11),
        n_init: int = 1,
        random_state=None,
        selection: str | Callable = "kneedle",
        elbow_scale: str = "auto",
        scoring=None,
        features_col: str = "features",
        prediction_col: str = "prediction",
        max_iter: int = 20,
        tol: float = 1e-4,
        init_mode: str = "k-means||",
        init_steps: int = 2,
        engine: str = "auto",
        concurrency: int = 2,
        cache: bool = True,
    ):
        self.k_range = k_range
        self.n_init = n_init
        self.random_state = random_state
        self.selection = selection
        self.elbow_scale = elbow_scale
        self.scoring = scoring
        self.features_col = features_col
        self.prediction_col = prediction_col
        self.max_iter = max_iter
        self.tol = tol
        self.init_mode = init_mode
        self.init_steps = init_steps
        self.engine = engine
        self.concurrency = concurrency
        self.cache = cache

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters, by name."""
        return {name: getattr(self, name) for name in ("k_range", *self._parameter_constraints)}

    def __repr__(self) -> str:
        defaults = SparkKSweep.__init__.__kwdefaults__
        changed = [
            f"{name}={value!r}"
            for name, value in self.get_params().items()
            if not (name in defaults and _same(value, defaults[name]))
        ]
        return f"{type(self).__name__}({', '.join(changed)})"

    # -- set-up -------------------------------------------------------------------------

    def _scoring(self) -> tuple[str, ...]:
        named = (self.scoring,) if isinstance(self.scoring, str) else tuple(self.scoring or ())
        return needed_scoring(named, self.selection)

    def _validate_params(self) -> np.ndarray:
        owner = type(self).__name__
        validate_params(owner, self._parameter_constraints, self.get_params())
        k_values = check_k_range(self.k_range, owner=owner)
        if k_values.min() < 2:
            raise param_error(
                "k_range", owner, "made of ints >= 2 (Spark's KMeans refuses k=1)", self.k_range
            )
        check_long_enough(k_values, self.selection, self.k_range, owner)
        return k_values

    def _engine(self, data) -> str:
        """The engine that runs: ``engine``, with "auto" resolved; "fused" must be able to."""
        if self.engine == "mllib":
            return "mllib"
        why_not = fused_unsupported(self.init_mode, self.init_steps, _spark_context(data))
        if why_not is None:
            return "fused"
        if self.engine == "auto":
            return "mllib"
        raise param_error(
            "engine",
            type(self).__name__,
            f"'auto' or 'mllib' here: the fused engine cannot run because {why_not}",
            self.engine,
        )

    def _kmeans(self, k: int, seed: int):
        return _pyspark(type(self).__name__).KMeans(
            featuresCol=self.features_col,
            predictionCol=self.prediction_col,
            k=int(k),
            initMode=self.init_mode,
            initSteps=int(self.init_steps),
            tol=float(self.tol),
            maxIter=int(self.max_iter),
            seed=int(seed),
        )

    # -- fitting ------------------------------------------------------------------------

    def fit(self, df, y=None):
        """Fit ``KMeans`` for every ``(k, restart)`` on ``df``, then choose k.

        Parameters
        ----------
        df : pyspark.sql.DataFrame
            With the vector column ``features_col``; other columns are ignored.
        y : ignored

        Returns
        -------
        self
        """
        owner = type(self).__name__
        k_values = self._validate_params()
        storage = _pyspark(owner).StorageLevel
        _check_dataframe(df, owner)
        _check_features_column(df, self.features_col, owner)
        scoring = self._scoring()
        entropy = seed_entropy(self.random_state)
        seeds = task_seeds(entropy, k_values, self.n_init)

        data = df.select(self.features_col)
        engine = self._engine(data)
        cached_here = False
        wants_cache = self.cache and (engine == "mllib" or bool(scoring))
        if wants_cache and not (_is_persisted(df) or _is_persisted(data)):
            data = data.persist(storage.MEMORY_AND_DISK)
            cached_here = True
        try:
            n_rows = data.count()  # materializes the cache once, before any fit
            if n_rows < 2:
                raise ValueError(
                    f"{owner} needs at least 2 rows to cluster. Got {n_rows} row(s) instead."
                )
            if k_values.max() > n_rows:
                raise param_error(
                    "k_range", owner, f"made of ints <= the number of rows ({n_rows})", self.k_range
                )
            plan = [
                ((int(k), r), int(seeds[i, r]))
                for i, k in reversed(list(enumerate(k_values)))
                for r in range(self.n_init)
            ]
            if engine == "fused":
                records = run_fused(
                    data,
                    plan,
                    features_col=self.features_col,
                    prediction_col=self.prediction_col,
                    max_iter=int(self.max_iter),
                    tol=float(self.tol),
                    sample_seed=np.random.SeedSequence(entropy, spawn_key=(1,)),
                ).records
            else:
                records = self._run(data, plan)
            restarts = {
                name: [
                    [getattr(records[int(k), r], name) for r in range(self.n_init)]
                    for k in k_values
                ]
                for name in ("inertia", "raw_inertia", "n_iter", "fit_time")
            }
            results = SweepResult(
                k_values,
                {**restarts, "seed": seeds},
                inertia_definition=_INERTIA_DEFINITION,
                engine="spark-fused" if engine == "fused" else "mllib",
            )
            _warn_non_monotonic(results)
            best = [
                (int(k), int(r)) for k, r in zip(k_values, results["best_restart"], strict=True)
            ]
            models = {k: records[k, r].estimator for k, r in best}
            if scoring:
                results = results.with_columns(**self._silhouettes(data, k_values, models, n_rows))
        finally:
            if cached_here:
                data.unpersist()
        self.results_ = results
        self.models_ = models
        self.n_rows_ = int(n_rows)
        self.elbow_, self.best_k_ = self._select(k_values, results)
        self.best_model_ = models[self.best_k_]
        self.cluster_centers_ = np.array([np.asarray(c) for c in self.best_model_.clusterCenters()])
        self.n_features_in_ = int(self.cluster_centers_.shape[1])
        return self

    def _run(self, data, plan: list[tuple[tuple[int, int], int]]) -> dict[tuple, TaskRecord]:
        """Fit every planned ``((k, restart), seed)`` from ``concurrency`` threads.

        Only the best model of each k is kept while the sweep runs. A failure or
        Ctrl-C stops submitting, cancels the Spark jobs in flight (by job tag) and
        raises with the finished records.
        """
        sc = _spark_context(data)
        tag = f"ksweep-{uuid.uuid4().hex[:12]}"
        stop = threading.Event()
        properties = _local_properties(sc)
        records: dict[tuple, TaskRecord] = {}
        best_so_far: dict[int, tuple[float, int]] = {}  # k -> (cost, restart)

        def task(key: tuple[int, int], seed: int) -> TaskRecord:
            if stop.is_set():
                raise _Cancelled
            k, restart = key
            _enter_thread(sc, properties, tag, f"ksweep: KMeans k={k} restart={restart}")
            estimator = self._kmeans(k, seed)
            start = time.perf_counter()
            model = estimator.fit(data)
            elapsed = time.perf_counter() - start
            cost = float(model.summary.trainingCost)
            return TaskRecord(
                inertia=cost,
                raw_inertia=cost,
                n_iter=int(model.summary.numIter),
                fit_time=elapsed,
                estimator=model,
            )

        pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=self.concurrency, thread_name_prefix="ksweep-spark"
        )
        futures = {}
        try:
            futures = {pool.submit(task, key, seed): key for key, seed in plan}
            for future in concurrent.futures.as_completed(futures):
                key = futures[future]
                try:
                    record = future.result()
                except Exception as exc:
                    raise self._task_error(key, exc, records) from exc
                records[key] = record
                k, restart = key
                # the order SweepResult ranks restarts by: lowest cost, NaN last, first on ties
                rank = (np.inf if np.isnan(record.inertia) else record.inertia, restart)
                if k not in best_so_far or rank < best_so_far[k]:
                    if k in best_so_far:  # drop the model it beats
                        old = best_so_far[k][1]
                        records[k, old] = _without_model(records[k, old])
                    best_so_far[k] = rank
                else:
                    records[key] = _without_model(record)
        except KeyboardInterrupt:
            _cancel(stop, futures, sc, tag)
            pool.shutdown(wait=True, cancel_futures=True)
            raise SweepInterrupted(
                f"Sweep interrupted after {len(records)} of {len(plan)} fits; the finished "
                "fits are in this exception's 'completed' attribute.",
                completed=list(records.items()),
            ) from None
        except BaseException:
            _cancel(stop, futures, sc, tag)
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return records

    def _task_error(self, key, exc: BaseException, records: dict) -> SweepTaskError:
        k, restart = key
        return SweepTaskError(
            f"Fitting pyspark KMeans with k={k} (restart {restart}) failed: "
            f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}. "
            f"The {len(records)} finished fit(s) are in this exception's 'completed' attribute.",
            k=k,
            restart=restart,
            completed=list(records.items()),
        )

    def _silhouettes(self, data, k_values, models, n_rows) -> dict[str, np.ndarray]:
        """Spark's squared-Euclidean silhouette of the best model per k, computed concurrently."""
        ClusteringEvaluator = _pyspark(type(self).__name__).ClusteringEvaluator
        sc = _spark_context(data)
        properties = _local_properties(sc)
        tag = f"ksweep-{uuid.uuid4().hex[:12]}"

        def score(k: int) -> float:
            _enter_thread(sc, properties, tag, f"ksweep: silhouette k={k}")
            model = models[k]
            if len(model.clusterCenters()) < 2:
                return float("nan")
            evaluator = ClusteringEvaluator(
                featuresCol=self.features_col,
                predictionCol=self.prediction_col,
                metricName="silhouette",
                distanceMeasure="squaredEuclidean",
            )
            return float(evaluator.evaluate(model.transform(data)))

        with concurrent.futures.ThreadPoolExecutor(
            max_workers=self.concurrency, thread_name_prefix="ksweep-spark"
        ) as pool:
            values = list(pool.map(score, [int(k) for k in k_values]))
        return {
            "silhouette": np.asarray(values, dtype=np.float64),
            "silhouette_n_samples": np.full(k_values.shape, n_rows, dtype=np.int64),
        }

    def _select(self, k_values: np.ndarray, results: SweepResult) -> tuple[Any, int]:
        """Run the selection method; if it finds no k, warn and use the largest k."""
        return choose_k(
            self.selection,
            k_values,
            results,
            self.elbow_scale,
            owner=type(self).__name__,
            stacklevel=4,
        )

    # -- evidence -----------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "results_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with a "
                "Spark DataFrame first."
            )

    def summary(self) -> Summary:
        """What every applicable selection method chooses on this sweep, side by side.

        kneedle and two_segment always, the silhouette when it is in ``results_``.
        ``str()`` gives a table; ``.chosen()`` maps each method to its k.
        """
        self._check_fitted()
        return Summary(summary(self.results_["k"], self.results_, self.elbow_scale))

    def plot(self, ax=None):
        """Plot the sweep like :meth:`ksweep.KSweep.plot`: the cost per k, the chosen k marked.

        Without ``ax``, a figure with the elbow panel and a silhouette panel when it was
        scored; with ``ax``, only the elbow panel. Needs matplotlib.
        """
        self._check_fitted()
        from ksweep.plotting import plot_fitted

        return plot_fitted(self.results_, self.elbow_, self.best_k_, SPARK_SCORING_NAMES, ax=ax)

    # -- the chosen model ---------------------------------------------------------------

    def transform(self, df):
        """``best_model_.transform(df)``: ``df`` with the ``prediction_col`` cluster column."""
        self._check_fitted()
        owner = type(self).__name__
        _check_dataframe(df, owner)
        _check_features_column(df, self.features_col, owner)
        return self.best_model_.transform(df)

    def predict(self, df):
        """Clusters under ``best_model_``.

        A Spark DataFrame gives the DataFrame with the ``prediction_col`` column (as
        :meth:`transform`); a single vector gives its cluster index, as
        ``KMeansModel.predict``.
        """
        self._check_fitted()
        if isinstance(df, _pyspark(type(self).__name__).DataFrame):
            return self.transform(df)
        return int(self.best_model_.predict(df))


# -- helpers ----------------------------------------------------------------------------


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:
        return False


def _without_model(record: TaskRecord) -> TaskRecord:
    return dataclasses.replace(record, estimator=None)


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


def _cancel(stop: threading.Event, futures: dict, sc, tag: str) -> None:
    """Stop starting fits, drop the pending ones and cancel the Spark jobs in flight."""
    stop.set()
    for future in futures:
        future.cancel()
    if sc is None:
        return
    try:
        if hasattr(sc, "cancelJobsWithTag"):
            sc.cancelJobsWithTag(tag)
        else:  # pragma: no cover - pyspark < 3.5
            sc.cancelJobGroup(tag)
    except Exception:  # the context may be gone already; the original error matters
        pass
