"""Checkpoints: resume after a crash, detect corruption and mismatches; extend a sweep."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from checkpoint_helpers import LoggedKMeans, logged_fits
from sklearn.datasets import make_blobs

from ksweep import KSweep
from ksweep.exceptions import CheckpointMismatchError, CorruptCheckpointWarning

pytestmark = pytest.mark.filterwarnings("ignore::ksweep.NoElbowWarning")
TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def X():
    data, _ = make_blobs(n_samples=200, centers=4, random_state=2)
    return data


@pytest.fixture(autouse=True)
def fit_log(tmp_path, monkeypatch):
    log = tmp_path / "fits.log"
    monkeypatch.setenv("KSWEEP_TEST_FIT_LOG", str(log))
    return log


def sweep_with(checkpoint=None, estimator=None, **params):
    defaults = {"k_range": range(2, 8), "n_init": 3, "random_state": 5}
    return KSweep(estimator or LoggedKMeans(), checkpoint=checkpoint, **{**defaults, **params})


def assert_same_results(a, b):
    for name, column in a.results_.items():
        if "fit_time" not in name:
            np.testing.assert_array_equal(b.results_[name], column, err_msg=name)


def task_files(folder):
    return sorted(p.name for p in Path(folder).glob("task-*.json"))


KILLED_SCRIPT = textwrap.dedent(
    """
    import sys
    from sklearn.datasets import make_blobs
    from checkpoint_helpers import LoggedKMeans
    from ksweep import KSweep
    X, _ = make_blobs(n_samples=200, centers=4, random_state=2)
    KSweep(LoggedKMeans(), k_range=range(2, 8), n_init=3, random_state=5,
           checkpoint=sys.argv[1]).fit(X)
    """
)


def test_a_killed_sweep_resumes_without_recomputing_finished_tasks(X, tmp_path, fit_log):
    folder = tmp_path / "ckpt"
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_SCRIPT, str(folder)],
        env={**os.environ, "PYTHONPATH": str(TESTS), "KSWEEP_TEST_FIT_DELAY": "0.15"},
    )
    deadline = time.monotonic() + 120
    while len(task_files(folder)) < 7 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    done = task_files(folder)
    assert 7 <= len(done) < 18, "killed midway"

    killed_fits = len(logged_fits(fit_log))
    resumed = sweep_with(checkpoint=folder).fit(X)
    rerun_fits = logged_fits(fit_log)[killed_fits:]
    reference = sweep_with().fit(X)
    assert_same_results(resumed, reference)
    assert resumed.best_k_ == reference.best_k_
    np.testing.assert_array_equal(resumed.labels_, reference.labels_)

    # every fit of the re-run is a task that was missing, or the refit of a stored best restart
    seeds = reference.results_["restart_seed"]
    key_of = {
        (int(k), int(seeds[i, r])): (int(k), r) for i, k in enumerate(range(2, 8)) for r in range(3)
    }
    rerun = [key_of[fit] for fit in rerun_fits]
    stored = {tuple(json.loads((folder / f).read_text())["payload"]["key"]) for f in done}
    best = set(zip(range(2, 8), reference.results_["best_restart"].tolist(), strict=True))
    missing = [key for key in rerun if key not in stored]
    refits = [key for key in rerun if key in stored]
    assert sorted(missing) == sorted(set(key_of.values()) - stored)
    assert set(refits) <= best and len(refits) == len(set(refits))
    assert len(task_files(folder)) == 18


def test_a_corrupt_file_is_detected_and_recomputed(X, tmp_path, fit_log):
    folder = tmp_path / "ckpt"
    first = sweep_with(checkpoint=folder).fit(X)
    before = len(logged_fits(fit_log))
    victim = folder / "task-k4-r1.json"
    entry = json.loads(victim.read_text())
    entry["payload"]["inertia"] *= 0.5  # tampered value, checksum left as it was
    victim.write_text(json.dumps(entry))
    torn = folder / "task-k6-r0.json"
    torn.write_text(torn.read_text()[:40])  # a torn write
    with pytest.warns(CorruptCheckpointWarning, match="task-k(4-r1|6-r0).json' is torn or corrupt"):
        second = sweep_with(checkpoint=folder).fit(X)
    assert_same_results(first, second)
    seeds = first.results_["restart_seed"]
    rerun = logged_fits(fit_log)[before:]
    assert (4, int(seeds[2, 1])) in rerun and (6, int(seeds[4, 0])) in rerun
    assert (
        json.loads(victim.read_text())["payload"]["inertia"]
        == first.results_["restart_inertia"][2, 1]
    )


def test_a_checkpoint_of_other_data_or_parameters_is_refused(X, tmp_path):
    folder = tmp_path / "ckpt"
    sweep_with(checkpoint=folder).fit(X)
    with pytest.raises(CheckpointMismatchError, match=r"different X: its tasks would not be"):
        sweep_with(checkpoint=folder).fit(X + 1.0)
    other = sweep_with(checkpoint=folder, estimator=LoggedKMeans(max_iter=50))
    with pytest.raises(CheckpointMismatchError, match="different estimator_params"):
        other.fit(X)
    with pytest.raises(CheckpointMismatchError, match="checkpoint_overwrite=True"):
        sweep_with(checkpoint=folder, random_state=6).fit(X)
    other.set_params(checkpoint_overwrite=True).fit(X)
    assert len(task_files(folder)) == 18


def test_checkpoint_files_are_plain_json_with_checksums(X, tmp_path):
    folder = tmp_path / "ckpt"
    sweep = sweep_with(checkpoint=folder).fit(X)
    manifest = json.loads((folder / "sweep.json").read_text())
    assert manifest["format"] == 1 and len(manifest["identity"]["X"]) == 64
    entry = json.loads((folder / "task-k3-r2.json").read_text())
    assert set(entry) == {"payload", "checksum"}
    assert entry["payload"]["inertia"] == sweep.results_["restart_inertia"][1, 2]
    assert not list(folder.glob(".tmp-*"))


def test_an_unseeded_sweep_resumes_with_its_own_seeds(X, tmp_path, fit_log):
    folder = tmp_path / "ckpt"
    first = sweep_with(checkpoint=folder, random_state=None).fit(X)
    before = len(logged_fits(fit_log))
    second = sweep_with(checkpoint=folder, random_state=None).fit(X)
    assert_same_results(first, second)
    assert len(logged_fits(fit_log)) - before <= 6  # only refits of best restarts


def test_extend_computes_only_the_new_k_values(X, fit_log):
    sweep = sweep_with(k_range=range(2, 6)).fit(X)
    before = len(logged_fits(fit_log))
    sweep.extend(X, k_range=range(6, 9))
    new_fits = logged_fits(fit_log)[before:]
    assert sorted({k for k, _ in new_fits}) == [6, 7, 8] and len(new_fits) == 9
    fresh = sweep_with(k_range=range(2, 9)).fit(X)
    assert_same_results(sweep, fresh)
    assert sweep.best_k_ == fresh.best_k_ and sweep.k_range == list(range(2, 9))


def test_more_restarts_add_only_the_new_ones(X, tmp_path, fit_log):
    folder = tmp_path / "ckpt"
    sweep_with(checkpoint=folder, n_init=2).fit(X)
    before = len(logged_fits(fit_log))
    grown = sweep_with(checkpoint=folder, n_init=4).fit(X)
    seeds = grown.results_["restart_seed"]
    new = set(logged_fits(fit_log)[before:])
    added = {(k, int(seeds[i, r])) for i, k in enumerate(range(2, 8)) for r in (2, 3)}
    assert added <= new
    assert len(new - added) <= 6  # at most a refit of each k's stored best restart
    fresh = sweep_with(n_init=4).fit(X)
    assert_same_results(grown, fresh)


def test_extend_needs_the_same_data(X, fit_log):
    sweep = sweep_with(k_range=range(2, 6)).fit(X)
    before = len(logged_fits(fit_log))
    sweep.extend(X * 2.0, k_range=[6])
    # other data: nothing is reused, every task runs again
    assert len(logged_fits(fit_log)) - before == 5 * 3
