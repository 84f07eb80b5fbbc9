"""Regressions found in review: shipped data cleaned up, shared X protected, pools, copies."""

import contextlib
import glob
import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.model_selection import cross_val_score
from threadpoolctl import threadpool_info

from ksweep import KSweep, SweepTaskError
from ksweep._executors import open_backend
from ksweep._threads import capped_threads

# spawn, not fork: forking a process that runs threads (loky, OpenMP, dask) can deadlock
SPAWN = multiprocessing.get_context("spawn")
pytestmark = pytest.mark.filterwarnings("ignore::ksweep.NoElbowWarning")


@pytest.fixture(scope="module")
def X():
    data, _ = make_blobs(n_samples=400, n_features=5, centers=4, random_state=0)
    return data + 1e4  # far from the origin: in-place centering would show


def shm_folders():
    return set(glob.glob("/dev/shm/ksweep-*")) | set(glob.glob("/tmp/ksweep-*"))


def test_every_shipped_dataset_is_removed_after_a_gap_sweep(X):
    before = shm_folders()
    KSweep(
        k_range=range(1, 5),
        n_init=1,
        scoring="gap",
        gap_references=3,
        random_state=0,
        executor="processes",
        n_jobs=2,
    ).fit(X)
    assert shm_folders() - before == set()


def test_shipped_data_is_removed_after_a_failure(X):
    class Fails(KMeans):
        def fit(self, X, y=None, sample_weight=None):
            raise RuntimeError("no")

    before = shm_folders()
    with pytest.raises(SweepTaskError):
        KSweep(Fails(), k_range=[2, 3, 4], n_init=1, executor="threads").fit(X)
    with ProcessPoolExecutor(2, mp_context=SPAWN) as pool, pytest.raises(SweepTaskError):
        KSweep(KMeans(init="nonsense"), k_range=[2, 3, 4], n_init=1, executor=pool).fit(X)
    assert shm_folders() - before == set()


SIGTERM_SCRIPT = textwrap.dedent(
    """
    import numpy as np
    from ksweep import KSweep
    X = np.random.default_rng(0).normal(size=(20000, 30))
    print("started", flush=True)
    KSweep(k_range=range(2, 80), n_init=20, executor="processes", n_jobs=2).fit(X)
    """
)


def _loky_workers_of(pid):
    """Pids of the loky worker processes whose parent is ``pid`` (read from /proc)."""
    workers = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = open(stat).read().rsplit(")", 1)[1].split()
            cmdline = open(stat.replace("stat", "cmdline"), "rb").read()
        except OSError:
            continue
        if int(fields[1]) == pid and b"popen_loky_posix" in cmdline:
            workers.append(int(stat.split("/")[2]))
    return workers


