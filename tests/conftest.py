"""Fixtures shared by the test modules."""

import os
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def client():
    """A local distributed cluster of 2 single-threaded worker processes, per test module."""
    import distributed

    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as dask_client,
    ):
        yield dask_client


@pytest.fixture(scope="module")
def spark(request):
    """A SparkSession per test module: master ``local[2]``, or the module's ``SPARK_MASTER``.

    The executors' Python workers run this interpreter and import the ksweep under test.
    """
    from pyspark.sql import SparkSession

    import ksweep

    os.environ["PYSPARK_PYTHON"] = sys.executable  # createDataFrame from Python rows
    session = (
        SparkSession.builder.master(getattr(request.module, "SPARK_MASTER", "local[2]"))
        .appName("ksweep-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.driver.memory", "1g")
        .config("spark.executorEnv.PYTHONPATH", str(Path(ksweep.__file__).parents[1]))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
