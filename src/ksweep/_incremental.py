"""The state of an incremental sweep: one mini-batch model per (k, restart) and a held-back sample.

``KSweep.partial_fit`` feeds a stream of batches through an :class:`IncrementalSweep`:

- **Models.** One model per ``(k, restart)``, each updated with ``partial_fit`` on every
  batch. A user's estimator with ``partial_fit`` (``MiniBatchKMeans``, ``Birch``, ...) is
  cloned with its cluster-count parameter set to k and ``random_state`` set to the task's
  seed; a ``sklearn.cluster.KMeans`` (the default estimator) is swept as
  ``MiniBatchKMeans(n_clusters=k, random_state=seed)`` with its ``init``, ``max_iter`` and
  ``tol`` carried over (``max_iter`` and ``tol`` only matter to a later ``fit`` of the model:
  one ``partial_fit`` is one mini-batch step) and ``compute_labels=False`` (labels of a batch
  are not kept). Seeds are ``task_seeds(entropy, k_values, n_restarts)``: restart r of k gets
  the seed ``fit`` gives it.
- **Engines.** :func:`stream_engine` decides, once per stream, what updates the models:
  the fused mini-batch engine (:mod:`ksweep._minibatch`, "fused-stream": every
  ``MiniBatchKMeans`` model in one pass per batch, ``n_jobs`` threads, the models above
  kept unfitted and handed out as fitted copies of its state) or one ``partial_fit`` per
  model ("incremental").
- **Held-back sample.** Every row of the stream is a holdout candidate with probability
  :data:`HOLDOUT_FRACTION`; the holdout is a uniform reservoir sample (Algorithm R) of at most
  :data:`HOLDOUT_MAX` candidates, so a uniform sample of the stream (while it is empty, a batch
  of two rows or more without a candidate gives one row drawn from it, so a first batch a
  little larger than the largest k already gives results). A held-back row is never
  trained on while it is held; a row that the reservoir later evicts is trained on with the
  batch that evicted it. So every row seen is either trained on, held back, or waiting in the
  start-up buffer. The draws come from ``SeedSequence(entropy, spawn_key=HOLDOUT_SPAWN_KEY)``:
  the same seed and the same batches give the same holdout.
- **Inertia.** After each batch, the inertia of a model is the sum of squared Euclidean
  distances of the held-back rows to its nearest center (``score_func(model, holdout)`` when
  given): rows no model has seen, one sample for every k, so one scale.
- **Threads.** Updates and scoring run in this process. Per model, native threads are capped
  at ``inner_threads`` ("auto": one), as every independent task of ``fit`` is (on a busy
  machine an OpenMP team that waits for a busy core slows each small step by orders of
  magnitude); the fused stream runs BLAS on one thread and its kernels on
  :func:`stream_threads` threads (every core by default), which change no result.
- **Start-up.** ``MiniBatchKMeans.partial_fit`` needs at least k rows in its first call, so
  rows to train on are buffered until there are as many as the largest k; results exist once
  the models have taken a step and the holdout holds a row.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.base import clone
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics.pairwise import euclidean_distances

from ksweep._families import within_cluster_sum_of_squares
from ksweep._minibatch import FusedMiniBatch, stream_unsupported
from ksweep._pipeline import Plan, Runner, n_restarts_for, user_stacklevel
from ksweep._seeding import HOLDOUT_KEY, seed_entropy
from ksweep._structure_check import STRUCTURE_ROWS
from ksweep._tasks import TaskRecord
from ksweep._threads import capped_threads, effective_n_jobs
from ksweep._validation import check_k_range, cluster_count_param, param_error
from ksweep.exceptions import InvalidParameterError

#: Probability that a row of the stream is a holdout candidate.
HOLDOUT_FRACTION = 0.1
#: The most rows the held-back sample keeps (a reservoir over the candidates).
HOLDOUT_MAX = 10_000
#: The holdout's SeedSequence spawn key: one int long, unlike the (k, restart) task keys,
#: and not the gap statistic's (0,) (see ``ksweep._seeding``).
HOLDOUT_SPAWN_KEY = HOLDOUT_KEY
#: Parameters that must not change between the partial_fit calls of one stream.
STREAM_PARAMS = ("estimator", "k_range", "n_init", "random_state", "score_func", "engine")
#: Selection methods that read only the inertia per k (criteria need the whole data set).
INCREMENTAL_SELECTIONS = ("auto", "kneedle", "two_segment")


def not_incremental(estimator: Any, owner: str) -> str | None:
    """Why ``estimator`` cannot be swept by partial_fit (the error message), or None."""
    template = KMeans() if estimator is None else estimator
    if isinstance(template, type) or hasattr(template, "partial_fit"):
        return None  # partial_fit then says what is wrong (a class, not an instance)
    if isinstance(template, KMeans):
        return None
    return str(
        param_error(
            "estimator",
            owner,
            "an estimator that learns incrementally (with a partial_fit method, such as "
            "MiniBatchKMeans()) or a KMeans (swept as MiniBatchKMeans) for partial_fit; "
            f"{type(template).__name__} has no partial_fit",
            estimator,
        )
    )


def incremental_template(estimator: Any, owner: str) -> tuple[Any, str]:
    """The estimator each (k, restart) model clones, and its cluster-count parameter.

    ``None`` and ``KMeans`` become ``MiniBatchKMeans`` (``init``, ``max_iter``, ``tol``
    carried over, ``compute_labels=False``); an estimator with ``partial_fit`` is used
    as it is; anything else is refused.
    """
    template = KMeans() if estimator is None else estimator
    count = cluster_count_param(template, owner)  # an instance with a cluster-count parameter
    if hasattr(template, "partial_fit"):
        return template, count
    if isinstance(template, KMeans):
        init = template.init
        if not (isinstance(init, str) or callable(init)):
            raise param_error(
                "estimator",
                owner,
                "a KMeans whose init is 'k-means++', 'random' or a callable for partial_fit "
                "(an array of initial centers fixes a single k)",
                estimator,
            )
        return (
            MiniBatchKMeans(
                init=init, max_iter=template.max_iter, tol=template.tol, compute_labels=False
            ),
            "n_clusters",
        )
    raise InvalidParameterError(not_incremental(estimator, owner))


def check_stream_params(sweep: Any) -> None:
    """Refuse the parameters a stream cannot honour, in scikit-learn's error style."""
    owner = type(sweep).__name__
    if isinstance(sweep.selection, str) and sweep.selection not in INCREMENTAL_SELECTIONS:
        raise param_error(
            "selection",
            owner,
            "'auto', 'kneedle', 'two_segment' or a callable for partial_fit (the criteria need the "
            "whole data set at once)",
            sweep.selection,
        )
    if sweep.scoring:
        raise param_error(
            "scoring",
            owner,
            "None for partial_fit (the criteria need the whole data set at once)",
            sweep.scoring,
        )
    if sweep.stability is not None:
        raise param_error(
            "stability",
            owner,
            "None for partial_fit (resamples need the whole data set at once)",
            sweep.stability,
        )
    if sweep.checkpoint is not None:
        raise param_error(
            "checkpoint",
            owner,
            "None for partial_fit (a stream is not checkpointed)",
            sweep.checkpoint,
        )
    if sweep.n_init_max not in ("auto", None):  # "auto": repair where the path can
        raise param_error(
            "n_init_max",
            owner,
            "'auto' or None for partial_fit (a stream does not repair: restarts added later "
            "would miss the batches already seen)",
            sweep.n_init_max,
        )


