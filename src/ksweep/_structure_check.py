"""The default selection's no-structure test, run on a capped sample on every path.

:func:`ksweep.structure.no_structure` needs ``log W_1`` and ``log W_2`` of the data
and of B reference data sets drawn uniformly in the data's bounding box. Here:

- the **bounding box** comes from the whole data (one pass: in memory, on the
  dask workers, in Spark) or, for a stream, from its held-back reservoir;
- the **data** enter as a uniform sample of at most :data:`STRUCTURE_ROWS` rows,
  and each **reference** has as many rows as that sample. Data and references
  of one size share the small-sample bias of a 2-means fit (the best split of m
  rows beats the split of the population by a margin that grows as m shrinks),
  so the test reads the same on a sample as on the whole data, and costs
  ``(B + 1)`` tiny 2-means fits whatever the size of X;
- ``W_1`` is the total sum of squares (no fit) and ``W_2`` the best of
  :data:`STARTS` k-means++-seeded Lloyd runs (numpy: the seeding batched over
  the B + 1 data sets, then each set's starts side by side, set after set), so
  the test does not depend on the sweep's engine or estimator (a k-medoids
  sweep's inertia is not a sum of squares).

Seeds come from the sweep's entropy under :data:`~ksweep._seeding.STRUCTURE_KEY`.
"""

from __future__ import annotations

import numpy as np

from ksweep._seeding import STRUCTURE_KEY, spawn
from ksweep._threads import capped_threads
from ksweep.structure import StructureTest, no_structure

#: The most data rows the test reads, and the rows of each reference data set.
STRUCTURE_ROWS = 1000
#: Reference data sets B.
STRUCTURE_REFERENCES = 10
#: k-means++ starts per 2-means fit (the best is kept).
STARTS = 3
#: Lloyd iterations at most per start.
MAX_ITER = 30


