"""The runner for dask arrays: X stays on the workers, one array of sums comes back per pass.

Each Lloyd iteration maps every row chunk of X through
:func:`ksweep._lloyd.chunk_statistics` (nearest center of every live run,
per-center sums and counts) and adds the results up on the workers, in a tree of
at most :data:`SPLIT_EVERY` parts per node: the client receives one array of
``Σk × n_features`` sums per iteration, whatever the number of chunks, and never rows.
Seeding works on a uniform sample of ``seeding_sample`` rows (the only rows that
reach the client; see :func:`ksweep._lloyd.seed_from_sample`). Convergence, empty
clusters and the exact final inertia are :func:`ksweep._lloyd.data_parallel_lloyd`'s.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.cluster import KMeans

from ksweep._executors import is_one_of
from ksweep._families import family_of, task_params
from ksweep._fused import fill_kmeans
from ksweep._lloyd import (
    ChunkState,
    add_statistics,
    chunk_statistics,
    data_parallel_lloyd,
    seed_from_sample,
)
from ksweep._pipeline import Plan, Runner, progress_bar
from ksweep._seeding import SAMPLE_KEY, STRUCTURE_KEY, seed_entropy, spawn
from ksweep._structure_check import STRUCTURE_ROWS
from ksweep._tasks import TaskRecord
from ksweep._validation import (
    check_k_range,
    check_numeric_columns,
    param_error,
    validate_estimator_params,
)
from ksweep.exceptions import SweepTaskError

#: Default rows drawn for seeding (``KSweep(seeding_sample=...)``); every row of a smaller X.
SAMPLE_ROWS = 20_000
#: Most partial sums added up in one node of the tree reduction on the workers.
SPLIT_EVERY = 16
#: What dask raises when workers died and it gave up (``allowed-failures``), or lost data
#: it cannot recompute, by class name: ``KilledWorker``, ``FutureCancelledError``, ...
LOST_WORK_ERRORS = ("KilledWorker", "CancelledError")


def is_dask_collection(X) -> bool:
    """Whether X is a dask array or dask DataFrame (without importing dask)."""
    return hasattr(X, "__dask_graph__") and type(X).__module__.split(".")[0] == "dask"


def as_row_chunked(X, owner: str):
    """A 2-D float dask array chunked along rows only, with known chunk sizes."""
    import dask.array as da

    if not isinstance(X, da.Array):  # a dask DataFrame or Series
        if not hasattr(X, "to_dask_array"):
            raise TypeError(
                f"{owner} takes a dask Array or DataFrame; got {type(X).__name__} instead."
            )
        check_numeric_columns(X, owner)  # from the metadata: nothing is computed
        X = X.to_dask_array(lengths=True)
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2-D dask array for X, got {X.ndim}-D with shape {X.shape} instead."
        )
    if any(np.isnan(size) for size in X.shape):
        X = X.compute_chunk_sizes()
    if not np.issubdtype(X.dtype, np.floating) or X.dtype == np.float16:
        X = X.astype(np.float64)
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    return X


def _on_workers(blocks: list, split_every: int):
    """A ``reduce`` for :func:`~ksweep._lloyd.data_parallel_lloyd`: the statistics of every
    chunk, added up in a tree on the workers; the client receives the root only.

    The state goes into the graph once, as one key, not once per chunk.
    """

    def reduce(state: ChunkState) -> np.ndarray:
        import dask

        shared = dask.delayed(state, pure=True)
        parts = [dask.delayed(chunk_statistics)(block, shared) for block in blocks]
        while len(parts) > 1:
            parts = [
                dask.delayed(add_statistics)(*parts[i : i + split_every])
                for i in range(0, len(parts), split_every)
            ]
        (total,) = dask.compute(parts[0])
        return np.asarray(total)

    return reduce


def fitted_dask_input(sweep: Any, X: Any):
    """A fitted sweep's check of a dask array passed to predict, transform or score."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(sweep)
    X = as_row_chunked(X, type(sweep).__name__)
    if X.shape[1] != sweep.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(sweep).__name__} is expecting "
            f"{sweep.n_features_in_} features as input."
        )
    return X


def sample_rows(X, size: int, seed_sequence) -> np.ndarray:
    """A uniform sample of ``size`` rows of the dask array X (sorted indices), computed."""
    n = X.shape[0]
    rng = np.random.default_rng(seed_sequence)
    idx = np.sort(rng.choice(n, size=min(n, size), replace=False))
    return np.asarray(X[idx].compute())


