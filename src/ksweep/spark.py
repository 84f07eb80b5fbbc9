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

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from ksweep._choosing import Summary, check_long_enough, needed_scoring, summary
from ksweep._pipeline import adopt, drive, user_stacklevel, warn_non_monotonic
from ksweep._repair import repair
from ksweep._spark import (
    SparkRunner,
    _check_dataframe,
    _check_features_column,
    _pyspark,
    _spark_context,
    cached_features,
)
from ksweep._spark_fused import SparkFusedRunner, fused_unsupported
from ksweep._structure_check import structure_for
from ksweep._validation import (
    CALLABLE,
    NONE,
    RANDOM_STATE,
    Constraint,
    Rule,
    check_k_range,
    int_at_least,
    options,
    param_error,
    validate_params,
)

__all__ = ["SparkKSweep", "assemble_features"]

#: Selection names SparkKSweep accepts (the criteria it can compute on Spark).
SPARK_SELECTION_NAMES = ("auto", "kneedle", "two_segment", "silhouette")
#: Criteria ``scoring=`` can name.
SPARK_SCORING_NAMES = ("silhouette",)


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
        already a k-means++ style one; ``n_init_max`` gives a k that looks stuck more.
    n_init_max : "auto", int or None, default="auto"
        Restarts for a k that looks stuck in a poor local optimum, as in
        :class:`~ksweep.KSweep`: its best cost is above the previous k's or breaks the
        convexity of the cost curve (:func:`ksweep.convergence.suspicious_k`). Each such k
        is fitted again with ``n_init_max`` restarts by the same engine (its first
        ``n_init`` are the sweep's own, not refitted; the fused engine runs the new ones in
        one more set of passes) and keeps a better fit. "auto" means
        ``max(2 * n_init, 4)``; None turns the repair off. ``results_["n_restarts_run"]``
        and ``results_["restarts_reason"]`` record it, the ``restart_*`` columns hold every
        restart a k had (NaN, or -1, where another k had more), and a k still suspicious
        afterwards is named in an :class:`~ksweep.exceptions.UnderConvergedWarning`.
    random_state : int, numpy RandomState or Generator, or None, default=None
        Root of every seed. The Spark seed of restart r of k is
        ``SeedSequence(entropy, spawn_key=(k, r)).generate_state(1)[0]`` (a 32-bit value,
        which Spark takes as a long): the same seed :class:`~ksweep.KSweep` gives that task
        with the same ``random_state``, independent of the k range, ``concurrency`` and the
        order fits run in. ``results_["restart_seed"]`` holds them:
        ``KMeans(k=k, seed=seed, ...).fit(df)`` refits any restart.
    selection : {"auto", "kneedle", "two_segment", "silhouette"} or callable, default="auto"
        How to choose k, as in :class:`~ksweep.KSweep`: ``"auto"`` is kneedle unless the
        no-structure test finds none (its bounding box from one ``Summarizer`` pass, its
        rows a sample of about 1,000 collected to the driver); k = 1 cannot be swept on
        Spark, so then a :class:`~ksweep.NoStructureWarning` is issued and kneedle's k
        kept; ``structure_`` holds the test. The elbow detectors read the best
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
        ("mllib" only, and the silhouettes.) Driver threads that submit fits at once.
        Spark's scheduler runs the jobs of several threads side by side (FIFO by default;
        FAIR with ``spark.scheduler.mode=FAIR``), so the driver-side work of one fit
        overlaps the cluster work of another. 1 fits one after another.
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

    #: What each parameter may be (ksweep's own schema, see ``ksweep._validation``).
    _constraints: ClassVar[dict[str, Rule]] = {
        "n_init": [int_at_least(1)],
        "n_init_max": [options("auto"), int_at_least(1), NONE],
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
        n_init_max="auto",
        random_state=None,
        selection: str | Callable = "auto",
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
        self.n_init_max = n_init_max
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
        return {name: getattr(self, name) for name in ("k_range", *self._constraints)}

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

    def _check_params(self) -> np.ndarray:
        owner = type(self).__name__
        validate_params(owner, self._constraints, self.get_params())
        k_values = check_k_range(self.k_range, owner=owner)
        if k_values.min() < 2:
            raise param_error(
                "k_range", owner, "made of ints >= 2 (Spark's KMeans refuses k=1)", self.k_range
            )
        check_long_enough(k_values, self.selection, self.k_range, owner)
        return k_values

    def _engine(self, df) -> str:
        """The engine that runs: ``engine``, with "auto" resolved; "fused" must be able to."""
        if self.engine == "mllib":
            return "mllib"
        why_not = fused_unsupported(self.init_mode, self.init_steps, _spark_context(df))
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
        k_values = self._check_params()
        _pyspark(owner)  # without pyspark, say how to install it before anything else
        _check_dataframe(df, owner)
        _check_features_column(df, self.features_col, owner)
        engine = self._engine(df)
        cache = self.cache and (engine == "mllib" or bool(self._scoring()))
        with cached_features(df, self.features_col, cache, owner) as data:
            runner = (SparkFusedRunner if engine == "fused" else SparkRunner)(self, data, k_values)
            plan = runner.plan()
            runner.warn_rising = False  # warned after the repair
            fitted = drive(plan, runner)
            if self.n_init_max is not None:
                fitted = repair(self, fitted, plan, runner.rerun)
            warn_non_monotonic(fitted.results, user_stacklevel())
            self.structure_ = structure_for(self.selection, runner, plan.entropy)
        adopt(
            self, fitted, models_attr="models_", best_attr="best_model_", structure=self.structure_
        )
        self.n_rows_ = int(runner.n_rows)
        self.cluster_centers_ = np.array([np.asarray(c) for c in self.best_model_.clusterCenters()])
        self.n_features_in_ = int(self.cluster_centers_.shape[1])
        return self

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
        return Summary(
            summary(
                self.results_["k"],
                self.results_,
                self.elbow_scale,
                structure=getattr(self, "structure_", None),
            )
        )

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
