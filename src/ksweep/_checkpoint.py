"""Checkpoints: every finished task on disk, so a crash or Ctrl-C costs nothing already done.

A checkpoint is a directory of plain JSON files:

- ``sweep.json``, the manifest: a format version, the fingerprint of X, the
  estimator's parameters and everything else that changes what a task computes
  (but not ``k_range`` or ``n_init``: a sweep can grow), and the seed entropy;
- ``task-k{k}-r{restart}.json`` (``-b{b}`` for gap references), one per finished
  task: its seed and scores, with a SHA-256 checksum of that content; a fused run's
  also its final centers (:func:`array_entry`: dtype, shape and base64 of the bytes);
- ``state-k{k}-r{restart}-{digest}.json``, one per fused group in flight (named after
  its first run), rewritten every second or so: where each of its unfinished runs stands
  between two passes (``ksweep._fused_state.LloydState``), so a resume goes on from
  there; removed when the group, or the sweep, is done.

Files are written to a temporary name (``.tmp-ksweep-*.json``), flushed,
fsynced (all but state files) and renamed, so a reader sees a whole file or none.
ksweep only ever deletes the files it writes: the manifest,
``task-k{k}-r{restart}[-b{b}].json``, ``state-k{k}-r{restart}[-b{b}]-{digest}.json`` and
its temporary files; any other file in the directory is left alone, and a ``sweep.json``
that is not a ksweep manifest is refused, never replaced. A task or state file that
is torn or fails its checksum is reported and ignored, never loaded (its task runs
again). No pickle is ever read: fitted models are not stored; the best restart of
each k is rebuilt from its stored centers (fused engine) or refitted from its seed.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import json
import os
import re
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from ksweep.exceptions import CheckpointMismatchError, CorruptCheckpointWarning

FORMAT_VERSION = 1
MANIFEST = "sweep.json"
#: The names of the files ksweep writes in a checkpoint directory (and may delete).
_OWNED = re.compile(
    r"(sweep\.json|task-k\d+-r\d+(-b\d+)?\.json|state-k\d+-r\d+(-b\d+)?-[0-9a-f]{8}\.json"
    r"|\.tmp-ksweep-.*\.json)"
)


def stable_name(value: Any) -> str:
    """``module.qualname`` of a function or class that a new process can import, or raise.

    The identity of a checkpoint must read the same in the process that resumes
    it, so a callable is named by where it lives, never by its ``repr`` (which holds
    a memory address). Lambdas, closures, ``functools.partial`` objects and callables
    that cannot be imported back by that name raise ``ValueError``.
    """
    module = getattr(value, "__module__", None)
    qualname = getattr(value, "__qualname__", None)
    name = f"{module}.{qualname}"
    found = None
    if isinstance(module, str) and isinstance(qualname, str) and "<" not in qualname:
        try:
            found = importlib.import_module(module)
            for part in qualname.split("."):
                found = getattr(found, part)
        except (ImportError, AttributeError):
            found = None
    if found is not value:
        raise ValueError(
            f"{value!r} cannot be named in a checkpoint: only functions and classes that a new "
            f"process can import by module and qualified name ({name}) can be, not lambdas, "
            "closures or partial objects. Define it at the top level of an importable module, "
            "or set checkpoint=None."
        )
    return name


def identity_value(value: Any, *, stable: bool) -> Any:
    """A JSON-ready description of a parameter value for a sweep's identity.

    Arrays are named by a digest of their values (``repr`` elides large ones);
    callables by :func:`stable_name` when ``stable``, else by ``repr``.
    """
    if isinstance(value, np.ndarray):
        return f"ndarray:{fingerprint_data(value)}"
    if callable(value) and not hasattr(value, "get_params"):
        return f"callable:{stable_name(value)}" if stable else repr(value)
    return repr(value)


def fingerprint_data(X: Any) -> str:
    """SHA-256 of X's values, shape and dtype (dense or sparse)."""
    digest = hashlib.sha256()
    if sparse.issparse(X):
        X = sparse.csr_matrix(X)
        parts = [X.data, X.indices, X.indptr]
        digest.update(f"csr{X.shape}".encode())
    else:
        parts = [np.ascontiguousarray(X)]
    for part in parts:
        digest.update(f"{part.dtype.str}{part.shape}".encode())
        digest.update(memoryview(part).cast("B"))
    return digest.hexdigest()


