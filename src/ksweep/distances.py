"""Distance matrices computed once, in blocks, through a ksweep executor.

A k-medoids sweep with ``metric="precomputed"`` reads one distance matrix in
every ``(k, restart)`` task. Building that matrix is the expensive part for
DTW, so it is done once, split into row blocks that run as tasks on the same
executors a sweep uses.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ksweep._executors import TaskFailed, backend_session, run_tasks, validate_executor
from ksweep._shipping import resolve_data
from ksweep._validation import check_time_series, int_at_least, validate_params

__all__ = ["dtw_distance_matrix", "dtw_to_medoids"]


def _dtw_block(data: Any, start: int, stop: int, dtw_params: dict) -> np.ndarray:
    """DTW distances from series ``start:stop`` to series ``start:`` (a worker task).

    Only the upper triangle is computed; the driver mirrors it.
    """
    from tslearn.metrics import cdist_dtw

    X = resolve_data(data)
    return cdist_dtw(X[start:stop], X[start:], n_jobs=1, **dtw_params)


def dtw_distance_matrix(
    X,
    *,
    executor="serial",
    n_jobs: int | None = None,
    block_size: int = 64,
    **dtw_params,
) -> np.ndarray:
    """The (n_series, n_series) DTW distance matrix of a time series dataset, computed once.

    Each pair is computed once: rows are split into blocks of ``block_size``
    series, and each block, a task on
    ``executor`` (the same choices as ``KSweep(executor=...)``), computes its
    distances to itself and the later series; the matrix is mirrored. Pass the
    result to ``KSweep(KMedoids(metric="precomputed"))``: every ``(k,
    restart)`` task then reuses it, and with a process or dask executor it
    travels to each worker once.

    Parameters
    ----------
    X : array-like of shape (n_series, length[, n_dims]) or list of series
        Time series; series of different lengths are NaN-padded.
    executor : str, concurrent.futures.Executor or distributed.Client, default="serial"
        Where blocks run.
    n_jobs : int or None, default=None
        Workers of an executor made from a name.
    block_size : int, default=64
        Series per task.
    **dtw_params
        Passed to ``tslearn.metrics.cdist_dtw`` (``global_constraint``,
        ``sakoe_chiba_radius``, ``itakura_max_slope``).

    Returns
    -------
    ndarray of shape (n_series, n_series)
        Symmetric DTW distances with a zero diagonal.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 1.0, 2.0], [0.0, 1.0, 1.0], [5.0, 5.0, 5.0]])
    >>> D = dtw_distance_matrix(X, block_size=2)
    >>> D.shape, bool(np.allclose(D, D.T)), float(D[0, 1])
    ((3, 3), True, 1.0)
    """
    validate_params(
        "dtw_distance_matrix", {"block_size": [int_at_least(1)]}, {"block_size": block_size}
    )
    validate_executor("dtw_distance_matrix", executor, n_jobs)
    X = check_time_series(X, owner="dtw_distance_matrix", min_samples=1)
    n = X.shape[0]
    starts = range(0, n, block_size)
    out = np.empty((n, n), dtype=np.float64)
    try:
        with backend_session(executor, n_jobs, 1) as backend:
            data = backend.ship(X)
            tasks = (
                (start, _dtw_block, (data, start, min(start + block_size, n), dtw_params))
                for start in starts
            )
            for start, block in run_tasks(backend.executor, tasks, backend.window):
                stop = start + block.shape[0]
                out[start:stop, start:] = block
                out[start:, start:stop] = block.T
    except TaskFailed as failure:
        raise failure.__cause__ from None
    return out


def dtw_to_medoids(X_new, X_train, medoid_indices, **dtw_params) -> np.ndarray:
    """DTW distances from new series to the medoids of a k-medoids model: what
    ``KSweep.predict`` takes after a sweep on a precomputed DTW matrix.

    Parameters
    ----------
    X_new : array-like of shape (n_new, length[, n_dims]) or list of series
        The series to label.
    X_train : array-like of shape (n_series, length[, n_dims]) or list of series
        The series the distance matrix was computed from, in the same order.
    medoid_indices : array-like of int of shape (k,)
        Rows of ``X_train`` that are medoids: ``sweep.best_estimator_.medoid_indices_``.
    **dtw_params
        As for :func:`dtw_distance_matrix` (use the same).

    Returns
    -------
    ndarray of shape (n_new, k)
        Column j is the distance to medoid ``medoid_indices[j]`` (cluster j).

    Examples
    --------
    >>> import numpy as np
    >>> from kmedoids import KMedoids
    >>> from ksweep import KSweep
    >>> rng = np.random.default_rng(0)
    >>> series = np.concatenate([rng.normal(0, 0.1, (10, 20)), rng.normal(3, 0.1, (10, 20))])
    >>> D = dtw_distance_matrix(series)
    >>> sweep = KSweep(KMedoids(2, metric="precomputed"), k_range=[2, 3, 4], n_init=1,
    ...                selection="silhouette").fit(D)
    >>> to_medoids = dtw_to_medoids(series[[0, 15]], series, sweep.best_estimator_.medoid_indices_)
    >>> labels = sweep.predict(to_medoids)
    >>> bool(labels[0] == sweep.labels_[0]), bool(labels[1] == sweep.labels_[15])
    (True, True)
    """
    from tslearn.metrics import cdist_dtw

    X_new = check_time_series(X_new, owner="dtw_to_medoids", min_samples=1)
    X_train = check_time_series(X_train, owner="dtw_to_medoids", min_samples=1)
    medoids = np.asarray(medoid_indices, dtype=np.intp).reshape(-1)
    return cdist_dtw(X_new, X_train[medoids], **dtw_params)


def predict_by_medoids(owner: str, model: Any, D: Any) -> np.ndarray:
    """Labels from distances to a k-medoids model's medoids: the nearest medoid's cluster.

    What ``KSweep.predict`` does for a sweep on precomputed distances: kmedoids'
    ``predict`` cannot, it has no features, only the medoids' row numbers.
    """
    k = len(model.medoid_indices_)
    D = np.asarray(D, dtype=np.float64)
    if D.ndim != 2 or D.shape[1] != k or D.shape[0] == 0 or not np.all(np.isfinite(D)):
        raise ValueError(
            f"The 'X' argument of {owner}.predict must be, after a sweep on precomputed "
            f"distances, a finite (n_new, {k}) matrix of distances from each new sample to "
            f"the {k} medoids (best_estimator_.medoid_indices_, in that order; for series: "
            "ksweep.distances.dtw_to_medoids(X_new, X_train, "
            f"sweep.best_estimator_.medoid_indices_)). Got shape {D.shape} instead."
        )
    return np.argmin(D, axis=1)
