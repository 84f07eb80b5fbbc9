"""Time a sweep as a new user first meets it: the first ``fit`` in a fresh Python process.

The child process imports ksweep, builds the data with a function of these benchmark
scripts, then times its first ``fit`` (numba loading its cached kernels, thread pools
starting: everything a notebook's first call pays) and prints the seconds and the result.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: The environment as this benchmark started, for the fresh processes: a dask LocalCluster
#: started later in the parent sets OMP_NUM_THREADS=1 (and the BLAS variables) in the
#: parent's os.environ for its workers, and a child inheriting them would run on one core.
START_ENV = dict(os.environ)


def first_fit(data: str, sweep: str) -> dict:
    """Run ``sweep`` (an expression using ``X``) once in a fresh process; return its record.

    ``data`` is a statement that defines ``X`` (it may import from the benchmark scripts).
    The record has ``seconds`` (the first fit), ``import_s`` (importing ksweep and
    scikit-learn; numba and the kernels keep loading in the background, see
    ``ksweep._preload``), ``data_s`` (building X), ``total_s`` (all three),
    ``best_k``, ``engine`` and ``inertia`` (per k).
    """
    script = textwrap.dedent(
        f"""
        import json, time, warnings
        start = begin = time.perf_counter()
        import ksweep
        from ksweep import KSweep
        from sklearn.cluster import KMeans
        import_s = time.perf_counter() - start
        start = time.perf_counter()
        {data}
        data_s = time.perf_counter() - start
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        sweep = {sweep}
        seconds = time.perf_counter() - start
        print(json.dumps({{
            "seconds": seconds, "import_s": import_s, "data_s": data_s,
            "total_s": time.perf_counter() - begin, "best_k": int(sweep.best_k_),
            "engine": sweep.results_.engine,
            "inertia": [float(v) for v in sweep.results_["inertia"]],
        }}))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=HERE,
        capture_output=True,
        text=True,
        check=True,
        env=START_ENV,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])
