"""Data-parallel sweeps on dask arrays: X stays on the workers, only sums travel.

Each Lloyd iteration maps every row chunk of X through the fused engine's kernel
(nearest center of every live run, per-center sums and counts), and the client adds
up the small per-chunk results: a ``Σk × n_features`` array per chunk, never rows.
Seeding works on a uniform sample of rows (the only rows that reach the client): for
each ``(k, restart)``, :data:`SAMPLE_SEEDINGS` greedy k-means++ draws, each refined by
Lloyd on the sample; the one with the lowest sample inertia starts the run on X.
Runs stop as in scikit-learn's Lloyd (squared center shift ≤ ``tol`` × mean feature
variance, or ``max_iter``); the inertia of the final centers is computed exactly on the
workers. An empty cluster takes the sample row farthest from its run's centers.
"""

from __future__ import annotations

import copy

import numpy as np

from ksweep._fused import FusedRun, block_rows, fused_lloyd
from ksweep._kernels import kernels

#: Rows drawn for seeding: at least this many, or every row of a smaller X.
SAMPLE_ROWS = 20_000
#: k-means++ draws per run, each refined by Lloyd on the sample; the best one starts the run.
SAMPLE_SEEDINGS = 5


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


def chunk_stats(block, mean, centers, half_sq, offsets, final_runs):
    """Per chunk: center sums and counts per run; the exact inertia of finishing runs.

    Runs on a worker, with the worker's thread settings (distributed's nannies start
    workers with one BLAS and OpenMP thread each). ``final_runs`` lists the runs (by
    position) whose centers are final: their inertia is the exact sum of squared
    distances; the others' is the expansion the assignment computes.
    """
    kern = kernels()
    Xc = np.ascontiguousarray(block, dtype=centers.dtype) - mean
    x_sq = np.einsum("ij,ij->i", Xc, Xc)
    sums = np.zeros(centers.shape)  # float64
    counts = np.zeros(centers.shape[0], dtype=np.int64)
    labels = np.empty((Xc.shape[0], offsets.size - 1), dtype=np.int32)
    unlabelled = np.full_like(labels, -1)  # every row adds to its center's sum
    changes = np.zeros(offsets.size - 1, dtype=np.int64)
    inertia = np.zeros(offsets.size - 1, dtype=np.float64)
    rows = block_rows(Xc.shape[0], centers.shape[0], Xc.dtype.itemsize)
    for start in range(0, Xc.shape[0], rows):
        part = slice(start, start + rows)
        G = centers @ Xc[part].T  # one row per center
        kern.assign_accumulate(
            Xc[part],
            G,
            half_sq,
            offsets,
            sums,
            counts,
            unlabelled[part],
            labels[part],
            changes,
            inertia,
            x_sq[part],
        )
    for r in final_runs:
        run_centers = np.ascontiguousarray(centers[offsets[r] : offsets[r + 1]])
        inertia[r] = kern.exact_inertia(Xc, run_centers, np.ascontiguousarray(labels[:, r]))
    return sums, counts, inertia


def _chunk_stats_shared(block, shared):
    return chunk_stats(block, *shared)


def _map_chunks(blocks, *args):
    """Compute ``chunk_stats`` on every chunk and add the results up on the client.

    The centers and the other shared arguments go into the graph once, as one key,
    not once per chunk.
    """
    import dask

    shared = dask.delayed(args, pure=True)
    parts = dask.compute(*[dask.delayed(_chunk_stats_shared)(block, shared) for block in blocks])
    sums = np.sum([p[0] for p in parts], axis=0)
    counts = np.sum([p[1] for p in parts], axis=0)
    inertia = np.sum([p[2] for p in parts], axis=0)
    return sums, counts, inertia


def sample_rows(X, size: int, seed_sequence) -> np.ndarray:
    """A uniform sample of ``size`` rows of the dask array X (sorted indices), computed."""
    n = X.shape[0]
    rng = np.random.default_rng(seed_sequence)
    idx = np.sort(rng.choice(n, size=min(n, size), replace=False))
    return np.asarray(X[idx].compute())


