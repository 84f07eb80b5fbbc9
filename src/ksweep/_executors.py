"""Executors: a serial one, a registry of names, and the loop that drives tasks.

Every backend speaks ``concurrent.futures.Executor`` (``submit`` returning a
``Future``); strings resolve through a registry of factories.
"""

from __future__ import annotations

import contextlib
import os
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import (
    FIRST_COMPLETED,
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from typing import Any, ClassVar

from ksweep._parent_watch import watch_parent
from ksweep._shipping import MappedData, remove_mapped, write_mapped
from ksweep._threads import capped_threads, cpu_cores, effective_n_jobs, threads_per_task
from ksweep.exceptions import InvalidParameterError

ExecutorFactory = Callable[[int | None], Executor]


class SerialExecutor(Executor):
    """Run each task in the calling process at submit time.

    A ``concurrent.futures.Executor``: ``submit`` returns a finished
    ``Future`` holding the result or the exception, any ``BaseException``
    included (``SystemExit``, a Rust ``PanicException``), as worker threads and
    processes report them. ``KeyboardInterrupt`` is not captured: it propagates at once.

    Examples
    --------
    >>> with SerialExecutor() as ex:
    ...     ex.submit(pow, 2, 10).result()
    1024
    """

    def __init__(self) -> None:
        self._shutdown = False

    def submit(self, fn, /, *args, **kwargs) -> Future:
        if self._shutdown:
            raise RuntimeError("cannot schedule new futures after shutdown")
        future: Future = Future()
        future.set_running_or_notify_cancel()
        try:
            result = fn(*args, **kwargs)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            future.set_exception(exc)
        else:
            future.set_result(result)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._shutdown = True


def _threads(n_jobs: int | None) -> Executor:
    return ThreadPoolExecutor(max_workers=effective_n_jobs(n_jobs), thread_name_prefix="ksweep")


class ReusableProcessPool(Executor):
    """A loky process pool of ksweep's own, kept warm between sweeps.

    Starting worker processes costs about a second (each imports numpy and
    scikit-learn), as much as a whole small sweep, so the pool outlives a sweep
    and its workers idle out after ``idle_timeout`` seconds. It is ksweep's own
    pool, not loky's process-wide one that joblib uses: asking that one for
    another size shuts it down under joblib's feet. A normal ``shutdown``
    leaves the workers running; an aborted one (``cancel_futures=True``: a
    failure or Ctrl-C) kills them, and the next sweep starts a fresh pool.
    Each worker exits on its own when this process dies (see
    :mod:`ksweep._parent_watch`), so a killed driver leaves no worker behind.
    """

    _pools: ClassVar[dict[int, Any]] = {}
    _lock = threading.Lock()

    def __init__(self, max_workers: int, idle_timeout: float = 300.0):
        from joblib.externals.loky import ProcessPoolExecutor as LokyPool

        with self._lock:
            pool = self._pools.get(max_workers)
            if pool is None or not _usable(pool):
                pool = LokyPool(
                    max_workers=max_workers,
                    timeout=idle_timeout,
                    initializer=watch_parent,
                    initargs=(os.getpid(),),
                )
                self._pools[max_workers] = pool
        self._pool = pool
        self._max_workers = max_workers

    def submit(self, fn, /, *args, **kwargs) -> Future:
        return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if cancel_futures:
            with self._lock:
                if self._pools.get(self._max_workers) is self._pool:
                    del self._pools[self._max_workers]
            self._pool.shutdown(wait=wait, kill_workers=True)


def _usable(pool: Any) -> bool:
    """Whether a loky pool is neither broken nor shut down (loky's private flags; a loky
    without them gives a pool that is reused until a submit fails, then replaced)."""
    flags = getattr(pool, "_flags", None)
    return not (getattr(flags, "broken", None) or getattr(flags, "shutdown", False))


def _processes(n_jobs: int | None) -> Executor:
    return ReusableProcessPool(effective_n_jobs(n_jobs))


def _dask(n_jobs: int | None) -> Executor:
    from ksweep._dask import dask_executor

    return dask_executor(n_jobs)


_REGISTRY: dict[str, ExecutorFactory] = {
    "serial": lambda n_jobs: SerialExecutor(),
    "threads": _threads,
    "processes": _processes,
    "dask": _dask,
}


#: Work (rows × features × the k of every task, summed) from which ``executor="auto"``
#: runs independent fits in worker processes: about two seconds of one core's fitting,
#: enough to pay back starting the pool (~1 s, once per process; it stays warm).
AUTO_PROCESSES_WORK = 1e9


def auto_executor(engine: str, n_tasks: int, work: float, cores: int) -> tuple[str, int]:
    """The executor name and worker count that ``executor="auto"`` stands for.

    - one core or one task: ``"serial"``;
    - the fused engine: in this process, ``"threads"`` with one worker per task up
      to ``cores`` (its kernels and BLAS release the GIL, and X is not copied);
    - independent fits: ``"processes"`` when ``work`` (see
      :data:`AUTO_PROCESSES_WORK`) pays back a pool's start-up, else ``"serial"``.
    """
    if cores <= 1 or n_tasks <= 1:
        return "serial", 1
    if engine == "fused":
        return "threads", min(cores, n_tasks)
    if work >= AUTO_PROCESSES_WORK:
        return "processes", cores
    return "serial", 1


def register_executor(name: str, factory: ExecutorFactory) -> None:
    """Make ``KSweep(executor=name)`` build its executor with ``factory(n_jobs)``.

    Parameters
    ----------
    name : str
        The name users pass as ``executor``. Registering a name again replaces it.
    factory : callable
        Called with ``n_jobs`` (an int or None) at the start of each ``fit``;
        returns a ``concurrent.futures.Executor`` that ksweep shuts down after
        the sweep.

    Examples
    --------
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> register_executor("my-threads", lambda n_jobs: ThreadPoolExecutor(n_jobs or 2))
    >>> "my-threads" in available_executors()
    True
    """
    if not isinstance(name, str) or not name:
        raise InvalidParameterError(
            f"The 'name' parameter of register_executor must be a non-empty str. Got {name!r} "
            "instead."
        )
    if not callable(factory):
        raise InvalidParameterError(
            "The 'factory' parameter of register_executor must be a callable. "
            f"Got {factory!r} instead."
        )
    _REGISTRY[name] = factory


def available_executors() -> list[str]:
    """The executor names ``KSweep(executor=...)`` accepts, sorted.

    Examples
    --------
    >>> {"auto", "serial", "threads", "processes", "dask"} <= set(available_executors())
    True
    """
    return sorted({"auto", *_REGISTRY})


def is_dask_client(obj: Any) -> bool:
    """Whether ``obj`` is a ``distributed.Client`` (without importing distributed)."""
    return type(obj).__module__.startswith("distributed") and hasattr(obj, "get_executor")


class Backend:
    """An executor plus what ksweep needs to know to use it well.

    ``kind`` is ``"in_process"`` (serial, threads: X is shared as is),
    ``"processes"`` (X goes to memory-mapped files once), ``"dask"`` (X is
    scattered once) or ``"other"`` (an unknown executor: X travels with each
    task). ``workers`` is the number of tasks that run at once.
    """

    def __init__(self, executor: Executor, *, owned: bool, inner_threads: int | None):
        self.executor = executor
        self.owned = owned
        self.inner_threads = inner_threads
        self.kind, self.workers = _classify(executor)
        self._shipped: list[Any] = []

    @property
    def window(self) -> int:
        """Tasks kept in flight: one for serial, two per worker otherwise."""
        return 1 if isinstance(self.executor, SerialExecutor) else 2 * self.workers

    def driver_limits(self):
        """Context capping native threads in this process while in-process tasks run.

        Tasks cap their own thread pools too, but OpenMP's cap is per thread and
        the BLAS cap global: the driver holds the same reference-counted cap
        (:func:`ksweep._threads.capped_threads`) for the whole sweep, so the last
        task to finish, even after a failure ended the sweep, restores the user's
        setting rather than the driver's.
        """
        if self.kind == "in_process" and self.inner_threads is not None:
            return capped_threads(self.inner_threads)
        return contextlib.nullcontext()

    def ship(self, X: Any) -> Any:
        """Send X to the workers once; return the handle tasks receive instead of X."""
        if self.kind == "processes":
            handle = write_mapped(X)
        elif self.kind == "dask":
            handle = self.executor._client.scatter(X, broadcast=True, hash=False)
        else:
            return X
        self._shipped.append(handle)
        return handle

    def close(self, *, abort: bool) -> None:
        """Release shipped data; shut down the executor if ksweep made it.

        With ``abort`` (a failure or Ctrl-C), pending tasks are cancelled and
        worker processes that ksweep started are terminated, so it returns at once.
        """
        shipped, self._shipped = self._shipped, []
        for handle in shipped:
            if isinstance(handle, MappedData):
                remove_mapped(handle)
            else:
                handle.release()
        if not self.owned:
            return
        if abort and isinstance(self.executor, ProcessPoolExecutor):
            for process in list(getattr(self.executor, "_processes", {}).values()):
                process.terminate()
        self.executor.shutdown(wait=not abort, cancel_futures=abort)


def _classify(executor: Executor) -> tuple[str, int]:
    workers = getattr(executor, "_max_workers", None)
    if isinstance(executor, SerialExecutor):
        return "in_process", 1
    if isinstance(executor, ThreadPoolExecutor):
        return "in_process", int(workers)
    module = type(executor).__module__
    if isinstance(executor, (ProcessPoolExecutor, ReusableProcessPool)) or "loky" in module:
        return "processes", int(workers or cpu_cores())
    client = getattr(executor, "_client", None)
    if module.startswith(("distributed", "ksweep._dask")) and client is not None:
        return "dask", max(1, sum(client.nthreads().values()))
    return "other", int(workers or cpu_cores())


class ExecutorByReference:
    """For an estimator with an ``executor`` parameter: clones share an executor instance,
    pickles leave it out.

    An executor holds locks, queues and processes: it cannot be deep-copied, and a
    clone (``GridSearchCV``, ``cross_val_score``) should use the same one. An
    unpickled estimator uses ``"auto"``.
    """

    def __sklearn_clone__(self):
        """Clone the parameters, but pass an executor instance or Client by reference."""
        from sklearn.base import clone

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
        """Pickle without an executor instance: the unpickled sweep uses ``"auto"``."""
        state = super().__getstate__()
        if not isinstance(state.get("executor"), str):
            state = {**state, "executor": "auto"}
        return state


def executor_constraints() -> list:
    """What the ``executor`` parameter accepts, for ``validate_params``."""
    from ksweep._validation import Constraint, instance_of

    names = available_executors()
    return [
        Constraint(
            "a str among {" + ", ".join(repr(n) for n in names) + "}",
            lambda v: isinstance(v, str) and v in names,
        ),
        instance_of(Executor, name="concurrent.futures.Executor"),
        Constraint("a distributed.Client", is_dask_client),
    ]


def check_executor(executor: Any, owner: str) -> None:
    """Check the ``executor`` parameter alone (a registered name, an Executor, a Client)."""
    from ksweep._validation import validate_params

    validate_params(owner, {"executor": executor_constraints()}, {"executor": executor})


def validate_executor(owner: str, executor: Any, n_jobs: Any) -> None:
    """Check ``executor`` and ``n_jobs`` for ``owner``, in scikit-learn's error style."""
    from ksweep._validation import NONE, NONZERO_INT, validate_params

    validate_params(
        owner,
        {"executor": executor_constraints(), "n_jobs": [NONZERO_INT, NONE]},
        {"executor": executor, "n_jobs": n_jobs},
    )
    if n_jobs is not None:
        effective_n_jobs(n_jobs, owner=owner)
        ignored = _ignores_n_jobs(executor)
        if ignored:
            from ksweep._pipeline import user_stacklevel  # the user's line, not ours

            warnings.warn(
                f"n_jobs={n_jobs!r} is not used by {ignored}; {owner} runs with the "
                "workers it has. For n_jobs workers, pass executor='auto', 'processes' or "
                "'threads' (or size your executor or cluster).",
                UserWarning,
                stacklevel=user_stacklevel(),
            )


def _ignores_n_jobs(executor: Any) -> str:
    """Why ``executor`` ignores ``n_jobs`` in words (empty when it uses it)."""
    if isinstance(executor, str):
        return "executor='serial' (one task at a time)" if executor == "serial" else ""
    if is_dask_client(executor):
        return "an existing dask Client"
    return f"an executor instance ({type(executor).__name__})"


def open_backend(
    executor: str | Executor | Any,
    n_jobs: int | None,
    inner_threads: int | str | None,
    *,
    engine: str = "independent",
    n_tasks: int = 1,
    work: float = 0.0,
) -> Backend:
    """Resolve the ``executor`` and ``inner_threads`` parameters for ``n_tasks`` tasks.

    ``executor`` is a registered name, ``"auto"`` (see :func:`auto_executor`), an
    Executor, or a dask Client. An executor the user passed in is never shut down;
    a Client is wrapped in an executor that leaves the Client open.

    ``inner_threads="auto"``: the fused engine's tasks share the cores (``n_jobs``
    of them when given, else every core: each of the tasks running at once gets
    ``cores // running`` threads; its results do not depend on the count);
    independent fits get one thread each (scikit-learn's k-means sums in a
    thread-count dependent order, so this keeps ``results_`` identical on every
    executor).
    """
    cores = effective_n_jobs(n_jobs)
    if isinstance(executor, str) and executor == "auto":
        executor, n_jobs = auto_executor(engine, n_tasks, work, cores)
    backend = _open(executor, n_jobs, inner_threads)
    if inner_threads == "auto":
        running = min(backend.workers, n_tasks)
        if engine != "fused" or backend.kind == "other":
            backend.inner_threads = 1
        elif backend.kind == "dask":  # the cluster's threads shared, at most one host's
            backend.inner_threads = min(
                _dask_host_threads(backend.executor._client),
                threads_per_task(backend.workers, running),
            )
        else:
            backend.inner_threads = threads_per_task(cores, running)
    return backend


def _dask_host_threads(client: Any) -> int:
    """The most worker threads of a dask cluster on one host (the cores a task may share)."""
    per_host: dict[str, int] = {}
    for worker in client.scheduler_info(n_workers=-1)["workers"].values():
        host = worker.get("host", "")
        per_host[host] = per_host.get(host, 0) + int(worker.get("nthreads", 1))
    return max(per_host.values(), default=1)


def _open(executor: Any, n_jobs: int | None, inner_threads: Any) -> Backend:
    if is_dask_client(executor):
        from ksweep._dask import DaskExecutor

        return Backend(DaskExecutor(executor), owned=True, inner_threads=inner_threads)
    if isinstance(executor, Executor):
        context = getattr(executor, "_mp_context", None)
        if isinstance(executor, ProcessPoolExecutor) and context is not None:
            if context.get_start_method() == "fork":
                warnings.warn(
                    "The ProcessPoolExecutor passed as 'executor' forks its workers: forking a "
                    "process whose OpenMP, BLAS or other threads are running can deadlock. "
                    "Create it with mp_context=multiprocessing.get_context('spawn') (or "
                    "'forkserver'), or use executor='processes'.",
                    UserWarning,
                    stacklevel=4,
                )
        return Backend(executor, owned=False, inner_threads=inner_threads)
    made = _REGISTRY[executor](n_jobs)
    if not isinstance(made, Executor):
        raise InvalidParameterError(
            f"The factory registered as {executor!r} must return a "
            f"concurrent.futures.Executor. Got {made!r} instead."
        )
    return Backend(made, owned=True, inner_threads=inner_threads)


@contextlib.contextmanager
def backend_session(
    executor: str | Executor | Any,
    n_jobs: int | None,
    inner_threads: int | str | None,
    **plan: Any,
) -> Iterator[Backend]:
    """A backend's whole life: open it, cap this process's threads while tasks run, close it.

    ``plan`` (``engine``, ``n_tasks``, ``work``) goes to :func:`open_backend`. Data
    the body ships is released at the end; an executor ksweep made is shut down, at
    once (pending tasks cancelled, worker processes terminated) when the body raised.
    """
    backend = open_backend(executor, n_jobs, inner_threads, **plan)
    abort = True
    try:
        with backend.driver_limits():
            yield backend
        abort = False
    finally:
        backend.close(abort=abort)


#: Exceptions that mean a worker process died, by class name (no optional imports needed).
#: A broken process pool fails every task in flight with one of the first two, so they do
#: not tell which task the dead worker ran; dask's ``KilledWorker`` names a task that was
#: running or queued on the worker that died.
POOL_BROKEN_ERRORS = ("BrokenProcessPool", "TerminatedWorkerError")
DEAD_WORKER_ERRORS = (*POOL_BROKEN_ERRORS, "KilledWorker")


def is_one_of(exc: BaseException | None, names: tuple[str, ...]) -> bool:
    """Whether ``exc`` is (a subclass of) one of the exception classes named ``names``."""
    return exc is not None and bool({cls.__name__ for cls in type(exc).__mro__} & set(names))


class TaskCancelledError(RuntimeError):
    """The executor cancelled a task ksweep did not cancel (a dask worker or its data was lost)."""


class TaskFailed(Exception):
    """A task raised; ``key`` names it and ``__cause__`` is the original exception.

    When a worker process died and took a whole pool with it, no task can be blamed:
    ``key`` is None and ``in_flight`` lists the keys of every task that was running or
    queued (one of them was running on the dead worker).
    """

    def __init__(self, key: Any, *, in_flight: list | None = None):
        super().__init__(key)
        self.key = key
        self.in_flight = [] if in_flight is None else in_flight


def _failure(future: Future) -> BaseException | None:
    """The exception of a finished future; a cancelled one (ksweep cancels only after
    giving up) gets a :class:`TaskCancelledError` instead of raising ``CancelledError``."""
    if future.cancelled():
        return TaskCancelledError(
            "the executor cancelled the task before it finished (on dask: a worker died, or "
            "the data it needed was lost with its worker; the scheduler's log says which)"
        )
    return future.exception()


def run_tasks(
    executor: Executor, tasks: Iterable[tuple[Any, Callable, tuple]], window: int
) -> Iterator[tuple[Any, Any]]:
    """Submit ``(key, fn, args)`` tasks with at most ``window`` in flight; yield ``(key, result)``.

    Results come in completion order. When a task raises, pending tasks are
    cancelled and ``TaskFailed(key)`` is raised from the task's exception; when a
    broken process pool failed them all, ``TaskFailed(None, in_flight=keys)``.
    """
    todo = iter(tasks)
    pending: dict[Future, Any] = {}
    try:
        while True:
            for key, fn, args in todo:
                try:
                    pending[executor.submit(fn, *args)] = key
                except Exception as exc:  # e.g. a broken pool refuses new work
                    if pending and is_one_of(exc, POOL_BROKEN_ERRORS):
                        raise TaskFailed(None, in_flight=list(pending.values())) from exc
                    raise TaskFailed(key) from exc
                if len(pending) >= window:
                    break
            if not pending:
                return
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            outcomes = {future: _failure(future) for future in done}
            # successes first: a failure in the same batch must not hide finished work
            failed = [future for future in done if outcomes[future] is not None]
            for future in done:
                if outcomes[future] is None:
                    yield pending.pop(future), future.result()
            if failed:
                cause = outcomes[failed[0]]
                if is_one_of(cause, POOL_BROKEN_ERRORS):
                    raise TaskFailed(None, in_flight=list(pending.values())) from cause
                raise TaskFailed(pending.pop(failed[0])) from cause
    finally:
        for future in pending:
            future.cancel()
