"""Data-parallel Lloyd k-means: statistics per chunk, and a driver that reads only their sum.

Where X lives in chunks elsewhere (dask workers, Spark partitions), a Lloyd
iteration for every run of a sweep at once is:

1. the driver packs the live runs' centers into a small :class:`ChunkState`;
2. every chunk computes :func:`chunk_statistics` (the per-center sums and counts
   of the rows nearest to each center, for every run, from the fused engine's
   compiled kernel) as one flat float64 array;
3. the runner adds these arrays up *where the data is* (a tree reduction on the
   workers, ``treeAggregate`` on Spark) and hands the driver one array, the same
   size whatever the number of chunks;
4. :func:`data_parallel_lloyd` turns the sums into new centers, relocates empty
   clusters, and decides which runs stop.

The interface a runner implements is one callable::

    def reduce(state: ChunkState) -> np.ndarray:
        # sum over all chunks of chunk_statistics(chunk, state): a 1-D float64 array
        # of state.size values (ship `state` to the chunks once per call)

Runs stop as in scikit-learn's Lloyd (squared center shift summed over centers <=
``tol`` x X's mean feature variance, or ``max_iter`` iterations); a run that stops
takes one more pass, in which its chunks compute the exact inertia of its final
centers. An empty cluster takes the ``relocation_rows`` row farthest from its run's
centers. Everything here is numerics: it imports no executor, shipping or dask code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ksweep._blocks import block_rows
from ksweep._fused import FusedRun, fused_lloyd, lloyd_update
from ksweep._kernels import kernels
from ksweep._seeding import draw_seed

#: k-means++ draws per run on the sample, each refined by Lloyd there; the best starts the run.
SAMPLE_SEEDINGS = 5


@dataclass(frozen=True)
class ChunkState:
    """What every chunk reads for one pass: the live runs' centers, never rows.

    Attributes
    ----------
    mean : ndarray of shape (n_features,)
        X's column means, in X's dtype: chunks are centered by it (as the centers are).
    centers : ndarray of shape (sum of k, n_features)
        The live runs' centers stacked, in centered coordinates and X's dtype.
    half_sq : ndarray of shape (sum of k,)
        Half the squared norm of each center.
    offsets : ndarray of shape (n_runs + 1,)
        Run r owns ``centers[offsets[r]:offsets[r + 1]]``.
    final_runs : ndarray of int
        Positions of the runs whose centers are final: their chunks compute the
        exact inertia (the others' inertia is the assignment's expansion).
    """

    mean: np.ndarray
    centers: np.ndarray
    half_sq: np.ndarray
    offsets: np.ndarray
    final_runs: np.ndarray

    @property
    def size(self) -> int:
        """Length of the statistics array: sums, counts, then one inertia per run."""
        return self.centers.size + self.centers.shape[0] + self.offsets.size - 1

    def unpack(self, stats: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(sums, counts, inertia)`` views of a statistics array."""
        n_centers, n_features = self.centers.shape
        sums = stats[: n_centers * n_features].reshape(n_centers, n_features)
        counts = stats[n_centers * n_features : n_centers * (n_features + 1)]
        return sums, counts, stats[n_centers * (n_features + 1) :]


def chunk_statistics(chunk: np.ndarray, state: ChunkState) -> np.ndarray:
    """The statistics of one chunk of rows of X for every live run: a float64 array.

    Per center, the sum of the chunk's rows nearest to it (in centered coordinates)
    and their count; per run, the sum of squared distances (exact for the runs in
    ``state.final_runs``). Summing these arrays over the chunks of X gives X's.
    Runs with the caller's thread settings (one BLAS thread on a dask worker).
    """
    kern = kernels()
    centers, offsets = state.centers, state.offsets
    Xc = np.ascontiguousarray(chunk, dtype=centers.dtype) - state.mean
    stats = np.zeros(state.size)
    sums, counts_f, inertia = state.unpack(stats)
    counts = np.zeros(centers.shape[0], dtype=np.int64)
    if Xc.shape[0] == 0:
        return stats
    x_sq = np.einsum("ij,ij->i", Xc, Xc)
    labels = np.empty((Xc.shape[0], offsets.size - 1), dtype=np.int32)
    unlabelled = np.full_like(labels, -1)  # every row adds to its center's sum
    changes = np.zeros(offsets.size - 1, dtype=np.int64)
    rows = block_rows(Xc.shape[0], centers.shape[0], Xc.dtype.itemsize)
    for start in range(0, Xc.shape[0], rows):
        part = slice(start, start + rows)
        kern.assign_accumulate(
            Xc[part],
            centers @ Xc[part].T,  # one row per center
            state.half_sq,
            offsets,
            sums,
            counts,
            unlabelled[part],
            labels[part],
            changes,
            inertia,
            x_sq[part],
        )
    counts_f[:] = counts
    for r in state.final_runs:
        run_centers = np.ascontiguousarray(centers[offsets[r] : offsets[r + 1]])
        inertia[r] = kern.exact_inertia(Xc, run_centers, np.ascontiguousarray(labels[:, r]))
    return stats