def fit_dask(
    X, ks: list[int], seeds: list[int], *, max_iter: int, tol: float, sample_seed
) -> tuple[list[FusedRun], float]:
    """Lloyd k-means for every ``(k, seed)`` over the row chunks of the dask array X.

    Returns the runs, with ``centers``, ``inertia``, ``n_iter`` and ``init_centers``, and
    X's mean feature variance (the scale of ``tol``);
    ``labels`` stays None (the labels live with X: predict them lazily). On a
    ``distributed.Client``, X is persisted on the workers for the fit.
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
    tol_abs = float(np.mean(var_) * tol)
    sample = sample_rows(X, max(SAMPLE_ROWS, 3 * max(ks)), sample_seed).astype(dtype)
    sample_c = sample - mean
    sample_sq = np.einsum("ij,ij->i", sample_c, sample_c)
    runs = [FusedRun(k=int(k), seed=int(s)) for k, s in zip(ks, seeds, strict=True)]
    # each run starts from the best of SAMPLE_SEEDINGS k-means++ draws, each refined by
    # Lloyd on the sample (cheap: the sample is small); X then only polishes
    draws = [
        int(np.random.SeedSequence(run.seed, spawn_key=(j,)).generate_state(1)[0])
        for run in runs
        for j in range(SAMPLE_SEEDINGS)
    ]
    on_sample = fused_lloyd(
        sample_c,
        [run.k for run in runs for _ in range(SAMPLE_SEEDINGS)],
        draws,
        max_iter=max_iter,
        tol=tol,
    )
    centers = {}  # centered coordinates
    for i, run in enumerate(runs):
        tried = on_sample[i * SAMPLE_SEEDINGS : (i + 1) * SAMPLE_SEEDINGS]
        best = min(tried, key=lambda fit: fit.inertia)
        centers[id(run)] = best.centers.astype(dtype)
        run.init_centers = best.centers + mean
    blocks = [  # chunks without rows (after filtering) add nothing
        block
        for block, rows in zip(X.to_delayed().ravel().tolist(), X.chunks[0], strict=True)
        if rows > 0
    ]
    live, final = list(runs), set()
    while live:
        stacked = np.concatenate([centers[id(run)] for run in live])
        offsets = np.zeros(len(live) + 1, dtype=np.intp)
        offsets[1:] = np.cumsum([run.k for run in live])
        half_sq = 0.5 * np.einsum("ij,ij->i", stacked, stacked)
        final_pos = np.array([r for r, run in enumerate(live) if id(run) in final], dtype=np.intp)
        sums, counts, inertia = _map_chunks(blocks, mean, stacked, half_sq, offsets, final_pos)
        still = []
        for r, run in enumerate(live):
            if id(run) in final:
                run.inertia = float(inertia[r])
                continue
            run.n_iter += 1
            part = slice(offsets[r], offsets[r + 1])
            run_sums, run_counts = sums[part].copy(), counts[part].copy()
            old = centers[id(run)]
            if np.any(run_counts == 0):
                _relocate_to_sample(run_sums, run_counts, old, sample_c, sample_sq)
            new = (run_sums / np.maximum(run_counts, 1)[:, None]).astype(dtype)
            centers[id(run)] = new
            if float(((new - old) ** 2).sum()) <= tol_abs or run.n_iter >= max_iter:
                final.add(id(run))
            still.append(run)
        live = still
    for run in runs:
        run.centers = centers[id(run)] + mean
        run._rng = None
    return runs, float(np.mean(var_))


def _relocate_to_sample(sums, counts, centers, sample, sample_sq) -> None:
    """Move each empty cluster to the sample row farthest from the run's centers."""
    distances = sample_sq[:, None] - 2.0 * sample @ centers.T + (centers**2).sum(axis=1)
    farthest = np.argsort(distances.min(axis=1))[::-1]
    for new_id, row in zip(np.flatnonzero(counts == 0), farthest, strict=False):
        sums[new_id] = sample[row]
        counts[new_id] = 1


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
