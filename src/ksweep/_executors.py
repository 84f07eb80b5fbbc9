"""Executors: a serial one, a registry of names, and the loop that drives tasks.

Every backend speaks ``concurrent.futures.Executor`` (``submit`` returning a
``Future``); strings resolve through a registry of factories.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from typing import Any

from ksweep.exceptions import InvalidParameterError

ExecutorFactory = Callable[[int | None], Executor]


class SerialExecutor(Executor):
    """Run each task in the calling process at submit time.

    A ``concurrent.futures.Executor``: ``submit`` returns a finished
    ``Future`` holding the result or the exception. ``KeyboardInterrupt``
    is not captured: it propagates at once.

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
        except Exception as exc:
            future.set_exception(exc)
        else:
            future.set_result(result)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._shutdown = True


_REGISTRY: dict[str, ExecutorFactory] = {"serial": lambda n_jobs: SerialExecutor()}


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
    """The executor names ``KSweep(executor=...)`` accepts, sorted."""
    return sorted(_REGISTRY)


def resolve_executor(executor: str | Executor, n_jobs: int | None) -> tuple[Executor, bool]:
    """Return ``(executor, owned)``: ``owned`` is True when ksweep made it and must shut it down."""
    if isinstance(executor, Executor):
        return executor, False
    return _REGISTRY[executor](n_jobs), True


def max_in_flight(executor: Executor) -> int:
    """How many tasks to keep submitted at once: one for serial, two per worker otherwise.

    A bounded window means a failure stops the sweep early and a cancel has
    little to cancel.
    """
    if isinstance(executor, SerialExecutor):
        return 1
    workers = getattr(executor, "_max_workers", None) or os.cpu_count() or 1
    return 2 * int(workers)


class TaskFailed(Exception):
    """A task raised; ``key`` names it and ``__cause__`` is the original exception."""

    def __init__(self, key: Any):
        super().__init__(key)
        self.key = key


def run_tasks(
    executor: Executor, tasks: Iterable[tuple[Any, Callable, tuple]], window: int
) -> Iterator[tuple[Any, Any]]:
    """Submit ``(key, fn, args)`` tasks with at most ``window`` in flight; yield ``(key, result)``.

    Results come in completion order. When a task raises, pending tasks are
    cancelled and ``TaskFailed(key)`` is raised from the task's exception.
    """
    todo = iter(tasks)
    pending: dict[Future, Any] = {}
    try:
        while True:
            for key, fn, args in todo:
                pending[executor.submit(fn, *args)] = key
                if len(pending) >= window:
                    break
            if not pending:
                return
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                key = pending.pop(future)
                exc = future.exception()
                if exc is not None:
                    raise TaskFailed(key) from exc
                yield key, future.result()
    finally:
        for future in pending:
            future.cancel()
