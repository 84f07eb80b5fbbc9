"""Compiled inner loops of the fused k-means engine (numba, compiled on first use, cached).

The matrix products stay in BLAS; these kernels do what follows a product:
per-run argmin, the center sums, the k-means++ potentials and the exact inertia, and
for the mini-batch stream (``_minibatch``) a step's sums and the held-back inertia.
The assignment kernel reads the products center by center, vectorized over rows.
"""

from __future__ import annotations

import threading
from types import SimpleNamespace

import numpy as np

_KERNELS: list[SimpleNamespace] = []
_BUILDING = threading.Lock()
#: The compiled ``_nearest_in_run`` (set by :func:`kernels`). A module global, not a
#: closure variable: numba keys its disk cache on a kernel's closure, and a closure
#: holding a compiled function differs in every process (the kernel would never load).
nearest_in_run = None


def _nearest_in_run(G, half_sq, first, last, best, arg):
    """One run's nearest center for each column of ``G`` (rows of the data).

    Ranks centers ``first:last`` by ``half_sq - G`` (half the squared distance
    minus half the row's squared norm), reading G center by center so the
    compare runs down contiguous memory. ``arg`` gets the label (from 0),
    ``best`` the ranking value; the first center wins a tie.
    """
    n_rows = G.shape[1]
    h = half_sq[first]
    for i in range(n_rows):
        best[i] = h - G[first, i]
        arg[i] = 0
    for j in range(first + 1, last):
        h = half_sq[j]
        label = j - first
        for i in range(n_rows):
            value = h - G[j, i]
            if value < best[i]:
                best[i] = value
                arg[i] = label


