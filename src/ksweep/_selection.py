"""The result object every selection method returns, and the checks they share."""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Real
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class SelectionResult:
    """What a selection method chose, and the numbers behind the choice.

    Parameters
    ----------
    k : int or None
        The chosen number of clusters (an element of the input ``k``), or
        ``None`` when the method found none (``reason`` says why).
    method : str
        Name of the method that produced this result.
    candidates : ndarray of shape (n_candidates,)
        The k values the method scored.
    statistic : ndarray of shape (n_candidates,)
        The method's per-candidate statistic (each method's documentation
        says how it leads to the chosen k).
    statistic_name : str
        What ``statistic`` measures.
    reason : str
        One line explaining the choice (or the absence of one).
    details : dict
        Method-specific arrays and values (for example the left and right R² of
        the two-segment method).

    Examples
    --------
    >>> from ksweep.elbow import two_segment
    >>> result = two_segment([1, 2, 3, 4, 5, 6], [100, 60, 20, 18, 16, 14])
    >>> result.k, result.method, result.candidates.tolist()
    (3, 'two_segment', [3, 4, 5])
    >>> SelectionResult.no_choice("mine", [2, 3, 4], "flat curve").k is None
    True
    """

    k: int | None
    method: str
    candidates: np.ndarray
    statistic: np.ndarray
    statistic_name: str
    reason: str
    details: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"SelectionResult(method={self.method!r}, k={self.k!r}, reason={self.reason!r})"

    @classmethod
    def no_choice(cls, method: str, candidates, reason: str) -> SelectionResult:
        """A result that chose no k, with NaN statistics, and why."""
        candidates = np.asarray(candidates).copy()
        return cls(
            k=None,
            method=method,
            candidates=candidates,
            statistic=np.full(candidates.shape, np.nan),
            statistic_name="none",
            reason=reason,
        )


def check_nonnegative_real(value: Any, name: str, func: str) -> float:
    """``value`` as a float, or a ValueError naming the argument unless it is finite and >= 0."""
    real = isinstance(value, Real) and not isinstance(value, bool)
    if not (real and np.isfinite(value) and value >= 0):
        raise ValueError(
            f"The '{name}' argument of {func} must be a finite real number >= 0. "
            f"Got {value!r} instead."
        )
    return float(value)


def check_int_at_least(value: Any, low: int, name: str, func: str, *, none: bool = False) -> None:
    """A ValueError naming the argument unless it is an int >= ``low`` (or None if allowed)."""
    if none and value is None:
        return
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        if value >= low:
            return
    or_none = " or None" if none else ""
    raise ValueError(
        f"The '{name}' argument of {func} must be an int >= {low}{or_none}. Got {value!r} instead."
    )


def as_real_1d(values, name: str, func: str) -> np.ndarray:
    """``values`` as a 1-D array of real numbers, or a ValueError naming the argument."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(
            f"The '{name}' argument of {func} must be a 1-D array-like. "
            f"Got an array of shape {arr.shape} instead."
        )
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool) or np.iscomplexobj(arr):
        raise ValueError(
            f"The '{name}' argument of {func} must contain real numbers. "
            f"Got dtype {arr.dtype} instead."
        )
    return arr


def check_curve(k, scores, *, min_points: int, func: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate a (k, scores) curve for a detector and return float arrays.

    Raises ``ValueError`` naming the offending argument for: non-1-D input,
    mismatched lengths, fewer than ``min_points`` points, NaN or infinite
    values, k values that are not strictly increasing, and constant scores.
    """
    k_arr = as_real_1d(k, "k", func)
    scores_arr = as_real_1d(scores, "scores", func)
    if k_arr.shape != scores_arr.shape:
        raise ValueError(
            f"The 'k' and 'scores' arguments of {func} must have the same length. "
            f"Got {k_arr.shape[0]} and {scores_arr.shape[0]} instead."
        )
    if k_arr.shape[0] < min_points:
        raise ValueError(
            f"The 'scores' argument of {func} must have at least {min_points} points. "
            f"Got {k_arr.shape[0]} instead."
        )
    k_arr = k_arr.astype(np.float64)
    scores_arr = scores_arr.astype(np.float64)
    for name, arr in (("k", k_arr), ("scores", scores_arr)):
        bad = ~np.isfinite(arr)
        if bad.any():
            raise ValueError(
                f"The '{name}' argument of {func} must contain only finite values. "
                f"Got {arr[bad][0]} at position {int(np.flatnonzero(bad)[0])} instead."
            )
    steps = np.diff(k_arr)
    if (steps <= 0).any():
        i = int(np.flatnonzero(steps <= 0)[0])
        kind = "duplicated" if steps[i] == 0 else "unsorted"
        raise ValueError(
            f"The 'k' argument of {func} must be strictly increasing. "
            f"Got {kind} values {k_arr[i]:g} and {k_arr[i + 1]:g} at positions {i} and {i + 1} "
            "instead."
        )
    if np.ptp(scores_arr) == 0:
        raise ValueError(
            f"The 'scores' argument of {func} must not be constant: a flat curve has no "
            f"elbow. Got all values equal to {scores_arr[0]:g} instead."
        )
    return k_arr, scores_arr
