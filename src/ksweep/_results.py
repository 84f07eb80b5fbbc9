"""SweepResult: every number a sweep produced, per k and per restart."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

#: Columns with one value per k, in display order.
PER_K_COLUMNS = (
    "k",
    "inertia",
    "inertia_mean",
    "inertia_std",
    "best_restart",
    "n_iter",
    "fit_time",
)
#: Columns with one row per k and one column per restart.
PER_RESTART_COLUMNS = ("restart_inertia", "restart_n_iter", "restart_fit_time", "restart_seed")


class SweepResult(Mapping):
    """The results of a sweep: a read-only mapping of column name to array.

    Every array has one row per k (like ``GridSearchCV.cv_results_``):

    - ``k``: the number of clusters;
    - ``inertia``: the best (lowest) inertia over the restarts of that k;
    - ``inertia_mean``, ``inertia_std``: mean and standard deviation over restarts;
    - ``best_restart``: index of the restart that gave ``inertia``;
    - ``n_iter``: iterations of the best restart (-1 when not reported);
    - ``fit_time``: seconds of fitting summed over the restarts of that k;
    - ``restart_inertia``, ``restart_n_iter``, ``restart_fit_time``,
      ``restart_seed``: 2-D, shape ``(n_k, n_restarts)``, one column per restart.

    Examples
    --------
    >>> import numpy as np
    >>> result = SweepResult(
    ...     k=[2, 3],
    ...     restart_inertia=[[9.0, 7.0], [4.0, 5.0]],
    ...     restart_n_iter=[[3, 4], [5, 2]],
    ...     restart_fit_time=[[0.1, 0.1], [0.2, 0.2]],
    ...     restart_seed=[[11, 12], [13, 14]],
    ... )
    >>> result["inertia"].tolist(), result["best_restart"].tolist()
    ([7.0, 4.0], [1, 0])
    """

    def __init__(self, k, restart_inertia, restart_n_iter, restart_fit_time, restart_seed):
        inertia = np.asarray(restart_inertia, dtype=np.float64)
        n_iter = np.asarray(restart_n_iter, dtype=np.int64)
        fit_time = np.asarray(restart_fit_time, dtype=np.float64)
        best = np.argmin(inertia, axis=1)
        rows = np.arange(inertia.shape[0])
        self._columns = {
            "k": np.asarray(k, dtype=np.int64),
            "inertia": inertia[rows, best],
            "inertia_mean": inertia.mean(axis=1),
            "inertia_std": inertia.std(axis=1),
            "best_restart": best.astype(np.int64),
            "n_iter": n_iter[rows, best],
            "fit_time": fit_time.sum(axis=1),
            "restart_inertia": inertia,
            "restart_n_iter": n_iter,
            "restart_fit_time": fit_time,
            "restart_seed": np.asarray(restart_seed, dtype=np.int64),
        }
        for array in self._columns.values():
            array.flags.writeable = False

    def __getitem__(self, name: str) -> np.ndarray:
        return self._columns[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)

    def __repr__(self) -> str:
        return f"SweepResult(k={self['k'].tolist()}, n_restarts={self.n_restarts})"

    @property
    def n_restarts(self) -> int:
        """Number of restarts run per k."""
        return int(self._columns["restart_inertia"].shape[1])

    def to_frame(self):
        """The results as a pandas DataFrame indexed by k, one column per restart column.

        Requires pandas (``pip install ksweep[pandas]``).
        """
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - exercised without pandas only
            raise ImportError(
                "SweepResult.to_frame requires pandas: pip install 'ksweep[pandas]'"
            ) from exc
        data = {name: self[name] for name in PER_K_COLUMNS}
        for name in PER_RESTART_COLUMNS:
            for restart in range(self.n_restarts):
                data[f"{name}_{restart}"] = self[name][:, restart]
        return pd.DataFrame(data).set_index("k")

    def to_text(self, marked_k: int | None = None) -> str:
        """A plain-text table of the per-k columns; ``marked_k``'s row ends with ``<--``."""
        header = f"{'k':>4} {'inertia':>14} {'mean':>14} {'std':>12} {'n_iter':>6} {'fit_s':>8}"
        lines = [header]
        for i, k in enumerate(self["k"]):
            line = (
                f"{k:>4d} {self['inertia'][i]:>14.6g} {self['inertia_mean'][i]:>14.6g} "
                f"{self['inertia_std'][i]:>12.4g} {self['n_iter'][i]:>6d} "
                f"{self['fit_time'][i]:>8.3f}"
            )
            lines.append(line + ("  <--" if k == marked_k else ""))
        return "\n".join(lines)
