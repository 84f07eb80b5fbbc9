"""The fused k-means engine against per-k loops, side by side in one run, with the GEMM floor.

(a) seed-000 workload: 11,346 synthetic profiles × 100 samples (float32), k = 3..49,
    max_iter=10, one restart: ksweep fused vs a scikit-learn KMeans loop vs a tslearn
    TimeSeriesKMeans(metric="euclidean") loop; inertia per k side by side (tslearn's
    mean inertia × n_samples, so all three are sums).
(b) seed-001 workload: 60,000 × 784 standardized MNIST-like data (scikit-learn's digits
    upsampled to 28 × 28, shifted and noised), k = 5..15, n_init=10: ksweep fused vs the
    scikit-learn loop (KMeans(n_clusters=k, n_init=10) per k).
(c) the floor: one float32 GEMM of X against every center of the sweep, per Lloyd pass.

Every variant is timed in this run (best of --repeats for (a)). The loops use the
libraries' default threads (both cores); ksweep uses inner_threads=2 for (a), where
there is one restart and so one task, and 2 worker processes × 1 thread for (b),
where the 10 restarts are 10 tasks.

Run:  python benchmarks/fused.py [--repeats 3] [--skip-tslearn] [--mnist-rows 60000]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from executors import seismic_like_profiles
from scipy import ndimage
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info

from ksweep import KSweep
from ksweep._kernels import kernels


def mnist_like(n_rows: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Digits upsampled to 28 × 28, shifted by up to 2 pixels and noised, standardized."""
    rng = np.random.default_rng(seed)
    digits = load_digits()
    big = np.stack([ndimage.zoom(image, 3.5, order=1) for image in digits.images])  # 28 × 28
    pick = rng.integers(0, len(big), n_rows)
    images = big[pick]
    shifts = rng.integers(-2, 3, size=(n_rows, 2))
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            rows = np.flatnonzero((shifts[:, 0] == dy) & (shifts[:, 1] == dx))
            images[rows] = np.roll(images[rows], (dy, dx), axis=(1, 2))
    X = images.reshape(n_rows, -1) + rng.normal(scale=0.5, size=(n_rows, 784))
    return StandardScaler().fit_transform(X).astype(np.float32), digits.target[pick]


def timed(repeats: int, func):
    best, result = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def gemm_floor(X: np.ndarray, results) -> tuple[float, float]:
    """One GEMM of X against every center of the sweep, and the GEMM time of all Lloyd passes.

    Each run needs (n_iter + 1) passes (the last assigns rows to the final centers), each
    a product with its k centers: the floor is that many center-passes at the GEMM's rate.
    """
    k = results["k"][:, None]
    total_k = int(k.sum() * results.n_restarts)
    centers = X[np.random.default_rng(0).integers(0, len(X), total_k)]
    one, _ = timed(3, lambda: X @ centers.T)
    center_passes = float((k * (results["restart_n_iter"] + 1)).sum())
    return one, one * center_passes / total_k


def workload_a(repeats: int, with_tslearn: bool) -> None:
    X = seismic_like_profiles()
    k_range = range(3, 50)
    print(f"\n(a) X: {X.shape} {X.dtype}, k = 3..49, max_iter=10, one restart")
    rows, inertia = {}, {}

    def sklearn_loop():
        return [
            KMeans(n_clusters=k, n_init=1, max_iter=10, random_state=k).fit(X).inertia_
            for k in k_range
        ]

    rows["scikit-learn KMeans loop"], inertia["sklearn"] = timed(repeats, sklearn_loop)

    def sweep():
        return KSweep(
            KMeans(max_iter=10),
            k_range=k_range,
            n_init=1,
            engine="fused",
            inner_threads=2,
            selection="two_segment",
            random_state=0,
        ).fit(X)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one restart: NonMonotonicWarning is expected
        rows["ksweep fused (whole fit: seeding, Lloyd, selection)"], fused = timed(repeats, sweep)
    inertia["fused"] = fused.results_["inertia"]
    if with_tslearn:
        from tslearn.clustering import TimeSeriesKMeans

        series = X[:, :, None]

        def tslearn_loop():
            return [
                TimeSeriesKMeans(n_clusters=k, metric="euclidean", max_iter=10, random_state=k)
                .fit(series)
                .inertia_
                * len(X)
                for k in k_range
            ]

        rows["tslearn TimeSeriesKMeans loop"], inertia["tslearn"] = timed(1, tslearn_loop)
    one, floor = gemm_floor(X, fused.results_)
    rows["floor: float32 GEMMs of every Lloyd pass"] = floor
    print(f"one float32 GEMM, X against all {sum(k_range)} centers: {one:.4f} s")
    ours = "ksweep fused (whole fit: seeding, Lloyd, selection)"
    _report(rows, ours)
    if with_tslearn:
        tslearn_s = rows["tslearn TimeSeriesKMeans loop"]
        print(
            f"ksweep fused vs tslearn TimeSeriesKMeans loop: {tslearn_s / rows[ours]:.2f}x faster"
        )
    print(f"\n{'k':>3} " + " ".join(f"{name:>14}" for name in inertia))
    for i, k in enumerate(k_range):
        print(f"{k:>3} " + " ".join(f"{inertia[name][i]:>14.1f}" for name in inertia))
    for name in inertia:
        if name != "fused":
            ratio = np.asarray(inertia["fused"]) / np.asarray(inertia[name])
            print(
                f"fused / {name} inertia: geometric mean {np.exp(np.log(ratio).mean()):.4f}, "
                f"fused lower at {int((ratio <= 1).sum())} of {len(ratio)} k"
            )


