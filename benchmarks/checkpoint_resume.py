"""What a SIGKILL half-way through a fused sweep costs with a checkpoint.

The issue-18 workload: 60,000 × 20 float64 Gaussian noise, k = 2..29, n_init=2, the fused
engine (the default for KMeans), ``checkpoint=`` a fresh directory. A full sweep without a
checkpoint is timed first; then a child process runs the sweep with the checkpoint and is
SIGKILLed half that time after it starts fitting; the resume (same line, same directory) is
timed in this process. Each fused run is written when it converges, so the resume fits
only the runs that were not stored (plus at most one refit per k of a stored best
restart). The runs still in flight at the kill start over: they are the large k, which
carry most of the work, so the resume costs more than half of the full sweep.

Run:  python benchmarks/checkpoint_resume.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 rows, k = 2..15")
    args = parser.parse_args()
    rows, top = (10_000, 16) if args.quick else (60_000, 30)
    total = (top - 2) * 2
    X = np.random.default_rng(0).normal(size=(rows, 20))
    params = {"k_range": range(2, top), "n_init": 2, "random_state": 0}
    start = time.perf_counter()
    full = KSweep(**params).fit(X)
    full_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, folder, str(rows), str(top)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        child.stdout.readline()  # "fitting": imports and data are ready
        time.sleep(full_s / 2)
        child.send_signal(signal.SIGKILL)
        child.wait()
        kept = len(list(Path(folder).glob("task-*.json")))
        start = time.perf_counter()
        resumed = KSweep(checkpoint=folder, **params).fit(X)
        resume_s = time.perf_counter() - start
    same = all(
        np.array_equal(full.results_[name], resumed.results_[name])
        for name in full.results_
        if "fit_time" not in name
    )
    print(f"{rows} x 20, k = 2..{top - 1}, n_init=2: {kept} of {total} runs kept at the kill")
    print(f"{'variant':<28} {'wall s':>8} {'ratio':>7}")
    print(f"{'full sweep (no checkpoint)':<28} {full_s:>8.2f} {1.0:>7.2f}")
    print(f"{'resume after SIGKILL':<28} {resume_s:>8.2f} {resume_s / full_s:>7.2f}")
    print(f"resumed results_ equal the full sweep's: {same}")


if __name__ == "__main__":
    main()
