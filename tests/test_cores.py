"""Every core by default, the same bits on one core, and a first call that costs little."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.datasets import make_blobs
from threadpoolctl import threadpool_limits

import ksweep._executors
import ksweep._local
import ksweep._threads
from ksweep import KSweep
from ksweep._blocks import Split
from ksweep._executors import auto_executor, open_backend
from ksweep._fused import fused_lloyd
from ksweep._threads import CoreShare, cpu_cores, effective_n_jobs, threads_per_task


@pytest.fixture(scope="module")
def X():
    X, _ = make_blobs(n_samples=1500, centers=5, n_features=6, random_state=0)
    return X


def _cores(monkeypatch, n: int) -> None:
    """Pretend the operating system gives this process ``n`` cores."""
    monkeypatch.setattr(ksweep._threads, "_os_cores", lambda: n)


def _assert_same_results(a, b) -> None:
    assert a.results_.engine == b.results_.engine
    assert set(a.results_) == set(b.results_)
    for name in a.results_:
        if "fit_time" in name:  # seconds, not results
            continue
        np.testing.assert_array_equal(a.results_[name], b.results_[name], err_msg=name)
    assert a.best_k_ == b.best_k_


def _sweep(X, **params):
    defaults = {"k_range": range(2, 9), "n_init": 3, "random_state": 0}
    return KSweep(**{**defaults, **params}).fit(X)


# -- counting cores ---------------------------------------------------------------------


def test_cpu_cores_follows_the_operating_system(monkeypatch):
    _cores(monkeypatch, 3)
    with threadpool_limits(limits=64):  # no lower native limit in the way
        assert cpu_cores() == 3
        assert effective_n_jobs(None) == 3
        assert effective_n_jobs(-1) == 3
        assert effective_n_jobs(-2) == 2


def test_cpu_cores_honours_an_enclosing_threadpool_limit(monkeypatch):
    _cores(monkeypatch, 8)
    with threadpool_limits(limits=1):
        assert cpu_cores() == 1


def test_cpu_cores_honours_joblib_parallel_config(monkeypatch):
    _cores(monkeypatch, 8)
    with threadpool_limits(limits=64):
        with joblib.parallel_config(n_jobs=3):
            assert cpu_cores() == 3
        with joblib.parallel_config(n_jobs=-3):
            assert cpu_cores() == 6
        assert cpu_cores() == 8


def test_a_mocked_cgroup_quota_is_respected(monkeypatch):
    # loky reads the cgroup CPU quota (cpu.max / cfs_quota_us); ksweep counts cores with loky.
    from joblib.externals.loky.backend import context

    monkeypatch.setattr(context, "_cpu_count_cgroup", lambda os_cpu_count: 1)
    assert ksweep._threads._os_cores() == 1
    assert cpu_cores() == 1


def test_real_cpu_affinity_is_respected(tmp_path):
    # A child process pinned to one CPU: the sweep sees one core and runs serially.
    script = textwrap.dedent(
        """
        import os
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        from ksweep._threads import cpu_cores
        from ksweep._executors import open_backend
        backend = open_backend("auto", None, "auto", engine="fused", n_tasks=4)
        print(cpu_cores(), backend.kind, backend.workers, backend.inner_threads)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    assert out == ["1", "in_process", "1", "1"]


# -- what "auto" chooses ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("engine", "n_tasks", "work", "cores", "expected"),
    [
        ("fused", 1, 1e12, 4, ("serial", 1)),
        ("fused", 3, 0.0, 4, ("threads", 3)),
        ("fused", 9, 0.0, 4, ("threads", 4)),
        ("independent", 40, 1e8, 4, ("serial", 1)),
        ("independent", 40, 2e9, 4, ("processes", 4)),
        ("independent", 40, 2e9, 1, ("serial", 1)),
    ],
)
def test_auto_executor_rule(engine, n_tasks, work, cores, expected):
    assert auto_executor(engine, n_tasks, work, cores) == expected


