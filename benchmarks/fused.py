"""What a new user gets from KSweep's defaults, against per-k loops, side by side in one run.

(a) seed-000 workload: 11,346 synthetic profiles × 100 samples (float32), k = 3..49,
    max_iter=10, one restart: ``KSweep(KMeans(max_iter=10), k_range=range(3, 50),
    n_init=1)`` with every other parameter at its default, first as the first fit in a
    fresh process (kernel loading and thread start-up included), then warm; against a
    scikit-learn KMeans loop and a tslearn TimeSeriesKMeans(metric="euclidean") loop;
    inertia per k side by side (tslearn's mean inertia × n_samples, so all are sums).
    Tuned rows after: the same sweep on executor="processes" and on a 2-worker dask Client.
(b) seed-001 workload: standardized MNIST-like data (scikit-learn's digits upsampled to
    28 × 28, shifted and noised), k = 5..15: 60,000 × 784 with n_init=10 and 20,000 × 784
    with n_init=3; KSweep defaults (fresh process) vs the scikit-learn loop
    (KMeans(n_clusters=k, n_init=n_init) per k), then executor="processes".
(c) the floor: one float32 GEMM of X against every center of the sweep, per Lloyd pass.

The loops use the libraries' default threads (every core). The first row of each table is
the default configuration; ratios are against the scikit-learn loop of the same run.

Run:  python benchmarks/fused.py [--repeats 3] [--skip-tslearn] [--skip-mnist] [--quick]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from executors import seismic_like_profiles
from fresh import first_fit
from scipy import ndimage
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info

from ksweep import KSweep


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


def _dask_client():
    import distributed

    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    return cluster, distributed.Client(cluster)


def workload_a(repeats: int, with_tslearn: bool, with_dask: bool) -> None:
    X = seismic_like_profiles()
    k_range = range(3, 50)
    print(f"\n(a) X: {X.shape} {X.dtype}, k = 3..49, max_iter=10, one restart")
    rows, inertia = {}, {}
    default = "KSweep defaults: first fit in a fresh process"
    record = first_fit(
        "from executors import seismic_like_profiles; X = seismic_like_profiles()",
        "KSweep(KMeans(max_iter=10), k_range=range(3, 50), n_init=1, random_state=0).fit(X)",
    )
    rows[default] = record["seconds"]
    print(
        f"fresh process: importing ksweep and scikit-learn {record['import_s']:.2f} s, building X "
        f"{record['data_s']:.2f} s, first fit {record['seconds']:.2f} s (numba and the kernels "
        f"load in the background from the import on), engine {record['engine']}"
    )

    def sklearn_loop():
        return [
            KMeans(n_clusters=k, n_init=1, max_iter=10, random_state=k).fit(X).inertia_
            for k in k_range
        ]

    rows["scikit-learn KMeans loop"], inertia["sklearn"] = timed(repeats, sklearn_loop)

    def sweep(**tuned):
        return KSweep(KMeans(max_iter=10), k_range=k_range, n_init=1, random_state=0, **tuned)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one restart: NonMonotonicWarning is expected
        rows["KSweep defaults, warm (second fit on)"], fused = timed(
            repeats, lambda: sweep().fit(X)
        )
        inertia["ksweep"] = fused.results_["inertia"]
        np.testing.assert_array_equal(inertia["ksweep"], record["inertia"])
        rows["KSweep(selection='gap'), B=10 references, warm"], gapped = timed(
            1, lambda: sweep(selection="gap").fit(X)
        )
        print(f"gap statistic (B=10): chosen k {gapped.best_k_}")
        sweep(executor="processes").fit(X[:2000])  # start the pool
        rows["tuned: executor='processes' (warm pool)"], procs = timed(
            repeats, lambda: sweep(executor="processes").fit(X)
        )
        np.testing.assert_array_equal(procs.results_["inertia"], inertia["ksweep"])
        if with_dask:
            cluster, client = _dask_client()
            with cluster, client:
                sweep(executor=client).fit(X[:2000])  # warm the workers
                rows["tuned: a 2-worker dask Client"], on_dask = timed(
                    repeats, lambda: sweep(executor=client).fit(X)
                )
            np.testing.assert_array_equal(on_dask.results_["inertia"], inertia["ksweep"])
    print("inertia per k: identical in the fresh process, warm, on processes and on dask")
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
    _report(rows, "scikit-learn KMeans loop")
    gap_ratio = (
        rows["KSweep(selection='gap'), B=10 references, warm"]
        / rows["KSweep defaults, warm (second fit on)"]
    )
    print(f"gap statistic sweep / plain sweep: {gap_ratio:.2f}x the time")
    if with_tslearn:
        tslearn_s = rows["tslearn TimeSeriesKMeans loop"]
        print(
            f"KSweep defaults (fresh process) vs tslearn TimeSeriesKMeans loop: "
            f"{tslearn_s / rows[default]:.2f}x faster"
        )
    print(f"\n{'k':>3} " + " ".join(f"{name:>14}" for name in inertia))
    for i, k in enumerate(k_range):
        print(f"{k:>3} " + " ".join(f"{inertia[name][i]:>14.1f}" for name in inertia))
    for name in inertia:
        if name != "ksweep":
            ratio = np.asarray(inertia["ksweep"]) / np.asarray(inertia[name])
            print(
                f"ksweep / {name} inertia: geometric mean {np.exp(np.log(ratio).mean()):.4f}, "
                f"ksweep lower at {int((ratio <= 1).sum())} of {len(ratio)} k"
            )


def workload_b(n_rows: int, n_init: int) -> None:
    X, _ = mnist_like(n_rows)
    k_range = range(5, 16)
    print(f"\n(b) X: {X.shape} {X.dtype} (MNIST-like, standardized), k = 5..15, n_init={n_init}")
    rows = {}
    default = "KSweep defaults: first fit in a fresh process"
    record = first_fit(
        f"from fused import mnist_like; X, _ = mnist_like({n_rows})",
        f"KSweep(KMeans(), k_range=range(5, 16), n_init={n_init}, random_state=0).fit(X)",
    )
    rows[default] = record["seconds"]

    def sklearn_loop():
        return [
            KMeans(n_clusters=k, n_init=n_init, random_state=k).fit(X).inertia_ for k in k_range
        ]

    rows[f"scikit-learn KMeans(n_init={n_init}) loop"], loop_inertia = timed(1, sklearn_loop)

    def sweep(**tuned):
        return KSweep(KMeans(), k_range=k_range, n_init=n_init, random_state=0, **tuned).fit(X)

    KSweep(KMeans(), k_range=[5, 6, 7], n_init=2, executor="processes").fit(X[:500])
    rows["tuned: executor='processes' (warm pool)"], procs = timed(
        1, lambda: sweep(executor="processes")
    )
    np.testing.assert_array_equal(procs.results_["inertia"], record["inertia"])
    one, floor = gemm_floor(X, procs.results_)
    rows["floor: float32 GEMMs of every Lloyd pass"] = floor
    print(f"one float32 GEMM, X against all {sum(k_range) * n_init} centers: {one:.4f} s")
    print(f"Lloyd iterations per run: mean {procs.results_['restart_n_iter'].mean():.1f}")
    _report(rows, f"scikit-learn KMeans(n_init={n_init}) loop")
    ours = np.asarray(record["inertia"])
    ratio = ours / np.asarray(loop_inertia)
    print(f"\n{'k':>3} {'sklearn':>14} {'ksweep':>14} {'ksweep/sklearn':>15}")
    for i, k in enumerate(k_range):
        print(f"{k:>3} {loop_inertia[i]:>14.1f} {ours[i]:>14.1f} {ratio[i]:>15.5f}")
    print(
        f"geometric mean ksweep/sklearn {np.exp(np.log(ratio).mean()):.5f}; "
        f"chosen k (defaults): {record['best_k']}"
    )


def _report(rows: dict, base_name: str) -> None:
    base = rows[base_name]
    print(f"{'variant':<52} {'wall s':>8} {'vs ' + base_name:>36}")
    for name, seconds in rows.items():
        print(f"{name:<52} {seconds:>8.3f} {base / seconds:>35.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-tslearn", action="store_true")
    parser.add_argument("--skip-dask", action="store_true")
    parser.add_argument("--skip-mnist", action="store_true")
    parser.add_argument("--quick", action="store_true", help="one repeat, small (b) only")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    info = threadpool_info()
    pools = {(i["internal_api"], i.get("architecture"), i["num_threads"]) for i in info}
    print(f"native thread pools: {sorted(pools, key=str)}")
    workload_a(repeats, not args.skip_tslearn, not args.skip_dask)
    if not args.skip_mnist:
        if not args.quick:
            workload_b(60_000, 10)
        workload_b(20_000, 3)


if __name__ == "__main__":
    main()
