"""DTW sweep, k = 2..10: precomputed-DTW k-medoids through ksweep vs a tslearn DTW k-means loop.

Data: tslearn's cached Trace dataset (train + test: 200 series, 4 classes), every 2nd time
step (length 138). Peer: the loop users write, ``TimeSeriesKMeans(metric="dtw")`` per k.
ksweep: the DTW matrix is computed once (``ksweep.distances.dtw_distance_matrix``), then
``KSweep(kmedoids.KMedoids(metric="precomputed"))`` fits every k from it.

Both objectives are reported on one scale, the sum of squared DTW distances from each series
to its cluster's representative (DBA barycenter for k-means, medoid for k-medoids), with the
adjusted Rand index against the true classes at k = 4 and the k each sweep's elbow picks.

Run:  python benchmarks/timeseries.py [--max-iter 10]
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

K_RANGE = range(2, 11)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-iter", type=int, default=10, help="DTW k-means iterations")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    X_train, y_train, X_test, y_test = CachedDatasets().load_dataset("Trace")
    X = np.concatenate([X_train, X_test])[:, ::2, :]
    y = np.concatenate([y_train, y_test])
    print(f"X: {X.shape}, k = {K_RANGE.start}..{K_RANGE.stop - 1}")
    cdist_dtw(X[:2])  # compile numba's DTW before timing

    start = time.perf_counter()
    loop = {
        k: TimeSeriesKMeans(
            n_clusters=k, metric="dtw", max_iter=args.max_iter, n_init=1, random_state=0
        ).fit(X)
        for k in K_RANGE
    }
    loop_time = time.perf_counter() - start

    start = time.perf_counter()
    # serial: tslearn's compiled DTW already spreads over the cores, and fresh worker
    # processes would each compile it first (~5 s)
    D = dtw_distance_matrix(X, block_size=25)
    matrix_time = time.perf_counter() - start
    sweep = KSweep(KMedoids(2, metric="precomputed", method="fasterpam"), k_range=K_RANGE)
    sweep.set_params(n_init=5, random_state=0)
    start = time.perf_counter()
    sweep.fit(D)
    sweep_time = time.perf_counter() - start

    print(f"\n{'k':>3} {'TSK-DTW sum sq. DTW':>20} {'k-medoids sum sq. DTW':>22}")
    for k in K_RANGE:
        tsk = loop[k].inertia_ * X.shape[0]
        model = sweep.estimators_[k]
        medoids = np.asarray(model.medoid_indices_)
        kmed = float((D[np.arange(len(D)), medoids[model.labels_]] ** 2).sum())
        print(f"{k:>3} {tsk:>20.1f} {kmed:>22.1f}")

    ari_tsk = adjusted_rand_score(y, loop[4].labels_)
    ari_kmed = adjusted_rand_score(y, sweep.estimators_[4].labels_)
    tsk_elbow = KSweep(TimeSeriesKMeans(metric="dtw"), k_range=K_RANGE)._select(
        np.array(list(K_RANGE)), np.array([loop[k].inertia_ for k in K_RANGE])
    )[1]
    print(f"\nARI vs true classes at k=4: TSK-DTW {ari_tsk:.3f}, k-medoids {ari_kmed:.3f}")
    print(f"elbow (kneedle): TSK-DTW loop k={tsk_elbow}, ksweep k-medoids k={sweep.best_k_}")
    total = matrix_time + sweep_time
    print(
        f"\n{'variant':<58} {'wall s':>8}\n"
        f"{'tslearn TimeSeriesKMeans(metric=dtw) loop, 1 restart/k':<58} {loop_time:>8.2f}\n"
        f"{'ksweep: DTW matrix once (serial executor)':<58} {matrix_time:>8.2f}\n"
        f"{'ksweep: k-medoids sweep on it, 5 restarts/k':<58} {sweep_time:>8.2f}\n"
        f"{'ksweep total':<58} {total:>8.2f}   ({loop_time / total:.1f}x faster)"
    )


if __name__ == "__main__":
    main()
