"""The fused mini-batch engine: every (k, restart) model of a stream learns from a batch at once.

``MiniBatchKMeans.partial_fit`` called once per model and batch reads the batch
once per model, in small products, with a fixed cost per call. Here the centers of
every model are stacked, so a batch is one product per block of rows
(``centers @ X_block.T``, in X's dtype, BLAS) followed by one compiled kernel
(:func:`ksweep._kernels.kernels` ``.assign_accumulate``) that labels each row for
every model and adds it to its center's sum and count.

Semantics per model are scikit-learn's ``MiniBatchKMeans.partial_fit`` (version
1.x), from the same ``RandomState(seed)`` and in the same order of draws, so a
fused model follows the model ``MiniBatchKMeans(n_clusters=k, random_state=seed)``
fed the same batches, up to float rounding:

- **Start** (first batch): ``_batch_size = min(batch_size, rows)``; ``init_size``
  defaults to ``3 * _batch_size`` (``3 * k`` if that is smaller than k) and is
  capped at the rows; when smaller than the batch, the start draws ``init_size``
  row indices with ``randint`` and seeds from those rows: greedy k-means++
  (:func:`sklearn.cluster.kmeans_plusplus` with the model's random state), or
  ``init="random"`` (``choice`` of k rows), or given centers.
- **Step**: each row goes to its nearest center (before the update); a center
  with new rows becomes ``(old × w + Σ rows) / (w + count)`` and its weight sum
  ``w`` grows by the count (the learning rate of each center is its share of
  the rows it has seen). Weight sums are kept in X's dtype, as scikit-learn does.
- **Reassignment**: ``_n_since_last_reassign`` grows by ``_batch_size`` per step;
  when a center had weight 0 before the step or it reaches ``10 × k``, the centers
  whose weight is below ``reassignment_ratio`` × the largest move to rows of the
  batch drawn with ``choice(rows, replace=False)`` (at most half the batch, the
  lightest first), and their weight becomes the smallest weight of the others.
- ``compute_labels=True``: the batch's labels under the new centers and their
  inertia (``labels_``, ``inertia_``), as scikit-learn sets them after each step.

Threads: the rows of a batch are cut into blocks of a size fixed by the number of
centers and the dtype; threads take disjoint ranges of blocks (``_blocks.Split``),
each block computes its own partial sums, and the partial sums are added in block
order, so the thread count never changes a bit of the result. BLAS runs with one
thread (the caller caps it).
"""

from __future__ import annotations

import copy
import warnings
from functools import partial
from typing import Any

import numpy as np
from sklearn.cluster import MiniBatchKMeans, kmeans_plusplus
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

from ksweep._blocks import Split as _Split
from ksweep._kernels import kernels, numba_available

#: Upper bound on the bytes of one block of products (rows × Σk × itemsize): small enough
#: for the products to stay in cache between the BLAS call and the kernel.
STREAM_BLOCK_BYTES = 2**19
#: Upper bound on the bytes of a batch's partial center sums (one set per chunk of blocks).
PARTIAL_SUMS_BYTES = 8 * 2**20
#: scikit-learn's ``n_init="auto"`` for ``MiniBatchKMeans`` with a non-k-means++ init.
MINIBATCH_DEFAULT_N_INIT = 3


