"""The gap statistic: reference data sets, the gap per k, and R's five rules for k.

Tibshirani, Walther & Hastie (2001) compare the log within-cluster dispersion of
the data, ``log W_k``, with its mean over B reference data sets drawn without
cluster structure (:func:`reference_datasets`). :func:`gap_statistic` computes the
gap per k and chooses k with one of the five rules of R's ``cluster::maxSE``
(:data:`GAP_RULES`); :func:`gap_rule_index` applies a rule to any curve and its
standard errors.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_array

from ksweep._selection import (
    SelectionResult,
    check_curve,
    check_int_at_least,
    check_nonnegative_real,
)
from ksweep._validation import _is_int

__all__ = ["GAP_RULES", "gap_rule_index", "gap_statistic", "reference_datasets"]

#: The rules of R's ``cluster::maxSE``, in R's order; ``"firstSEmax"`` is R's default.
GAP_RULES = ("firstSEmax", "Tibs2001SEmax", "globalSEmax", "firstmax", "globalmax")


def reference_datasets(
    X, n_references, *, method="uniform", random_state=None, n_samples=None
) -> list:
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
    n_samples : int or None, default=None
        Rows per reference; None draws as many as X has. Fewer rows make the
        reference fits cheaper: every ``log W*_k`` then shifts by about
        ``log(n_samples / len(X))``, the same for every k, which no rule reading
        differences of the gap across k (all five, and
        :func:`ksweep.structure.no_structure`) sees, while ``s_k`` grows.

    Returns
    -------
    list of ndarray of shape (n_samples, n_features)
        ``n_references`` arrays (memory: B copies of X, or of ``n_samples`` rows).

    Examples
    --------
    >>> import numpy as np
    >>> from ksweep.gap import reference_datasets
    >>> X = np.array([[0.0, 5.0], [1.0, 7.0], [0.5, 6.0]])
    >>> refs = reference_datasets(X, 3, random_state=0)
    >>> len(refs), refs[0].shape
    (3, (3, 2))
    >>> bool(np.all((refs[0] >= X.min(axis=0)) & (refs[0] <= X.max(axis=0))))
    True
    """
    check_int_at_least(n_references, 1, "n_references", "reference_datasets")
    check_int_at_least(n_samples, 1, "n_samples", "reference_datasets", none=True)
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
        rows = X.shape[0] if n_samples is None else n_samples
        draw = low + (high - low) * rng.random((rows, low.shape[0]))
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


def _check_rule(rule, se_factor, func: str) -> float:
    if not (isinstance(rule, str) and rule in GAP_RULES):
        listed = ", ".join(repr(name) for name in GAP_RULES)
        raise ValueError(
            f"The 'rule' argument of {func} must be one of {listed}. Got {rule!r} instead."
        )
    return check_nonnegative_real(se_factor, "se_factor", func)


def _first_local_max(f: np.ndarray) -> int:
    """Position of the first k whose next value does not rise (the last position if none)."""
    falls = np.flatnonzero(np.diff(f) <= 0)
    return int(falls[0]) if falls.size else f.shape[0] - 1


def _within_se_left_of(f: np.ndarray, f_se: np.ndarray, top: int) -> int:
    """The first position at or left of ``top`` whose value is within f_se[top] of f[top]."""
    return int(np.flatnonzero(f[: top + 1] >= f[top] - f_se[top])[0])


