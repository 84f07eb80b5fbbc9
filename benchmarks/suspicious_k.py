"""How well ``ksweep.convergence.suspicious_k`` names the k that more restarts improve.

Each data set is swept once with ``--restarts`` restarts per k (KMeans, the fused engine);
the first n of them are "a sweep with n_init=n" (restart r of k has the same seed
whatever n_init is). For n_init in 1, 2, 3, 5 and 10, a k counts as **under-converged**
when the best of the first ``max(2 n, 4)`` restarts (the repair's budget,
``n_init_max="auto"``) is more than 1% below the best of the first n. Reported per n_init:
how many sweeps the detector (its defaults: a rise over the previous k, or a convexity
break of more than 0.75 median gains) would repair, how many k it names, and how many of
those were under-converged (its precision), against the rate among all k; then the same for
the restart-spread test (``spread_tol=0.1``, off by default) and for the convexity test
scaled by the mean gain instead of the median (``convexity_tol=0.25``, the first version).

Then a recall check: on blob data with a known k (six blobs in two groups of three, six
in 5-D, five in 3-D), k = 1..10 and 2..10, the best-of-10 curve with k* replaced by a fit
from a poor start (two centers in one blob, none in another): how often each test names k*.

Data sets: those of ``benchmarks/selection_accuracy.py`` (2 realizations each),
scikit-learn's digits (standardized and raw, k = 2..15), six blobs in 5-D and three wide
blobs in 2-D (3 seeds each); with ``--seed000`` also the seed-000 workload
(11,346 x 100 float32, KMeans(max_iter=10), k = 3..49, n_init 1..5 only).

Run:  python benchmarks/suspicious_k.py [--restarts 30] [--seed000] [--quick]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from executors import seismic_like_profiles
from selection_accuracy import DATASETS
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits, make_blobs
from sklearn.preprocessing import StandardScaler

from ksweep import KSweep
from ksweep.convergence import suspicious_k

N_INITS = (1, 2, 3, 5, 10)
SIX = np.array([[0, 0], [6, 0], [3, 5], [20, 0], [26, 0], [23, 5]], dtype=float)


def data_sets(realizations: int, seed000: bool):
    """(name, X, k_range, estimator) of every sweep."""
    for _, name, _, make in DATASETS:
        for r in range(realizations):
            yield f"{name} #{r}", make(np.random.default_rng(1000 + r)), range(1, 11), KMeans()
    digits = load_digits().data
    yield "digits, standardized", StandardScaler().fit_transform(digits), range(2, 16), KMeans()
    yield "digits, raw", digits, range(2, 16), KMeans()
    for s in range(3):
        X, _ = make_blobs(2000, centers=6, n_features=5, random_state=s)
        yield f"six blobs in 5-D #{s}", X, range(1, 13), KMeans()
        X, _ = make_blobs(1000, centers=3, n_features=2, cluster_std=2.5, random_state=s)
        yield f"three wide blobs #{s}", X, range(2, 11), KMeans()
    if seed000:
        yield "seed-000 workload", seismic_like_profiles(), range(3, 50), KMeans(max_iter=10)


def mean_scaled(k, w, tol=0.25):
    """The first version's convexity test: excess in mean gains (for comparison)."""
    k, w = np.asarray(k, float), np.asarray(w, float)
    gains = -np.diff(w) / np.diff(k)
    mean = (w[0] - w[-1]) / (k[-1] - k[0])
    named = np.zeros(k.shape, dtype=bool)
    if mean > 0 and k.size >= 3:
        named[1:-1] = (gains[1:] - gains[:-1]) / mean > tol
    return named


