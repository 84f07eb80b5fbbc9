"""Seeds of a sweep: one root entropy, and a named ``SeedSequence`` spawn key per use.

Every random draw of a sweep comes from ``SeedSequence(entropy, spawn_key=key)``
with one of the keys below, fixed before any task runs, so a seed depends on
nothing but the entropy and its key: not on the k range, the executor or the
order tasks run in. The key values are part of ksweep's results (changing one
changes every result that reads it), so they are written down here, once.

- ``(k, restart)``: the task of restart ``restart`` of ``k`` (:func:`task_key`);
- ``(k, restart, b)``: its fit on the gap statistic's reference data set ``b``
  (:func:`reference_key`, ``b >= 1``);
- :data:`GAP_REFERENCES_KEY` ``(0,)``: drawing the gap statistic's reference data sets;
- :data:`SAMPLE_KEY` ``(1,)``: the rows a dask-array sweep samples to seed its runs;
- :data:`HOLDOUT_KEY` ``(1,)``: the held-back rows of a ``partial_fit`` stream (a stream
  never samples for seeding, so the two never meet);
- :data:`STRUCTURE_KEY` ``(2,)``: the rows and reference data sets of the default
  selection's no-structure test (:mod:`ksweep._structure_check`);
- ``(*STABILITY_KEY, 0)`` and ``(*STABILITY_KEY, 1, b)``: the rows of the resamples of
  ``KSweep(stability=B)`` and the root seed of resample b's sweep (:mod:`ksweep._resampling`);
- ``(j,)`` under a run's own seed: the j-th k-means++ draw of that run on a dask
  array's sample (:func:`draw_seed`);
- ``(*CHAIN_KEY, restart, b)``: the nested k-means++ sequence that every k of
  ``restart`` on data set ``b`` (0 is X) starts from on the fused engine
  (:func:`chain_key`; a child of ``(0,)`` no reference draw reaches).
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Spawn key of the gap statistic's reference data sets.
GAP_REFERENCES_KEY = (0,)
#: Spawn key of the rows a dask-array sweep samples to seed its runs.
SAMPLE_KEY = (1,)
#: Spawn key of the held-back rows of a ``partial_fit`` stream.
HOLDOUT_KEY = (1,)
#: Spawn key of the no-structure test's sample and reference data sets.
STRUCTURE_KEY = (2,)
#: Prefix of the spawn keys of ``stability`` resamples (no k reaches it).
STABILITY_KEY = (2**32 - 2,)
#: Prefix of the spawn keys of the fused engine's nested k-means++ sequences.
CHAIN_KEY = (0, 2**32 - 1)


def seed_entropy(random_state: Any) -> int:
    """The root entropy of a sweep's seeds from a scikit-learn style ``random_state``.

    Examples
    --------
    >>> seed_entropy(7)
    7
    """
    if random_state is None:
        return int(np.random.SeedSequence().entropy)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**63))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    return int(random_state)


def spawn(entropy: int, key: tuple[int, ...]) -> np.random.SeedSequence:
    """The ``SeedSequence`` of one named use of a sweep's entropy."""
    return np.random.SeedSequence(entropy, spawn_key=key)


def seed_of(entropy: int, key: tuple[int, ...]) -> int:
    """The 32-bit seed of ``key`` under ``entropy``."""
    return int(spawn(entropy, key).generate_state(1)[0])


def task_key(k: int, restart: int) -> tuple[int, int]:
    """The spawn key (and task key) of restart ``restart`` of ``k``."""
    return (int(k), int(restart))


def reference_key(k: int, restart: int, reference: int) -> tuple[int, int, int]:
    """The spawn key of the fit of ``(k, restart)`` on gap reference data set ``reference``."""
    return (int(k), int(restart), int(reference))


def task_seeds(entropy: int, k_values: np.ndarray, n_restarts: int) -> np.ndarray:
    """One 32-bit seed per (k, restart), shape ``(n_k, n_restarts)``.

    The seed of ``(k, restart)`` comes from ``SeedSequence(entropy,
    spawn_key=(k, restart))``: it depends on nothing else, so a task gets the
    same seed whatever the k range, the executor or the order tasks run in.

    Examples
    --------
    >>> task_seeds(0, [2, 3], 2).shape
    (2, 2)
    >>> int(task_seeds(0, [3], 1)[0, 0]) == int(task_seeds(0, [2, 3], 1)[1, 0])
    True
    """
    return np.array(
        [[seed_of(entropy, task_key(k, r)) for r in range(n_restarts)] for k in k_values],
        dtype=np.int64,
    )


def chain_key(restart: int, dataset: int = 0) -> tuple[int, ...]:
    """The spawn key of restart ``restart``'s nested k-means++ sequence on data set ``dataset``."""
    return (*CHAIN_KEY, int(restart), int(dataset))


def draw_seed(run_seed: int, draw: int) -> int:
    """The seed of the ``draw``-th k-means++ draw of a run seeded ``run_seed`` (dask arrays)."""
    return seed_of(run_seed, (draw,))


def criteria_seed(entropy: int) -> int:
    """The seed of the criteria's samples (the silhouette's), a 32-bit value."""
    return entropy % 2**32
