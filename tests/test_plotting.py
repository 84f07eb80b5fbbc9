"""Tests for :mod:`ksweep.plotting`: what is drawn, not only that drawing works."""

from __future__ import annotations

import dataclasses
import re
import sys

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from ksweep._selection import SelectionResult
from ksweep.elbow import kneedle, two_segment
from ksweep.plotting import plot_elbow, plot_sweep

K = np.arange(1, 9)
INERTIA = np.array([800.0, 410.0, 190.0, 60.0, 52.0, 45.0, 40.0, 36.0])
MEAN = INERTIA * 1.05
STD = INERTIA * 0.04


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _vertical_lines_at(ax, x):
    """Line2D objects of ``ax`` that are vertical lines at x (both x data equal x)."""
    found = []
    for line in ax.lines:
        xdata = np.asarray(line.get_xdata(), dtype=float)
        if xdata.shape == (2,) and np.all(xdata == x):
            found.append(line)
    return found


def _legend_texts(ax):
    legend = ax.get_legend()
    assert legend is not None
    return [text.get_text() for text in legend.get_texts()]


def _is_twin(ax):
    """A twinx axes: its y axis (label and ticks) sits on the right."""
    return ax.yaxis.get_label_position() == "right"


def _twins(ax):
    """The twinx axes of ``ax``: at ax's position, sharing its x axis, y axis on the right."""
    return [
        other
        for other in ax.figure.axes
        if other is not ax
        and _is_twin(other)
        and ax.get_shared_x_axes().joined(ax, other)
        and other.get_position().bounds == ax.get_position().bounds
    ]


@pytest.fixture
def results():
    silhouette = np.array([np.nan, 0.41, 0.55, 0.72, 0.60, 0.50, 0.44, 0.40])
    davies = np.array([np.nan, 0.95, 0.80, 0.42, 0.61, 0.70, 0.75, 0.79])
    return {
        "k": K,
        "inertia": INERTIA,
        "inertia_mean": MEAN,
        "inertia_std": STD,
        "silhouette": silhouette,
        "davies_bouldin": davies,
    }


# --------------------------------------------------------------------------------------
# plot_elbow
# --------------------------------------------------------------------------------------


def test_plot_elbow_renders_to_png(tmp_path):
    ax = plot_elbow(K, INERTIA, chosen_k=4, spread=(MEAN, STD), statistic=INERTIA / 10)
    path = tmp_path / "elbow.png"
    ax.figure.savefig(path)
    assert path.exists() and path.stat().st_size > 1000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_elbow_draws_the_scores():
    ax = plot_elbow(K, INERTIA)
    assert len(ax.figure.axes) == 1
    line = ax.lines[0]
    np.testing.assert_array_equal(line.get_xdata(), K)
    np.testing.assert_array_equal(line.get_ydata(), INERTIA)
    assert line.get_marker() == "o"
    assert ax.get_ylabel() == "inertia"
    assert _legend_texts(ax) == ["inertia"]
    assert not _vertical_lines_at(ax, 4)
    assert not [c for c in ax.collections if isinstance(c, PolyCollection)]


def test_plot_elbow_marks_the_chosen_k():
    ax = plot_elbow(K, INERTIA, chosen_k=4, label="best inertia")
    vertical = _vertical_lines_at(ax, 4)
    assert len(vertical) == 1
    assert vertical[0].get_linestyle() == "--"
    assert "chosen k = 4" in _legend_texts(ax)
    assert "best inertia" in _legend_texts(ax)
    # the chosen point is highlighted by a marker at (4, inertia at k = 4)
    markers = [
        line
        for line in ax.lines
        if list(line.get_xdata()) == [4] and list(line.get_ydata()) == [INERTIA[3]]
    ]
    assert len(markers) == 1


def test_plot_elbow_spread_band_and_mean_line():
    ax = plot_elbow(K, INERTIA, spread=(MEAN, STD))
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 1
    # the band spans mean - std .. mean + std at every k
    vertices = np.concatenate([path.vertices for path in bands[0].get_paths()])
    for k, low, high in zip(K, MEAN - STD, MEAN + STD, strict=True):
        at_k = vertices[np.isclose(vertices[:, 0], k), 1]
        assert at_k.min() == pytest.approx(low) and at_k.max() == pytest.approx(high)
    mean_lines = [line for line in ax.lines if np.array_equal(line.get_ydata(), MEAN)]
    assert len(mean_lines) == 1
    np.testing.assert_array_equal(mean_lines[0].get_xdata(), K)


def test_plot_elbow_statistic_on_a_twin_axis():
    statistic = np.array([np.nan, 0.1, 0.3, 0.6, 0.5, 0.3, 0.2, np.nan])
    ax = plot_elbow(K, INERTIA, chosen_k=4, statistic=statistic, statistic_label="difference")
    twins = _twins(ax)
    assert len(twins) == 1 and len(ax.figure.axes) == 2
    twin = twins[0]
    assert len(twin.lines) == 1
    np.testing.assert_array_equal(twin.lines[0].get_xdata(), K)
    np.testing.assert_array_equal(twin.lines[0].get_ydata(), statistic)  # NaN kept
    assert twin.get_ylabel() == "difference"
    # one legend for both axes, on the returned axes
    texts = _legend_texts(ax)
    assert "difference" in texts and "chosen k = 4" in texts
    # the statistic is not drawn on the main axes
    assert not [line for line in ax.lines if np.array_equal(line.get_ydata(), statistic)]


