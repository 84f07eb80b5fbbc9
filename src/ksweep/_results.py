"""SweepResult: every number a sweep produced, per k and per restart."""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping

import numpy as np

#: Restart-level columns every sweep has; any other restart column is a family extra.
RESTART_REQUIRED = ("inertia", "raw_inertia", "n_iter", "fit_time", "seed")
_INT_COLUMNS = ("n_iter", "seed")
#: Objectives that fall as k grows (a sum over samples); others (a negated score to
#: maximise) are not read for rises.
MINIMISED = ("inertia", "neg_log_likelihood")
#: Engines that time one shared pass for many runs: their per-run seconds are a share of it
#: (by k x passes), not a measurement, and their time column is named ``fit_time_share``.
SHARED_TIME_ENGINES = ("fused", "dask", "fused-stream", "spark-fused")
#: The per-k columns of the narrow table (``to_frame()``, ``to_text()``), in order; the
#: time column's name depends on the engine (see :attr:`SweepResult.time_column`).
_NARROW_FIRST = ("k", "inertia", "inertia_mean", "inertia_std", "n_iter")
#: Per-k columns only the wide table shows.
_WIDE_ONLY = (
    "raw_inertia",
    "best_restart",
    "non_monotonic",
    "silhouette_n_samples",
    "n_restarts_run",
    "restarts_reason",
)


def restart_rank(value: float, restart: int) -> tuple[float, int]:
    """How restarts of one k are ranked, the lower the better: the objective, NaN last,
    the first restart on ties. The one rule :class:`SweepResult` and every runner that
    keeps the best restart's model while a sweep runs follow.

    Examples
    --------
    >>> sorted([restart_rank(float("nan"), 0), restart_rank(3.0, 2), restart_rank(3.0, 1)])
    [(3.0, 1), (3.0, 2), (inf, 0)]
    """
    return (np.inf if np.isnan(value) else float(value), int(restart))


def best_restarts(objective: np.ndarray) -> np.ndarray:
    """Index of the best restart of each row of an ``(n_k, n_restarts)`` objective."""
    return np.array(
        [min(range(row.size), key=lambda r, row=row: restart_rank(row[r], r)) for row in objective],
        dtype=np.int64,
    )


