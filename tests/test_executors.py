"""The executor contract: every executor gives the same results_, bit for bit.

Also: X travels once, thread caps hold inside tasks, failures and dead workers
give clear errors, Ctrl-C returns promptly, user executors are left open.
"""

import multiprocessing
import os
import pickle
import re
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import distributed
import numpy as np
import pytest
from joblib.externals.loky import ProcessPoolExecutor as LokyPool
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from threadpoolctl import threadpool_info

from ksweep import KSweep, SweepTaskError

# spawn, not fork: forking a process that runs threads (loky, OpenMP, dask) can deadlock
SPAWN = multiprocessing.get_context("spawn")
pytestmark = pytest.mark.filterwarnings("ignore::ksweep.NoElbowWarning")

SWEEP = {"k_range": range(2, 8), "n_init": 3, "random_state": 42}


@pytest.fixture(scope="module")
def data():
    X, _ = make_blobs(n_samples=600, n_features=6, centers=5, random_state=1)
    return X.astype(np.float32)


@pytest.fixture(scope="module")
def reference(data):
    return KSweep(**SWEEP, executor="serial").fit(data)


def assert_same_sweep(sweep, reference):
    for name, column in reference.results_.items():
        if "fit_time" not in name:
            np.testing.assert_array_equal(sweep.results_[name], column, err_msg=name)
    assert sweep.best_k_ == reference.best_k_
    np.testing.assert_array_equal(sweep.labels_, reference.labels_)
    np.testing.assert_array_equal(sweep.cluster_centers_, reference.cluster_centers_)


class ThreadsSeen(KMeans):
    """KMeans that records the OpenMP and BLAS thread caps in force while it fits."""

    def fit(self, X, y=None, sample_weight=None):
        info = threadpool_info()
        self.threads_seen_ = sorted({lib["num_threads"] for lib in info})
        return super().fit(X, y, sample_weight)


class DiesAtFour(KMeans):
    """KMeans whose worker process is killed when it fits k=4."""

    def fit(self, X, y=None, sample_weight=None):
        if self.n_clusters == 4:
            os.kill(os.getpid(), signal.SIGKILL)
        return super().fit(X, y, sample_weight)


class FailsAtFive(KMeans):
    def fit(self, X, y=None, sample_weight=None):
        if self.n_clusters == 5:
            raise FloatingPointError("no good at five")
        return super().fit(X, y, sample_weight)


# -- named executors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("executor", "n_jobs"),
    [("serial", None), ("threads", 1), ("threads", 2), ("processes", 1), ("processes", 2)],
)
def test_named_executor_matches_serial(data, reference, executor, n_jobs):
    sweep = KSweep(**SWEEP, executor=executor, n_jobs=n_jobs).fit(data)
    assert_same_sweep(sweep, reference)


def test_dask_without_a_client_starts_and_closes_its_own(data, reference):
    with pytest.raises(ValueError):
        distributed.get_client()  # no client exists before
    sweep = KSweep(**SWEEP, executor="dask", n_jobs=2).fit(data)
    assert_same_sweep(sweep, reference)
    with pytest.raises(ValueError):
        distributed.get_client()  # and none is left behind


# -- executors the user owns -------------------------------------------------------------


@pytest.mark.parametrize("n_workers", [1, 2])
def test_user_process_pool_matches_serial_and_stays_open(data, reference, n_workers):
    with ProcessPoolExecutor(n_workers, mp_context=SPAWN) as pool:
        sweep = KSweep(**SWEEP, executor=pool).fit(data)
        assert pool.submit(abs, -3).result() == 3
        again = KSweep(**SWEEP, executor=pool).fit(data)  # a reused pool works twice
    assert_same_sweep(sweep, reference)
    assert_same_sweep(again, reference)


def test_user_loky_executor_matches_serial(data, reference):
    # a loky pool of the test's own: loky's process-wide reusable one belongs to joblib
    pool = LokyPool(max_workers=2)
    try:
        sweep = KSweep(**SWEEP, executor=pool).fit(data)
        assert pool.submit(abs, -3).result() == 3
    finally:
        pool.shutdown()
    assert_same_sweep(sweep, reference)


