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

__all__ = ["dtw_distance_matrix"]


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
