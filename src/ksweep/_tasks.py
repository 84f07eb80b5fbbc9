"""The unit of work of a sweep: one fit of one (k, restart), and its record."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.base import clone
from threadpoolctl import ThreadpoolController

from ksweep._shipping import resolve_data
from ksweep._validation import cluster_count_param


@dataclass(frozen=True)
class TaskRecord:
    """What one ``(k, restart)`` fit produced.

    Attributes
    ----------
    inertia : float
        Within-cluster sum of squared distances (the estimator's ``inertia_``
        when it has one, else computed from its labels in Euclidean distance).
    n_iter : int
        The estimator's ``n_iter_``, or -1 when it does not report one.
    fit_time : float
        Seconds spent in ``fit``.
    estimator : estimator
        The fitted estimator.
    """

    inertia: float
    n_iter: int
    fit_time: float
    estimator: Any


def task_params(estimator: Any, k: int, seed: int) -> dict[str, Any]:
    """The parameters a task sets on its clone: k, a single restart, its seed."""
    params = estimator.get_params(deep=False)
    out: dict[str, Any] = {cluster_count_param(estimator): int(k)}
    if "n_init" in params:
        out["n_init"] = 1
    if "random_state" in params:
        out["random_state"] = int(seed)
    return out


def fit_one(estimator: Any, X: Any, k: int, seed: int) -> TaskRecord:
    """Fit a clone of ``estimator`` with ``k`` clusters, one restart, seeded by ``seed``.

    A top-level function, so every executor can pickle it.
    """
    model = clone(estimator).set_params(**task_params(estimator, k, seed))
    start = time.perf_counter()
    model.fit(X)
    fit_time = time.perf_counter() - start
    n_iter = getattr(model, "n_iter_", -1)
    return TaskRecord(
        inertia=float(_inertia(model, X)),
        n_iter=int(n_iter) if np.ndim(n_iter) == 0 else int(np.max(n_iter)),
        fit_time=fit_time,
        estimator=model,
    )


def run_task(estimator: Any, data: Any, k: int, seed: int, threads: int | None) -> TaskRecord:
    """What a worker runs: resolve X from its handle, cap native threads, fit.

    ``threads`` caps the BLAS and OpenMP thread pools for the duration of the
    fit (None leaves them alone), so that workers × threads stays within the cores.
    """
    X = resolve_data(data)
    if threads is None:
        return fit_one(estimator, X, k, seed)
    with _thread_controller().limit(limits=threads):
        return fit_one(estimator, X, k, seed)


_CONTROLLER: list[ThreadpoolController] = []


def _thread_controller() -> ThreadpoolController:
    """This process's threadpoolctl controller, made once: finding the libraries costs ~1 ms.

    Made at the first task, after the estimator's libraries were imported to unpickle it.
    """
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


def _inertia(model: Any, X: Any) -> float:
    if hasattr(model, "inertia_"):
        return model.inertia_
    if hasattr(model, "labels_"):
        labels = model.labels_
    elif hasattr(model, "predict"):
        labels = model.predict(X)
    else:
        raise AttributeError(
            f"{type(model).__name__} has no 'inertia_', 'labels_' or 'predict': "
            "ksweep cannot score its clustering"
        )
    return within_cluster_sum_of_squares(X, labels)


def within_cluster_sum_of_squares(X: Any, labels: np.ndarray) -> float:
    """Sum over clusters of the squared Euclidean distances to the cluster mean.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [2.0], [10.0], [12.0]])
    >>> within_cluster_sum_of_squares(X, np.array([0, 0, 1, 1]))
    4.0
    """
    labels = np.asarray(labels)
    total = 0.0
    for label in np.unique(labels):
        members = X[labels == label]
        center = np.asarray(members.mean(axis=0)).ravel()
        if sparse.issparse(members):
            # ||x - c||² = ||x||² - 2 x·c + ||c||², summed over the members
            sq_norms = members.multiply(members).sum()
            total += float(
                sq_norms - 2 * (members @ center).sum() + members.shape[0] * center @ center
            )
        else:
            total += float(((members - center) ** 2).sum())
    return total
