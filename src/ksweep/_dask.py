"""The dask backend: tasks as futures on a ``distributed.Client``. Imported lazily."""

from __future__ import annotations

try:
    import dask
    import distributed
    from distributed.cfexecutor import ClientExecutor
except ImportError as exc:  # pragma: no cover - exercised without the extra only
    raise ImportError(
        "executor='dask' (or a distributed.Client) needs dask and distributed: "
        "pip install 'ksweep[dask]'"
    ) from exc

from ksweep._threads import effective_n_jobs

#: dask's config key for the malloc trim threshold its nannies set in worker processes.
MALLOC_TRIM_KEY = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"


class DaskExecutor(ClientExecutor):
    """A ``concurrent.futures`` view of a Client that may own the Client and its cluster.

    Parameters
    ----------
    client : distributed.Client
        Where tasks run.
    owns_client : bool, default=False
        Close the client and its cluster on ``shutdown``. Only for a Client
        ksweep started itself; a user's Client is never closed.
    """

    def __init__(self, client, *, owns_client: bool = False):
        super().__init__(client, pure=False)
        self._owns_client = owns_client

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        super().shutdown(wait=wait and not cancel_futures)
        if self._owns_client:
            cluster = self._client.cluster
            self._client.close()
            if cluster is not None:
                cluster.close()


def dask_executor(n_jobs: int | None) -> DaskExecutor:
    """Use the current Client if there is one, else start a local cluster and own it.

    The local cluster has ``n_jobs`` single-threaded worker processes (all
    cores by default), no dashboard, and glibc's adaptive malloc left alone:
    dask's default ``MALLOC_TRIM_THRESHOLD_=65536`` turns every large
    temporary array of a k-means iteration into fresh pages (1.4 million
    page faults per worker and 1.9x the wall time on the seed-000 sweep).
    """
    try:
        return DaskExecutor(distributed.get_client())
    except ValueError:  # no current client
        pass
    with dask.config.set({MALLOC_TRIM_KEY: None}):
        cluster = distributed.LocalCluster(
            n_workers=effective_n_jobs(n_jobs),
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )
    return DaskExecutor(distributed.Client(cluster), owns_client=True)