def test_plot_elbow_statistic_default_label():
    ax = plot_elbow(K, INERTIA, statistic=np.arange(8.0))
    assert _twins(ax)[0].get_ylabel() == "statistic"


def test_plot_elbow_into_given_axes():
    _, (left, right) = plt.subplots(1, 2)
    returned = plot_elbow(K, INERTIA, chosen_k=2, ax=right)
    assert returned is right
    assert not left.lines
    assert _vertical_lines_at(right, 2)


def test_plot_elbow_float_k_and_numpy_chosen_k():
    ax = plot_elbow(K.astype(float), INERTIA, chosen_k=np.int64(5))
    assert _vertical_lines_at(ax, 5)
    assert "chosen k = 5" in _legend_texts(ax)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"scores": INERTIA[:-1]},
            "The 'scores' argument of plot_elbow must have one value per k (8). Got 7 instead.",
        ),
        (
            {"chosen_k": 12},
            "The 'chosen_k' argument of plot_elbow must be one of the k values "
            "[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]. Got 12 instead.",
        ),
        (
            {"spread": (MEAN, STD[:3])},
            "The 'spread' argument of plot_elbow must have one value per k (8). Got 3 instead.",
        ),
        (
            {"spread": MEAN},
            "The 'spread' argument of plot_elbow must be a pair (mean, std) of arrays or None.",
        ),
        (
            {"statistic": np.ones(9)},
            "The 'statistic' argument of plot_elbow must have one value per k (8). Got 9 instead.",
        ),
        (
            {"k": K.reshape(2, 4)},
            "The 'k' argument of plot_elbow must be a 1-D array-like. "
            "Got an array of shape (2, 4) instead.",
        ),
        (
            {"k": []},
            "The 'k' argument of plot_elbow must not be empty. Got 0 values instead.",
        ),
        (
            {"scores": ["a"] * 8},
            "The 'scores' argument of plot_elbow must contain real numbers. Got dtype <U1 instead.",
        ),
    ],
)
def test_plot_elbow_bad_inputs(kwargs, message):
    arguments = {"k": K, "scores": INERTIA, **kwargs}
    k, scores = arguments.pop("k"), arguments.pop("scores")
    with pytest.raises(ValueError, match=re.escape(message)):
        plot_elbow(k, scores, **arguments)
    assert not plt.get_fignums()  # nothing drawn before validation passed


def test_missing_matplotlib_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=re.escape("pip install 'ksweep[plot]'")):
        plot_elbow(K, INERTIA)


# --------------------------------------------------------------------------------------
# plot_sweep
# --------------------------------------------------------------------------------------


def _main_axes(fig, n_panels):
    """The stacked panels, top to bottom (twin axes excluded)."""
    panels = [ax for ax in fig.axes if not _is_twin(ax)]
    assert len(panels) == n_panels
    return sorted(panels, key=lambda ax: -ax.get_position().y0)


def test_plot_sweep_renders_to_png(tmp_path, results):
    fig = plot_sweep(results, kneedle(K, np.log(INERTIA)), criteria=["silhouette"])
    path = tmp_path / "sweep.png"
    fig.savefig(path)
    assert path.exists() and path.stat().st_size > 1000


def test_plot_sweep_without_selection_or_criteria(results):
    fig = plot_sweep(results)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), K)
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), INERTIA)
    assert len([c for c in ax.collections if isinstance(c, PolyCollection)]) == 1
    assert not any(text.startswith("chosen k") for text in _legend_texts(ax))


@pytest.mark.parametrize(
    "criteria", [(), ("silhouette",), ("silhouette", "davies_bouldin")], ids=len
)
def test_plot_sweep_one_panel_per_criterion(results, criteria):
    selection = kneedle(K, np.log(INERTIA))
    selection = dataclasses.replace(selection, details={**selection.details, "scale": "log"})
    assert selection.k == 4  # the drop flattens after k = 4
    fig = plot_sweep(results, selection, criteria=criteria)
    panels = _main_axes(fig, 2 + len(criteria))
    assert len(fig.axes) == 2 + len(criteria)  # inertia, the statistic, the criteria
    elbow = panels[0]
    np.testing.assert_array_equal(elbow.lines[0].get_ydata(), INERTIA)
    assert _vertical_lines_at(elbow, 4)
    assert "chosen k = 4" in _legend_texts(elbow)
    assert elbow.get_title() == "kneedle on log inertia: chosen k = 4"
    assert elbow.get_yscale() == "log"  # the scale kneedle ran on
    statistic = panels[1]
    np.testing.assert_array_equal(statistic.lines[0].get_ydata(), selection.statistic)
    assert statistic.get_ylabel() == "kneedle statistic\n(the knee is its peak)"
    assert _vertical_lines_at(statistic, 4)
    for ax, name in zip(panels[2:], criteria, strict=True):
        line = ax.lines[0]
        np.testing.assert_array_equal(line.get_xdata(), K)
        np.testing.assert_array_equal(line.get_ydata(), results[name])
        direction = "higher" if name == "silhouette" else "lower"
        assert ax.get_ylabel() == f"{name}\n({direction} is better)"
        assert _vertical_lines_at(ax, 4)
        assert "chosen k = 4" in _legend_texts(ax)