def _checksum(payload: Mapping) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _write_entry(path: Path, payload: Mapping, durable: bool = True) -> None:
    """Write ``payload`` with its checksum to ``path`` (atomically, see :func:`_write_atomic`)."""
    entry = {"payload": payload, "checksum": _checksum(payload)}
    _write_atomic(path, json.dumps(entry), durable=durable)


def _read_entry(path: Path) -> Any:
    """The payload :func:`_write_entry` wrote to ``path``; ValueError where its checksum
    fails (and OSError, ValueError, KeyError or TypeError where it cannot be read)."""
    entry = json.loads(path.read_text(encoding="utf-8"))
    payload = entry["payload"]
    if entry.get("checksum") != _checksum(payload):
        raise ValueError(f"{path.name}: checksum")
    return payload


def _write_atomic(path: Path, text: str, durable: bool = True) -> None:
    """Write ``text`` to a temporary file and rename it to ``path``: a reader sees the
    whole file or none. ``durable``: fsync the file and the directory first, so it
    also outlives a power cut (a process kill never loses what it wrote)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-ksweep-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if not durable:
        return
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


#: The dtypes :func:`entry_array` reads back (centers, sums, counts).
_ARRAY_DTYPES = ("<f4", "<f8", "<i8")


def array_entry(array: np.ndarray) -> dict:
    """A float array as JSON, exactly: its dtype, shape and the base64 of its bytes."""
    array = np.ascontiguousarray(array, dtype=np.dtype(array.dtype).newbyteorder("<"))
    return {
        "dtype": array.dtype.str,
        "shape": list(array.shape),
        "base64": base64.b64encode(array.tobytes()).decode("ascii"),
    }


def entry_array(entry: Any) -> np.ndarray | None:
    """The array of an :func:`array_entry`, or None when it is not a well-formed one."""
    try:
        dtype, shape = np.dtype(entry["dtype"]), [int(size) for size in entry["shape"]]
        if dtype.str not in _ARRAY_DTYPES:
            return None
        return np.frombuffer(base64.b64decode(entry["base64"], validate=True), dtype).reshape(shape)
    except (KeyError, TypeError, ValueError):
        return None


def task_payload(key: tuple[int, ...], seed: int, record: Any) -> dict:
    """The numbers of a finished task (no fitted model), as stored and as reused; a
    fused run's final centers too (``"centered"``, see :func:`array_entry`)."""
    payload = {
        "key": list(key),
        "seed": int(seed),
        "inertia": float(record.inertia),
        "raw_inertia": float(record.raw_inertia),
        "n_iter": int(record.n_iter),
        "fit_time": float(record.fit_time),
        "extras": {name: float(value) for name, value in record.extras.items()},
    }
    if getattr(record, "centered", None) is not None:
        payload["centered"] = array_entry(record.centered)
    return payload


def task_filename(key: tuple[int, ...]) -> str:
    """``task-k5-r2.json`` for (5, 2); ``task-k5-r2-b3.json`` for gap reference b=3."""
    names = ("k", "r", "b")
    return "task-" + "-".join(f"{n}{v}" for n, v in zip(names, key, strict=False)) + ".json"


def state_filename(group: list[tuple[int, ...]]) -> str:
    """``state-k29-r0-1a2b3c4d.json``: the state file of a fused group of runs, named
    after its first run and a digest of all of them (another group never replaces it)."""
    digest = hashlib.sha256(json.dumps([list(key) for key in group]).encode()).hexdigest()
    first = task_filename(group[0])[len("task-") : -len(".json")]
    return f"state-{first}-{digest[:8]}.json"


