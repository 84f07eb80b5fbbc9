"""Elbow detectors: pure functions of a ``(k, scores)`` curve.

Each detector takes two 1-D arrays of equal length, ``k`` (strictly
increasing, not necessarily evenly spaced) and ``scores`` (for example the
best inertia per k), and returns a :class:`~ksweep.SelectionResult` holding
the chosen k, the per-candidate statistic and a one-line reason.
"""

from __future__ import annotations

import numpy as np

from ksweep._selection import SelectionResult, check_curve, check_nonnegative_real

__all__ = ["SelectionResult", "kneedle", "two_segment"]

_R2_FLAT_TOL = 1e-12
_TIE_TOL = 1e-12


def _segment_r2(n, sx, sy, sxx, syy, sxy):
    """R² of the least-squares line through a segment, from its sums.

    A segment whose scores are (numerically) constant is fitted exactly by a
    horizontal line, so its R² is 1.
    """
    cxx = sxx - sx * sx / n
    cyy = syy - sy * sy / n
    cxy = sxy - sx * sy / n
    flat = cyy <= _R2_FLAT_TOL * n
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(flat, 1.0, cxy * cxy / (cxx * np.where(flat, 1.0, cyy)))
    return np.clip(r2, 0.0, 1.0)


def two_segment(k, scores) -> SelectionResult:
    """Choose k where two straight lines fit the curve best.

    For every split that leaves at least two points on each side, a
    least-squares line is fitted to the left and to the right segment, and the
    split is scored by the mean of the two R² values. The chosen k is the first
    k of the right segment at the best split (the first such split on ties).
    All splits are scored in closed form from prefix sums, in O(n).

    Parameters
    ----------
    k : array-like of shape (n_points,)
        Strictly increasing k values; ``n_points`` must be at least 4.
    scores : array-like of shape (n_points,)
        The score per k, for example the best inertia.

    Returns
    -------
    SelectionResult
        ``candidates`` are the k values that can start a right segment,
        ``statistic`` the mean R² of each split; ``details`` holds ``r2_left``
        and ``r2_right``.

    Examples
    --------
    >>> from ksweep.elbow import two_segment
    >>> two_segment([1, 2, 3, 4, 5, 6], [100, 60, 20, 18, 16, 14]).k
    3
    """
    k_in = np.asarray(k)
    x, y = check_curve(k, scores, min_points=4, func="two_segment")
    n = x.shape[0]
    # R² is invariant to affine changes of x and y: center and scale to [-1, 1] for
    # conditioning (dividing by the largest deviation cannot overflow or underflow).
    x = (x - x.mean()) / np.abs(x - x.mean()).max()
    y = (y - y.mean()) / np.abs(y - y.mean()).max()
    prefix = [np.concatenate(([0.0], np.cumsum(v))) for v in (x, y, x * x, y * y, x * y)]
    split = np.arange(2, n - 1)  # left = [0, split), right = [split, n)
    left = [p[split] for p in prefix]
    right = [p[n] - p[split] for p in prefix]
    r2_left = _segment_r2(split.astype(np.float64), *left)
    r2_right = _segment_r2((n - split).astype(np.float64), *right)
    mean_r2 = (r2_left + r2_right) / 2.0
    # first split on ties: splits within rounding of the best count as tied
    best = int(np.flatnonzero(mean_r2 >= mean_r2.max() - _TIE_TOL)[0])
    chosen = k_in[split[best]].item()
    reason = (
        f"k={chosen} starts the right segment of the best two-line fit "
        f"(mean R²={mean_r2[best]:.4f}: left {r2_left[best]:.4f}, right {r2_right[best]:.4f})"
    )
    return SelectionResult(
        k=chosen,
        method="two_segment",
        candidates=k_in[split].copy(),
        statistic=mean_r2,
        statistic_name="mean R² of the two segments",
        reason=reason,
        details={"r2_left": r2_left, "r2_right": r2_right},
    )


def _infer_direction(x: np.ndarray, y: np.ndarray) -> str:
    slope = np.sum((x - x.mean()) * (y - y.mean()))
    if slope == 0:
        slope = y[-1] - y[0]
    if slope == 0:
        raise ValueError(
            "kneedle could not infer the curve's direction: the scores neither rise nor fall "
            "overall. Pass direction='increasing' or direction='decreasing'."
        )
    return "increasing" if slope > 0 else "decreasing"


def _local_maxima(diff: np.ndarray) -> np.ndarray:
    """Indices of local maxima of ``diff``, the first point included, the last excluded.

    On a plateau the first point counts. The last point can never be a knee:
    no later point can confirm it.
    """
    n = diff.shape[0]
    idx = np.arange(n - 1)
    rises_in = np.ones(n - 1, dtype=bool)
    rises_in[1:] = diff[1:-1] > diff[:-2]
    return idx[rises_in & (diff[:-1] >= diff[1:])]


