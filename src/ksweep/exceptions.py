"""Exceptions and warnings raised by ksweep."""

from __future__ import annotations

from typing import Any

try:  # scikit-learn's is in a private module: fall back to its bases where it moved
    from sklearn.utils._param_validation import InvalidParameterError as _SklearnInvalidParameter
except ImportError:  # pragma: no cover - a scikit-learn that moved or renamed it
    _SklearnInvalidParameter = None

_INVALID_PARAMETER_BASES: tuple[type, ...] = (
    (_SklearnInvalidParameter,)
    if isinstance(_SklearnInvalidParameter, type)
    and issubclass(_SklearnInvalidParameter, ValueError)
    and issubclass(_SklearnInvalidParameter, TypeError)
    else (ValueError, TypeError)
)


class InvalidParameterError(*_INVALID_PARAMETER_BASES):
    """A parameter of a ksweep estimator or function has an invalid type or value.

    A subclass of scikit-learn's error of the same name (so code that catches
    scikit-learn's catches ksweep's), and so of both ``ValueError`` and
    ``TypeError``: either ``except`` clause catches it.

    Examples
    --------
    >>> import numpy as np
    >>> from ksweep import InvalidParameterError, KSweep
    >>> X = np.random.default_rng(0).normal(size=(30, 2))
    >>> try:
    ...     KSweep(n_init=0).fit(X)
    ... except InvalidParameterError as err:
    ...     print(err)
    The 'n_init' parameter of KSweep must be an int in the range [1, inf). Got 0 instead.
    >>> issubclass(InvalidParameterError, ValueError), issubclass(InvalidParameterError, TypeError)
    (True, True)
    >>> from sklearn.utils._param_validation import InvalidParameterError as SklearnError
    >>> issubclass(InvalidParameterError, SklearnError)
    True
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
    k : int or None
        The number of clusters of the failed task; None when a worker process died
        and took the whole process pool down, so that no one task can be blamed.
    restart : int or None
        The restart index of the failed task (None as for ``k``).
    completed : list of ((k, restart), TaskRecord)
        The records of every task that finished before the failure, so that
        no finished work is lost.
    in_flight : list of (k, restart)
        The task that failed; when a worker died and broke the pool, every task
        that was running or queued then (one of them ran on the dead worker). A
        fused-engine group is listed by its first k and restart.
    """

    def __init__(
        self,
        message: str,
        *,
        k: int | None,
        restart: int | None,
        completed: list[Any],
        in_flight: list[tuple[int, int]] | None = None,
    ):
        super().__init__(message)
        self.k = k
        self.restart = restart
        self.completed = completed
        self.in_flight = [(k, restart)] if in_flight is None else in_flight


class TaskAbortedError(RuntimeError):
    """What a task raised, when that cannot reach the driver as it is.

    A ``BaseException`` that is not an ``Exception`` (``SystemExit``, a Rust
    ``PanicException`` from a compiled estimator; ``KeyboardInterrupt`` excepted)
    would stop a dask worker or escape a sweep's error handling, and an exception
    that does not pickle cannot leave a worker process. The task raises this
    instead, on every executor alike; its message starts with the original type's
    name, and in the driver's process ``__cause__`` is the original exception.
    :class:`SweepTaskError` is raised from it.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.cluster import KMeans
    >>> from ksweep import KSweep, SweepTaskError
    >>> class Exits(KMeans):
    ...     def fit(self, X, y=None, sample_weight=None):
    ...         raise SystemExit(3)
    >>> X = np.random.default_rng(0).normal(size=(30, 2))
    >>> try:
    ...     KSweep(Exits(), k_range=[2, 3, 4], n_init=1).fit(X)
    ... except SweepTaskError as err:
    ...     print(err.k, type(err.__cause__).__name__, "SystemExit: 3" in str(err))
    4 TaskAbortedError True
    """


class NoElbowWarning(UserWarning):
    """The selection method found no k; a documented fallback was used instead.

    Examples
    --------
    A straight line has no elbow, so :func:`ksweep.elbow.kneedle` chooses no k. A
    sweep whose selection method chooses none warns and uses the largest k:

    >>> import warnings
    >>> import numpy as np
    >>> from ksweep import KSweep, NoElbowWarning
    >>> from ksweep.elbow import kneedle
    >>> print(kneedle([1, 2, 3, 4, 5], [50, 40, 30, 20, 10]).k)
    None
    >>> X = np.random.default_rng(0).normal(size=(30, 2))
    >>> sweep = KSweep(k_range=[2, 3, 4], n_init=1, random_state=0, selection=lambda k, r: None)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = sweep.fit(X)
    >>> any(issubclass(w.category, NoElbowWarning) for w in caught), sweep.best_k_
    (True, 4)
    """


class NoStructureWarning(UserWarning):
    """The data show no cluster structure, yet the sweep reports a k > 1.

    The default selection (``selection="auto"``) tests for structure first
    (:func:`ksweep.structure.no_structure`). When the test finds none and 1 is
    in ``k_range``, ``best_k_`` is 1 and nothing is warned; when 1 is not in
    ``k_range`` the sweep keeps the elbow's k and issues this warning.
    """


