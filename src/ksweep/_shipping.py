"""Getting X to the workers once, not once per task.

For worker processes on this machine, X is written once to memory-mapped
``.npy`` files (in ``/dev/shm`` where it has room, so in RAM; else on disk) and each task
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


#: Free space ``/dev/shm`` must keep after X is written there, else X goes to a folder on
#: disk: a full ``/dev/shm`` (docker's default is 64 MiB) fails writes, or the memory of
#: other programs that use it.
SHM_HEADROOM = 1 << 30
SHM = "/dev/shm"


def shm_free_bytes() -> int | None:
    """Free bytes in ``/dev/shm``, or None where it is missing or not writeable."""
    if not (os.path.isdir(SHM) and os.access(SHM, os.W_OK)):
        return None
    try:
        return shutil.disk_usage(SHM).free
    except OSError:
        return None


def nbytes_of(X: Any) -> int:
    """Bytes written for X: a dense array's buffer, a sparse matrix's three arrays."""
    if sparse.issparse(X):
        X = sparse.csr_matrix(X)
        return int(sum(getattr(X, name).nbytes for name in _SPARSE_PARTS))
    return int(np.asarray(X).nbytes)


def mapped_root(nbytes: int) -> str | None:
    """Where X's folder goes: ``/dev/shm`` (in RAM) when it has room for ``nbytes`` and
    :data:`SHM_HEADROOM` to spare, else the temporary folder on disk (None)."""
    free = shm_free_bytes()
    return SHM if free is not None and free >= nbytes + SHM_HEADROOM else None


def write_mapped(X: Any) -> MappedData:
    """Write X once to ``.npy`` files for memory mapping; the caller removes the folder.

    The folder is in ``/dev/shm`` when it has room (:func:`mapped_root`), else in the
    temporary folder on disk (``tempfile.gettempdir()``); a write that fails in
    ``/dev/shm`` (it filled up meanwhile) is retried on disk. The folder is registered
    with loky's resource tracker, which deletes it when this process and the workers
    that inherited the tracker are gone (SIGTERM, SIGKILL; see :mod:`ksweep._parent_watch`).
    """
    root = mapped_root(nbytes_of(X))
    try:
        return _write_in(X, root)
    except OSError:
        if root is None:
            raise
        return _write_in(X, None)


def _write_in(X: Any, root: str | None) -> MappedData:
    folder = tempfile.mkdtemp(prefix="ksweep-", dir=root)
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
