"""The runner for data in memory: engine, grouping, shipping X, checkpoints and refits.

:class:`LocalRunner` runs a :class:`~ksweep._pipeline.Plan` on an executor
(serial, threads, processes, dask, any ``concurrent.futures.Executor``):

- **Engine.** "independent" fits the user's estimator once per task; "fused"
  fits all k of a few restarts per task (:func:`group_tasks`).
- **Reuse.** Tasks of the previous fit (``extend``) and of the checkpoint are
  not run again; every finished task is written to the checkpoint at once.
- **Refits.** A reused best restart has no model in memory: a fused run's is rebuilt
  from its stored final centers (one pass over X), any other is refitted from its seed.
- **Criteria.** Per-k columns (silhouette, ..., the gap statistic) from the best labels.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from ksweep._checkpoint import (
    Checkpoint,
    entry_array,
    fingerprint_data,
    identity_value,
    task_payload,
)
from ksweep._choosing import check_silhouette_sample, criterion_columns, gap_columns
from ksweep._duration import DurationCheck
from ksweep._executors import (
    DEAD_WORKER_ERRORS,
    TaskFailed,
    backend_session,
    is_one_of,
    run_tasks,
)
from ksweep._families import check_precomputed, family_of
from ksweep._fused import GROUP_CENTERS, fused_unsupported
from ksweep._fused_state import LloydState
from ksweep._pipeline import (
    BestKeeper,
    Plan,
    Runner,
    Task,
    n_restarts_for,
    progress_bar,
    user_stacklevel,
)
from ksweep._seeding import GAP_REFERENCES_KEY, criteria_seed, seed_entropy, spawn
from ksweep._structure_check import dense_rows
from ksweep._tasks import TaskRecord, rebuild_fused, run_fused_group, run_task
from ksweep._threads import CoreShare, widen_blas
from ksweep._validation import check_k_range, param_error, validate_estimator_params
from ksweep.criteria import reference_datasets
from ksweep.exceptions import (
    CheckpointWriteError,
    SweepInterrupted,
    SweepTaskError,
    TaskAbortedError,
)


def engine_for(sweep: Any, template: Any, X: Any) -> str:
    """The engine that runs: ``sweep.engine``, with "auto" resolved; "fused" must apply."""
    if sweep.engine == "independent":
        return "independent"
    why_not = fused_unsupported(template, X, sweep.score_func)
    if why_not is None:
        return "fused"
    if sweep.engine == "auto":
        return "independent"
    raise param_error(
        "engine",
        type(sweep).__name__,
        f"'auto' or 'independent' here: the fused engine cannot run because {why_not}",
        sweep.engine,
    )


def _fused_groups(plan: list) -> dict[tuple[int, int], list]:
    """The fused engine's groups: all k of a few restarts each (about ``GROUP_CENTERS`` centers).

    The grouping depends only on the k values and restarts planned, never on the
    executor or the cores, so ``results_`` is the same on every executor.
    """
    total_k = sum({k for _, _, k, _ in plan})
    per_group = max(1, round(GROUP_CENTERS / total_k))
    groups: dict[tuple[int, int], list] = {}
    for key, index, k, seed in plan:
        groups.setdefault((index, key[1] // per_group), []).append((key, k, seed))
    return groups


def _group_tasks(
    template, handles: dict, groups: dict, threads, family, checkpoint=None, states=None
):
    """Fused-engine tasks, one per group of :func:`_fused_groups`.

    Runs with the same seed (every k of a restart, in a nested plan) share one
    nested k-means++ sequence. Each group writes its runs to ``checkpoint`` as they
    finish, and where they stand while they run; a run of ``states`` (key -> state)
    goes on from there.
    """
    for (index, _), members in groups.items():
        keys, ks, seeds = (list(column) for column in zip(*members, strict=True))
        restarts = tuple(sorted({key[1] for key in keys}))
        own = [states.get(key) for key in keys] if states else None
        args = (template, handles[index], keys, ks, seeds, threads, family, seeds, checkpoint, own)
        yield ("fused", index, restarts, tuple(ks)), run_fused_group, args


def _work(X, template) -> float:
    """Rows × features of X (× series length for DTW), the unit of ``AUTO_PROCESSES_WORK``."""
    size = X.nnz if sparse.issparse(X) else X.size
    metric = template.get_params(deep=False).get("metric")
    if X.ndim == 3 and metric in ("dtw", "softdtw"):
        size *= X.shape[1]
    return float(size)


def _describe(key: tuple) -> tuple[int, int, str]:
    """The k, restart and words for a task key (a fused group's: its first k and restart)."""
    if key[0] == "fused":  # a group of runs: ("fused", dataset, restarts, ks)
        _, _, restarts, ks = key
        restart = restarts[0]
        which = (
            f"restart {restart}" if len(restarts) == 1 else f"restarts {restart}..{restarts[-1]}"
        )
        return ks[0], restart, f"k={min(ks)}..{max(ks)} ({which}, fused engine)"
    k, restart = key[:2]
    return k, restart, f"k={k} (restart {restart})"


def _cause_text(cause: BaseException) -> str:
    if isinstance(cause, TaskAbortedError):  # its message starts with the original type
        return str(cause).rstrip(".")
    return f"{type(cause).__name__}: {str(cause).rstrip('.')}"


def _task_error(template, failure: TaskFailed, records: dict) -> SweepTaskError:
    cause = failure.__cause__
    finished = f"The {len(records)} finished task(s) are in this exception's 'completed' attribute."
    if failure.key is None:  # a dead worker broke the pool: every task in flight failed
        described = [_describe(key) for key in failure.in_flight]
        return SweepTaskError(
            f"A worker process died (killed, crashed or out of memory) while fitting "
            f"{type(template).__name__}; one of the {len(described)} task(s) in flight was "
            f"running on it: {', '.join(what for _, _, what in described)}. "
            f"{_cause_text(cause)}. {finished}",
            k=None,
            restart=None,
            completed=list(records.items()),
            in_flight=[(k, restart) for k, restart, _ in described],
        )
    k, restart, what = _describe(failure.key)
    hint = ""
    if is_one_of(cause, ("KilledWorker",)):
        hint = (
            " A worker process died (killed, crashed or out of memory) while this task was "
            "running or waiting on it, as many times as dask allows "
            "('distributed.scheduler.allowed-failures')."
        )
    elif is_one_of(cause, DEAD_WORKER_ERRORS):
        hint = " A worker process died (killed, crashed or out of memory) while running it."
    return SweepTaskError(
        f"Fitting {type(template).__name__} with {what} failed: {_cause_text(cause)}.{hint} "
        + finished,
        k=k,
        restart=restart,
        completed=list(records.items()),
        in_flight=[(k, restart)],
    )


def _save(checkpoint: Checkpoint, key: tuple, seed: int, record: TaskRecord, records: dict):
    """Write a finished task to the checkpoint; a failed write keeps every finished task."""
    try:
        checkpoint.save(key, seed, record)
    except OSError as exc:
        raise CheckpointWriteError(
            f"Writing task {key} to the checkpoint {str(checkpoint.path)!r} failed: "
            f"{type(exc).__name__}: {exc}. The {len(records)} finished task(s) are in this "
            "exception's 'completed' attribute.",
            completed=list(records.items()),
        ) from exc


def _interrupted(records: dict, n_tasks: int) -> SweepInterrupted:
    return SweepInterrupted(
        f"Sweep interrupted after {len(records)} of {n_tasks} tasks; pending tasks were "
        "cancelled. The finished ones are in this exception's 'completed' attribute.",
        completed=list(records.items()),
    )


def record_of(payload: dict) -> TaskRecord:
    """The record of a stored task (without a fitted model)."""
    return TaskRecord(
        inertia=payload["inertia"],
        raw_inertia=payload["raw_inertia"],
        n_iter=payload["n_iter"],
        fit_time=payload["fit_time"],
        estimator=None,
        extras=dict(payload["extras"]),
    )


def labels_of(model: Any, X: Any) -> np.ndarray | None:
    """The training labels of a fitted model: ``labels_``, else ``predict(X)``, else None."""
    if hasattr(model, "labels_"):
        return np.asarray(model.labels_)
    if hasattr(model, "predict"):
        return np.asarray(model.predict(X))
    return None


class LocalRunner(Runner):
    """Run a sweep of X in memory on ``sweep.executor`` (see the module docstring).

    Parameters
    ----------
    sweep : KSweep
        Its parameters, validated.
    X : array-like
        The validated data.
    memory : dict or None
        The previous fit's identity, payloads and best models (``extend``).
    """

    def __init__(self, sweep: Any, X: Any, memory: dict | None):
        self.sweep, self.X, self.owner = sweep, X, type(sweep).__name__
        self.template = template = sweep._template()
        self.n_samples = X.shape[0]
        check_precomputed(template, X, self.owner)
        self.k_values = check_k_range(sweep.k_range, n_samples=X.shape[0])
        self.scoring = sweep._scoring()
        check_silhouette_sample(sweep, self.scoring, self.k_values, X.shape[0])
        if "gap" in self.scoring and sparse.issparse(X):
            asked_by = "selection" if sweep.selection == "gap" else "scoring"
            raise param_error(
                asked_by,
                self.owner,
                "free of 'gap' for sparse X (its reference data sets are dense boxes)",
                getattr(sweep, asked_by),
            )
        self.n_restarts = n_restarts_for(template, sweep.n_init)
        self.family = family = family_of(template, sweep.score_func)
        self.objective, self.inertia_definition = family.objective, family.inertia_definition
        # a maximised score's optimum need not lower the within-sum: no rise warning then
        self.warn_rising = family.score == "within_sum"
        self.engine = engine_for(sweep, template, X)
        if self.engine == "fused":  # the estimator's fit never runs: validate as it would
            validate_estimator_params(template)
        self.previous = memory
        self.identity = self._identity(memory)
        self.checkpoint = None
        if sweep.checkpoint is not None:
            self.checkpoint = Checkpoint(
                sweep.checkpoint, self.identity, overwrite=sweep.checkpoint_overwrite
            )
            self.identity = self.checkpoint.identity  # carries the stored seed entropy
        self.entropy = int(self.identity["entropy"])
        self.datasets = [X]
        if "gap" in self.scoring:
            self.datasets += reference_datasets(
                X,
                sweep.gap_references,
                method=sweep.gap_reference,
                random_state=spawn(self.entropy, GAP_REFERENCES_KEY),
            )
        self.memory: dict | None = None  # what the next extend reuses, set by best_models()
        self._payloads: dict[tuple, dict] = {}
        self._models: dict[tuple, Any] = {}

    def plan(self) -> Plan:
        """Every (k, restart), and its fit on each gap reference data set."""
        return Plan(
            self.k_values,
            self.n_restarts,
            self.entropy,
            len(self.datasets) - 1,
            nested=self.engine == "fused",
        )

    def _identity(self, memory: dict | None) -> dict:
        """What the tasks' results depend on, apart from k, restart and seed.

        An unseeded sweep (``random_state=None``) resumes or extends with the seed
        entropy it started with: the checkpoint's, else the previous fit's.
        """
        sweep, template = self.sweep, self.template
        entropy = None
        if sweep.random_state is None and sweep.checkpoint is not None:
            manifest = Path(sweep.checkpoint) / "sweep.json"
            try:
                entropy = json.loads(manifest.read_text(encoding="utf-8"))["identity"]["entropy"]
            except (OSError, ValueError, KeyError, TypeError):
                entropy = None
        if sweep.random_state is None and entropy is None and memory is not None:
            entropy = memory["identity"]["entropy"]
        if entropy is None:
            entropy = str(seed_entropy(sweep.random_state))
        params = template.get_params(deep=True)
        stable = sweep.checkpoint is not None  # a checkpoint outlives this process

        def describe(param: str, value: Any) -> Any:
            try:
                return identity_value(value, stable=stable)
            except ValueError as exc:
                raise param_error(
                    param, self.owner, f"resumable from a checkpoint: {exc}", value
                ) from None

        return {
            "X": fingerprint_data(self.X),
            "estimator": type(template).__module__ + "." + type(template).__qualname__,
            "estimator_params": {
                name: describe("estimator", params[name]) for name in sorted(params)
            },
            "score_func": (
                None if sweep.score_func is None else describe("score_func", sweep.score_func)
            ),
            "inner_threads": sweep.inner_threads,
            "gap_reference": sweep.gap_reference,
            "engine": self.engine,
            "entropy": entropy,
        }

    # -- the stages ---------------------------------------------------------------------

    def run(self, plan: Plan) -> dict[tuple, TaskRecord]:
        """Reuse what the previous fit and the checkpoint hold; run the rest."""
        stored: dict[tuple, dict] = {}
        memory = self.previous
        if memory is not None and memory["identity"] == self.identity:
            stored.update(memory["payloads"])
            self._models.update(memory["models"])
        if self.checkpoint is not None:
            stored.update(self.checkpoint.load({task.key: task.seed for task in plan.tasks}))
        todo = [task for task in plan.tasks if task.key not in stored]
        new = self.execute(todo, self.checkpoint, self._states(todo))
        if self.checkpoint is not None:  # every run is written: no state is of use
            self.checkpoint.drop_states()
        planned = set(plan.keys)
        self._payloads = {key: payload for key, payload in stored.items() if key in planned}
        for task in todo:
            record = new[task.key]
            self._payloads[task.key] = task_payload(task.key, task.seed, record)
            if record.estimator is not None:
                self._models[task.key] = record.estimator
        return {key: record_of(payload) for key, payload in self._payloads.items()}

    def _states(self, todo: list[Task]) -> dict[tuple, LloydState]:
        """Where a killed fused sweep left the runs of ``todo`` (from the checkpoint)."""
        if self.checkpoint is None or self.engine != "fused":
            return {}
        n_features = int(np.prod(self.X.shape[1:]))
        k_of = {task.key: task.k for task in todo}
        found = self.checkpoint.load_states({task.key: task.seed for task in todo})
        states = {
            key: LloydState.from_fields(fields, k_of[key], n_features)
            for key, fields in found.items()
        }
        return {key: state for key, state in states.items() if state is not None}

    def best_models(self, plan: Plan, best: list[tuple[int, int]], records) -> dict[int, Any]:
        """The best restart's model of every k; one reused from the checkpoint is rebuilt
        from its stored centers (fused engine), else refitted from its seed."""
        missing = [task for task in plan.tasks if task.key in best and task.key not in self._models]
        self._models.update(self._rebuilt(missing))
        refit = [task for task in missing if task.key not in self._models]
        for key, record in self.execute(refit, None).items():
            stored = self._payloads[key]["inertia"]
            if record.inertia != stored:
                warnings.warn(
                    f"Refitting the stored best restart {key} gave inertia {record.inertia!r}, "
                    f"not the stored {stored!r} (inner_threads=None lets thread counts change "
                    "the last bits).",
                    UserWarning,
                    stacklevel=user_stacklevel(),
                )
            self._models[key] = record.estimator
        self.memory = {
            "identity": self.identity,
            "payloads": self._payloads,
            "models": {key: self._models[key] for key in best},
        }
        return {k: self._models[k, r] for k, r in best}

    def _rebuilt(self, tasks: list[Task]) -> dict[tuple, Any]:
        """Models of stored fused runs rebuilt from their final centers, in this process
        (one pass over X for them all); those whose inertia is not the stored one are
        left out (they are refitted)."""
        if self.engine != "fused":
            return {}
        n_features = int(np.prod(self.X.shape[1:]))
        stored = {}
        for task in tasks:
            centered = entry_array(self._payloads[task.key].get("centered"))
            if centered is not None and centered.shape == (task.k, n_features):
                stored[task] = centered
        if not stored:
            return {}
        rebuilt = rebuild_fused(
            self.template,
            self.X,
            [task.k for task in stored],
            [task.seed for task in stored],
            list(stored.values()),
            [self._payloads[task.key]["n_iter"] for task in stored],
            self.family,
        )
        return {
            task.key: record.estimator
            for task, record in zip(stored, rebuilt, strict=True)
            if record.inertia == self._payloads[task.key]["inertia"]
        }

    def labels(self, models) -> dict[int, Any]:
        return {k: labels_of(model, self.X) for k, model in models.items()}

    reruns = True

    def rerun(self, sweep: Any) -> LocalRunner:
        """The same X for ``sweep``; tasks this runner ran (same seeds) are reused."""
        return LocalRunner(sweep, self.X, self.memory)

    def structure_rows(self):
        """X itself (the test samples it) and its bounding box, when X is dense 2-D."""
        return dense_rows(self.X)

    def columns(self, plan: Plan, results, records, models, labels) -> dict[str, np.ndarray]:
        """The criteria ``scoring`` and ``selection`` ask for, from the best labels per k."""
        if not self.scoring:
            return {}
        sweep = self.sweep
        columns = criterion_columns(
            self.X,
            plan.k_values,
            labels,
            self.scoring,
            silhouette_sample=sweep.silhouette_sample,
            seed=criteria_seed(plan.entropy),
            precomputed=self.template.get_params(deep=False).get("metric") == "precomputed",
        )
        if "gap" in self.scoring:
            references = range(1, plan.n_references + 1)
            reference = np.log(
                [
                    [
                        min(records[k, r, b].inertia for r in range(plan.n_restarts))
                        for b in references
                    ]
                    for k in plan.k_values
                ]
            )
            columns.update(gap_columns(results, reference))
        return columns

    # -- running tasks ------------------------------------------------------------------

    def execute(
        self, tasks: list[Task], checkpoint: Checkpoint | None, states: dict | None = None
    ) -> dict[tuple, TaskRecord]:
        """Run ``tasks`` in order on the executor; return their records.

        Each finished task is written to ``checkpoint`` (when given) at once. The
        fused engine runs the tasks of one data set and a few restarts as one group;
        a run with a state (``states``: key -> ``LloydState``) goes on from it.
        """
        if not tasks:
            return {}
        sweep = self.sweep
        keeper = BestKeeper(self.family.objective)
        seeds = {task.key: task.seed for task in tasks}
        groups = _fused_groups(tasks) if self.engine == "fused" else None
        # a missing tqdm fails before any start. The fused engine's runs of a group end
        # together, so its bar counts groups (with the runs done alongside): a bar over
        # runs would jump and its rate (the ETA) would mislead.
        bar = (
            progress_bar(sweep.progress, len(tasks), unit="fit")
            if groups is None
            else progress_bar(
                sweep.progress, len(groups), unit="group", desc=f"ksweep ({len(tasks)} fused runs)"
            )
        )
        try:
            with backend_session(
                sweep.executor,
                sweep.n_jobs,
                sweep.inner_threads,
                engine=self.engine,
                n_tasks=len(tasks) if groups is None else len(groups),
                work=_work(self.datasets[0], self.template) * sum(task.k for task in tasks),
            ) as backend:
                used = sorted({task.dataset for task in tasks})
                handles = {index: backend.ship(self.datasets[index]) for index in used}
                threads = backend.inner_threads
                if (
                    groups is not None
                    and len(groups) > 1
                    and backend.kind == "in_process"
                    and threads is not None
                    and isinstance(sweep.inner_threads, str)  # "auto": no cap was asked for
                ):  # a group that outlives the others takes the cores they leave
                    running = min(backend.workers, len(groups))
                    threads = CoreShare(threads * running, backend.workers, len(groups))
                if groups is not None:
                    jobs = _group_tasks(
                        self.template, handles, groups, threads, self.family, checkpoint, states
                    )
                else:
                    common = (threads, self.family, sweep.score_func)
                    jobs = (
                        (key, run_task, (self.template, handles[index], k, seed, *common))
                        for key, index, k, seed in tasks
                    )
                finished = 0
                n_jobs = len(tasks) if groups is None else len(groups)
                duration = DurationCheck(
                    n_jobs,
                    backend.workers,
                    self.template,
                    sweep.n_init,
                    "fit (the largest k)" if groups is None else "group of fused runs",
                )
                for job_key, result in run_tasks(backend.executor, jobs, backend.window):
                    duration.first_finished(user_stacklevel() + 1)
                    if isinstance(threads, CoreShare):  # BLAS heeds its cap from here only
                        widen_blas(threads.threads())
                    done = result if self.engine == "fused" else {job_key: result}
                    for key, record in done.items():
                        keeper.add(key, record)
                        if checkpoint is not None:
                            _save(checkpoint, key, seeds[key], record, keeper.records)
                    finished += len(done)
                    if bar is not None:
                        if groups is not None:
                            bar.set_postfix_str(f"{finished}/{len(tasks)} runs", refresh=False)
                        bar.update(1 if groups is not None else len(done))
        except TaskFailed as failure:
            if isinstance(failure.__cause__, KeyboardInterrupt):  # Ctrl-C reached a worker
                raise _interrupted(keeper.records, len(tasks)) from None
            raise _task_error(self.template, failure, keeper.records) from failure.__cause__
        except KeyboardInterrupt:
            raise _interrupted(keeper.records, len(tasks)) from None
        finally:
            if bar is not None:
                bar.close()
        return keeper.records
