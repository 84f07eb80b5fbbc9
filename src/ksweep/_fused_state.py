"""Where fused runs stand between passes, and the pass that finds labels from centers.

A run of the fused engine (:mod:`ksweep._fused`) that is stopped between two passes
goes on bit for bit from a :class:`LloydState`: its centers, the centers its labels
were assigned to (the labels themselves, one per row, are found again by
:func:`nearest_labels`), and its sums and counts, which are kept because the engine
adds up only the rows that move. A finished run is found again from its final
centers the same way (:func:`ksweep._fused.rebuild_runs`).

A row's label depends only on its products with its own run's centers (one entry
of ``centers @ X_block.T`` each, a dot product over the features) and on the per-run
argmin kernel. The engine relies on BLAS giving each entry the same bits whatever
other centers and rows share the product, as the regrouped resume of a checkpoint
always has; ``tests/test_fused.py`` and ``tests/test_checkpoint_safety.py`` check it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ksweep._blocks import block_rows, row_blocks
from ksweep._kernels import kernels


@dataclass
class LloydState:
    """Where an unfinished run stands between two passes: enough to go on bit for bit.

    Arrays are in the engine's coordinates (X less its column means).

    Attributes
    ----------
    assigned : ndarray of shape (k, n_features)
        The centers its last pass assigned the rows to; the labels are recomputed
        from them (each row's nearest, as that pass found it).
    centers : ndarray of shape (k, n_features)
        The centers of its next pass.
    sums : ndarray of shape (k, n_features), float64
        Each center's sum of the rows under those labels: kept, not recomputed (the
        engine adds up only the rows that move, so a fresh sum could round otherwise).
    counts : ndarray of shape (k,), int64
        Each center's number of rows under those labels.
    n_iter : int
        Lloyd iterations run.
    last_inertia : float or None
        The tslearn rule's mean inertia of the last pass (None for scikit-learn's).
    final : bool
        Its next pass is its last: it only assigns the rows to ``centers``.
    """

    assigned: np.ndarray
    centers: np.ndarray
    sums: np.ndarray
    counts: np.ndarray
    n_iter: int
    last_inertia: float | None
    final: bool

    @classmethod
    def from_fields(cls, fields: Any, k: int, n_features: int) -> LloydState | None:
        """The state of a run with ``k`` centers from stored fields, or None where they
        do not make one (missing, another shape, another type)."""
        try:
            state = cls(**fields)
            shapes = [np.shape(state.assigned), np.shape(state.centers), np.shape(state.sums)]
            valid = (
                all(shape == (k, n_features) for shape in shapes)
                and np.shape(state.counts) == (k,)
                and isinstance(state.n_iter, int)
                and state.n_iter >= 1
                and isinstance(state.final, bool)
                and (state.last_inertia is None or isinstance(state.last_inertia, float))
            )
        except TypeError:
            return None
        return state if valid else None


def centered_data(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """X (contiguous, float32 or float64), X less its column means, the means, and the
    squared norms of the centered rows: the coordinates the engine computes in."""
    X = np.ascontiguousarray(X)
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    mean = X.mean(axis=0)
    Xc = X - mean
    return X, Xc, mean, np.einsum("ij,ij->i", Xc, Xc)


def nearest_labels(Xc: np.ndarray, x_sq: np.ndarray, centers: list[np.ndarray]) -> np.ndarray:
    """Each row's nearest center in each run, as a pass of the engine finds it (the same
    products and kernel; no other run changes a bit of it): shape ``(n_samples, runs)``."""
    kern = kernels()
    n, n_features = Xc.shape
    stacked = np.concatenate(centers)
    offsets = np.zeros(len(centers) + 1, dtype=np.intp)
    offsets[1:] = np.cumsum([c.shape[0] for c in centers])
    half_sq = 0.5 * np.einsum("ij,ij->i", stacked, stacked)
    previous = np.full((n, len(centers)), -1, dtype=np.int32)
    labels = np.empty_like(previous)
    sums, counts = np.zeros((len(stacked), n_features)), np.zeros(len(stacked), np.int64)
    changes, inertia = np.zeros(len(centers), dtype=np.int64), np.zeros(len(centers))
    for start, stop in row_blocks(n, block_rows(n, len(stacked), Xc.dtype.itemsize)):
        G = stacked @ Xc[start:stop].T
        kern.assign_accumulate(
            Xc[start:stop],
            G,
            half_sq,
            offsets,
            sums,
            counts,
            previous[start:stop],
            labels[start:stop],
            changes,
            inertia,
            x_sq[start:stop],
        )
    return labels


__all__ = ["LloydState", "centered_data", "nearest_labels"]
