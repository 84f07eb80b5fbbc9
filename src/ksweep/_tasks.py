"""What workers run: one fit of one (k, restart), or one fused group of runs, and their records."""

from __future__ import annotations

import contextlib
import pickle
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from ksweep._families import Family, family_of, score_fit, task_params
from ksweep._fused import fit_runs, fitted_estimator, rebuild_runs
from ksweep._fused_state import LloydState
from ksweep._shipping import resolve_data
from ksweep._threads import CoreShare, capped_threads, cpu_cores
from ksweep.exceptions import TaskAbortedError


@dataclass(frozen=True)
class TaskRecord:
    """What one ``(k, restart)`` fit produced.

    Attributes
    ----------
    inertia : float
        Within-cluster sum on the family's scale (see ``ksweep._families``).
    raw_inertia : float
        The estimator's own ``inertia_`` (NaN when it has none).
    n_iter : int
        The estimator's ``n_iter_``, or -1 when it does not report one.
    fit_time : float
        Seconds spent in ``fit``.
    estimator : estimator
        The fitted estimator.
    extras : dict of str to float
        Family-specific scores, e.g. ``bic`` and ``neg_log_likelihood`` for mixtures.
    centered : ndarray of shape (k, n_features) or None
        The fused engine's final centers in its own coordinates (X less its column
        means): a checkpoint stores them, and the model is rebuilt from them exactly
        (:func:`rebuild_fused`). None for the other engines.
    """

    inertia: float
    raw_inertia: float
    n_iter: int
    fit_time: float
    estimator: Any
    extras: dict[str, float] = field(default_factory=dict)
    centered: np.ndarray | None = None


def fit_one(
    estimator: Any,
    X: Any,
    k: int,
    seed: int,
    family: Family | None = None,
    score_func: Callable | None = None,
) -> TaskRecord:
    """Fit a clone of ``estimator`` with ``k`` clusters, one restart, seeded by ``seed``.

    A top-level function, so every executor can pickle it.
    """
    family = family or family_of(estimator, score_func)
    model = clone(estimator).set_params(**task_params(estimator, k, seed))
    start = time.perf_counter()
    model.fit(X)
    fit_time = time.perf_counter() - start
    inertia, raw, extras = score_fit(model, X, family, score_func)
    n_iter = getattr(model, "n_iter_", -1)
    n_iter = -1 if n_iter is None else n_iter
    return TaskRecord(
        inertia=inertia,
        raw_inertia=raw,
        n_iter=int(n_iter) if np.ndim(n_iter) == 0 else int(np.max(n_iter)),
        fit_time=fit_time,
        estimator=model,
        extras=extras,
    )


