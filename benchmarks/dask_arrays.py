"""Data larger than one machine: ksweep on a dask array vs a loop of dask-ml KMeans fits.

2,000,000 × 10 float32 blobs (8 centers) as a dask array in 16 row chunks, on a local
distributed cluster of 2 worker processes × 1 thread; k = 2..12, one fit per k (dask-ml
fits one run per fit; ksweep n_init=1). Each variant runs on a fresh cluster, so the
workers' peak resident memory (getrusage) is its own.

dask-ml's ``inertia_`` is on another scale: unless its last center shift is below 1e-7,
it sums plain (not squared) Euclidean distances. So its centers are also scored here
as ksweep and scikit-learn score theirs: the sum of squared distances to the nearest
center. Its ``tol`` is absolute (squared shift < 1e-4); ksweep's is scikit-learn's,
relative to the mean feature variance.

Run:  python benchmarks/dask_arrays.py [--rows 2000000] [--skip-dask-ml]
Needs dask-ml for the peer: pip install dask-ml
"""

from __future__ import annotations

import argparse
import resource
import time

import dask.array as da
import distributed
import numpy as np

from ksweep import KSweep

K_RANGE = range(2, 13)


def blobs(n_rows: int, n_features: int = 10, n_centers: int = 8, seed: int = 0):
    """A lazy dask array of Gaussian blobs: made chunk by chunk on the workers."""
    centers = np.random.default_rng(seed).uniform(-10, 10, size=(n_centers, n_features))
    chunk = n_rows // 16

    def block(block_info=None):
        (start, stop), _ = block_info[None]["array-location"]
        rng = np.random.default_rng([seed, start])
        labels = rng.integers(0, n_centers, stop - start)
        noise = rng.normal(size=(stop - start, n_features))
        return (centers[labels] + noise).astype(np.float32)

    return da.map_blocks(
        block, chunks=((chunk,) * 16, (n_features,)), dtype=np.float32, meta=np.empty((0, 0))
    )


def squared_inertia(X, centers: np.ndarray) -> float:
    """Sum of squared distances of the rows of X to their nearest center, on the workers."""

    def block(rows):
        rows = rows.astype(np.float64)
        d = (rows**2).sum(1)[:, None] - 2 * rows @ centers.T + (centers**2).sum(1)
        return np.maximum(d.min(axis=1), 0.0)

    return float(X.map_blocks(block, drop_axis=1, dtype=np.float64).sum().compute())


def peak_worker_mb(client) -> list[float]:
    rss = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return sorted(round(kb / 1024) for kb in rss.values())  # Linux reports KiB


def on_fresh_cluster(func, untimed=None):
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        start = time.perf_counter()
        result = func()
        seconds = time.perf_counter() - start
        memory = peak_worker_mb(client)
        return seconds, (result, untimed(result) if untimed else None), memory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--skip-dask-ml", action="store_true")
    args = parser.parse_args()
    X = blobs(args.rows)
    print(f"X: {X.shape} {X.dtype}, {X.numblocks[0]} chunks, {X.nbytes / 2**20:.0f} MiB")
    rows = {}

    def sweep():
        return KSweep(k_range=K_RANGE, n_init=1, selection="two_segment", random_state=0).fit(X)

    seconds, (fitted, _), memory = on_fresh_cluster(sweep)
    rows["ksweep (one fused pass per iteration for all k)"] = (seconds, memory)
    inertia = {"ksweep": fitted.results_["inertia"]}
    iterations = {"ksweep": fitted.results_["n_iter"]}
    if not args.skip_dask_ml:
        from dask_ml.cluster import KMeans as DaskKMeans

        def loop():
            return [DaskKMeans(n_clusters=k, random_state=k).fit(X) for k in K_RANGE]

        def squared(models):
            return [squared_inertia(X, m.cluster_centers_.astype(np.float64)) for m in models]

        seconds, (models, values), memory = on_fresh_cluster(loop, untimed=squared)
        rows["dask-ml KMeans loop over k (k-means||)"] = (seconds, memory)
        inertia["dask-ml"] = np.asarray(values)
        iterations["dask-ml"] = np.asarray([m.n_iter_ for m in models])
        own = np.asarray([m.inertia_ for m in models])

    print(f"\n{'variant':<50} {'wall s':>8} {'peak worker RSS MiB':>20}")
    for name, (seconds, memory) in rows.items():
        print(f"{name:<50} {seconds:>8.1f} {memory!s:>20}")
    if len(rows) == 2:
        (ours, _), (peer, _) = rows.values()
        print(f"ksweep vs dask-ml loop: {peer / ours:.2f}x faster")
    print(f"\n{'k':>3} " + " ".join(f"{n + ' inertia':>18} {n + ' iters':>14}" for n in inertia))
    for i, k in enumerate(K_RANGE):
        cells = [f"{inertia[n][i]:>18.6g} {iterations[n][i]:>14d}" for n in inertia]
        print(f"{k:>3} " + " ".join(cells))
    if "dask-ml" in inertia:
        print("dask-ml's own inertia_ (mixed scale): " + ", ".join(f"{v:.4g}" for v in own))
        ratio = inertia["ksweep"] / inertia["dask-ml"]
        print(
            f"ksweep / dask-ml inertia: max {ratio.max():.5f}, geometric mean "
            f"{np.exp(np.log(ratio).mean()):.5f}"
        )
    print(f"chosen k (two-segment): {fitted.best_k_}")


if __name__ == "__main__":
    main()