def stream_engine(sweep: Any, template: Any) -> str:
    """The engine that updates the models: "fused-stream" or "incremental" (one per model).

    ``engine="auto"`` takes the fused mini-batch engine where it applies
    (:func:`ksweep._minibatch.stream_unsupported`), "fused" requires it,
    "independent" keeps one ``partial_fit`` per model.
    """
    if sweep.engine == "independent":
        return "incremental"
    why_not = stream_unsupported(template, sweep.score_func)
    if why_not is None:
        return "fused-stream"
    if sweep.engine == "auto":
        return "incremental"
    raise param_error(
        "engine",
        type(sweep).__name__,
        f"'auto' or 'independent' here: the fused stream cannot run because {why_not}",
        sweep.engine,
    )


def stream_threads(sweep: Any) -> int:
    """The fused stream's kernel threads: ``inner_threads`` when an int, else the cores
    ``n_jobs`` gives (every core by default): one task alone in this process."""
    if isinstance(sweep.inner_threads, int) and not isinstance(sweep.inner_threads, bool):
        return sweep.inner_threads
    return effective_n_jobs(sweep.n_jobs, type(sweep).__name__)


class HeldOutSample:
    """A uniform reservoir of at most ``capacity`` rows of a stream, never trained on.

    Each row is a candidate with probability ``fraction`` (while the reservoir is
    empty, a batch of two rows or more without one gives one of its rows, drawn
    uniformly); candidates enter a reservoir (Algorithm R). :meth:`split` returns
    the rows of a batch to train on: those not held, plus any row the batch
    evicted from the reservoir.
    """

    def __init__(self, entropy: int, fraction: float, capacity: int):
        self._rng = np.random.default_rng(
            np.random.SeedSequence(entropy, spawn_key=HOLDOUT_SPAWN_KEY)
        )
        self.fraction = fraction
        self.capacity = capacity
        self.n_candidates = 0
        self._rows: np.ndarray | None = None
        self.size = 0

    @property
    def rows(self) -> np.ndarray:
        """The held-back rows, shape ``(size, n_features)``."""
        return self._rows[: self.size]

    def split(self, X: np.ndarray) -> np.ndarray:
        """Hold back some rows of the batch ``X``; return the rows to train on.

        The rows that enter a reservoir with room are taken out of the batch; every
        other row keeps its place, and a candidate that takes a slot of the full
        reservoir is replaced there by the row it evicts. ``X`` itself is returned
        (not a copy) when the batch gives the reservoir nothing.
        """
        if self._rows is None:
            self._rows = np.empty((self.capacity, X.shape[1]), dtype=X.dtype)
        candidate = self._rng.random(X.shape[0]) < self.fraction
        if self.size == 0 and not candidate.any() and X.shape[0] > 1:
            candidate[self._rng.integers(X.shape[0])] = True  # never an empty holdout
        where = np.flatnonzero(candidate)
        fill = min(where.size, self.capacity - self.size)
        train = X
        if fill:  # the first candidates fill the reservoir and leave the batch
            self._rows[self.size : self.size + fill] = X[where[:fill]]
            self.size += fill
            keep = np.ones(X.shape[0], dtype=bool)
            keep[where[:fill]] = False
            train = X[keep]
        late = where[fill:]  # candidates that find the reservoir full (after the filled rows)
        first_number = self.n_candidates + fill + 1
        self.n_candidates += where.size
        if late.size == 0:
            return train
        # Algorithm R: candidate number j takes slot integers(j) when it is < capacity (one
        # draw per candidate, the same draws as one integers(j) call each, in order)
        slots = self._rng.integers(np.arange(first_number, self.n_candidates + 1))
        takers = np.flatnonzero(slots < self.capacity)
        if takers.size == 0:
            return train
        if train is X:
            train = X.copy()
        takers = takers[np.argsort(slots[takers], kind="stable")]  # by slot, then arrival
        taken = slots[takers]
        first = np.ones(takers.size, dtype=bool)
        first[1:] = taken[1:] != taken[:-1]
        last = np.ones(takers.size, dtype=bool)
        last[:-1] = first[1:]
        rows = X[late[takers]]
        place = late[takers] - fill  # every late candidate comes after the filled rows
        # in a taker's place, the row it evicts: the held row for a slot's first taker,
        # the previous taker of the slot after that
        train[place[first]] = self._rows[taken[first]]
        train[place[~first]] = rows[np.flatnonzero(~first) - 1]
        self._rows[taken[last]] = rows[last]
        return train