def stream_block_rows(total_k: int, itemsize: int) -> int:
    """Rows per block: fixed by the centers and dtype, never by the thread count."""
    return int(max(256, STREAM_BLOCK_BYTES // max(1, total_k * itemsize)))


def stream_unsupported(template: Any, score_func: Any) -> str | None:
    """Why the fused mini-batch engine cannot run this stream, or None when it can.

    ``template`` is the estimator each model clones (``KMeans`` already swept as
    ``MiniBatchKMeans``).
    """
    if type(template) is not MiniBatchKMeans:
        return (
            "it updates scikit-learn's KMeans and MiniBatchKMeans only, "
            f"not {type(template).__name__}"
        )
    init = template.get_params(deep=False)["init"]
    if not (isinstance(init, str) and init in ("k-means++", "random")):
        return f"it starts from init='k-means++' or 'random' only, not init={init!r}"
    if template.verbose:
        return f"it does not print progress (verbose={template.verbose!r})"
    if score_func is not None:
        return "a score_func is set"
    if not numba_available():
        return "numba is not installed (pip install 'ksweep[fast]')"
    return None


def _row_blocks(n_rows: int, rows: int) -> list[tuple[int, int]]:
    return [(start, min(n_rows, start + rows)) for start in range(0, n_rows, rows)]


class FusedMiniBatch:
    """Mini-batch k-means models, one per ``(k, seed)``, updated together batch by batch.

    Parameters
    ----------
    ks, seeds : sequence of int
        Clusters and ``random_state`` of each model (run).
    init : {"k-means++", "random"} or list of ndarray, default="k-means++"
        How each run starts; a list gives each run its initial centers.
    batch_size, init_size, reassignment_ratio, compute_labels, tol, n_init
        ``MiniBatchKMeans``'s parameters of the same names.

    Attributes
    ----------
    centers : ndarray of shape (sum(ks), n_features)
        Every run's centers, stacked (run r's are ``centers[offsets[r]:offsets[r + 1]]``).
    weights : ndarray of shape (sum(ks),)
        Each center's weight sum (scikit-learn's ``_counts``), in X's dtype.
    n_steps : int
        Batches learned from.
    batch_inertia : ndarray of shape (n_runs,)
        With ``compute_labels``: each run's inertia on the last batch (else NaN).
    """

    def __init__(
        self,
        ks,
        seeds,
        *,
        init: Any = "k-means++",
        batch_size: int = 1024,
        init_size: int | None = None,
        reassignment_ratio: float = 0.01,
        compute_labels: bool = False,
        tol: float = 0.0,
        n_init: Any = "auto",
    ):
        self.ks = np.asarray(ks, dtype=np.intp)
        self.seeds = [int(seed) for seed in seeds]
        self.offsets = np.zeros(self.ks.size + 1, dtype=np.intp)
        self.offsets[1:] = np.cumsum(self.ks)
        self.init = init
        self.batch_size = int(batch_size)
        self.init_size = init_size
        self.reassignment_ratio = float(reassignment_ratio)
        self.compute_labels = bool(compute_labels)
        self.tol = tol
        self.n_init = n_init
        self.random_states = [np.random.RandomState(seed) for seed in self.seeds]
        self.centers: np.ndarray | None = None
        self.weights: np.ndarray | None = None
        self.n_since_last_reassign = np.zeros(self.ks.size, dtype=np.int64)
        self.n_steps = 0
        self.batch_size_ = 0
        self.init_sizes = np.zeros(self.ks.size, dtype=np.intp)
        self.tol_: Any = 0
        self.labels: np.ndarray | None = None
        self.batch_inertia = np.full(self.ks.size, np.nan)
        self.n_threads_ = 1
        self.draws = np.zeros(self.ks.size, dtype=np.int64)  # draw calls per run's state
        self._fitted: dict[int, MiniBatchKMeans] = {}
        self._synced: dict[int, int] = {}

    @classmethod
    def from_models(cls, models: list[MiniBatchKMeans]) -> FusedMiniBatch:
        """The engine for unfitted models that differ only in ``n_clusters``/``random_state``.

        Their parameters are checked here, as their own partial_fit would.
        """
        for model in models:
            model._validate_params()
        first = models[0]
        return cls(
            [model.n_clusters for model in models],
            [model.random_state for model in models],
            init=first.init,
            batch_size=first.batch_size,
            init_size=first.init_size,
            reassignment_ratio=first.reassignment_ratio,
            compute_labels=first.compute_labels,
            tol=first.tol,
            n_init=first.n_init,
        )

    @property
    def n_runs(self) -> int:
        """Number of models."""
        return int(self.ks.size)

    def run_centers(self, r: int) -> np.ndarray:
        """Run r's centers (a view)."""
        return self.centers[self.offsets[r] : self.offsets[r + 1]]

    # -- start ----------------------------------------------------------------------

    def _start(self, X: np.ndarray) -> None:
        """Seed every run from the first batch, as scikit-learn's first partial_fit does."""
        n_rows = X.shape[0]
        self.batch_size_ = min(self.batch_size, n_rows)
        self.tol_ = 0 if self.tol == 0 else np.mean(np.var(X, axis=0)) * self.tol
        self.centers = np.empty((int(self.offsets[-1]), X.shape[1]), dtype=X.dtype)
        self.weights = np.zeros(int(self.offsets[-1]), dtype=X.dtype)
        self.n_threads_ = _openmp_effective_n_threads()
        for r, k in enumerate(self.ks.tolist()):
            if n_rows < k:
                raise ValueError(f"n_samples={n_rows} should be >= n_clusters={k}.")
            self.init_sizes[r] = self._init_size(int(k), n_rows)
            self.run_centers(r)[:] = self._initial_centers(r, int(k), X)

    def _init_size(self, k: int, n_rows: int) -> int:
        size = self.init_size
        if size is None:
            size = 3 * self.batch_size_
            if size < k:
                size = 3 * k
        elif size < k:
            warnings.warn(
                f"init_size={size} should be larger than n_clusters={k}. Setting it to "
                "min(3*n_clusters, n_samples)",
                RuntimeWarning,
                stacklevel=4,
            )
            size = 3 * k
        return min(size, n_rows)

    def _initial_centers(self, r: int, k: int, X: np.ndarray) -> np.ndarray:
        state = self.random_states[r]
        self.draws[r] += 1
        sample = X
        if self.init_sizes[r] < X.shape[0]:
            sample = X[state.randint(0, X.shape[0], int(self.init_sizes[r]))]
        if isinstance(self.init, str) and self.init == "k-means++":
            centers, _ = kmeans_plusplus(sample, k, random_state=state)
            return centers
        if isinstance(self.init, str) and self.init == "random":
            weight = np.ones(sample.shape[0], dtype=X.dtype)
            rows = state.choice(sample.shape[0], size=k, replace=False, p=weight / weight.sum())
            return sample[rows]
        centers = np.asarray(self.init[r], dtype=X.dtype)
        if centers.shape != (k, X.shape[1]):
            raise ValueError(
                f"The shape of the initial centers {centers.shape} does not match the number "
                f"of clusters {k} and features {X.shape[1]}."
            )
        return centers

    def sklearn_n_init(self) -> int:
        """``_n_init`` as scikit-learn sets it (k-means++ or centers: 1 for ``"auto"``)."""
        if self.n_init != "auto":
            return int(self.n_init)
        if isinstance(self.init, str) and self.init == "random":
            return MINIBATCH_DEFAULT_N_INIT
        return 1

    # -- one batch ------------------------------------------------------------------

    def partial_fit(self, X: np.ndarray, threads: int = 1) -> FusedMiniBatch:
        """Learn from one batch (float32 or float64, the dtype of the first batch)."""
        kernels()  # without numba, fail before any change
        X = np.ascontiguousarray(X, dtype=None if self.centers is None else self.centers.dtype)
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        if self.centers is None:
            self._start(X)
        reassign = []
        for r, k in enumerate(self.ks.tolist()):
            self.n_since_last_reassign[r] += self.batch_size_
            empty = bool(np.any(self.weights[self.offsets[r] : self.offsets[r + 1]] == 0))
            due = empty or self.n_since_last_reassign[r] >= 10 * k
            if due:
                self.n_since_last_reassign[r] = 0
            reassign.append(due)
        sums, counts = self._assign(X, threads)
        self._move_centers(sums, counts)
        if self.reassignment_ratio > 0:
            for r in np.flatnonzero(reassign).tolist():
                self._reassign(r, X)
        if self.compute_labels:
            self.labels, self.batch_inertia = self._label_batch(X, threads)
        self.n_steps += 1
        return self

    def _assign(self, X: np.ndarray, threads: int) -> tuple[np.ndarray, np.ndarray]:
        """Each center's sum (float64) and count of the batch rows nearest to it.

        Consecutive blocks form chunks (at most ``PARTIAL_SUMS_BYTES`` of partial sums
        in all); each chunk adds its blocks in order into its own partial sums, and
        the chunks' sums are added in order: fixed by the data, not by the threads.
        """
        total_k, n_features = self.centers.shape
        blocks = _row_blocks(X.shape[0], stream_block_rows(total_k, X.dtype.itemsize))
        most = max(1, PARTIAL_SUMS_BYTES // (total_k * n_features * 8))
        chunks = np.array_split(np.arange(len(blocks)), min(len(blocks), most))
        sums = np.zeros((len(chunks), total_k, n_features))
        counts = np.zeros((len(chunks), total_k), dtype=np.int64)
        half_sq = 0.5 * np.einsum("ij,ij->i", self.centers, self.centers)
        work = partial(self._assign_chunks, X, blocks, chunks, half_sq, sums, counts)
        self._each(threads, [sum(blocks[b][1] - blocks[b][0] for b in c) for c in chunks], work)
        return sums.sum(axis=0), counts.sum(axis=0)

    def _assign_chunks(self, X, blocks, chunks, half_sq, sums, counts, first, last) -> None:
        kern = kernels()
        for c in range(first, last):
            for b in chunks[c].tolist():
                block = X[blocks[b][0] : blocks[b][1]]
                G = self.centers @ block.T
                kern.minibatch_sums(block, G, half_sq, self.offsets, sums[c], counts[c])

    def _move_centers(self, sums: np.ndarray, counts: np.ndarray) -> None:
        """scikit-learn's count-weighted update of every center that received rows."""
        hit = np.flatnonzero(counts)
        old_weight = self.weights[hit]
        new_weight = old_weight + counts[hit].astype(self.weights.dtype)
        scale = (1 / new_weight).astype(np.float64)  # the update's rate, in X's dtype
        moved = self.centers[hit] * old_weight[:, np.newaxis].astype(np.float64) + sums[hit]
        self.centers[hit] = moved * scale[:, np.newaxis]
        self.weights[hit] = new_weight

    def _reassign(self, r: int, X: np.ndarray) -> None:
        """Move run r's light centers to random rows of the batch (scikit-learn's rule)."""
        weight = self.weights[self.offsets[r] : self.offsets[r + 1]]
        centers = self.run_centers(r)
        to_reassign = weight < self.reassignment_ratio * weight.max()
        if to_reassign.sum() > 0.5 * X.shape[0]:  # at most half the batch, the lightest
            to_reassign[np.argsort(weight)[int(0.5 * X.shape[0]) :]] = False
        n_reassigns = int(to_reassign.sum())
        if n_reassigns:
            rows = self.random_states[r].choice(X.shape[0], replace=False, size=n_reassigns)
            self.draws[r] += 1
            centers[to_reassign] = X[rows]
        if n_reassigns < weight.size:  # (all of them: scikit-learn fails on an empty min)
            weight[to_reassign] = np.min(weight[~to_reassign])

    def _label_batch(self, X: np.ndarray, threads: int) -> tuple[np.ndarray, np.ndarray]:
        """Labels of the batch under the current centers and each run's exact inertia."""
        labels = np.empty((X.shape[0], self.n_runs), dtype=np.int32)
        inertia = self._blockwise(X, threads, partial(self._label_blocks, labels))
        return labels, inertia

    def _label_blocks(self, keep, X, blocks, half_sq, inertia, first: int, last: int) -> None:
        kern = kernels()
        scratch = _Scratch(blocks[first][1] - blocks[first][0], self.n_runs, X.dtype)
        sums = np.zeros((self.centers.shape[0], X.shape[1]))
        counts = np.zeros(self.centers.shape[0], dtype=np.int64)
        for b in range(first, last):
            start, stop = blocks[b]
            block = X[start:stop]
            unlabelled, labels, changes, approx, zeros = scratch.take(stop - start)
            G = self.centers @ block.T
            kern.assign_accumulate(
                block, G, half_sq, self.offsets, sums, counts, unlabelled, labels, changes,
                approx, zeros,
            )  # fmt: skip
            for r in range(self.n_runs):
                own = np.ascontiguousarray(labels[:, r])
                inertia[b, r] = kern.exact_inertia(block, self.run_centers(r), own)
            keep[start:stop] = labels

    # -- scoring --------------------------------------------------------------------

    def score(self, rows: np.ndarray, threads: int = 1) -> np.ndarray:
        """Each run's sum of squared distances of ``rows`` to its nearest center (float64).

        The nearest center comes from the same product and ranking as a step; the
        distance to it is then computed exactly, in float64.
        """
        rows = np.ascontiguousarray(rows, dtype=self.centers.dtype)
        return self._blockwise(rows, threads, self._score_blocks)

    def _score_blocks(self, X, blocks, half_sq, inertia, first: int, last: int) -> None:
        kern = kernels()
        for b in range(first, last):
            block = X[blocks[b][0] : blocks[b][1]]
            G = self.centers @ block.T
            kern.nearest_inertia(block, G, half_sq, self.offsets, self.centers, inertia[b])

    def _blockwise(self, X: np.ndarray, threads: int, work) -> np.ndarray:
        """``work`` on blocks of X's rows in threads; per-run totals added in block order."""
        blocks = _row_blocks(X.shape[0], stream_block_rows(self.centers.shape[0], X.itemsize))
        inertia = np.zeros((len(blocks), self.n_runs))
        half_sq = 0.5 * np.einsum("ij,ij->i", self.centers, self.centers)
        work = partial(work, X, blocks, half_sq, inertia)
        self._each(threads, [stop - start for start, stop in blocks], work)
        return inertia.sum(axis=0)

    def _each(self, threads: int, weights: list[int], work) -> None:
        """``work`` over ranges of ``weights`` in ``threads`` threads: a pool kept from
        batch to batch (a stream calls this several times per batch)."""
        split = self.__dict__.get("_split")
        if split is None or split.threads != max(1, int(threads)):
            if split is not None:
                split.close()
            split = self.__dict__["_split"] = _Split(threads)
        split.each(weights, work)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_split", None)  # threads do not pickle; the next batch starts new ones
        return state

    def __del__(self) -> None:
        split = self.__dict__.get("_split")
        if split is not None:
            split.close(wait=False)

    # -- as scikit-learn estimators -------------------------------------------------

    def fitted(self, model: MiniBatchKMeans, r: int) -> MiniBatchKMeans:
        """Run r as a fitted ``MiniBatchKMeans``: the attributes partial_fit sets, from now.

        ``model`` is run r's unfitted estimator. The same object is returned (and
        refreshed) at every call, as one model is updated in place by the per-model
        path; its ``_random_state`` is a copy of the run's, synchronised after draws.
        """
        fitted = self._fitted.get(r)
        if fitted is None:
            fitted = copy.copy(model)
            fitted._random_state = np.random.RandomState()
            self._fitted[r] = fitted
            self._synced[r] = -1
        if self._synced[r] != self.draws[r]:
            fitted._random_state.set_state(self.random_states[r].get_state())
            self._synced[r] = int(self.draws[r])
        fitted.__dict__.update(
            n_features_in_=int(self.centers.shape[1]),
            n_steps_=self.n_steps,
            _tol=self.tol_,
            _n_init=self.sklearn_n_init(),
            _batch_size=self.batch_size_,
            _init_size=int(self.init_sizes[r]),
            _n_threads=self.n_threads_,
            cluster_centers_=self.run_centers(r).copy(),
            _counts=self.weights[self.offsets[r] : self.offsets[r + 1]].copy(),
            _n_since_last_reassign=int(self.n_since_last_reassign[r]),
            _n_features_out=int(self.ks[r]),
        )
        if self.compute_labels:
            fitted.labels_ = np.ascontiguousarray(self.labels[:, r])
            fitted.inertia_ = float(self.batch_inertia[r])
        return fitted


class _Scratch:
    """Per-thread buffers of the assignment kernel, for blocks of up to ``rows`` rows."""

    def __init__(self, rows: int, n_runs: int, dtype):
        self.unlabelled = np.full((rows, n_runs), -1, dtype=np.int32)
        self.labels = np.empty((rows, n_runs), dtype=np.int32)
        self.changes = np.zeros(n_runs, dtype=np.int64)
        self.inertia = np.zeros(n_runs)
        self.zeros = np.zeros(rows, dtype=dtype)

    def take(self, rows: int):
        """Buffers for a block of ``rows`` rows (no row labelled before)."""
        return (
            self.unlabelled[:rows],
            self.labels[:rows],
            self.changes,
            self.inertia,
            self.zeros[:rows],
        )


__all__ = ["STREAM_BLOCK_BYTES", "FusedMiniBatch", "stream_block_rows", "stream_unsupported"]
