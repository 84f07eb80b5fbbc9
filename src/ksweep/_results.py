"""SweepResult: every number a sweep produced, per k and per restart."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

#: Restart-level columns every sweep has; any other restart column is a family extra.
RESTART_REQUIRED = ("inertia", "raw_inertia", "n_iter", "fit_time", "seed")
_INT_COLUMNS = ("n_iter", "seed")
#: Objectives that fall as k grows (a sum over samples); others (a negated score to
#: maximise) are not read for rises.
MINIMISED = ("inertia", "neg_log_likelihood")


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
    - ``inertia_mean``, ``inertia_std``: mean and standard deviation over restarts;
    - ``raw_inertia``: the estimator's own ``inertia_`` of the best restart
      (NaN where it has none);
    - ``best_restart``: index of the restart that minimizes ``objective``;
    - ``n_iter``: iterations of the best restart (-1 when not reported);
    - ``fit_time``: seconds of fitting summed over the restarts of that k;
    - ``non_monotonic``: True where the objective of the best restart is above
      the one at the previous (smaller) k: an optimizer that fell short;
    - family extras of the best restart (``bic``, ``neg_log_likelihood`` for
      mixtures) and added per-k columns (criteria);
    - ``restart_<name>``: 2-D, shape ``(n_k, n_restarts)``, one column per
      restart, for ``inertia``, ``raw_inertia``, ``n_iter``, ``fit_time``,
      ``seed`` and the extras.

    Parameters
    ----------
    k : array-like of int, shape (n_k,)
    restarts : mapping of str to array-like of shape (n_k, n_restarts)
        Must hold ``inertia``, ``raw_inertia``, ``n_iter``, ``fit_time`` and
        ``seed``; other entries are family extras.
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
            "inertia_mean": inertia.mean(axis=1),
            "inertia_std": inertia.std(axis=1),
            "raw_inertia": per_restart["raw_inertia"][rows, best],
            "best_restart": best.astype(np.int64),
            "n_iter": per_restart["n_iter"][rows, best],
            "fit_time": per_restart["fit_time"].sum(axis=1),
            "non_monotonic": rises,
        }
        for name, values in per_restart.items():
            if name not in RESTART_REQUIRED:
                out[name] = values[rows, best]
        for name, values in self._init["columns"].items():
            out[name] = np.asarray(values)
        for name, values in per_restart.items():
            out[f"restart_{name}"] = values
        for array in out.values():
            array.flags.writeable = False
        self._columns = out

    def with_columns(self, **columns) -> SweepResult:
        """A copy with further per-k columns (one value per k each)."""
        init = dict(self._init)
        init["columns"] = {**init["columns"], **columns}
        return SweepResult(init.pop("k"), init.pop("restarts"), **init)

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        for array in self._columns.values():  # unpickled arrays come back writeable
            array.flags.writeable = False

    def __getitem__(self, name: str) -> np.ndarray:
        return self._columns[name]

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
        """Number of restarts run per k."""
        return int(self._columns["restart_inertia"].shape[1])

    def per_k_columns(self) -> list[str]:
        """Names of the columns with one value per k (1-D)."""
        return [name for name, column in self._columns.items() if column.ndim == 1]

    def to_frame(self):
        """The results as a pandas DataFrame indexed by k; 2-D columns become one per restart.

        Requires pandas (``pip install ksweep[pandas]``).
        """
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - exercised without pandas only
            raise ImportError(
                "SweepResult.to_frame requires pandas: pip install 'ksweep[pandas]'"
            ) from exc
        data = {}
        for name, column in self._columns.items():
            if column.ndim == 1:
                data[name] = column
            else:  # one column per restart (or per gap reference)
                for j in range(column.shape[1]):
                    data[f"{name}_{j}"] = column[:, j]
        return pd.DataFrame(data).set_index("k")

    def to_text(self, marked_k: int | None = None) -> str:
        """A plain-text table of the main per-k columns; ``marked_k``'s row ends with ``<--``.

        A ``!`` after the inertia flags a k whose objective is above the previous k's.
        """
        header = f"{'k':>4} {'inertia':>14} {'mean':>14} {'std':>12} {'n_iter':>6} {'fit_s':>8}"
        lines = [header]
        for i, k in enumerate(self["k"]):
            flag = "!" if self["non_monotonic"][i] else " "
            line = (
                f"{k:>4d} {self['inertia'][i]:>14.6g}{flag}{self['inertia_mean'][i]:>14.6g} "
                f"{self['inertia_std'][i]:>12.4g} {self['n_iter'][i]:>6d} "
                f"{self['fit_time'][i]:>8.3f}"
            )
            lines.append(line + ("  <--" if k == marked_k else ""))
        return "\n".join(lines)