class IncrementalSweep(Runner):
    """One model per (k, restart), updated batch by batch, scored on a held-back sample.

    The stream's runner: after each batch, :meth:`run` scores every model on the
    held-back rows, and the shared stages (``ksweep._pipeline.drive``) assemble
    the results, keep the best restart of each k and choose k.

    Parameters
    ----------
    sweep : KSweep
        Read once, at the start of the stream: ``estimator``, ``k_range``,
        ``n_init``, ``random_state``, ``score_func``.
    k_values : ndarray of int
        The k values (from ``check_k_range``).
    """

    engine = "incremental"
    warn_rising = False  # flagged in results_["non_monotonic"]; a stream warns for nothing

    def __init__(self, sweep: Any, k_values: np.ndarray):
        owner = self.owner = type(sweep).__name__
        check_stream_params(sweep)
        self.template, self.count_param = incremental_template(sweep.estimator, owner)
        self.n_restarts = n_restarts_for(self.template, sweep.n_init)
        self.k_values = k_values
        self.params = {name: repr(sweep.get_params(deep=False)[name]) for name in STREAM_PARAMS}
        self.score_func = sweep.score_func
        self.inner_threads = sweep.inner_threads
        self.entropy = seed_entropy(sweep.random_state)
        self.stream_plan = Plan(k_values, self.n_restarts, self.entropy)
        self.seeds = self.stream_plan.seeds
        seeded = "random_state" in self.template.get_params(deep=False)
        self.models = [
            [
                clone(self.template).set_params(
                    **{self.count_param: int(k)},
                    **({"random_state": int(seed)} if seeded else {}),
                )
                for seed in row
            ]
            for k, row in zip(k_values, self.seeds, strict=True)
        ]
        # the one place that decides which engine updates the models
        self.engine = stream_engine(sweep, self.template)
        self.fused: FusedMiniBatch | None = None  # "fused-stream": self.models stay unfitted
        if self.engine == "fused-stream":
            self.fused = FusedMiniBatch.from_models([m for row in self.models for m in row])
            self.threads = stream_threads(sweep)
            share = k_values[:, np.newaxis] * np.ones(self.seeds.shape)
            self.time_share = share / share.sum()
        self.holdout = HeldOutSample(self.entropy, HOLDOUT_FRACTION, HOLDOUT_MAX)
        self.fit_time = np.zeros(self.seeds.shape)
        self.n_steps = 0  # partial_fit calls each model has had
        self.n_seen = 0
        self.n_trained = 0
        self._buffer: list[np.ndarray] = []
        self.dtype: np.dtype | None = None
        self.input_attrs: dict[str, Any] = {}  # n_features_in_ (and feature_names_in_)
        self.results: Any = None  # the results_ this stream last set

    def check_unchanged(self, sweep: Any) -> None:
        """Raise if a parameter the stream was started with has changed since."""
        params = sweep.get_params(deep=False)
        for name in STREAM_PARAMS:
            if repr(params[name]) != self.params[name]:
                raise param_error(
                    name,
                    type(sweep).__name__,
                    "unchanged between the partial_fit calls of one stream (it was "
                    f"{self.params[name]} at the first call; fit, or a new KSweep, starts a "
                    "new stream)",
                    params[name],
                )

    @property
    def n_buffered(self) -> int:
        """Rows waiting for the first step (fewer than the largest k so far)."""
        return sum(rows.shape[0] for rows in self._buffer)

    @property
    def ready(self) -> bool:
        """Whether the models have taken a step and the holdout holds a row."""
        return self.n_steps > 0 and self.holdout.size > 0

    def limits(self):
        """Cap native threads at ``inner_threads`` ("auto": one, as for independent fits).

        The fused stream runs BLAS on one thread (its kernels use ``self.threads``).
        """
        if self.fused is not None:
            return capped_threads(1)
        if self.inner_threads is None:
            return contextlib.nullcontext()
        return capped_threads(1 if self.inner_threads == "auto" else self.inner_threads)

    def update(self, X: np.ndarray) -> None:
        """Hold back part of the batch X and train every model on the rest."""
        if self.dtype is None:
            self.dtype = X.dtype
        X = np.asarray(X, dtype=self.dtype)
        self.n_seen += X.shape[0]
        train = self.holdout.split(X)
        if self.n_steps == 0:
            self._buffer.append(train if train is not X else X.copy())
            if self.n_buffered < int(self.k_values[-1]):
                return
            train = np.concatenate(self._buffer)
            self._buffer = []
        if train.shape[0] == 0:
            return
        with self.limits():
            if self.fused is not None:  # every model in one pass, time shared by k
                start = time.perf_counter()
                self.fused.partial_fit(train, self.threads)
                self.fit_time += (time.perf_counter() - start) * self.time_share
            else:
                for i, row in enumerate(self.models):
                    for r, model in enumerate(row):
                        start = time.perf_counter()
                        model.partial_fit(train)
                        self.fit_time[i, r] += time.perf_counter() - start
        self.n_steps += 1
        self.n_trained += train.shape[0]

    def _holdout_inertia(self, model: Any, owner: str) -> float:
        rows = self.holdout.rows
        if self.score_func is not None:
            return float(self.score_func(model, rows))
        centers = getattr(model, "cluster_centers_", None)
        if centers is not None:
            distances = euclidean_distances(
                rows, np.asarray(centers, dtype=rows.dtype), squared=True
            )
            return float(distances.min(axis=1).sum(dtype=np.float64))
        if not hasattr(model, "predict"):
            raise param_error(
                "score_func",
                owner,
                f"a callable for partial_fit with {type(model).__name__}, which has neither "
                "cluster_centers_ nor predict to score the held-back rows with",
                self.score_func,
            )
        return within_cluster_sum_of_squares(rows, np.asarray(model.predict(rows)))

    # -- the runner's stages ------------------------------------------------------------

    def plan(self) -> Plan:
        return self.stream_plan

    @property
    def inertia_definition(self) -> str:
        if self.score_func is not None:
            return "score_func(model, held-back rows)"
        return (
            "sum of squared Euclidean distances of the "
            f"{self.holdout.size} held-back rows to the closest center"
        )

    def run(self, plan: Plan) -> dict[tuple, TaskRecord]:
        """Every model as it is now, scored on the held-back rows (holdout inertia)."""
        if self.fused is not None:  # one pass for every model; its state as fitted models
            with self.limits():
                inertia = self.fused.score(self.holdout.rows, self.threads)
            inertia = inertia.reshape(self.seeds.shape)
            n = self.n_restarts
            models = [
                [self.fused.fitted(model, i * n + r) for r, model in enumerate(row)]
                for i, row in enumerate(self.models)
            ]
        else:
            with self.limits():
                inertia = [
                    [self._holdout_inertia(m, self.owner) for m in row] for row in self.models
                ]
            models = self.models
        return {
            (int(k), r): TaskRecord(
                inertia=float(inertia[i][r]),
                raw_inertia=float(getattr(model, "inertia_", np.nan)),
                n_iter=self.n_steps,
                fit_time=float(self.fit_time[i, r]),
                estimator=model,
            )
            for i, (k, row) in enumerate(zip(plan.k_values, models, strict=True))
            for r, model in enumerate(row)
        }

    def columns(self, plan: Plan, results, records, models, labels) -> dict[str, np.ndarray]:
        """How many rows the holdout holds and the models were trained on."""
        n_k = plan.k_values.size
        return {
            "n_holdout": np.full(n_k, self.holdout.size, dtype=np.int64),
            "n_trained": np.full(n_k, self.n_trained, dtype=np.int64),
        }

    def structure_key(self) -> tuple[int, int]:
        """When to run the no-structure test again: each time the held-back reservoir has
        doubled (it stops growing at its capacity) while it holds fewer rows than the test
        reads (:data:`~ksweep._structure_check.STRUCTURE_ROWS`), not after every batch:
        beyond that the test reads a sample of the same size, as in :meth:`KSweep.fit`."""
        doublings = int(np.log2(max(self.holdout.size, 1)))
        return (min(doublings, int(np.log2(STRUCTURE_ROWS)) + 1), self.holdout.capacity)

    def structure_rows(self):
        """The held-back rows and their bounding box (the stream's only rows at hand)."""
        rows = self.holdout.rows
        return rows, rows.min(axis=0), rows.max(axis=0)


