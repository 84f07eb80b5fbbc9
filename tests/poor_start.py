"""Six blobs, and a k = 6 fit started in a poor local optimum (the repair's tests)."""

from __future__ import annotations

import numpy as np

from ksweep._seeding import seed_of, task_key

# two groups of three: a 3 x 2 grid of blobs fills its box evenly, and the no-structure
# test (k = 1 and 2 only) calls that structureless (a documented limit)
CENTERS = np.array([[0, 0], [6, 0], [3, 5], [20, 0], [26, 0], [23, 5]], dtype=float)
#: Initial centers for k = 6 that end in a poor optimum: two in blob 0, one between
#: blobs 4 and 5.
POOR_SIX = np.array([[-0.3, 0.0], [0.3, 0.0], [6, 0], [3, 5], [20, 0], [24.5, 2.5]])


def six_blobs(n_per=60, seed=0):
    rng = np.random.default_rng(seed)
    return np.concatenate([c + 0.5 * rng.normal(size=(n_per, 2)) for c in CENTERS])


def seed_k6_restart0_poorly(monkeypatch, module, random_state=0):
    """Make ``module``'s sample seeding (``seed_from_sample``: dask arrays, fused Spark)
    start run (k=6, restart 0) of a sweep with ``random_state`` from ``POOR_SIX``."""
    poor_seed = seed_of(random_state, task_key(6, 0))
    original = module.seed_from_sample

    def seed(sample, ks, seeds, **kwargs):
        centers = original(sample, ks, seeds, **kwargs)
        for i, (k, run_seed) in enumerate(zip(ks, seeds, strict=True)):
            if k == 6 and run_seed == poor_seed:  # the sample is centered on X's mean
                centers[i] = (POOR_SIX - CENTERS.mean(axis=0)).astype(centers[i].dtype)
        return centers

    monkeypatch.setattr(module, "seed_from_sample", seed)
