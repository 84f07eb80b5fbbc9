"""Checkpoints that never delete what is not theirs, resume in a new process, keep every
finished fit when a write fails, and (fused engine) keep each run as soon as it finishes."""

import json
import os
import runpy
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import make_blobs

import ksweep._checkpoint
import ksweep._local
import ksweep._tasks
from ksweep import InvalidParameterError, KSweep
from ksweep.exceptions import (
    CheckpointMismatchError,
    CheckpointWriteError,
    CorruptCheckpointWarning,
    SweepInterrupted,
)

pytestmark = pytest.mark.filterwarnings("ignore::ksweep.NoElbowWarning")
SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(scope="module")
def X():
    data, _ = make_blobs(n_samples=150, centers=4, random_state=2)
    return data


def small(checkpoint, **params):
    defaults = {"k_range": range(2, 6), "n_init": 2, "random_state": 0}
    return KSweep(checkpoint=checkpoint, **{**defaults, **params})


def _count_fused_runs(monkeypatch) -> list:
    """The (k, restart) keys every fused group fits from now on (a list that fills up)."""
    computed = []
    real = ksweep._local.run_fused_group

    def counting(template, data, keys, *args):
        computed.extend(keys)
        return real(template, data, keys, *args)

    monkeypatch.setattr(ksweep._local, "run_fused_group", counting)
    return computed


def test_overwrite_deletes_only_ksweeps_own_files(X, tmp_path):
    mine = {"notes.json": '{"mine": 1}', "task-summary.json": "[]", "data.txt": "x"}
    mine["state-k2-r0-notes.json"] = "{}"  # a state file's name, but not one ksweep writes
    for name, text in mine.items():
        (tmp_path / name).write_text(text)
    small(tmp_path).fit(X)
    assert len(list(tmp_path.glob("task-k*-r*.json"))) == 8
    small(tmp_path, random_state=1, checkpoint_overwrite=True).fit(X + 1)
    for name, text in mine.items():
        assert (tmp_path / name).read_text() == text
    assert len(list(tmp_path.glob("task-k*-r*.json"))) == 8


def test_a_foreign_or_corrupt_manifest_is_refused_not_deleted(X, tmp_path):
    (tmp_path / "sweep.json").write_text('{"my": "own sweep settings"}')
    (tmp_path / "other.json").write_text("{}")
    with pytest.raises(CheckpointMismatchError, match="not a ksweep checkpoint manifest"):
        small(tmp_path, checkpoint_overwrite=True).fit(X)
    assert (tmp_path / "sweep.json").read_text() == '{"my": "own sweep settings"}'
    assert (tmp_path / "other.json").exists()


def test_an_empty_checkpoint_path_is_refused(X):
    with pytest.raises(
        InvalidParameterError, match="'checkpoint' parameter of KSweep must be a non-empty"
    ):
        small("").fit(X)


def inertia_score(model, X):
    return float(model.inertia_)


def test_callables_are_named_by_module_and_qualname(X, tmp_path):
    sweep = small(tmp_path, score_func=inertia_score).fit(X)
    identity = sweep._memory["identity"]
    assert identity["score_func"] == f"callable:{__name__}.inertia_score"
    assert "0x" not in str(identity)


@pytest.mark.parametrize("kind", ["lambda", "closure"])
def test_unnamable_callables_are_refused_with_a_checkpoint(X, tmp_path, kind):
    offset = 0.0

    def closure(model, X):
        return float(model.inertia_) + offset

    func = (lambda model, X: float(model.inertia_)) if kind == "lambda" else closure
    with pytest.raises(InvalidParameterError, match=r"'score_func' parameter.*cannot be named"):
        small(tmp_path, score_func=func).fit(X)
    small(None, score_func=func).fit(X)  # without a checkpoint it is fine


