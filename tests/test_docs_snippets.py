"""Every ```python block of the user guide (README.md and docs/*.md) runs against the API,
at reduced size, so a snippet cannot drift from the code.

The blocks of one file run in order in one namespace (like a reader typing them), which
starts with small stand-ins for the data a snippet names but does not build (``X``,
``series``, ``new_rows``, ...). Sizes are reduced by rewriting every ``range(a, b)`` to at
most four values and every ``n_init=N`` to ``n_init=2`` (and DTW k-means to its euclidean
metric, the same API). A block that cannot run here is
preceded in the markdown by ``<!-- docs-test: skip (the reason) -->``; those are few, and
listed below so a new one is a decision.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"(<!-- docs-test: skip \(([^)]*)\) -->\n)?```python\n(.*?)```", re.S)
#: The blocks the guide marks as not runnable here: (page, first line of the block).
EXPECTED_SKIPS = {
    ("guide.md", "import dask.array as da"),  # a remote scheduler and a zarr store
    ("guide.md", "from ksweep.spark import SparkKSweep, assemble_features"),  # a Spark table
}


def _blocks(page: Path) -> list[tuple[str, str | None]]:
    """(code, skip reason or None) of each python block of a page, in order."""
    text = page.read_text(encoding="utf-8")
    return [(m.group(3), m.group(2)) for m in BLOCK.finditer(text)]


def _reduced(code: str) -> str:
    """The snippet at reduced size: short k ranges, two restarts."""

    def short_range(match: re.Match) -> str:
        start, stop = int(match.group(1)), int(match.group(2).replace("_", ""))
        return f"range({start}, {min(stop, start + 4)})"

    code = re.sub(r"range\((\d+), (\d[\d_]*)\)", short_range, code)
    code = re.sub(r"n_init=\d+", "n_init=2", code)
    # DTW k-means compiles and runs for a minute even on small data; the euclidean metric
    # goes through the same API (the DTW matrix snippet and test_families keep DTW)
    return code.replace('TimeSeriesKMeans(metric="dtw")', 'TimeSeriesKMeans(metric="euclidean")')


def _namespace(tmp_path: Path) -> dict:
    """Small stand-ins for the data the snippets name."""
    from sklearn.datasets import make_blobs
    from tslearn.datasets import CachedDatasets

    X, _ = make_blobs(n_samples=300, centers=4, cluster_std=0.6, random_state=0)
    series = CachedDatasets().load_dataset("Trace")[0][:24, ::10, :]
    np.save(tmp_path / "big.npy", make_blobs(n_samples=3000, centers=4, random_state=1)[0])
    return {
        "X": X,
        "series": series,
        "new_series": series[:3],
        "new_rows": X[:5],
        "k": np.arange(1, 9),
        "inertia": np.array([800.0, 410.0, 190.0, 60.0, 52.0, 45.0, 40.0, 36.0]),
    }


def test_the_skipped_blocks_are_the_expected_few():
    skipped = {
        (page.name, code.splitlines()[0])
        for page in PAGES
        for code, reason in _blocks(page)
        if reason is not None
    }
    assert skipped == EXPECTED_SKIPS


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_python_block_of_the_page_runs(page, tmp_path, monkeypatch, capsys):
    blocks = _blocks(page)
    monkeypatch.chdir(tmp_path)  # checkpoints and files a snippet writes stay here
    namespace = _namespace(tmp_path)
    ran = 0
    for index, (code, reason) in enumerate(blocks):
        if reason is not None:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # small data: no elbow, rising inertia, ...
            try:
                exec(compile(_reduced(code), f"{page.name} block {index}", "exec"), namespace)
            except Exception as exc:  # the block, its number and the error, for the reader
                pytest.fail(f"{page.name}, python block {index} failed: {exc!r}\n{code}")
        ran += 1
        plt.close("all")
    assert ran == len(blocks) - sum(reason is not None for _, reason in blocks)
    if page.name in ("README.md", "guide.md", "index.md"):
        assert ran > 0


def _tables(page: Path) -> list[tuple[int, str, str]]:
    """(line number, table text, the 10 lines before it) of each markdown table."""
    lines = page.read_text(encoding="utf-8").splitlines()
    tables, i = [], 0
    while i < len(lines):
        if lines[i].lstrip().startswith("|"):
            j = i
            while j < len(lines) and lines[j].lstrip().startswith("|"):
                j += 1
            tables.append((i + 1, "\n".join(lines[i:j]), "\n".join(lines[max(0, i - 10) : i])))
            i = j
        else:
            i += 1
    return tables


def test_every_table_of_figures_names_the_command_that_produced_it():
    measured = re.compile(r"\d\.\d+ ?(s|x|MB|MiB)\b|\d+x\b|\b\d+ / \d+\b|\| \d+ \|")
    command = re.compile(r"python (benchmarks|examples)/\w+\.py")
    checked = 0
    for page in PAGES:
        for line, table, before in _tables(page):
            body = "\n".join(table.splitlines()[2:])
            if measured.search(body):
                checked += 1
                assert command.search(before), f"{page.name}:{line} has figures but no command"
    assert checked >= 8
