"""Seed-000 workload: serial vs processes vs dask, against hand-written loops, in one run.

11,346 synthetic profiles × 100 samples (float32), KMeans(max_iter=10), k = 3..49, one
restart per k (Σk = 1,222 centers). Peers, as users write them today:

- a plain scikit-learn loop over k (the libraries' default threads);
- a dask.delayed fan-out over k computed on a distributed.Client with 2 workers, with
  dask's default config and with its malloc trim threshold unset (as in ksweep's own cluster).

The first row is what a new user gets: ``KSweep(KMeans(max_iter=10), k_range=range(3, 50),
n_init=1)`` with every other parameter at its default (the fused engine, every core), the
first fit in a fresh process. Then ksweep's independent engine runs the same fits (same
seeds on every executor) with executor="auto" (its default rule: a warm process pool for a
sweep this size), serially, on 2 processes and on the same 2-worker dask cluster. Inertia
per k must be identical across ksweep executors.

Run:  python benchmarks/executors.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import pickle
import time

import dask
import distributed
import numpy as np
from fresh import first_fit
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_info

from ksweep import KSweep
from ksweep._shipping import MappedData

K_RANGE = range(3, 50)
#: What ksweep's own local cluster uses: glibc's adaptive malloc instead of dask's trim.
TUNED = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}


def seismic_like_profiles(n_profiles: int = 11_346, length: int = 100, seed: int = 0):
    """Smooth random-walk prototypes, scaled and noised: profiles with cluster structure."""
    rng = np.random.default_rng(seed)
    kernel = np.hanning(15) / np.hanning(15).sum()
    prototypes = np.array(
        [np.convolve(np.cumsum(rng.normal(size=length)), kernel, mode="same") for _ in range(12)]
    )
    labels = rng.integers(0, 12, size=n_profiles)
    scale = rng.uniform(0.8, 1.2, size=(n_profiles, 1))
    noise = rng.normal(scale=0.3, size=(n_profiles, length))
    return (prototypes[labels] * scale + noise).astype(np.float32)


def fit_k(X, k):
    return KMeans(n_clusters=k, n_init=1, max_iter=10, random_state=k).fit(X).inertia_


def best_of(repeats: int, func):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per variant (best is kept)")
    args = parser.parse_args()

    X = seismic_like_profiles()
    print(f"X: {X.shape} {X.dtype}, k = {K_RANGE.start}..{K_RANGE.stop - 1}, max_iter=10")
    kernels = {
        (i["internal_api"], i.get("architecture"), i["num_threads"]) for i in threadpool_info()
    }
    print(f"native thread pools: {sorted(kernels, key=str)}")

    def sweep(**kw):
        return KSweep(
            KMeans(max_iter=10),
            k_range=K_RANGE,
            n_init=1,
            random_state=0,
            selection="two_segment",
            engine="independent",  # this benchmark compares executors; see fused.py
            **kw,
        ).fit(X)

    rows = {}
    record = first_fit(
        "from executors import seismic_like_profiles; X = seismic_like_profiles()",
        "KSweep(KMeans(max_iter=10), k_range=range(3, 50), n_init=1, random_state=0).fit(X)",
    )
    rows[f"KSweep defaults, fresh process ({record['engine']} engine)"] = record["seconds"]
    rows["sklearn loop (default threads)"], _ = best_of(
        args.repeats, lambda: [fit_k(X, k) for k in K_RANGE]
    )
    rows["ksweep independent, executor='auto' (first: starts pool)"], auto = best_of(
        1, lambda: sweep()
    )
    rows["ksweep serial (1 thread/fit)"], serial = best_of(
        args.repeats, lambda: sweep(executor="serial")
    )
    # the first processes sweep starts the worker pool; later sweeps reuse it
    rows["ksweep processes, n_jobs=2 (cold: starts pool)"], _ = best_of(
        1, lambda: sweep(executor="processes", n_jobs=2)
    )
    rows["ksweep processes, n_jobs=2 (warm pool)"], procs = best_of(
        args.repeats, lambda: sweep(executor="processes", n_jobs=2)
    )
    # Tuned first: a default cluster writes MALLOC_TRIM_THRESHOLD_ into this process's
    # environment, and every later cluster would inherit it.
    for config, label in ((TUNED, "trim unset"), ({}, "dask defaults")):
        with (
            dask.config.set(config),
            distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            client.submit(fit_k, X[:100], 3).result()  # warm the workers' imports
            rows[f"dask.delayed loop on Client, {label}"], _ = best_of(
                args.repeats,
                lambda: dask.compute(*[dask.delayed(fit_k)(X, k) for k in K_RANGE]),
            )
            rows[f"ksweep on that Client, {label}"], on_dask = best_of(
                args.repeats, lambda client=client: sweep(executor=client)
            )

    for other in (auto, procs, on_dask):
        np.testing.assert_array_equal(
            other.results_["restart_inertia"], serial.results_["restart_inertia"]
        )
    print("inertia per (k, restart): identical on auto, serial, processes and dask")

    task = (KMeans(max_iter=10), MappedData("/dev/shm/ksweep-xxxxxxxx"), 49, 2**31, 1)
    print(f"bytes per task to a process worker: {len(pickle.dumps(task))} (X itself: {X.nbytes})")

    base = rows["sklearn loop (default threads)"]
    ks_serial = rows["ksweep serial (1 thread/fit)"]
    print(f"\n{'variant':<56} {'wall s':>7} {'vs sklearn loop':>16} {'vs ksweep serial':>17}")
    for name, seconds in rows.items():
        print(f"{name:<56} {seconds:>7.2f} {base / seconds:>15.2f}x {ks_serial / seconds:>16.2f}x")


if __name__ == "__main__":
    main()
