"""k sweeps on Spark: SparkKSweep's fused engine against MLlib's KMeans, in one run.

1,000,000 rows × 10 features drawn around 8 well-separated centers (generated inside Spark,
cached once before any timing), k = 2..12, one restart per k, maxIter = 20, ``local[2]``.
Rows, in this order:

- **SparkKSweep()**: the defaults, i.e. the fused engine: one Spark job per Lloyd iteration
  for every k at once, each run started from the best of five k-means++ draws refined on a
  20,000-row sample;
- **MLlib loop**: the loop users write today,
  ``for k in ...: KMeans(k=k, seed=s, maxIter=20).fit(df)`` (k-means||);
- **SparkKSweep(engine="mllib")**: the same MLlib fits, two submitted at once.

The MLlib loop and ``engine="mllib"`` use the same seed per k (ksweep's
``SeedSequence(0, spawn_key=(k, 0))`` seed), so their first restart's ``trainingCost`` per k
must be equal; the default repair (``n_init_max="auto"``) may give a k more restarts, and
the script names those k.
The table puts the best cost per k side by side: the fused engine's must be within 1% of
MLlib's or lower. A second, smaller workload (60,000 × 6 around 6 centers, k = 2..10, the
defaults as a new user would call them) prints the k each engine chooses.

Both engines are warmed up first (Spark's JIT, the Python workers' imports, numba's cache).

Run:  python benchmarks/spark.py [--quick] [--rows 1000000] [--repeats 1] [--master local[2]]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from ksweep._seeding import seed_entropy, task_seeds
from ksweep.spark import SparkKSweep


def spark_session(master: str):
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    import ksweep

    session = (
        SparkSession.builder.master(master)
        .appName("ksweep-benchmark")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "2g")
        .config("spark.sql.shuffle.partitions", "2")
        # the executors' Python workers import the ksweep being measured
        .config("spark.executorEnv.PYTHONPATH", os.path.dirname(os.path.dirname(ksweep.__file__)))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def blob_rows(spark, n_rows: int, n_features: int, n_centers: int, seed: int = 0):
    """A cached DataFrame with a 'features' vector column: Gaussian blobs, built in the JVM."""
    from pyspark.ml.functions import array_to_vector
    from pyspark.sql import functions as F

    centers = np.random.default_rng(seed).uniform(-10, 10, size=(n_centers, n_features))
    label = (F.col("id") % n_centers).cast("int") + 1  # element_at is 1-based
    coords = [
        F.element_at(F.array(*[F.lit(float(c)) for c in centers[:, j]]), label)
        + F.randn(seed + 1 + j)
        for j in range(n_features)
    ]
    df = (
        spark.range(0, n_rows, numPartitions=spark.sparkContext.defaultParallelism)
        .select(array_to_vector(F.array(*coords)).alias("features"))
        .cache()
    )
    df.count()
    return df


def mllib_loop(df, k_values, seeds, max_iter: int):
    from pyspark.ml.clustering import KMeans

    costs = []
    start = time.perf_counter()
    for k, seed in zip(k_values, seeds, strict=True):
        model = KMeans(k=int(k), seed=int(seed), maxIter=max_iter).fit(df)
        costs.append(model.summary.trainingCost)
    return time.perf_counter() - start, np.array(costs)


def timed_sweep(df, **params):
    start = time.perf_counter()
    sweep = SparkKSweep(random_state=0, **params).fit(df)
    return time.perf_counter() - start, sweep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--centers", type=int, default=8)
    parser.add_argument("--k-max", type=int, default=12)
    parser.add_argument("--max-iter", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument(
        "--quick", action="store_true", help="100,000 rows, no second workload: a fast check"
    )
    args = parser.parse_args()
    if args.quick:
        args.rows = min(args.rows, 100_000)

    spark = spark_session(args.master)
    import pyspark

    k_values = np.arange(2, args.k_max + 1)
    seeds = task_seeds(seed_entropy(0), k_values, 1)[:, 0]
    t0 = time.perf_counter()
    df = blob_rows(spark, args.rows, args.features, args.centers)
    build = time.perf_counter() - t0
    print(
        f"pyspark {pyspark.__version__}, master {args.master}, {os.cpu_count()} CPU(s), "
        f"load average {os.getloadavg()[0]:.1f}; {args.rows:,} rows × {args.features} features "
        f"around {args.centers} centers ({df.rdd.getNumPartitions()} partitions, generated and "
        f"cached in {build:.1f} s); k = 2..{args.k_max}, n_init=1, maxIter={args.max_iter}"
    )
    from pyspark.ml.clustering import KMeans

    KMeans(k=2, seed=1, maxIter=2).fit(df)  # warm-up: JIT, first-job overheads
    warm = df.limit(5_000).cache()
    SparkKSweep(k_range=range(2, 5), selection=lambda k, r: 2).fit(warm)  # workers, numba
    warm.unpersist()

    params = dict(k_range=k_values, max_iter=args.max_iter)
    walls = {"fused": [], "loop": [], "mllib": []}
    for _ in range(args.repeats):
        wall, fused = timed_sweep(df, **params)
        walls["fused"].append(wall)
        wall, loop_costs = mllib_loop(df, k_values, seeds, args.max_iter)
        walls["loop"].append(wall)
        wall, mllib = timed_sweep(df, engine="mllib", **params)
        walls["mllib"].append(wall)

    fused_cost, mllib_cost = fused.results_["inertia"], mllib.results_["inertia"]
    print()
    print(
        f"{'k':>3} {'fused cost':>16} {'MLlib loop cost':>16} {'fused/MLlib':>11} "
        f"{'engine=mllib cost':>18} {'fused n_iter':>12} {'MLlib n_iter':>12}"
    )
    for i, k in enumerate(k_values):
        print(
            f"{k:>3} {fused_cost[i]:>16.1f} {loop_costs[i]:>16.1f} "
            f"{fused_cost[i] / loop_costs[i]:>11.4f} {mllib_cost[i]:>18.1f} "
            f"{fused.results_['n_iter'][i]:>12d} {mllib.results_['n_iter'][i]:>12d}"
        )
    best = {name: min(values) for name, values in walls.items()}
    loop = best["loop"]
    print()
    print(f"(best of {args.repeats})                   wall s   vs MLlib loop   chose k")
    print(
        f"SparkKSweep() [{fused.results_.engine}]     {best['fused']:8.1f}   "
        f"{loop / best['fused']:10.1f}x   {fused.best_k_:>7}"
    )
    print(f"MLlib loop over k                {loop:8.1f}   {1.0:10.1f}x")
    print(
        f"SparkKSweep(engine='mllib')      {best['mllib']:8.1f}   "
        f"{loop / best['mllib']:10.1f}x   {mllib.best_k_:>7}"
    )
    worst = float(np.max(fused_cost / loop_costs))
    print(
        f"fused cost within 1% of MLlib's (or lower) for every k: {worst <= 1.01} "
        f"(largest ratio {worst:.4f}); engine='mllib' first-restart costs equal the loop's: "
        f"{np.allclose(mllib.results_['restart_inertia'][:, 0], loop_costs, rtol=1e-9)}; "
        f"true k = {args.centers}"
    )
    for name, sweep in (("fused", fused), ("engine='mllib'", mllib)):
        runs = sweep.results_["n_restarts_run"]
        named = [int(k) for k, n in zip(k_values, runs, strict=True) if n > 1]
        print(f"repaired by the default n_init_max='auto' ({name}): k = {named or 'none'}")
    df.unpersist()

    if not args.quick:
        small = blob_rows(spark, 60_000, 6, 6, seed=6)
        print()
        print("60,000 × 6 around 6 centers, k = 2..10, defaults otherwise:")
        for label, engine in (("SparkKSweep()", "auto"), ("SparkKSweep(engine='mllib')", "mllib")):
            wall, sweep = timed_sweep(small, k_range=range(2, 11), engine=engine)
            costs = ", ".join(f"{c:,.0f}" for c in sweep.results_["inertia"][3:6])
            print(
                f"{label:<28} {wall:6.1f} s, chose k = {sweep.best_k_} "
                f"(cost at k = 5, 6, 7: {costs})"
            )
        small.unpersist()
    spark.stop()


if __name__ == "__main__":
    main()
