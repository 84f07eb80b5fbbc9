"""More restarts for the k that look stuck in a poor local optimum (``n_init_max``).

After a sweep, :func:`ksweep.convergence.suspicious_k` reads the best inertia
per k (with its defaults: a rise over the previous k, a break of convexity; not
the restarts' spread). Each k it names is swept
again with ``n_init_max`` restarts through the same kind of runner as the sweep
(the fused or independent engine in memory, the workers for a dask array, the
Spark engines), with the sweep's plan (entropy, seeds, nesting), so restart r of
k keeps its seed and the first ``n_init`` restarts are the sweep's own (reused,
not refitted, in memory and on Spark; refitted in the shared passes of a dask
array). A k whose new best is lower takes
the repair's fit: every restart, its best model, labels and per-k columns
(``inertia``, ``best_restart``, ``n_iter``, criteria; the gap statistic moves
with log W). Otherwise the repair's further restarts join the sweep's. Either
way the ``restart_*`` columns hold every restart the k had (NaN, or -1, where
another k had fewer), ``n_restarts_run`` counts them and ``restarts_reason``
says why a k had more. A k still suspicious afterwards is named in an
:class:`~ksweep.exceptions.UnderConvergedWarning`.
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


def _widened(values: np.ndarray, width: int) -> np.ndarray:
    """``values`` (n_k, n) padded on the right to ``width`` restarts that did not run:
    -1 in an int column (``n_iter``, ``seed``), NaN otherwise."""
    values = np.asarray(values)
    if values.dtype.kind in "iu":
        out = np.full((values.shape[0], width), -1, dtype=np.int64)
    else:
        out = np.full((values.shape[0], width), np.nan, dtype=np.float64)
    out[:, : values.shape[1]] = values
    return out


def sub_sweep(front: Any, **params: Any) -> Any:
    """A copy of ``front`` with ``params`` set (those it has): ``clone(front).set_params``
    for a scikit-learn estimator, else a new ``type(front)`` from its ``get_params()``."""
    if hasattr(front, "set_params"):
        return clone(front).set_params(**params)
    own = front.get_params()
    return type(front)(**{**own, **{name: v for name, v in params.items() if name in own}})


#: Rounds of repair at most: a repaired k can show that its neighbour was stuck too (a
#: k whose inertia was barely below a poor k's looks sound until that k is repaired).
REPAIR_ROUNDS = 3


def repair(front: Any, fitted: Fitted, plan: Plan, runner_for: Callable[[Any], Runner]) -> Fitted:
    """Sweep the suspicious k of ``fitted`` again with more restarts; keep what is better.

    The curve is judged again after each round, and a k that became suspicious only
    then (its neighbour's repair showed it stuck) gets its restarts in the next round,
    up to :data:`REPAIR_ROUNDS` rounds; no k is repaired twice.

    Parameters
    ----------
    front : KSweep or SparkKSweep
        Its ``n_init_max`` sets the budget.
    fitted : Fitted
        The sweep as run.
    plan : Plan
        The sweep's plan: the repair's plan is the same (seeds, nesting) for the
        suspicious k and ``n_init_max`` restarts.
    runner_for : callable
        ``runner_for(sub_sweep) -> Runner`` for a copy of ``front`` restricted to the
        suspicious k (its ``k_range``, ``n_init`` and ``random_state`` set).

    Returns
    -------
    Fitted
        With ``n_restarts_run`` and ``restarts_reason`` columns. A repaired k's restart
        columns hold every restart it had (the sweep's, then the repair's; NaN, or -1,
        where another k had fewer), so its ``inertia`` is the least of them.
    """
    results = fitted.results
    k_values = results["k"]
    n_restarts = plan.n_restarts
    budget = restart_budget(front.n_init_max, n_restarts)
    n_run = np.full(k_values.shape, n_restarts, dtype=np.int64)
    reasons = np.full(k_values.shape, "", dtype=object)
    judged = (  # a mixture ranks restarts by BIC: its best need not have the least inertia
        results.objective == "inertia"
        and k_values.size >= 2
        and np.all(np.isfinite(results["restart_inertia"]))
    )
    repaired: list[int] = []
    if judged and budget > n_restarts:
        check = suspicious_k(k_values, results["inertia"], results["restart_inertia"])
        for _ in range(REPAIR_ROUNDS):
            named = [k for k in check.named if k not in repaired]
            if not named:
                break
            for k in named:
                i = int(np.flatnonzero(k_values == k)[0])
                n_run[i], reasons[i] = budget, check.reasons[k]
            fitted = _repair_round(front, fitted, plan, runner_for, named, budget, n_run, reasons)
            repaired += named
            check = suspicious_k(k_values, fitted.results["inertia"], None)
    if not repaired:  # nothing judged, no budget, or nothing named: the columns alone
        merged = results.with_columns(n_restarts_run=n_run, restarts_reason=reasons)
        return dataclasses.replace(fitted, results=merged)
    still = [k for k in check.named if k in repaired]
    unrepaired = [k for k in check.named if k not in repaired]
    if still or unrepaired:
        named_k = sorted(still + unrepaired)
        warnings.warn(
            f"k={named_k} still look stuck in a poor local optimum ("
            f"{'; '.join(check.reasons[k] for k in named_k)}); "
            + (f"k={still} had {budget} restarts each. " if still else "")
            + (f"k={unrepaired} were not repaired (rounds spent). " if unrepaired else "")
            + "Raise n_init_max or max_iter; results_['restarts_reason'] says why each k "
            "had more restarts.",
            UnderConvergedWarning,
            stacklevel=user_stacklevel(),
        )
    return fitted


def _repair_round(
    front: Any,
    fitted: Fitted,
    plan: Plan,
    runner_for: Callable[[Any], Runner],
    named: list[int],
    budget: int,
    n_run: np.ndarray,
    reasons: np.ndarray,
) -> Fitted:
    """One round of :func:`repair`: sweep ``named`` with ``budget`` restarts each and keep,
    per k, the better of what it had and what the round found."""
    results = fitted.results
    k_values = results["k"]
    n_restarts = plan.n_restarts
    sub = sub_sweep(
        front,
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
    again_plan = dataclasses.replace(
        plan, k_values=np.asarray(named, dtype=np.int64), n_restarts=budget, n_references=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        again = drive(again_plan, runner_for(sub))
    new, new_restarts = again.results, again.results.restarts
    restarts = {name: _widened(values, budget) for name, values in results.restarts.items()}
    added = {
        name: values
        for name, values in results.added_columns.items()
        if name not in ("n_restarts_run", "restarts_reason")
    }
    models, labels = dict(fitted.models), dict(fitted.labels)
    objective = results.objective
    for j, k in enumerate(named):
        i = int(np.flatnonzero(k_values == k)[0])
        if new[objective][j] < results[objective][i]:  # the repair's fit wins: its every
            for name, values in restarts.items():  # restart, model, labels and criteria
                values[i] = new_restarts[name][j]
            for name, column in added.items():
                if name in new and name != "gap":
                    column[i] = new[name][j]
            if "gap" in added:  # same references: the gap moves with log W of X
                added["gap"][i] += np.log(results["inertia"][i]) - np.log(new["inertia"][j])
            models[k], labels[k] = again.models[k], again.labels[k]
        else:  # the sweep's restarts stay, the repair's further ones (no better) join them
            for name, values in restarts.items():
                values[i, n_restarts:] = new_restarts[name][j, n_restarts:]
    merged = results.with_restarts(
        restarts, **added, n_restarts_run=n_run.copy(), restarts_reason=reasons.copy()
    )
    return dataclasses.replace(fitted, results=merged, models=models, labels=labels)