def test_auto_threads_share_the_cores(monkeypatch):
    _cores(monkeypatch, 4)
    with threadpool_limits(limits=64):
        one = open_backend("auto", None, "auto", engine="fused", n_tasks=1)
        two = open_backend("auto", None, "auto", engine="fused", n_tasks=2)
        capped = open_backend("auto", 2, "auto", engine="fused", n_tasks=1)
        independent = open_backend("auto", None, "auto", engine="independent", n_tasks=50)
        pinned = open_backend("threads", 4, 3, engine="fused", n_tasks=8)
    try:
        assert (one.kind, one.workers, one.inner_threads) == ("in_process", 1, 4)
        assert (two.kind, two.workers, two.inner_threads) == ("in_process", 2, 2)
        assert capped.inner_threads == 2  # n_jobs caps the cores "auto" shares
        assert independent.inner_threads == 1
        assert pinned.inner_threads == 3  # an int is the user's cap, kept as given
    finally:
        for backend in (one, two, capped, independent, pinned):
            backend.close(abort=False)
    assert threads_per_task(4, 3) == 1 and threads_per_task(2, 0) == 2


def test_default_fused_sweep_uses_every_core(X, monkeypatch):
    seen = []
    original = ksweep._executors.open_backend

    def spy(*args, **kwargs):
        backend = original(*args, **kwargs)
        seen.append((backend.kind, backend.workers, backend.inner_threads))
        return backend

    monkeypatch.setattr("ksweep._executors.open_backend", spy)
    _cores(monkeypatch, 2)
    with threadpool_limits(limits=64):
        sweep = _sweep(X)
    assert sweep.results_.engine == "fused"
    assert seen[0] == ("in_process", 1, 2)  # one group: one task with both cores


# -- the same bits on one core and on all ---------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_results_identical_on_one_core_and_all(X, monkeypatch, dtype):
    data = X.astype(dtype)
    _cores(monkeypatch, 1)
    one = _sweep(data, k_range=range(2, 40), n_init=4)
    _cores(monkeypatch, 3)
    with threadpool_limits(limits=64):
        every = _sweep(data, k_range=range(2, 40), n_init=4)
        threads = _sweep(data, k_range=range(2, 40), n_init=4, executor="threads", n_jobs=3)
    _assert_same_results(one, every)
    _assert_same_results(one, threads)


def test_core_share_gives_the_last_tasks_the_cores_the_others_left():
    share = CoreShare(cores=4, workers=2, tasks=3)
    assert share.threads() == 2  # two of the three run at once
    share.done()
    assert share.threads() == 2
    share.done()
    assert share.threads() == 4  # the last one alone
    alone = CoreShare(cores=2, workers=1, tasks=3)  # one worker: each task alone
    assert alone.threads() == 2


def test_a_fused_group_left_alone_takes_the_cores_its_peer_left(monkeypatch):
    # the peer group ends after the first pass: from the next pass on this one runs its
    # kernels on both cores, and its runs end as they would on one thread
    X = np.random.default_rng(0).normal(size=(3000, 8)).astype(np.float32)
    ks, seeds = [2, 3, 4, 5, 6], [1, 2, 3, 4, 5]
    sizes = []
    resize = Split.resize

    def spy(self, threads):
        sizes.append(threads)
        resize(self, threads)

    monkeypatch.setattr(Split, "resize", spy)
    share = CoreShare(cores=2, workers=2, tasks=2)
    shared = fused_lloyd(
        X, ks, seeds, max_iter=50, tol=0.0, threads=share, on_pass=lambda _: share.done()
    )
    assert sizes == [2]
    alone = fused_lloyd(X, ks, seeds, max_iter=50, tol=0.0, threads=1)
    for a, b in zip(alone, shared, strict=True):
        np.testing.assert_array_equal(a.labels, b.labels)
        np.testing.assert_array_equal(a.centers, b.centers)
        assert (a.inertia, a.n_iter) == (b.inertia, b.n_iter)