_FITTED = (
    "results_", "best_k_", "best_estimator_", "estimators_", "elbow_", "labels_",
    "cluster_centers_", "n_features_in_", "feature_names_in_", "structure_",
)  # fmt: skip


def stream_batch(sweep: Any, X: Any) -> IncrementalSweep | None:
    """Feed one batch to ``sweep``'s stream (the first call, or one after ``fit``, starts
    one); return the stream's runner, or None (with a warning) while it cannot run yet."""
    owner = type(sweep).__name__
    if sparse.issparse(X):
        raise TypeError(
            f"{owner}.partial_fit takes dense batches; got a sparse {type(X).__name__}. "
            "Convert each batch with .toarray(), or use fit for sparse data."
        )
    state = getattr(sweep, "_incremental", None)
    if state is None or state.results is not getattr(sweep, "results_", None):
        sweep._check_params()
        state = IncrementalSweep(sweep, check_k_range(sweep.k_range))
        for name in _FITTED:
            sweep.__dict__.pop(name, None)  # a new stream replaces the fitted sweep
        sweep._memory = None
        X = sweep._validate_X(X, reset=True)
        state.input_attrs = {
            name: getattr(sweep, name)
            for name in ("n_features_in_", "feature_names_in_")
            if hasattr(sweep, name)
        }
        sweep._incremental = state
    else:
        state.check_unchanged(sweep)
        sweep.__dict__.update(state.input_attrs)
        try:
            X = sweep._validate_X(X, reset=False)
        finally:
            if not state.ready:
                for name in state.input_attrs:
                    sweep.__dict__.pop(name, None)
    state.update(X)
    if state.ready:
        return state
    for name in state.input_attrs:  # not fitted until there are results
        sweep.__dict__.pop(name, None)
    warnings.warn(
        f"{owner}.partial_fit has {state.n_buffered} row(s) to train on and "
        f"{state.holdout.size} held back: the models start once there are "
        f"{int(state.k_values[-1])} (the largest k) and 1 held back. The sweep is not "
        "fitted yet.",
        UserWarning,
        stacklevel=user_stacklevel(),
    )
    return None


__all__ = [
    "HOLDOUT_FRACTION",
    "HOLDOUT_MAX",
    "HeldOutSample",
    "IncrementalSweep",
    "check_stream_params",
    "incremental_template",
    "not_incremental",
    "stream_batch",
    "stream_engine",
    "stream_threads",
]