def gap_rule_index(gap, s, rule="firstSEmax", se_factor=1.0) -> int:
    """Position of the k a rule of R's ``cluster::maxSE`` chooses on a curve.

    With ``f`` the curve (the gap per k, in grid order), ``SE`` its standard
    errors and ``fSE = se_factor · SE``, the rules are those of ``maxSE``:

    - ``"globalmax"``: the first position of the largest ``f``;
    - ``"firstmax"``: the first local maximum, the first position i with
      ``f[i+1] <= f[i]`` (the last position when ``f`` rises throughout);
    - ``"Tibs2001SEmax"``: the first position i with ``f[i] >= f[i+1] - fSE[i+1]``
      (Tibshirani et al., 2001), the last position when there is none;
    - ``"firstSEmax"`` (R's default): from the first local maximum m, the first
      position i <= m with ``f[i] >= f[m] - fSE[m]``;
    - ``"globalSEmax"``: the same from the global maximum (the rule Dudoit &
      Fridlyand, 2002, describe).

    "Next" and "left" are along the grid: on a grid such as (2, 4, 8) the next
    k of 4 is 8. ``se_factor = 0`` turns the SE rules into plain maxima.

    Parameters
    ----------
    gap : array-like of shape (n_k,)
        The curve, for example the gap per k; finite, at least one value.
    s : array-like of shape (n_k,)
        Standard error per k, finite and >= 0.
    rule : {"firstSEmax", "Tibs2001SEmax", "globalSEmax", "firstmax", "globalmax"}
        The rule, as named by R's ``cluster::maxSE``.
    se_factor : float, default=1.0
        R's ``SE.factor``: how many standard errors the SE rules allow.

    Returns
    -------
    int
        The 0-based position of the chosen k.

    Examples
    --------
    >>> from ksweep.gap import gap_rule_index
    >>> gap = [0.50, 0.30, 0.60, 0.90, 0.85]
    >>> s = [0.05] * 5
    >>> [gap_rule_index(gap, s, rule) for rule in ("firstSEmax", "globalSEmax", "globalmax")]
    [0, 3, 3]
    """
    func = "gap_rule_index"
    se_factor = _check_rule(rule, se_factor, func)
    f = np.asarray(gap, dtype=np.float64)
    se = np.asarray(s, dtype=np.float64)
    if f.ndim != 1 or f.shape[0] < 1 or se.shape != f.shape:
        raise ValueError(
            f"The 'gap' and 's' arguments of {func} must be 1-D arrays of the same length, at "
            f"least 1. Got shapes {np.shape(gap)} and {np.shape(s)} instead."
        )
    if not (np.all(np.isfinite(f)) and np.all(np.isfinite(se)) and np.all(se >= 0)):
        raise ValueError(
            f"The 'gap' argument of {func} must be finite and its 's' argument finite and >= 0. "
            f"Got gap={f.tolist()} and s={se.tolist()} instead."
        )
    f_se = se_factor * se
    if rule == "globalmax":
        return int(np.argmax(f))
    if rule == "firstmax":
        return _first_local_max(f)
    if rule == "Tibs2001SEmax":
        holds = np.flatnonzero(f[:-1] >= f[1:] - f_se[1:])
        return int(holds[0]) if holds.size else f.shape[0] - 1
    top = _first_local_max(f) if rule == "firstSEmax" else int(np.argmax(f))
    return _within_se_left_of(f, f_se, top)


def _rule_reason(rule, se_factor, gap, s, k_in, i, n_references) -> str:
    """One line saying why ``rule`` chose position ``i``."""
    chosen = k_in[i].item()
    s_term = "s" if se_factor == 1 else f"{se_factor:g}·s"
    tail = f"({rule} rule of R's cluster::maxSE, {n_references} reference data sets)"
    if rule == "globalmax":
        return f"k={chosen} has the largest gap ({gap[i]:.4f}) {tail}"
    if rule == "firstmax":
        return f"k={chosen} is the first local maximum of the gap ({gap[i]:.4f}) {tail}"
    if rule == "Tibs2001SEmax":
        fse = se_factor * s
        if i < gap.shape[0] - 1 and gap[i] >= gap[i + 1] - fse[i + 1]:
            return (
                f"k={chosen} is the smallest k with gap(k) >= gap(next k) - {s_term}(next k): "
                f"{gap[i]:.4f} >= {gap[i + 1]:.4f} - {fse[i + 1]:.4f} {tail}"
            )
        return (
            f"no k satisfies gap(k) >= gap(next k) - {s_term}(next k); k={chosen} has the "
            f"largest gap ({gap[i]:.4f}) instead {tail}"
        )
    top = _first_local_max(gap) if rule == "firstSEmax" else int(np.argmax(gap))
    which = "first local maximum" if rule == "firstSEmax" else "global maximum"
    bound = gap[top] - se_factor * s[top]
    return (
        f"k={chosen} is the smallest k with gap(k) >= gap({k_in[top].item()}) - "
        f"{s_term}({k_in[top].item()}) = {bound:.4f}, where k={k_in[top].item()} is the "
        f"{which} of the gap ({gap[top]:.4f}) {tail}"
    )


