"""Labelled data shared by the criteria: input checks, row blocks, cluster means."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_array

#: Upper bound, in bytes, on the block of distances (and the other per-row
#: arrays) the exact silhouette holds at once when ``chunk_size`` is None. Blocks
#: of this size were the fastest measured (2-core Xeon, n = 12,000, 2 to 1,024
#: features): smaller ones starve the matrix product, larger ones fall out of cache.
WORKING_MEMORY = 16 * 2**20


def check_data(X, labels, *, func: str):
    """Validate ``(X, labels)``; return X (float, dense or CSR), label codes and counts."""
    X = check_array(X, accept_sparse="csr", dtype=[np.float64, np.float32], input_name="X")
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(
            f"The 'labels' argument of {func} must be a 1-D array-like. "
            f"Got an array of shape {labels.shape} instead."
        )
    n_samples = X.shape[0]
    if labels.shape[0] != n_samples:
        raise ValueError(
            f"The 'labels' argument of {func} must have one entry per sample of X. "
            f"Got {labels.shape[0]} labels for {n_samples} samples instead."
        )
    _, codes = np.unique(labels, return_inverse=True)
    codes = codes.reshape(-1).astype(np.intp, copy=False)
    counts = np.bincount(codes)
    n_labels = counts.shape[0]
    if not 2 <= n_labels <= n_samples - 1:
        raise ValueError(
            f"Number of labels is {n_labels}. Valid values are 2 to n_samples - 1 (inclusive): "
            f"the 'labels' argument of {func} must hold 2 to {n_samples - 1} distinct values "
            f"for {n_samples} samples."
        )
    return X, codes, counts


def rows_as_float64(X, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of dense or CSR X as a dense float64 array."""
    block = X[start:stop]
    if sp.issparse(block):
        block = block.toarray()
    return np.asarray(block, dtype=np.float64)


def row_chunks(n_rows: int, row_bytes: int, chunk_size: int | None):
    """``(start, stop)`` pairs covering ``range(n_rows)`` in blocks of bounded size."""
    if chunk_size is None:
        chunk_size = max(1, WORKING_MEMORY // max(row_bytes, 1))
    for start in range(0, n_rows, chunk_size):
        yield start, min(start + chunk_size, n_rows)


def cluster_means(X, codes: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Mean of every cluster, shape (n_labels, n_features), in float64."""
    n_samples = X.shape[0]
    indicator = sp.csr_matrix(
        (np.ones(n_samples), (codes, np.arange(n_samples))), shape=(counts.shape[0], n_samples)
    )
    sums = indicator @ X
    if sp.issparse(sums):
        sums = sums.toarray()
    return np.asarray(sums, dtype=np.float64) / counts[:, None]


def distances_to_own_mean(X, codes: np.ndarray, means: np.ndarray):
    """``(rows, squared distance of each row to its cluster's mean)`` in bounded row blocks."""
    row_bytes = 8 * X.shape[1] * 2
    for start, stop in row_chunks(X.shape[0], row_bytes, None):
        diff = rows_as_float64(X, start, stop) - means[codes[start:stop]]
        yield slice(start, stop), np.einsum("ij,ij->i", diff, diff)