def _two_means(sets: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The best 2-means inertia of each of the centered data sets ``sets`` (shape (S, m, d)).

    :data:`STARTS` k-means++ starts per set run side by side: each Lloyd iteration is
    one product of a set with its starts' split directions (float32; a row goes
    to the second center when ``x · (c1 - c0)`` exceeds ``(|c1|² - |c0|²) / 2``),
    set after set (:func:`_lloyd_splits`).
    The inertia of each final split is computed in float64; the best start is kept.
    """
    n_sets, m, _ = sets.shape
    rows = np.arange(n_sets)[:, np.newaxis]
    fast = sets.astype(np.float32)
    sq = np.einsum("smd,smd->sm", sets, sets)
    firsts, picks = [], []
    for _ in range(STARTS):  # k-means++: a first center, then one drawn by D² weight
        first = sets[rows[:, 0], rng.integers(m, size=n_sets)]
        d0 = np.maximum(
            sq - 2.0 * np.matmul(sets, first[:, :, None])[..., 0] + (first**2).sum(1)[:, None], 0
        )
        weight = d0.sum(axis=1, keepdims=True)
        prob = np.where(weight > 0, d0 / np.where(weight > 0, weight, 1.0), 1.0 / m)
        picks.append((prob.cumsum(axis=1) < rng.random((n_sets, 1))).sum(axis=1).clip(0, m - 1))
        firsts.append(first)
    c0 = np.stack(firsts, axis=1).astype(np.float32)  # (S, STARTS, d)
    c1 = fast[rows, np.stack(picks, axis=1)]
    side = np.empty((n_sets, m, STARTS), dtype=bool)
    for s in range(n_sets):  # one set at a time: its rows stay in cache, and it stops alone
        side[s] = _lloyd_splits(fast[s], c0[s], c1[s])
    # the within-cluster sum of squares of each final split, in float64
    weights = np.ascontiguousarray(side.transpose(0, 2, 1), dtype=np.float64)
    n1 = weights.sum(axis=2)
    sum1 = np.matmul(weights, sets)
    rest = sets.sum(axis=1)[:, np.newaxis] - sum1
    w = (
        sq.sum(axis=1)[:, np.newaxis]
        - (rest**2).sum(axis=2) / np.maximum(m - n1, 1)
        - (sum1**2).sum(axis=2) / np.maximum(n1, 1)
    )
    return np.maximum(w, 0.0).min(axis=1)


def _lloyd_splits(fast: np.ndarray, c0: np.ndarray, c1: np.ndarray) -> np.ndarray:
    """Lloyd's 2-means of one data set (float32, shape (m, d)) from :data:`STARTS` pairs of
    centers side by side; returns each row's side of each final split, shape (m, STARTS).

    At most :data:`MAX_ITER` iterations; it stops when no row of any start changes side
    (a split that stopped earlier is a fixed point: it stays as it is).
    """
    m = fast.shape[0]
    total = fast.sum(axis=0)
    side = None
    for _ in range(MAX_ITER):
        threshold = ((c1**2).sum(axis=1) - (c0**2).sum(axis=1)) / 2
        direction = np.ascontiguousarray((c1 - c0).T)  # (d, STARTS)
        new = np.matmul(fast, direction) > threshold  # (m, STARTS)
        if side is not None and np.array_equal(new, side):
            break
        side = new
        weights = np.ascontiguousarray(side.T, dtype=np.float32)
        n1 = weights.sum(axis=1)[:, np.newaxis]
        sum1 = np.matmul(weights, fast)  # (STARTS, d)
        n0 = m - n1
        c0 = np.where(n0 > 0, (total - sum1) / np.maximum(n0, 1), c0)
        c1 = np.where(n1 > 0, sum1 / np.maximum(n1, 1), c1)
    return side


def check_structure(
    sample: np.ndarray, low: np.ndarray, high: np.ndarray, entropy: int
) -> StructureTest | str:
    """Run the no-structure test on a sample of the data and its bounding box.

    Parameters
    ----------
    sample : ndarray of shape (m, n_features)
        Rows of the data (capped at :data:`STRUCTURE_ROWS` here, uniformly).
    low, high : ndarray of shape (n_features,)
        The data's bounding box.
    entropy : int
        The sweep's root entropy.

    Returns
    -------
    StructureTest or str
        The test, or why it could not run (a one-line reason).
    """
    rng = np.random.default_rng(spawn(entropy, STRUCTURE_KEY))
    if sample.shape[0] > STRUCTURE_ROWS:
        sample = sample[np.sort(rng.choice(sample.shape[0], STRUCTURE_ROWS, replace=False))]
    sample = np.asarray(sample, dtype=np.float64)
    m = sample.shape[0]
    if m < 4:
        return f"no-structure test not run: {m} rows are too few"
    low, high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
    sets = np.empty((STRUCTURE_REFERENCES + 1, m, sample.shape[1]))
    sets[0] = sample
    refs = sets[1:]  # uniform in the bounding box
    rng.random(out=refs)
    refs *= high - low
    refs += low
    sets -= sets.mean(axis=1, keepdims=True)
    w1 = np.einsum("smd,smd->s", sets, sets)
    if w1[0] <= 0:
        why = "no structure: every row is the same"
        return StructureTest(True, np.zeros(2), 0.0, 1.0, STRUCTURE_REFERENCES, why)
    with capped_threads(1):  # small products: one BLAS thread is faster
        w2 = _two_means(sets, rng)
    if not (np.all(w1 > 0) and np.all(w2 > 0)):
        return "no-structure test not run: a 2-means fit of the sample left no spread"
    log_w = np.log(np.stack([w1, w2]))
    return no_structure(log_w[:, 0], log_w[:, 1:])


def dense_rows(X) -> tuple[np.ndarray, np.ndarray, np.ndarray] | str:
    """``(X, low, high)`` for a dense 2-D numeric array in memory, else why not."""
    if not isinstance(X, np.ndarray) or X.ndim != 2 or X.dtype.kind not in "iuf":
        kind = "sparse" if hasattr(X, "tocsr") else f"{getattr(X, 'ndim', '?')}-D"
        return f"no-structure test not run: it needs dense 2-D rows (X is {kind})"
    return X, X.min(axis=0), X.max(axis=0)


def structure_for(selection, runner, entropy: int) -> StructureTest | str | None:
    """The no-structure test of a sweep whose ``selection`` is ``"auto"`` (else None)."""
    if not (isinstance(selection, str) and selection == "auto"):
        return None
    # a runner that selects again and again (a stream, after every batch) names when
    # its rows changed enough to test again; until then its last test stands
    key = getattr(runner, "structure_key", lambda: None)()
    memo = getattr(runner, "structure_memo", None)
    if key is not None and memo is not None and memo[0] == key:
        return memo[1]
    got = runner.structure_rows()
    result = got if isinstance(got, str) else check_structure(*got, entropy)
    if key is not None:
        runner.structure_memo = (key, result)
    return result
