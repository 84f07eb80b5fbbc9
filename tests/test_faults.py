"""Faults: a killed driver, a dead worker, a task that raises a BaseException.

Each test watches only the processes and folders of the run it started: other
ksweep processes may run on the same machine at the same time.
"""

import contextlib
import functools
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import kmedoids
import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs

from ksweep import KSweep, SweepTaskError
from ksweep.exceptions import TaskAbortedError

pytestmark = pytest.mark.filterwarnings("ignore::ksweep.NoElbowWarning")

# A driver that announces the folder it ships X to, and each task a worker starts.
DRIVER_SCRIPT = textwrap.dedent(
    """
    import os, numpy as np
    import ksweep._executors as executors
    from sklearn.cluster import KMeans
    from ksweep import KSweep

    shipped = executors.write_mapped
    def announce(X):
        handle = shipped(X)
        print("folder", handle.folder, flush=True)
        return handle
    executors.write_mapped = announce

    class Announced(KMeans):
        def fit(self, X, y=None, sample_weight=None):
            print("fitting", os.getpid(), flush=True)
            return super().fit(X, y, sample_weight)

    X = np.random.default_rng(0).normal(size=(20000, 30))
    KSweep(Announced(max_iter=300, tol=0), k_range=range(2, 80), n_init=20,
           executor="processes", n_jobs=2, random_state=0).fit(X)
    """
)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its new parent to reap it has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _wait_until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_killed_driver_leaves_no_worker_and_no_shared_memory(sig):
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER_SCRIPT], stdout=subprocess.PIPE, text=True
    )
    folder, workers = None, set()
    try:
        for line in proc.stdout:  # the folder first, then the first task a worker runs
            word, value = line.split()
            if word == "folder":
                folder = value
            else:
                workers.add(int(value))
                break
        assert folder is not None and Path(folder).is_dir(), "the sweep shipped X"
        assert workers, "a worker started a task"
        workers |= {
            int(p.name)
            for p in Path("/proc").iterdir()
            if p.name.isdigit() and _child_of(p, proc.pid)
        }
        proc.send_signal(sig)
        proc.wait(timeout=10)
        killed = time.monotonic()
        gone = _wait_until(lambda: not any(map(_alive, workers)) and not Path(folder).exists(), 10)
        assert time.monotonic() - killed <= 10
        left = sorted(pid for pid in workers if _alive(pid))
        assert gone, f"after 10 s: workers {left} alive, folder exists: {Path(folder).exists()}"
    finally:
        proc.kill()
        proc.wait()
        for pid in workers:  # a failed run must not leak its workers
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _child_of(proc_dir: Path, parent: int) -> bool:
    try:
        return int((proc_dir / "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent
    except (OSError, ValueError, IndexError):
        return False


# -- where X is shipped ------------------------------------------------------------------


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(n_samples=300, n_features=4, centers=4, random_state=0)
    return X


SMALL = {"k_range": range(2, 6), "n_init": 2, "random_state": 0, "engine": "independent"}


def _shipped_folders(monkeypatch):
    """Record the folder of every X that a sweep in this process ships to its workers."""
    from ksweep import _executors

    folders = []
    write = _executors.write_mapped

    def recording(X):
        handle = write(X)
        folders.append(handle.folder)
        return handle

    monkeypatch.setattr(_executors, "write_mapped", recording)
    return folders


@pytest.mark.parametrize(
    ("free", "root"),
    [(None, tempfile.gettempdir()), (64 << 20, tempfile.gettempdir()), (1 << 40, "/dev/shm")],
    ids=["no-shm", "docker-64MiB", "roomy"],
)
def test_x_goes_to_disk_when_shared_memory_is_small(monkeypatch, blobs, free, root):
    from ksweep import _shipping

    expected = KSweep(**SMALL).fit(blobs).results_["inertia"]
    folders = _shipped_folders(monkeypatch)
    monkeypatch.setattr(_shipping, "shm_free_bytes", lambda: free)
    sweep = KSweep(**SMALL, executor="processes", n_jobs=2).fit(blobs)
    assert [os.path.dirname(folder) for folder in folders] == [root]
    assert not os.path.exists(folders[0])  # removed after the sweep
    np.testing.assert_array_equal(sweep.results_["inertia"], expected)


def test_headroom_counts_the_size_of_x(monkeypatch):
    from ksweep import _shipping

    monkeypatch.setattr(_shipping, "shm_free_bytes", lambda: _shipping.SHM_HEADROOM + 800)
    assert _shipping.mapped_root(800) == "/dev/shm"
    assert _shipping.mapped_root(801) is None


def test_a_failed_write_to_shared_memory_is_retried_on_disk(monkeypatch, blobs):
    from ksweep import _shipping

    write_in = _shipping._write_in
    tried = []

    def full_shm(X, root):
        tried.append(root)
        if root == "/dev/shm":
            raise OSError(28, "No space left on device")
        return write_in(X, root)

    monkeypatch.setattr(_shipping, "shm_free_bytes", lambda: 1 << 40)
    monkeypatch.setattr(_shipping, "_write_in", full_shm)
    handle = _shipping.write_mapped(blobs)
    try:
        assert tried == ["/dev/shm", None]
        assert os.path.dirname(handle.folder) == tempfile.gettempdir()
        np.testing.assert_array_equal(handle.load(), blobs)
    finally:
        _shipping.remove_mapped(handle)


# -- many sweeps at once ------------------------------------------------------------------

LOAD = {"k_range": range(2, 6), "n_init": 2, "engine": "independent"}


def test_eight_sweeps_at_once_share_one_process_pool_and_one_client(monkeypatch, blobs, client):
    folders = _shipped_folders(monkeypatch)
    solo = [KSweep(**LOAD, random_state=seed).fit(blobs) for seed in range(8)]

    def sweep(seed, executor):
        return KSweep(**LOAD, random_state=seed, executor=executor, n_jobs=2).fit(blobs)

    with ThreadPoolExecutor(8) as driver:  # 8 sweeps at once on each: the pool, the client
        on_pool = [driver.submit(sweep, seed, "processes") for seed in range(8)]
        on_client = [driver.submit(sweep, seed, client) for seed in range(8)]
        results = [future.result(timeout=120) for future in on_pool + on_client]
    for fitted, alone in zip(results, solo + solo, strict=True):
        _assert_same_results(fitted, alone)
    assert len(folders) == 8 and not any(map(os.path.exists, folders))


def _assert_same_results(sweep, reference):
    for name, column in reference.results_.items():
        if "fit_time" not in name:
            np.testing.assert_array_equal(sweep.results_[name], column, err_msg=name)
    np.testing.assert_array_equal(sweep.labels_, reference.labels_)


# -- what a task raises ------------------------------------------------------------------


class PanicsAtFive(KMeans):
    """KMeans whose compiled code panics at k=5: a Rust ``PanicException`` (a BaseException,
    not an Exception, that does not pickle) from kmedoids given a non-square matrix."""

    def fit(self, X, y=None, sample_weight=None):
        if self.n_clusters == 5:
            kmedoids.fasterpam(np.zeros((3, 4)), 2)
        return super().fit(X, y, sample_weight)


class ExitsAtFive(KMeans):
    def fit(self, X, y=None, sample_weight=None):
        if self.n_clusters == 5:
            sys.exit(5)
        return super().fit(X, y, sample_weight)


@pytest.mark.parametrize(
    ("executor", "estimator", "raised"),
    [
        *[(name, PanicsAtFive(), "PanicException") for name in ("serial", "threads", "client")],
        *[(name, ExitsAtFive(), "SystemExit: 5") for name in ("serial", "threads", "client")],
        ("processes", PanicsAtFive(), "PanicException"),  # one: a failure ends the pool
    ],
    ids=lambda value: value if isinstance(value, str) else type(value).__name__,
)
def test_a_base_exception_from_a_task_is_a_sweep_task_error(
    blobs, executor, estimator, raised, request
):
    if executor == "client":
        executor = request.getfixturevalue("client")
    sweep = KSweep(estimator, k_range=[3, 5, 7], n_init=2, random_state=0, engine="independent")
    sweep.set_params(executor=executor, n_jobs=2)
    with pytest.raises(
        SweepTaskError, match=rf"with k=5 \(restart [01]\) failed: {raised}"
    ) as info:
        sweep.fit(blobs)
    error = info.value
    assert (error.k, error.in_flight) == (5, [(5, error.restart)])
    assert isinstance(error.__cause__, TaskAbortedError)
    completed = dict(error.completed)
    if executor == "serial":  # largest k first, one at a time
        assert set(completed) == {(7, 0), (7, 1)}
    assert (5, error.restart) not in completed
    assert all(
        record.inertia > 0 and (record.estimator is None or record.estimator.n_clusters == key[0])
        for key, record in completed.items()
    )
    if isinstance(executor, str) and executor in ("serial", "threads"):  # in this process
        assert raised.split(":")[0] == type(error.__cause__.__cause__).__name__


# -- dead dask workers -------------------------------------------------------------------


class KillsAtFour(KMeans):
    """KMeans whose first fit of k=4 (whichever restart) kills its dask worker process, and
    the ``victims`` pids first; ``marker`` is created then, so a retry fits normally."""

    def __init__(self, n_clusters=8, *, n_init="auto", random_state=None, marker="", victims=()):
        super().__init__(n_clusters=n_clusters, n_init=n_init, random_state=random_state)
        self.marker = marker
        self.victims = victims

    def fit(self, X, y=None, sample_weight=None):
        if self.n_clusters == 4 and not os.path.exists(self.marker):
            Path(self.marker).touch()
            for pid in set(self.victims) - {os.getpid()}:  # the others first
                os.kill(pid, signal.SIGKILL)
            os.kill(os.getpid(), signal.SIGKILL)
        return super().fit(X, y, sample_weight)


KILL = {"k_range": range(2, 8), "n_init": 2, "random_state": 0, "engine": "independent"}


def _within(seconds, fn, *args):
    """``fn(*args)``, failing the test instead of hanging it after ``seconds``."""
    runner = ThreadPoolExecutor(1)
    try:
        return runner.submit(fn, *args).result(timeout=seconds)
    except TimeoutError:
        pytest.fail(f"{fn} still ran after {seconds} s")
    finally:
        runner.shutdown(wait=False)


def _set_allowed_failures(count, dask_scheduler=None):
    """On the scheduler: how often a task may be on a worker that dies; the old value."""
    old, dask_scheduler.allowed_failures = dask_scheduler.allowed_failures, count
    return old


@contextlib.contextmanager
def _allowed_failures(client, count):
    old = client.run_on_scheduler(_set_allowed_failures, count)
    try:
        yield
    finally:
        client.run_on_scheduler(_set_allowed_failures, old)


@pytest.fixture(scope="module")
def killed_reference(blobs):
    return KSweep(KMeans(), **KILL).fit(blobs)


def test_a_worker_killed_mid_sweep_is_retried_by_dask(client, blobs, tmp_path, killed_reference):
    marker = tmp_path / "killed"
    sweep = KSweep(KillsAtFour(marker=str(marker)), **KILL, executor=client)
    with _allowed_failures(client, 3):  # dask's default
        _within(60, sweep.fit, blobs)
    assert marker.exists(), "a worker was killed"
    _assert_same_results(sweep, killed_reference)


def test_a_worker_dask_gives_up_on_is_a_sweep_task_error(client, blobs, tmp_path, killed_reference):
    marker = tmp_path / "killed"
    sweep = KSweep(KillsAtFour(marker=str(marker)), **KILL, executor=client)
    with _allowed_failures(client, 0), pytest.raises(SweepTaskError) as info:
        _within(60, sweep.fit, blobs)
    error = info.value  # the task killed (k=4), or one queued on the same worker
    assert error.k in KILL["k_range"] and error.in_flight == [(error.k, error.restart)]
    assert "KilledWorker" in str(error) and "A worker process died" in str(error)
    restart_inertia = killed_reference.results_["restart_inertia"]
    for (k, restart), record in error.completed:  # the finished tasks, exactly as a full run
        assert record.inertia == restart_inertia[k - 2, restart]
    assert (4, error.restart) not in dict(error.completed)


def killing_chunk_statistics(marker, always, chunk, state):
    """``chunk_statistics`` that kills its worker process: once (it creates ``marker``), or
    ``always``."""
    from ksweep._lloyd import chunk_statistics

    if always or not os.path.exists(marker):
        Path(marker).touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return chunk_statistics(chunk, state)


@pytest.mark.parametrize("retries", [3, 0], ids=["retried", "given-up"])
def test_a_worker_killed_in_a_dask_array_sweep(client, monkeypatch, tmp_path, retries):
    import dask.array as da

    from ksweep import _dask_arrays

    X = da.from_array(make_blobs(n_samples=1000, centers=3, random_state=0)[0], chunks=250)
    params = {"k_range": range(2, 5), "n_init": 1, "random_state": 0}
    reference = KSweep(KMeans(max_iter=10), **params).fit(X) if retries else None
    marker = tmp_path / "killed"
    # once with dask's retries: the sweep finishes; at every try without: it gives up
    killing = functools.partial(killing_chunk_statistics, str(marker), not retries)
    monkeypatch.setattr(_dask_arrays, "chunk_statistics", killing)
    sweep = KSweep(KMeans(max_iter=10), **params)
    with _allowed_failures(client, retries):
        if retries:
            _within(60, sweep.fit, X)
            _assert_same_results(sweep, reference)
        else:
            with pytest.raises(SweepTaskError, match="KilledWorker") as info:
                _within(60, sweep.fit, X)
            assert info.value.completed == [] and info.value.k is None
            assert len(info.value.in_flight) == 3
    assert marker.exists(), "a worker was killed"


def test_losing_every_worker_is_a_sweep_task_error_not_a_cancelled_error(client, blobs, tmp_path):
    import distributed

    # a cluster of its own: the scattered X is lost with the workers that held it
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as own,
    ):
        victims = tuple(own.run(os.getpid).values())
        sweep = KSweep(
            KillsAtFour(marker=str(tmp_path / "killed"), victims=victims), **KILL, executor=own
        )
        with pytest.raises(SweepTaskError) as info:
            _within(60, sweep.fit, blobs)
    message = str(info.value)
    assert "cancelled the task" in message or "A worker process died" in message, message
    assert all(record.inertia > 0 for _, record in info.value.completed)
