"""Greedy k-means++ for many runs at once: every run's candidates share one product per step.

scikit-learn's greedy k-means++ draws ``2 + int(log k)`` candidates per center, each
with probability proportional to its squared distance to the nearest center chosen
so far, and keeps the one that lowers the potential most. Here all runs advance in
lockstep: one step stacks every run's candidates into one product per block of
rows and one compiled kernel scores them.

Nested seeding (``chains``): the runs of a sweep's restart (one per k) can share one
sequence, each taking its first k centers: the seeding of a restart then costs one
k-means++ to its largest k instead of one per k (on k = 3..49, 49 centers instead of
1,222). A prefix of a k-means++ sequence is itself a k-means++ draw; the candidates
per center (:func:`nested_trials`) depend on the center's number only, so a run's
start depends on its chain seed and its k, never on the other k of the sweep.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from ksweep._blocks import Split, block_rows, row_blocks
from ksweep._kernels import kernels


def _potentials_part(kern, G, x_sq, cand_sq, closest, cand_run, potentials, a, b) -> None:
    kern.trial_potentials(G[a:b], x_sq, cand_sq[a:b], closest, cand_run[a:b], potentials[a:b])


def _lower_part(kern, G, x_sq, center_sq, closest, run_of, a, b) -> None:
    kern.lower_closest(G[a:b], x_sq, center_sq[a:b], closest, run_of[a:b])


#: Greedy candidates for center number c of a nested k-means++ chain: ``2 + int(log c)``
#: (scikit-learn's count for k = c), and never fewer than for c = 150 (7). Independent of
#: the largest k, so a chain's first k centers are the same whatever k it runs to. An
#: early center serves every k of its restart, so it is chosen greedily: on the seed-000
#: workload (k = 3..49, max_iter=10, six seeds) the inertia per k was 0.989 of a
#: scikit-learn loop's (geometric mean) with this floor and 0.994 with a floor of 10.
NESTED_MIN_TRIALS_CENTER = 150


def nested_trials(center: int) -> int:
    """Greedy k-means++ candidates drawn for center number ``center`` (1-based) of a chain."""
    return 2 + int(np.log(max(center, NESTED_MIN_TRIALS_CENTER)))


@dataclass
class _Chain:
    """One k-means++ sequence: ``k`` centers drawn from ``rng``; ``fixed_trials`` candidates
    for every center (a run's own sequence), else :func:`nested_trials` of its number."""

    k: int
    rng: Any
    fixed_trials: int | None = None
    chosen: list = field(default_factory=list)

    def trials(self, center: int) -> int:
        """Candidates drawn for center number ``center`` (1-based)."""
        return self.fixed_trials if self.fixed_trials is not None else nested_trials(center)


def _chains_of(runs: list, chains: list[int] | None) -> tuple[list[_Chain], list[int]]:
    """The k-means++ sequences to draw and the sequence each run takes its first k from.

    Without ``chains`` every run draws its own sequence from its seed, with
    scikit-learn's ``2 + int(log k)`` candidates at every step. With ``chains``, runs
    with the same chain seed share one nested sequence drawn to their largest k.
    """
    if chains is None:
        own = [_Chain(run.k, run._rng, fixed_trials=2 + int(np.log(run.k))) for run in runs]
        return own, list(range(len(runs)))
    order: dict[int, int] = {}
    for chain in chains:
        order.setdefault(int(chain), len(order))
    largest = dict.fromkeys(order, 0)
    for run, chain in zip(runs, chains, strict=True):
        largest[int(chain)] = max(largest[int(chain)], run.k)
    drawn = [_Chain(largest[c], np.random.default_rng(c)) for c in order]
    return drawn, [order[int(chain)] for chain in chains]


def seed_kmeans_plusplus(
    X, x_sq, runs: list, rows: int, split: Split, chains: list[int] | None = None
) -> None:
    """Greedy k-means++ for every run, in lockstep: one product per step for all candidates.

    ``chains`` (one seed per run, optional): runs with the same chain seed start from
    the first k centers of one shared k-means++ sequence (nested seeding: the draws
    of a restart serve every k at once). Sets ``run.init_centers`` (rows of the
    centered ``X``).
    """
    kern = kernels()
    n = X.shape[0]
    seqs, seq_of_run = _chains_of(runs, chains)
    # a step's products have one row per candidate, far fewer than Σk: larger blocks
    rows = max(rows, block_rows(n, sum(seq.trials(seq.k) for seq in seqs), X.dtype.itemsize))
    for seq in seqs:
        seq.chosen.append(int(seq.rng.integers(n)))
    closest = np.full((len(seqs), n), np.inf, dtype=X.dtype)
    _lower(kern, X, x_sq, closest, [s.chosen[0] for s in seqs], list(range(len(seqs))), rows, split)
    for step in range(1, max(seq.k for seq in seqs)):
        active = [s for s, seq in enumerate(seqs) if seq.k > step]
        trials = [seqs[s].trials(step + 1) for s in active]
        uniforms = np.concatenate(
            [seqs[s].rng.uniform(size=t) for s, t in zip(active, trials, strict=True)]
        )
        starts = np.zeros(len(active) + 1, dtype=np.intp)
        starts[1:] = np.cumsum(trials)
        cand_idx = np.empty(len(uniforms), dtype=np.intp)
        kern.draw_candidates(closest, np.asarray(active, dtype=np.intp), uniforms, starts, cand_idx)
        cand_run_arr = np.repeat(np.asarray(active, dtype=np.intp), trials)
        potentials = np.zeros(len(cand_idx), dtype=np.float64)
        centers = X[cand_idx]
        cand_sq = x_sq[cand_idx]
        for start, stop in row_blocks(n, rows):
            G = centers @ X[start:stop].T
            block_sq, block_closest = x_sq[start:stop], _columns(closest, start, stop)
            split.each(
                np.ones(len(cand_idx)),
                partial(
                    _potentials_part,
                    kern,
                    G,
                    block_sq,
                    cand_sq,
                    block_closest,
                    cand_run_arr,
                    potentials,
                ),
            )
        new_idx, new_pos = [], []
        for s, first, stop in zip(active, starts[:-1], starts[1:], strict=True):
            best = int(first) + int(np.argmin(potentials[first:stop]))
            new_idx.append(int(cand_idx[best]))
            new_pos.append(best)
            seqs[s].chosen.append(int(cand_idx[best]))
        if rows >= n:  # one block: the chosen candidates' distances are in G already
            picked_G = np.ascontiguousarray(G[new_pos])
            run_arr = np.asarray(active, dtype=np.intp)
            split.each(
                np.ones(len(new_pos)),
                partial(_lower_part, kern, picked_G, x_sq, cand_sq[new_pos], closest, run_arr),
            )
        else:
            _lower(kern, X, x_sq, closest, new_idx, active, rows, split)
    for run, s in zip(runs, seq_of_run, strict=True):
        run.init_centers = X[np.asarray(seqs[s].chosen[: run.k], dtype=np.intp)].copy()


def _lower(kern, X, x_sq, closest, idx: list[int], run_of: list[int], rows: int, split) -> None:
    """Lower each run's closest distances by its new center (one new center per run)."""
    idx_arr = np.asarray(idx, dtype=np.intp)
    run_arr = np.asarray(run_of, dtype=np.intp)
    centers = X[idx_arr]
    center_sq = x_sq[idx_arr]
    for start, stop in row_blocks(X.shape[0], rows):
        G = centers @ X[start:stop].T
        block_sq, block_closest = x_sq[start:stop], _columns(closest, start, stop)
        split.each(
            np.ones(len(idx)),
            partial(_lower_part, kern, G, block_sq, center_sq, block_closest, run_arr),
        )


def _columns(array: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Columns ``start:stop``; the array itself when that is all of it (contiguous rows
    let the compiled loops vectorize)."""
    return array if start == 0 and stop == array.shape[1] else array[:, start:stop]


__all__ = ["NESTED_MIN_TRIALS_CENTER", "nested_trials", "seed_kmeans_plusplus"]
