"""The sweep figure as a user sees it: compared with a baseline image, and checked for
what it must show (the chosen k, each criterion's pick, the gap's error bars) and what it
must not do (a legend over a curve, a label cut off by the figure's edge)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.container import ErrorbarContainer
from matplotlib.testing.compare import compare_images

from ksweep.elbow import kneedle
from ksweep.plotting import plot_sweep

BASELINE = Path(__file__).parent / "baseline" / "plot_sweep.png"
K = np.arange(1, 10)
INERTIA = np.array([6000.0, 2900, 1650, 1040, 930, 820, 720, 640, 580])
RESULTS = {
    "k": K,
    "inertia": INERTIA,
    "inertia_mean": INERTIA * 1.04,
    "inertia_std": INERTIA * 0.03,
    "silhouette": np.array([np.nan, 0.46, 0.47, 0.50, 0.44, 0.40, 0.34, 0.35, 0.36]),
    "davies_bouldin": np.array([np.nan, 0.76, 0.80, 0.70, 0.81, 0.86, 1.06, 0.99, 0.90]),
    "gap": np.array([0.65, 0.72, 0.94, 1.06, 0.94, 0.83, 0.82, 0.82, 0.79]),
    "gap_s": np.array([0.02, 0.02, 0.02, 0.04, 0.02, 0.01, 0.01, 0.01, 0.02]),
}
CRITERIA = ["silhouette", "davies_bouldin", "gap"]


def _selection():
    result = kneedle(K, np.log(INERTIA))
    return dataclasses.replace(result, details={**result.details, "scale": "log"})


@pytest.fixture
def fig():
    with plt.style.context("default"):
        figure = plot_sweep(RESULTS, _selection(), criteria=CRITERIA)
        figure.set_dpi(50)
        figure.canvas.draw()
        yield figure
    plt.close(figure)


def test_the_figure_matches_the_baseline_image(fig, tmp_path):
    actual = tmp_path / "plot_sweep.png"
    fig.savefig(actual, dpi=50)
    assert compare_images(str(BASELINE), str(actual), tol=12) is None


def _panels(fig):
    return sorted(fig.axes, key=lambda ax: -ax.get_position().y0)


def test_every_panel_marks_the_chosen_k_and_each_criterion_its_own_pick(fig):
    panels = _panels(fig)
    assert len(panels) == 2 + len(CRITERIA)
    for ax in panels:
        assert any(list(line.get_xdata()) == [4, 4] for line in ax.lines), ax.get_ylabel()
    for ax, name in zip(panels[2:], CRITERIA, strict=True):
        stars = [line for line in ax.lines if line.get_marker() == "*"]
        assert len(stars) == 1
        own = 4  # silhouette highest, Davies-Bouldin lowest, gap's Tibs2001SEmax rule
        assert list(stars[0].get_xdata()) == [own], name
    gap = panels[-1]
    bars = [c for c in gap.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 1
    segments = bars[0].lines[2][0].get_segments()
    half_widths = [abs(seg[1][1] - seg[0][1]) / 2 for seg in segments]
    np.testing.assert_allclose(half_widths, RESULTS["gap_s"])


def test_each_panel_says_which_way_is_better_and_the_scale(fig):
    panels = _panels(fig)
    assert panels[0].get_yscale() == "log" and "log inertia" in panels[0].get_title()
    for ax in panels[1:]:
        assert "better" in ax.get_ylabel() or "peak" in ax.get_ylabel()


def test_no_legend_covers_a_curve(fig):
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        legend = ax.get_legend()
        assert legend is not None
        box = legend.get_window_extent(renderer)
        assert not box.overlaps(ax.get_window_extent(renderer)), ax.get_ylabel()
        for other in fig.axes:
            assert not box.overlaps(other.get_window_extent(renderer))


def test_no_text_is_cut_off_by_the_figure_edge(fig):
    renderer = fig.canvas.get_renderer()
    edge = fig.bbox  # in pixels; get_tightbbox is in inches
    drawn = fig.get_tightbbox(renderer).transformed(fig.dpi_scale_trans)  # every drawn artist
    texts = [ax.yaxis.label for ax in fig.axes] + [ax.title for ax in fig.axes]
    texts += [ax.xaxis.label for ax in fig.axes if ax.xaxis.label.get_text()]
    texts += [t for ax in fig.axes for t in ax.get_legend().get_texts()]
    boxes = [drawn] + [t.get_window_extent(renderer) for t in texts if t.get_text().strip()]
    assert len(boxes) > 20
    for box in boxes:
        assert (
            box.x0 >= edge.x0 - 0.5
            and box.y0 >= edge.y0 - 0.5
            and box.x1 <= edge.x1 + 0.5
            and box.y1 <= edge.y1 + 0.5
        ), box
