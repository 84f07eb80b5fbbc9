"""Seed workload on Spark: k-means per k with PySpark MLlib, sequential vs ksweep's concurrent fits.

1,000,000 rows × 10 features drawn around 8 well-separated centers (generated inside Spark,
cached once before any timing), ``pyspark.ml.clustering.KMeans`` (k-means||, maxIter=20) for
k = 2..12, one fit per k, on ``local[2]``:

- **sequential**: the loop users write today, ``for k in ...: KMeans(k=k, seed=s).fit(df)``;
- **ksweep**: ``SparkKSweep(concurrency=2)``, whose two driver threads submit the fits for
  two k at once, largest k first.

Both use the same seed per k (ksweep's ``SeedSequence(0, spawn_key=(k, 0))`` seed), so the
``trainingCost`` of each k must be the same in both. The table prints both side by side.

Run:  python benchmarks/spark.py [--rows 1000000] [--concurrency 2] [--repeats 1]
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
    session = (
        SparkSession.builder.master(master)
        .appName("ksweep-benchmark")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "2g")
        .config("spark.sql.shuffle.partitions", "2")
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


def sequential(df, k_values, seeds, max_iter: int):
    from pyspark.ml.clustering import KMeans

    costs, times = [], []
    start = time.perf_counter()
    for k, seed in zip(k_values, seeds, strict=True):
        t0 = time.perf_counter()
        model = KMeans(k=int(k), seed=int(seed), maxIter=max_iter).fit(df)
        times.append(time.perf_counter() - t0)
        costs.append(model.summary.trainingCost)
    return time.perf_counter() - start, np.array(costs), np.array(times)


def with_ksweep(df, k_values, concurrency: int, max_iter: int):
    start = time.perf_counter()
    sweep = SparkKSweep(
        k_range=k_values, n_init=1, random_state=0, max_iter=max_iter, concurrency=concurrency
    ).fit(df)
    return time.perf_counter() - start, sweep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--centers", type=int, default=8)
    parser.add_argument("--k-max", type=int, default=12)
    parser.add_argument("--max-iter", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()

    spark = spark_session(args.master)
    import pyspark

    k_values = np.arange(2, args.k_max + 1)
    seeds = task_seeds(seed_entropy(0), k_values, 1)[:, 0]
    t0 = time.perf_counter()
    df = blob_rows(spark, args.rows, args.features, args.centers)
    build = time.perf_counter() - t0
    print(
        f"pyspark {pyspark.__version__}, master {args.master}, {os.cpu_count()} CPU(s); "
        f"{args.rows:,} rows × {args.features} features around {args.centers} centers "
        f"({df.rdd.getNumPartitions()} partitions, generated and cached in {build:.1f} s); "
        f"KMeans k-means||, maxIter={args.max_iter}, k = 2..{args.k_max}, one fit per k"
    )
    from pyspark.ml.clustering import KMeans

    KMeans(k=2, seed=1, maxIter=2).fit(df)  # warm-up: JIT, first-job overheads

    seq_walls, sweep_walls = [], []
    for _ in range(args.repeats):
        seq_wall, seq_costs, seq_times = sequential(df, k_values, seeds, args.max_iter)
        sweep_wall, sweep = with_ksweep(df, k_values, args.concurrency, args.max_iter)
        seq_walls.append(seq_wall)
        sweep_walls.append(sweep_wall)

    results = sweep.results_
    print()
    print(
        f"{'k':>3} {'sequential cost':>18} {'ksweep cost':>18} {'same':>5} "
        f"{'seq fit s':>9} {'ksweep fit s':>12}"
    )
    for i, k in enumerate(k_values):
        same = seq_costs[i] == results["inertia"][i]
        print(
            f"{k:>3} {seq_costs[i]:>18.6f} {results['inertia'][i]:>18.6f} "
            f"{'yes' if same else 'NO':>5} {seq_times[i]:>9.2f} {results['fit_time'][i]:>12.2f}"
        )
    seq_best, sweep_best = min(seq_walls), min(sweep_walls)
    identical = np.array_equal(seq_costs, results["inertia"])
    close = np.allclose(seq_costs, results["inertia"], rtol=1e-9, atol=0)
    print()
    print(f"sequential loop over k          : {seq_best:7.1f} s wall (best of {args.repeats})")
    print(
        f"ksweep, concurrency={args.concurrency}           : {sweep_best:7.1f} s wall "
        f"(best of {args.repeats}), {seq_best / sweep_best:.2f}x"
    )
    print(
        f"trainingCost per k identical: {identical} (within 1e-9 relative: {close}); "
        f"ksweep chose k = {sweep.best_k_} ({sweep.elbow_.reason})"
    )
    df.unpersist()
    spark.stop()


if __name__ == "__main__":
    main()