def test_the_same_script_resumes_in_a_new_process(tmp_path, monkeypatch):
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys
            from sklearn.cluster import KMeans
            from sklearn.datasets import make_blobs
            from sklearn.metrics import pairwise_distances_argmin_min
            from ksweep import KSweep

            def score(model, X):
                return float(pairwise_distances_argmin_min(X, model.cluster_centers_)[1].sum())

            X, _ = make_blobs(n_samples=100, centers=3, random_state=0)
            KSweep(KMeans(), k_range=range(2, 5), n_init=1, random_state=0,
                   score_func=score, checkpoint=sys.argv[1]).fit(X)
            """
        )
    )
    folder = tmp_path / "ck"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run([sys.executable, str(script), str(folder)], env=env, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    written = (folder / "sweep.json").read_text()
    assert "callable:__main__.score" in written and "0x" not in written
    # the same script again, as __main__ of another process (this one): it must resume
    monkeypatch.setattr(sys, "argv", [str(script), str(folder)])
    monkeypatch.setattr(ksweep._local.LocalRunner, "execute", refuse_new_tasks)
    runpy.run_path(str(script), run_name="__main__")
    assert (folder / "sweep.json").read_text() == written


def refuse_new_tasks(self, tasks, checkpoint, states=None):
    """LocalRunner.execute that allows only the refits of stored best restarts (no task run)."""
    assert not tasks or checkpoint is None, f"the resume ran {len(tasks)} new task(s)"
    return REAL_EXECUTE(self, tasks, checkpoint, states)


REAL_EXECUTE = ksweep._local.LocalRunner.execute


def test_a_failing_checkpoint_write_keeps_the_finished_tasks(X, tmp_path, monkeypatch):
    real = ksweep._checkpoint._write_atomic
    calls = []

    def disk_full(path, text, durable=True):
        calls.append(path.name)
        if path.name.startswith("task-") and len(calls) > 4:
            raise OSError(28, "No space left on device")
        real(path, text, durable=durable)

    monkeypatch.setattr(ksweep._checkpoint, "_write_atomic", disk_full)
    with pytest.raises(CheckpointWriteError, match="No space left") as caught:
        small(tmp_path, engine="independent", executor="serial").fit(X)
    assert isinstance(caught.value, OSError)
    assert len(caught.value.completed) == 4
    assert all(record.inertia > 0 for _, record in caught.value.completed)


def test_a_removed_checkpoint_directory_raises_with_completed(X, tmp_path, monkeypatch):
    folder = tmp_path / "ck"
    real_save = ksweep._checkpoint.Checkpoint.save

    def save_then_remove(self, key, seed, record):
        real_save(self, key, seed, record)
        for file in folder.iterdir():
            file.unlink()
        folder.rmdir()

    monkeypatch.setattr(ksweep._checkpoint.Checkpoint, "save", save_then_remove)
    with pytest.raises(CheckpointWriteError) as caught:
        small(folder, engine="independent", executor="serial").fit(X)
    assert len(caught.value.completed) == 2 and caught.value.__cause__ is not None


KILLED_FUSED = textwrap.dedent(
    """
    import sys
    import numpy as np
    from ksweep import KSweep
    X = np.random.default_rng(0).normal(size=(6000, 8))
    KSweep(k_range=range(2, 26), n_init=2, random_state=3, engine="fused",
           inner_threads=1, checkpoint=sys.argv[1]).fit(X)
    """
)


def test_a_sigkilled_fused_sweep_resumes_with_only_the_missing_runs(tmp_path, monkeypatch):
    X = np.random.default_rng(0).normal(size=(6000, 8))
    params = {"k_range": range(2, 26), "n_init": 2, "random_state": 3, "engine": "fused"}
    total = 24 * 2
    folder = tmp_path / "ck"
    script = tmp_path / "killed.py"
    script.write_text(KILLED_FUSED)
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    child = subprocess.Popen([sys.executable, str(script), str(folder)], env=env)
    try:
        deadline = time.monotonic() + 120
        while len(list(folder.glob("task-*.json"))) < total // 2:
            assert child.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    stored = {
        tuple(int(part[1:]) for part in p.stem.split("-")[1:]) for p in folder.glob("task-*.json")
    }
    assert total // 2 <= len(stored) < total
    real = ksweep._local.run_fused_group
    computed = _count_fused_runs(monkeypatch)
    resumed = KSweep(checkpoint=folder, inner_threads=1, **params).fit(X)
    every = {(k, r) for k in range(2, 26) for r in range(2)}
    results = resumed.results_
    best = set(zip(results["k"].tolist(), results["best_restart"].tolist(), strict=True))
    # the resume fits exactly the missing runs, once each; the models of stored best
    # restarts are rebuilt from their stored centers, not refitted
    assert sorted(computed) == sorted(every - stored)
    monkeypatch.setattr(ksweep._local, "run_fused_group", real)
    full = KSweep(inner_threads=1, **params).fit(X)
    assert_same_sweep(resumed, full)
    assert {key for key in best if key in stored}  # some models were rebuilt


def assert_same_sweep(resumed, full):
    """Equal ``results_`` (but fit times), choice and models, bit for bit."""
    for name, column in full.results_.items():
        if "fit_time" not in name:
            np.testing.assert_array_equal(resumed.results_[name], column, err_msg=name)
    assert resumed.best_k_ == full.best_k_
    for k, model in full.estimators_.items():
        again = resumed.estimators_[k]
        np.testing.assert_array_equal(again.labels_, model.labels_)
        np.testing.assert_array_equal(again.cluster_centers_, model.cluster_centers_)
        assert (again.inertia_, again.n_iter_) == (model.inertia_, model.n_iter_)


@pytest.mark.parametrize("why", ["an older checkpoint: no centers", "another inertia"])
def test_a_stored_best_run_that_cannot_be_rebuilt_is_refitted(X, tmp_path, monkeypatch, why):
    params = {"k_range": range(2, 8), "n_init": 3, "random_state": 1, "inner_threads": 1}
    full = KSweep(checkpoint=tmp_path, **params).fit(X)
    if why.startswith("an older"):  # task files as ksweep wrote them before it kept centers
        for file in tmp_path.glob("task-*.json"):
            entry = json.loads(file.read_text())
            del entry["payload"]["centered"]
            entry["checksum"] = ksweep._checkpoint._checksum(entry["payload"])
            file.write_text(json.dumps(entry))
        expected = set(best_keys(full))
    else:
        real_rebuild = ksweep._local.rebuild_fused

        def off_for_k3(template, X, ks, *args):
            records = real_rebuild(template, X, ks, *args)
            return [
                replace(r, inertia=r.inertia + (k == 3)) for k, r in zip(ks, records, strict=True)
            ]

        monkeypatch.setattr(ksweep._local, "rebuild_fused", off_for_k3)
        expected = {key for key in best_keys(full) if key[0] == 3}
    computed = _count_fused_runs(monkeypatch)
    assert_same_sweep(KSweep(checkpoint=tmp_path, **params).fit(X), full)
    assert sorted(computed) == sorted(expected)


def best_keys(sweep):
    results = sweep.results_
    return list(zip(results["k"].tolist(), results["best_restart"].tolist(), strict=True))


def task_keys(folder):
    return {
        tuple(int(part[1:]) for part in p.stem.split("-")[1:])
        for p in Path(folder).glob("task-*.json")
    }


def state_files(folder):
    """{file name: the keys of the runs whose state it holds}."""
    return {
        p.name: {tuple(run["key"]) for run in json.loads(p.read_text())["payload"]["runs"]}
        for p in Path(folder).glob("state-*.json")
    }


@pytest.mark.parametrize("tampered", [False, True])
def test_a_fused_sweep_killed_mid_group_goes_on_from_where_its_runs_stood(
    tmp_path, monkeypatch, tampered
):
    X = np.random.default_rng(0).normal(size=(3000, 6))
    params = {"k_range": range(2, 20), "n_init": 2, "random_state": 3, "inner_threads": 1}
    every = {(k, r) for k in range(2, 20) for r in range(2)}  # one fused group
    plain = KSweep(**params).fit(X)
    # every pass writes where the unfinished runs stand (the writer's clock never waits)
    monkeypatch.setattr(ksweep._tasks, "STATE_SECONDS", 0.0)
    monkeypatch.setattr(ksweep._tasks, "STATE_COST", np.inf)
    writer, passes, kill_at = ksweep._tasks._StateWriter.__call__, [0], [np.inf]

    def counting(self, snapshot):  # counts the passes that left runs unfinished
        writer(self, snapshot)
        passes[0] += 1
        if passes[0] == kill_at[0]:
            raise KeyboardInterrupt  # the kill, right after the states were written

    monkeypatch.setattr(ksweep._tasks._StateWriter, "__call__", counting)
    full = KSweep(checkpoint=tmp_path / "full", **params).fit(X)
    full_passes = passes[0]
    assert not state_files(tmp_path / "full")  # a finished group's states go
    assert_same_sweep(full, plain)  # states and checkpoints change no result

    passes[0], kill_at[0] = 0, 15
    with pytest.raises(SweepInterrupted):
        KSweep(checkpoint=tmp_path / "killed", **params).fit(X)
    finished = task_keys(tmp_path / "killed")
    ((name, standing),) = state_files(tmp_path / "killed").items()  # one file: the group's
    # every run is on disk: finished, or where it stood at the kill
    assert finished | standing == every and standing and not finished & standing
    passes[0], kill_at[0] = 0, np.inf
    if tampered:  # a torn state file: its runs start over
        (tmp_path / "killed" / name).write_text('{"payload": {"runs": [')
        with pytest.warns(CorruptCheckpointWarning, match=name):
            resumed = KSweep(checkpoint=tmp_path / "killed", **params).fit(X)
        assert passes[0] == full_passes
    else:
        resumed = KSweep(checkpoint=tmp_path / "killed", **params).fit(X)
        assert passes[0] == full_passes - 15  # it went on from pass 15: no pass ran twice
    assert_same_sweep(resumed, plain)
    assert not state_files(tmp_path / "killed")
