"""Rows in blocks and work split across threads: the shared plumbing of the fused engines.

A product of a block of rows with every center stays within :data:`BLOCK_BYTES`;
:class:`Split` runs a compiled kernel on disjoint slices in threads, each slice
computed exactly as it would be alone, so the thread count never changes a bit.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import numpy as np

#: Upper bound on the bytes of one block of distances (rows × Σk of the group).
BLOCK_BYTES = 32 * 2**20


def block_rows(n_samples: int, total_k: int, itemsize: int) -> int:
    """Rows per block so that a block of distances stays within :data:`BLOCK_BYTES`."""
    return int(min(n_samples, max(256, BLOCK_BYTES // max(1, total_k * itemsize))))


def row_blocks(n_samples: int, rows: int):
    """``(start, stop)`` of consecutive blocks of ``rows`` rows (the last may be shorter)."""
    for start in range(0, n_samples, rows):
        yield start, min(n_samples, start + rows)


class Split:
    """Run a kernel on disjoint slices of its runs in threads (the kernels release the GIL).

    Each slice is computed exactly as it would be alone, so the thread count never
    changes a result.
    """

    def __init__(self, threads: int):
        self._start(threads)

    def _start(self, threads: int) -> None:
        self.threads = max(1, int(threads))
        self.pool = ThreadPoolExecutor(self.threads - 1) if self.threads > 1 else None

    def ranges(self, weights) -> list[tuple[int, int]]:
        """Up to ``threads`` contiguous index ranges of about equal total weight."""
        cumulative = np.cumsum(weights, dtype=np.float64)
        if cumulative.size == 0:
            return []
        cuts = np.searchsorted(
            cumulative, cumulative[-1] * np.arange(1, self.threads) / self.threads
        )
        bounds = np.unique(
            np.concatenate([[0], cuts + 1, [cumulative.size]]).clip(0, cumulative.size)
        )
        return [(int(a), int(b)) for a, b in itertools.pairwise(bounds) if b > a]

    def each(self, weights, call) -> None:
        """``call(start, stop)`` for every range, side by side."""
        parts = self.ranges(weights)
        if self.pool is None or len(parts) < 2:
            for start, stop in parts:
                call(start, stop)
            return
        futures = [self.pool.submit(call, start, stop) for start, stop in parts[1:]]
        call(*parts[0])
        for future in futures:
            future.result()

    def resize(self, threads: int) -> None:
        """Use ``threads`` threads from the next call on (results do not change)."""
        if max(1, int(threads)) != self.threads:
            self.close()
            self._start(threads)

    def close(self, wait: bool = True) -> None:
        """Stop the threads (``wait=False``: let them finish on their own)."""
        if self.pool is not None:
            self.pool.shutdown(wait=wait)


__all__ = ["BLOCK_BYTES", "Split", "block_rows", "row_blocks"]
