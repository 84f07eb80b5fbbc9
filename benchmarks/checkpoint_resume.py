"""What a SIGKILL half-way through a fused sweep costs with a checkpoint.

The issue-18 workload: 60,000 × 20 float64 Gaussian noise, k = 2..29, n_init=2, the fused
engine (the default for KMeans), ``checkpoint=`` a fresh directory. After a warm-up fit
(compiled kernels loaded), a full sweep is timed without a checkpoint and with one; then a
child process runs the sweep with a checkpoint and is SIGKILLed once it has spent half the
full sweep's CPU time fitting (half its wall time where /proc is missing); the resume (same
line, same directory) is timed in this process. Wall and CPU seconds are both shown: on a
shared machine the wall times swing with the load, the CPU seconds much less.

A fused run is written when it converges, and every second each fused group writes where
its runs in flight stand (their centers and sums): the resume goes on from there, bit for
bit, so the kill costs about a second of work, not the runs in flight (the large k, most of
the work). A stored best restart's model is rebuilt from its stored centers (one pass over
X), not refitted. So the resume costs about what was left, and its ``results_`` equal the
uninterrupted sweep's. (``--quick`` is a smoke run: its sweep is about as short as the
child's start-up, so little is stored before the kill.)

Run:  python benchmarks/checkpoint_resume.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np

from ksweep import KSweep

CHILD = textwrap.dedent(
    """
    import sys
    import numpy as np
    from ksweep import KSweep
    rows, top = int(sys.argv[2]), int(sys.argv[3])
    X = np.random.default_rng(0).normal(size=(rows, 20))
    print("fitting", flush=True)
    KSweep(k_range=range(2, top), n_init=2, random_state=0, checkpoint=sys.argv[1]).fit(X)
    """
)


def timed(X: np.ndarray, **params) -> tuple[KSweep, float, float]:
    """A fitted sweep, its wall and its CPU seconds (the no-structure warning of noise
    silenced)."""
    start, cpu = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sweep = KSweep(**params).fit(X)
    return sweep, time.perf_counter() - start, time.process_time() - cpu


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU seconds of a running process (Linux /proc), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def kill_half_way(child: subprocess.Popen, wall: float, cpu: float) -> None:
    """SIGKILL ``child`` once it has spent ``cpu / 2`` CPU seconds (or ``wall / 2``)."""
    start = cpu_seconds(child.pid)
    if start is None:
        time.sleep(wall / 2)
    else:
        while (cpu_seconds(child.pid) or start) - start < cpu / 2:
            time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    child.wait()


def stored_runs(folder: Path) -> tuple[set, set]:
    """The keys of the finished runs in a checkpoint, and of the others with a state."""
    finished = {
        tuple(json.loads(file.read_text())["payload"]["key"]) for file in folder.glob("task-*.json")
    }
    standing = {
        tuple(run["key"])
        for file in folder.glob("state-*.json")
        for run in json.loads(file.read_text())["payload"]["runs"]
    }
    return finished, standing - finished


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 rows, k = 2..15")
    args = parser.parse_args()
    rows, top = (10_000, 16) if args.quick else (60_000, 30)
    total = (top - 2) * 2
    X = np.random.default_rng(0).normal(size=(rows, 20))
    params = {"k_range": range(2, top), "n_init": 2, "random_state": 0}
    timed(X[:2000], **params)  # warm-up: compiled kernels loaded, imports done
    full, *full_s = timed(X, **params)
    with tempfile.TemporaryDirectory() as folder:
        _, *checkpointed_s = timed(X, checkpoint=folder, **params)
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
        child = subprocess.Popen(
            [sys.executable, "-W", "ignore", "-c", CHILD, folder, str(rows), str(top)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        child.stdout.readline()  # "fitting": imports and data are ready
        kill_half_way(child, *full_s)
        finished, standing = stored_runs(Path(folder))
        resumed, *resume_s = timed(X, checkpoint=folder, **params)
    same = all(
        np.array_equal(full.results_[name], resumed.results_[name])
        for name in full.results_
        if "fit_time" not in name
    )
    print(
        f"{rows} x 20, k = 2..{top - 1}, n_init=2: at the kill {len(finished)} of {total} runs "
        f"finished, {len(standing)} in flight with their state stored"
    )
    print(f"{'variant':<28} {'wall s':>8} {'ratio':>7} {'CPU s':>8} {'ratio':>7}")
    for name, (wall, cpu) in [
        ("full sweep (no checkpoint)", full_s),
        ("full sweep (checkpoint)", checkpointed_s),
        ("resume after SIGKILL", resume_s),
    ]:
        print(
            f"{name:<28} {wall:>8.2f} {wall / full_s[0]:>7.2f} {cpu:>8.2f} {cpu / full_s[1]:>7.2f}"
        )
    print(f"resumed results_ equal the full sweep's: {same}")


if __name__ == "__main__":
    main()
