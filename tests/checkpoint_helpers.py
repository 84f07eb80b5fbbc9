"""An estimator that logs each fit, shared by the checkpoint tests and their subprocesses.

The log file and an optional delay per fit come from the environment
(``KSWEEP_TEST_FIT_LOG``, ``KSWEEP_TEST_FIT_DELAY``), not from parameters, so
that they do not change the sweep's identity in a checkpoint.
"""

import os
import time

from sklearn.cluster import KMeans


class LoggedKMeans(KMeans):
    """KMeans that appends ``k seed`` to the log file on every fit."""

    def fit(self, X, y=None, sample_weight=None):
        time.sleep(float(os.environ.get("KSWEEP_TEST_FIT_DELAY", "0")))
        with open(os.environ["KSWEEP_TEST_FIT_LOG"], "a", encoding="utf-8") as handle:
            handle.write(f"{self.n_clusters} {self.random_state}\n")
        return super().fit(X, y, sample_weight)


def logged_fits(path) -> list[tuple[int, int]]:
    """The (k, seed) of every logged fit, in order."""
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as handle:
        return [tuple(int(v) for v in line.split()) for line in handle if line.strip()]
