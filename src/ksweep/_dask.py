"""The dask backend: tasks as futures on a ``distributed.Client``. Imported lazily."""

from __future__ import annotations

try:
    import distributed
    from distributed.cfexecutor import ClientExecutor
except ImportError as exc:  # pragma: no cover - exercised without the extra only
    raise ImportError(
        "executor='dask' (or a distributed.Client) needs dask and distributed: "
        "pip install 'ksweep[dask]'"
    ) from exc

from ksweep._executors import effective_n_jobs


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
    cores by default) and no dashboard.
    """
    try:
        return DaskExecutor(distributed.get_client())
    except ValueError:  # no current client
        pass
    cluster = distributed.LocalCluster(
        n_workers=effective_n_jobs(n_jobs),
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
    )
    return DaskExecutor(distributed.Client(cluster), owns_client=True)