def kneedle(k, scores, curve=None, direction=None, sensitivity=1.0) -> SelectionResult:
    """Find the knee (or elbow) of a curve with the Kneedle method.

    Kneedle (Satopää et al., 2011) scales the curve into the unit square and
    measures the difference between it and the diagonal joining the square's
    corners in the curve's direction. Each local maximum of that difference is
    a candidate; it is confirmed as a knee when the difference later drops
    more than ``sensitivity`` times the mean k spacing (in the unit square)
    below it before the next local maximum. A local maximum at the first point
    counts like any other. Of the confirmed knees, the one with the largest
    difference (the most pronounced bend) is chosen; all are listed in
    ``details["knees"]``. Uneven k grids are handled in their own units.

    Parameters
    ----------
    k : array-like of shape (n_points,)
        Strictly increasing k values; ``n_points`` must be at least 3.
    scores : array-like of shape (n_points,)
        The score per k, for example the best inertia.
    curve : {"convex", "concave"} or None, default=None
        Whether the curve lies below ("convex") or above ("concave") the
        diagonal. Inferred from the sign of the area between them when None.
    direction : {"increasing", "decreasing"} or None, default=None
        Whether the scores rise or fall with k. Inferred from the sign of the
        least-squares slope when None.
    sensitivity : float, default=1.0
        The ``S`` of the paper: larger values demand a sharper bend.

    Returns
    -------
    SelectionResult
        ``k`` is None when no knee is confirmed (``reason`` says why);
        ``statistic`` is the difference curve for every k; ``details`` holds
        ``curve``, ``direction``, ``sensitivity``, ``threshold_drop`` (the
        drop that confirms a knee), ``knees`` and the scaled ``k_scaled`` and
        ``scores_scaled``.

    Examples
    --------
    >>> from ksweep.elbow import kneedle
    >>> kneedle([1, 2, 3, 4, 5, 6], [100, 40, 20, 15, 12, 10]).k
    3
    """
    if curve not in (None, "convex", "concave"):
        raise ValueError(
            f"The 'curve' argument of kneedle must be one of 'convex', 'concave' or None. "
            f"Got {curve!r} instead."
        )
    if direction not in (None, "increasing", "decreasing"):
        raise ValueError(
            "The 'direction' argument of kneedle must be one of 'increasing', 'decreasing' "
            f"or None. Got {direction!r} instead."
        )
    check_nonnegative_real(sensitivity, "sensitivity", "kneedle")
    k_in = np.asarray(k)
    x, y = check_curve(k, scores, min_points=3, func="kneedle")
    x_scaled = (x - x[0]) / (x[-1] - x[0])
    y_scaled = (y - y.min()) / np.ptp(y)
    if direction is None:
        direction = _infer_direction(x, y)
    diagonal = x_scaled if direction == "increasing" else 1.0 - x_scaled
    if curve is None:
        gap = y_scaled - diagonal
        area = np.sum((gap[1:] + gap[:-1]) * np.diff(x_scaled)) / 2.0
        curve = "convex" if area <= 0 else "concave"
    difference = (y_scaled - diagonal) if curve == "concave" else (diagonal - y_scaled)

    drop = sensitivity / (x.shape[0] - 1)  # S times the mean spacing of the scaled k
    maxima = _local_maxima(difference)
    knees = []
    for pos, i in enumerate(maxima):
        if difference[i] <= 0:
            continue
        stop = maxima[pos + 1] if pos + 1 < len(maxima) else x.shape[0]
        if np.any(difference[i + 1 : stop] < difference[i] - drop):
            knees.append(i)
    details = {
        "curve": curve,
        "direction": direction,
        "sensitivity": float(sensitivity),
        "threshold_drop": drop,
        "knees": k_in[np.asarray(knees, dtype=np.intp)].copy(),
        "k_scaled": x_scaled,
        "scores_scaled": y_scaled,
    }
    common = dict(
        method="kneedle",
        candidates=k_in.copy(),
        statistic=difference,
        statistic_name=f"difference from the diagonal ({curve}, {direction})",
        details=details,
    )
    if not knees:
        if not np.any(difference[maxima] > 0):
            why = f"the curve never bends to the {curve} side of its diagonal"
        else:
            why = (
                f"no bend is sharper than sensitivity × mean spacing = {drop:.4g} "
                "(the curve is close to a straight line; lower 'sensitivity' or widen the k range)"
            )
        return SelectionResult(k=None, reason=f"no knee found: {why}", **common)
    best = max(knees, key=lambda i: difference[i])
    chosen = k_in[best].item()
    others = f"; {len(knees) - 1} weaker knee(s) in details['knees']" if len(knees) > 1 else ""
    reason = (
        f"k={chosen} is the sharpest confirmed bend of the {curve}, {direction} curve "
        f"(difference {difference[best]:.4f}, drop threshold {drop:.4g}){others}"
    )
    return SelectionResult(k=chosen, reason=reason, **common)
