"""The background load of the compiled kernels at import (ksweep._preload)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CHECK = (
    "import ksweep, ksweep._kernels as k, ksweep._preload as p; p.wait(); "
    "print(len(k._KERNELS), [t.name for t in p._THREAD])"
)


def _run(code: str, preload: str | None) -> str:
    env = os.environ.copy()
    env.pop("KSWEEP_PRELOAD", None)
    if preload is not None:
        env["KSWEEP_PRELOAD"] = preload
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_import_loads_the_kernels_in_the_background():
    assert _run(CHECK, None) == "1 ['ksweep-preload']"


def test_ksweep_preload_0_turns_it_off():
    assert _run(CHECK, "0") == "0 []"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX-only")
def test_a_fork_right_after_import_runs_a_sweep_in_the_child():
    code = (
        "import os, numpy as np, ksweep\n"
        "from ksweep import KSweep\n"
        "pid = os.fork()\n"  # at once: the background load may still be running
        "if pid == 0:\n"
        "    X = np.random.default_rng(0).normal(size=(200, 3))\n"
        "    s = KSweep(k_range=[2, 3, 4, 5], n_init=1, random_state=0, selection='two_segment')\n"
        "    s.fit(X)\n"
        "    os._exit(0 if s.results_.engine == 'fused' else 3)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "print(os.waitstatus_to_exitcode(status))\n"
    )
    assert _run(code, None) == "0"
