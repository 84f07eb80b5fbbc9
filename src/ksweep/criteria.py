"""Clustering criteria and the selection rules that read them.

Two kinds of pure functions live here:

- **criteria** of one clustering, ``(X, labels) -> value``: :func:`silhouette`,
  :func:`calinski_harabasz` and :func:`davies_bouldin`. They agree with
  scikit-learn's ``silhouette_score``, ``calinski_harabasz_score`` and
  ``davies_bouldin_score`` on dense data, accept scipy.sparse CSR input, and never
  build an ``n_samples × n_samples`` matrix: the silhouette is computed in row
  blocks of bounded size (about 16 MiB by default), the other two in ``O(n · k)``
  memory on top of X.
- **selection rules** with the elbow detectors' signature ``(k, scores) ->
  SelectionResult``: :func:`by_silhouette`, :func:`by_calinski_harabasz`,
  :func:`by_davies_bouldin` (and the general :func:`select_max` /
  :func:`select_min`), which ignore NaN entries (a criterion undefined at some k,
  such as the silhouette at k = 1); and :func:`gap_statistic`, the 1-standard-error
  rule of Tibshirani, Walther & Hastie (2001) applied to log inertia of the data and
  of reference data sets drawn by :func:`reference_datasets`.

``CRITERIA`` maps each criterion's name to a :class:`Criterion` that bundles the
function computing it, the rule selecting k from it, its direction and the
smallest k at which it is defined.

``DEFAULT_SILHOUETTE_SAMPLE`` (10,000) is the sample size KSweep uses for the
silhouette when a data set has more samples than that; :func:`silhouette` itself
is exact unless ``sample_size`` is given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_array
from threadpoolctl import threadpool_limits

from ksweep._selection import SelectionResult, check_curve

__all__ = [
    "CRITERIA",
    "DEFAULT_SILHOUETTE_SAMPLE",
    "Criterion",
    "SilhouetteScore",
    "by_calinski_harabasz",
    "by_davies_bouldin",
    "by_silhouette",
    "calinski_harabasz",
    "davies_bouldin",
    "gap_statistic",
    "reference_datasets",
    "select_max",
    "select_min",
    "silhouette",
]

#: Sample size KSweep uses for the silhouette when X has more samples than this.
#: The exact silhouette costs n² distance computations (about half a second per
#: 10⁸ distances in low dimension, on one core); a stratified sample of 10,000
#: keeps that to 10⁸ whatever n is.
DEFAULT_SILHOUETTE_SAMPLE = 10_000

#: Upper bound, in bytes, on the block of distances (and the other per-row
#: arrays) the exact silhouette holds at once when ``chunk_size`` is None. Blocks
#: of this size were the fastest measured (2-core Xeon, n = 12,000, 2 to 1,024
#: features): smaller ones starve the matrix product, larger ones fall out of cache.
_WORKING_MEMORY = 16 * 2**20


# --------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _check_data(X, labels, *, func: str):
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


def _rows_as_float64(X, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of dense or CSR X as a dense float64 array."""
    block = X[start:stop]
    if sp.issparse(block):
        block = block.toarray()
    return np.asarray(block, dtype=np.float64)