def test_the_driver_widens_blas_for_the_groups_left(X, monkeypatch):
    # two fused groups side by side on 2 cores: as each ends, the driver (OpenBLAS takes a
    # thread count from the main thread only) gives the cores to those left
    _cores(monkeypatch, 2)
    widened = []
    monkeypatch.setattr(ksweep._local, "widen_blas", widened.append)
    params = {"k_range": range(2, 6), "n_init": 40, "selection": "kneedle"}
    with threadpool_limits(limits=64):
        shared = _sweep(X, **params)
        assert widened == [2, 2]
        alone = _sweep(X, executor="serial", inner_threads=1, **params)
        capped = _sweep(X, inner_threads=1, **params)
    assert widened == [2, 2]  # neither a serial sweep nor a capped one shares
    _assert_same_results(alone, shared)
    _assert_same_results(alone, capped)


def test_fused_results_identical_in_worker_processes(X, monkeypatch):
    one = _sweep(X, inner_threads=1, executor="serial")
    processes = _sweep(X, executor="processes", n_jobs=2)
    _assert_same_results(one, processes)


def test_fused_task_on_a_dask_client_gets_the_host_threads(X, client):
    # One fused group on a 2-worker, 1-thread-each local cluster: the task may use both.
    backend = open_backend(client, None, "auto", engine="fused", n_tasks=1)
    try:
        assert (backend.kind, backend.workers, backend.inner_threads) == ("dask", 2, 2)
    finally:
        backend.close(abort=False)
    _assert_same_results(_sweep(X, inner_threads=1, executor="serial"), _sweep(X, executor=client))


def test_independent_results_identical_on_one_core_and_all(X, monkeypatch):
    _cores(monkeypatch, 1)
    one = _sweep(X, engine="independent")
    _cores(monkeypatch, 2)
    monkeypatch.setattr(ksweep._executors, "AUTO_PROCESSES_WORK", 0.0)  # force the pool
    seen = []
    original = ksweep._executors.open_backend

    def spy(*args, **kwargs):
        backend = original(*args, **kwargs)
        seen.append(backend.kind)
        return backend

    monkeypatch.setattr("ksweep._executors.open_backend", spy)
    every = _sweep(X, engine="independent")
    assert seen[0] == "processes"
    _assert_same_results(one, every)
    threads = _sweep(X, engine="independent", executor="threads", n_jobs=2)
    _assert_same_results(one, threads)


# -- the first call ---------------------------------------------------------------------


def _block_in_tree_cache(package: Path) -> None:
    """Make the package directory unwritable for numba's in-tree cache, even for root.

    The files lose their write bits (what a read-only site-packages looks like to a
    user), and each ``__pycache__`` is a plain file, so no cache directory can be
    made there whoever runs the test.
    """
    for cache in package.rglob("__pycache__"):
        shutil.rmtree(cache)
    for folder in [package, *[p for p in package.rglob("*") if p.is_dir()]]:
        (folder / "__pycache__").write_text("not a directory\n")
    for path in [package, *package.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)


@pytest.mark.timeout(600)  # two fresh processes, the first compiles the kernels (~5 s)
def test_a_cold_cache_in_a_read_only_package_dir_still_works(tmp_path):
    site = tmp_path / "site"
    shutil.copytree(
        Path(ksweep.__file__).parent, site / "ksweep", ignore=shutil.ignore_patterns("*.nb*")
    )
    _block_in_tree_cache(site / "ksweep")
    user_cache = tmp_path / "user-cache"
    env = {**os.environ, "PYTHONPATH": str(site), "XDG_CACHE_HOME": str(user_cache)}
    env.pop("NUMBA_CACHE_DIR", None)
    script = textwrap.dedent(
        """
        import ksweep, numpy as np
        from sklearn.datasets import make_blobs
        assert ksweep.__file__.startswith({site!r}), ksweep.__file__
        X, _ = make_blobs(n_samples=300, centers=3, random_state=0)
        sweep = ksweep.KSweep(k_range=range(2, 7), n_init=2, random_state=0).fit(X)
        print(sweep.results_.engine, sweep.best_k_)
        """
    ).format(site=str(site))
    try:
        for _ in range(2):  # the first process compiles and stores, the second loads
            run = subprocess.run(
                [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=170
            )
            assert run.returncode == 0, run.stderr
            assert run.stdout.split() == ["fused", "3"]
    finally:
        for path in [site, *site.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)
    cached = list(user_cache.rglob("*.nbi"))
    assert cached, "numba stored nothing in the user cache directory"
    assert not list(site.rglob("*.nbi"))