def numba_available() -> bool:
    """Whether numba can be imported (the fused engine needs it)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def kernels() -> SimpleNamespace:
    """The compiled kernels, built once per process (numba caches them on disk)."""
    if _KERNELS:
        return _KERNELS[0]
    with _BUILDING:  # one thread builds them (the background load of ``_preload``)
        if not _KERNELS:
            _build()
    return _KERNELS[0]


def _build() -> None:
    global nearest_in_run
    try:
        import numba
    except ImportError as exc:
        raise ImportError(
            "The fused k-means engine needs numba: pip install 'ksweep[fast]' "
            "(or pass engine='independent')."
        ) from exc
    jit = numba.njit(cache=True, nogil=True, fastmath=False)
    nearest_in_run = jit(_nearest_in_run)

    @jit
    def assign_accumulate(
        X, G, half_sq, offsets, sums, counts, previous, labels, changes, inertia, x_sq
    ):
        """Per run: nearest center of each row; the centers' sums and counts follow the moves.

        ``G`` is ``centers @ X.T`` for the rows of ``X`` (one row of G per center,
        so each run's argmin runs down contiguous rows, vectorized over the data
        rows); ``half_sq`` is half the squared norm of each center, so
        ``half_sq - G`` ranks centers like the squared distance. ``labels[i, r]``
        gets the label of row i within run r. ``sums``/``counts`` hold each
        center's sum and count of the rows labelled ``previous`` (-1: no label
        yet): only rows whose label changes touch them, so late iterations, where
        few rows move, cost little beyond the product. ``changes[r]`` counts the
        rows that moved, ``inertia[r]`` adds up the squared distances.
        """
        n_rows, n_features = X.shape
        n_runs = offsets.shape[0] - 1
        best = np.empty(n_rows, dtype=G.dtype)
        arg = np.empty(n_rows, dtype=np.int32)
        for r in range(n_runs):
            first = offsets[r]
            nearest_in_run(G, half_sq, first, offsets[r + 1], best, arg)
            total = 0.0
            moved = 0
            for i in range(n_rows):
                total += x_sq[i] + 2.0 * best[i]
                label = arg[i]
                labels[i, r] = label
                before = previous[i, r]
                if before == label:
                    continue
                moved += 1
                new_j = first + label
                counts[new_j] += 1
                for f in range(n_features):
                    sums[new_j, f] += X[i, f]
                if before >= 0:
                    old_j = first + before
                    counts[old_j] -= 1
                    for f in range(n_features):
                        sums[old_j, f] -= X[i, f]
            inertia[r] += total
            changes[r] += moved

    @jit
    def minibatch_sums(X, G, half_sq, offsets, sums, counts):
        """Per run: each row's nearest center gets the row added to its sum and count.

        The assignment of a mini-batch step (``G`` as for ``assign_accumulate``;
        no labels are kept): ``sums`` (float64) and ``counts`` add up each
        center's rows, one run after another, rows in order.
        """
        n_rows, n_features = X.shape
        best = np.empty(n_rows, dtype=G.dtype)
        arg = np.empty(n_rows, dtype=np.int32)
        for r in range(offsets.shape[0] - 1):
            first = offsets[r]
            nearest_in_run(G, half_sq, first, offsets[r + 1], best, arg)
            for i in range(n_rows):
                j = first + arg[i]
                counts[j] += 1
                for f in range(n_features):
                    sums[j, f] += X[i, f]

    @numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
    def trial_potentials(G, x_sq, cand_sq, closest, cand_run, potentials):
        """k-means++: add, for each candidate, the rows' min(closest, distance to it).

        ``G`` is ``candidates @ X.T`` for a block of rows; ``closest[r]`` holds
        run r's squared distance of each of those rows to its nearest chosen center.
        Reassociating the sum lets it be vectorized (no NaN/inf assumptions are made).
        """
        n_cand, n_rows = G.shape
        for t in range(n_cand):
            r = cand_run[t]
            total = 0.0
            for i in range(n_rows):
                d = x_sq[i] + cand_sq[t] - 2.0 * G[t, i]
                if d < 0.0:
                    d = 0.0
                c = closest[r, i]
                total += d if d < c else c
            potentials[t] += total

    @jit
    def draw_candidates(closest, active, uniforms, starts, out):
        """k-means++ draws: for run ``active[p]``, the rows where the running sum of
        ``closest`` first reaches ``uniforms[starts[p]:starts[p + 1]]`` × its total
        (``numpy.searchsorted`` on the float64 cumulative sum, without building it)."""
        n = closest.shape[1]
        for p in range(active.shape[0]):
            r = active[p]
            total = 0.0
            for i in range(n):
                total += closest[r, i]
            first = starts[p]
            order = np.argsort(uniforms[first : starts[p + 1]])
            running = 0.0
            i = 0
            for q in range(order.shape[0]):
                target = uniforms[first + order[q]] * total
                while i < n and running + closest[r, i] < target:
                    running += closest[r, i]
                    i += 1
                out[first + order[q]] = min(i, n - 1)

    @jit
    def lower_closest(G, x_sq, center_sq, closest, runs):
        """k-means++: ``closest[runs[t]] = min(closest, distance to new center t)``."""
        n_new, n_rows = G.shape
        for t in range(n_new):
            r = runs[t]
            for i in range(n_rows):
                d = x_sq[i] + center_sq[t] - 2.0 * G[t, i]
                if d < 0.0:
                    d = 0.0
                if d < closest[r, i]:
                    closest[r, i] = d

    @numba.njit(cache=True, nogil=True, fastmath=True)
    def exact_inertia(X, centers, labels):
        """Sum of squared Euclidean distances of the rows to their centers, in float64.

        fastmath lets each row's sum be vectorized (its order is then the compiler's).
        """
        total = 0.0
        for i in range(X.shape[0]):
            c = labels[i]
            for f in range(X.shape[1]):
                diff = float(X[i, f]) - float(centers[c, f])
                total += diff * diff
        return total

    @numba.njit(cache=True, nogil=True, fastmath=True)
    def nearest_inertia(X, G, half_sq, offsets, centers, totals):
        """Per run: add to ``totals[r]`` the squared distances of the rows to their nearest
        center (ranked as ``nearest_in_run`` does), computed exactly, in float64.

        ``centers`` holds every run's centers, stacked as in ``offsets``; fastmath
        lets each row's sum be vectorized (as in ``exact_inertia``).
        """
        n_rows, n_features = X.shape
        best = np.empty(n_rows, dtype=G.dtype)
        arg = np.empty(n_rows, dtype=np.int32)
        for r in range(offsets.shape[0] - 1):
            first = offsets[r]
            nearest_in_run(G, half_sq, first, offsets[r + 1], best, arg)
            total = 0.0
            for i in range(n_rows):
                c = first + arg[i]
                for f in range(n_features):
                    diff = float(X[i, f]) - float(centers[c, f])
                    total += diff * diff
            totals[r] += total

    _KERNELS.append(
        SimpleNamespace(
            assign_accumulate=assign_accumulate,
            minibatch_sums=minibatch_sums,
            nearest_inertia=nearest_inertia,
            trial_potentials=trial_potentials,
            draw_candidates=draw_candidates,
            lower_closest=lower_closest,
            exact_inertia=exact_inertia,
        )
    )
