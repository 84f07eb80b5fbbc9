"""How stable is a choice of k? Agreement of clusterings fitted on resamples of the data.

Ben-Hur, Elisseeff & Guyon (2002) and Lange et al. (2004) judge a k by how well
clusterings of different resamples agree on the points they share. Given, for
each k, the labels of B clusterings fitted on B resamples (and the resamples'
row indices), :func:`resample_stability` returns per k:

- the mean adjusted Rand index (ARI) over the B(B-1)/2 pairs of resamples,
  each pair compared on the rows both contain (a row drawn several times by a
  bootstrap counts once, with its first label);
- how often each k was chosen, when the k chosen on each resample is given.

:func:`resample_indices` draws the resamples (subsamples without replacement, or
bootstrap samples), each from its own child of a ``SeedSequence``, so resample b
does not depend on B.

What it measures: reproducibility, not clusteredness. k = 1 is always perfectly
stable, and structureless data can have a stable k where the optimum is unique
(uniform points in a square split into a 2 × 2 grid with ARI 0.95 between 80%
subsamples; in six dimensions every k stays below 0.35). The no-structure test
of :mod:`ksweep.structure` answers whether there are clusters; stability says
whether the k chosen is the one the data would give again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from sklearn.metrics import adjusted_rand_score

from ksweep._selection import (
    as_real_1d,
    check_curve,
    check_int_at_least,
    check_nonnegative_real,
)

__all__ = ["StabilityResult", "resample_indices", "resample_stability"]


@dataclass(frozen=True, eq=False)
class StabilityResult:
    """The outcome of :func:`resample_stability`, one entry per k.

    Parameters
    ----------
    k : ndarray of shape (n_k,)
        The k values.
    mean_ari : ndarray of shape (n_k,)
        Mean adjusted Rand index between pairs of resampled clusterings.
    sd_ari : ndarray of shape (n_k,)
        Its standard deviation over the pairs.
    stable : ndarray of bool
        ``mean_ari >= threshold``.
    threshold : float
        The ARI that counts as stable.
    chosen_count : ndarray of int or None
        How many resamples chose each k (None when no choices were given).
    n_resamples : int
        B.

    Examples
    --------
    >>> from ksweep.stability import resample_stability
    >>> indices = [[0, 1, 2, 3], [0, 1, 2, 4], [1, 2, 3, 4]]
    >>> labels = [[[0, 0, 1, 1], [0, 0, 1, 1], [0, 1, 1, 1]]]  # k=2 on each resample
    >>> result = resample_stability([2], labels, indices, chosen=[2, 2, 2])
    >>> result.mean_ari.tolist(), result.describe(2)
    ([1.0], 'k=2 chosen in 3 of 3 resamples; mean ARI between resamples 1.00 (stable)')
    """

    k: np.ndarray
    mean_ari: np.ndarray
    sd_ari: np.ndarray
    stable: np.ndarray
    threshold: float
    chosen_count: np.ndarray | None
    n_resamples: int

    def describe(self, k: int) -> str:
        """One line about ``k``: how often it was chosen and how stable it is."""
        position = np.flatnonzero(self.k == k)
        if position.size == 0:
            raise ValueError(
                f"The 'k' argument of describe must be one of {self.k.tolist()}. Got {k!r} instead."
            )
        i = int(position[0])
        verdict = "stable" if self.stable[i] else f"below {self.threshold:g}: unstable"
        ari = f"mean ARI between resamples {self.mean_ari[i]:.2f} ({verdict})"
        if self.chosen_count is None:
            return f"k={k}: {ari}"
        return f"k={k} chosen in {self.chosen_count[i]} of {self.n_resamples} resamples; {ari}"


def resample_indices(
    n_samples, n_resamples, *, method="subsample", fraction=0.8, random_state=None
) -> list[np.ndarray]:
    """Row indices of B resamples of a data set of ``n_samples`` rows.

    Parameters
    ----------
    n_samples : int
        Rows in the data, at least 2.
    n_resamples : int
        B, at least 2.
    method : {"subsample", "bootstrap"}, default="subsample"
        "subsample": ``round(fraction · n_samples)`` distinct rows, sorted;
        "bootstrap": ``n_samples`` rows drawn with replacement, sorted.
    fraction : float, default=0.8
        The share of rows a subsample keeps, in (0, 1].
    random_state : int, numpy.random.SeedSequence or None, default=None
        Root of the seeds: resample b comes from its b-th child.

    Returns
    -------
    list of ndarray of int
        B sorted index arrays.

    Examples
    --------
    >>> from ksweep.stability import resample_indices
    >>> [idx.tolist() for idx in resample_indices(5, 2, fraction=0.6, random_state=0)]
    [[0, 2, 3], [1, 2, 4]]
    """
    func = "resample_indices"
    check_int_at_least(n_samples, 2, "n_samples", func)
    check_int_at_least(n_resamples, 2, "n_resamples", func)
    if method not in ("subsample", "bootstrap"):
        raise ValueError(
            f"The 'method' argument of {func} must be one of 'subsample' or 'bootstrap'. "
            f"Got {method!r} instead."
        )
    fraction = check_nonnegative_real(fraction, "fraction", func)
    size = round(fraction * n_samples)
    if method == "subsample" and not (0 < fraction <= 1 and size >= 2):
        raise ValueError(
            f"The 'fraction' argument of {func} must be in (0, 1] and keep at least 2 of the "
            f"{n_samples} rows. Got {fraction!r} instead."
        )
    root = (
        random_state
        if isinstance(random_state, np.random.SeedSequence)
        else np.random.SeedSequence(random_state)
    )
    out = []
    for child in root.spawn(n_resamples):
        rng = np.random.default_rng(child)
        if method == "subsample":
            out.append(np.sort(rng.choice(n_samples, size=size, replace=False)))
        else:
            out.append(np.sort(rng.integers(0, n_samples, size=n_samples)))
    return out


def _check_inputs(k, labels, indices, chosen):
    func = "resample_stability"
    k_arr = as_real_1d(k, "k", func)
    if k_arr.shape[0] < 1 or not np.all(np.isfinite(k_arr)):
        raise ValueError(
            f"The 'k' argument of {func} must hold at least one finite value. "
            f"Got {k_arr.tolist()} instead."
        )
    if k_arr.shape[0] >= 2:  # strictly increasing (check_curve on a stand-in curve)
        check_curve(k_arr, np.arange(k_arr.shape[0]), min_points=2, func=func)
    if not isinstance(indices, Sequence) or len(indices) < 2:
        raise ValueError(
            f"The 'indices' argument of {func} must be a sequence of at least 2 index arrays "
            f"(one per resample). Got {type(indices).__name__} instead."
        )
    idx = [np.asarray(i) for i in indices]
    for b, i in enumerate(idx):
        if i.ndim != 1 or i.dtype.kind not in "iu":
            raise ValueError(
                f"The 'indices' argument of {func} must hold 1-D integer arrays. "
                f"Got {i.dtype} values of shape {i.shape} for resample {b} instead."
            )
    if len(labels) != k_arr.shape[0]:
        raise ValueError(
            f"The 'labels' argument of {func} must hold one entry per k ({k_arr.shape[0]}). "
            f"Got {len(labels)} instead."
        )
    labs = []
    for i, per_k in enumerate(labels):
        if len(per_k) != len(idx):
            raise ValueError(
                f"The 'labels' argument of {func} must hold one labelling per resample "
                f"({len(idx)}) for each k. Got {len(per_k)} for k={k_arr[i]:g} instead."
            )
        row = [np.asarray(lab).reshape(-1) for lab in per_k]
        for b, lab in enumerate(row):
            if lab.shape[0] != idx[b].shape[0]:
                raise ValueError(
                    f"The 'labels' argument of {func} must label every row of its resample. "
                    f"Got {lab.shape[0]} labels for the {idx[b].shape[0]} rows of resample {b} "
                    f"at k={k_arr[i]:g} instead."
                )
        labs.append(row)
    counts = None
    if chosen is not None:
        chosen = list(chosen) if not isinstance(chosen, (str, bytes)) else [chosen]
        if len(chosen) != len(idx):
            raise ValueError(
                f"The 'chosen' argument of {func} must hold one k (or None) per resample "
                f"({len(idx)}). Got {len(chosen)} instead."
            )
        unknown = [v for v in chosen if v is not None and v not in set(k_arr.tolist())]
        if unknown:
            raise ValueError(
                f"The 'chosen' argument of {func} must hold k values among {k_arr.tolist()} "
                f"or None. Got {unknown} instead."
            )
        counts = np.array([sum(v == c for v in chosen) for c in k_arr], dtype=np.int64)
    return np.asarray(k), labs, idx, counts


def resample_stability(k, labels, indices, chosen=None, *, threshold=0.9) -> StabilityResult:
    """Per-k agreement of clusterings fitted on resamples, and how often each k was chosen.

    Parameters
    ----------
    k : array-like of shape (n_k,)
        Strictly increasing k values.
    labels : sequence of n_k sequences of B array-likes
        ``labels[i][b]`` labels the rows of resample b (in the order of
        ``indices[b]``) for the i-th k.
    indices : sequence of B array-likes of int
        The data rows each resample holds (see :func:`resample_indices`).
    chosen : sequence of B int or None, or None, default=None
        The k chosen on each resample (None where a resample chose none).
    threshold : float, default=0.9
        The mean ARI from which a k counts as stable.

    Returns
    -------
    StabilityResult
        A pair of resamples sharing fewer than 2 rows is left out of the means
        (NaN when every pair is).

    Examples
    --------
    >>> from ksweep.stability import resample_stability
    >>> indices = [[0, 1, 2, 3], [0, 1, 2, 3]]
    >>> labels = [[[0, 0, 1, 1], [1, 1, 0, 0]], [[0, 1, 2, 2], [0, 0, 1, 2]]]
    >>> result = resample_stability([2, 3], labels, indices)
    >>> result.mean_ari.round(2).tolist(), result.stable.tolist()
    ([1.0, -0.2], [True, False])
    """
    threshold = check_nonnegative_real(threshold, "threshold", "resample_stability")
    k_arr, labs, idx, counts = _check_inputs(k, labels, indices, chosen)
    pairs = list(combinations(range(len(idx)), 2))
    shared = []
    for a, b in pairs:
        rows_a, first_a = np.unique(idx[a], return_index=True)
        rows_b, first_b = np.unique(idx[b], return_index=True)
        _, in_a, in_b = np.intersect1d(rows_a, rows_b, assume_unique=True, return_indices=True)
        shared.append((first_a[in_a], first_b[in_b]))
    mean = np.full(k_arr.shape[0], np.nan)
    sd = np.full(k_arr.shape[0], np.nan)
    for i, row in enumerate(labs):
        scores = [
            adjusted_rand_score(row[a][pos_a], row[b][pos_b])
            for (a, b), (pos_a, pos_b) in zip(pairs, shared, strict=True)
            if pos_a.shape[0] >= 2
        ]
        if scores:
            mean[i], sd[i] = float(np.mean(scores)), float(np.std(scores))
    return StabilityResult(
        k=k_arr.copy(),
        mean_ari=mean,
        sd_ari=sd,
        stable=np.nan_to_num(mean, nan=-1.0) >= threshold,
        threshold=threshold,
        chosen_count=counts,
        n_resamples=len(idx),
    )
