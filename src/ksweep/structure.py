"""Is there any cluster structure? A null test from k = 1 and 2 alone, and the selection it gates.

:func:`no_structure` answers "no clusters" when the gap statistic, read with the
rule of Tibshirani, Walther & Hastie (2001), stops at k = 1 against references
drawn uniformly in the data's bounding box:

    gap(1) >= gap(2) - se_factor · s_2,

that is, splitting the data in two lowers its log dispersion no more than
splitting structureless data of the same extent does, within one standard
error. Only k = 1 and k = 2 enter: ``W_1`` is the total sum of squares (no fit)
and ``W_2`` the best 2-means inertia, for the data and for each reference, so
the test costs B 2-means fits of reference data sets, which can be smaller than
the data (a constant shift of every ``log W*`` leaves the test unchanged). The
references need only the data's bounding box, which every engine can compute
in one pass.

Why this rule: on ``benchmarks/selection_accuracy.py`` it said "no clusters" on
50 of 50 structureless data sets (uniform and Gaussian, 2 to 10 dimensions) and
on 2 of 165 data sets with clusters; the PCA-box references, better for choosing
k, said it on 16 of those 165 (the PCA box hugs few well-separated clusters, so
their 2-split looks ordinary), and the gap rules that look further right
(``"firstSEmax"``, ``"globalSEmax"``) need the references at every k.

:func:`select_unless_no_structure` is the selection this test gates: k = 1 when
the test finds no structure, the given method's k (kneedle on log inertia by
default) otherwise. On the same benchmark it found the true k in 101 of 115 data
sets read off the whole data's gap curve (100 as KSweep's default, which tests a
sample of at most 1,000 rows), kneedle alone in 71, the best single method (the
gap statistic with PCA references) in 87 and the best peer in 48.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ksweep._selection import SelectionResult, check_nonnegative_real
from ksweep.elbow import kneedle

__all__ = ["StructureTest", "no_structure", "select_unless_no_structure"]


@dataclass(frozen=True)
class StructureTest:
    """The outcome of :func:`no_structure`.

    Parameters
    ----------
    no_structure : bool
        True when the data show no cluster structure (k = 1).
    gap : ndarray of shape (2,)
        ``gap(1)`` and ``gap(2)``.
    s_2 : float
        The standard error of ``gap(2)``, ``sd(log W*_2) · sqrt(1 + 1/B)``.
    se_factor : float
        How many standard errors the rule allows.
    n_references : int
        B, the number of reference data sets.
    reason : str
        One line with the numbers behind the answer.

    Examples
    --------
    >>> from ksweep.structure import no_structure
    >>> test = no_structure([5.0, 4.6], [[5.0, 5.0], [4.5, 4.52]])
    >>> test.no_structure, round(float(test.gap[1]), 2)
    (True, -0.09)
    """

    no_structure: bool
    gap: np.ndarray
    s_2: float
    se_factor: float
    n_references: int
    reason: str

    def __bool__(self) -> bool:
        return self.no_structure


def _as_finite(values, name: str, shape_text: str, ndim: int) -> np.ndarray:
    arr = np.asarray(values)
    ok = arr.ndim == ndim and arr.shape[0] == 2 and (ndim == 1 or arr.shape[1] >= 1)
    if not ok or arr.dtype.kind not in "iuf":
        raise ValueError(
            f"The '{name}' argument of no_structure must be a real array of shape {shape_text}. "
            f"Got {arr.dtype} values of shape {arr.shape} instead."
        )
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(
            f"The '{name}' argument of no_structure must contain only finite values. "
            f"Got {arr.tolist()} instead."
        )
    return arr


def no_structure(log_inertia, reference_log_inertia, *, se_factor=1.0) -> StructureTest:
    """Decide whether the data show no cluster structure, from k = 1 and k = 2.

    Parameters
    ----------
    log_inertia : array-like of shape (2,)
        ``log W_1`` (log total sum of squares) and ``log W_2`` (log best 2-means
        inertia) of the data.
    reference_log_inertia : array-like of shape (2, n_references)
        The same for each reference data set, drawn uniformly in the data's
        bounding box (:func:`ksweep.gap.reference_datasets`, ``method="uniform"``).
    se_factor : float, default=1.0
        How many standard errors of ``gap(2)`` the rule allows.

    Returns
    -------
    StructureTest
        ``bool(result)`` is ``result.no_structure``.

    Examples
    --------
    >>> import numpy as np
    >>> from ksweep.structure import no_structure
    >>> # two clusters: halving the data lowers log W by far more than for the box
    >>> test = no_structure([6.0, 3.1], [[6.2, 6.2, 6.2], [5.6, 5.58, 5.62]])
    >>> bool(test), test.reason
    (False, 'structure: gap(2) - s_2 = 2.4811 > gap(1) = 0.2000 (uniform-box references, B=3)')
    """
    se_factor = check_nonnegative_real(se_factor, "se_factor", "no_structure")
    log_w = _as_finite(log_inertia, "log_inertia", "(2,)", 1)
    ref = _as_finite(reference_log_inertia, "reference_log_inertia", "(2, n_references)", 2)
    n_references = ref.shape[1]
    gap = ref.mean(axis=1) - log_w
    s_2 = float(ref[1].std() * np.sqrt(1.0 + 1.0 / n_references))
    bound = gap[1] - se_factor * s_2
    none = bool(gap[0] >= bound)
    s_term = "s_2" if se_factor == 1 else f"{se_factor:g}·s_2"
    numbers = f"gap(2) - {s_term} = {bound:.4f}"
    tail = f"(uniform-box references, B={n_references})"
    if none:
        reason = f"no structure: gap(1) = {gap[0]:.4f} >= {numbers} {tail}"
    else:
        reason = f"structure: {numbers} > gap(1) = {gap[0]:.4f} {tail}"
    return StructureTest(none, gap, s_2, se_factor, n_references, reason)


def _kneedle_on_log(k, inertia) -> SelectionResult:
    return kneedle(k, np.log(np.asarray(inertia, dtype=np.float64)))


def select_unless_no_structure(
    k, inertia, test: StructureTest, method: Callable = _kneedle_on_log
) -> SelectionResult:
    """k = 1 when ``test`` finds no structure, ``method(k, inertia)`` otherwise.

    Parameters
    ----------
    k : array-like of shape (n_k,)
        The swept k values.
    inertia : array-like of shape (n_k,)
        Best inertia per k.
    test : StructureTest
        The outcome of :func:`no_structure` on the same data.
    method : callable, default=kneedle on log inertia
        ``method(k, inertia) -> SelectionResult`` used when there is structure.

    Returns
    -------
    SelectionResult
        ``method="auto"``. When there is no structure and 1 is among ``k``,
        ``k=1``; when 1 is not among ``k``, the method's k, and the reason says
        that the data show no structure (a caller should warn). ``details``
        holds ``no_structure`` (the test) and ``method_result``.

    Examples
    --------
    >>> from ksweep.structure import no_structure, select_unless_no_structure
    >>> k, inertia = [1, 2, 3, 4, 5], [1000.0, 400.0, 120.0, 110.0, 101.0]
    >>> flat = no_structure([6.9, 6.5], [[6.9, 6.9], [6.4, 6.42]])
    >>> select_unless_no_structure(k, inertia, flat).k
    1
    >>> clear = no_structure([6.9, 5.99], [[6.9, 6.9], [6.4, 6.42]])
    >>> select_unless_no_structure(k, inertia, clear).k
    3
    """
    if not isinstance(test, StructureTest):
        raise ValueError(
            "The 'test' argument of select_unless_no_structure must be a StructureTest (the "
            f"result of no_structure). Got {type(test).__name__} instead."
        )
    k_in = np.asarray(k)
    inner = method(k_in, inertia)
    details = {"no_structure": test, "method_result": inner}
    common = dict(
        method="auto",
        candidates=inner.candidates,
        statistic=inner.statistic,
        statistic_name=inner.statistic_name,
        details=details,
    )
    if not test.no_structure:
        return SelectionResult(k=inner.k, reason=f"{test.reason}; {inner.reason}", **common)
    if 1 in k_in.tolist():
        return SelectionResult(k=1, reason=f"k=1: {test.reason}", **common)
    return SelectionResult(
        k=inner.k,
        reason=f"{test.reason}, but k=1 was not swept; {inner.reason}",
        **common,
    )