def gap_statistic(
    k, log_inertia, reference_log_inertia, *, rule="Tibs2001SEmax", se_factor=1.0
) -> SelectionResult:
    """Choose k with the gap statistic and one of R's ``maxSE`` rules.

    Tibshirani, Walther & Hastie (2001) compare the log within-cluster
    dispersion of the data, ``log W_k``, with its mean over B reference data
    sets drawn without cluster structure (see :func:`reference_datasets`):

    - ``gap(k) = mean_b(log W*_kb) - log W_k``,
    - ``sd_k`` the standard deviation of ``log W*_kb`` over b (``ddof=0``, as in
      the paper; R's ``clusGap`` uses ``ddof=1``), and ``s_k = sd_k · sqrt(1 + 1/B)``;
    - k is chosen by ``rule`` (see :func:`gap_rule_index`). The default,
      ``"Tibs2001SEmax"``, is the paper's: the smallest k with
      ``gap(k) >= gap(k') - s_k'``, where k' is the next k of the grid, and the
      largest k (which then has the largest gap) when no k satisfies it.
      ``"firstSEmax"`` (R's default) climbs to the first local maximum and
      then takes the smallest k within one standard error of it;
      ``"globalSEmax"`` does so from the global maximum, so a gap curve that
      dips before rising to its maximum does not stop before the dip.

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
    rule : {"Tibs2001SEmax", "firstSEmax", "globalSEmax", "firstmax", "globalmax"}
        How k is read from the gap curve (R's ``maxSE`` ``method``).
    se_factor : float, default=1.0
        R's ``SE.factor``: the SE rules allow ``se_factor · s_k``.

    Returns
    -------
    SelectionResult
        ``statistic`` is the gap per k; ``details`` holds ``s_k``, ``sd_k``,
        ``n_references``, ``rule``, ``se_factor`` and ``satisfies_rule`` (per k,
        whether ``gap(k) >= gap(next k) - se_factor · s(next k)``, the paper's
        condition; the last k has no next k and never satisfies it).

    Examples
    --------
    >>> import numpy as np
    >>> from ksweep.gap import gap_statistic
    >>> k = [1, 2, 3, 4]
    >>> log_w = np.array([5.0, 4.0, 2.5, 2.3])
    >>> reference = np.array([[5.1, 5.0], [4.5, 4.6], [4.1, 4.0], [3.8, 3.9]])
    >>> result = gap_statistic(k, log_w, reference)
    >>> result.k, np.round(result.statistic, 2).tolist()
    (3, [0.05, 0.55, 1.55, 1.55])
    >>> gap_statistic(k, log_w, reference, rule="globalmax").k
    3
    """
    se_factor = _check_rule(rule, se_factor, "gap_statistic")
    k_in, log_w, ref = _check_gap_inputs(k, log_inertia, reference_log_inertia)
    n_references = ref.shape[1]
    gap = ref.mean(axis=1) - log_w
    sd = ref.std(axis=1)
    s = sd * np.sqrt(1.0 + 1.0 / n_references)
    satisfies = np.zeros(gap.shape[0], dtype=bool)
    satisfies[:-1] = gap[:-1] >= gap[1:] - se_factor * s[1:]
    i = gap_rule_index(gap, s, rule, se_factor)
    return SelectionResult(
        k=k_in[i].item(),
        method="gap",
        candidates=k_in.copy(),
        statistic=gap,
        statistic_name="gap",
        reason=_rule_reason(rule, se_factor, gap, s, k_in, i, n_references),
        details={
            "s_k": s,
            "sd_k": sd,
            "n_references": n_references,
            "rule": rule,
            "se_factor": se_factor,
            "satisfies_rule": satisfies,
        },
    )