def add_statistics(*parts: np.ndarray) -> np.ndarray:
    """The sum of statistics arrays, added in order (a node of a tree reduction)."""
    total = np.array(parts[0], dtype=np.float64)
    for part in parts[1:]:
        total += part
    return total


def seed_from_sample(
    sample: np.ndarray, ks: list[int], seeds: list[int], *, max_iter: int, tol: float
) -> list[np.ndarray]:
    """Initial centers for every ``(k, seed)`` from a sample of rows (centered coordinates).

    For each run, :data:`SAMPLE_SEEDINGS` greedy k-means++ draws, each refined by
    Lloyd on the sample; the one with the lowest sample inertia is returned, in
    the sample's dtype.
    """
    draws = [draw_seed(seed, j) for seed in seeds for j in range(SAMPLE_SEEDINGS)]
    on_sample = fused_lloyd(
        sample, [k for k in ks for _ in range(SAMPLE_SEEDINGS)], draws, max_iter=max_iter, tol=tol
    )
    centers = []
    for i in range(len(ks)):
        tried = on_sample[i * SAMPLE_SEEDINGS : (i + 1) * SAMPLE_SEEDINGS]
        centers.append(min(tried, key=lambda fit: fit.inertia).centers.astype(sample.dtype))
    return centers


def data_parallel_lloyd(
    reduce: Callable[[ChunkState], np.ndarray],
    ks: list[int],
    seeds: list[int],
    init_centers: list[np.ndarray],
    *,
    mean: np.ndarray,
    mean_variance: float,
    max_iter: int,
    tol: float,
    relocation_rows: np.ndarray,
) -> list[FusedRun]:
    """Lloyd k-means for every run at once, over X that only ``reduce`` can read.

    Parameters
    ----------
    reduce : callable
        ``reduce(state) -> ndarray``: the sum over every chunk of X of
        ``chunk_statistics(chunk, state)`` (see the module docstring). Called once
        per iteration.
    ks, seeds : list of int
        Clusters of each run, and the seed it is recorded with.
    init_centers : list of ndarray of shape (k, n_features)
        Each run's initial centers, in centered coordinates (``X - mean``), X's dtype.
    mean : ndarray of shape (n_features,)
        X's column means, in X's dtype.
    mean_variance : float
        X's mean feature variance: ``tol`` is relative to it (scikit-learn's rule).
    max_iter : int
        Most Lloyd iterations per run.
    tol : float
        Relative tolerance on the squared center shift.
    relocation_rows : ndarray of shape (n_rows, n_features)
        Rows of X in centered coordinates (a sample) that empty clusters move to.

    Returns
    -------
    list of FusedRun
        With ``init_centers`` and ``centers`` in X's coordinates, ``inertia`` (exact,
        float64) and ``n_iter``; ``labels`` stays None (the labels live with X).
    """
    dtype = mean.dtype
    tol_abs = float(mean_variance * tol)
    relocation_sq = np.einsum("ij,ij->i", relocation_rows, relocation_rows)
    runs = [FusedRun(k=int(k), seed=int(s)) for k, s in zip(ks, seeds, strict=True)]
    centers = {}
    for run, start in zip(runs, init_centers, strict=True):
        centers[id(run)] = start
        run.init_centers = start + mean

    def relocate(sums, counts, old) -> None:
        _relocate_to_rows(sums, counts, old, relocation_rows, relocation_sq)

    live, final = list(runs), set()
    while live:
        stacked = np.concatenate([centers[id(run)] for run in live])
        offsets = np.zeros(len(live) + 1, dtype=np.intp)
        offsets[1:] = np.cumsum([run.k for run in live])
        final_pos = np.array([r for r, run in enumerate(live) if id(run) in final], dtype=np.intp)
        state = ChunkState(
            mean, stacked, 0.5 * np.einsum("ij,ij->i", stacked, stacked), offsets, final_pos
        )
        sums, counts, inertia = state.unpack(reduce(state))
        still = []
        for r, run in enumerate(live):
            if id(run) in final:
                run.inertia = float(inertia[r])
                continue
            part = slice(offsets[r], offsets[r + 1])
            old = centers[id(run)]
            new, shift = lloyd_update(run, old, sums[part], counts[part], relocate, dtype)
            centers[id(run)] = new
            if shift <= tol_abs or run.n_iter >= max_iter:
                final.add(id(run))
            still.append(run)
        live = still
    for run in runs:
        run.centers = centers[id(run)] + mean
    return runs


def _relocate_to_rows(sums, counts, centers, rows, rows_sq) -> None:
    """Move each empty cluster to the row farthest from the run's centers."""
    distances = rows_sq[:, None] - 2.0 * rows @ centers.T + (centers**2).sum(axis=1)
    farthest = np.argsort(distances.min(axis=1))[::-1]
    for new_id, row in zip(np.flatnonzero(counts == 0), farthest, strict=False):
        sums[new_id] = rows[row]
        counts[new_id] = 1