def test_sigterm_leaves_no_shipped_data_behind():
    before = shm_folders()
    proc = subprocess.Popen([sys.executable, "-c", SIGTERM_SCRIPT], stdout=subprocess.PIPE)
    workers = []
    try:
        assert proc.stdout.readline().strip() == b"started"
        deadline = time.monotonic() + 60
        while not (shm_folders() - before) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert shm_folders() - before, "the sweep shipped X"
        # X is shipped before the first task starts the pool's workers: wait for them
        while not workers and time.monotonic() < deadline:
            workers = _loky_workers_of(proc.pid)
            time.sleep(0.05)
        assert workers
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        # Orphaned workers leave after their idle timeout; end them now instead of waiting.
        for pid in workers or _loky_workers_of(proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30  # then loky's resource tracker removes the folder
    while shm_folders() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert shm_folders() - before == set()


@pytest.mark.parametrize("executor", ["serial", "threads", "processes"])
def test_in_place_estimators_do_not_corrupt_shared_x(X, executor):
    original = X.copy()
    params = {"k_range": range(2, 7), "n_init": 3, "random_state": 1}
    reference = KSweep(KMeans(), **params).fit(X)
    sweep = KSweep(KMeans(copy_x=False), **params, executor=executor, n_jobs=2).fit(X)
    np.testing.assert_array_equal(X, original)
    np.testing.assert_allclose(sweep.results_["inertia"], reference.results_["inertia"], rtol=1e-9)


class ScribblesOnX(KMeans):
    """Writes into its input, as some compiled estimators do with a writeable buffer."""

    def fit(self, X, y=None, sample_weight=None):
        seen = float(X[0, 0])
        X[0, 0] = -42.0
        super().fit(X, y, sample_weight)
        self.first_value_seen_ = seen
        return self


def test_a_task_never_sees_another_tasks_writes_in_a_process_pool(X):
    with ProcessPoolExecutor(2, mp_context=SPAWN) as pool:
        sweep = KSweep(ScribblesOnX(), k_range=range(2, 8), n_init=3, executor=pool)
        sweep.set_params(random_state=0).fit(X)
    assert {m.first_value_seen_ for m in sweep.estimators_.values()} == {X[0, 0]}


def test_processes_do_not_disturb_joblib_running_alongside(X):
    outcome = {}

    def joblib_work():
        try:
            outcome["joblib"] = Parallel(n_jobs=2)(delayed(sum)([i, 1]) for i in range(200))
        except BaseException as exc:  # reported by the assertion below
            outcome["joblib"] = exc

    thread = threading.Thread(target=joblib_work)
    thread.start()
    sweep = KSweep(k_range=range(2, 6), n_init=2, executor="processes", n_jobs=1, random_state=0)
    finished = threading.Event()

    def fit():
        sweep.fit(X)
        finished.set()

    runner = threading.Thread(target=fit, daemon=True)
    runner.start()
    assert finished.wait(120), "the sweep hung beside joblib"
    thread.join(120)
    assert outcome["joblib"] == [i + 1 for i in range(200)]
    assert Parallel(n_jobs=2)(delayed(abs)(-i) for i in range(4)) == [0, 1, 2, 3]


def test_overlapping_thread_caps_restore_the_blas_limit():
    def blas_threads():
        return sorted(
            {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}
        )

    before = blas_threads()
    barrier = threading.Barrier(4)

    def task(hold):
        with capped_threads(1):
            barrier.wait()
            time.sleep(hold)

    threads = [threading.Thread(target=task, args=(0.05 * i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert blas_threads() == before


def test_clone_and_pickle_with_an_executor_instance(X):
    with ThreadPoolExecutor(2) as pool:
        sweep = KSweep(k_range=range(2, 6), n_init=2, random_state=0, executor=pool)
        copy = clone(sweep)
        assert copy.executor is pool and copy is not sweep
        scores = cross_val_score(sweep, X, cv=2)
        assert scores.shape == (2,) and np.all(scores < 0)
        sweep.fit(X)
        restored = pickle.loads(pickle.dumps(sweep))
    assert restored.executor == "auto"
    np.testing.assert_array_equal(restored.predict(X), sweep.predict(X))
    with pytest.raises(ValueError, match="read-only"):
        restored.results_["inertia"][0] = 1.0


def test_a_buggy_selection_callable_raises_instead_of_falling_back(X):
    def buggy(k, results):
        a, _b = k  # too many values to unpack
        return a

    with pytest.raises(ValueError, match="too many values to unpack"):
        KSweep(k_range=range(2, 6), n_init=1, selection=buggy).fit(X)
    with pytest.raises(
        ValueError, match=r"returns a SelectionResult .* or an int \(it returned 3.0\)"
    ):
        KSweep(k_range=range(2, 6), n_init=1, selection=lambda k, r: 3.0).fit(X)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"estimator": KMeans},
            "The 'estimator' parameter of KSweep must be an estimator instance, such as "
            "KMeans(), not the class.",
        ),
        (
            {"k_range": [2, 3, 10**20]},
            "The 'k_range' parameter of KSweep must be made of ints that fit in 64 bits.",
        ),
    ],
)
def test_clear_errors_for_a_class_and_for_huge_k(X, params, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        KSweep(**params).fit(X)


def test_a_forking_process_pool_is_warned_about():
    # nothing is submitted, so no process is forked: the warning comes when the pool is taken
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        with pytest.warns(UserWarning, match="forks its workers: forking a process whose"):
            backend = open_backend(pool, None, 1)
        assert backend.kind == "processes" and not backend.owned
    with ProcessPoolExecutor(1, mp_context=SPAWN) as pool, warnings.catch_warnings():
        warnings.simplefilter("error")
        open_backend(pool, None, 1)