def fit_dask(
    X,
    ks: list[int],
    seeds: list[int],
    *,
    max_iter: int,
    tol: float,
    sample_seed,
    sample_size: int = SAMPLE_ROWS,
    on_pass: Callable[[], None] | None = None,
) -> tuple[list, float]:
    """Lloyd k-means for every ``(k, seed)`` over the row chunks of the dask array X.

    Returns the runs (:class:`~ksweep._fused.FusedRun`, with ``centers``,
    ``inertia``, ``n_iter`` and ``init_centers``; ``labels`` stays None: predict
    them lazily) and X's mean feature variance (the scale of ``tol``). On a
    ``distributed.Client``, X is persisted on the workers for the fit. ``on_pass()``
    is called after each Lloyd pass over X (every run shares it).
    """
    import dask
    import dask.array as da

    try:
        from distributed import default_client

        default_client()
    except (ImportError, ValueError):
        pass  # no cluster: chunks are computed where they are
    else:
        X = X.persist()
    dtype = X.dtype
    mean_, var_, finite = dask.compute(
        X.mean(axis=0, dtype=np.float64), X.var(axis=0, dtype=np.float64), da.isfinite(X).all()
    )
    if not finite:
        raise ValueError("Input X contains NaN or infinity.")
    mean = np.asarray(mean_, dtype=dtype)
    sample = sample_rows(X, max(sample_size, 3 * max(ks)), sample_seed).astype(dtype) - mean
    init = seed_from_sample(sample, ks, seeds, max_iter=max_iter, tol=tol)
    blocks = [  # chunks without rows (after filtering) add nothing
        block
        for block, rows in zip(X.to_delayed().ravel().tolist(), X.chunks[0], strict=True)
        if rows > 0
    ]
    reduce = _on_workers(blocks, SPLIT_EVERY)

    def reduce_and_report(state):
        out = reduce(state)
        if on_pass is not None:
            on_pass()
        return out

    runs = data_parallel_lloyd(
        reduce_and_report,
        ks,
        seeds,
        init,
        mean=mean,
        mean_variance=float(np.mean(var_)),
        max_iter=max_iter,
        tol=tol,
        relocation_rows=sample,
    )
    return runs, float(np.mean(var_))


class DaskArrayRunner(Runner):
    """Sweep a dask array with scikit-learn's ``KMeans`` (k-means++): every (k, restart)
    shares each pass over X on the workers; models and labels stay lazy.

    Parameters
    ----------
    sweep : KSweep
        Its parameters, validated; those the dask path cannot honour are refused here.
    X : dask Array or DataFrame
    """

    engine = "dask"

    def __init__(self, sweep: Any, X: Any):
        owner = type(sweep).__name__
        template = sweep._template()
        init = template.get_params(deep=False).get("init")
        if type(template) is not KMeans or not (isinstance(init, str) and init == "k-means++"):
            raise param_error(
                "estimator",
                owner,
                "a scikit-learn KMeans with init='k-means++' for dask arrays",
                template,
            )
        for name, wrong in (
            ("engine", sweep.engine == "independent"),
            ("checkpoint", sweep.checkpoint is not None),
            ("score_func", sweep.score_func is not None),
            ("scoring", bool(sweep._scoring())),
            ("stability", getattr(sweep, "stability", None) is not None),
        ):
            if wrong:
                value = getattr(sweep, name)
                allowed = {"engine": "'auto' or 'fused'", "scoring": "empty"}.get(name, "None")
                raise param_error(name, owner, f"{allowed} for dask arrays", value)
        validate_estimator_params(template)
        self.sweep, self.template = sweep, template
        self.X = as_row_chunked(X, owner)
        self.k_values = check_k_range(sweep.k_range, n_samples=self.X.shape[0])
        self.inertia_definition = family_of(template).inertia_definition
        self.input_attrs = {"n_features_in_": self.X.shape[1]}

    def plan(self) -> Plan:
        self.entropy = seed_entropy(self.sweep.random_state)
        return Plan(self.k_values, self.sweep.n_init, self.entropy)

    reruns = True

    def rerun(self, sweep: Any) -> DaskArrayRunner:
        """The same dask array for ``sweep``."""
        return DaskArrayRunner(sweep, self.X)

    def structure_rows(self):
        """A uniform sample of the rows (computed) and the bounding box (one pass)."""
        import dask

        blocks = [  # chunks without rows have no bounds
            block
            for block, rows in zip(
                self.X.to_delayed().ravel().tolist(), self.X.chunks[0], strict=True
            )
            if rows > 0
        ]
        bounds = np.asarray(dask.compute(*[dask.delayed(_bounds)(block) for block in blocks]))
        sample = sample_rows(self.X, STRUCTURE_ROWS, spawn(self.entropy, STRUCTURE_KEY))
        return sample, bounds[:, 0].min(axis=0), bounds[:, 1].max(axis=0)

    def run(self, plan: Plan) -> dict[tuple, TaskRecord]:
        params = self.template.get_params(deep=False)
        most = int(params["max_iter"]) + 1  # the last pass only scores the final centers
        bar = progress_bar(
            self.sweep.progress,
            most,
            unit="pass",
            desc=f"ksweep (dask: {plan.n_restarts * len(plan.k_values)} runs share each pass, "
            f"at most {most})",
        )
        start = time.perf_counter()
        keys = [(int(k), r) for k in plan.k_values for r in range(plan.n_restarts)]
        try:
            runs, self.mean_variance = fit_dask(
                self.X,
                [int(k) for k in plan.k_values for _ in range(plan.n_restarts)],
                plan.seeds.ravel().tolist(),
                max_iter=int(params["max_iter"]),
                tol=float(params["tol"]),
                sample_seed=spawn(plan.entropy, SAMPLE_KEY),
                sample_size=self.sweep.seeding_sample,
                on_pass=None if bar is None else lambda: bar.update(1),
            )
        except BaseException as exc:  # asyncio's CancelledError is no Exception
            if isinstance(exc, KeyboardInterrupt) or not is_one_of(exc, LOST_WORK_ERRORS):
                raise
            raise _lost_work(self.template, plan, keys, exc) from exc
        finally:
            if bar is not None:
                bar.total = bar.n  # converged before max_iter: the bar ends full
                bar.refresh()
                bar.close()
        seconds = time.perf_counter() - start
        work = np.array([run.k * (run.n_iter + 1) for run in runs], dtype=float)
        fit_time = seconds * work / work.sum()  # each run's share, by k × passes
        self.runs = dict(zip(keys, runs, strict=True))
        return {
            key: TaskRecord(run.inertia, run.inertia, run.n_iter, float(share), None)
            for key, run, share in zip(keys, runs, fit_time, strict=True)
        }

    def best_models(self, plan: Plan, best, records) -> dict[int, Any]:
        """A fitted ``KMeans`` per k from its best run; its ``labels_`` a lazy dask array."""
        models = {}
        for key in best:
            run = self.runs[key]
            model = clone(self.template).set_params(**task_params(self.template, run.k, run.seed))
            model = fill_kmeans(model, run, self.X.dtype, self.mean_variance)
            model.labels_ = predict_dask(model, self.X)  # lazy, like the data
            models[key[0]] = model
        return models

    def labels(self, models) -> dict[int, Any]:
        return {k: model.labels_ for k, model in models.items()}


