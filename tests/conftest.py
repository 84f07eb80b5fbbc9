"""Fixtures shared by the test modules."""

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