def workload_b(n_rows: int) -> None:
    X, _ = mnist_like(n_rows)
    k_range = range(5, 16)
    print(f"\n(b) X: {X.shape} {X.dtype} (MNIST-like, standardized), k = 5..15, n_init=10")
    rows = {}

    def sklearn_loop():
        return [KMeans(n_clusters=k, n_init=10, random_state=k).fit(X).inertia_ for k in k_range]

    rows["scikit-learn KMeans(n_init=10) loop"], loop_inertia = timed(1, sklearn_loop)

    def sweep():
        return KSweep(
            KMeans(),
            k_range=k_range,
            n_init=10,
            engine="fused",
            executor="processes",
            n_jobs=2,
            selection="two_segment",
            random_state=0,
        ).fit(X)

    KSweep(KMeans(), k_range=[5, 6, 7], n_init=2, executor="processes", n_jobs=2).fit(X[:500])
    rows["ksweep fused, 2 processes (warm pool)"], fused = timed(1, sweep)
    one, floor = gemm_floor(X, fused.results_)
    rows["floor: float32 GEMMs of every Lloyd pass"] = floor
    print(f"one float32 GEMM, X against all {sum(k_range) * 10} centers: {one:.4f} s")
    print(f"Lloyd iterations per run: mean {fused.results_['restart_n_iter'].mean():.1f}")
    _report(rows, "ksweep fused, 2 processes (warm pool)")
    ratio = fused.results_["inertia"] / np.asarray(loop_inertia)
    print(f"\n{'k':>3} {'sklearn':>14} {'fused':>14} {'fused/sklearn':>14}")
    for i, k in enumerate(k_range):
        ours = fused.results_["inertia"][i]
        print(f"{k:>3} {loop_inertia[i]:>14.1f} {ours:>14.1f} {ratio[i]:>14.5f}")
    print(f"chosen k (two-segment): {fused.best_k_}")


def _report(rows: dict, ours: str) -> None:
    base = next(iter(rows.values()))
    print(f"{'variant':<56} {'wall s':>8} {'speed-up vs first row':>22}")
    for name, seconds in rows.items():
        print(f"{name:<56} {seconds:>8.3f} {base / seconds:>21.2f}x")
    print(f"ksweep fused vs {next(iter(rows))}: {base / rows[ours]:.2f}x faster")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-tslearn", action="store_true")
    parser.add_argument("--skip-mnist", action="store_true")
    parser.add_argument("--mnist-rows", type=int, default=60_000)
    args = parser.parse_args()
    start = time.perf_counter()
    kernels()  # numba compiles (or loads its cache) once per process
    kernels().exact_inertia(np.zeros((1, 1)), np.zeros((1, 1)), np.zeros(1, np.int32))
    print(f"kernel load/compile: {time.perf_counter() - start:.2f} s (cached after the first run)")
    info = threadpool_info()
    pools = {(i["internal_api"], i.get("architecture"), i["num_threads"]) for i in info}
    print(f"native thread pools: {sorted(pools, key=str)}")
    workload_a(args.repeats, not args.skip_tslearn)
    if not args.skip_mnist:
        workload_b(args.mnist_rows)


if __name__ == "__main__":
    main()
