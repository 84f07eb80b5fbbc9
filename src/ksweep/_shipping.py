"""Getting X to the workers once, not once per task.

For worker processes on this machine, X is written once to memory-mapped
``.npy`` files (in ``/dev/shm`` where it exists, so in RAM) and each task
carries only a small :class:`MappedData` handle; a worker maps the files on
its first task and reuses the mapping after that. Dask workers receive X
once through ``Client.scatter``. In-process executors use X as it is.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
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
    token : str
        Unique id of this copy of X, the key of the workers' cache.
    sparse_shape : tuple of int or None
        Shape of a CSR matrix stored as its three arrays; None for a dense array.
    """

    folder: str
    token: str
    sparse_shape: tuple[int, int] | None = None

    def load(self) -> Any:
        """X, memory-mapped: one mapping per worker process, reused across tasks.

        Copy-on-write: pages stay shared between workers, and an estimator
        whose compiled code wants a writeable buffer (scikit-learn-extra's
        KMedoids) gets one; its writes stay private to its process.
        """
        cached = _WORKER_CACHE.get("token")
        if cached == self.token:
            return _WORKER_CACHE["data"]
        _WORKER_CACHE.clear()  # keep at most one X per worker: a reused pool must not grow
        if self.sparse_shape is None:
            data = np.load(os.path.join(self.folder, "X.npy"), mmap_mode="c")
        else:
            parts = [
                np.load(os.path.join(self.folder, f"{name}.npy"), mmap_mode="c")
                for name in _SPARSE_PARTS
            ]
            data = sparse.csr_matrix(tuple(parts), shape=self.sparse_shape, copy=False)
        _WORKER_CACHE.update(token=self.token, data=data)
        return data


#: Per-process cache of the last X a worker mapped.
_WORKER_CACHE: dict[str, Any] = {}


def _shm_root() -> str | None:
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def write_mapped(X: Any) -> MappedData:
    """Write X once to ``.npy`` files for memory mapping; the caller removes the folder."""
    folder = tempfile.mkdtemp(prefix="ksweep-", dir=_shm_root())
    try:
        if sparse.issparse(X):
            X = sparse.csr_matrix(X)
            for name in _SPARSE_PARTS:
                np.save(os.path.join(folder, f"{name}.npy"), getattr(X, name))
            return MappedData(folder, uuid.uuid4().hex, tuple(X.shape))
        np.save(os.path.join(folder, "X.npy"), np.ascontiguousarray(X))
        return MappedData(folder, uuid.uuid4().hex)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def remove_mapped(handle: MappedData) -> None:
    """Delete the files; workers that still map them keep their pages until they let go."""
    shutil.rmtree(handle.folder, ignore_errors=True)


def resolve_data(data: Any) -> Any:
    """The X a task works on, from whatever handle it was given."""
    return data.load() if isinstance(data, MappedData) else data
