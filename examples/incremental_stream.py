"""Out of core without a cluster: an incremental sweep over batches read from a memory map.

Writes a data set of blobs (6 centers in 8 dimensions) chunk by chunk to a memory-mapped
``.npy`` file, as a data set too large for memory would be stored, then reads it back one
batch at a time and feeds each batch to ``KSweep.partial_fit``: one MiniBatchKMeans per
(k, restart) learns from every batch, a held-back sample of the stream scores them all, and
the chosen k is updated after each batch. Only one batch is in memory at a time.

Run:  python examples/incremental_stream.py [data.npy]
Set KSWEEP_EXAMPLE_QUICK=1 for a reduced run (200,000 rows in 10 batches), as the tests do.
"""

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ksweep import KSweep

N_CENTERS = 6
N_FEATURES = 8


def write_blobs(path, n_rows, chunk=100_000, seed=0):
    """Write ``n_rows`` blob rows to a memory-mapped .npy file, one chunk at a time."""
    rng = np.random.default_rng(seed)
    centers = rng.uniform(-10, 10, size=(N_CENTERS, N_FEATURES))
    data = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n_rows, N_FEATURES))
    for start in range(0, n_rows, chunk):
        stop = min(start + chunk, n_rows)
        labels = rng.integers(0, N_CENTERS, size=stop - start)
        data[start:stop] = centers[labels] + rng.normal(size=(stop - start, N_FEATURES))
    data.flush()
    del data


def main():
    quick = os.environ.get("KSWEEP_EXAMPLE_QUICK") == "1"
    n_rows, n_batches = (200_000, 10) if quick else (2_000_000, 40)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tmp) / "blobs.npy"
        write_blobs(path, n_rows)
        data = np.load(path, mmap_mode="r")  # nothing is read until a batch is sliced
        sweep = KSweep(k_range=range(2, 13), n_init=2, random_state=0)
        batch_size = -(-n_rows // n_batches)
        start = time.perf_counter()
        for i, first in enumerate(range(0, n_rows, batch_size)):
            batch = np.asarray(data[first : first + batch_size])  # one batch in memory
            sweep.partial_fit(batch)
            if i % max(1, n_batches // 5) == 0 or first + batch_size >= n_rows:
                print(
                    f"batch {i + 1:>3}/{n_batches}: {first + len(batch):>9,} rows seen, "
                    f"{sweep.results_['n_holdout'][0]:,} held back, best k so far = "
                    f"{sweep.best_k_}"
                )
        elapsed = time.perf_counter() - start
        del data
    print(
        f"{n_rows:,} rows × {N_FEATURES} features in {n_batches} batches, "
        f"{sweep.results_.n_restarts} restarts per k, {elapsed:.1f} s"
    )
    print(f"inertia: {sweep.results_.inertia_definition}")
    print(sweep.results_.to_text(marked_k=sweep.best_k_))
    print(f"kneedle: {sweep.elbow_.reason}")
    print(f"chosen k = {sweep.best_k_}")


if __name__ == "__main__":
    main()