def tally(sweeps: list[tuple[str, np.ndarray, np.ndarray]]) -> None:
    print(
        f"{'n_init':>6} {'test':<26} {'sweeps':>6} {'repaired':>8} {'k named':>7} "
        f"{'improved':>8} {'precision':>9} {'all k':>6} {'improved':>8} {'rate':>5}"
    )
    for n in N_INITS:
        budget = max(2 * n, 4)
        counts: dict[str, list[int]] = {}
        total = [0, 0, 0]
        for _, k, runs in sweeps:
            if runs.shape[1] < budget:
                continue
            best = runs[:, :n].min(axis=1)
            improved = runs[:, :budget].min(axis=1) < best * 0.99
            total[0] += 1
            total[1] += k.size
            total[2] += int(improved.sum())
            tests = {
                "default (rise, convexity)": suspicious_k(k, best, runs[:, :n]).suspicious,
                "spread (spread_tol=0.1)": suspicious_k(
                    k, best, runs[:, :n], spread_tol=0.1
                ).wide_spread,
                "convexity in mean gains": mean_scaled(k, best),
            }
            for test, named in tests.items():
                c = counts.setdefault(test, [0, 0, 0])
                c[0] += bool(named.any())
                c[1] += int(named.sum())
                c[2] += int((named & improved).sum())
        for test, (swept, named, good) in counts.items():
            precision = f"{good / named:.2f}" if named else "-"
            print(
                f"{n:>6} {test:<26} {total[0]:>6} {swept:>8} {named:>7} {good:>8} "
                f"{precision:>9} {total[1]:>6} {total[2]:>8} {total[2] / total[1]:>5.2f}"
            )


def recall() -> None:
    print("\nA poor start at the true k (k*), best of 10 elsewhere: named by each test")
    hits = {"default": [0, 0], "convexity in mean gains": [0, 0]}
    for s in range(3):
        rng = np.random.default_rng(s)
        six = np.concatenate([c + 0.5 * rng.normal(size=(60, 2)) for c in SIX])
        cases = [(six, np.repeat(np.arange(6), 60))]
        cases.append(make_blobs(1500, centers=6, n_features=5, random_state=s))
        cases.append(make_blobs(1500, centers=5, n_features=3, cluster_std=1.5, random_state=s))
        for X, y in cases:
            true_k = int(y.max()) + 1
            means = np.array([X[y == c].mean(axis=0) for c in range(true_k)])
            ks = np.arange(1, 11)
            good = np.array([KMeans(int(k), n_init=10, random_state=0).fit(X).inertia_ for k in ks])
            for j in range(1, true_k):
                init = means.copy()
                init[j] = means[0] + 0.1 * X[y == 0].std(axis=0)
                poor = KMeans(true_k, init=init, n_init=1).fit(X).inertia_
                if poor < good[true_k - 1] * 1.01:  # the start found the optimum anyway
                    continue
                curve = good.copy()
                curve[true_k - 1] = poor
                for low in (1, 2):
                    keep = ks >= low
                    i = true_k - low
                    hits["default"][0] += suspicious_k(ks[keep], curve[keep]).suspicious[i]
                    hits["convexity in mean gains"][0] += mean_scaled(ks[keep], curve[keep])[i]
                    for counts in hits.values():
                        counts[1] += 1
    for test, (hit, cases) in hits.items():
        print(f"  {test:<26} {hit} of {cases}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--restarts", type=int, default=30)
    parser.add_argument("--realizations", type=int, default=2)
    parser.add_argument("--seed000", action="store_true", help="add the seed-000 workload")
    parser.add_argument("--quick", action="store_true", help="1 realization, 20 restarts")
    args = parser.parse_args()
    restarts = 20 if args.quick else args.restarts
    realizations = 1 if args.quick else args.realizations
    start = time.perf_counter()
    sweeps = []
    for name, X, k_range, estimator in data_sets(realizations, args.seed000):
        n = 10 if name.startswith("seed-000") else restarts
        for random_state in (0, 1):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sweep = KSweep(
                    estimator, k_range=k_range, n_init=n, random_state=random_state,
                    n_init_max=None, selection="kneedle",
                )  # fmt: skip
                sweep.fit(X)
            results = sweep.results_
            sweeps.append((name, results["k"], results["restart_inertia"]))
    print(f"{len(sweeps)} sweeps in {time.perf_counter() - start:.0f} s\n")
    tally(sweeps)
    recall()


if __name__ == "__main__":
    main()
