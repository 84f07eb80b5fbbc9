"""What the default selection's checks cost: the no-structure test and the repair of suspicious k.

Seed-000 workload (11,346 x 100 float32, k = 3..49, max_iter=10, as in benchmarks/fused.py),
``KSweep(KMeans(max_iter=10), k_range=range(3, 50), n_init=...)``: the defaults first
(``selection="auto"``, ``n_init_max="auto"``), the repair off, the structure test off, then
both off (``selection="kneedle"``, ``n_init_max=None``), interleaved over ``--repeats``
rounds; the median seconds, the ratio to the checks-off row, the k chosen and the k
repaired. Then a plain ``KSweep(KMeans(), random_state=0).fit(X)`` (n_init=10, k = 2..10)
with and without the repair, on the seed-000 X and on scikit-learn's digits
(standardized), and the no-structure test alone.

Run:  python benchmarks/choosing_cost.py [--n-init 1] [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from executors import seismic_like_profiles
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from ksweep import KSweep
from ksweep._structure_check import check_structure

ROWS = {
    "defaults": {},
    "no repair (n_init_max=None)": {"n_init_max": None},
    "no structure test (selection='kneedle')": {"selection": "kneedle"},
    "both off": {"selection": "kneedle", "n_init_max": None},
}


def timed(X, repeats: int, rows: dict, **params) -> dict[str, tuple[float, str]]:
    """Median seconds and outcome of ``KSweep(**params, **row)`` per row, interleaved."""
    seconds: dict[str, list[float]] = {name: [] for name in rows}
    outcome: dict[str, str] = {}
    for _ in range(repeats):
        for name, row in rows.items():
            sweep = KSweep(random_state=0, **params, **row)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sweep.fit(X)
            seconds[name].append(time.perf_counter() - start)
            runs = sweep.results_.get("n_restarts_run")
            repaired = [] if runs is None else sweep.results_["k"][runs > runs.min()].tolist()
            outcome[name] = f"k={sweep.best_k_}, repaired k: {repaired}"
    return {name: (float(np.median(seconds[name])), outcome[name]) for name in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-init", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one round")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    X = np.asarray(seismic_like_profiles(), dtype=np.float32)
    rows = timed(
        X, repeats, ROWS, estimator=KMeans(max_iter=10), k_range=range(3, 50), n_init=args.n_init
    )
    base = rows["both off"][0]
    print(f"seed-000 workload {X.shape}, n_init={args.n_init}, median of {repeats}")
    for name, (median, outcome) in rows.items():
        print(f"{name:<42} {median:7.2f} s  x{median / base:5.2f}  {outcome}")
    plain = {"KSweep(KMeans())": {}, "KSweep(KMeans(), n_init_max=None)": {"n_init_max": None}}
    digits = StandardScaler().fit_transform(load_digits().data)
    for name, data in (("seed-000 X", X), ("digits, standardized", digits)):
        rows = timed(data, repeats, plain, estimator=KMeans())
        base = rows["KSweep(KMeans(), n_init_max=None)"][0]
        print(f"\n{name} {data.shape}, n_init=10, k = 2..10, median of {repeats}")
        for row, (median, outcome) in rows.items():
            print(f"{row:<42} {median:7.2f} s  x{median / base:5.2f}  {outcome}")
    lo, hi = X.min(axis=0), X.max(axis=0)
    start = time.perf_counter()
    test = check_structure(X, lo, hi, 0)
    print(
        f"{'no-structure test alone (1,000 rows, B=10)':<42} {time.perf_counter() - start:7.2f} s"
    )
    print(test.reason)


if __name__ == "__main__":
    main()
