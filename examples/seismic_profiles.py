"""Workload 1: seismic-style profiles, tslearn TimeSeriesKMeans over k = 3..49, serial vs dask.

The original ~11k seismic profiles are not public, so this example generates profiles of the
same shape (smooth random-walk prototypes, scaled and noised, 100 samples each). It sweeps
``TimeSeriesKMeans(metric="euclidean")`` over k with the serial executor and again on a local
dask cluster (the dask.delayed fan-out users write by hand, as a ksweep executor), checks that
both give the same inertia per k, prints the timings, the chosen k, and saves the elbow plot.

Run:  python examples/seismic_profiles.py [elbow.png]
Set KSWEEP_EXAMPLE_QUICK=1 for a reduced run (2,000 profiles, k = 3..15), as the tests do.
"""

import os
import sys
import time

import matplotlib
import numpy as np

matplotlib.use("Agg")

from tslearn.clustering import TimeSeriesKMeans

from ksweep import KSweep


def profiles(n, length=100, n_prototypes=12, seed=0):
    rng = np.random.default_rng(seed)
    kernel = np.hanning(15) / np.hanning(15).sum()
    prototypes = np.array(
        [
            np.convolve(np.cumsum(rng.normal(size=length)), kernel, mode="same")
            for _ in range(n_prototypes)
        ]
    )
    labels = rng.integers(0, n_prototypes, size=n)
    scale = rng.uniform(0.8, 1.2, size=(n, 1))
    return (prototypes[labels] * scale + rng.normal(scale=0.3, size=(n, length))).astype(np.float32)


def main():
    quick = os.environ.get("KSWEEP_EXAMPLE_QUICK") == "1"
    X = profiles(2_000 if quick else 11_346)
    k_range = range(3, 16) if quick else range(3, 50)
    params = {"k_range": k_range, "n_init": 1, "random_state": 0}

    start = time.perf_counter()
    serial = KSweep(TimeSeriesKMeans(metric="euclidean", max_iter=10), **params).fit(X)
    serial_s = time.perf_counter() - start
    start = time.perf_counter()
    on_dask = KSweep(
        TimeSeriesKMeans(metric="euclidean", max_iter=10), **params, executor="dask", n_jobs=2
    ).fit(X)
    dask_s = time.perf_counter() - start  # includes starting and closing a local cluster

    same = np.array_equal(serial.results_["inertia"], on_dask.results_["inertia"])
    print(f"profiles: {X.shape}, k = {k_range.start}..{k_range.stop - 1}")
    print(f"serial: {serial_s:.1f} s, dask (2 workers, incl. cluster start): {dask_s:.1f} s")
    print(f"same inertia per k on both: {same}")
    print(serial.results_.to_text(marked_k=serial.best_k_))
    print(serial.summary())
    print(f"chosen k = {serial.best_k_}")
    if len(sys.argv) > 1:
        serial.plot().savefig(sys.argv[1], dpi=90, bbox_inches="tight")
        print(f"plot written to {sys.argv[1]}")


if __name__ == "__main__":
    main()
