"""The README's example, its commands and the examples/ scripts stay true."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _run_example(name, *args):
    env = {**os.environ, "KSWEEP_EXAMPLE_QUICK": "1"}
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / name), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    ).stdout


def test_readme_example_runs_and_finds_the_five_blobs(capsys):
    code = re.search(r"```python\n(.*?)```", README, re.S).group(1)
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    sweep = namespace["sweep"]
    assert sweep.best_k_ == 5
    assert namespace["labels"].shape == (2000,)
    assert "<--" in capsys.readouterr().out


def test_ci_runs_the_readme_test_command():
    block = README.split("<!-- test-command -->", 1)[1]
    command = re.search(r"```bash\n(.*?)\n```", block, re.S).group(1)
    assert command.count("\n") == 0 and "pytest" in command
    result = subprocess.run(
        ["bash", str(ROOT / ".ci" / "run"), "--print-command"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout == command + "\n"


def test_quickstart_example_prints_the_table_and_the_chosen_k():
    stdout = _run_example("quickstart_digits.py")
    lines = stdout.splitlines()
    table = [line for line in lines if re.match(r"\s+\d+\s+\d", line)]
    assert [int(line.split()[0]) for line in table] == list(range(2, 16))
    chosen = int(re.search(r"chosen k = (\d+)", stdout).group(1))
    assert 2 <= chosen <= 15
    assert [line.split()[0] for line in table if line.endswith("<--")] == [str(chosen)]


def test_evidence_example_prints_every_method_and_writes_the_plot(tmp_path):
    png = tmp_path / "digits.png"
    stdout = _run_example("digits_evidence.py", png)
    methods = re.findall(r"^(\w+)\s+(\d+)\s+(?:k=|no k satisfies)", stdout, re.M)
    names = [name for name, _ in methods]
    assert names == [
        "kneedle",
        "two_segment",
        "silhouette",
        "calinski_harabasz",
        "davies_bouldin",
        "gap",
        "vote",
    ]
    assert all(2 <= int(k) <= 15 for _, k in methods)
    voters = [int(k) for name, k in methods if name != "vote"]
    most = max(voters.count(k) for k in voters)
    assert int(dict(methods)["vote"]) == next(k for k in voters if voters.count(k) == most)
    # the default selection: its uniform-box null test calls standardized digits structureless
    # (rare pixels, scaled up, stretch the box; a documented failure), k=1 is not swept, so
    # it warns and keeps kneedle's k
    auto = re.search(r"^auto\s+(\d+)\s+no structure: .*but k=1 was not swept", stdout, re.M)
    assert int(auto.group(1)) == int(dict(methods)["kneedle"])
    chosen = int(re.search(r"chosen k = (\d+) \(auto\)", stdout).group(1))
    assert chosen == int(dict(methods)["kneedle"])
    assert png.stat().st_size > 20_000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_spark_example_sweeps_and_writes_the_plot(tmp_path):
    png = tmp_path / "spark.png"
    stdout = _run_example("spark_sweep.py", png)
    chosen = int(re.search(r"chosen k = (\d+)", stdout).group(1))
    assert 2 <= chosen <= 9
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_seismic_example_agrees_on_serial_and_dask_and_finds_the_prototypes(tmp_path):
    out = _run_example("seismic_profiles.py", tmp_path / "elbow.png")
    assert "same inertia per k on both: True" in out
    chosen = int(re.search(r"chosen k = (\d+)", out).group(1))
    assert 9 <= chosen <= 15  # the profiles come from 12 prototypes
    assert (tmp_path / "elbow.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_mnist_style_example_prints_a_crosstab_of_every_digit():
    out = _run_example("mnist_style.py")
    chosen = int(re.search(r"chosen k = (\d+)", out).group(1))
    assert 6 <= chosen <= 14  # two_segment needs two points on each side of k = 5..15
    rows = out.split("cluster x true label", 1)[1].strip().splitlines()[1:]
    assert len(rows) == chosen
    counts = np.array([[int(v) for v in row.split()[1:]] for row in rows])
    assert counts.shape == (chosen, 10) and counts.sum() == 1797


def test_incremental_example_streams_a_memory_map_and_finds_the_six_blobs(tmp_path):
    data = tmp_path / "blobs.npy"
    out = _run_example("incremental_stream.py", data)
    assert "200,000 rows × 8 features in 10 batches" in out
    assert np.load(data, mmap_mode="r").shape == (200_000, 8)
    chosen = int(re.search(r"chosen k = (\d+)", out).group(1))
    assert chosen == 6  # the stream comes from 6 blob centers
    table = [line for line in out.splitlines() if re.match(r"\s+\d+\s+\d", line)]
    assert [int(line.split()[0]) for line in table] == list(range(2, 13))
    assert [line.split()[0] for line in table if line.endswith("<--")] == ["6"]


def test_docs_site_builds_in_strict_mode_with_the_api_reference(tmp_path):
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    for name in ("KSweep", "kneedle", "two_segment", "SparkKSweep", "dtw_distance_matrix"):
        assert name in api
    assert "Executors" in (site / "guide" / "index.html").read_text(encoding="utf-8")


def test_dask_array_example_sweeps_on_the_workers_and_writes_the_plot(tmp_path):
    png = tmp_path / "dask.png"
    out = _run_example("dask_array_sweep.py", png)
    assert "200,000 rows × 10 features in 20 chunks" in out and "(engine: dask)" in out
    chosen = int(re.search(r"chosen k = (\d+)", out).group(1))
    assert chosen == 7  # the blobs come from 7 centers
    sizes = [int(v) for v in re.search(r"cluster sizes \[(.*)\]", out).group(1).split(",")]
    assert len(sizes) == 7 and sum(sizes) == 200_000 and min(sizes) > 20_000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
