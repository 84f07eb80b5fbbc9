"""How often each elbow detector finds the true k on Gaussian blobs, by score scale.

Justifies KSweep's ``elbow_scale="auto"`` (log scale for kneedle). For every blob
configuration (true K in 2..8, 2 or 10 features, 4 seeds, k starting at 1 or 2, up to 12),
the best-of-3 KMeans inertia per k is computed once, then each detector is run on the
linear and on the log inertia. Linear-scale kneedle is what kneed and yellowbrick's
KElbowVisualizer apply to the distortion curve.

Run:  python benchmarks/elbow_accuracy.py
"""

import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs

from ksweep.elbow import kneedle, two_segment

METHODS = {
    "kneedle, linear inertia (kneed/yellowbrick)": lambda k, s: kneedle(k, s).k,
    "kneedle, log inertia (ksweep default)": lambda k, s: kneedle(k, np.log(s)).k,
    "two_segment, linear inertia": lambda k, s: two_segment(k, s).k,
    "two_segment, log inertia": lambda k, s: two_segment(k, np.log(s)).k,
}


def main() -> None:
    hits = dict.fromkeys(METHODS, 0)
    cases = 0
    for true_k in (2, 3, 4, 5, 6, 8):
        for n_features in (2, 10):
            for seed in range(4):
                X, _ = make_blobs(
                    n_samples=400,
                    centers=true_k,
                    n_features=n_features,
                    center_box=(-10, 10),
                    random_state=seed,
                )
                k_all = np.arange(1, 13)
                inertia = np.array(
                    [KMeans(k, n_init=3, random_state=0).fit(X).inertia_ for k in k_all]
                )
                for start in (1, 2):
                    if true_k <= start:
                        continue
                    k, s = k_all[k_all >= start], inertia[k_all >= start]
                    cases += 1
                    for name, method in METHODS.items():
                        hits[name] += method(k, s) == true_k
    base = hits["kneedle, linear inertia (kneed/yellowbrick)"]
    print(f"{cases} blob sweeps; true k found:")
    for name, count in hits.items():
        print(f"  {name:<45} {count:>3}/{cases}  ({count / base:.2f}x the linear kneedle)")


if __name__ == "__main__":
    main()