def _travels(exc: BaseException) -> bool:
    """Whether ``exc`` survives pickling, as it must to leave a worker process."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return False
    return True


@contextlib.contextmanager
def portable_errors():
    """Let a task's ordinary, picklable exceptions through; turn any other into a
    :class:`~ksweep.exceptions.TaskAbortedError` (``KeyboardInterrupt`` passes as it is).

    A ``SystemExit`` or a Rust ``PanicException`` would stop a dask worker or escape
    the driver's error handling; an unpicklable exception cannot leave a worker
    process and would break its pool. Every executor sees the same exception.
    """
    try:
        yield
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        if isinstance(exc, Exception) and _travels(exc):
            raise
        raise TaskAbortedError(f"{type(exc).__name__}: {exc}") from exc


def run_task(
    estimator: Any,
    data: Any,
    k: int,
    seed: int,
    threads: int | None,
    family: Family | None = None,
    score_func: Callable | None = None,
) -> TaskRecord:
    """What a worker runs: resolve X from its handle, cap native threads, fit.

    ``threads`` caps the BLAS and OpenMP thread pools for the duration of the
    fit (None leaves them alone), so that workers × threads stays within the cores.
    """
    limits = capped_threads(threads) if threads is not None else contextlib.nullcontext()
    with portable_errors(), limits:
        return fit_one(estimator, resolve_data(data), k, seed, family, score_func)


def run_fused_group(
    template: Any,
    data: Any,
    keys: list[tuple],
    ks: list[int],
    seeds: list[int],
    threads: int | None,
    family: Family,
    chains: list[int] | None = None,
    checkpoint: Any = None,
    states: list[LloydState | None] | None = None,
) -> dict[tuple, TaskRecord]:
    """What a worker runs for the fused engine: one group of runs, a record per key.

    ``chains``: the nested k-means++ sequence of each run (see ``fused_lloyd``).
    With ``checkpoint``, each run is written to it as soon as it finishes (while the
    group's other runs go on), and every :data:`STATE_SECONDS` where each unfinished
    run stands (:class:`_StateWriter`), so a killed sweep loses about a second of
    work; ``states`` (one per key, or None) are where a killed sweep left its runs.
    These early writes are best effort (a worker may not see the directory); the
    driver writes every record again when the group returns, and reports failures.
    """
    with portable_errors():
        X = resolve_data(data)
        return _fused_group(
            template, X, keys, ks, seeds, threads, family, chains, checkpoint, states
        )


#: A fused group with a checkpoint writes where its unfinished runs stand (one file)
#: every this many seconds: a kill loses about that much of their work ...
STATE_SECONDS = 1.0
#: ... and spends at most this share of its time on it (a slow disk writes less often).
STATE_COST = 0.05


class _StateWriter:
    """``on_pass`` of a group with a checkpoint: writes each unfinished run's state when due."""

    def __init__(self, checkpoint: Any, keys: list[tuple], seeds: list[int]):
        self.checkpoint, self.keys, self.seeds = checkpoint, keys, seeds
        self.due = time.perf_counter() + STATE_SECONDS

    def __call__(self, snapshot: Callable[[], list]) -> None:
        start = time.perf_counter()
        if start < self.due:
            return
        runs = [(self.keys[i], self.seeds[i], asdict(state)) for i, state in snapshot()]
        with contextlib.suppress(OSError):
            self.checkpoint.save_states(self.keys, runs)
        now = time.perf_counter()
        self.due = now + max(STATE_SECONDS, (now - start) / STATE_COST)


def _fused_group(template, X, keys, ks, seeds, threads, family, chains, checkpoint, states):
    share = threads if isinstance(threads, CoreShare) else None
    if share is not None:
        threads = share.threads()
    limits = capped_threads(threads) if threads is not None else contextlib.nullcontext()
    mean_variance = None if X.ndim == 3 else float(np.mean(np.var(X, axis=0)))
    start = time.perf_counter()

    def save_early(index: int, run: Any) -> None:
        model = fitted_estimator(template, X, run, mean_variance)
        inertia, raw, extras = score_fit(model, X, family)
        seconds = time.perf_counter() - start
        record = TaskRecord(inertia, raw, run.n_iter, seconds, None, extras, run.centered)
        with contextlib.suppress(OSError):
            checkpoint.save(keys[index], seeds[index], record)

    try:
        with limits:
            runs = fit_runs(
                template,
                X,
                ks,
                seeds,
                share if share is not None else cpu_cores() if threads is None else threads,
                mean_variance,
                chains,
                on_done=None if checkpoint is None else save_early,
                states=states,
                on_pass=None if checkpoint is None else _StateWriter(checkpoint, keys, seeds),
            )
    finally:
        if share is not None:  # its cores go to the groups still running
            share.done()
    if checkpoint is not None:  # its runs are written: where they stood is of no more use
        with contextlib.suppress(OSError):
            checkpoint.drop_states(keys)
    records = {}
    for key, run in zip(keys, runs, strict=True):
        distinct = np.count_nonzero(np.bincount(run.labels, minlength=run.k))
        if distinct < run.k:  # scikit-learn's own warning, word for word
            warnings.warn(
                f"Number of distinct clusters ({distinct}) found smaller than n_clusters "
                f"({run.k}). Possibly due to duplicate points in X.",
                ConvergenceWarning,
                stacklevel=2,
            )
        model = fitted_estimator(template, X, run, mean_variance)
        inertia, raw, extras = score_fit(model, X, family)
        records[key] = TaskRecord(
            inertia=inertia,
            raw_inertia=raw,
            n_iter=run.n_iter,
            fit_time=run.seconds,
            estimator=model,
            extras=extras,
            centered=run.centered,
        )
    return records


def rebuild_fused(
    template: Any,
    X: Any,
    ks: list[int],
    seeds: list[int],
    centered: list[np.ndarray],
    n_iters: list[int],
    family: Family,
) -> list[TaskRecord]:
    """Records with fitted models of finished fused runs, from their stored final centers.

    One pass over X assigns the rows (:func:`~ksweep._fused.rebuild_runs`), no Lloyd
    iteration: the model of a run read back from a checkpoint costs a prediction, not a
    fit. Each record's inertia is recomputed; a caller compares it with the stored one.
    """
    data = X.reshape(X.shape[0], -1) if X.ndim == 3 else X
    mean_variance = None if X.ndim == 3 else float(np.mean(np.var(X, axis=0)))
    records = []
    for run in rebuild_runs(data, ks, seeds, centered, n_iters):
        model = fitted_estimator(template, X, run, mean_variance)
        inertia, raw, extras = score_fit(model, X, family)
        records.append(TaskRecord(inertia, raw, run.n_iter, 0.0, model, extras, run.centered))
    return records
