"""Choose k for k-means on Spark: SparkKSweep on a Spark DataFrame.

Builds a Spark DataFrame of 6 Gaussian blobs in five numeric columns (x0..x4, generated
inside Spark), assembles them into a vector column with ``assemble_features``, sweeps
k = 2..12 with 2 seeded restarts per k with the fused engine (every k in one Spark job per
Lloyd iteration; the executors' Python workers import numpy, pyarrow, numba and ksweep),
and scores each k's best model with Spark's silhouette. It prints the table per k, what
every selection method chooses, the chosen k and the cluster sizes under the chosen model
(a ``pyspark.ml.clustering.KMeansModel``); with a path argument it also saves the plot.
``engine="mllib"`` would fit MLlib's own ``KMeans`` per (k, restart) instead.

Run:  python examples/spark_sweep.py [plot.png]
Needs pyspark and Java 17+ (pip install "ksweep[spark]"). Set KSWEEP_EXAMPLE_QUICK=1 for a
reduced run (fewer rows, k = 2..9, one restart per k), as the tests do; SPARK_MASTER picks
the master (default local[2]).
"""

import os
import sys
import time

import numpy as np
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from ksweep.spark import SparkKSweep, assemble_features

quick = os.environ.get("KSWEEP_EXAMPLE_QUICK") == "1"
n_rows = 20_000 if quick else 300_000
k_range = range(2, 10) if quick else range(2, 13)
n_centers, n_features = 6, 5

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
spark = (
    SparkSession.builder.master(os.environ.get("SPARK_MASTER", "local[2]"))
    .appName("ksweep-example")
    .config("spark.ui.enabled", "false")
    .config("spark.ui.showConsoleProgress", "false")
    .config("spark.driver.memory", "2g")
    .config("spark.sql.shuffle.partitions", "4")
    .getOrCreate()
)
spark.sparkContext.setLogLevel("ERROR")

# Gaussian blobs around 6 centers in five numeric columns, as data often arrives in Spark
centers = np.random.default_rng(0).uniform(-8, 8, size=(n_centers, n_features))
label = (F.col("id") % n_centers).cast("int") + 1
columns = [
    (F.element_at(F.array(*[F.lit(float(c)) for c in centers[:, j]]), label) + F.randn(j)).alias(
        f"x{j}"
    )
    for j in range(n_features)
]
points = spark.range(n_rows).select(*columns)
df = assemble_features(points, [f"x{j}" for j in range(n_features)]).cache()

sweep = SparkKSweep(
    k_range=k_range,
    n_init=1 if quick else 2,
    random_state=0,
    scoring=("silhouette",),
)
start = time.perf_counter()
sweep.fit(df)
elapsed = time.perf_counter() - start

print(
    f"{n_rows:,} rows × {n_features} columns in Spark, {n_centers} true clusters; "
    f"{sweep.results_.n_restarts} restart(s) per k, {sweep.results_.engine} engine, "
    f"{elapsed:.1f} s"
)
print(sweep.results_.to_text(marked_k=sweep.best_k_))
print()
print(sweep.summary())
print(f"chosen k = {sweep.best_k_} ({sweep.elbow_.method})")

sizes = sweep.predict(df).groupBy("prediction").count().orderBy("prediction").collect()
print("cluster sizes:", {row.prediction: row["count"] for row in sizes})

if len(sys.argv) > 1:
    import matplotlib

    matplotlib.use("Agg")
    sweep.plot().savefig(sys.argv[1], dpi=100)
    print(f"plot written to {sys.argv[1]}")

df.unpersist()
spark.stop()
