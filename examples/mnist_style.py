"""Workload 2: the MNIST workflow on data that ships offline (scikit-learn's digits).

Standardize, sweep KMeans over k = 5..15 with 10 restarts per k as separate processes, keep the
best of n_init, choose k by the two-segment R² elbow, and cross-tabulate the clusters of the
chosen model against the true labels. Pass a path to an MNIST ``.npz`` (arrays ``x`` and ``y``,
e.g. from ``keras.datasets.mnist``) to run it on MNIST itself (60,000 × 784).

Run:  python examples/mnist_style.py [mnist.npz]
Set KSWEEP_EXAMPLE_QUICK=1 for a reduced run (3 restarts per k), as the tests do.
"""

import os
import sys

import numpy as np
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from ksweep import KSweep


def load():
    if len(sys.argv) > 1:
        data = np.load(sys.argv[1])
        return data["x"].reshape(len(data["x"]), -1).astype(np.float32), data["y"]
    digits = load_digits()
    return digits.data, digits.target


def main():
    quick = os.environ.get("KSWEEP_EXAMPLE_QUICK") == "1"
    X, y = load()
    X = StandardScaler().fit_transform(X)
    sweep = KSweep(
        k_range=range(5, 16),
        n_init=3 if quick else 10,
        executor="processes",
        selection="two_segment",
        random_state=0,
    ).fit(X)
    print(f"data: {X.shape}; restarts per k: {sweep.results_.n_restarts}")
    print(sweep.results_.to_text(marked_k=sweep.best_k_))
    print(sweep.elbow_.reason)
    print(f"chosen k = {sweep.best_k_}")
    labels = sweep.labels_
    classes = np.unique(y)
    print("\ncluster x true label")
    print("      " + " ".join(f"{c:>4}" for c in classes))
    for cluster in range(sweep.best_k_):
        counts = [int(np.sum((labels == cluster) & (y == c))) for c in classes]
        print(f"{cluster:>4}  " + " ".join(f"{n:>4}" for n in counts))


if __name__ == "__main__":
    main()
