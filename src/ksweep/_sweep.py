"""KSweep: fit a clusterer for every k, keep every restart, choose k, become that model."""

from __future__ import annotations

import dataclasses
import json
import os
import time
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClusterMixin, MetaEstimatorMixin, clone
from sklearn.cluster import KMeans
from sklearn.utils import check_random_state, get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from ksweep._checkpoint import Checkpoint, fingerprint_data, task_payload
from ksweep._choosing import (
    SCORING_NAMES,
    SELECTION_NAMES,
    Summary,
    check_long_enough,
    choose_k,
    criterion_columns,
    gap_columns,
    needed_scoring,
    summary,
)
from ksweep._dask_arrays import (
    as_row_chunked,
    fit_dask,
    is_dask_collection,
    predict_dask,
    score_dask,
    transform_dask,
)
from ksweep._executors import (
    TaskFailed,
    executor_constraints,
    open_backend,
    run_tasks,
    validate_executor,
)
from ksweep._families import family_of
from ksweep._fused import GROUP_CENTERS, fill_kmeans, fused_unsupported, run_fused_group
from ksweep._results import SweepResult
from ksweep._tasks import TaskRecord, run_task, task_params
from ksweep._validation import (
    CALLABLE,
    NONE,
    NONZERO_INT,
    RANDOM_STATE,
    Constraint,
    check_k_range,
    check_time_series,
    cluster_count_param,
    instance_of,
    int_at_least,
    options,
    param_error,
    validate_params,
)
from ksweep.criteria import DEFAULT_SILHOUETTE_SAMPLE, reference_datasets
from ksweep.exceptions import (
    NonMonotonicWarning,
    SweepInterrupted,
    SweepTaskError,
)


def _estimator_has(attr: str):
    """For ``available_if``: the best estimator (before fit: the template) has ``attr``."""

    def check(self: KSweep) -> bool:
        model = getattr(self, "best_estimator_", None)
        if model is None:
            model = self._template()
        getattr(model, attr)  # raises AttributeError with the estimator's own message
        return True

    return check


def seed_entropy(random_state: Any) -> int:
    """The root entropy of a sweep's seeds from a scikit-learn style ``random_state``."""
    if random_state is None:
        return int(np.random.SeedSequence().entropy)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**63))
    if isinstance(random_state, np.random.RandomState):
        return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    return int(random_state)


def _seed_of(entropy: int, spawn_key: tuple[int, ...]) -> int:
    return int(np.random.SeedSequence(entropy, spawn_key=spawn_key).generate_state(1)[0])


def task_seeds(entropy: int, k_values: np.ndarray, n_restarts: int) -> np.ndarray:
    """One 32-bit seed per (k, restart), shape ``(n_k, n_restarts)``.

    The seed of ``(k, restart)`` comes from ``SeedSequence(entropy,
    spawn_key=(k, restart))``: it depends on nothing else, so a task gets the
    same seed whatever the k range, the executor or the order tasks run in.
    """
    return np.array(
        [[_seed_of(entropy, (int(k), r)) for r in range(n_restarts)] for k in k_values],
        dtype=np.int64,
    )


def _progress_bar(progress: bool, total: int):
    """A tqdm bar over tasks, or None."""
    if not progress:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError as exc:
        raise ImportError("progress=True needs tqdm: pip install 'ksweep[progress]'") from exc
    return tqdm(total=total, desc="ksweep", unit="fit")


#: Exceptions that mean a worker process died, by class name (no optional imports needed).
_DEAD_WORKER_ERRORS = ("BrokenProcessPool", "TerminatedWorkerError", "KilledWorker")


def _task_error(template, failure: TaskFailed, records: dict) -> SweepTaskError:
    if failure.key[0] == "fused":  # a group of runs: ("fused", dataset, restarts, ks)
        _, _, restarts, ks = failure.key
        restart = restarts[0]
        which = (
            f"restart {restart}" if len(restarts) == 1 else f"restarts {restart}..{restarts[-1]}"
        )
        k, what = ks[0], f"k={min(ks)}..{max(ks)} ({which}, fused engine)"
    else:
        k, restart = failure.key[:2]
        what = f"k={k} (restart {restart})"
    cause = failure.__cause__
    names = {cls.__name__ for cls in type(cause).__mro__}
    hint = (
        " A worker process died (killed, crashed or out of memory) while running it."
        if names & set(_DEAD_WORKER_ERRORS)
        else ""
    )
    return SweepTaskError(
        f"Fitting {type(template).__name__} with {what} failed: "
        f"{type(cause).__name__}: {str(cause).rstrip('.')}.{hint} The {len(records)} "
        "finished task(s) are in this exception's 'completed' attribute.",
        k=k,
        restart=restart,
        completed=list(records.items()),
    )


