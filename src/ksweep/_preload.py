"""Load the compiled kernels in the background as soon as ksweep is imported.

The fused engine's kernels are compiled once per machine and cached on disk, but
every new process still pays for importing numba and loading them (about 1 s on
two cores, most of a first sweep of 11,346 × 100 rows). :func:`start` does that
work in a daemon thread while the caller goes on (builds its data, reads a file),
so a notebook's first ``fit`` finds the kernels ready; a ``fit`` that comes sooner
waits only for what is left. It runs a tiny fused fit in float32 and float64,
which loads every kernel a dense sweep uses.

- ``KSWEEP_PRELOAD=0`` in the environment turns it off.
- Nothing it does can fail a user's call: any error is left for the real call to
  raise (without numba, the engine reports how to install it).
- A ``fork`` waits for it first (``os.register_at_fork``), so a forked child never
  inherits a lock held by a thread that does not exist there.
"""

from __future__ import annotations

import os
import threading

_THREAD: list[threading.Thread] = []


def start() -> None:
    """Start the background load once per process (unless ``KSWEEP_PRELOAD=0``)."""
    if _THREAD or os.environ.get("KSWEEP_PRELOAD", "1").strip() == "0":
        return
    thread = threading.Thread(target=_load, name="ksweep-preload", daemon=True)
    _THREAD.append(thread)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(before=wait)
    thread.start()


def wait() -> None:
    """Block until the background load has finished (no-op when none runs)."""
    if _THREAD and _THREAD[0] is not threading.current_thread() and _THREAD[0].is_alive():
        _THREAD[0].join()


def _load() -> None:
    try:
        import numpy as np

        from ksweep._fused import fused_lloyd
        from ksweep._kernels import numba_available

        if not numba_available():
            return
        X = np.random.default_rng(0).normal(size=(48, 3))
        for dtype in (np.float32, np.float64):
            fused_lloyd(X.astype(dtype), [2, 3], [0, 0], max_iter=3, tol=1e-4, chains=[0, 0])
    except Exception:  # the real call reports any failure
        pass


__all__ = ["start", "wait"]
