"""More restarts for the k that look stuck in a poor local optimum (``n_init_max``).

After a sweep, :func:`ksweep.convergence.suspicious_k` reads the best inertia
per k and the restarts' spread. Each k it names is swept again with
``n_init_max`` restarts, through the same runner kind as the sweep (the fused
or independent engine in memory, the workers for a dask array); restart r of k
keeps its seed ``(k, r)``, so the first ``n_init`` restarts are the sweep's own
(in memory they are reused, not refitted) and the others are new. A k whose new
best is lower takes it: its best model, labels and every per-k column
(``inertia``, ``best_restart``, ``n_iter``, criteria). The ``restart_*`` columns
keep the sweep's first ``n_init`` restarts; ``n_restarts_run`` counts each k's
restarts, ``restarts_reason`` says why a k had more. A k still suspicious
afterwards is named in an :class:`~ksweep.exceptions.UnderConvergedWarning`.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import clone

from ksweep._pipeline import Fitted, Plan, Runner, drive, user_stacklevel
from ksweep.convergence import suspicious_k
from ksweep.exceptions import UnderConvergedWarning


def restart_budget(n_init_max: Any, n_restarts: int) -> int:
    """Restarts a suspicious k gets: ``n_init_max``, "auto" meaning ``2 × n_init``
    (at least 4), None meaning no repair (the sweep's own count)."""
    if n_init_max is None:
        return n_restarts
    if n_init_max == "auto":
        return max(2 * n_restarts, 4)
    return max(int(n_init_max), n_restarts)


def _per_k(results, name: str) -> bool:
    value = results[name]
    n_k = results["k"].shape[0]
    return not name.startswith("restart_") and value.ndim >= 1 and value.shape[0] == n_k


def repair(front: Any, fitted: Fitted, plan: Plan, runner_for: Callable[[Any], Runner]) -> Fitted:
    """Sweep the suspicious k of ``fitted`` again with more restarts; keep what is better.

    Parameters
    ----------
    front : KSweep
        Its ``n_init_max`` sets the budget.
    fitted : Fitted
        The sweep as run.
    plan : Plan
        The sweep's plan (its entropy and restarts).
    runner_for : callable
        ``runner_for(sub_sweep) -> Runner`` for a clone of ``front`` restricted to the
        suspicious k (its ``k_range``, ``n_init`` and ``random_state`` set).

    Returns
    -------
    Fitted
        With ``n_restarts_run`` and ``restarts_reason`` columns.
    """
    results = fitted.results
    k_values = results["k"]
    budget = restart_budget(front.n_init_max, plan.n_restarts)
    n_run = np.full(k_values.shape, plan.n_restarts, dtype=np.int64)
    reasons = np.full(k_values.shape, "", dtype=object)
    judged = (  # a mixture ranks restarts by BIC: its best need not have the least inertia
        results.objective == "inertia"
        and k_values.size >= 2
        and np.all(np.isfinite(results["restart_inertia"]))
    )
    check = (
        suspicious_k(k_values, results["inertia"], results["restart_inertia"]) if judged else None
    )
    named = [] if check is None or budget <= plan.n_restarts else check.named
    columns: dict[str, np.ndarray] = {}
    models, labels = dict(fitted.models), dict(fitted.labels)
    if named:
        sub = clone(front).set_params(
            k_range=named,
            n_init=budget,
            n_init_max=None,
            random_state=plan.entropy,
            selection="kneedle",
            scoring=tuple(name for name in front._scoring() if name != "gap") or None,
            stability=None,
            checkpoint=None,
            progress=False,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            again = drive(Plan(np.asarray(named), budget, plan.entropy), runner_for(sub))
        new = again.results
        columns = {
            name: np.array(results[name], copy=True)
            for name in results
            if _per_k(results, name) and name in new and name not in ("k",)
        }
        for j, k in enumerate(named):
            i = int(np.flatnonzero(k_values == k)[0])
            n_run[i] = budget
            reasons[i] = check.reasons[k]
            if new[results.objective][j] < results[results.objective][i]:
                if "gap" in results:  # same references: the gap moves with log W of X
                    gap = columns.setdefault("gap", np.array(results["gap"], copy=True))
                    gap[i] += np.log(results["inertia"][i]) - np.log(new["inertia"][j])
                for name, column in columns.items():
                    if name != "gap":
                        column[i] = new[name][j]
                models[k], labels[k] = again.models[k], again.labels[k]
        inertia = columns["inertia"]
        columns["non_monotonic"] = np.r_[False, inertia[1:] > inertia[:-1]]
    merged = results.with_columns(**columns, n_restarts_run=n_run, restarts_reason=reasons)
    if named:
        after = suspicious_k(k_values, merged["inertia"], None)
        still = [k for k in after.named if k in named]
        if still:
            warnings.warn(
                f"k={still} still look stuck in a poor local optimum after {budget} restarts "
                f"each ({'; '.join(after.reasons[k] for k in still)}). Raise n_init_max or "
                "max_iter; results_['restarts_reason'] says why each k had more restarts.",
                UnderConvergedWarning,
                stacklevel=user_stacklevel(),
            )
    return dataclasses.replace(fitted, results=merged, models=models, labels=labels)