def _warn_non_monotonic(results: SweepResult) -> None:
    """Warn where the best objective rises with k: the optimizer fell short there."""
    rising = np.flatnonzero(results["non_monotonic"])
    if rising.size == 0:
        return
    k = results["k"]
    pairs = ", ".join(f"{k[i - 1]}->{k[i]}" for i in rising)
    warnings.warn(
        f"The best-of-n_init {results.objective} rises with k at k={pairs} "
        f"(flagged in results_['non_monotonic']): the fits for the larger k stopped at a "
        f"worse optimum. Raise n_init (now {results.n_restarts}) or max_iter.",
        NonMonotonicWarning,
        stacklevel=4,
    )


def _keep_model_if_best(records: dict, best_so_far: dict, key: tuple, record, family):
    """Keep a fitted model only while it is the best restart of its k (memory stays O(n_k)).

    Ranked like ``SweepResult``: lowest objective, NaN last, first restart on ties.
    Gap reference fits never keep theirs.
    """
    if len(key) != 2:
        return dataclasses.replace(record, estimator=None)
    k, restart = key
    value = record.extras.get(family.objective, record.inertia)
    rank = (np.inf if np.isnan(value) else value, restart)
    previous = best_so_far.get(k)
    if previous is not None and previous <= rank:
        return dataclasses.replace(record, estimator=None)
    if previous is not None:
        old_key = (k, previous[1])
        records[old_key] = dataclasses.replace(records[old_key], estimator=None)
    best_so_far[k] = rank
    return record


