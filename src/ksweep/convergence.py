"""Which k may be stuck in a poor local optimum, from the inertia per k and per restart.

:func:`suspicious_k` names a k when

- **its best inertia is above the previous k's** (by more than ``rtol``): a
  fit with one cluster more can always do better (split a cluster of the fit
  before), so this k is certainly not at its optimum. The last k is judged too.
- **its best inertia breaks the convexity of the inertia curve**: the gain of the
  next step, ``W_k - W_k+``, exceeds the gain of the step into k,
  ``W_k- - W_k`` (both per unit of k on an uneven grid), by more than
  ``convexity_tol`` times the curve's median gain per unit of k. A k-means
  optimum gains less with every added cluster (decreasing gains on blobs, noise
  and the data sets of ``benchmarks/selection_accuracy.py``); a k stuck in a
  poor optimum gains little, and the next k then gains what it missed. The
  median step is the scale because the mean is dominated by the first, largest
  drops: with k = 1 in the range, a k = 6 stuck at 6.7 times its optimum inertia
  on six blobs breaks convexity by about 0.2 mean gains, but by 1.0 median gains.
  The log scale is no guide either: for well-separated clusters ``log W`` drops
  most at the true k, so its convexity breaks at k - 1 on a perfect sweep. The
  first and last k have no neighbour on one side: this test cannot name them.
- **its restarts spread widely and the best was reached once** (only with a
  ``spread_tol``; off by default): the median restart lies more than
  ``spread_tol`` above the best, and no other restart came within ``rtol`` of it.

Measured with ``benchmarks/suspicious_k.py`` (110 sweeps, 1,196 k; a k counts as
improved when ``max(2 n, 4)`` restarts, the repair's budget, beat the best of its
n by more than 1%): the two default tests named k of which 100%, 93% and 90%
improved with n = 1, 2 and 3 restarts (40% of 5 k with n = 5; with 10 they named
none), against 38%, 15%, 11% and 9% of all k, and they named all 52 poor starts
at the true k of blob data (the convexity test in mean gains with tolerance 0.25,
the first version: 43). The spread test
(``spread_tol=0.1``) named k of which 0 to 14% improved with 2 to 10 restarts, no
more than among all k: wide spreads there come from a few distinct optima
(clusters merged in different pairs) whose best was already found.

A rise is proof; the other two are signs: a flagged k deserves more restarts (and
a k that stays flagged after them, a warning); a genuine structure can, rarely,
break convexity too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ksweep._selection import as_real_1d, check_curve, check_nonnegative_real

__all__ = ["ConvergenceCheck", "suspicious_k"]


@dataclass(frozen=True, eq=False)
class ConvergenceCheck:
    """The outcome of :func:`suspicious_k`, one entry per k.

    Parameters
    ----------
    k : ndarray of shape (n_k,)
        The k values.
    suspicious : ndarray of bool
        ``rises | breaks_convexity | wide_spread``.
    rises : ndarray of bool
        The k whose best inertia is above the previous k's.
    breaks_convexity : ndarray of bool
        The k whose best inertia lies above the trend of its neighbours.
    wide_spread : ndarray of bool
        The k whose restarts spread widely with an unconfirmed best (all False
        without ``spread_tol``).
    excess : ndarray of float
        Gain after minus gain before, in median gains (NaN at the first and last k).
    spread : ndarray of float
        ``(median restart - best) / best`` (0 with one restart).
    n_at_best : ndarray of int
        Restarts within ``rtol`` of the best.
    reasons : dict of int to str
        Why each suspicious k was named.

    Examples
    --------
    >>> from ksweep.convergence import suspicious_k
    >>> check = suspicious_k([1, 2, 3, 4, 5], [100.0, 50.0, 48.0, 20.0, 18.0])
    >>> check.named
    [3]
    """

    k: np.ndarray
    suspicious: np.ndarray
    rises: np.ndarray
    breaks_convexity: np.ndarray
    wide_spread: np.ndarray
    excess: np.ndarray
    spread: np.ndarray
    n_at_best: np.ndarray
    reasons: dict

    @property
    def named(self) -> list[int]:
        """The suspicious k values, in increasing order."""
        return [int(k) for k in self.k[self.suspicious]]


def _restarts(restart_inertia, inertia: np.ndarray) -> np.ndarray:
    func = "suspicious_k"
    if restart_inertia is None:
        return inertia[:, None]
    arr = np.asarray(restart_inertia)
    if arr.ndim != 2 or arr.shape[0] != inertia.shape[0] or arr.shape[1] < 1:
        raise ValueError(
            f"The 'restart_inertia' argument of {func} must be a 2-D array of shape (n_k, "
            f"n_restarts) = ({inertia.shape[0]}, R). Got an array of shape {arr.shape} instead."
        )
    if arr.dtype.kind not in "iuf":
        raise ValueError(
            f"The 'restart_inertia' argument of {func} must contain real numbers. "
            f"Got dtype {arr.dtype} instead."
        )
    arr = arr.astype(np.float64)
    finite = np.isfinite(arr)
    if not finite.any(axis=1).all():
        raise ValueError(
            f"The 'restart_inertia' argument of {func} must have a finite inertia for every k. "
            f"Got none for k at position {int(np.flatnonzero(~finite.any(axis=1))[0])} instead."
        )
    below = np.nanmin(np.where(finite, arr, np.nan), axis=1) < inertia * (1 - 1e-12)
    if below.any():
        raise ValueError(
            f"The 'restart_inertia' argument of {func} must have no restart below the best "
            f"inertia of its k. Got one at position {int(np.flatnonzero(below)[0])} instead."
        )
    return arr


def suspicious_k(
    k, inertia, restart_inertia=None, *, convexity_tol=0.75, spread_tol=None, rtol=1e-3
) -> ConvergenceCheck:
    """Name the k whose best fit may be a poor local optimum.

    Parameters
    ----------
    k : array-like of shape (n_k,)
        Strictly increasing k values, at least 2.
    inertia : array-like of shape (n_k,)
        Best inertia per k (the best of its restarts), >= 0.
    restart_inertia : array-like of shape (n_k, n_restarts) or None, default=None
        Every restart's inertia; NaN marks a restart that did not run. It feeds
        ``spread`` and ``n_at_best``, and the spread test when ``spread_tol`` is
        set (one restart per k leaves only the convexity test).
    convexity_tol : float, default=0.75
        How many median gains (per unit of k) the gain after k may exceed the
        gain into k.
    spread_tol : float or None, default=None
        How far, relative to the best, the median restart may lie above it
        before a best reached by a single restart is doubted; None leaves the
        spread test out (see the module docstring for why it is off by default).
    rtol : float, default=1e-3
        Restarts within ``rtol`` (relative) of the best count as reaching it; an
        inertia more than ``rtol`` above the previous k's rises.

    Returns
    -------
    ConvergenceCheck
        Per-k flags, the numbers behind them and a reason per named k.

    Examples
    --------
    >>> import numpy as np
    >>> from ksweep.convergence import suspicious_k
    >>> restarts = np.array([[90.0, 90.0], [40.0, 40.0], [20.0, 31.0], [15.0, 15.0]])
    >>> check = suspicious_k([1, 2, 3, 4], restarts.min(axis=1), restarts, spread_tol=0.2)
    >>> check.named, check.reasons[3]
    ([3], 'k=3: the median restart is 27.5% above the best (20), reached by 1 of 2 restarts')
    """
    func = "suspicious_k"
    convexity_tol = check_nonnegative_real(convexity_tol, "convexity_tol", func)
    if spread_tol is not None:
        spread_tol = check_nonnegative_real(spread_tol, "spread_tol", func)
    rtol = check_nonnegative_real(rtol, "rtol", func)
    k_in = np.asarray(k)
    w = as_real_1d(inertia, "inertia", func).astype(np.float64)
    if w.shape != k_in.shape:
        raise ValueError(
            f"The 'k' and 'inertia' arguments of {func} must have the same length. "
            f"Got {k_in.shape} and {w.shape} instead."
        )
    # k: real, finite, strictly increasing, at least 2 (check_curve on a stand-in curve)
    x, _ = check_curve(k, np.arange(w.shape[0]), min_points=2, func=func)
    bad = ~(np.isfinite(w) & (w >= 0))
    if bad.any():
        raise ValueError(
            f"The 'inertia' argument of {func} must be finite and >= 0. "
            f"Got {w[bad][0]} at position {int(np.flatnonzero(bad)[0])} instead."
        )
    runs = _restarts(restart_inertia, w)
    n_k = x.shape[0]

    gains = -np.diff(w) / np.diff(x)  # gain per unit of k of each step
    scale = float(np.median(gains))
    if scale <= 0:  # most steps gain nothing: the mean step, else no scale at all
        scale = (w[0] - w[-1]) / (x[-1] - x[0])
    excess = np.full(n_k, np.nan)
    if n_k >= 3:
        excess[1:-1] = (gains[1:] - gains[:-1]) / scale if scale > 0 else 0.0
    breaks = np.nan_to_num(excess, nan=-np.inf) > convexity_tol
    rises = np.r_[False, w[1:] > w[:-1] * (1 + rtol)]

    finite = np.isfinite(runs)
    n_runs = finite.sum(axis=1)
    median = np.nanmedian(np.where(finite, runs, np.nan), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.where(w > 0, (median - w) / w, 0.0)
    n_at_best = (finite & (runs <= w[:, None] * (1 + rtol) + 1e-300)).sum(axis=1)
    wide = np.zeros(n_k, dtype=bool)
    if spread_tol is not None:
        wide = (n_runs >= 2) & (spread > spread_tol) & (n_at_best < 2)

    reasons = {}
    suspicious = rises | breaks | wide
    for i in np.flatnonzero(suspicious):
        parts = []
        if rises[i]:
            parts.append(f"its inertia {w[i]:.6g} is above k={k_in[i - 1]}'s ({w[i - 1]:.6g})")
        if breaks[i]:
            parts.append(
                f"its inertia {w[i]:.6g} gains {gains[i - 1]:.4g} per k over k={k_in[i - 1]} "
                f"but the next step gains {gains[i]:.4g} ({excess[i]:.2f} median gains more)"
            )
        if wide[i]:
            parts.append(
                f"the median restart is {100 * spread[i]:.1f}% above the best ({w[i]:.6g}), "
                f"reached by {n_at_best[i]} of {n_runs[i]} restarts"
            )
        reasons[int(k_in[i])] = f"k={k_in[i]}: " + "; ".join(parts)
    return ConvergenceCheck(
        k=k_in.copy(),
        suspicious=suspicious,
        rises=rises,
        breaks_convexity=breaks,
        wide_spread=wide,
        excess=excess,
        spread=spread,
        n_at_best=n_at_best,
        reasons=reasons,
    )