def _lost_work(template, plan: Plan, keys: list, exc: BaseException) -> SweepTaskError:
    """The error of a dask-array sweep whose workers died or lost data dask cannot recompute."""
    ks = plan.k_values
    return SweepTaskError(
        f"The dask cluster gave up on fitting {type(template).__name__} with "
        f"k={min(ks)}..{max(ks)} (every run at once, on the dask array): "
        f"{type(exc).__name__}: {str(exc).rstrip('.') or 'no message'}. Dask retries a task "
        "whose worker died up to its 'distributed.scheduler.allowed-failures' times; a worker "
        "kept dying (killed, crashed or out of memory) or held data dask cannot recompute. "
        "The runs of a dask-array sweep finish together, so none had finished.",
        k=None,
        restart=None,
        completed=[],
        in_flight=keys,
    )


def _bounds(block) -> np.ndarray:
    """The feature-wise minimum and maximum of one chunk, shape (2, n_features)."""
    block = np.asarray(block)
    return np.stack([block.min(axis=0), block.max(axis=0)])


def _shippable(model):
    """A shallow copy of the model without its labels: the graph must not hold a graph (lazy
    labels), nor change when the model does, nor carry n labels to every task."""
    bare = copy.copy(model)
    bare.__dict__.pop("labels_", None)
    return bare


def predict_dask(model, X):
    """Labels of the dask array X under a fitted k-means model, as a lazy dask array."""
    return X.map_blocks(_predict_block, _shippable(model), drop_axis=1, dtype=np.int32)


def transform_dask(model, X):
    """Distances of the rows of X to the model's centers, as a lazy dask array."""
    k = model.cluster_centers_.shape[0]
    return X.map_blocks(
        _transform_block,
        _shippable(model),
        chunks=(X.chunks[0], (k,)),
        dtype=model.cluster_centers_.dtype,
    )


def score_dask(model, X) -> float:
    """Minus the inertia of X under the model (as ``KMeans.score``), computed on the workers."""
    per_block = X.map_blocks(
        _inertia_block,
        _shippable(model),
        drop_axis=1,
        chunks=((1,) * X.numblocks[0],),
        dtype=np.float64,
    )
    return -float(per_block.sum().compute())


def _predict_block(block, model):
    if len(block) == 0:
        return np.empty(0, dtype=np.int32)
    return model.predict(np.asarray(block)).astype(np.int32)


def _transform_block(block, model):
    if len(block) == 0:
        return np.empty((0, model.cluster_centers_.shape[0]), dtype=model.cluster_centers_.dtype)
    return model.transform(np.asarray(block))


def _inertia_block(block, model):
    return np.atleast_1d(-model.score(np.asarray(block)) if len(block) else 0.0)
