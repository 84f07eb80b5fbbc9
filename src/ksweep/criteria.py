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
  SelectionResult``: ``by_silhouette``, ``by_calinski_harabasz`` and
  ``by_davies_bouldin`` (one rule, :func:`select_max` or :func:`select_min` of the
  criterion's curve, made per criterion), which ignore NaN entries (a criterion
  undefined at some k, such as the silhouette at k = 1).

The gap statistic lives in :mod:`ksweep.gap`; :func:`gap_statistic` and
:func:`reference_datasets` are importable from here too.

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

import numpy as np

from ksweep._cluster_data import check_data, cluster_means, distances_to_own_mean
from ksweep._selection import SelectionResult, check_curve
from ksweep._silhouette import DEFAULT_SILHOUETTE_SAMPLE, SilhouetteScore, silhouette
from ksweep.gap import gap_statistic, reference_datasets

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
    X, codes, counts = check_data(X, labels, func="calinski_harabasz")
    n_samples, n_labels = X.shape[0], counts.shape[0]
    means = cluster_means(X, codes, counts)
    overall = counts @ means / n_samples
    between = float(counts @ np.sum((means - overall) ** 2, axis=1))
    within = sum(float(sq.sum()) for _, sq in distances_to_own_mean(X, codes, means))
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
    X, codes, counts = check_data(X, labels, func="davies_bouldin")
    n_labels = counts.shape[0]
    means = cluster_means(X, codes, counts)
    scatter = np.zeros(n_labels)
    for rows, sq in distances_to_own_mean(X, codes, means):
        scatter += np.bincount(codes[rows], weights=np.sqrt(sq), minlength=n_labels)
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


def _criterion_rule(name: str, statistic_name: str, greater: bool, example: str):
    """The selection rule of one criterion: the best defined value of its curve."""
    func = f"by_{name}"

    def rule(k, scores) -> SelectionResult:
        return _select(
            k, scores, greater=greater, method=name, statistic_name=statistic_name, func=func
        )

    rule.__name__ = rule.__qualname__ = func
    rule.__doc__ = (
        f"Choose the k with the {'highest' if greater else 'lowest'} {statistic_name} "
        "(NaN, e.g. at k = 1, ignored).\n\n"
        f"    Ties go to the smallest k. Arguments and result as in "
        f":func:`{'select_max' if greater else 'select_min'}`.\n\n"
        "    Examples\n    --------\n"
        f"    >>> from ksweep.criteria import {func}\n{example}\n    "
    )
    return rule


by_silhouette = _criterion_rule(
    "silhouette",
    "silhouette",
    True,
    "    >>> result = by_silhouette([1, 2, 3, 4], [float('nan'), 0.55, 0.71, 0.62])\n"
    "    >>> result.k, result.reason\n"
    "    (3, 'k=3 has the highest silhouette (0.71) of the 3 k values scored; "
    "undefined (NaN) at k=1, ignored')",
)
"""Choose the k with the highest silhouette, NaN ignored (see :func:`select_max`)."""
by_calinski_harabasz = _criterion_rule(
    "calinski_harabasz",
    "Calinski-Harabasz index",
    True,
    "    >>> by_calinski_harabasz([2, 3, 4, 5], [310.0, 480.5, 1210.0, 990.2]).k\n    4",
)
"""Choose the k with the highest Calinski-Harabasz index, NaN ignored (see :func:`select_max`)."""
by_davies_bouldin = _criterion_rule(
    "davies_bouldin",
    "Davies-Bouldin index",
    False,
    "    >>> by_davies_bouldin([2, 3, 4, 5], [0.9, 0.7, 0.35, 0.6]).k\n    4",
)
"""Choose the k with the lowest Davies-Bouldin index, NaN ignored (see :func:`select_min`)."""


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