class SweepResult(Mapping):
    """The results of a sweep: a read-only mapping of column name to array, one row per k.

    Like ``GridSearchCV.cv_results_``, every array has one row per k:

    - ``k``: the number of clusters;
    - ``inertia``: the inertia of the best restart (for k-means families the
      minimum over restarts), a within-cluster *sum* on the family's scale;
    - ``inertia_mean``, ``inertia_std``: mean and standard deviation over the
      restarts that ran;
    - ``raw_inertia``: the estimator's own ``inertia_`` of the best restart
      (NaN where it has none);
    - ``best_restart``: index of the restart that minimizes ``objective``;
    - ``n_iter``: iterations of the best restart, -1 where the estimator reports
      none (``kmedoids.KMedoids`` has no ``n_iter_``); ``to_frame()`` shows
      those as ``<NA>`` and ``to_text()`` as ``NA``. For a dask array it counts
      the Lloyd passes over the whole of X after the runs were seeded (and
      refined) on a sample, so it is often small;
    - ``fit_time``: seconds of fitting summed over the restarts of that k that ran,
      measured per fit. Engines that fit many runs in one shared pass over X
      (``engine`` "fused", "dask", "fused-stream", "spark-fused") cannot time a
      run alone: they split each pass's seconds among its runs by k x passes,
      and the column is named ``fit_time_share`` instead (see
      :attr:`time_column`);
    - ``non_monotonic``: True where the objective of the best restart is above
      the one at the previous (smaller) k: an optimizer that fell short;
    - family extras of the best restart (``bic``, ``neg_log_likelihood`` for
      mixtures) and added per-k columns (criteria);
    - ``restart_<name>``: 2-D, shape ``(n_k, n_restarts)``, one column per
      restart, for ``inertia``, ``raw_inertia``, ``n_iter``, ``fit_time`` (or
      ``fit_time_share``), ``seed`` and the extras. When some k had more
      restarts than others (``KSweep(n_init_max=...)`` gives a suspicious k
      more; ``n_restarts_run`` counts them), ``n_restarts`` is the most any k
      had, and a restart that did not run is NaN (-1 in ``restart_n_iter`` and
      ``restart_seed``).

    Parameters
    ----------
    k : array-like of int, shape (n_k,)
    restarts : mapping of str to array-like of shape (n_k, n_restarts)
        Must hold ``inertia``, ``raw_inertia``, ``n_iter``, ``fit_time`` and
        ``seed``; other entries are family extras. A restart that did not run
        has a NaN ``inertia`` (and -1 as ``n_iter`` and ``seed``).
    objective : str, default="inertia"
        The restart column the best restart minimizes.
    inertia_definition : str, default=""
        What ``inertia`` means for this estimator, in words.
    engine : str, default="independent"
        The engine that fitted the sweep: "independent", "fused", "dask" (a dask
        array) or "incremental" (``partial_fit``).
    columns : mapping of str to array-like of shape (n_k,), optional
        Further per-k columns.

    Examples
    --------
    >>> result = SweepResult(
    ...     k=[2, 3],
    ...     restarts={
    ...         "inertia": [[9.0, 7.0], [4.0, 5.0]],
    ...         "raw_inertia": [[9.0, 7.0], [4.0, 5.0]],
    ...         "n_iter": [[3, 4], [5, 2]],
    ...         "fit_time": [[0.1, 0.1], [0.2, 0.2]],
    ...         "seed": [[11, 12], [13, 14]],
    ...     },
    ... )
    >>> result["inertia"].tolist(), result["best_restart"].tolist()
    ([7.0, 4.0], [1, 0])
    """

    def __init__(
        self,
        k,
        restarts: Mapping,
        *,
        objective: str = "inertia",
        inertia_definition: str = "",
        engine: str = "independent",
        columns: Mapping | None = None,
    ):
        missing = [name for name in RESTART_REQUIRED if name not in restarts]
        if missing:
            raise ValueError(f"SweepResult needs restart columns {missing}.")
        self._init = {
            "k": k,
            "restarts": restarts,
            "objective": objective,
            "inertia_definition": inertia_definition,
            "engine": engine,
            "columns": dict(columns or {}),
        }
        self.objective = objective
        self.inertia_definition = inertia_definition
        self.engine = engine
        per_restart = {
            name: np.asarray(v, dtype=np.int64 if name in _INT_COLUMNS else np.float64)
            for name, v in restarts.items()
        }
        ranked = per_restart[objective]
        best = best_restarts(ranked)
        rows = np.arange(ranked.shape[0])
        inertia = per_restart["inertia"]
        best_objective = ranked[rows, best]
        rises = np.zeros(rows.shape, dtype=bool)
        # a rise is read on a within-cluster sum (the objective of a maximised score,
        # such as the medoid silhouette, is expected to rise past the best k)
        along = best_objective if objective in MINIMISED else inertia[rows, best]
        rises[1:] = along[1:] > along[:-1]
        out = {
            "k": np.asarray(k, dtype=np.int64),
            "inertia": inertia[rows, best],
            "inertia_mean": _over_restarts(np.nanmean, inertia),
            "inertia_std": _over_restarts(np.nanstd, inertia),
            "raw_inertia": per_restart["raw_inertia"][rows, best],
            "best_restart": best.astype(np.int64),
            "n_iter": per_restart["n_iter"][rows, best],
            self.time_column: np.nansum(per_restart["fit_time"], axis=1),
            "non_monotonic": rises,
        }
        for name, values in per_restart.items():
            if name not in RESTART_REQUIRED:
                out[name] = values[rows, best]
        for name, values in self._init["columns"].items():
            out[name] = np.asarray(values)
        for name, values in per_restart.items():
            out[f"restart_{self.time_column if name == 'fit_time' else name}"] = values
        for array in out.values():
            array.flags.writeable = False
        self._columns = out

    def with_columns(self, **columns) -> SweepResult:
        """A copy with further per-k columns (one value per k each)."""
        init = dict(self._init)
        init["columns"] = {**init["columns"], **columns}
        return SweepResult(init.pop("k"), init.pop("restarts"), **init)

    def with_restarts(self, restarts: Mapping, **columns) -> SweepResult:
        """A copy made from other per-restart arrays (the names of :attr:`restarts`, any
        number of restarts), with the added per-k columns updated by ``columns``."""
        init = dict(self._init)
        init["columns"] = {**init["columns"], **columns}
        init.pop("restarts")
        return SweepResult(init.pop("k"), restarts, **init)

    @property
    def restarts(self) -> dict[str, np.ndarray]:
        """The per-restart arrays this result was made from, by name (``fit_time``
        whatever the time column is called), each of shape ``(n_k, n_restarts)``."""
        return {name: np.array(values) for name, values in self._init["restarts"].items()}

    @property
    def added_columns(self) -> dict[str, np.ndarray]:
        """The per-k columns added to the restarts' (criteria, ...), by name."""
        return {name: np.array(values) for name, values in self._init["columns"].items()}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        for array in self._columns.values():  # unpickled arrays come back writeable
            array.flags.writeable = False

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self._columns[name]
        except KeyError:
            if name in ("fit_time", "restart_fit_time") and self.time_column != "fit_time":
                raise KeyError(
                    f"{name!r}: the {self.engine!r} engine fits many runs in one pass over X "
                    f"and cannot time one run alone; its seconds split by k x passes are in "
                    f"{name.replace('fit_time', 'fit_time_share')!r}."
                ) from None
            raise

    @property
    def time_column(self) -> str:
        """``"fit_time_share"`` for engines that split shared passes, else ``"fit_time"``."""
        return "fit_time_share" if self.engine in SHARED_TIME_ENGINES else "fit_time"

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)

    def __repr__(self) -> str:
        return (
            f"SweepResult(k={self['k'].tolist()}, n_restarts={self.n_restarts}, "
            f"engine={self.engine!r})"
        )

    @property
    def n_restarts(self) -> int:
        """Number of restart columns: the restarts per k, or the most any k had."""
        return int(self._columns["restart_inertia"].shape[1])

    def per_k_columns(self) -> list[str]:
        """Names of the columns with one value per k (1-D)."""
        return [name for name, column in self._columns.items() if column.ndim == 1]

    def table_columns(self, wide: bool = False) -> list[str]:
        """The columns of :meth:`to_frame` and :meth:`to_text`, in order.

        Narrow (the default): ``k``, ``inertia``, ``inertia_mean``, ``inertia_std``,
        ``n_iter``, the time column, then family extras and criteria (one value per
        k). ``wide=True`` adds ``raw_inertia``, ``best_restart``, ``non_monotonic``
        and every 2-D column, one column per restart (or gap reference).
        """
        first = [*_NARROW_FIRST, self.time_column]
        rest = [name for name in self._columns if name not in first]
        if wide:
            return first + rest
        return first + [
            name for name in rest if name not in _WIDE_ONLY and self._columns[name].ndim == 1
        ]

    def to_frame(self, wide: bool = False):
        """The results as a pandas DataFrame, one row per k, ``k`` a column.

        Parameters
        ----------
        wide : bool, default=False
            False: the columns of :meth:`to_text` (k, best inertia, its mean and
            std over restarts, ``n_iter``, the time column, extras and criteria).
            True: every column; a 2-D column ``name`` becomes ``name_0``,
            ``name_1``, ... (one per restart, or per gap reference).

        ``n_iter`` is a nullable integer column, ``<NA>`` where the estimator
        reports no iterations (and ``restart_n_iter_*``, ``restart_seed_*`` where
        a restart did not run). Requires pandas (``pip install ksweep[pandas]``).

        Examples
        --------
        >>> result = SweepResult(
        ...     k=[2, 3],
        ...     restarts={
        ...         "inertia": [[9.0, 7.0], [4.0, 5.0]],
        ...         "raw_inertia": [[9.0, 7.0], [4.0, 5.0]],
        ...         "n_iter": [[3, 4], [5, 2]],
        ...         "fit_time": [[0.1, 0.1], [0.2, 0.2]],
        ...         "seed": [[11, 12], [13, 14]],
        ...     },
        ... )
        >>> list(result.to_frame().columns)
        ['k', 'inertia', 'inertia_mean', 'inertia_std', 'n_iter', 'fit_time']
        >>> result.to_frame(wide=True)["restart_inertia_1"].tolist()
        [7.0, 5.0]
        """
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - exercised without pandas only
            raise ImportError(
                "SweepResult.to_frame requires pandas: pip install 'ksweep[pandas]'"
            ) from exc
        data = {}
        for name in self.table_columns(wide):
            column = self._columns[name]
            if column.ndim == 1:
                data[name] = column
            else:  # one column per restart (or per gap reference)
                for j in range(column.shape[1]):
                    data[f"{name}_{j}"] = column[:, j]
        frame = pd.DataFrame(data)
        for name in ("n_iter", "restart_n_iter", "restart_seed"):
            for column in [c for c in frame.columns if c == name or c.startswith(name + "_")]:
                frame[column] = frame[column].astype("Int64").mask(frame[column] < 0)
        return frame

    def to_text(self, marked_k: int | None = None) -> str:
        """A plain-text table of :meth:`to_frame`'s columns (same names, same order).

        ``marked_k``'s row ends with ``<--``; a ``!`` after the inertia flags a k
        whose objective is above the previous k's (``non_monotonic``); ``NA`` is an
        ``n_iter`` the estimator does not report.

        Examples
        --------
        >>> result = SweepResult(
        ...     k=[2, 3],
        ...     restarts={
        ...         "inertia": [[9.0, 7.0], [4.0, 5.0]],
        ...         "raw_inertia": [[9.0, 7.0], [4.0, 5.0]],
        ...         "n_iter": [[3, 4], [5, 2]],
        ...         "fit_time": [[0.1, 0.1], [0.2, 0.2]],
        ...         "seed": [[11, 12], [13, 14]],
        ...     },
        ... )
        >>> print(result.to_text(marked_k=3))
           k  inertia   inertia_mean  inertia_std  n_iter  fit_time
           2        7              8            1       4     0.200
           3        4            4.5          0.5       5     0.400  <--
        """
        names = self.table_columns()
        cells = {name: [_cell(name, v) for v in self._columns[name]] for name in names}
        flags = ["!" if flag else " " for flag in self._columns["non_monotonic"]]
        widths = {name: max(len(name), *(len(c) for c in cells[name])) for name in names}
        widths["k"] = max(widths["k"], 4)  # rows start indented, as they always have
        after = {name: " " if name == "inertia" else "" for name in names}  # room for "!"
        lines = ["  ".join(f"{name:>{widths[name]}}{after[name]}" for name in names).rstrip()]
        for i, k in enumerate(self._columns["k"]):
            line = "  ".join(
                f"{cells[name][i]:>{widths[name]}}" + (flags[i] if after[name] else "")
                for name in names
            )
            lines.append(line + ("  <--" if k == marked_k else ""))
        return "\n".join(lines)


def _over_restarts(func, values: np.ndarray) -> np.ndarray:
    """``func(values, axis=1)`` of a NaN-ignoring ``func``; NaN (no warning) for a k with
    no value (a k whose every restart scored NaN)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return func(values, axis=1)


def _cell(name: str, value) -> str:
    """One value of :meth:`SweepResult.to_text`."""
    if name == "n_iter":
        return "NA" if value < 0 else str(int(value))
    if isinstance(value, np.bool_ | bool):
        return str(bool(value))
    if isinstance(value, np.integer):
        return str(int(value))
    if "time" in name:
        return f"{value:.3f}"
    if name == "inertia_std" or name not in ("k", "inertia", "inertia_mean"):
        return f"{value:.4g}"
    return f"{value:.6g}"
