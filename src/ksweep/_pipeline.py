"""The one way through a sweep: plan, run, keep the best, assemble, choose, adopt.

Every front end (``KSweep.fit`` on arrays in memory or dask arrays,
``KSweep.partial_fit``, ``SparkKSweep.fit``) validates its parameters, makes a
:class:`Plan`, and hands it with a :class:`Runner` to :func:`drive`::

    Plan (tasks, seeds) -> runner.run(plan) -> records {(k, restart): TaskRecord}
      -> assemble (SweepResult, NonMonotonicWarning) -> runner.best_models (best per k)
      -> runner.columns (criteria) -> Fitted
    -> adopt: choose k, set best_k_, the models, labels_, ...

Runners own where the work happens (in this process or a pool, dask workers, a
stream, Spark); this module owns what every sweep does the same way.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import warnings
from collections.abc import Mapping
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np

from ksweep._choosing import choose_k
from ksweep._results import SweepResult, restart_rank
from ksweep._seeding import chain_key, reference_key, seed_of, task_key, task_seeds
from ksweep._tasks import TaskRecord
from ksweep.exceptions import NonMonotonicWarning

_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def user_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning issued by the caller name the user's line.

    Counts the frames from the caller up to the first one outside the ksweep package.
    """
    frame = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
        level += 1
    return level


class Task(NamedTuple):
    """One fit of a plan: its key ``(k, restart)`` (``(k, restart, b)`` on gap reference
    data set ``b``), the data set it reads (0 is X), k and its seed."""

    key: tuple[int, ...]
    dataset: int
    k: int
    seed: int