def test_user_thread_pool_matches_serial(data, reference):
    with ThreadPoolExecutor(2) as pool:
        sweep = KSweep(**SWEEP, executor=pool).fit(data)
        assert pool.submit(abs, -3).result() == 3
    assert_same_sweep(sweep, reference)


def test_user_client_and_its_executor_match_serial_and_stay_open(data, reference, client):
    by_client = KSweep(**SWEEP, executor=client).fit(data)
    by_executor = KSweep(**SWEEP, executor=client.get_executor()).fit(data)
    by_name = KSweep(**SWEEP, executor="dask").fit(data)  # uses the current client
    for sweep in (by_client, by_executor, by_name):
        assert_same_sweep(sweep, reference)
    assert client.status == "running"
    assert client.submit(abs, -3).result() == 3
    assert distributed.get_client() is client


# -- data shipping and thread caps -------------------------------------------------------


class RecordingPool(ProcessPoolExecutor):
    """A process pool that measures the pickled size of every task it is given."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.task_bytes = []

    def submit(self, fn, /, *args, **kwargs):
        self.task_bytes.append(len(pickle.dumps((fn, args, kwargs))))
        return super().submit(fn, *args, **kwargs)


@pytest.mark.parametrize(("engine", "n_tasks"), [("independent", 8), ("fused", 1)])
def test_x_is_not_pickled_per_task_for_processes(engine, n_tasks):
    X = np.random.default_rng(0).normal(size=(4000, 250))  # 8 MB
    with RecordingPool(2, mp_context=SPAWN) as pool:
        KSweep(k_range=range(2, 6), n_init=2, executor=pool, random_state=0, engine=engine).fit(X)
    assert len(pool.task_bytes) == n_tasks  # fused: both restarts' 14 centers in one task
    assert max(pool.task_bytes) < 4_000  # a few hundred bytes, not 8 MB
    assert X.nbytes > 2_000 * max(pool.task_bytes)


def test_sparse_x_is_shipped_to_processes(data, reference):
    from scipy import sparse

    dense = np.where(data > 1.0, data, 0.0)
    expected = KSweep(**SWEEP, engine="independent").fit(dense)
    with ProcessPoolExecutor(2, mp_context=SPAWN) as pool:
        sweep = KSweep(**SWEEP, executor=pool).fit(sparse.csr_matrix(dense))
    np.testing.assert_allclose(sweep.results_["inertia"], expected.results_["inertia"], rtol=1e-5)


@pytest.mark.parametrize("executor", ["serial", "threads", "processes"])
def test_each_task_runs_with_the_inner_thread_cap(data, executor):
    sweep = KSweep(ThreadsSeen(), **SWEEP, executor=executor, n_jobs=2, inner_threads=1)
    sweep.fit(data)
    assert {tuple(m.threads_seen_) for m in sweep.estimators_.values()} == {(1,)}


def test_inner_threads_none_leaves_library_defaults(data):
    sweep = KSweep(ThreadsSeen(), **SWEEP, inner_threads=None).fit(data)
    defaults = sorted({lib["num_threads"] for lib in threadpool_info()})
    assert sweep.best_estimator_.threads_seen_ == defaults


# -- progress ----------------------------------------------------------------------------


@pytest.mark.parametrize("executor", ["serial", "threads", "processes"])
def test_progress_bar_counts_every_task(data, capsys, executor):
    KSweep(**SWEEP, executor=executor, engine="independent", progress=True).fit(data)
    err = capsys.readouterr().err
    assert "ksweep" in err and "18/18" in err


@pytest.mark.parametrize("executor", ["serial", "threads", "processes"])
def test_fused_progress_counts_groups_and_the_runs_they_finished(data, capsys, executor):
    sweep = KSweep(**SWEEP, executor=executor, progress=True).fit(data)
    assert sweep.results_.engine == "fused"
    err = capsys.readouterr().err
    assert "ksweep (18 fused runs)" in err and "18/18 runs" in err
    totals = {int(total) for total in re.findall(r"\d+/(\d+) \[", err)}
    assert len(totals) == 1 and totals.pop() < 18  # groups, not runs: no jumps by a group


# -- failures ----------------------------------------------------------------------------


@pytest.mark.parametrize("executor", ["serial", "threads", "processes"])
def test_failing_task_names_k_and_restart_on_every_executor(data, executor):
    sweep = KSweep(FailsAtFive(), k_range=[3, 5, 7], n_init=2, random_state=0)
    sweep.set_params(executor=executor, n_jobs=2)
    with pytest.raises(
        SweepTaskError, match=r"FailsAtFive with k=5 \(restart [01]\) failed"
    ) as info:
        sweep.fit(data)
    assert info.value.k == 5
    assert isinstance(info.value.__cause__, FloatingPointError)
    assert "no good at five" in str(info.value)
    completed = dict(info.value.completed)
    assert (5, info.value.restart) not in completed
    assert completed, "the k=7 tasks run first and finish before any k=5 task fails"
    assert all(
        rec.estimator is None or rec.estimator.n_clusters == key[0]
        for key, rec in completed.items()
    )


def test_killed_worker_gives_a_clear_error_quickly(data):
    start = time.perf_counter()
    sweep = KSweep(DiesAtFour(), k_range=range(2, 8), n_init=2, executor="processes", n_jobs=2)
    with pytest.raises(SweepTaskError, match="A worker process died") as info:
        sweep.fit(data)
    assert time.perf_counter() - start < 60
    assert "TerminatedWorkerError" in str(info.value)  # loky's BrokenProcessPool
    assert all(record.inertia > 0 for _, record in info.value.completed)
    # a broken pool fails every task in flight: none is blamed, all are listed
    error = info.value
    assert (error.k, error.restart) == (None, None)
    assert {(4, 0), (4, 1)} & set(error.in_flight), "the task that killed its worker is listed"
    assert f"one of the {len(error.in_flight)} task(s) in flight" in str(error)
    assert not {key for key, _ in error.completed} & set(error.in_flight)
    # the pool is replaced: the next sweep on "processes" works
    KSweep(k_range=range(2, 6), n_init=1, executor="processes", n_jobs=2).fit(data)


def test_killed_worker_in_a_user_pool_gives_a_clear_error(data):
    with ProcessPoolExecutor(2, mp_context=SPAWN) as pool:
        with pytest.raises(SweepTaskError, match="A worker process died"):
            KSweep(DiesAtFour(), k_range=range(2, 8), n_init=2, executor=pool).fit(data)


CTRL_C_SCRIPT = textwrap.dedent(
    """
    import sys, numpy as np
    from ksweep import KSweep
    from ksweep.exceptions import SweepInterrupted
    X = np.random.default_rng(0).normal(size=(20000, 40))
    sweep = KSweep(k_range=range(2, 60), n_init=20, executor="processes", n_jobs=2,
                   random_state=0)
    print("started", flush=True)
    try:
        sweep.fit(X)
    except SweepInterrupted as exc:
        print("interrupted", len(exc.completed), flush=True)
        sys.exit(3)
    """
)


@pytest.mark.parametrize("whole_group", [False, True], ids=["driver", "process-group"])
def test_ctrl_c_cancels_and_returns_promptly(whole_group):
    # Ctrl-C in a terminal signals the whole process group, workers included.
    proc = subprocess.Popen(
        [sys.executable, "-c", CTRL_C_SCRIPT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert proc.stdout.readline().strip() == b"started"
    time.sleep(4)  # let workers start and some tasks finish
    if whole_group:
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGINT)
    sent = time.perf_counter()
    out, err = proc.communicate(timeout=60)
    assert time.perf_counter() - sent < 20, err.decode()
    assert proc.returncode == 3, err.decode()
    assert out.decode().startswith("interrupted")