def test_plot_sweep_marks_each_criterion_best(results):
    fig = plot_sweep(results, criteria=["silhouette", "davies_bouldin"])
    silhouette_ax, davies_ax = _main_axes(fig, 3)[1:]
    # silhouette: highest (0.72 at k = 4); Davies-Bouldin: lowest (0.42 at k = 4)
    assert "best silhouette: k = 4" in _legend_texts(silhouette_ax)
    assert "best davies_bouldin: k = 4" in _legend_texts(davies_ax)
    results = dict(results, davies_bouldin=results["davies_bouldin"][::-1].copy())
    plt.close("all")
    fig = plot_sweep(results, criteria=["davies_bouldin"])
    lowest = int(K[np.nanargmin(results["davies_bouldin"])])
    assert f"best davies_bouldin: k = {lowest}" in _legend_texts(_main_axes(fig, 2)[1])


def test_plot_sweep_aligns_a_subset_statistic_by_k(results):
    selection = two_segment(K, INERTIA)  # candidates are k = 3 .. 7, a subset of K
    assert selection.candidates.tolist() != K.tolist()
    fig = plot_sweep(results, selection)
    elbow, panel = _main_axes(fig, 2)
    assert elbow.get_yscale() == "linear"  # two_segment ran on linear inertia
    drawn = np.asarray(panel.lines[0].get_ydata(), dtype=float)
    expected = np.full(K.shape, np.nan)
    for candidate, value in zip(selection.candidates, selection.statistic, strict=True):
        expected[K == candidate] = value
    np.testing.assert_array_equal(drawn, expected)
    assert panel.get_ylabel() == "two_segment statistic\n(higher is better)"
    assert selection.statistic_name in _legend_texts(panel)
    assert _vertical_lines_at(elbow, selection.k) and _vertical_lines_at(panel, selection.k)


def test_plot_sweep_selection_without_k(results):
    selection = SelectionResult(
        k=None,
        method="kneedle",
        candidates=K,
        statistic=np.zeros(K.shape),
        statistic_name="difference",
        reason="no knee found",
    )
    fig = plot_sweep(results, selection, criteria=["silhouette"])
    for ax in _main_axes(fig, 3):
        assert not any(text.startswith("chosen k") for text in _legend_texts(ax))
    assert "no k chosen" in fig.axes[0].get_title()


def test_plot_sweep_into_given_figure(results):
    fig = plt.figure()
    returned = plot_sweep(results, criteria=["silhouette"], fig=fig)
    assert returned is fig
    assert len(fig.axes) == 2


def test_plot_sweep_spread_is_optional(results):
    del results["inertia_std"]
    fig = plot_sweep(results)
    assert not [c for c in fig.axes[0].collections if isinstance(c, PolyCollection)]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"criteria": ["gap"]},
            "The 'criteria' argument of plot_sweep must name columns of 'results'. "
            "Got ['gap'], not among",
        ),
        (
            {"results": {"k": K}},
            "The 'results' argument of plot_sweep must have the columns 'k' and 'inertia'. "
            "Missing ['inertia']",
        ),
        (
            {"results": [K, INERTIA]},
            "The 'results' argument of plot_sweep must be a Mapping of column name to array",
        ),
        (
            {"results": {"k": K, "inertia": INERTIA[:5]}},
            "The 'results['inertia']' argument of plot_sweep must have one value per k (8). "
            "Got 5 instead.",
        ),
        (
            {"selection": 4},
            "The 'selection' argument of plot_sweep must be a SelectionResult or None. "
            "Got int instead.",
        ),
        (
            {"selection": two_segment(np.arange(5, 13), INERTIA)},
            "The 'selection' argument of plot_sweep must be one of the k values",
        ),
    ],
)
def test_plot_sweep_bad_inputs(results, change, message):
    arguments = {"results": results, "selection": None, "criteria": (), **change}
    with pytest.raises(ValueError, match=re.escape(message)):
        plot_sweep(**arguments)
    assert not plt.get_fignums()


def test_plot_sweep_refuses_a_figure_with_axes(results):
    fig, _ = plt.subplots()
    message = (
        "The 'fig' argument of plot_sweep must be an empty Figure or None. "
        "Got a Figure with 1 axes instead."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        plot_sweep(results, fig=fig)
