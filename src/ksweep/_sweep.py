"""KSweep: the scikit-learn front end of a sweep (parameters, docstrings, delegation).

``fit``, ``extend`` and ``partial_fit`` validate, pick a runner and go through
the shared stages of :mod:`ksweep._pipeline` (plan, run, assemble, choose, adopt):
:class:`~ksweep._local.LocalRunner` for X in memory,
:class:`~ksweep._dask_arrays.DaskArrayRunner` for dask arrays, and
:class:`~ksweep._incremental.IncrementalSweep` for streams.
"""

from __future__ import annotations

from typing import ClassVar

from sklearn.base import BaseEstimator, ClusterMixin, MetaEstimatorMixin
from sklearn.cluster import KMeans
from sklearn.utils import get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ksweep._choosing import (
    DEFAULT_GAP_RULE,
    check_long_enough,
    needed_scoring,
)
from ksweep._dask_arrays import (
    SAMPLE_ROWS,
    DaskArrayRunner,
    is_dask_collection,
)
from ksweep._delegation import ChosenModelMixin
from ksweep._evidence import SweepEvidence
from ksweep._executors import ExecutorByReference, validate_executor
from ksweep._families import check_scoring_applies, family_of
from ksweep._incremental import not_incremental, stream_batch
from ksweep._local import LocalRunner
from ksweep._pipeline import Runner, adopt, drive, user_stacklevel, warn_non_monotonic
from ksweep._repair import repair
from ksweep._resampling import resampled_stability, stability_columns

# seed_entropy and task_seeds lived here before ksweep._seeding: re-exported for old imports
from ksweep._seeding import seed_entropy as seed_entropy
from ksweep._seeding import task_seeds as task_seeds
from ksweep._structure_check import structure_for
from ksweep._sweep_params import KSWEEP_CONSTRAINTS
from ksweep._validation import (
    Rule,
    check_input,
    check_k_range,
    cluster_count_param,
    validate_params,
)
from ksweep.criteria import DEFAULT_SILHOUETTE_SAMPLE