def _row_chunks(n_rows: int, row_bytes: int, chunk_size: int | None):
    """``(start, stop)`` pairs covering ``range(n_rows)`` in blocks of bounded size."""
    if chunk_size is None:
        chunk_size = max(1, _WORKING_MEMORY // max(row_bytes, 1))
    for start in range(0, n_rows, chunk_size):
        yield start, min(start + chunk_size, n_rows)


def _cluster_means(X, codes: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Mean of every cluster, shape (n_labels, n_features), in float64."""
    n_samples = X.shape[0]
    indicator = sp.csr_matrix(
        (np.ones(n_samples), (codes, np.arange(n_samples))), shape=(counts.shape[0], n_samples)
    )
    sums = indicator @ X
    if sp.issparse(sums):
        sums = sums.toarray()
    return np.asarray(sums, dtype=np.float64) / counts[:, None]


# --------------------------------------------------------------------------------------
# Silhouette
# --------------------------------------------------------------------------------------


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
    total = 0.0
    # One BLAS thread: each product is a thin block of rows against all samples,
    # where a threaded BLAS spends more time synchronizing than computing (2-5x
    # slower measured on 2 cores); the elementwise work is single-threaded anyway.
    with threadpool_limits(limits=1, user_api="blas"):
        for start, stop in _row_chunks(n_samples, row_bytes, chunk_size):
            total += _silhouette_block(X, sq_norms, codes, counts, starts, start, stop)
    return total / n_samples


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
    if sample_size is not None and not (_is_int(sample_size) and sample_size >= 2):
        raise ValueError(
            "The 'sample_size' argument of silhouette must be an int >= 2 or None. "
            f"Got {sample_size!r} instead."
        )
    if chunk_size is not None and not (_is_int(chunk_size) and chunk_size >= 1):
        raise ValueError(
            "The 'chunk_size' argument of silhouette must be an int >= 1 or None. "
            f"Got {chunk_size!r} instead."
        )
    X, codes, counts = _check_data(X, labels, func="silhouette")
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


# --------------------------------------------------------------------------------------
# Calinski-Harabasz and Davies-Bouldin
# --------------------------------------------------------------------------------------


def calinski_harabasz(X, labels) -> float:
    """Calinski-Harabasz index: between- over within-cluster dispersion, scaled.

    ``CH = [B / (k - 1)] / [W / (n - k)]`` with ``B = Σ_c n_c ||μ_c - μ||²`` and
    ``W = Σ_i ||x_i - μ_{c(i)}||²``; higher is better. Equals
    ``sklearn.metrics.calinski_harabasz_score`` (including its value of 1.0 when
    W = 0). Computed in float64, in O(n_labels · n_features) memory on top of X.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        The data; sparse input is converted to CSR.
    labels : array-like of shape (n_samples,)
        Cluster label of each sample; 2 to ``n_samples - 1`` distinct values.

    Returns
    -------
    float

    Examples
    --------
    >>> from ksweep.criteria import calinski_harabasz
    >>> calinski_harabasz([[0.0], [2.0], [10.0], [12.0]], [0, 0, 1, 1])
    50.0
    """
    X, codes, counts = _check_data(X, labels, func="calinski_harabasz")
    n_samples, n_labels = X.shape[0], counts.shape[0]
    means = _cluster_means(X, codes, counts)
    overall = counts @ means / n_samples
    between = float(counts @ np.sum((means - overall) ** 2, axis=1))
    within = 0.0
    row_bytes = 8 * X.shape[1] * 2
    for start, stop in _row_chunks(n_samples, row_bytes, None):
        diff = _rows_as_float64(X, start, stop) - means[codes[start:stop]]
        within += float(np.einsum("ij,ij->", diff, diff))
    if within == 0.0:
        return 1.0
    return between * (n_samples - n_labels) / (within * (n_labels - 1))


def davies_bouldin(X, labels) -> float:
    """Davies-Bouldin index: mean worst-case ratio of scatter to separation; lower is better.

    With ``S_c`` the mean Euclidean distance of cluster c's members to its
    centroid and ``d_ce`` the distance between centroids,
    ``DB = mean_c max_{e ≠ c} (S_c + S_e) / d_ce``. Equals
    ``sklearn.metrics.davies_bouldin_score``, including its convention that a
    pair of clusters with the same centroid does not count (its ratio is 0).
    Computed in float64, in O(n_labels · (n_labels + n_features)) memory on top of X.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        The data; sparse input is converted to CSR.
    labels : array-like of shape (n_samples,)
        Cluster label of each sample; 2 to ``n_samples - 1`` distinct values.

    Returns
    -------
    float

    Examples
    --------
    >>> from ksweep.criteria import davies_bouldin
    >>> davies_bouldin([[0.0], [2.0], [10.0], [12.0]], [0, 0, 1, 1])
    0.2
    """
    X, codes, counts = _check_data(X, labels, func="davies_bouldin")
    n_samples, n_labels = X.shape[0], counts.shape[0]
    means = _cluster_means(X, codes, counts)
    scatter = np.zeros(n_labels)
    row_bytes = 8 * X.shape[1] * 2
    for start, stop in _row_chunks(n_samples, row_bytes, None):
        diff = _rows_as_float64(X, start, stop) - means[codes[start:stop]]
        dist = np.sqrt(np.einsum("ij,ij->i", diff, diff))
        scatter += np.bincount(codes[start:stop], weights=dist, minlength=n_labels)
    scatter /= counts
    worst = np.zeros(n_labels)
    for c in range(n_labels):
        separation = np.sqrt(np.sum((means - means[c]) ** 2, axis=1))
        separation[separation == 0] = np.inf  # itself, and clusters sharing its centroid
        worst[c] = np.max((scatter[c] + scatter) / separation)
    return float(np.mean(worst))


# --------------------------------------------------------------------------------------
# Selection from a criterion curve
# --------------------------------------------------------------------------------------


def _check_criterion_curve(k, scores, *, func: str):
    """Validate a criterion curve that may hold NaN; return (k, scores, nan mask) as floats."""
    k_in = np.asarray(k)
    scores_in = np.asarray(scores)
    nan = np.zeros(scores_in.shape, dtype=bool)
    if scores_in.ndim == 1 and scores_in.dtype.kind == "f" and k_in.shape == scores_in.shape:
        nan = np.isnan(scores_in)
        valid = scores_in[~nan]
        if valid.shape[0] < 2:
            raise ValueError(
                f"The 'scores' argument of {func} must have at least 2 values that are not "
                f"NaN. Got {valid.shape[0]} instead."
            )
        if np.all(np.isfinite(valid)) and np.ptp(valid) == 0:
            raise ValueError(
                f"The 'scores' argument of {func} must not be constant: every k would score "
                f"the same. Got all values equal to {valid[0]:g} instead."
            )
        # NaN stands for 'undefined at this k'; the other checks apply to the rest
        scores_in = np.where(nan, valid[0], scores_in)
    k_arr, scores_arr = check_curve(k_in, scores_in, min_points=2, func=func)
    scores_arr[nan] = np.nan
    return k_arr, scores_arr, nan


def _select(k, scores, *, greater: bool, method: str, statistic_name: str, func: str):
    k_in = np.asarray(k)
    _, values, nan = _check_criterion_curve(k, scores, func=func)
    best = int(np.nanargmax(values) if greater else np.nanargmin(values))
    chosen = k_in[best].item()
    n_valid = int((~nan).sum())
    reason = (
        f"k={chosen} has the {'highest' if greater else 'lowest'} {statistic_name} "
        f"({values[best]:.6g}) of the {n_valid} k values scored"
    )
    if nan.any():
        undefined = ", ".join(f"{v:g}" for v in k_in[nan].tolist())
        reason += f"; undefined (NaN) at k={undefined}, ignored"
    return SelectionResult(
        k=chosen,
        method=method,
        candidates=k_in.copy(),
        statistic=values,
        statistic_name=statistic_name,
        reason=reason,
        details={"greater_is_better": greater, "undefined": k_in[nan].copy()},
    )


def select_max(k, scores, *, method="max", statistic_name="score") -> SelectionResult:
    """Choose the k with the largest score, ignoring NaN scores.

    Ties go to the smallest k.

    Parameters
    ----------
    k : array-like of shape (n_points,)
        Strictly increasing k values.
    scores : array-like of shape (n_points,)
        The score per k; NaN marks a k where the score is undefined (at least
        two must be defined, and not all equal).
    method : str, default="max"
        The ``method`` recorded in the result.
    statistic_name : str, default="score"
        What the scores measure, used in the result and its reason.

    Returns
    -------
    SelectionResult
        ``candidates`` is ``k``, ``statistic`` the scores (NaN kept);
        ``details`` holds ``greater_is_better`` and the ``undefined`` k values.

    Examples
    --------
    >>> from ksweep.criteria import select_max
    >>> select_max([1, 2, 3, 4], [float("nan"), 0.4, 0.7, 0.5]).k
    3
    """
    return _select(
        k, scores, greater=True, method=method, statistic_name=statistic_name, func="select_max"
    )


def select_min(k, scores, *, method="min", statistic_name="score") -> SelectionResult:
    """Choose the k with the smallest score, ignoring NaN scores.

    Ties go to the smallest k. Parameters and result as in :func:`select_max`.

    Examples
    --------
    >>> from ksweep.criteria import select_min
    >>> select_min([1, 2, 3, 4], [float("nan"), 0.9, 0.6, 0.8]).k
    3
    """
    return _select(
        k, scores, greater=False, method=method, statistic_name=statistic_name, func="select_min"
    )


def by_silhouette(k, scores) -> SelectionResult:
    """Choose the k with the highest silhouette (NaN, e.g. at k = 1, ignored).

    Examples
    --------
    >>> from ksweep.criteria import by_silhouette
    >>> result = by_silhouette([1, 2, 3, 4], [float("nan"), 0.55, 0.71, 0.62])
    >>> result.k, result.reason
    (3, 'k=3 has the highest silhouette (0.71) of the 3 k values scored; undefined (NaN) at k=1, ignored')
    """  # noqa: E501
    return _select(
        k,
        scores,
        greater=True,
        method="silhouette",
        statistic_name="silhouette",
        func="by_silhouette",
    )


def by_calinski_harabasz(k, scores) -> SelectionResult:
    """Choose the k with the highest Calinski-Harabasz index (NaN ignored).

    Examples
    --------
    >>> from ksweep.criteria import by_calinski_harabasz
    >>> by_calinski_harabasz([2, 3, 4, 5], [310.0, 480.5, 1210.0, 990.2]).k
    4
    """
    return _select(
        k,
        scores,
        greater=True,
        method="calinski_harabasz",
        statistic_name="Calinski-Harabasz index",
        func="by_calinski_harabasz",
    )


def by_davies_bouldin(k, scores) -> SelectionResult:
    """Choose the k with the lowest Davies-Bouldin index (NaN ignored).

    Examples
    --------
    >>> from ksweep.criteria import by_davies_bouldin
    >>> by_davies_bouldin([2, 3, 4, 5], [0.9, 0.7, 0.35, 0.6]).k
    4
    """
    return _select(
        k,
        scores,
        greater=False,
        method="davies_bouldin",
        statistic_name="Davies-Bouldin index",
        func="by_davies_bouldin",
    )


# --------------------------------------------------------------------------------------
# Gap statistic
# --------------------------------------------------------------------------------------


def reference_datasets(X, n_references, *, method="uniform", random_state=None) -> list:
    """Draw the null-reference data sets of the gap statistic.

    Each reference has X's shape and dtype and is drawn uniformly over a box:

    - ``"uniform"``: the bounding box of X's features (each feature uniform
      between its minimum and maximum);
    - ``"pca"``: the bounding box of X in its principal axes (X is centered,
      rotated onto the right singular vectors, drawn uniform over the range of
      each rotated coordinate, rotated back and shifted to X's mean). This box
      follows the shape of the data and is the variant Tibshirani et al. recommend.

    Reference ``b`` is drawn from the ``b``-th child of
    ``numpy.random.SeedSequence(random_state)``, so it does not depend on
    ``n_references``: asking for more references keeps the first ones.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The data (dense).
    n_references : int
        Number of reference data sets B, at least 1.
    method : {"uniform", "pca"}, default="uniform"
        The box to draw from.
    random_state : int, numpy.random.SeedSequence or None, default=None
        Root of the seeds; None draws fresh entropy.

    Returns
    -------
    list of ndarray of shape (n_samples, n_features)
        ``n_references`` arrays (memory: B copies of X).

    Examples
    --------
    >>> import numpy as np
    >>> from ksweep.criteria import reference_datasets
    >>> X = np.array([[0.0, 5.0], [1.0, 7.0], [0.5, 6.0]])
    >>> refs = reference_datasets(X, 3, random_state=0)
    >>> len(refs), refs[0].shape
    (3, (3, 2))
    >>> bool(np.all((refs[0] >= X.min(axis=0)) & (refs[0] <= X.max(axis=0))))
    True
    """
    if not (_is_int(n_references) and n_references >= 1):
        raise ValueError(
            "The 'n_references' argument of reference_datasets must be an int >= 1. "
            f"Got {n_references!r} instead."
        )
    if method not in ("uniform", "pca"):
        raise ValueError(
            "The 'method' argument of reference_datasets must be one of 'uniform' or 'pca'. "
            f"Got {method!r} instead."
        )
    if not (
        random_state is None
        or (_is_int(random_state) and random_state >= 0)
        or isinstance(random_state, np.random.SeedSequence)
    ):
        raise ValueError(
            "The 'random_state' argument of reference_datasets must be an int >= 0, a "
            f"numpy SeedSequence or None. Got {random_state!r} instead."
        )
    X = check_array(X, dtype=[np.float64, np.float32], input_name="X")
    root = (
        random_state
        if isinstance(random_state, np.random.SeedSequence)
        else np.random.SeedSequence(random_state)
    )
    X64 = X.astype(np.float64, copy=False)
    if method == "uniform":
        low, high = X64.min(axis=0), X64.max(axis=0)
        rotation, mean = None, None
    else:
        mean = X64.mean(axis=0)
        _, _, rotation = np.linalg.svd(X64 - mean, full_matrices=False)
        projected = (X64 - mean) @ rotation.T
        low, high = projected.min(axis=0), projected.max(axis=0)
        del projected
    references = []
    for child in root.spawn(n_references):
        rng = np.random.default_rng(child)
        draw = low + (high - low) * rng.random((X.shape[0], low.shape[0]))
        if rotation is not None:
            draw = draw @ rotation + mean
        references.append(draw.astype(X.dtype, copy=False))
    return references


def _check_gap_inputs(k, log_inertia, reference_log_inertia):
    func = "gap_statistic"
    arrays = {}
    for name, value in (("k", k), ("log_inertia", log_inertia)):
        arr = np.asarray(value)
        if arr.ndim != 1:
            raise ValueError(
                f"The '{name}' argument of {func} must be a 1-D array-like. "
                f"Got an array of shape {arr.shape} instead."
            )
        arrays[name] = arr
    k_in, log_w = arrays["k"], arrays["log_inertia"]
    if k_in.shape != log_w.shape:
        raise ValueError(
            f"The 'k' and 'log_inertia' arguments of {func} must have the same length. "
            f"Got {k_in.shape[0]} and {log_w.shape[0]} instead."
        )
    if k_in.shape[0] < 2:
        raise ValueError(
            f"The 'k' argument of {func} must have at least 2 values. Got {k_in.shape[0]} instead."
        )
    # k: real, finite, strictly increasing (check_curve's checks, on a stand-in curve)
    check_curve(k_in, np.arange(k_in.shape[0]), min_points=2, func=func)
    ref = np.asarray(reference_log_inertia)
    if ref.ndim != 2 or ref.shape[0] != k_in.shape[0] or ref.shape[1] < 1:
        raise ValueError(
            f"The 'reference_log_inertia' argument of {func} must be a 2-D array of shape "
            f"(n_k, n_references) = ({k_in.shape[0]}, B) with B >= 1. "
            f"Got an array of shape {ref.shape} instead."
        )
    checked = {}
    for name, arr in (("log_inertia", log_w), ("reference_log_inertia", ref)):
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool) or np.iscomplexobj(arr):
            raise ValueError(
                f"The '{name}' argument of {func} must contain real numbers. "
                f"Got dtype {arr.dtype} instead."
            )
        arr = arr.astype(np.float64)
        bad = ~np.isfinite(arr)
        if bad.any():
            where = tuple(int(i[0]) for i in np.nonzero(bad))
            position = where[0] if len(where) == 1 else where
            raise ValueError(
                f"The '{name}' argument of {func} must contain only finite values. "
                f"Got {arr[where]} at position {position} instead."
            )
        checked[name] = arr
    return k_in, checked["log_inertia"], checked["reference_log_inertia"]


def gap_statistic(k, log_inertia, reference_log_inertia) -> SelectionResult:
    """Choose k with the gap statistic and its 1-standard-error rule.

    Tibshirani, Walther & Hastie (2001) compare the log within-cluster
    dispersion of the data, ``log W_k``, with its mean over B reference data
    sets drawn without cluster structure (see :func:`reference_datasets`):

    - ``gap(k) = mean_b(log W*_kb) - log W_k``,
    - ``sd_k`` the standard deviation of ``log W*_kb`` over b (``ddof=0``), and
      ``s_k = sd_k · sqrt(1 + 1/B)``;
    - the chosen k is the smallest k with ``gap(k) >= gap(k') - s_k'``, where k'
      is the next k of the grid. When no k satisfies the rule, the k with the
      largest gap is chosen, and the reason says so.

    For squared Euclidean distance ``W_k`` is the inertia (the within-cluster
    sum of squares).

    Parameters
    ----------
    k : array-like of shape (n_k,)
        Strictly increasing k values, at least 2.
    log_inertia : array-like of shape (n_k,)
        ``log W_k`` of the data for each k.
    reference_log_inertia : array-like of shape (n_k, n_references)
        ``log W*_kb`` of reference data set b for each k.

    Returns
    -------
    SelectionResult
        ``statistic`` is the gap per k; ``details`` holds ``s_k``, ``sd_k``,
        ``n_references`` and ``satisfies_rule`` (a boolean per k; the last k has
        no next k and never satisfies it).

    Examples
    --------
    >>> import numpy as np
    >>> from ksweep.criteria import gap_statistic
    >>> k = [1, 2, 3, 4]
    >>> log_w = np.array([5.0, 4.0, 2.5, 2.3])
    >>> reference = np.array([[5.1, 5.0], [4.5, 4.6], [4.1, 4.0], [3.8, 3.9]])
    >>> result = gap_statistic(k, log_w, reference)
    >>> result.k, np.round(result.statistic, 2).tolist()
    (3, [0.05, 0.55, 1.55, 1.55])
    """
    k_in, log_w, ref = _check_gap_inputs(k, log_inertia, reference_log_inertia)
    n_references = ref.shape[1]
    gap = ref.mean(axis=1) - log_w
    sd = ref.std(axis=1)
    s = sd * np.sqrt(1.0 + 1.0 / n_references)
    satisfies = np.zeros(gap.shape[0], dtype=bool)
    satisfies[:-1] = gap[:-1] >= gap[1:] - s[1:]
    if satisfies.any():
        i = int(np.flatnonzero(satisfies)[0])
        chosen = k_in[i].item()
        reason = (
            f"k={chosen} is the smallest k with gap(k) >= gap(next k) - s(next k): "
            f"{gap[i]:.4f} >= {gap[i + 1]:.4f} - {s[i + 1]:.4f} "
            f"(1-standard-error rule, {n_references} reference data sets)"
        )
    else:
        i = int(np.argmax(gap))
        chosen = k_in[i].item()
        reason = (
            f"no k satisfies gap(k) >= gap(next k) - s(next k); k={chosen} has the largest "
            f"gap ({gap[i]:.4f}) instead ({n_references} reference data sets)"
        )
    return SelectionResult(
        k=chosen,
        method="gap",
        candidates=k_in.copy(),
        statistic=gap,
        statistic_name="gap",
        reason=reason,
        details={
            "s_k": s,
            "sd_k": sd,
            "n_references": n_references,
            "satisfies_rule": satisfies,
        },
    )


# --------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Criterion:
    """A clustering criterion KSweep can record per k and select k by.

    Parameters
    ----------
    name : str
        The registry key, also the name of its column in ``results_``.
    compute : callable
        ``compute(X, labels, **kwargs) -> float``.
    select : callable
        ``select(k, scores) -> SelectionResult``; NaN scores are ignored.
    greater_is_better : bool
        Whether a higher value means a better clustering.
    min_k : int
        The smallest k at which the criterion is defined (NaN below it).

    Examples
    --------
    >>> import numpy as np
    >>> from ksweep.criteria import CRITERIA, Criterion
    >>> criterion = CRITERIA["davies_bouldin"]
    >>> isinstance(criterion, Criterion), criterion.greater_is_better, criterion.min_k
    (True, False, 2)
    >>> X = np.array([[0.0], [1.0], [10.0], [11.0]])
    >>> round(criterion.compute(X, [0, 0, 1, 1]), 4)
    0.1
    >>> criterion.select([2, 3, 4], [0.5, 0.2, 0.4]).k
    3
    """

    name: str
    compute: Callable[..., float]
    select: Callable[..., SelectionResult]
    greater_is_better: bool
    min_k: int


def _silhouette_value(X, labels, **kwargs) -> float:
    """:func:`silhouette` as a plain float (a top-level function, so it pickles)."""
    return silhouette(X, labels, **kwargs).score


#: Criteria by name: ``"silhouette"``, ``"calinski_harabasz"``, ``"davies_bouldin"``.
CRITERIA: dict[str, Criterion] = {
    "silhouette": Criterion("silhouette", _silhouette_value, by_silhouette, True, 2),
    "calinski_harabasz": Criterion(
        "calinski_harabasz", calinski_harabasz, by_calinski_harabasz, True, 2
    ),
    "davies_bouldin": Criterion("davies_bouldin", davies_bouldin, by_davies_bouldin, False, 2),
}
