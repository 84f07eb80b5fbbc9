"""What the default selection's checks cost: the no-structure test and the repair of suspicious k.

Seed-000 workload (11,346 x 100 float32, k = 3..49, max_iter=10, as in benchmarks/fused.py),
``KSweep(KMeans(max_iter=10), k_range=range(3, 50), n_init=...)``: the defaults first
(``selection="auto"``), with the repair on (``n_init_max="auto"``), the structure test off,
then both off (the defaults before them: ``selection="kneedle"``, ``n_init_max=None``),
interleaved over ``--repeats`` rounds; the median seconds, the ratio to the checks-off row,
the k chosen and the k repaired. Then the no-structure test alone.

Run:  python benchmarks/choosing_cost.py [--n-init 1] [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from executors import seismic_like_profiles
from sklearn.cluster import KMeans

from ksweep import KSweep
from ksweep._structure_check import check_structure

ROWS = {
    "defaults (selection='auto')": {},
    "with repair (n_init_max='auto')": {"n_init_max": "auto"},
    "no structure test (selection='kneedle')": {"selection": "kneedle"},
    "both off (the previous defaults)": {"selection": "kneedle", "n_init_max": None},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-init", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one round")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    X = np.asarray(seismic_like_profiles(), dtype=np.float32)
    seconds: dict[str, list[float]] = {name: [] for name in ROWS}
    outcome: dict[str, str] = {}
    for _ in range(repeats):
        for name, params in ROWS.items():
            sweep = KSweep(
                KMeans(max_iter=10), k_range=range(3, 50), n_init=args.n_init, random_state=0,
                **params,
            )  # fmt: skip
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sweep.fit(X)
            seconds[name].append(time.perf_counter() - start)
            runs = sweep.results_.get("n_restarts_run")
            repaired = [] if runs is None else sweep.results_["k"][runs > args.n_init].tolist()
            outcome[name] = f"k={sweep.best_k_}, repaired k: {repaired}"
    base = np.median(seconds["both off (the previous defaults)"])
    print(f"seed-000 workload {X.shape}, n_init={args.n_init}, median of {repeats}")
    for name in ROWS:
        median = np.median(seconds[name])
        print(f"{name:<42} {median:7.2f} s  x{median / base:5.2f}  {outcome[name]}")
    lo, hi = X.min(axis=0), X.max(axis=0)
    start = time.perf_counter()
    test = check_structure(X, lo, hi, 0)
    print(
        f"{'no-structure test alone (1,000 rows, B=10)':<42} {time.perf_counter() - start:7.2f} s"
    )
    print(test.reason)


if __name__ == "__main__":
    main()
