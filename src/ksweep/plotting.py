"""Plots of a k sweep: the elbow curve with its restart spread, and criterion panels.

matplotlib is imported only when a function here is called; without it they
raise ``ImportError`` with the install hint ``pip install 'ksweep[plot]'``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ksweep._selection import as_real_1d
from ksweep.criteria import CRITERIA

__all__ = ["plot_elbow", "plot_sweep"]

_CHOSEN_COLOR = "tab:red"
_SPREAD_COLOR = "tab:blue"
_STATISTIC_COLOR = "tab:gray"


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "ksweep's plotting functions require matplotlib: pip install 'ksweep[plot]'"
        ) from exc
    return plt


def _as_curve(values, name: str, func: str, length: int | None = None) -> np.ndarray:
    """``values`` as a 1-D float array (NaN allowed), of ``length`` when given."""
    arr = as_real_1d(values, name, func)
    if length is not None and arr.shape[0] != length:
        raise ValueError(
            f"The '{name}' argument of {func} must have one value per k ({length}). "
            f"Got {arr.shape[0]} instead."
        )
    return arr.astype(np.float64)


def _position_of(chosen_k, k: np.ndarray, name: str, func: str) -> int:
    matches = np.flatnonzero(k == chosen_k)
    if matches.size == 0:
        raise ValueError(
            f"The '{name}' argument of {func} must be one of the k values "
            f"{k.tolist()}. Got {chosen_k!r} instead."
        )
    return int(matches[0])


def _integer_k_axis(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("k (number of clusters)")


def _mark_chosen(ax, k_value, y_value) -> None:
    """Dashed vertical line at the chosen k (in the legend) and a highlighted marker."""
    ax.axvline(k_value, color=_CHOSEN_COLOR, linestyle="--", linewidth=1.2, label=_chosen(k_value))
    if np.isfinite(y_value):
        ax.plot(
            [k_value],
            [y_value],
            marker="o",
            markersize=11,
            markerfacecolor="none",
            markeredgecolor=_CHOSEN_COLOR,
            markeredgewidth=2,
            linestyle="none",
            label="_nolegend_",
        )


def _chosen(k_value) -> str:
    return f"chosen k = {k_value:g}" if isinstance(k_value, float) else f"chosen k = {k_value}"


def plot_elbow(
    k,
    scores,
    *,
    chosen_k=None,
    spread=None,
    ax=None,
    label="inertia",
    statistic=None,
    statistic_label=None,
):
    """Plot a score per k (the elbow curve), its restart spread and the chosen k.

    Parameters
    ----------
    k : array-like of shape (n_k,)
        The k values (x axis).
    scores : array-like of shape (n_k,)
        The score per k, for example the best inertia over restarts; NaN leaves
        a gap.
    chosen_k : int or None, default=None
        The chosen k, one of ``k``: marked by a dashed vertical line (legend
        entry ``"chosen k = ..."``) and a ring around its point.
    spread : tuple (mean, std) of array-likes of shape (n_k,) or None
        The mean and standard deviation over restarts, drawn as a mean line
        and a ``mean ± std`` band.
    ax : matplotlib Axes or None, default=None
        Where to draw; None creates a new figure.
    label : str, default="inertia"
        Name of the scores: y-axis label and legend entry.
    statistic : array-like of shape (n_k,) or None
        A per-k statistic of the selection method (NaN where it has none),
        drawn on a second y axis on the right.
    statistic_label : str or None
        Name of the statistic (its axis label and legend entry); "statistic"
        when None.

    Returns
    -------
    matplotlib.axes.Axes
        The axes of the scores (the statistic's axes is its twin).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from ksweep.plotting import plot_elbow
    >>> ax = plot_elbow([1, 2, 3, 4, 5], [100, 40, 20, 15, 12], chosen_k=3)
    >>> ax.get_legend_handles_labels()[1]
    ['inertia', 'chosen k = 3']
    >>> plt.close(ax.figure)
    """
    func = "plot_elbow"
    k_arr = _as_curve(k, "k", func)
    n_k = k_arr.shape[0]
    if n_k == 0:
        raise ValueError(f"The 'k' argument of {func} must not be empty. Got 0 values instead.")
    y = _as_curve(scores, "scores", func, n_k)
    if spread is not None:
        if isinstance(spread, str | Mapping) or not hasattr(spread, "__len__") or len(spread) != 2:
            raise ValueError(
                f"The 'spread' argument of {func} must be a pair (mean, std) of arrays or "
                f"None. Got {type(spread).__name__} {spread!r} instead."
            )
        mean = _as_curve(spread[0], "spread", func, n_k)
        std = _as_curve(spread[1], "spread", func, n_k)
    if statistic is not None:
        stat = _as_curve(statistic, "statistic", func, n_k)
    position = None if chosen_k is None else _position_of(chosen_k, k_arr, "chosen_k", func)

    if ax is None:
        _, ax = _pyplot().subplots(figsize=(7.0, 4.0))
    else:
        _pyplot()  # the install hint, before any drawing
    ax.plot(k_arr, y, marker="o", color=_SPREAD_COLOR, label=label)
    if spread is not None:
        ax.fill_between(
            k_arr,
            mean - std,
            mean + std,
            color=_SPREAD_COLOR,
            alpha=0.2,
            linewidth=0,
            label=f"mean ± std of {label} over restarts",
        )
        ax.plot(k_arr, mean, color=_SPREAD_COLOR, linestyle=":", label=f"mean {label}")
    if position is not None:
        _mark_chosen(ax, chosen_k, y[position])
    ax.set_ylabel(label)
    _integer_k_axis(ax)
    handles, labels = ax.get_legend_handles_labels()
    if statistic is not None:
        twin = ax.twinx()
        name = statistic_label or "statistic"
        twin.plot(k_arr, stat, marker="s", markersize=4, color=_STATISTIC_COLOR, label=name)
        twin.set_ylabel(name, color=_STATISTIC_COLOR)
        twin.tick_params(axis="y", colors=_STATISTIC_COLOR)
        more_handles, more_labels = twin.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
        # draw the main axes (and its legend) above the twin
        ax.set_zorder(twin.get_zorder() + 1)
        ax.patch.set_visible(False)
    ax.legend(handles, labels, loc="best", fontsize="small")
    return ax


#: Which way each statistic is better, for the panels' labels.
_DIRECTION = {
    "silhouette": "higher is better",
    "calinski_harabasz": "higher is better",
    "davies_bouldin": "lower is better",
    "gap": "higher is better, within its error",
    "bic": "lower is better",
    "kneedle": "the knee is its peak",
    "two_segment": "higher is better",
    "vote": "more votes win",
}


def _outside_legend(ax) -> None:
    """The panel's legend to the right of its axes, never over a curve."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize="small")


def _own_pick(name: str, values: np.ndarray, spread: np.ndarray | None) -> int | None:
    """Position of the k a criterion picks by itself (None where it has no values)."""
    if not np.isfinite(values).any():
        return None
    if name == "gap" and spread is not None:
        from ksweep.gap import gap_rule_index

        finite = np.isfinite(values) & np.isfinite(spread)
        positions = np.flatnonzero(finite)
        return int(positions[gap_rule_index(values[finite], spread[finite], "Tibs2001SEmax")])
    greater = CRITERIA[name].greater_is_better if name in CRITERIA else None
    if greater is None:
        return None
    return int(np.nanargmax(values) if greater else np.nanargmin(values))


def _plot_criterion(ax, k_arr, values, name, chosen_k, spread=None, pick=None):
    """One criterion panel: its curve (with ± its standard error where it has one), its
    own pick and the sweep's chosen k."""
    if spread is not None:
        ax.errorbar(
            k_arr, values, yerr=spread, marker="o", color="tab:green", capsize=3, label=name
        )
    else:
        ax.plot(k_arr, values, marker="o", color="tab:green", label=name)
    best = _own_pick(name, values, spread) if pick is None else pick
    if best is not None:
        label = f"best {name}: k = {k_arr[best]:g}"
        if spread is not None:
            label += " (± s_k bars)"
        ax.plot(
            [k_arr[best]],
            [values[best]],
            marker="*",
            markersize=14,
            color="tab:green",
            linestyle="none",
            label=label,
        )
    if chosen_k is not None:
        position = _position_of(chosen_k, k_arr, "selection", "plot_sweep")
        _mark_chosen(ax, chosen_k, values[position])
    ax.set_ylabel(f"{name}\n({_DIRECTION.get(name, 'see its definition')})")
    _integer_k_axis(ax)
    _outside_legend(ax)


def _plot_statistic(ax, k_arr, statistic, selection) -> None:
    """The selection method's own statistic per k, on its own panel: why k was chosen."""
    ax.plot(k_arr, statistic, marker="s", color=_STATISTIC_COLOR, label=selection.statistic_name)
    if selection.k is not None:
        position = _position_of(selection.k, k_arr, "selection", "plot_sweep")
        _mark_chosen(ax, selection.k, statistic[position])
    direction = _DIRECTION.get(selection.method, "as the method reads it")
    ax.set_ylabel(f"{selection.method} statistic\n({direction})")
    _integer_k_axis(ax)
    _outside_legend(ax)


def plot_sweep(results, selection=None, criteria=(), fig=None, picks=None):
    """Plot a sweep: the elbow panel, then one panel per criterion.

    Parameters
    ----------
    results : Mapping
        Column name → per-k array, like ``KSweep.results_``: needs ``"k"`` and
        ``"inertia"``; ``"inertia_mean"`` and ``"inertia_std"`` (when both are
        there) are drawn as a band; criterion columns are looked up by name.
    selection : SelectionResult or None, default=None
        The selection to show: its ``k`` is marked on every panel and its
        ``statistic`` (aligned to ``results["k"]`` by k value, NaN for k that
        are not among its ``candidates``) is drawn on the elbow panel's second
        y axis.
    criteria : sequence of str, default=()
        Names of criterion columns of ``results`` (for example
        ``"silhouette"``), one panel each, in order. A criterion known to
        :data:`ksweep.criteria.CRITERIA` also gets a star at its own best k.
    fig : matplotlib Figure or None, default=None
        An empty figure to draw into (its layout becomes "constrained"); None
        creates one.

        The inertia axis is logarithmic, and the title says so, when
        ``selection.details["scale"]`` is ``"log"`` (KSweep records the scale
        its elbow method ran on).
    picks : mapping of str to int or None, default=None
        Each criterion's own pick, as a position in ``results["k"]`` (for
        example from ``KSweep.summary()``). None: the best value of a known
        criterion, and for ``"gap"`` (with ``"gap_s"`` in ``results``, drawn as
        ± s_k error bars) the ``"Tibs2001SEmax"`` rule.

    Returns
    -------
    matplotlib.figure.Figure
        With stacked panels: the best inertia per k (on a log axis when the
        selection ran on log inertia, as ``kneedle`` does by default) with its
        restart spread; the selection's statistic (why k was chosen); one panel
        per criterion. Every panel marks the chosen k and says in its y label
        which way is better; legends sit to the right of the panels, outside
        the curves, and the layout is constrained (no clipped label).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from ksweep.elbow import kneedle
    >>> from ksweep.plotting import plot_sweep
    >>> results = {
    ...     "k": np.arange(1, 7),
    ...     "inertia": np.array([100.0, 40, 20, 15, 12, 10]),
    ...     "inertia_mean": np.array([101.0, 43, 22, 16, 13, 11]),
    ...     "inertia_std": np.array([1.0, 3, 2, 1, 1, 1]),
    ...     "silhouette": np.array([np.nan, 0.52, 0.61, 0.48, 0.40, 0.37]),
    ... }
    >>> selection = kneedle(results["k"], results["inertia"])
    >>> fig = plot_sweep(results, selection, criteria=["silhouette"])
    >>> len(fig.axes)  # inertia, the selection's statistic, silhouette
    3
    >>> plt.close(fig)
    """
    func = "plot_sweep"
    if not isinstance(results, Mapping):
        raise ValueError(
            f"The 'results' argument of {func} must be a Mapping of column name to array, "
            f"like KSweep.results_. Got {type(results).__name__} instead."
        )
    missing = [name for name in ("k", "inertia") if name not in results]
    if missing:
        raise ValueError(
            f"The 'results' argument of {func} must have the columns 'k' and 'inertia'. "
            f"Missing {missing}; got columns {sorted(results)}."
        )
    if isinstance(criteria, str):
        criteria = [criteria]
    criteria = list(criteria)
    unknown = [name for name in criteria if name not in results]
    if unknown:
        raise ValueError(
            f"The 'criteria' argument of {func} must name columns of 'results'. "
            f"Got {unknown!r}, not among {sorted(results)}."
        )
    k_arr = _as_curve(results["k"], "results['k']", func)
    n_k = k_arr.shape[0]
    columns = {name: _as_curve(results[name], f"results[{name!r}]", func, n_k) for name in criteria}
    picks = dict(picks or {})
    inertia = _as_curve(results["inertia"], "results['inertia']", func, n_k)
    spread = None
    if "inertia_mean" in results and "inertia_std" in results:
        spread = (results["inertia_mean"], results["inertia_std"])

    chosen_k, statistic = None, None
    if selection is not None:
        for attribute in ("k", "candidates", "statistic", "statistic_name"):
            if not hasattr(selection, attribute):
                raise ValueError(
                    f"The 'selection' argument of {func} must be a SelectionResult or None. "
                    f"Got {type(selection).__name__} instead."
                )
        chosen_k = selection.k
        if chosen_k is not None:
            _position_of(chosen_k, k_arr, "selection", func)
        candidates = np.asarray(selection.candidates, dtype=np.float64).reshape(-1)
        values = np.asarray(selection.statistic, dtype=np.float64).reshape(-1)
        if candidates.shape != values.shape:
            raise ValueError(
                f"The 'selection' argument of {func} must have one statistic per candidate. "
                f"Got {candidates.shape[0]} candidates and {values.shape[0]} values instead."
            )
        statistic = np.full(n_k, np.nan)
        for candidate, value in zip(candidates, values, strict=True):
            statistic[_position_of(candidate, k_arr, "selection", func)] = value

    scale = (getattr(selection, "details", None) or {}).get("scale")  # as KSweep records it
    with_statistic = statistic is not None and bool(np.isfinite(statistic).any())
    n_panels = 1 + with_statistic + len(criteria)
    if fig is None:
        fig = _pyplot().figure(figsize=(8.0, 2.7 * n_panels + 0.4), layout="constrained")
    else:
        _pyplot()
        if fig.axes:
            raise ValueError(
                f"The 'fig' argument of {func} must be an empty Figure or None. "
                f"Got a Figure with {len(fig.axes)} axes instead."
            )
        fig.set_layout_engine("constrained")
    axes = fig.subplots(n_panels, 1, sharex=True, squeeze=False)[:, 0]
    plot_elbow(k_arr, inertia, chosen_k=chosen_k, spread=spread, ax=axes[0], label="inertia")
    if scale == "log":
        axes[0].set_yscale("log")
        axes[0].set_ylabel("best inertia, log scale\n(falls with k; look for the bend)")
    else:
        axes[0].set_ylabel("best inertia\n(falls with k; look for the bend)")
    _outside_legend(axes[0])
    if selection is not None:
        outcome = _chosen(chosen_k) if chosen_k is not None else "no k chosen"
        on = f" on {scale} inertia" if scale else ""
        axes[0].set_title(f"{selection.method}{on}: {outcome}")
    if with_statistic:
        _plot_statistic(axes[1], k_arr, statistic, selection)
    for ax, name in zip(axes[1 + with_statistic :], criteria, strict=True):
        spread_of = results.get(f"{name}_s") if name == "gap" else None
        if spread_of is not None:
            spread_of = _as_curve(spread_of, f"results['{name}_s']", func, n_k)
        _plot_criterion(ax, k_arr, columns[name], name, chosen_k, spread_of, picks.get(name))
    for ax in axes[:-1]:
        ax.set_xlabel("")
    return fig


def plot_fitted(results, selection, best_k, criteria=(), ax=None, picks=None):
    """What ``KSweep.plot`` and ``SparkKSweep.plot`` draw, from a fitted sweep's attributes.

    Without ``ax``: :func:`plot_sweep` of ``results`` with ``selection`` (a
    SelectionResult, or anything else for none) and a panel per name in
    ``criteria`` present in ``results``; returns the Figure. With ``ax``: only
    the elbow panel (best inertia, mean ± std over restarts, ``best_k`` marked)
    drawn on it; returns ``ax``. ``picks`` as in :func:`plot_sweep`.
    """
    from ksweep._selection import SelectionResult

    if ax is None:
        names = [name for name in criteria if name in results]
        chosen = selection if isinstance(selection, SelectionResult) else None
        return plot_sweep(results, chosen, criteria=names, picks=picks)
    return plot_elbow(
        results["k"],
        results["inertia"],
        chosen_k=best_k,
        spread=(results["inertia_mean"], results["inertia_std"]),
        ax=ax,
    )