class Checkpoint:
    """A checkpoint directory bound to one sweep's identity.

    Parameters
    ----------
    path : str or Path
        The directory; created if missing.
    identity : dict
        JSON-serializable description of what the tasks compute (X's fingerprint,
        estimator parameters, ...). An existing checkpoint with another identity
        is refused unless ``overwrite``.
    overwrite : bool
        Discard an existing checkpoint whose identity differs.
    """

    def __init__(self, path, identity: dict, *, overwrite: bool = False):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        manifest = self.path / MANIFEST
        self.identity = identity
        if manifest.exists():
            try:
                stored = json.loads(manifest.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                stored = None
            if not (
                isinstance(stored, dict)
                and stored.get("format") == FORMAT_VERSION
                and isinstance(stored.get("identity"), dict)
            ):
                raise CheckpointMismatchError(
                    f"{str(manifest)!r} is not a ksweep checkpoint manifest (unreadable, or "
                    "not written by ksweep): ksweep does not overwrite files it did not write. "
                    "Use another directory, or remove that file."
                )
            if stored["identity"] != identity:
                if not overwrite:
                    raise CheckpointMismatchError(self._mismatch(stored["identity"]))
                self.clear()
        if not manifest.exists():
            _write_atomic(
                manifest,
                json.dumps({"format": FORMAT_VERSION, "identity": identity}, indent=1),
            )

    def _mismatch(self, stored: Mapping) -> str:
        changed = sorted(
            name
            for name in set(stored) | set(self.identity)
            if stored.get(name) != self.identity.get(name)
        )
        return (
            f"The checkpoint at {str(self.path)!r} was written by a sweep with a different "
            f"{', '.join(changed)}: its tasks would not be this sweep's. Use another "
            "directory, or pass checkpoint_overwrite=True to discard it."
        )

    def clear(self) -> None:
        """Remove the manifest, the task files and temporary files ksweep wrote, nothing else."""
        for file in self.path.glob("*.json"):
            if _OWNED.fullmatch(file.name):
                file.unlink(missing_ok=True)

    def load(self, expected_seeds: Mapping[tuple[int, ...], int]) -> dict[tuple[int, ...], dict]:
        """Stored task results for the keys of ``expected_seeds``; corrupt files are dropped."""
        found = {}
        for key, seed in expected_seeds.items():
            file = self.path / task_filename(key)
            if not file.exists():
                continue
            try:
                payload = _read_entry(file)
                valid = payload["seed"] == seed and list(payload["key"]) == list(key)
            except (OSError, ValueError, KeyError, TypeError):
                valid = False
            if not valid:
                _report_corrupt(file, "its task is recomputed")
                continue
            found[key] = payload
        return found

    def save(self, key: tuple[int, ...], seed: int, record: Any) -> None:
        """Write one finished task atomically."""
        _write_entry(self.path / task_filename(key), task_payload(key, seed, record))

    def save_states(self, group: list[tuple[int, ...]], runs: list[tuple]) -> None:
        """Write atomically where the unfinished runs of a fused group stand, one file for
        the group (:func:`state_filename`). ``runs``: ``(key, seed, state)`` where
        ``state`` maps names to arrays (stored with :func:`array_entry`) and numbers.

        Not fsynced: it is rewritten every few seconds, and one lost to a power cut (a
        torn file is reported and ignored) costs its runs' work so far, never a result.
        """
        payload = {
            "runs": [
                {
                    "key": list(key),
                    "seed": int(seed),
                    "state": {
                        name: array_entry(value) if isinstance(value, np.ndarray) else value
                        for name, value in state.items()
                    },
                }
                for key, seed, state in runs
            ]
        }
        _write_entry(self.path / state_filename(group), payload, durable=False)

    def drop_states(self, group: list[tuple[int, ...]] | None = None) -> None:
        """Remove the state file of ``group`` (its runs are finished), or every state file."""
        if group is not None:
            (self.path / state_filename(group)).unlink(missing_ok=True)
            return
        for file in self.path.glob("state-*.json"):
            if _OWNED.fullmatch(file.name):
                file.unlink(missing_ok=True)

    def load_states(
        self, expected_seeds: Mapping[tuple[int, ...], int]
    ) -> dict[tuple[int, ...], dict]:
        """Where the runs of ``expected_seeds`` stood, from every state file (arrays
        decoded; the furthest state of a run where several files hold one); a corrupt file
        is reported and dropped."""
        found: dict[tuple[int, ...], dict] = {}
        for file in sorted(self.path.glob("state-*.json")):
            if not _OWNED.fullmatch(file.name):
                continue
            try:
                runs = [
                    (tuple(run["key"]), run["seed"], dict(run["state"]))
                    for run in _read_entry(file)["runs"]
                ]
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                _report_corrupt(file, "its runs start over")
                continue
            for key, seed, state in runs:
                if expected_seeds.get(key) != seed:
                    continue  # finished, or not in this sweep
                for name, value in state.items():
                    if isinstance(value, dict):
                        state[name] = entry_array(value)
                if key not in found or state.get("n_iter", 0) > found[key].get("n_iter", 0):
                    found[key] = state
        return found


def _report_corrupt(file: Path, then: str) -> None:
    """Warn that ``file`` is torn or corrupt, and delete it (it is never loaded)."""
    warnings.warn(
        f"Checkpoint file {file.name!r} is torn or corrupt (bad JSON, checksum or seed): it "
        f"is ignored and {then}.",
        CorruptCheckpointWarning,
        stacklevel=5,
    )
    file.unlink(missing_ok=True)