class KSweep(
    SweepEvidence,
    ChosenModelMixin,
    ExecutorByReference,
    ClusterMixin,
    MetaEstimatorMixin,
    BaseEstimator,
):
    """Fit a clusterer for every k in a range, with restarts, and choose k.

    Each ``(k, restart)`` pair is one task: a clone of ``estimator`` with its
    cluster-count parameter set to k, a single restart (``n_init=1`` where the
    estimator has ``n_init``) and a seed of its own, fitted through
    ``executor``. The best restart per k is kept, the selection method picks
    ``best_k_`` from the best inertia per k, and the sweep then behaves like
    the chosen model (``predict``, ``transform``, ``score`` delegate to it).

    Parameters
    ----------
    estimator : estimator, default=None
        A scikit-learn style clusterer with an ``n_clusters`` (or, for mixture
        models, ``n_components``) parameter: scikit-learn's clusterers, tslearn's
        ``TimeSeriesKMeans`` (euclidean, dtw, softdtw) and ``KShape``,
        ``kmedoids.KMedoids``, ``sklearn_extra.cluster.KMedoids``. None means
        ``sklearn.cluster.KMeans()``. tslearn estimators take time series
        datasets: 3-D ``(n_series, length, n_dims)``, 2-D, or a list of series
        of different lengths (NaN-padded).
    k_range : range or array-like of int, default=range(2, 11)
        The k values to fit, strictly increasing, each between 1 and
        n_samples.
    n_init : int, default=10
        Restarts per k, each a separate task with its own seed. An estimator
        without a ``random_state`` parameter is deterministic and runs once
        per k (with a warning when ``n_init > 1``).
    random_state : int, RandomState, Generator or None, default=None
        Root of the seeds. The seed of each ``(k, restart)`` is derived from
        it with ``numpy.random.SeedSequence`` before any task runs, so an int
        gives identical ``results_`` on every executor and in any task order.
    executor : str, concurrent.futures.Executor or distributed.Client, default="auto"
        Where tasks run. "auto" uses every core this process may use (CPU
        affinity, cgroup quotas, an enclosing ``threadpoolctl`` limit or
        ``joblib.parallel_config``): the fused engine runs in this process, its
        tasks side by side in threads sharing the cores; independent fits run in
        a warm pool of worker processes when the sweep is large enough to pay
        back its start-up (rows × features × the k of every task ≥ 10⁹, about
        two seconds of one core's fitting), and one after another in this
        process otherwise. The choice never changes ``results_``. Or a name:
        ``"serial"``, ``"threads"``, ``"processes"``,
        ``"dask"`` (the current ``distributed.Client``, else a local cluster
        that ksweep starts and closes), another registered name (see
        :func:`ksweep.register_executor`), any executor instance (loky's,
        ``ProcessPoolExecutor``, ``Client.get_executor()``) or a
        ``distributed.Client``. ksweep never shuts down an executor or closes
        a Client it was given. An executor instance is shared by clones and left
        out of pickles (an unpickled sweep uses ``"auto"``).
    n_jobs : int or None, default=None
        Cores for ``"auto"`` and workers of an executor made from a name: None
        or -1 for every core, -2 for all but one, and so on. Ignored by
        ``"serial"``, by executor instances and by an existing Client.
    engine : {"auto", "fused", "independent"}, default="auto"
        How the k-means fits run. "independent": one fit of the estimator per
        ``(k, restart)`` task. "fused": for scikit-learn's ``KMeans``
        (``init="k-means++"``) and tslearn's ``TimeSeriesKMeans(metric="euclidean")``
        on dense data, all k of a few restarts are fitted together, sharing each
        pass over X (Lloyd's algorithm with scikit-learn's semantics, a compiled
        kernel; needs numba); each task holds about 512 centers (all k of one
        restart at least), so restarts still spread over the executor's
        workers. "auto" uses "fused" where it applies and
        "independent" elsewhere; ``results_.engine`` says which ran.
    inner_threads : "auto", int or None, default="auto"
        Native (BLAS, OpenMP and the fused kernels') threads each task may use.
        "auto": for the fused engine, the cores are shared by the tasks running
        at once (one task alone gets them all; the fused engine's results do not
        depend on its thread count); independent fits get one thread each and
        their parallelism comes from running tasks side by side, which keeps
        ``results_`` bit-identical on every executor (scikit-learn's k-means sums
        in a thread-count dependent order). An int caps every task at that many;
        None leaves the libraries' defaults.
    progress : bool, default=False
        Show a tqdm progress bar (needs tqdm) on every executor: over fits as
        they complete for independent fits; over groups for the fused engine
        (the runs of a group end together; the ``(k, restart)`` runs finished
        are shown beside), so its rate and ETA are not skewed by jumps; over
        Lloyd passes over X for a dask array (every run shares each pass; at
        most ``max_iter + 1``, the bar ends full when the runs converge).
    selection : str or callable, default="auto"
        How ``best_k_`` is chosen. "auto": kneedle on the log of the best
        inertia per k, unless a null test finds no cluster structure
        (:func:`ksweep.structure.no_structure`: the gap statistic at k = 1
        and 2 against 10 data sets drawn uniformly in X's bounding box, on a
        sample of at most 1,000 rows; ``structure_`` holds it): then k = 1 when
        1 is in ``k_range``, else kneedle's k with a
        :class:`~ksweep.NoStructureWarning`. On ``benchmarks/selection_accuracy.py``
        (115 data sets with known k) it finds the true k in 100, kneedle alone in
        71, the best single criterion (gap, PCA references) in 87. Or a name:
        "kneedle" or "two_segment" (elbow of the best inertia per k),
        "silhouette", "calinski_harabasz", "davies_bouldin", "gap" (computed
        for the purpose), "bic" (mixtures), or "vote" (each of those computed
        casts one vote, the most voted k wins, a tie goes to the k of the
        first of them in that order; the three cheap criteria are computed
        for it, the gap only when ``scoring`` names it). A callable
        ``selection(k, results)`` receives the k values (ndarray of int) and
        ``results_`` (a :class:`~ksweep.SweepResult`) and returns an object
        with a ``k`` attribute (such as :class:`ksweep.SelectionResult`), an
        int, or None for "no k". When the method finds no
        k, a :class:`~ksweep.exceptions.NoElbowWarning` is issued and the
        largest k is used.
    elbow_scale : {"auto", "log", "linear"}, default="auto"
        The scale of the best inertia handed to the selection method. "log"
        looks for the elbow of the relative improvement per added cluster;
        "auto" means "log" for ``selection="kneedle"`` and ``"auto"`` (whose min-max scaling
        lets the first, largest drop dominate a linear curve) and "linear"
        for every other method. Log needs positive inertia: where some is
        zero, the linear scale is used. ``elbow_.details["scale"]`` records
        the scale used.
    scoring : str, tuple of str or None, default=None
        Criteria to add to ``results_`` as per-k columns, computed from the
        best model of each k: any of "silhouette", "calinski_harabasz",
        "davies_bouldin" (cheap: from the labels) and "gap" (costly: fits
        ``gap_references`` reference data sets like the data). The criterion
        ``selection`` names is computed even when absent here; ``summary()``
        shows the cheap three whatever ``scoring`` says. Euclidean, on feature
        vectors; on precomputed distances (``metric="precomputed"``) only
        "silhouette" applies.
    silhouette_sample : int or None, default=10_000
        Above this many samples the silhouette is computed on a seeded sample
        of this size, stratified by cluster; None always computes it exactly
        (in row blocks, never an n x n matrix).
    seeding_sample : int, default=20_000
        For a dask array X: the rows drawn to the client to seed the runs
        (each run starts from the best of five k-means++ draws, each refined
        by Lloyd on this sample; at least 3 × the largest k rows are drawn).
        A larger sample seeds better where clusters are small, and moves
        more rows to the client. Not used for X in memory or ``partial_fit``.
    gap_references : int, default=10
        Reference data sets of the gap statistic (B); each is swept like the
        data, so the gap costs about ``gap_references`` times the sweep.
    gap_reference : {"uniform", "pca"}, default="uniform"
        Where the gap's references are drawn: uniformly in the bounding box of
        the features, or of their principal components.
    gap_rule : {"firstSEmax", "Tibs2001SEmax", "globalSEmax", "firstmax", "globalmax"}, \
default="Tibs2001SEmax"
        How the gap statistic's k is read from its curve: the rules of R's
        ``cluster::maxSE`` (see :func:`ksweep.gap.gap_rule_index`). The default
        is the paper's rule, the most accurate of the five on
        ``benchmarks/selection_accuracy.py``.
    gap_se_factor : float, default=1.0
        R's ``SE.factor``: how many standard errors the gap's SE rules allow.
    score_func : callable or None, default=None
        ``score_func(fitted_estimator, X) -> float``, lower is better: the
        inertia of each fit, for estimators ksweep cannot score itself (no
        ``inertia_``, labels or ``predict``) or to use another objective.
    checkpoint : str, os.PathLike or None, default=None
        A directory where every finished ``(k, restart)`` is written as it
        completes (plain JSON); a later fit with the same data and parameters
        runs only the tasks not stored there (an interrupted sweep resumes).
        A checkpoint written for other data or parameters is refused with
        :class:`~ksweep.exceptions.CheckpointMismatchError`.
    checkpoint_overwrite : bool, default=False
        Discard a mismatching checkpoint instead of refusing it.
    n_init_max : "auto", int or None, default="auto"
        Restarts for a k that looks stuck in a poor local optimum: its best
        inertia is above the previous k's, or breaks the convexity of the inertia
        curve (it gains little over the k before, and the k after gains what it
        missed; see :func:`ksweep.convergence.suspicious_k`). With 10 restarts per
        k this is rare; with 1 to 3 it is common, and the k named nearly always
        improve (docs: "Under-converged k"). Each such k is swept again with
        ``n_init_max`` restarts through the same engine (its first ``n_init`` are
        the sweep's own: reused in memory, refitted in the shared passes of a
        dask array) and keeps a better fit. "auto" means ``max(2 * n_init, 4)``;
        None turns the repair off. ``results_["n_restarts_run"]`` and
        ``results_["restarts_reason"]`` record it, the ``restart_*`` columns hold
        every restart a k had (NaN where another k had more), and a k still
        suspicious after its restarts is named in an
        :class:`~ksweep.exceptions.UnderConvergedWarning`. Streams
        (``partial_fit``) do not repair (restarts added later would miss the
        batches already seen): they take "auto" or None. An estimator without
        ``random_state`` is not repaired (its restarts would be identical).
    stability : int or None, default=None
        B: sweep again on B subsamples of 80% of the rows (same engine and
        parameters, about B sweeps' cost) and record per k how many resamples
        chose it and the mean adjusted Rand index between their clusterings
        (``stability_``, ``results_["stability_chosen"]`` and
        ``["stability_ari"]``; ``summary()`` says e.g. "k=5 chosen in 19 of 20
        resamples"). X in memory only.

    Attributes
    ----------
    results_ : SweepResult
        Mapping of column name to array, one row per k (see
        :class:`ksweep.SweepResult`); ``results_.to_frame()`` gives a DataFrame.
    best_k_ : int
        The chosen number of clusters.
    best_estimator_ : estimator
        The best-of-n_init fitted estimator for ``best_k_``, of the user's class.
    estimators_ : dict of int to estimator
        The best-of-n_init fitted estimator for every k.
    elbow_ : SelectionResult
        The selection method's result: chosen k, per-candidate statistic, reason.
    structure_ : StructureTest, str or None
        With ``selection="auto"``: the no-structure test
        (:class:`ksweep.structure.StructureTest`), or why it did not run.
    stability_ : StabilityResult
        With ``stability``: :class:`ksweep.stability.StabilityResult`.
    labels_ : ndarray of shape (n_samples,)
        Labels of the training data under ``best_estimator_``.
    cluster_centers_ : ndarray of shape (best_k_, n_features)
        Centers of ``best_estimator_``, where it has them.
    n_features_in_ : int
        Number of features seen during fit.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from ksweep import KSweep
    >>> X, _ = make_blobs(n_samples=300, centers=4, cluster_std=0.5, random_state=0)
    >>> sweep = KSweep(k_range=range(2, 11), n_init=3, random_state=0).fit(X)
    >>> sweep.best_k_
    4
    >>> sweep.predict(X[:3]).shape
    (3,)
    """

    #: What each parameter may be (ksweep's own schema, see ``ksweep._validation``),
    #: checked in this order at the start of every fit.
    _constraints: ClassVar[dict[str, Rule]] = KSWEEP_CONSTRAINTS

    def __init__(
        self,
        estimator=None,
        *,
        k_range=range(2, 11),
        n_init=10,
        random_state=None,
        executor="auto",
        n_jobs=None,
        engine="auto",
        inner_threads="auto",
        progress=False,
        selection="auto",
        elbow_scale="auto",
        scoring=None,
        silhouette_sample=DEFAULT_SILHOUETTE_SAMPLE,
        seeding_sample=SAMPLE_ROWS,
        gap_references=10,
        gap_reference="uniform",
        gap_rule=DEFAULT_GAP_RULE,
        gap_se_factor=1.0,
        score_func=None,
        checkpoint=None,
        checkpoint_overwrite=False,
        n_init_max="auto",
        stability=None,
    ):
        self.estimator = estimator
        self.k_range = k_range
        self.n_init = n_init
        self.random_state = random_state
        self.executor = executor
        self.n_jobs = n_jobs
        self.engine = engine
        self.inner_threads = inner_threads
        self.progress = progress
        self.selection = selection
        self.elbow_scale = elbow_scale
        self.scoring = scoring
        self.silhouette_sample = silhouette_sample
        self.seeding_sample = seeding_sample
        self.gap_references = gap_references
        self.gap_reference = gap_reference
        self.gap_rule = gap_rule
        self.gap_se_factor = gap_se_factor
        self.score_func = score_func
        self.checkpoint = checkpoint
        self.checkpoint_overwrite = checkpoint_overwrite
        self.n_init_max = n_init_max
        self.stability = stability

    # -- set-up -------------------------------------------------------------------------

    def _template(self):
        """The estimator each task clones (KMeans when ``estimator`` is None)."""
        return KMeans() if self.estimator is None else self.estimator

    def _scoring(self) -> tuple[str, ...]:
        """The criteria to compute: ``scoring`` plus what ``selection`` needs."""
        named = (self.scoring,) if isinstance(self.scoring, str) else tuple(self.scoring or ())
        return needed_scoring(named, self.selection)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        template = self._template()
        try:
            inner = get_tags(template)
        except Exception:  # not a scikit-learn estimator: fit will say so
            return tags
        tags.input_tags.sparse = inner.input_tags.sparse
        tags.input_tags.allow_nan = False
        tags.non_deterministic = inner.non_deterministic
        tags.transformer_tags = inner.transformer_tags if hasattr(template, "transform") else None
        return tags

    def _check_params(self) -> None:
        """Check every parameter against ``_constraints``, then the combinations."""
        owner = type(self).__name__
        validate_params(owner, self._constraints, self.get_params(deep=False))
        validate_executor(owner, self.executor, self.n_jobs)
        check_long_enough(check_k_range(self.k_range), self.selection, self.k_range, owner)
        check_scoring_applies(self)

    def _restarts_differ(self, plan) -> bool:
        """Whether more restarts could fit differently: the plan has ``n_init`` of them and
        the estimator takes a ``random_state`` (a deterministic one runs once per k)."""
        template = self._template()
        return plan.n_restarts == self.n_init and "random_state" in template.get_params(deep=False)

    def _validate_X(self, X, *, reset: bool):
        timeseries = family_of(self._template(), self.score_func).timeseries
        return check_input(self, X, reset=reset, timeseries=timeseries)

    # -- fit ----------------------------------------------------------------------------

    def fit(self, X, y=None):
        """Fit every (k, restart), keep the best per k and choose ``best_k_``.

        With ``checkpoint``, tasks already stored there are not run again.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Training data. Sparse input is accepted where the estimator accepts
            it; tslearn estimators take time series datasets.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : KSweep
            The fitted sweep.

        Examples
        --------
        >>> from sklearn.datasets import make_blobs
        >>> from ksweep import KSweep
        >>> X, _ = make_blobs(n_samples=300, centers=3, cluster_std=0.5, random_state=0)
        >>> sweep = KSweep(k_range=range(2, 7), n_init=2, random_state=0)
        >>> sweep.fit(X) is sweep
        True
        >>> sweep.results_["k"].tolist(), sweep.best_k_
        ([2, 3, 4, 5, 6], 3)
        """
        self._check_params()
        if is_dask_collection(X):
            return self._sweep(DaskArrayRunner(self, X))
        return self._fit(X, memory=None)

    def extend(self, X, *, k_range=None, n_init=None):
        """Grow a fitted sweep: more k values or more restarts, computing only what is new.

        The tasks of the previous fit (kept in memory, and in ``checkpoint``
        when set) are reused when X and every other parameter are unchanged;
        selection then runs over the whole range.

        Parameters
        ----------
        X : array-like
            The same data as the previous fit (checked by fingerprint).
        k_range : range or array-like of int, optional
            k values to add; merged with the current ``k_range``.
        n_init : int, optional
            A new number of restarts per k (restarts already run are kept).

        Returns
        -------
        self : KSweep

        Examples
        --------
        >>> from sklearn.datasets import make_blobs
        >>> from ksweep import KSweep
        >>> X, _ = make_blobs(n_samples=300, centers=3, cluster_std=0.5, random_state=0)
        >>> sweep = KSweep(k_range=range(2, 7), n_init=2, random_state=0).fit(X)
        >>> _ = sweep.extend(X, k_range=[7, 8], n_init=3)
        >>> sweep.results_["k"].tolist(), sweep.results_.n_restarts, sweep.best_k_
        ([2, 3, 4, 5, 6, 7, 8], 3, 3)
        """
        check_is_fitted(self)
        if is_dask_collection(X):
            raise TypeError(
                "extend takes X in memory; for a dask array, call fit with the wider k_range "
                "and n_init (a dask sweep fits every k in the same passes over X)."
            )
        before = {"k_range": self.k_range, "n_init": self.n_init}
        n_samples = getattr(self, "_n_samples_fit", None)
        merged = check_k_range(self.k_range).tolist()
        if k_range is not None:
            added = check_k_range(k_range, owner="extend", n_samples=n_samples)
            merged = sorted(set(merged) | set(added.tolist()))
        try:  # a refused extend leaves the sweep as it was
            self.set_params(k_range=merged)
            if n_init is not None:
                self.set_params(n_init=n_init)
            self._check_params()
            return self._fit(X, memory=self._memory)
        except BaseException:
            self.set_params(**before)
            raise

    def _learns_incrementally(self) -> bool:
        """For ``available_if``: partial_fit exists for KMeans and estimators with partial_fit."""
        why = not_incremental(self.estimator, type(self).__name__)
        if why is not None:
            raise AttributeError(why)
        return True

    @available_if(_learns_incrementally)
    def partial_fit(self, X, y=None):
        """Update an incremental sweep with one batch of a stream that cannot be held at once.

        The out-of-core path when no cluster is at hand: one mini-batch model per
        ``(k, restart)`` learns from every batch with ``partial_fit``, a held-back
        sample of the stream scores them all, and after each batch ``best_k_`` is
        chosen from the held-back inertia per k. The sweep then behaves like the
        chosen model, as after :meth:`fit`.

        - **Estimators.** An estimator with ``partial_fit`` (``MiniBatchKMeans``,
          ``Birch``, ...) is cloned per ``(k, restart)`` with its cluster-count
          parameter set to k and ``random_state`` set to the task's seed. A
          ``KMeans`` (also the default, ``estimator=None``) is swept as
          ``MiniBatchKMeans(n_clusters=k, random_state=seed)`` with its ``init``,
          ``max_iter`` and ``tol`` carried over and ``compute_labels=False``. For
          any other estimator ``partial_fit`` does not exist, as in scikit-learn's
          meta-estimators: ``hasattr`` is False, and the ``AttributeError`` is
          caused by one that names the ``estimator`` parameter. ``n_init`` models
          per k are trained (cost grows with it; 1 to 3 is usually enough), each
          seeded as in :meth:`fit`.
        - **Held-back sample.** Each row is held back with probability 0.1 (at least
          one row of the first batch), in a uniform reservoir over the stream of at
          most 10,000 rows; held-back rows
          are not trained on (a row the reservoir evicts is trained on with the
          batch that evicts it). Which rows are held back follows from
          ``random_state``. ``results_["inertia"]`` of k is the sum of squared
          distances of the held-back rows to the closest center of k's model
          (``score_func(model, rows)`` when given): data no model has seen, on one
          scale for every k. ``results_`` also has ``n_holdout`` and ``n_trained``.
        - **Start-up.** The first update needs as many rows to train on as the
          largest k: rows are buffered until then (with a warning, and the sweep
          is not fitted yet). The first batch needs at least 2 rows.
        - **Engines.** ``engine="auto"`` updates ``KMeans``/``MiniBatchKMeans`` models
          (``init`` "k-means++"/"random", no ``score_func``, numba) in one pass per batch
          ("fused-stream": scikit-learn's mini-batch update per model, same seeds, on
          every core, results independent of the thread count); else, and with
          "independent", each model's ``partial_fit`` ("incremental").
        - **Streams.** The first call starts a stream and reads ``estimator``,
          ``k_range``, ``n_init``, ``random_state``, ``score_func`` and ``engine``;
          changing one of them before a later call is an error. :meth:`fit` starts
          over; a ``partial_fit`` after :meth:`fit` starts a new stream (replacing the
          fitted sweep). :meth:`extend` after ``partial_fit`` runs a full :meth:`fit`.

        ``results_["n_iter"]`` counts each model's updates, ``results_["fit_time"]``
        their seconds (``"fit_time_share"`` on "fused-stream": a share of each
        batch's pass, split by k); ``labels_`` is not set; ``executor`` and ``progress`` are not
        used. ``selection`` must be ``"kneedle"``, ``"two_segment"`` or a callable, ``scoring`` and
        ``checkpoint`` None, ``n_init_max`` "auto" or None (a stream does not repair
        suspicious k: restarts added later would miss the batches already seen). Batches
        must be dense; a rising inertia is flagged in ``results_["non_monotonic"]`` without
        a warning.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One batch of the stream, with the first batch's number of features
            (cast to the first batch's dtype, float64 or float32).
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : KSweep
            The updated sweep.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import make_blobs
        >>> from ksweep import KSweep
        >>> X, _ = make_blobs(n_samples=3000, centers=4, cluster_std=0.5, random_state=0)
        >>> sweep = KSweep(k_range=range(2, 9), n_init=2, random_state=0)
        >>> for batch in np.array_split(X, 10):
        ...     _ = sweep.partial_fit(batch)
        >>> sweep.best_k_
        4
        >>> sweep.results_.engine, sweep.predict(X[:3]).shape
        ('fused-stream', (3,))
        """
        state = stream_batch(self, X)
        if state is not None:  # None: the models have not started yet (it warned)
            self._sweep(state)
            state.results = self.results_
        return self

    def _fit(self, X, memory: dict | None):
        """Fit X in memory, reusing what ``memory`` (the previous fit's) holds."""
        cluster_count_param(self._template())
        return self._sweep(LocalRunner(self, self._validate_X(X, reset=True), memory))

    def _sweep(self, runner: Runner):
        """The shared stages: plan, run, assemble (``drive``), then choose k and adopt."""
        plan = runner.plan()
        warn_rising, runner.warn_rising = runner.warn_rising, False  # warned after the repair
        fitted = drive(plan, runner)
        if self.n_init_max is not None and runner.reruns and self._restarts_differ(plan):
            fitted = repair(self, fitted, plan, runner.rerun)
        if warn_rising:
            warn_non_monotonic(fitted.results, user_stacklevel())
        self.structure_ = structure_for(self.selection, runner, plan.entropy)
        adopt(
            self,
            fitted,
            gap_rule=self.gap_rule,
            gap_se_factor=self.gap_se_factor,
            structure=self.structure_,
        )
        self.__dict__.update(runner.input_attrs)
        self._memory = runner.memory
        self._n_samples_fit = getattr(runner, "n_samples", None)
        self.__dict__.pop("stability_", None)
        if self.stability is not None:  # LocalRunner only: dask arrays and streams refuse it
            self.stability_ = resampled_stability(self, runner.X, plan.entropy)
            self.results_ = self.results_.with_columns(**stability_columns(self.stability_))
        return self
