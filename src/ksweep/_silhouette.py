"""The mean silhouette coefficient, exact in bounded memory or on a stratified sample.

Public through :mod:`ksweep.criteria` (``silhouette``, ``SilhouetteScore``,
``DEFAULT_SILHOUETTE_SAMPLE``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from ksweep._cluster_data import check_data, row_chunks
from ksweep._selection import check_int_at_least
from ksweep._threads import cpu_cores

#: Sample size KSweep uses for the silhouette when X has more samples than this.
#: The exact silhouette costs n² distance computations (about half a second per
#: 10⁸ distances in low dimension, on one core); a stratified sample of 10,000
#: keeps that to 10⁸ whatever n is.
DEFAULT_SILHOUETTE_SAMPLE = 10_000


@dataclass(frozen=True)
class SilhouetteScore:
    """The mean silhouette coefficient, and how it was computed.

    ``float(result)`` is ``result.score``.

    Parameters
    ----------
    score : float
        The mean silhouette coefficient over the samples used, in [-1, 1].
    n_samples_used : int
        How many samples entered the computation (all of them when ``exact``).
    exact : bool
        True when every sample was used, False for a sampled estimate.

    Examples
    --------
    >>> import numpy as np
    >>> from ksweep.criteria import SilhouetteScore, silhouette
    >>> X = np.array([[0.0], [1.0], [10.0], [11.0]])
    >>> result = silhouette(X, [0, 0, 1, 1])
    >>> isinstance(result, SilhouetteScore), round(float(result), 2), result.exact
    (True, 0.9, True)
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(0, 1, (50, 2)), rng.normal(10, 1, (50, 2))])
    >>> sampled = silhouette(X, [0] * 50 + [1] * 50, sample_size=20, random_state=0)
    >>> sampled.n_samples_used, sampled.exact
    (20, False)
    """

    score: float
    n_samples_used: int
    exact: bool

    def __float__(self) -> float:
        return self.score


def _silhouette_exact(X, codes: np.ndarray, counts: np.ndarray, chunk_size: int | None) -> float:
    """Mean silhouette of all rows of X, in row blocks; never holds an n × n array."""
    n_samples = X.shape[0]
    n_labels = counts.shape[0]
    # Sort the samples by cluster, so that the distances from one sample to each
    # cluster are contiguous slices of its row and one reduceat sums them all.
    order = np.argsort(codes, kind="stable")
    codes = codes[order]
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    if sp.issparse(X):
        X = X[order].astype(np.float64)
        sq_norms = np.asarray(X.multiply(X).sum(axis=1), dtype=np.float64).ravel()
        # the block of distances, its transposed product and the dense rows of the chunk
        row_bytes = 8 * (2 * n_samples + X.shape[1] + 2 * n_labels)
    else:
        X = np.asarray(X[order], dtype=np.float64)
        sq_norms = np.einsum("ij,ij->i", X, X)
        row_bytes = 8 * (n_samples + 2 * n_labels)
    # Blocks of half the working memory, fixed whatever the thread count (so is the sum),
    # run two at a time on threads when there are cores for them. One BLAS thread: each
    # product is a thin block of rows against all samples, where a threaded BLAS spends
    # more time synchronizing than computing (2-5x slower measured on 2 cores).
    blocks = list(row_chunks(n_samples, 2 * row_bytes, chunk_size))
    work = partial(_silhouette_block, X, sq_norms, codes, counts, starts)
    threads = min(2, cpu_cores(), len(blocks))
    with threadpool_limits(limits=1, user_api="blas"):
        if threads > 1:
            with ThreadPoolExecutor(threads) as pool:
                parts = list(pool.map(lambda block: work(*block), blocks))
        else:
            parts = [work(start, stop) for start, stop in blocks]
    return float(np.sum(parts)) / n_samples


def _silhouette_block(X, sq_norms, codes, counts, starts, start: int, stop: int) -> float:
    """Sum of s(i) over the rows ``start:stop`` of X (sorted by cluster)."""
    rows = np.arange(start, stop)
    if sp.issparse(X):
        dense_rows = X[start:stop].toarray()
        dist = np.ascontiguousarray((X @ dense_rows.T).T)
    else:
        dist = X[start:stop] @ X.T
    # squared Euclidean distances ||x||² - 2 x·y + ||y||², clipped at 0, in place
    dist *= -2.0
    dist += sq_norms[start:stop, None]
    dist += sq_norms[None, :]
    np.maximum(dist, 0.0, out=dist)
    dist[rows - start, rows] = 0.0
    np.sqrt(dist, out=dist)
    sums = np.add.reduceat(dist, starts, axis=1)  # (chunk, n_labels)
    del dist
    own = codes[start:stop]
    local = np.arange(stop - start)
    own_size = counts[own]
    with np.errstate(divide="ignore", invalid="ignore"):
        intra = sums[local, own] / (own_size - 1)
    mean_other = sums / counts[None, :]
    mean_other[local, own] = np.inf
    inter = mean_other.min(axis=1)
    denom = np.maximum(intra, inter)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = (inter - intra) / denom
    # singleton clusters score 0 (scikit-learn's convention), and so do samples
    # whose intra and inter distances are both 0 (duplicated points)
    values[(own_size == 1) | (denom == 0)] = 0.0
    return float(values.sum())


def _largest_remainder(quota: np.ndarray, total: int) -> np.ndarray:
    """Integers summing to ``total``, each the floor or ceiling of ``quota`` (sum = total)."""
    base = np.floor(quota).astype(np.int64)
    missing = total - int(base.sum())
    if missing > 0:
        # first the largest fractional parts; ties go to the lower index
        top = np.argsort(-(quota - base), kind="stable")[:missing]
        base[top] += 1
    return base


def _stratified_sample(codes, counts, sample_size, rng) -> np.ndarray:
    """Indices of a sample stratified by cluster, sorted.

    Each cluster first gets ``min(size, 2)`` members; the rest of the sample is
    shared among clusters in proportion to the part of their proportional share
    that exceeds this minimum (largest-remainder rounding), so every cluster's
    share is proportional to its size wherever the minimum does not bind.
    """
    n_samples = codes.shape[0]
    minimum = np.minimum(counts, 2)
    extra = sample_size - int(minimum.sum())
    target = sample_size * counts / n_samples
    excess = np.maximum(target - minimum, 0.0)
    alloc = minimum.copy()
    if extra > 0:
        alloc += _largest_remainder(extra * excess / excess.sum(), extra)
    # within each cluster, the members with the smallest random keys
    keys = rng.random(n_samples)
    order = np.lexsort((keys, codes))
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.arange(n_samples) - starts[codes[order]]
    return np.sort(order[rank < alloc[codes[order]]])


def silhouette(X, labels, *, sample_size=None, random_state=None, chunk_size=None):
    """Mean silhouette coefficient, exact in bounded memory or on a stratified sample.

    For each sample i, ``a(i)`` is its mean Euclidean distance to the other
    members of its cluster and ``b(i)`` the smallest mean distance to the members
    of another cluster; ``s(i) = (b(i) - a(i)) / max(a(i), b(i))``, and 0 for a
    sample alone in its cluster (scikit-learn's convention). The result is the
    mean of ``s(i)``, equal to ``sklearn.metrics.silhouette_score``.

    The exact path computes distances in blocks of rows against all samples
    (``||x||² - 2 x·y + ||y||²``, clipped at 0, in float64) and reduces each block
    to per-cluster sums at once, so memory stays bounded (about 16 MiB of
    distances by default, on top of a float64 copy of X) however large n is; the
    time is O(n² · n_features), about half a second per 10⁸ distances in
    low dimension. BLAS runs on one thread meanwhile: on such thin products a
    threaded BLAS was 2-5 times slower.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        The data; sparse input is converted to CSR. Computed in float64.
    labels : array-like of shape (n_samples,)
        Cluster label of each sample; 2 to ``n_samples - 1`` distinct values.
    sample_size : int or None, default=None
        None computes the exact silhouette. An int smaller than ``n_samples``
        draws a sample of that size stratified by cluster (every cluster gets a
        share proportional to its size, and at least ``min(size, 2)`` members) and
        returns the exact silhouette of the sample (distances among sampled points
        only). An int of at least ``n_samples`` is exact.
    random_state : int, numpy.random.Generator, numpy.random.SeedSequence or None
        Seeds the sample (through ``numpy.random.default_rng``); unused when exact.
    chunk_size : int or None, default=None
        Rows per block of distances. None sizes blocks to about 16 MiB.

    Returns
    -------
    SilhouetteScore
        ``score``, ``n_samples_used`` and ``exact``.

    See Also
    --------
    DEFAULT_SILHOUETTE_SAMPLE : the sample size KSweep uses for large n.

    Examples
    --------
    >>> import numpy as np
    >>> from ksweep.criteria import silhouette
    >>> X = np.array([[0.0], [1.0], [10.0], [11.0]])
    >>> result = silhouette(X, [0, 0, 1, 1])
    >>> round(result.score, 4), result.n_samples_used, result.exact
    (0.8997, 4, True)
    """
    check_int_at_least(sample_size, 2, "sample_size", "silhouette", none=True)
    check_int_at_least(chunk_size, 1, "chunk_size", "silhouette", none=True)
    X, codes, counts = check_data(X, labels, func="silhouette")
    n_samples = X.shape[0]
    if sample_size is None or sample_size >= n_samples:
        return SilhouetteScore(_silhouette_exact(X, codes, counts, chunk_size), n_samples, True)
    needed = int(np.minimum(counts, 2).sum())
    if sample_size < needed:
        raise ValueError(
            f"The 'sample_size' argument of silhouette must be at least {needed} for these "
            f"labels (2 members of each of the {counts.shape[0]} clusters, 1 of a singleton), "
            f"so that every cluster is represented. Got {sample_size} instead."
        )
    try:
        rng = np.random.default_rng(random_state)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            "The 'random_state' argument of silhouette must be an int >= 0, a numpy "
            f"Generator or SeedSequence, or None. Got {random_state!r} instead."
        ) from exc
    index = _stratified_sample(codes, counts, sample_size, rng)
    sub_codes = codes[index]
    score = _silhouette_exact(X[index], sub_codes, np.bincount(sub_codes), chunk_size)
    return SilhouetteScore(score, int(index.shape[0]), False)
