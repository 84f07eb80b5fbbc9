"""Compiled inner loops of the fused k-means engine (numba, compiled on first use, cached).

The matrix products stay in BLAS; these kernels do what follows a product:
per-run argmin, the center sums, the k-means++ potentials and the exact inertia.
Each loops over a small block of rows for every run, so the block stays in cache
while the per-run sums are updated.
"""

from __future__ import annotations

from types import SimpleNamespace

_KERNELS: list[SimpleNamespace] = []

#: Rows handled together for every run by the assignment kernel (they stay in L1/L2).
_ROW_BLOCK = 64


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
    try:
        import numba
    except ImportError as exc:
        raise ImportError(
            "The fused k-means engine needs numba: pip install 'ksweep[fast]' "
            "(or pass engine='independent')."
        ) from exc
    jit = numba.njit(cache=True, nogil=True, fastmath=False)

    @jit
    def assign_accumulate(
        X, G, half_sq, offsets, sums, counts, previous, labels, changes, inertia, x_sq
    ):
        """Per run: nearest center of each row; the centers' sums and counts follow the moves.

        ``G`` is ``X @ centers.T`` for the rows of ``X``; ``half_sq`` is half the
        squared norm of each center, so ``half_sq - G`` ranks centers like the
        squared distance. ``labels[i, r]`` gets the label of row i within run r.
        ``sums``/``counts`` hold each center's sum and count of the rows labelled
        ``previous`` (-1: no label yet): only rows whose label changes touch them,
        so late iterations, where few rows move, cost little beyond the product.
        ``changes[r]`` counts the rows that moved, ``inertia[r]`` adds up the
        squared distances.
        """
        n_rows, n_features = X.shape
        n_runs = offsets.shape[0] - 1
        for start in range(0, n_rows, _ROW_BLOCK):
            stop = min(n_rows, start + _ROW_BLOCK)
            for r in range(n_runs):
                first = offsets[r]
                last = offsets[r + 1]
                total = 0.0
                moved = 0
                for i in range(start, stop):
                    best = half_sq[first] - G[i, first]
                    best_j = first
                    for j in range(first + 1, last):
                        value = half_sq[j] - G[i, j]
                        if value < best:
                            best = value
                            best_j = j
                    total += x_sq[i] + 2.0 * best
                    label = best_j - first
                    labels[i, r] = label
                    before = previous[i, r]
                    if before == label:
                        continue
                    moved += 1
                    counts[best_j] += 1
                    for f in range(n_features):
                        sums[best_j, f] += X[i, f]
                    if before >= 0:
                        old_j = first + before
                        counts[old_j] -= 1
                        for f in range(n_features):
                            sums[old_j, f] -= X[i, f]
                inertia[r] += total
                changes[r] += moved

    @jit
    def trial_potentials(G, x_sq, cand_sq, closest, cand_run, potentials):
        """k-means++: add, for each candidate, the rows' min(closest, distance to it).

        ``G`` is ``candidates @ X.T`` for a block of rows; ``closest[r]`` holds
        run r's squared distance of each of those rows to its nearest chosen center.
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

    _KERNELS.append(
        SimpleNamespace(
            assign_accumulate=assign_accumulate,
            trial_potentials=trial_potentials,
            lower_closest=lower_closest,
            exact_inertia=exact_inertia,
        )
    )
    return _KERNELS[0]
