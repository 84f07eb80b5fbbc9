"""Exceptions and warnings raised by ksweep."""

from __future__ import annotations

from typing import Any


class InvalidParameterError(ValueError, TypeError):
    """A parameter of a ksweep estimator or function has an invalid type or value.

    Subclasses both ``ValueError`` and ``TypeError``, like scikit-learn's error of
    the same name, so either ``except`` clause catches it.
    """


class SweepTaskError(RuntimeError):
    """One ``(k, restart)`` fit of a sweep failed.

    The original exception is chained as ``__cause__`` (its traceback is kept).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.cluster import KMeans
    >>> from ksweep import KSweep, SweepTaskError
    >>> X = np.random.default_rng(0).normal(size=(30, 2))
    >>> try:
    ...     KSweep(KMeans(init="nonsense"), k_range=[2, 3, 4], n_init=1).fit(X)
    ... except SweepTaskError as err:
    ...     print(err.k, err.restart, type(err.__cause__).__name__)
    4 0 InvalidParameterError

    Attributes
    ----------
    k : int
        The number of clusters of the failed task.
    restart : int
        The restart index of the failed task.
    completed : list of TaskRecord
        The records of every task that finished before the failure, so that
        no finished work is lost.
    """

    def __init__(self, message: str, *, k: int, restart: int, completed: list[Any]):
        super().__init__(message)
        self.k = k
        self.restart = restart
        self.completed = completed


class NoElbowWarning(UserWarning):
    """The selection method found no k; a documented fallback was used instead."""


class SweepInterrupted(KeyboardInterrupt):
    """A sweep was interrupted (Ctrl-C); pending tasks were cancelled.

    Still a ``KeyboardInterrupt``, so it stops a script as Ctrl-C should.

    Attributes
    ----------
    completed : list of ((k, restart), TaskRecord)
        Every task that finished before the interrupt.
    """

    def __init__(self, message: str, *, completed: list[Any]):
        super().__init__(message)
        self.completed = completed


class NonMonotonicWarning(UserWarning):
    """The best-of-n_init objective rose from one k to a larger one (more restarts help)."""


class CheckpointMismatchError(ValueError):
    """A checkpoint directory holds tasks of a sweep with other data or parameters."""


class CorruptCheckpointWarning(UserWarning):
    """A checkpoint file was torn or failed its checksum; its task is recomputed."""
