"""Choosing k for the handwritten digits with evidence: every criterion side by side, and a plot.

Sweeps KMeans over k = 2..15 on scikit-learn's standardized digits, computes the silhouette,
Calinski-Harabasz, Davies-Bouldin and gap statistics for the best model per k, prints what each
method would choose, and saves the elbow plot with one panel per criterion.

Run:  python examples/digits_evidence.py [output.png]
Set KSWEEP_EXAMPLE_QUICK=1 for a reduced run (2 restarts, 3 gap references), as the tests do.
"""

import os
import sys

import matplotlib

matplotlib.use("Agg")

from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from ksweep import KSweep

quick = os.environ.get("KSWEEP_EXAMPLE_QUICK") == "1"
output = sys.argv[1] if len(sys.argv) > 1 else "digits_sweep.png"
X = StandardScaler().fit_transform(load_digits().data)

sweep = KSweep(
    k_range=range(2, 16),
    n_init=2 if quick else 10,
    random_state=0,
    executor="processes",
    scoring=("silhouette", "calinski_harabasz", "davies_bouldin", "gap"),
    gap_references=3 if quick else 10,
    gap_reference="pca",
).fit(X)

print(sweep.results_.to_text(marked_k=sweep.best_k_))
print()
print(sweep.summary())
print(f"\nchosen k = {sweep.best_k_} ({sweep.elbow_.method})")
figure = sweep.plot()
figure.set_size_inches(7, 10)
figure.savefig(output, dpi=100, bbox_inches="tight")
print(f"plot written to {output}")
