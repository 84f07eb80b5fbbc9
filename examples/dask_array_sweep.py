"""Workload 3: a sweep over k of data that lives on a dask cluster, never on the client.

The data is a dask array made chunk by chunk on the workers (Gaussian blobs around 7 centers,
10 features): nothing is loaded in this process. ``KSweep.fit`` runs Lloyd's k-means for every
(k, restart) at once, one pass over the chunks per iteration; only per-chunk sums and a small
sample for the k-means++ seeding reach the client. ``predict`` returns a lazy dask array.

Run:  python examples/dask_array_sweep.py [elbow.png]
Set KSWEEP_EXAMPLE_QUICK=1 for a reduced run (200,000 rows instead of 4,000,000), as the tests do.
"""

import os
import sys
import time

import dask.array as da
import matplotlib
import numpy as np
from distributed import Client, LocalCluster

matplotlib.use("Agg")

from ksweep import KSweep

N_CENTERS, N_FEATURES, N_CHUNKS = 7, 10, 20


def lazy_blobs(n_rows: int, seed: int = 0) -> da.Array:
    """Blobs made on the workers, chunk by chunk (each chunk seeded by its position)."""
    centers = np.random.default_rng(seed).uniform(-8, 8, size=(N_CENTERS, N_FEATURES))

    def chunk(block_info=None):
        (start, stop), _ = block_info[None]["array-location"]
        rng = np.random.default_rng([seed, start])
        labels = rng.integers(0, N_CENTERS, stop - start)
        return (centers[labels] + rng.normal(size=(stop - start, N_FEATURES))).astype(np.float32)

    rows = n_rows // N_CHUNKS
    return da.map_blocks(
        chunk, chunks=((rows,) * N_CHUNKS, (N_FEATURES,)), dtype=np.float32, meta=np.empty((0, 0))
    )


def main():
    quick = os.environ.get("KSWEEP_EXAMPLE_QUICK") == "1"
    plot_path = sys.argv[1] if len(sys.argv) > 1 else "dask_elbow.png"
    X = lazy_blobs(200_000 if quick else 4_000_000)
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster),
    ):
        print(
            f"X: {X.shape[0]:,} rows × {X.shape[1]} features in {X.numblocks[0]} chunks "
            f"({X.nbytes / 2**20:.0f} MiB), on a 2-worker cluster"
        )
        start = time.perf_counter()
        sweep = KSweep(k_range=range(2, 13), n_init=2, random_state=0).fit(X)
        print(
            f"sweep of k = 2..12, 2 restarts each: {time.perf_counter() - start:.1f} s "
            f"(engine: {sweep.results_.engine})"
        )
        print(sweep.results_.to_text(marked_k=sweep.best_k_))
        print(sweep.elbow_.reason)
        print(f"chosen k = {sweep.best_k_}")
        labels = sweep.predict(X)  # lazy: computed on the workers
        sizes = np.bincount(labels.compute(), minlength=sweep.best_k_)
        print(
            f"labels: a lazy {type(labels).__name__} of {labels.shape[0]:,}; "
            f"cluster sizes {sizes.tolist()}"
        )
        sweep.plot().savefig(plot_path)
        print(f"elbow plot written to {plot_path}")


if __name__ == "__main__":
    main()