def n_restarts_for(template: Any, n_init: int) -> int:
    """``n_init``, or 1 (with a warning) for an estimator without ``random_state``."""
    if n_init > 1 and "random_state" not in template.get_params(deep=False):
        warnings.warn(
            f"{type(template).__name__} has no 'random_state' parameter, so its restarts "
            f"would be identical: running 1 restart per k instead of n_init={n_init}.",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
        return 1
    return n_init


@dataclasses.dataclass(frozen=True)
class Plan:
    """What a sweep fits: every ``(k, restart)`` and its seed, fixed before any fit.

    Parameters
    ----------
    k_values : ndarray of int
        The k values, increasing.
    n_restarts : int
        Restarts per k.
    entropy : int
        The root of every seed (see ``ksweep._seeding``).
    n_references : int, default=0
        Gap statistic reference data sets; each ``(k, restart)`` is fitted on each.
    nested : bool, default=False
        Every k of a restart gets the same seed, that of the restart's nested
        k-means++ sequence (``chain_key``), from which the fused engine seeds them all.
        Otherwise each ``(k, restart)`` has its own seed (``task_key``).
    """

    k_values: np.ndarray
    n_restarts: int
    entropy: int
    n_references: int = 0
    nested: bool = False

    @cached_property
    def seeds(self) -> np.ndarray:
        """The seed of each ``(k, restart)``, shape ``(n_k, n_restarts)``."""
        if self.nested:
            chains = [seed_of(self.entropy, chain_key(r)) for r in range(self.n_restarts)]
            return np.tile(np.asarray(chains, dtype=np.int64), (len(self.k_values), 1))
        return task_seeds(self.entropy, self.k_values, self.n_restarts)

    @cached_property
    def tasks(self) -> list[Task]:
        """Every fit, largest k first (the longest first balances the load); each restart
        is followed by its fits on the gap reference data sets."""
        tasks = []
        for i, k in reversed(list(enumerate(self.k_values))):
            for r in range(self.n_restarts):
                tasks.append(Task(task_key(k, r), 0, int(k), int(self.seeds[i, r])))
                for b in range(1, self.n_references + 1):
                    key = reference_key(k, r, b)
                    seed_key = chain_key(r, b) if self.nested else key
                    tasks.append(Task(key, b, int(k), seed_of(self.entropy, seed_key)))
        return tasks

    @property
    def keys(self) -> list[tuple[int, ...]]:
        """The key of every task, in plan order."""
        return [task.key for task in self.tasks]


class BestKeeper:
    """The records of finished tasks, where only the best restart of each k keeps its model.

    Restarts rank by :func:`ksweep._results.restart_rank` (as :class:`SweepResult`
    ranks them), so memory for models stays one per k. Gap reference fits never
    keep theirs.

    Parameters
    ----------
    objective : str, default="inertia"
        The record's extra that ranks restarts (``record.inertia`` where it has none).
    """

    def __init__(self, objective: str = "inertia"):
        self.objective = objective
        self.records: dict[tuple, TaskRecord] = {}
        self._best: dict[int, tuple[float, int]] = {}

    def add(self, key: tuple, record: TaskRecord) -> TaskRecord:
        """Store a finished task's record (without its model unless it is the best so far)."""
        if len(key) != 2:
            record = dataclasses.replace(record, estimator=None)
        else:
            k, restart = key
            rank = restart_rank(record.extras.get(self.objective, record.inertia), restart)
            previous = self._best.get(k)
            if previous is not None and previous <= rank:
                record = dataclasses.replace(record, estimator=None)
            else:
                if previous is not None:
                    old = (k, previous[1])
                    self.records[old] = dataclasses.replace(self.records[old], estimator=None)
                self._best[k] = rank
        self.records[key] = record
        return record


def progress_bar(progress: bool, total: int | None, *, unit: str, desc: str = "ksweep"):
    """A tqdm bar (``progress=True``) or None; tqdm missing is an ImportError with a hint."""
    if not progress:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError as exc:
        raise ImportError("progress=True needs tqdm: pip install 'ksweep[progress]'") from exc
    return tqdm(total=total, desc=desc, unit=unit)


def warn_non_monotonic(results: SweepResult, stacklevel: int) -> None:
    """Warn where the best objective rises with k: the optimizer fell short there."""
    rising = np.flatnonzero(results["non_monotonic"])
    if rising.size == 0:
        return
    k = results["k"]
    pairs = ", ".join(f"{k[i - 1]}->{k[i]}" for i in rising)
    # with the repair, some k had more restarts than n_init: the fewest is n_init
    n_init = int(results["n_restarts_run"].min()) if "n_restarts_run" in results else None
    warnings.warn(
        f"The best-of-n_init {results.objective} rises with k at k={pairs} "
        f"(flagged in results_['non_monotonic']): the fits for the larger k stopped at a "
        f"worse optimum. Raise n_init (now {n_init or results.n_restarts}) or max_iter.",
        NonMonotonicWarning,
        stacklevel=stacklevel + 1,
    )


def assemble(
    plan: Plan,
    records: Mapping[tuple, TaskRecord],
    *,
    objective: str = "inertia",
    inertia_definition: str = "",
    engine: str = "independent",
) -> SweepResult:
    """The :class:`SweepResult` of a plan's ``(k, restart)`` records (family extras too)."""
    k_values, n = plan.k_values, plan.n_restarts
    grid = [[records[task_key(k, r)] for r in range(n)] for k in k_values]
    restarts = {
        name: [[getattr(record, name) for record in row] for row in grid]
        for name in ("inertia", "raw_inertia", "n_iter", "fit_time")
    }
    for name in grid[0][0].extras:
        restarts[name] = [[record.extras[name] for record in row] for row in grid]
    return SweepResult(
        k_values,
        {**restarts, "seed": plan.seeds},
        objective=objective,
        inertia_definition=inertia_definition,
        engine=engine,
    )


def best_keys(results: SweepResult) -> list[tuple[int, int]]:
    """The key of the best restart of every k."""
    return [task_key(k, r) for k, r in zip(results["k"], results["best_restart"], strict=True)]


class Runner:
    """Where a plan's fits run. A runner for a new place subclasses this.

    ``plan`` and ``run`` are what every runner writes; the other stages have defaults.

    Attributes
    ----------
    engine : str
        ``results_.engine``.
    objective, inertia_definition : str
        As in :class:`SweepResult`.
    warn_rising : bool
        Warn (:class:`~ksweep.exceptions.NonMonotonicWarning`) where the best
        objective rises with k.
    input_attrs : dict
        Attributes the front end takes on after the fit (``n_features_in_``, ...).
    memory : dict or None
        What a later ``extend`` may reuse.
    """

    engine = "independent"
    objective = "inertia"
    inertia_definition = ""
    warn_rising = True
    input_attrs: Mapping[str, Any] = {}
    memory: dict | None = None
    #: Whether :meth:`rerun` gives a runner (the repair of suspicious k needs one).
    reruns = False

    def plan(self) -> Plan:
        """The plan this runner was made for."""
        raise NotImplementedError

    def run(self, plan: Plan) -> Mapping[tuple, TaskRecord]:
        """A record for every task of the plan; the best restart of each k with its model."""
        raise NotImplementedError

    def best_models(
        self, plan: Plan, best: list[tuple[int, int]], records: Mapping
    ) -> dict[int, Any]:
        """k -> the fitted model of its best restart."""
        return {key[0]: records[key].estimator for key in best}

    def labels(self, models: Mapping[int, Any]) -> dict[int, Any]:
        """k -> the labels of the training data under its model (None where unknown)."""
        return dict.fromkeys(models)

    def columns(
        self, plan: Plan, results: SweepResult, records: Mapping, models: Mapping, labels: Mapping
    ) -> dict[str, np.ndarray]:
        """Per-k columns added once the models are known (criteria)."""
        return {}

    def rerun(self, sweep: Any) -> Runner | None:
        """A runner of the same kind, on the same data, for ``sweep`` (a clone with other
        k, restarts or seed): the repair of suspicious k runs through it. None where the
        runner cannot (the k are then not repaired)."""
        return None

    def structure_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | str:
        """For the no-structure test: rows of the data (a uniform sample, any size; the
        test caps it) and the data's bounding box ``(low, high)``; or why there are none."""
        return "no-structure test not run: not available here"


@dataclasses.dataclass
class Fitted:
    """A finished sweep before k is chosen: its results, the best model and labels per k."""

    results: SweepResult
    models: dict[int, Any]
    labels: dict[int, Any]


def drive(plan: Plan, runner: Runner) -> Fitted:
    """Run the plan and assemble what every front end adopts."""
    records = runner.run(plan)
    results = assemble(
        plan,
        records,
        objective=runner.objective,
        inertia_definition=runner.inertia_definition,
        engine=runner.engine,
    )
    if runner.warn_rising:
        warn_non_monotonic(results, user_stacklevel())
    models = runner.best_models(plan, best_keys(results), records)
    labels = runner.labels(models)
    columns = runner.columns(plan, results, records, models, labels)
    if columns:
        results = results.with_columns(**columns)
    return Fitted(results, models, labels)


def adopt(
    front: Any,
    fitted: Fitted,
    *,
    models_attr: str = "estimators_",
    best_attr: str = "best_estimator_",
    **selection_options: Any,
) -> None:
    """Choose k and make the front end that model: ``results_``, ``elbow_``, ``best_k_``,
    the models, and ``labels_`` and ``cluster_centers_`` where the model has them.

    k is chosen by ``front.selection`` on ``front.elbow_scale`` (``choose_k``; a named
    method that finds no k warns and gives the largest k), with ``selection_options``.
    """
    results = fitted.results
    front.results_ = results  # kept, with the models, when the selection raises
    setattr(front, models_attr, fitted.models)
    elbow, best_k = choose_k(
        front.selection,
        results["k"],
        results,
        front.elbow_scale,
        owner=type(front).__name__,
        stacklevel=user_stacklevel() + 1,
        **selection_options,
    )
    best = fitted.models[best_k]
    front.elbow_, front.best_k_ = elbow, best_k
    setattr(front, best_attr, best)
    for name in ("labels_", "cluster_centers_"):
        front.__dict__.pop(name, None)
    if fitted.labels.get(best_k) is not None:
        front.labels_ = fitted.labels[best_k]
    if hasattr(best, "cluster_centers_"):
        front.cluster_centers_ = best.cluster_centers_
