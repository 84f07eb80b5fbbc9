"""Cores and native threads: how many this process may use, and a cap for one task.

A leaf: it imports nothing of ksweep's, so the numerics, the executors and the
front ends all count cores the same way.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any

from threadpoolctl import ThreadpoolController

from ksweep.exceptions import InvalidParameterError


def _os_cores() -> int:
    """Cores the operating system lets this process use: CPU affinity and cgroup quotas."""
    try:
        from joblib.externals.loky import cpu_count
    except ImportError:  # pragma: no cover - joblib comes with scikit-learn
        try:
            return len(os.sched_getaffinity(0))
        except AttributeError:
            return os.cpu_count() or 1
    return max(1, int(cpu_count()))


def _joblib_n_jobs() -> int | None:
    """``n_jobs`` of an enclosing ``joblib.parallel_config``, or None when none is set."""
    try:
        from joblib.parallel import get_active_backend
    except ImportError:  # pragma: no cover - an old joblib
        return None
    try:
        _, n_jobs = get_active_backend()
    except Exception:  # pragma: no cover - joblib's internals moved
        return None
    return n_jobs if isinstance(n_jobs, int) and n_jobs != 0 else None


def _native_thread_limit() -> int | None:
    """The lowest thread count of the loaded BLAS and OpenMP pools.

    Lower than the cores only where someone set it: an enclosing
    ``threadpoolctl.threadpool_limits``, ``OMP_NUM_THREADS`` or
    ``OPENBLAS_NUM_THREADS``, a dask worker's single-thread setting.
    """
    counts = [
        int(info["num_threads"])
        for info in _thread_controller().info()
        if info.get("user_api") in ("blas", "openmp") and info.get("num_threads")
    ]
    return min(counts) if counts else None


def cpu_cores() -> int:
    """The cores a sweep may use in this process.

    The operating system's share (CPU affinity and cgroup CPU quotas, as
    joblib/loky count them), lowered by an enclosing
    ``joblib.parallel_config(n_jobs=...)`` and by an enclosing
    ``threadpoolctl.threadpool_limits`` (or ``OMP_NUM_THREADS`` /
    ``OPENBLAS_NUM_THREADS``) on the native thread pools.
    """
    cores = _os_cores()
    n_jobs = _joblib_n_jobs()
    if n_jobs is not None:
        cores = min(cores, n_jobs if n_jobs > 0 else max(1, cores + 1 + n_jobs))
    limit = _native_thread_limit()
    if limit is not None:
        cores = min(cores, limit)
    return max(1, cores)


def effective_n_jobs(n_jobs: int | None, owner: str = "KSweep") -> int:
    """Workers for ``n_jobs``: None or -1 mean every core, -2 all but one, and so on."""
    if n_jobs is None:
        return cpu_cores()
    if n_jobs > 0:
        return n_jobs
    cores = cpu_cores()
    workers = cores + 1 + n_jobs
    if workers < 1:
        raise InvalidParameterError(
            f"The 'n_jobs' parameter of {owner} must be a number that leaves at least one "
            f"worker on {cores} cores. Got {n_jobs!r} instead."
        )
    return workers


def threads_per_task(cores: int, concurrent_tasks: int) -> int:
    """Native threads for each of ``concurrent_tasks`` tasks sharing ``cores``."""
    return max(1, cores // max(1, concurrent_tasks))


#: One controller per thread: one made in a thread pool's thread (dask's local scheduler)
#: was seen to leave later limits set from the main thread without effect.
_CONTROLLER = threading.local()
_BLAS_LOCK = threading.Lock()
_BLAS_STATE: dict[str, Any] = {"depth": 0, "limiter": None}


def _thread_controller() -> ThreadpoolController:
    """This thread's threadpoolctl controller, made once: finding the libraries costs ~1 ms.

    Made at the first task, after the estimator's libraries were imported to unpickle it.
    """
    controller = getattr(_CONTROLLER, "controller", None)
    if controller is None:
        controller = _CONTROLLER.controller = ThreadpoolController()
    return controller


@contextlib.contextmanager
def capped_threads(threads: int):
    """Cap OpenMP (for this thread) and BLAS (for this process) at ``threads``.

    OpenMP's cap belongs to the calling thread, so each task sets and restores
    its own. The BLAS cap is process-wide: tasks running side by side in one
    process (threads, a dask worker with several threads) share it, and only the
    first to enter sets it and the last to leave restores it, so overlapping
    tasks cannot leave it lowered for good.
    """
    controller = _thread_controller()
    with _BLAS_LOCK:
        if _BLAS_STATE["depth"] == 0:
            _BLAS_STATE["limiter"] = controller.select(user_api="blas").limit(limits=threads)
        _BLAS_STATE["depth"] += 1
    try:
        with controller.select(user_api="openmp").limit(limits=threads):
            yield
    finally:
        with _BLAS_LOCK:
            _BLAS_STATE["depth"] -= 1
            if _BLAS_STATE["depth"] == 0:
                _BLAS_STATE["limiter"].restore_original_limits()
                _BLAS_STATE["limiter"] = None


def widen_blas(threads: int) -> None:
    """Raise the process-wide BLAS cap of the running :func:`capped_threads` to ``threads``
    (a task left alone takes the cores its peers left); the last to leave still
    restores the limits from before the first entered. OpenBLAS takes a thread count
    from the main thread only (measured: a call from another thread changes nothing),
    so the sweep's driver calls it."""
    with _BLAS_LOCK:
        if _BLAS_STATE["depth"] > 0:
            _thread_controller().select(user_api="blas").limit(limits=threads)


class CoreShare:
    """The cores of one sweep's fused tasks in this process, shared as they finish.

    ``tasks`` tasks run on ``workers`` workers at most at once; :meth:`threads` tells a
    running task how many threads it may use now, ``cores // min(workers, tasks
    left)``: once fewer tasks are left (running or waiting) than workers, the last
    ones take the cores the others left. The fused engine's results do not depend
    on its thread count, so sharing changes no bit.
    """

    def __init__(self, cores: int, workers: int, tasks: int):
        self.cores = max(1, int(cores))
        self.workers = max(1, int(workers))
        self.left = max(1, int(tasks))
        self._lock = threading.Lock()

    def threads(self) -> int:
        """The threads a running task may use now."""
        with self._lock:
            return max(1, self.cores // min(self.workers, self.left))

    def done(self) -> None:
        """A task has finished (or failed): its cores go to those left."""
        with self._lock:
            self.left = max(1, self.left - 1)
