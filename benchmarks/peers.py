"""ksweep against the tools people use today, side by side in one run.

Peers: a hand-written scikit-learn loop with kneed's KneeLocator, and yellowbrick's
KElbowVisualizer (distortion score, kneed-style locate_elbow). Each fits KMeans(n_init=10)
for every k. Reported: wall time, the ratio to the hand-written loop, and the chosen k, on
(1) blob data sets with a known k (6 configurations) and (2) scikit-learn's standardized
digits (10 classes, no clean elbow).

gap-statistic (gap-stat on PyPI) is not included: its releases failed to build here.

Run:  python benchmarks/peers.py
"""

from __future__ import annotations

import time
import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np
from kneed import KneeLocator
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits, make_blobs
from sklearn.preprocessing import StandardScaler
from yellowbrick.cluster import KElbowVisualizer

from ksweep import KSweep

K_RANGE = range(2, 16)


def hand_loop(X):
    inertia = [KMeans(k, n_init=10, random_state=0).fit(X).inertia_ for k in K_RANGE]
    knee = KneeLocator(list(K_RANGE), inertia, curve="convex", direction="decreasing").knee
    return None if knee is None else int(knee)


class ClustererKMeans(KMeans):
    """KMeans with the ``_estimator_type`` attribute yellowbrick 1.5 still checks for.

    scikit-learn 1.6 moved the estimator type into tags; without this, yellowbrick refuses
    KMeans as "not a clustering estimator".
    """

    _estimator_type = "clusterer"


def yellowbrick(X):
    visualizer = KElbowVisualizer(
        ClustererKMeans(n_init=10, random_state=0), k=(K_RANGE.start, K_RANGE.stop), timings=False
    )
    visualizer.fit(X)
    import matplotlib.pyplot as plt

    plt.close("all")
    value = visualizer.elbow_value_
    return None if value is None else int(value)


def ksweep(X, **kw):
    sweep = KSweep(k_range=K_RANGE, n_init=10, random_state=0, **kw).fit(X)
    return sweep.best_k_


def timed(func, *args, **kw):
    start = time.perf_counter()
    value = func(*args, **kw)
    return time.perf_counter() - start, value


def main() -> None:
    warnings.simplefilter("ignore")
    variants = {
        "hand loop + kneed": hand_loop,
        "yellowbrick KElbowVisualizer": yellowbrick,
        "ksweep serial (kneedle, log)": lambda X: ksweep(X),
        "ksweep processes n_jobs=2": lambda X: ksweep(X, executor="processes", n_jobs=2),
        "ksweep serial, gap statistic": lambda X: ksweep(X, selection="gap", gap_references=5),
    }
    ksweep(np.random.default_rng(0).normal(size=(200, 3)), executor="processes", n_jobs=2)

    datasets = []
    for true_k, seed in ((3, 0), (4, 1), (5, 2), (6, 3), (7, 4), (8, 5)):
        X, _ = make_blobs(5000, n_features=10, centers=true_k, cluster_std=1.5, random_state=seed)
        datasets.append((f"blobs k={true_k}", X, true_k))
    digits = load_digits()
    datasets.append(("digits (10 classes)", StandardScaler().fit_transform(digits.data), 10))

    totals = dict.fromkeys(variants, 0.0)
    hits = dict.fromkeys(variants, 0)
    print(f"{'data':<20} " + " ".join(f"{name[:22]:>24}" for name in variants))
    for label, X, true_k in datasets:
        cells = []
        for name, func in variants.items():
            seconds, k = timed(func, X)
            totals[name] += seconds
            hits[name] += (k == true_k) and label.startswith("blobs")
            cells.append(f"{'-' if k is None else k:>4} in {seconds:6.2f} s".rjust(24))
        print(f"{label:<20} " + " ".join(cells))
    base = totals["hand loop + kneed"]
    print(f"\n{'variant':<32} {'total s':>8} {'vs hand loop':>13} {'true k on blobs':>16}")
    for name in variants:
        print(f"{name:<32} {totals[name]:>8.2f} {base / totals[name]:>12.2f}x {hits[name]:>13}/6")


if __name__ == "__main__":
    main()
