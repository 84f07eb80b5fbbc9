"""Streams at fused speed: KSweep.partial_fit against a hand loop of MiniBatchKMeans, one run.

Workload (issue 21): a memory-mapped 1,200,000 x 10 float32 file (7 blobs) streamed in
40 batches of 30,000 rows, k = 2..12, n_init=1. Rows, all timed in this run:

1. ``for batch: sweep.partial_fit(batch)`` with ``KSweep(k_range=range(2, 13), n_init=1)``
   (the default engine, "auto": the fused stream), FIRST in this fresh process, so its
   first call includes importing numba and loading its compiled kernels (numba's on-disk
   cache is warmed by a tiny stream in a separate process before anything is timed);
2. the same stream again in this process (steady state);
3. the hand loop: 11 ``MiniBatchKMeans(n_clusters=k)``, ``partial_fit`` each per batch;
4. the per-model path, ``engine="independent"`` (one ``MiniBatchKMeans.partial_fit`` per
   model and batch, as before issue 21).

Every row reads each batch from the memory map once (``np.asarray(data[a:b])``).
Then: the chosen k of each (the hand loop's k: its models' inertia on the sweep's
held-back rows, through the sweep's own selection, untimed), the held-back inertia per k
of the fused stream against the per-model path (same seeds and holdout), and the peak
traced memory (tracemalloc) of the fused stream after 10 and after 40 batches.

Run:  python benchmarks/stream.py [--quick] [--threads N]
(--quick: 120,000 rows in 10 batches; the default engine uses every core unless --threads.)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

K_RANGE = range(2, 13)
N_FEATURES = 10
N_BLOBS = 7


def make_file(path: Path, n_rows: int) -> None:
    """Write ``n_rows`` x 10 float32 rows from 7 blobs to ``path`` (.npy), in chunks."""
    from sklearn.datasets import make_blobs

    rng = np.random.default_rng(0)
    centers = rng.uniform(-10, 10, size=(N_BLOBS, N_FEATURES))
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n_rows, N_FEATURES))
    chunk = 200_000
    for start in range(0, n_rows, chunk):
        stop = min(n_rows, start + chunk)
        X, _ = make_blobs(
            n_samples=stop - start, centers=centers, cluster_std=1.0, random_state=start
        )
        out[start:stop] = X
    out.flush()
    del out


def batches(data: np.ndarray, n_batches: int):
    size = -(-data.shape[0] // n_batches)
    for start in range(0, data.shape[0], size):
        yield np.asarray(data[start : start + size])


def run_sweep(data, n_batches, threads, **params):
    from ksweep import KSweep

    sweep = KSweep(k_range=K_RANGE, n_init=1, random_state=0, n_jobs=threads, **params)
    start = time.perf_counter()
    for batch in batches(data, n_batches):
        sweep.partial_fit(batch)
    return time.perf_counter() - start, sweep


def run_hand_loop(data, n_batches):
    from sklearn.cluster import MiniBatchKMeans

    models = [MiniBatchKMeans(n_clusters=k) for k in K_RANGE]
    start = time.perf_counter()
    for batch in batches(data, n_batches):
        for model in models:
            model.partial_fit(batch)
    return time.perf_counter() - start, models


def peak_memory(data, n_batches, batch_rows, threads) -> float:
    """Peak traced MB of a fused stream over its first ``n_batches`` batches."""
    tracemalloc.start()
    run_sweep(data[: n_batches * batch_rows], n_batches, threads)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def warm_numba_cache(path: Path) -> None:
    """Compile (or load) the kernels in another process, so no timed row compiles them."""
    code = (
        "import numpy as np; from ksweep import KSweep; "
        f"d = np.load({str(path)!r}, mmap_mode='r'); s = KSweep(k_range=range(2, 13), n_init=1); "
        "[s.partial_fit(np.asarray(d[a:a + 5000])) for a in (0, 5000)]"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=os.environ.copy())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="120,000 rows in 10 batches")
    parser.add_argument("--threads", type=int, default=None, help="n_jobs (default: all)")
    parser.add_argument("--data", type=Path, default=None, help="where to keep the .npy file")
    args = parser.parse_args()
    n_rows, n_batches = (120_000, 10) if args.quick else (1_200_000, 40)
    folder = args.data or Path(tempfile.gettempdir())
    path = folder / f"ksweep_stream_{n_rows}x{N_FEATURES}.npy"
    if not path.exists():
        make_file(path, n_rows)
    warm_numba_cache(path)
    data = np.load(path, mmap_mode="r")
    from ksweep._threads import cpu_cores

    print(
        f"{n_rows:,} x {N_FEATURES} float32 (memory map, {N_BLOBS} blobs), {n_batches} batches, "
        f"k = 2..12, n_init=1, {cpu_cores()} cores, threads={args.threads or 'all'}"
    )
    first, fused = run_sweep(data, n_batches, args.threads)  # fresh process: numba loads here
    again, _ = run_sweep(data, n_batches, args.threads)
    hand, models = run_hand_loop(data, n_batches)
    independent, per_model = run_sweep(data, n_batches, args.threads, engine="independent")

    print(f"\n{'variant':58s} {'seconds':>8s} {'vs hand':>8s} {'vs per-model':>13s}")
    rows = [
        ("ksweep partial_fit, default (fused-stream), 1st in process", first),
        ("ksweep partial_fit, default (fused-stream), again", again),
        ("hand loop: 11 MiniBatchKMeans(n_clusters=k).partial_fit", hand),
        ('ksweep partial_fit, engine="independent" (per model)', independent),
    ]
    for name, seconds in rows:
        print(f"{name:58s} {seconds:8.3f} {hand / seconds:7.2f}x {independent / seconds:12.2f}x")

    held = fused._incremental.holdout.rows
    hand_inertia = [
        float(((held[:, None, :] - m.cluster_centers_[None]) ** 2).sum(-1).min(1).sum())
        for m in models
    ]
    from ksweep._choosing import choose_k

    k_values = np.asarray(K_RANGE)
    _, hand_k = choose_k(
        fused.selection,
        k_values,
        {"inertia": np.asarray(hand_inertia)},
        "auto",
        owner="hand",
        stacklevel=2,
    )
    print(
        f"\nchosen k: fused {fused.best_k_} ({fused.results_.engine}), per-model "
        f"{per_model.best_k_} ({per_model.results_.engine}), hand loop {hand_k} "
        f"(its inertia on the same held-back rows, same selection); true k = {N_BLOBS}"
    )
    ours, theirs = fused.results_["inertia"], per_model.results_["inertia"]
    relative = (ours - theirs) / theirs
    print(f"held-back inertia per k ({fused.results_['n_holdout'][0]} rows), fused vs per-model:")
    for k, a, b, d in zip(k_values, ours, theirs, relative, strict=True):
        print(f"  k={k:2d}  {a:14.1f}  {b:14.1f}  {100 * d:+7.3f}%")
    print(f"  largest difference: {100 * np.abs(relative).max():.3f}% (target: within 2%)")

    batch_rows = n_rows // 40  # the workload's batches (--quick: 40 smaller ones)
    size = f"{batch_rows:,} rows, {batch_rows * N_FEATURES * 4 / 2**20:.1f} MB"
    print(f"\npeak traced memory of the fused stream (batches of {size}):")
    for threads in (1, args.threads):
        early = peak_memory(data, 10, batch_rows, threads)
        late = peak_memory(data, 40, batch_rows, threads)
        print(
            f"  threads={threads or 'all'}: {early:.1f} MB after 10 batches, {late:.1f} MB after 40"
        )
    print("  (threads work on blocks side by side: their timing moves the peak a little)")


if __name__ == "__main__":
    main()
