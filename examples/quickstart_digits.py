"""Quick start: choose the number of clusters of scikit-learn's handwritten digits.

Sweeps KMeans over k = 2..15 with 10 restarts per k on the standardized digits
(1,797 images of 8×8 pixels, shipped with scikit-learn), prints the table per k
and the k each elbow detector chooses.

Run:  python examples/quickstart_digits.py
Set KSWEEP_EXAMPLE_QUICK=1 for a reduced run (2 restarts per k), as the tests do.
"""

import os
import time

from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from ksweep import KSweep, two_segment

quick = os.environ.get("KSWEEP_EXAMPLE_QUICK") == "1"
X = StandardScaler().fit_transform(load_digits().data)

start = time.perf_counter()
sweep = KSweep(k_range=range(2, 16), n_init=2 if quick else 10, random_state=0).fit(X)
elapsed = time.perf_counter() - start

print(
    f"digits: {X.shape[0]} samples × {X.shape[1]} features, "
    f"{sweep.results_.n_restarts} restarts per k, {elapsed:.1f} s"
)
print(sweep.results_.to_text(marked_k=sweep.best_k_))
print(f"kneedle on log inertia: {sweep.elbow_.reason}")
split = two_segment(sweep.results_["k"], sweep.results_["inertia"])
print(f"two-segment on inertia: {split.reason}")
print(f"chosen k = {sweep.best_k_}")
