"""DTW sweep: precomputed-DTW k-medoids through ksweep vs a tslearn DTW k-means loop.

Data: tslearn's cached Trace dataset (train + test: 200 series of length 275, 4 classes),
as a user loads it (``--step 2`` keeps every 2nd time step, length 138). Peer: the loop
users write, ``TimeSeriesKMeans(metric="dtw")`` per k, one restart each. ksweep: the DTW
matrix is computed once (``ksweep.distances.dtw_distance_matrix``, timed on the serial
executor, with the cores it kept busy: CPU seconds / wall seconds, and on the process
executor, whose fresh workers each compile tslearn's DTW first), then
``KSweep(kmedoids.KMedoids(metric="precomputed"))`` fits every k from it.

Both objectives are reported on one scale, the sum of squared DTW distances from each
series to its cluster's representative (DBA barycenter for k-means, medoid for k-medoids),
with the adjusted Rand index against the true classes at k = 4 and the k each sweep's
elbow (kneedle on log inertia, KSweep's default) picks.

Run:  python benchmarks/timeseries.py            # the figures in docs/guide.md (minutes)
      python benchmarks/timeseries.py --quick    # 40 series, k = 2..6 (seconds)
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from kmedoids import KMedoids
from sklearn.metrics import adjusted_rand_score
from tslearn.clustering import TimeSeriesKMeans
from tslearn.datasets import CachedDatasets
from tslearn.metrics import cdist_dtw

from ksweep import KSweep
from ksweep.distances import dtw_distance_matrix
from ksweep.elbow import kneedle


def _timed_matrix(X, executor: str, n_jobs: int | None) -> tuple[np.ndarray, float, float]:
    """The DTW matrix, its wall seconds and the cores this process kept busy on average
    (NaN for worker processes: their CPU time is not visible from here)."""
    cpu, start = time.process_time(), time.perf_counter()
    D = dtw_distance_matrix(X, executor=executor, n_jobs=n_jobs, block_size=25)
    wall = time.perf_counter() - start
    busy = (time.process_time() - cpu) / wall if executor == "serial" else float("nan")
    return D, wall, busy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-iter", type=int, default=10, help="DTW k-means iterations")
    parser.add_argument("--step", type=int, default=1, help="keep every step-th time step")
    parser.add_argument("--n-jobs", type=int, default=None, help="workers of 'processes'")
    parser.add_argument("--quick", action="store_true", help="40 series, k = 2..6")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    X_train, y_train, X_test, y_test = CachedDatasets().load_dataset("Trace")
    X = np.concatenate([X_train, X_test])[:, :: args.step, :]
    y = np.concatenate([y_train, y_test])
    k_range = range(2, 7) if args.quick else range(2, 11)
    if args.quick:
        X, y = X[:40], y[:40]
    print(f"X: {X.shape} (n_series, length, n_dims), k = {k_range.start}..{k_range.stop - 1}")
    cdist_dtw(X[:2])  # compile numba's DTW before timing

    start = time.perf_counter()
    loop = {
        k: TimeSeriesKMeans(
            n_clusters=k, metric="dtw", max_iter=args.max_iter, n_init=1, random_state=0
        ).fit(X)
        for k in k_range
    }
    loop_time = time.perf_counter() - start

    D, serial_time, serial_cores = _timed_matrix(X, "serial", None)
    D_proc, proc_time, proc_cores = _timed_matrix(X, "processes", args.n_jobs)
    assert np.allclose(D, D_proc)
    sweep = KSweep(KMedoids(2, metric="precomputed", method="fasterpam"), k_range=k_range)
    sweep.set_params(n_init=5, random_state=0)
    start = time.perf_counter()
    sweep.fit(D)
    sweep_time = time.perf_counter() - start

    print(f"\n{'k':>3} {'TSK-DTW sum sq. DTW':>20} {'k-medoids sum sq. DTW':>22}")
    for k in k_range:
        tsk = loop[k].inertia_ * X.shape[0]
        model = sweep.estimators_[k]
        medoids = np.asarray(model.medoid_indices_)
        kmed = float((D[np.arange(len(D)), medoids[model.labels_]] ** 2).sum())
        print(f"{k:>3} {tsk:>20.1f} {kmed:>22.1f}")

    ks = np.array(list(k_range))
    ari_tsk = adjusted_rand_score(y, loop[4].labels_)
    ari_kmed = adjusted_rand_score(y, sweep.estimators_[4].labels_)
    tsk_elbow = kneedle(ks, np.log([loop[k].inertia_ for k in k_range])).k
    print(f"\nARI vs true classes at k=4: TSK-DTW {ari_tsk:.3f}, k-medoids {ari_kmed:.3f}")
    print(f"elbow (kneedle): TSK-DTW loop k={tsk_elbow}, ksweep k-medoids k={sweep.best_k_}")
    best = min(serial_time, proc_time)
    total = best + sweep_time
    print(
        f"\n{'variant':<58} {'wall s':>8} {'busy cores':>10}\n"
        f"{'tslearn TimeSeriesKMeans(metric=dtw) loop, 1 restart/k':<58} {loop_time:>8.2f}\n"
        f"{'ksweep: DTW matrix once, executor=serial':<58} {serial_time:>8.2f} "
        f"{serial_cores:>10.2f}\n"
        f"{'ksweep: DTW matrix once, executor=processes':<58} {proc_time:>8.2f} "
        f"{proc_cores:>10.2f}\n"
        f"{'ksweep: k-medoids sweep on it, 5 restarts/k':<58} {sweep_time:>8.2f}\n"
        f"{'ksweep total (faster matrix + sweep)':<58} {total:>8.2f}   "
        f"({loop_time / total:.1f}x faster than the loop)"
    )


if __name__ == "__main__":
    main()