class UnderConvergedWarning(UserWarning):
    """Some k still look stuck in a poor local optimum after their extra restarts.

    See ``KSweep(n_init_max=...)`` and :func:`ksweep.convergence.suspicious_k`;
    ``results_["restarts_reason"]`` says why each k was flagged.
    """


class SweepInterrupted(KeyboardInterrupt):
    """A sweep was interrupted (Ctrl-C); pending tasks were cancelled.

    Still a ``KeyboardInterrupt``, so it stops a script as Ctrl-C should.

    Attributes
    ----------
    completed : list of ((k, restart), TaskRecord)
        Every task that finished before the interrupt.

    Examples
    --------
    >>> from ksweep.exceptions import SweepInterrupted
    >>> err = SweepInterrupted("sweep interrupted", completed=[])
    >>> isinstance(err, KeyboardInterrupt), err.completed
    (True, [])
    """

    def __init__(self, message: str, *, completed: list[Any]):
        super().__init__(message)
        self.completed = completed


class NaNScoreWarning(UserWarning):
    """Some k scored NaN (or infinity): the selection left those k out and chose among the rest.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from ksweep import KSweep
    >>> from ksweep.exceptions import NaNScoreWarning
    >>> def score(model, X):  # a score that fails at k=5
    ...     return float("nan") if model.n_clusters == 5 else float(model.inertia_)
    >>> X = np.random.default_rng(0).normal(size=(60, 2))
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = KSweep(k_range=range(2, 8), n_init=1, random_state=0, score_func=score).fit(X)
    >>> [str(w.message).split(";")[0] for w in caught if w.category is NaNScoreWarning]
    ["selection='auto': the inertia is NaN or infinite at k=5"]
    """


class NonMonotonicWarning(UserWarning):
    """The best-of-n_init objective rose from one k to a larger one (more restarts help).

    Examples
    --------
    A ``score_func`` that grows with k makes the best objective rise, which is
    flagged in ``results_["non_monotonic"]`` and warned about:

    >>> import warnings
    >>> import numpy as np
    >>> from ksweep import KSweep
    >>> from ksweep.exceptions import NonMonotonicWarning
    >>> X = np.random.default_rng(0).normal(size=(30, 2))
    >>> sweep = KSweep(
    ...     k_range=[2, 3, 4], n_init=1, random_state=0, score_func=lambda est, X: est.n_clusters
    ... )
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = sweep.fit(X)
    >>> any(issubclass(w.category, NonMonotonicWarning) for w in caught)
    True
    >>> sweep.results_["non_monotonic"].tolist()
    [False, True, True]
    """


class CheckpointMismatchError(ValueError):
    """A checkpoint directory holds tasks of a sweep with other data or parameters.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn.datasets import make_blobs
    >>> from ksweep import KSweep
    >>> from ksweep.exceptions import CheckpointMismatchError
    >>> X, _ = make_blobs(n_samples=60, centers=3, cluster_std=0.5, random_state=0)
    >>> with tempfile.TemporaryDirectory() as path:
    ...     _ = KSweep(k_range=range(2, 7), n_init=1, random_state=0, checkpoint=path).fit(X)
    ...     try:
    ...         KSweep(k_range=range(2, 7), n_init=1, random_state=0, checkpoint=path).fit(X + 1)
    ...     except CheckpointMismatchError as err:
    ...         print(type(err).__name__, "different X" in str(err))
    CheckpointMismatchError True
    """


class CheckpointWriteError(OSError):
    """Writing a finished task to the checkpoint failed (directory removed, disk full, ...).

    The ``OSError`` that caused it is chained as ``__cause__``.

    Attributes
    ----------
    completed : list of ((k, restart), TaskRecord)
        Every task that finished, the one whose write failed included, so that no
        finished work is lost.
    """

    def __init__(self, message: str, *, completed: list[Any]):
        super().__init__(message)
        self.completed = completed


class CorruptCheckpointWarning(UserWarning):
    """A checkpoint file was torn or failed its checksum; its task is recomputed.

    Examples
    --------
    >>> import tempfile
    >>> import warnings
    >>> from pathlib import Path
    >>> from sklearn.datasets import make_blobs
    >>> from ksweep import KSweep
    >>> from ksweep.exceptions import CorruptCheckpointWarning
    >>> X, _ = make_blobs(n_samples=60, centers=3, cluster_std=0.5, random_state=0)
    >>> with tempfile.TemporaryDirectory() as path:
    ...     sweep = KSweep(k_range=range(2, 7), n_init=1, random_state=0, checkpoint=path)
    ...     _ = sweep.fit(X)
    ...     _ = (Path(path) / "task-k3-r0.json").write_text("{torn")
    ...     with warnings.catch_warnings(record=True) as caught:
    ...         warnings.simplefilter("always")
    ...         _ = sweep.fit(X)  # recomputes the task of k=3
    >>> [w.category.__name__ for w in caught if w.category is CorruptCheckpointWarning]
    ['CorruptCheckpointWarning']
    """


class LongSweepWarning(UserWarning):
    """The first fits of a sweep project a long run (more than a minute); the message
    gives the projection and what makes the sweep cheaper.

    Issued once per fit, after the first task finished, from its measured time: tasks
    run largest k first, so the projection is an upper estimate. Silence it with
    ``warnings.filterwarnings("ignore", category=LongSweepWarning)``.
    """
