"""From a finished sweep to a chosen k: criteria columns, selection by name, the summary."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from ksweep._families import family_of
from ksweep._selection import SelectionResult
from ksweep._validation import param_error
from ksweep.consensus import vote
from ksweep.criteria import CRITERIA, DEFAULT_SILHOUETTE_SAMPLE, select_min, silhouette
from ksweep.elbow import kneedle, two_segment
from ksweep.gap import gap_statistic
from ksweep.structure import StructureTest, select_unless_no_structure

#: Elbow detectors, applied to the best inertia per k.
ELBOW_METHODS = {"kneedle": kneedle, "two_segment": two_segment}
#: Every selection name KSweep accepts, in the order summary() reports them.
SELECTION_NAMES = (
    "auto",
    "kneedle",
    "two_segment",
    "silhouette",
    "calinski_harabasz",
    "davies_bouldin",
    "gap",
    "bic",
    "vote",
)
#: Criteria that ``scoring=`` can name (the gap statistic needs reference fits).
SCORING_NAMES = (*CRITERIA, "gap")
#: The fewest k values each named method can choose from.
MIN_POINTS = {
    "auto": 3,
    "kneedle": 3,
    "two_segment": 4,
    "gap": 2,
    "bic": 2,
    "vote": 2,
    **dict.fromkeys(CRITERIA, 2),
}
#: The rule KSweep reads the gap curve with (see ``ksweep.gap.GAP_RULES``).
DEFAULT_GAP_RULE = "Tibs2001SEmax"


def check_long_enough(k_values: np.ndarray, selection: Any, k_range: Any, owner: str) -> None:
    """Refuse, before any fit, a k range too short for the named selection method."""
    needed = MIN_POINTS.get(selection, 1) if isinstance(selection, str) else 1
    if k_values.size < needed:
        raise param_error(
            "k_range", owner, f"at least {needed} values long for selection={selection!r}", k_range
        )


def check_silhouette_sample(
    sweep: Any, scoring: tuple[str, ...], k_values: np.ndarray, n_samples: int
) -> None:
    """Refuse, before any fit, a ``silhouette_sample`` too small for the largest k.

    A stratified sample holds 2 members of every cluster, so it needs up to
    2 × the largest k samples; below that the criterion would fail after every fit.
    """
    sample = sweep.silhouette_sample
    if "silhouette" not in scoring or sample is None or sample >= n_samples:
        return
    needed = min(2 * int(k_values.max()), n_samples)
    if sample < needed:
        raise param_error(
            "silhouette_sample",
            type(sweep).__name__,
            f"None or an int >= {needed} (2 samples of each of the up to {int(k_values.max())} "
            "clusters of the largest k, so that every cluster is represented)",
            sample,
        )


def needed_scoring(scoring: tuple[str, ...], selection: Any) -> tuple[str, ...]:
    """The criteria to compute: those named, plus the one selection needs."""
    names = list(scoring)
    wanted = (selection,) if isinstance(selection, str) and selection in SCORING_NAMES else ()
    if selection == "vote":  # every cheap criterion votes; the gap only when scoring names it
        wanted = tuple(CRITERIA)
    names += [name for name in wanted if name not in names]
    return tuple(names)


def criterion_columns(
    X: Any,
    k_values: np.ndarray,
    labels: Mapping[int, np.ndarray],
    names: tuple[str, ...],
    *,
    silhouette_sample: int | None,
    seed: int,
    precomputed: bool = False,
) -> dict[str, np.ndarray]:
    """Per-k columns of the named criteria (gap excluded), from each k's best labels.

    With ``precomputed``, X is a distance matrix and only the silhouette applies
    (``sklearn.metrics.silhouette_score(metric="precomputed")``, on the rows and
    columns of the same stratified sample).

    A criterion is NaN where it is undefined: below its smallest k, or where the
    model used fewer distinct labels than 2. The silhouette runs on a seeded
    sample stratified by cluster when ``n_samples > silhouette_sample``; the
    ``silhouette_n_samples`` column records how many samples it used.
    """
    columns: dict[str, np.ndarray] = {}
    n_samples = X.shape[0]
    for name in names:
        if name == "gap":
            continue
        values = np.full(k_values.shape, np.nan)
        used = np.zeros(k_values.shape, dtype=np.int64)
        for i, k in enumerate(k_values):
            k_labels = labels[int(k)]
            n_labels = np.unique(k_labels).size
            if k < CRITERIA[name].min_k or not 2 <= n_labels <= n_samples - 1:
                continue
            if name == "silhouette":
                sample = (
                    silhouette_sample
                    if silhouette_sample and n_samples > silhouette_sample
                    else None
                )
                if precomputed:
                    values[i], used[i] = precomputed_silhouette(X, k_labels, sample, seed + int(k))
                else:
                    score = silhouette(X, k_labels, sample_size=sample, random_state=seed + int(k))
                    values[i], used[i] = score.score, score.n_samples_used
            else:
                values[i] = CRITERIA[name].compute(X, k_labels)
        columns[name] = values
        if name == "silhouette":
            columns["silhouette_n_samples"] = used
    return columns


def precomputed_silhouette(
    D: np.ndarray, labels: np.ndarray, sample_size: int | None, seed: int
) -> tuple[float, int]:
    """The silhouette of a distance matrix (on a stratified sample of its rows and columns
    when ``sample_size`` is given) and the number of samples used."""
    from sklearn.metrics import silhouette_score

    from ksweep._silhouette import _stratified_sample

    codes = np.unique(np.asarray(labels), return_inverse=True)[1].ravel()
    if sample_size is not None:
        index = np.sort(
            _stratified_sample(codes, np.bincount(codes), sample_size, np.random.default_rng(seed))
        )
        D, codes = D[np.ix_(index, index)], codes[index]
    return float(silhouette_score(D, codes, metric="precomputed")), int(codes.shape[0])


def gap_columns(results: Mapping, reference_log_inertia: np.ndarray) -> dict[str, np.ndarray]:
    """The gap statistic per k, its standard error, and the reference log-inertia matrix."""
    result = gap_statistic(results["k"], np.log(results["inertia"]), reference_log_inertia)
    return {
        "gap": np.asarray(result.statistic, dtype=np.float64),
        "gap_s": np.asarray(result.details["s_k"], dtype=np.float64),
        "gap_reference_log_inertia": reference_log_inertia,
    }


def _scaled_inertia(results: Mapping, method: str, elbow_scale: str) -> tuple[np.ndarray, str]:
    inertia = np.asarray(results["inertia"], dtype=np.float64)
    log_default = method in ("kneedle", "auto")
    scale = ("log" if log_default else "linear") if elbow_scale == "auto" else elbow_scale
    if scale == "log" and not np.all(inertia > 0):
        scale = "linear"
    return (np.log(inertia) if scale == "log" else inertia), scale


#: The per-k columns each named method reads, where NaN means a failed score (not
#: "undefined at this k", as for the criteria below their smallest k).
_CURVE_COLUMNS = {
    "kneedle": ("inertia",),
    "two_segment": ("inertia",),
    "gap": ("inertia",),
    "auto": ("inertia",),
}
_CURVE_COLUMNS["bic"] = ("bic",)


def scored_rows(name: str, k: np.ndarray, results: Mapping) -> np.ndarray:
    """Mask of the k values whose scores ``name`` reads are finite (NaN, inf excluded)."""
    mask = np.ones(k.shape, dtype=bool)
    for column in _CURVE_COLUMNS.get(name, ()):
        if column in results:
            mask &= np.isfinite(np.asarray(results[column], dtype=np.float64))
    return mask


def _rows(results: Mapping, mask: np.ndarray) -> dict[str, np.ndarray]:
    """The per-k (and per-k-and-more) columns of ``results`` at the rows of ``mask``."""
    n_k = mask.shape[0]
    return {
        name: np.asarray(column)[mask]
        for name, column in results.items()
        if np.ndim(column) >= 1 and np.shape(column)[0] == n_k
    }


def select_by_name(
    name: str,
    k: np.ndarray,
    results: Mapping,
    elbow_scale: str,
    *,
    gap_rule: str = DEFAULT_GAP_RULE,
    gap_se_factor: float = 1.0,
    stacklevel: int | None = None,
    structure: StructureTest | str | None = None,
) -> SelectionResult:
    """Run the selection method ``name`` on a sweep's results.

    k values whose score is NaN or infinite (a fit that failed to score) are left
    out of the curve by name, with a ``NaNScoreWarning`` listing them when
    ``stacklevel`` is given, so that one bad k never discards the others.
    ``structure`` is the no-structure test ``"auto"`` reads (or why it did not run).
    """
    mask = scored_rows(name, k, results)
    if mask.any() and not mask.all():  # with none scored, the method says why it fails
        if stacklevel is not None:
            from ksweep.exceptions import NaNScoreWarning

            columns = "/".join(_CURVE_COLUMNS[name])
            warnings.warn(
                f"selection={name!r}: the {columns} is NaN or infinite at k="
                f"{', '.join(str(v) for v in k[~mask].tolist())}; those k are left out of the "
                "selection (their rows stay in results_).",
                NaNScoreWarning,
                stacklevel=stacklevel + 1,
            )
        k, results = k[mask], _rows(results, mask)
    if name == "auto":
        return select_auto(k, results, elbow_scale, structure)
    if name == "vote":
        voters = summary(
            k, results, elbow_scale, gap_rule=gap_rule, gap_se_factor=gap_se_factor, with_vote=False
        )
        return vote(voters, candidates=k)
    if name in ELBOW_METHODS:
        scores, scale = _scaled_inertia(results, name, elbow_scale)
        result = ELBOW_METHODS[name](k, scores)
        return dataclasses.replace(result, details={**result.details, "scale": scale})
    missing = {"gap": "gap", "bic": "bic"}.get(name, name)
    if missing not in results:
        hint = (
            "it is recorded for mixture models only"
            if name == "bic"
            else f"add it to scoring=('{name}',)"
        )
        raise ValueError(f"selection={name!r} needs results_[{missing!r}]: {hint}.")
    if name == "gap":
        return gap_statistic(
            k,
            np.log(results["inertia"]),
            results["gap_reference_log_inertia"],
            rule=gap_rule,
            se_factor=gap_se_factor,
        )
    if name == "bic":
        return select_min(k, results["bic"], method="bic", statistic_name="BIC")
    return CRITERIA[name].select(k, results[name])


def select_auto(
    k: np.ndarray, results: Mapping, elbow_scale: str, structure: StructureTest | str | None
) -> SelectionResult:
    """The default selection: kneedle on the best inertia unless the data show no structure.

    With a :class:`~ksweep.structure.StructureTest`,
    :func:`~ksweep.structure.select_unless_no_structure`; else kneedle, its reason
    saying why the test did not run.
    """

    def elbow(k_in, inertia):
        return select_by_name("kneedle", np.asarray(k_in), results, elbow_scale)

    if isinstance(structure, StructureTest):
        return select_unless_no_structure(k, results["inertia"], structure, method=elbow)
    inner = elbow(k, results["inertia"])
    why = structure or "no-structure test not run"
    return dataclasses.replace(
        inner,
        method="auto",
        reason=f"{why}; {inner.reason}",
        details={"no_structure": None, "method_result": inner},
    )


def summary(
    k: np.ndarray,
    results: Mapping,
    elbow_scale: str,
    *,
    gap_rule: str = DEFAULT_GAP_RULE,
    gap_se_factor: float = 1.0,
    with_vote: bool = True,
    structure: StructureTest | str | None = None,
) -> dict[str, SelectionResult]:
    """What every applicable method chooses on these results, by name.

    ``"auto"`` comes first when ``structure`` (its no-structure test, or why it did
    not run) is given, and does not vote. The last entry, ``"vote"``, is the
    tally of the others' choices (left out with ``with_vote=False``).
    """
    out: dict[str, SelectionResult] = {}
    if structure is not None and k.size >= MIN_POINTS["auto"]:
        out["auto"] = select_auto(k.copy(), results, elbow_scale, structure)
    for name in SELECTION_NAMES:
        if name in ("vote", "auto") or (name not in ELBOW_METHODS and name not in results):
            continue
        if k.size < MIN_POINTS[name]:
            continue
        try:
            out[name] = select_by_name(
                name, k.copy(), results, elbow_scale, gap_rule=gap_rule, gap_se_factor=gap_se_factor
            )
        except ValueError as exc:
            out[name] = SelectionResult.no_choice(name, k, f"no k: {exc}")
    voters = {name: result for name, result in out.items() if name != "auto"}
    if with_vote and voters:
        out["vote"] = vote(voters, candidates=k)
    return out


def choose_k(
    selection: Any,
    k_values: np.ndarray,
    results: Mapping,
    elbow_scale: str,
    *,
    owner: str,
    stacklevel: int,
    gap_rule: str = DEFAULT_GAP_RULE,
    gap_se_factor: float = 1.0,
    structure: StructureTest | str | None = None,
) -> tuple[Any, int]:
    """Run ``selection`` (a name or a callable) and return ``(result, chosen k)``.

    A named method that finds no k, or raises ``ValueError``, gives a
    ``NoElbowWarning`` and the largest k. A callable's own errors propagate; it
    may return a ``SelectionResult`` (or anything with ``.k``), an int, or None
    for "no k". A k that was not fitted is an error.
    """
    from ksweep.exceptions import NoElbowWarning

    name = (
        selection if isinstance(selection, str) else getattr(selection, "__name__", repr(selection))
    )
    if isinstance(selection, str):
        try:
            result = select_by_name(
                selection,
                k_values.copy(),
                results,
                elbow_scale,
                gap_rule=gap_rule,
                gap_se_factor=gap_se_factor,
                stacklevel=stacklevel + 1,
                structure=structure,
            )
        except ValueError as exc:
            result = SelectionResult.no_choice(name, k_values, f"selection failed: {exc}")
        test = (result.details or {}).get("no_structure") if name == "auto" else None
        if isinstance(test, StructureTest) and test.no_structure and result.k != 1:
            from ksweep.exceptions import NoStructureWarning

            warnings.warn(
                f"The data show no cluster structure ({test.reason}), and k=1 is not in "
                "k_range: reporting the elbow's k anyway. Add 1 to k_range to "
                "let the sweep answer k=1.",
                NoStructureWarning,
                stacklevel=stacklevel,
            )
    else:  # a user's callable: its errors are its own and propagate
        result = selection(k_values.copy(), results)
        if result is None:
            result = SelectionResult.no_choice(name, k_values, f"{name} returned None")
        elif isinstance(result, (int, np.integer)) and not isinstance(result, bool):
            result = SelectionResult(
                k=int(result),
                method=name,
                candidates=k_values.copy(),
                statistic=np.asarray(results["inertia"]).copy(),
                statistic_name="inertia",
                reason=f"k={int(result)} returned by {name}",
            )
    if not hasattr(result, "k"):
        raise param_error(
            "selection",
            owner,
            "a method that returns a SelectionResult (or an object with a 'k' attribute) "
            f"or an int (it returned {result!r})",
            selection,
        )
    if result.k is None:
        scored = k_values
        if name in _CURVE_COLUMNS:
            scored = k_values[scored_rows(name, k_values, results)]
        fallback = int((scored if scored.size else k_values)[-1])
        why = getattr(result, "reason", result)
        warnings.warn(
            f"selection={name!r} chose no k ({why}); "
            f"using the largest k={fallback}. All per-k results are kept in results_.",
            NoElbowWarning,
            stacklevel=stacklevel,
        )
        return result, fallback
    if result.k not in k_values:
        raise param_error(
            "selection",
            owner,
            "a method that returns one of the fitted k values "
            f"{k_values.tolist()} (it returned k={result.k!r})",
            selection,
        )
    return result, int(result.k)


def cheap_criteria(sweep: Any) -> tuple[str, ...]:
    """The criteria ``summary(X)`` may add for this fitted sweep: the cheap three on
    feature vectors, the silhouette alone on precomputed distances, none for time series,
    dask arrays and streams."""
    template = sweep._template()
    results = sweep.results_
    if results.engine in ("dask", "incremental", "fused-stream") or not hasattr(
        sweep, "estimators_"
    ):
        return ()
    if family_of(template, sweep.score_func).timeseries:
        return ()
    if template.get_params(deep=False).get("metric") == "precomputed":
        return ("silhouette",)
    return tuple(CRITERIA)


class Summary(dict):
    """What each selection method would choose, by name; ``str()`` gives a table.

    The table ends with whether the methods agree, and any ``notes`` (criteria that could
    not be shown).
    """

    def __init__(self, results=(), notes=()):
        super().__init__(results)
        self.notes = list(notes)

    def agreement(self) -> str:
        """One sentence: which k each group of methods chose (the vote left out)."""
        groups: dict[int, list[str]] = {}
        for name, result in self.items():
            if name != "vote" and result.k is not None:
                groups.setdefault(int(result.k), []).append(name)
        if not groups:
            return "No method chose a k."
        if len(groups) == 1:
            ((k, names),) = groups.items()
            return f"All {len(names)} methods that chose a k agree: k={k}."
        ranked = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
        parts = "; ".join(f"k={k} ({', '.join(names)})" for k, names in ranked)
        return f"The methods disagree: {parts}."

    def __str__(self) -> str:
        width = max((len(name) for name in self), default=6)
        lines = [f"{'method':<{width}}  {'k':>4}  reason"]
        for name, result in self.items():
            chosen = "-" if result.k is None else str(result.k)
            lines.append(f"{name:<{width}}  {chosen:>4}  {result.reason}")
        return "\n".join([*lines, *self.notes, self.agreement()])

    def chosen(self) -> dict[str, int | None]:
        """The k each method chose (None where it found none)."""
        return {name: result.k for name, result in self.items()}


__all__ = [
    "DEFAULT_SILHOUETTE_SAMPLE",
    "SCORING_NAMES",
    "SELECTION_NAMES",
    "Summary",
    "cheap_criteria",
    "choose_k",
    "criterion_columns",
    "gap_columns",
    "needed_scoring",
    "select_by_name",
    "summary",
]