def _group_tasks(template, handles: dict, plan: list, threads, family):
    """Fused-engine tasks: all k of a few restarts each (about ``GROUP_CENTERS`` centers).

    The grouping depends only on the k values and restarts planned, never on the
    executor, so ``results_`` is the same on every executor.
    """
    total_k = sum({k for _, _, k, _ in plan})
    per_group = max(1, round(GROUP_CENTERS / total_k))
    groups: dict[tuple[int, int], list] = {}
    for key, index, k, seed in plan:
        groups.setdefault((index, key[1] // per_group), []).append((key, k, seed))
    for (index, _), members in groups.items():
        keys, ks, seeds = (list(column) for column in zip(*members, strict=True))
        restarts = tuple(sorted({key[1] for key in keys}))
        args = (template, handles[index], keys, ks, seeds, threads, family)
        yield ("fused", index, restarts, tuple(ks)), run_fused_group, args


def _interrupted(records: dict, n_tasks: int) -> SweepInterrupted:
    return SweepInterrupted(
        f"Sweep interrupted after {len(records)} of {n_tasks} tasks; pending tasks were "
        "cancelled. The finished ones are in this exception's 'completed' attribute.",
        completed=list(records.items()),
    )


class KSweep(ClusterMixin, MetaEstimatorMixin, BaseEstimator):
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
    executor : str, concurrent.futures.Executor or distributed.Client, default="serial"
        Where tasks run: ``"serial"``, ``"threads"``, ``"processes"``,
        ``"dask"`` (the current ``distributed.Client``, else a local cluster
        that ksweep starts and closes), another registered name (see
        :func:`ksweep.register_executor`), any executor instance (loky's,
        ``ProcessPoolExecutor``, ``Client.get_executor()``) or a
        ``distributed.Client``. ksweep never shuts down an executor or closes
        a Client it was given. An executor instance is shared by clones and left
        out of pickles (an unpickled sweep uses ``"serial"``).
    n_jobs : int or None, default=None
        Workers of an executor made from a name: None or -1 for every core,
        -2 for all but one, and so on. Ignored by ``"serial"``, by executor
        instances and by an existing Client. Also the threads of
        :meth:`partial_fit`'s fused stream (its results do not depend on them).
    engine : {"auto", "fused", "independent"}, default="auto"
        How the k-means fits run. "independent": one fit of the estimator per
        ``(k, restart)`` task. "fused": for scikit-learn's ``KMeans``
        (``init="k-means++"``) and tslearn's ``TimeSeriesKMeans(metric="euclidean")``
        on dense data, all k of a few restarts are fitted together, sharing each
        pass over X (Lloyd's algorithm with scikit-learn's semantics, a compiled
        kernel; needs numba); each task holds about 512 centers (all k of one
        restart at least), so restarts still spread over the executor's
        workers. "auto" uses "fused" where it applies and
        "independent" elsewhere; ``results_.engine`` says which ran. For
        :meth:`partial_fit`, "fused" is the fused mini-batch stream (see there).
    inner_threads : int or None, default=1
        Native (BLAS and OpenMP) threads each fit may use. Parallelism comes
        from running tasks side by side, so one thread per task keeps
        workers × threads within the cores and makes ``results_``
        bit-identical on every executor (k-means sums in a thread-count
        dependent order). None leaves the libraries' defaults.
    progress : bool, default=False
        Show a tqdm progress bar over tasks as they complete (needs tqdm).
    selection : {"kneedle", "two_segment"} or callable, default="kneedle"
        How ``best_k_`` is chosen from the best inertia per k. A callable
        receives ``(k, inertia)`` arrays and returns an object with a ``k``
        attribute (such as :class:`ksweep.SelectionResult`) or an int. When
        the method finds no k, a :class:`~ksweep.exceptions.NoElbowWarning`
        is issued and the largest k is used.
    elbow_scale : {"auto", "log", "linear"}, default="auto"
        The scale of the best inertia handed to the selection method. "log"
        looks for the elbow of the relative improvement per added cluster;
        "auto" means "log" for ``selection="kneedle"`` (whose min-max scaling
        lets the first, largest drop dominate a linear curve) and "linear"
        for every other method. Log needs positive inertia: where some is
        zero, the linear scale is used. ``elbow_.details["scale"]`` records
        the scale used.
    score_func : callable or None, default=None
        ``score_func(fitted_estimator, X) -> float``, lower is better: the
        inertia of each fit, for estimators ksweep cannot score itself (no
        ``inertia_``, labels or ``predict``) or to use another objective.

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

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "n_init": [int_at_least(1)],
        "random_state": [RANDOM_STATE, NONE],
        "n_jobs": [NONZERO_INT, NONE],
        "inner_threads": [int_at_least(1), NONE],
        "engine": [options("auto", "fused", "independent")],
        "score_func": [CALLABLE, NONE],
        "progress": [Constraint("a bool", lambda v: isinstance(v, bool | np.bool_))],
        "elbow_scale": [options("auto", "log", "linear")],
        "selection": [options(*SELECTION_NAMES), CALLABLE],
        "scoring": [
            Constraint(
                "a tuple of str among {" + ", ".join(repr(n) for n in SCORING_NAMES) + "}",
                lambda v: (
                    isinstance(v, (tuple, list))
                    and all(isinstance(n, str) and n in SCORING_NAMES for n in v)
                ),
            ),
            options(*SCORING_NAMES),
            NONE,
        ],
        "silhouette_sample": [int_at_least(2), NONE],
        "gap_references": [int_at_least(1)],
        "gap_reference": [options("uniform", "pca")],
        "checkpoint": [instance_of(str, os.PathLike, name="str or os.PathLike"), NONE],
        "checkpoint_overwrite": [Constraint("a bool", lambda v: isinstance(v, bool | np.bool_))],
    }

    def __init__(
        self,
        estimator=None,
        *,
        k_range=range(2, 11),
        n_init=10,
        random_state=None,
        executor="serial",
        n_jobs=None,
        engine="auto",
        inner_threads=1,
        progress=False,
        selection="kneedle",
        elbow_scale="auto",
        scoring=None,
        silhouette_sample=DEFAULT_SILHOUETTE_SAMPLE,
        gap_references=10,
        gap_reference="uniform",
        score_func=None,
        checkpoint=None,
        checkpoint_overwrite=False,
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
        self.gap_references = gap_references
        self.gap_reference = gap_reference
        self.score_func = score_func
        self.checkpoint = checkpoint
        self.checkpoint_overwrite = checkpoint_overwrite

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

    def _validate_params(self) -> None:
        owner = type(self).__name__
        validate_params(
            owner,
            {**self._parameter_constraints, "executor": executor_constraints()},
            self.get_params(deep=False),
        )
        validate_executor(owner, self.executor, self.n_jobs)
        check_long_enough(check_k_range(self.k_range), self.selection, self.k_range, owner)
        scoring = self._scoring()
        template = self._template()
        if scoring and (
            family_of(template, self.score_func).timeseries
            or template.get_params(deep=False).get("metric") == "precomputed"
        ):
            raise param_error(
                "scoring",
                owner,
                "empty for time series and precomputed distances (the criteria are Euclidean "
                f"on feature vectors, and {type(template).__name__} does not take them)",
                self.scoring if self.scoring is not None else self.selection,
            )

    def _validate_X(self, X, *, reset: bool):
        if not family_of(self._template(), self.score_func).timeseries:
            return validate_data(
                self,
                X,
                reset=reset,
                accept_sparse="csr" if get_tags(self).input_tags.sparse else False,
                accept_large_sparse=False,
                dtype=[np.float64, np.float32],
                ensure_min_samples=2 if reset else 1,
            )
        X = check_time_series(X, owner=type(self).__name__, min_samples=2 if reset else 1)
        if reset:
            self.n_features_in_ = X.shape[2]
        elif X.shape[2] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[2]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        return X

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
        if is_dask_collection(X):
            return self._fit_dask(X)
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
        merged = check_k_range(self.k_range).tolist()
        if k_range is not None:
            merged = sorted(set(merged) | set(check_k_range(k_range, owner="extend").tolist()))
        self.set_params(k_range=merged)
        if n_init is not None:
            self.set_params(n_init=n_init)
        return self._fit(X, memory=self._memory)

    def _learns_incrementally(self) -> bool:
        """For ``available_if``: partial_fit exists for KMeans and estimators with partial_fit."""
        from ksweep._incremental import not_incremental

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
        - **Engines.** ``engine="auto"`` (the default) updates ``KMeans`` and
          ``MiniBatchKMeans`` models (``init`` "k-means++" or "random", no
          ``score_func``; needs numba) with the fused stream: per batch, one product
          of the batch with every center of every model, one compiled kernel, and
          scikit-learn's mini-batch update for each model (its learning rate,
          reassignment of small clusters and k-means++ start, from the same seeds, so
          each model follows ``MiniBatchKMeans.partial_fit`` up to float rounding);
          the held-back rows are scored the same way, exactly in float64. It runs on
          ``n_jobs`` threads (None: every core), and the thread count changes no
          result. ``engine="independent"``, and every other estimator, calls each
          model's ``partial_fit``. ``results_.engine`` is ``"fused-stream"`` or
          ``"incremental"``.
        - **Streams.** The first call starts a stream and reads ``estimator``,
          ``k_range``, ``n_init``, ``random_state``, ``score_func`` and ``engine``;
          changing one of them before a later call is an error. :meth:`fit` starts over, and a
          ``partial_fit`` after :meth:`fit` starts a new stream (the fitted sweep is
          replaced). :meth:`extend` after ``partial_fit`` runs a full :meth:`fit`.

        ``results_["n_iter"]`` is the number of updates each model has had and
        ``results_["fit_time"]`` the seconds spent in them (the fused stream's
        shared by k). ``labels_`` is not set (a stream has no training labels to
        keep). ``executor`` and ``progress`` are not used: the models are updated in
        this process (per model: with native threads capped at ``inner_threads``).
        ``selection`` must be
        ``"kneedle"``, ``"two_segment"`` or a callable, ``scoring`` and
        ``checkpoint`` None. Batches must be dense; a rising inertia is flagged in
        ``results_["non_monotonic"]`` without a warning.

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
        from ksweep._incremental import IncrementalSweep

        owner = type(self).__name__
        if sparse.issparse(X):
            raise TypeError(
                f"{owner}.partial_fit takes dense batches; got a sparse {type(X).__name__}. "
                "Convert each batch with .toarray(), or use fit for sparse data."
            )
        state = getattr(self, "_incremental", None)
        if state is None or state.results is not getattr(self, "results_", None):
            self._validate_params()
            state = IncrementalSweep(self, check_k_range(self.k_range))
            for name in (
                "results_", "best_k_", "best_estimator_", "estimators_", "elbow_", "labels_",
                "cluster_centers_", "n_features_in_", "feature_names_in_",
            ):  # fmt: skip
                self.__dict__.pop(name, None)  # a new stream replaces the fitted sweep
            self._memory = None
            X = self._validate_X(X, reset=True)
            state.input_attrs = {
                name: getattr(self, name)
                for name in ("n_features_in_", "feature_names_in_")
                if hasattr(self, name)
            }
            self._incremental = state
        else:
            state.check_unchanged(self)
            self.__dict__.update(state.input_attrs)
            try:
                X = self._validate_X(X, reset=False)
            finally:
                if not state.ready:
                    for name in state.input_attrs:
                        self.__dict__.pop(name, None)
        state.update(X)
        if not state.ready:
            for name in state.input_attrs:  # not fitted until there are results
                self.__dict__.pop(name, None)
            warnings.warn(
                f"{owner}.partial_fit has {state.n_buffered} row(s) to train on and "
                f"{state.holdout.size} held back: the models start once there are "
                f"{int(state.k_values[-1])} (the largest k) and 1 held back. The sweep is not "
                "fitted yet.",
                UserWarning,
                stacklevel=2,
            )
            return self
        results = state.result(owner)
        state.results = self.results_ = results
        self.estimators_ = state.best_models(results)
        self.elbow_, self.best_k_ = choose_k(
            self.selection, results["k"], results, self.elbow_scale, owner=owner, stacklevel=3
        )
        self.best_estimator_ = self.estimators_[self.best_k_]
        if hasattr(self.best_estimator_, "cluster_centers_"):
            self.cluster_centers_ = self.best_estimator_.cluster_centers_
        return self

    def _fit(self, X, memory):
        self._validate_params()
        template = self._template()
        cluster_count_param(template)
        X = self._validate_X(X, reset=True)
        k_values = check_k_range(self.k_range, n_samples=X.shape[0])
        scoring = self._scoring()
        if "gap" in scoring and sparse.issparse(X):
            asked_by = "selection" if self.selection == "gap" else "scoring"
            raise param_error(
                asked_by,
                type(self).__name__,
                "free of 'gap' for sparse X (its reference data sets are dense boxes)",
                getattr(self, asked_by),
            )
        n_restarts = self._n_restarts(template)
        family = family_of(template, self.score_func)
        engine = self._engine_for(template, X)
        identity = self._identity(template, X, memory, engine)
        checkpoint = None
        if self.checkpoint is not None:
            checkpoint = Checkpoint(self.checkpoint, identity, overwrite=self.checkpoint_overwrite)
            identity = checkpoint.identity  # carries the stored seed entropy
        entropy = int(identity["entropy"])
        seeds = task_seeds(entropy, k_values, n_restarts)
        datasets = [X]
        if "gap" in scoring:
            datasets += reference_datasets(
                X,
                self.gap_references,
                method=self.gap_reference,
                random_state=np.random.SeedSequence(entropy, spawn_key=(0,)),
            )
        plan = []  # (key, dataset index, k, seed), largest k first
        for i, k in reversed(list(enumerate(k_values))):
            for r in range(n_restarts):
                plan.append(((int(k), r), 0, int(k), int(seeds[i, r])))
                for b in range(1, len(datasets)):
                    key = (int(k), r, b)
                    plan.append((key, b, int(k), _seed_of(entropy, key)))

        stored: dict[tuple, dict] = {}
        models: dict[tuple, Any] = {}
        if memory is not None and memory["identity"] == identity:
            stored.update(memory["payloads"])
            models.update(memory["models"])
        if checkpoint is not None:
            stored.update(checkpoint.load({key: seed for key, _, _, seed in plan}))
        todo = [task for task in plan if task[0] not in stored]
        new = self._run(template, datasets, todo, family, checkpoint, engine)
        planned = {task[0] for task in plan}
        payloads = {key: payload for key, payload in stored.items() if key in planned}
        for key, _, _, seed in todo:
            payloads[key] = task_payload(key, seed, new[key])
            if new[key].estimator is not None:
                models[key] = new[key].estimator

        restarts = {
            name: [[payloads[k, r][name] for r in range(n_restarts)] for k in k_values]
            for name in ("inertia", "raw_inertia", "n_iter", "fit_time")
        }
        for name in payloads[int(k_values[0]), 0]["extras"]:
            restarts[name] = [
                [payloads[k, r]["extras"][name] for r in range(n_restarts)] for k in k_values
            ]
        results = SweepResult(
            k_values,
            {**restarts, "seed": seeds},
            objective=family.objective,
            inertia_definition=family.inertia_definition,
            engine=engine,
        )
        _warn_non_monotonic(results)
        best = [(int(k), int(r)) for k, r in zip(k_values, results["best_restart"], strict=True)]
        refit = [task for task in plan if task[0] in best and task[0] not in models]
        for key, record in self._run(template, datasets, refit, family, None, engine).items():
            if record.inertia != payloads[key]["inertia"]:
                warnings.warn(
                    f"Refitting the stored best restart {key} gave inertia {record.inertia!r}, "
                    f"not the stored {payloads[key]['inertia']!r} (inner_threads=None lets "
                    "thread counts change the last bits).",
                    UserWarning,
                    stacklevel=3,
                )
            models[key] = record.estimator
        self.estimators_ = {k: models[k, r] for k, r in best}
        self._memory = {
            "identity": identity,
            "payloads": payloads,
            "models": {key: models[key] for key in best},
        }
        labels = {k: self._labels_of(model, X) for k, model in self.estimators_.items()}
        if scoring:
            columns = criterion_columns(
                X,
                k_values,
                labels,
                scoring,
                silhouette_sample=self.silhouette_sample,
                seed=entropy % 2**32,
            )
            if "gap" in scoring:
                reference = np.log(
                    [
                        [
                            min(payloads[k, r, b]["inertia"] for r in range(n_restarts))
                            for b in range(1, len(datasets))
                        ]
                        for k in k_values
                    ]
                )
                columns.update(gap_columns(results, reference))
            results = results.with_columns(**columns)
        self.results_ = results
        self.elbow_, self.best_k_ = self._select(k_values, results)
        self.best_estimator_ = self.estimators_[self.best_k_]
        if labels[self.best_k_] is not None:
            self.labels_ = labels[self.best_k_]
        if hasattr(self.best_estimator_, "cluster_centers_"):
            self.cluster_centers_ = self.best_estimator_.cluster_centers_
        return self

    def _fit_dask(self, X):
        """Data-parallel sweep of a dask array: X stays on the workers (see ``_dask_arrays``)."""
        self._validate_params()
        owner = type(self).__name__
        template = self._template()
        init = template.get_params(deep=False).get("init")
        if type(template) is not KMeans or not (isinstance(init, str) and init == "k-means++"):
            raise param_error(
                "estimator",
                owner,
                "a scikit-learn KMeans with init='k-means++' for dask arrays",
                template,
            )
        for name, wrong in (
            ("engine", self.engine == "independent"),
            ("checkpoint", self.checkpoint is not None),
            ("score_func", self.score_func is not None),
            ("scoring", bool(self._scoring())),
        ):
            if wrong:
                value = getattr(self, name)
                allowed = {"engine": "'auto' or 'fused'", "scoring": "empty"}.get(name, "None")
                raise param_error(name, owner, f"{allowed} for dask arrays", value)
        X = as_row_chunked(X, owner)
        n_samples, n_features = X.shape
        k_values = check_k_range(self.k_range, n_samples=n_samples)
        entropy = seed_entropy(self.random_state)
        seeds = task_seeds(entropy, k_values, self.n_init)
        params = template.get_params(deep=False)
        start = time.perf_counter()
        runs, mean_variance = fit_dask(
            X,
            [int(k) for k in k_values for _ in range(self.n_init)],
            seeds.ravel().tolist(),
            max_iter=int(params["max_iter"]),
            tol=float(params["tol"]),
            sample_seed=np.random.SeedSequence(entropy, spawn_key=(1,)),
        )
        seconds = time.perf_counter() - start
        grid = np.array(runs, dtype=object).reshape(len(k_values), self.n_init)
        work = np.array([[run.k * (run.n_iter + 1) for run in row] for row in grid], float)
        inertia = [[run.inertia for run in row] for row in grid]
        results = SweepResult(
            k_values,
            {
                "inertia": inertia,
                "raw_inertia": inertia,
                "n_iter": [[run.n_iter for run in row] for row in grid],
                "fit_time": seconds * work / work.sum(),
                "seed": seeds,
            },
            objective="inertia",
            inertia_definition=family_of(template).inertia_definition,
            engine="dask",
        )
        _warn_non_monotonic(results)
        self.n_features_in_ = n_features
        self.estimators_ = {}
        for i, k in enumerate(k_values):
            run = grid[i, int(results["best_restart"][i])]
            model = clone(template).set_params(**task_params(template, run.k, run.seed))
            model = fill_kmeans(model, run, X.dtype, mean_variance)
            model.labels_ = predict_dask(model, X)  # lazy, like the data
            self.estimators_[int(k)] = model
        self.results_ = results
        self.elbow_, self.best_k_ = self._select(k_values, results)
        self.best_estimator_ = self.estimators_[self.best_k_]
        self.labels_ = self.best_estimator_.labels_
        self.cluster_centers_ = self.best_estimator_.cluster_centers_
        self._memory = None
        return self

    def _dask_input(self, X):
        """A fitted sweep's check of a dask array passed to predict, transform or score."""
        check_is_fitted(self)
        X = as_row_chunked(X, type(self).__name__)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        return X

    def _engine_for(self, template, X) -> str:
        """The engine that runs: ``engine``, with "auto" resolved; "fused" must apply."""
        if self.engine == "independent":
            return "independent"
        why_not = fused_unsupported(template, X, self.score_func)
        if why_not is None:
            return "fused"
        if self.engine == "auto":
            return "independent"
        raise param_error(
            "engine",
            type(self).__name__,
            f"'auto' or 'independent' here: the fused engine cannot run because {why_not}",
            self.engine,
        )

    def _identity(self, template, X, memory, engine: str) -> dict:
        """What the tasks' results depend on, apart from k, restart and seed.

        An unseeded sweep (``random_state=None``) resumes or extends with the seed
        entropy it started with: the checkpoint's, else the previous fit's.
        """
        entropy = None
        if self.random_state is None and self.checkpoint is not None:
            manifest = Path(self.checkpoint) / "sweep.json"
            try:
                entropy = json.loads(manifest.read_text(encoding="utf-8"))["identity"]["entropy"]
            except (OSError, ValueError, KeyError, TypeError):
                entropy = None
        if self.random_state is None and entropy is None and memory is not None:
            entropy = memory["identity"]["entropy"]
        if entropy is None:
            entropy = str(seed_entropy(self.random_state))
        params = template.get_params(deep=True)
        return {
            "X": fingerprint_data(X),
            "estimator": type(template).__module__ + "." + type(template).__qualname__,
            "estimator_params": {name: repr(params[name]) for name in sorted(params)},
            "score_func": None if self.score_func is None else repr(self.score_func),
            "inner_threads": self.inner_threads,
            "gap_reference": self.gap_reference,
            "engine": engine,
            "entropy": entropy,
        }

    @staticmethod
    def _labels_of(model, X) -> np.ndarray | None:
        if hasattr(model, "labels_"):
            return np.asarray(model.labels_)
        if hasattr(model, "predict"):
            return np.asarray(model.predict(X))
        return None

    def _n_restarts(self, template) -> int:
        if self.n_init > 1 and "random_state" not in template.get_params(deep=False):
            warnings.warn(
                f"{type(template).__name__} has no 'random_state' parameter, so its restarts "
                f"would be identical: running 1 restart per k instead of n_init={self.n_init}.",
                UserWarning,
                stacklevel=4,
            )
            return 1
        return self.n_init

    def _run(self, template, datasets, plan, family, checkpoint, engine) -> dict[tuple, TaskRecord]:
        """Run the planned tasks ``(key, dataset index, k, seed)`` in order; return records.

        ``datasets[0]`` is X; further ones are the gap statistic's references.
        Each finished task is written to ``checkpoint`` (when given) at once.
        The fused engine runs the tasks of one dataset and restart as one group.
        """
        records: dict[tuple, TaskRecord] = {}
        if not plan:
            return records
        bar = _progress_bar(self.progress, len(plan))  # a missing tqdm fails before any start
        try:
            backend = open_backend(self.executor, self.n_jobs, self.inner_threads)
        except BaseException:
            if bar is not None:
                bar.close()
            raise
        seeds = {key: seed for key, _, _, seed in plan}
        best_so_far: dict[int, tuple[float, int]] = {}
        abort = True
        try:
            with backend.driver_limits():
                used = sorted({index for _, index, _, _ in plan})
                handles = {index: backend.ship(datasets[index]) for index in used}
                if engine == "fused":
                    tasks = _group_tasks(template, handles, plan, backend.inner_threads, family)
                else:
                    common = (backend.inner_threads, family, self.score_func)
                    tasks = (
                        (key, run_task, (template, handles[index], k, seed, *common))
                        for key, index, k, seed in plan
                    )
                for task_key, result in run_tasks(backend.executor, tasks, backend.window):
                    done = result if engine == "fused" else {task_key: result}
                    for key, record in done.items():
                        records[key] = _keep_model_if_best(
                            records, best_so_far, key, record, family
                        )
                        if checkpoint is not None:
                            checkpoint.save(key, seeds[key], record)
                        if bar is not None:
                            bar.update(1)
            abort = False
        except TaskFailed as failure:
            if isinstance(failure.__cause__, KeyboardInterrupt):  # Ctrl-C reached a worker
                raise _interrupted(records, len(plan)) from None
            raise _task_error(template, failure, records) from failure.__cause__
        except KeyboardInterrupt:
            raise _interrupted(records, len(plan)) from None
        finally:
            if bar is not None:
                bar.close()
            backend.close(abort=abort)
        return records

    def _select(self, k_values: np.ndarray, results: SweepResult) -> tuple[Any, int]:
        """Run the selection method; if it finds no k, warn and fall back to the largest k."""
        return choose_k(
            self.selection,
            k_values,
            results,
            self.elbow_scale,
            owner=type(self).__name__,
            stacklevel=5,
        )

    # -- copies -------------------------------------------------------------------------

    def __sklearn_clone__(self):
        """Clone the parameters, but pass an executor instance or Client by reference.

        An executor holds locks, queues and processes: it cannot be deep-copied,
        and a clone (``GridSearchCV``, ``cross_val_score``) should use the same one.
        """
        params = self.get_params(deep=False)
        return type(self)(
            **{
                name: value
                if name == "executor" and not isinstance(value, str)
                else clone(value, safe=False)
                for name, value in params.items()
            }
        )

    def __getstate__(self):
        """Pickle without an executor instance: the unpickled sweep uses ``"serial"``."""
        state = super().__getstate__()
        if not isinstance(state.get("executor"), str):
            state = {**state, "executor": "serial"}
        return state

    # -- evidence -----------------------------------------------------------------------

    def summary(self) -> Summary:
        """What every applicable selection method chooses on this sweep, side by side.

        The elbow detectors always, each criterion in ``results_``, the gap
        statistic when it was computed, BIC for mixtures. ``str()`` of the
        result is a table; ``.chosen()`` maps each method to its k.

        Returns
        -------
        Summary
            A dict of method name to :class:`~ksweep.SelectionResult`.

        Examples
        --------
        >>> from sklearn.datasets import make_blobs
        >>> from ksweep import KSweep
        >>> X, _ = make_blobs(n_samples=300, centers=3, cluster_std=0.5, random_state=0)
        >>> sweep = KSweep(k_range=range(2, 7), n_init=2, random_state=0).fit(X)
        >>> summary = sweep.summary()
        >>> sorted(summary), summary["kneedle"].k
        (['kneedle', 'two_segment'], 3)
        """
        check_is_fitted(self)
        return Summary(summary(self.results_["k"], self.results_, self.elbow_scale))

    def plot(self, ax=None):
        """Plot the sweep: inertia per k with its spread over restarts, the chosen k marked.

        Without ``ax``, a figure with the elbow panel (best inertia, mean ± std
        over restarts, the selection's statistic on a second axis) and one panel
        per criterion in ``results_``. With ``ax``, only the elbow panel, drawn
        on it. Needs matplotlib (``pip install 'ksweep[plot]'``).

        Returns
        -------
        matplotlib Figure (without ``ax``) or Axes (with ``ax``)

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from sklearn.datasets import make_blobs
        >>> from ksweep import KSweep
        >>> X, _ = make_blobs(n_samples=300, centers=3, cluster_std=0.5, random_state=0)
        >>> sweep = KSweep(k_range=range(2, 7), n_init=2, random_state=0).fit(X)
        >>> fig = sweep.plot()
        >>> type(fig).__name__, len(fig.axes)
        ('Figure', 2)
        >>> plt.close(fig)
        """
        check_is_fitted(self)
        from ksweep.plotting import plot_fitted

        return plot_fitted(self.results_, self.elbow_, self.best_k_, SCORING_NAMES, ax=ax)

    # -- the chosen model ---------------------------------------------------------------

    @available_if(_estimator_has("predict"))
    def predict(self, X):
        """Predict the cluster of each sample with ``best_estimator_``."""
        if is_dask_collection(X):  # a lazy dask array of labels
            return predict_dask(self.best_estimator_, self._dask_input(X))
        check_is_fitted(self)
        return self.best_estimator_.predict(self._validate_X(X, reset=False))

    @available_if(_estimator_has("transform"))
    def transform(self, X):
        """Transform X with ``best_estimator_`` (for KMeans: distances to the centers)."""
        if is_dask_collection(X):  # a lazy dask array of distances
            return transform_dask(self.best_estimator_, self._dask_input(X))
        check_is_fitted(self)
        return self.best_estimator_.transform(self._validate_X(X, reset=False))

    @available_if(_estimator_has("transform"))
    def fit_transform(self, X, y=None):
        """Fit the sweep, then transform X with ``best_estimator_``."""
        return self.fit(X, y).transform(X)

    @available_if(_estimator_has("fit_predict"))
    def fit_predict(self, X, y=None):
        """Fit the sweep and return the labels of X under ``best_estimator_``."""
        return self.fit(X, y).labels_

    @available_if(_estimator_has("score"))
    def score(self, X, y=None):
        """Score X with ``best_estimator_`` (for KMeans: minus the inertia of X)."""
        if is_dask_collection(X):  # computed on the workers
            return score_dask(self.best_estimator_, self._dask_input(X))
        check_is_fitted(self)
        return self.best_estimator_.score(self._validate_X(X, reset=False))
