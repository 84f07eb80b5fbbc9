"""The unit of work of a sweep: one fit of one (k, restart), and its record."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import clone

from ksweep._families import Family, family_of, score_fit
from ksweep._shipping import resolve_data
from ksweep._threads import capped_threads
from ksweep._validation import cluster_count_param


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
    """

    inertia: float
    raw_inertia: float
    n_iter: int
    fit_time: float
    estimator: Any
    extras: dict[str, float] = field(default_factory=dict)


def task_params(estimator: Any, k: int, seed: int) -> dict[str, Any]:
    """The parameters a task sets on its clone: k, a single restart, its seed.

    ``copy_x`` is forced on: tasks running side by side in threads share X, and
    k-means with ``copy_x=False`` centers X in place while it fits.
    """
    params = estimator.get_params(deep=False)
    out: dict[str, Any] = {cluster_count_param(estimator): int(k)}
    if params.get("copy_x") is False:
        out["copy_x"] = True
    if "n_init" in params:
        out["n_init"] = 1
    if "random_state" in params:
        out["random_state"] = int(seed)
    return out


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
    X = resolve_data(data)
    if threads is None:
        return fit_one(estimator, X, k, seed, family, score_func)
    with capped_threads(threads):
        return fit_one(estimator, X, k, seed, family, score_func)
