"""Getting X to the workers once, not once per task.

For worker processes on this machine, X is written once to memory-mapped
``.npy`` files (in ``/dev/shm`` where it exists, so in RAM) and each task
carries only a small :class:`MappedData` handle; each task maps the files
copy-on-write, so no task sees another's writes. Dask workers receive X
once through ``Client.scatter``. In-process executors use X as it is.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

_SPARSE_PARTS = ("data", "indices", "indptr")


@dataclass(frozen=True)
class MappedData:
    """A picklable reference to X stored as memory-mapped ``.npy`` files.

    Attributes
    ----------
    folder : str
        Directory holding the files.
    sparse_shape : tuple of int or None
        Shape of a CSR matrix stored as its three arrays; None for a dense array.
    """

    folder: str
    sparse_shape: tuple[int, int] | None = None

    def load(self) -> Any:
        """X, memory-mapped afresh for this task.

        Copy-on-write: pages stay shared between workers, an estimator whose
        compiled code wants a writeable buffer (scikit-learn-extra's KMedoids)
        gets one, and whatever a task writes stays private to that task: the
        next task maps the file again (a system call; the pages are already in
        memory). Nothing is cached, so a worker holds X only while a task runs.
        """
        if self.sparse_shape is None:
            return np.load(os.path.join(self.folder, "X.npy"), mmap_mode="c")
        parts = [
            np.load(os.path.join(self.folder, f"{name}.npy"), mmap_mode="c")
            for name in _SPARSE_PARTS
        ]
        return sparse.csr_matrix(tuple(parts), shape=self.sparse_shape, copy=False)


def _shm_root() -> str | None:
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def write_mapped(X: Any) -> MappedData:
    """Write X once to ``.npy`` files for memory mapping; the caller removes the folder.

    The folder is registered with loky's resource tracker, which deletes it if
    this process dies before removing it (SIGTERM, SIGKILL).
    """
    folder = tempfile.mkdtemp(prefix="ksweep-", dir=_shm_root())
    _tracker().register(folder, "folder")
    try:
        if sparse.issparse(X):
            X = sparse.csr_matrix(X)
            for name in _SPARSE_PARTS:
                np.save(os.path.join(folder, f"{name}.npy"), getattr(X, name))
            return MappedData(folder, tuple(X.shape))
        np.save(os.path.join(folder, "X.npy"), np.ascontiguousarray(X))
        return MappedData(folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        _tracker().unregister(folder, "folder")
        raise


def remove_mapped(handle: MappedData) -> None:
    """Delete the files; workers that still map them keep their pages until they let go."""
    shutil.rmtree(handle.folder, ignore_errors=True)
    _tracker().unregister(handle.folder, "folder")


class _NoTracker:
    """Where loky's resource tracker cannot be imported: folders are removed by ksweep only."""

    @staticmethod
    def register(name: str, rtype: str) -> None:
        pass

    @staticmethod
    def unregister(name: str, rtype: str) -> None:
        pass


def _tracker():
    """loky's resource tracker (a joblib internal), or a stand-in that tracks nothing."""
    try:
        from joblib.externals.loky.backend import resource_tracker
    except ImportError:  # pragma: no cover - a joblib that moved it
        return _NoTracker
    return resource_tracker


def resolve_data(data: Any) -> Any:
    """The X a task works on, from whatever handle it was given."""
    return data.load() if isinstance(data, MappedData) else data
