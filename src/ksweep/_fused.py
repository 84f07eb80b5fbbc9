"""The fused k-means engine: every (k, restart) Lloyd run of a group shares each pass over X.

A sweep over k repeats the same work: every k reads all of X every iteration in
small, memory-bound products. Here the centers of all runs of a group are stacked,
so each iteration is one large product per block of rows (``X_block @ centers.T``,
in X's dtype), followed by a compiled per-run argmin and center-sum kernel.

Semantics per run are scikit-learn's Lloyd k-means:

- greedy k-means++ seeding (``2 + int(log k)`` candidates per step) from the run's
  own seed, all runs advancing in lockstep so their candidates share one product;
  or, for a sweep, nested: the runs of one restart take their first k centers from
  one shared sequence (``chains``), so a restart's seeding costs one k-means++ to
  its largest k instead of one per k. The first k centers of a sequence are drawn
  the same whatever k it runs to (:func:`nested_trials`), so a run's start depends
  on its restart's seed and its k only;
- an iteration assigns every row to its nearest center and moves each center to
  the mean of its rows; an empty cluster takes the row farthest from its center;
- a run stops when its labels repeat, when its centers move less than ``tol``
  (scikit-learn: squared shift summed over centers ≤ ``tol`` × mean feature
  variance; tslearn: mean inertia changed by less than ``tol``), or at ``max_iter``;
  then its rows are assigned once more to the final centers, and its inertia is the
  exact sum of squared distances, accumulated in float64.

Converged runs drop out of the product. A run stopped between two passes goes on
from where it stood (:class:`~ksweep._fused_state.LloydState`, ``states`` and
``on_pass``), and a finished one is found again from its final centers
(:func:`rebuild_runs`), both bit for bit: a checkpoint keeps them.

Memory beyond X's centered copy: a distance block of at most
:data:`ksweep._blocks.BLOCK_BYTES` (rows per block = ``BLOCK_BYTES / (Σk × itemsize)``),
the labels of every run (``n_samples × runs`` int32) and, while seeding,
``runs × n_samples`` squared distances.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.base import clone

try:  # private to scikit-learn: what KMeans.fit stores as _n_threads
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
except ImportError:  # pragma: no cover - a scikit-learn that moved it
    _openmp_effective_n_threads = None

from ksweep._blocks import Split, block_rows, row_blocks
from ksweep._families import task_params
from ksweep._fused_state import LloydState, centered_data, nearest_labels
from ksweep._kernels import kernels, numba_available
from ksweep._kmeanspp import seed_kmeans_plusplus
from ksweep._threads import CoreShare, cpu_cores

#: Centers per fused task: the restarts of a sweep are grouped so that each task holds
#: about this many (all k of one restart at least). Enough centers make every product
#: compute-bound, also late in the fit when only the slow runs are left; more restarts
#: make more tasks for the executor's workers.
GROUP_CENTERS = 512


@dataclass
class FusedRun:
    """One Lloyd run of the fused engine and its outcome.

    Attributes
    ----------
    k : int
        Number of clusters.
    seed : int
        Seed of its k-means++ draws.
    init_centers : ndarray of shape (k, n_features) or None
        The k-means++ centers it started from (in X's coordinates); None for a run
        that went on from a :class:`LloydState`.
    centers : ndarray of shape (k, n_features)
        Final centers.
    centered : ndarray of shape (k, n_features)
        Final centers less X's column means: the engine's own coordinates, from which
        :func:`rebuild_runs` gives the run again bit for bit (``centers`` is this plus
        the means, rounded).
    labels : ndarray of shape (n_samples,)
        Label of each row under the final centers (int32).
    inertia : float
        Sum of squared distances of the rows to their final centers.
    n_iter : int
        Lloyd iterations run.
    seconds : float
        The run's share of the group's wall time (by k × iterations).
    """

    k: int
    seed: int
    init_centers: np.ndarray | None = None
    centers: np.ndarray | None = None
    centered: np.ndarray | None = None
    labels: np.ndarray | None = None
    inertia: float = float("nan")
    n_iter: int = 0
    seconds: float = 0.0
    _rng: Any = field(default=None, repr=False)
    _last_inertia: float = field(default=float("inf"), repr=False)


def _assign_part(
    kern, X, G, half_sq, offsets, sums, counts, previous, labels, changes, inertia, x_sq, a, b
) -> None:
    """The assignment kernel for runs ``a:b`` (their offsets, label columns and totals)."""
    kern.assign_accumulate(
        X,
        G,
        half_sq,
        offsets[a : b + 1],
        sums,
        counts,
        previous[:, a:b],
        labels[:, a:b],
        changes[a:b],
        inertia[a:b],
        x_sq,
    )


def lloyd_update(run: FusedRun, old, sums, counts, relocate, dtype) -> tuple[np.ndarray, float]:
    """One Lloyd update of a run: its new centers and their squared shift from ``old``.

    Counts the iteration; where a cluster is empty, ``relocate(sums, counts, old)``
    moves it (on copies); each center becomes the mean of its rows (an emptied
    cluster keeps its sum). Shared by the in-memory and the data-parallel drivers.
    """
    run.n_iter += 1
    if np.any(counts == 0):
        sums, counts = sums.copy(), counts.copy()
        relocate(sums, counts, old)
    new = (sums / np.where(counts > 0, counts, 1)[:, None]).astype(dtype)
    return new, float(((new - old) ** 2).sum())


def _relocate_empty(X, sums, counts, old_centers, labels) -> None:
    """Give each empty cluster the row farthest from its center (scikit-learn's rule)."""
    labels = np.ascontiguousarray(labels)
    empty = np.flatnonzero(counts == 0)
    distances = ((X - old_centers[labels]) ** 2).sum(axis=1)
    far = np.argsort(distances, kind="stable")[::-1][: empty.size]
    for new_id, row in zip(empty, far, strict=False):
        old_id = labels[row]
        sums[old_id] -= X[row]
        counts[old_id] -= 1
        sums[new_id] = X[row]
        counts[new_id] = 1


def fused_lloyd(
    X: np.ndarray,
    ks: list[int],
    seeds: list[int],
    *,
    max_iter: int,
    tol: float,
    stop_rule: str = "sklearn",
    init_centers: list[np.ndarray] | None = None,
    threads: int | CoreShare = 1,
    mean_variance: float | None = None,
    chains: list[int] | None = None,
    on_done: Callable[[int, FusedRun], None] | None = None,
    states: list[LloydState | None] | None = None,
    on_pass: Callable[[Callable[[], list[tuple[int, LloydState]]]], None] | None = None,
) -> list[FusedRun]:
    """Fit one Lloyd k-means run per ``(k, seed)`` with shared passes over ``X``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
        Dense data; computations run in its dtype.
    ks, seeds : list of int
        Clusters and k-means++ seed of each run.
    max_iter : int
        Most Lloyd iterations per run.
    tol : float
        Convergence tolerance, read as ``stop_rule`` says.
    stop_rule : {"sklearn", "tslearn"}
        "sklearn": squared center shift ≤ ``tol`` × mean variance, or labels
        unchanged; "tslearn": mean inertia changed by less than ``tol``.
    init_centers : list of ndarray, optional
        Start from these centers instead of k-means++ (one per run).
    threads : int or CoreShare, default=1
        Threads for the compiled kernels, each on its own runs (the products use
        BLAS's own threads). A :class:`~ksweep._threads.CoreShare` is asked before
        every pass, so a group that outlives its peers takes the cores they left for
        its kernels (the driver widens BLAS's cap: OpenBLAS takes a new thread count
        from the main thread only). Results do not depend on it.
    mean_variance : float, optional
        X's mean feature variance (the scale of scikit-learn's ``tol``), when the
        caller has it already.
    chains : list of int, optional
        Nested seeding: one chain seed per run; runs with the same chain seed start
        from the first k centers of one k-means++ sequence drawn from it (see
        :func:`seed_kmeans_plusplus`). Without it each run seeds from its own seed.
    on_done : callable, optional
        ``on_done(index, run)`` is called as soon as run ``index`` has finished (its
        ``labels``, ``centers``, ``inertia`` and ``n_iter`` final), while the others
        go on: a checkpoint can keep it before the group ends.
    states : list of LloydState or None, optional
        Per run, where an earlier call left it (from ``on_pass``): the run goes on
        from there, without seeding, and ends as it would have; None starts it.
    on_pass : callable, optional
        ``on_pass(snapshot)`` is called after every pass that leaves runs unfinished;
        ``snapshot()`` gives ``(index, LloydState)`` for each of them, to be saved
        (a checkpoint calls it every few seconds, not at every pass).

    Returns
    -------
    list of FusedRun
    """
    start_time = time.perf_counter()
    kernels()  # without numba, fail before any work
    X, Xc, mean, x_sq = centered_data(X)
    n = Xc.shape[0]
    if stop_rule == "sklearn" and mean_variance is None:
        mean_variance = float(np.mean(np.var(X, axis=0)))
    tol_abs = mean_variance * tol if stop_rule == "sklearn" else tol
    runs = [
        FusedRun(k=int(k), seed=int(s), _rng=np.random.default_rng(int(s)))
        for k, s in zip(ks, seeds, strict=True)
    ]
    rows = block_rows(n, sum(run.k for run in runs), Xc.dtype.itemsize)
    share = threads if isinstance(threads, CoreShare) else None
    split = Split(threads.threads() if share is not None else threads)
    try:
        _fit_runs(
            Xc,
            x_sq,
            mean,
            runs,
            rows,
            split,
            max_iter,
            tol_abs,
            stop_rule,
            init_centers,
            chains,
            on_done,
            states,
            on_pass,
            share,
        )
    finally:
        split.close()
    elapsed = time.perf_counter() - start_time
    for run in runs:
        run.seconds *= elapsed
    return runs


def _fit_runs(
    Xc,
    x_sq,
    mean,
    runs,
    rows,
    split,
    max_iter,
    tol_abs,
    stop_rule,
    init_centers,
    chains,
    on_done=None,
    states=None,
    on_pass=None,
    share=None,
):
    """Seed (unless ``init_centers`` or a state), iterate, and finish every run; see
    ``fused_lloyd``."""
    kern = kernels()
    n = Xc.shape[0]
    states = [None] * len(runs) if states is None else states
    fresh = [c for c, state in enumerate(states) if state is None]
    if init_centers is not None:
        for run, centers in zip(runs, init_centers, strict=True):
            run.init_centers = np.array(centers, dtype=Xc.dtype)
    elif fresh:
        seeded = [runs[c] for c in fresh]
        seed_kmeans_plusplus(
            Xc, x_sq, seeded, rows, split, None if chains is None else [chains[c] for c in fresh]
        )
        for run in seeded:
            run.init_centers += mean
    centers = {id(runs[c]): (runs[c].init_centers - mean).astype(Xc.dtype) for c in fresh}
    # each run's sums (float64) and counts of the rows under its current labels
    sums = {id(run): np.zeros((run.k, Xc.shape[1])) for run in runs}
    counts = {id(run): np.zeros(run.k, dtype=np.int64) for run in runs}
    all_labels = np.full((n, len(runs)), -1, dtype=np.int32)
    column = {id(run): c for c, run in enumerate(runs)}
    final_pass = set()  # runs whose next pass only assigns rows to their final centers
    assigned = {}  # the centers of each run's last pass (its labels are their nearest)
    resumed = [c for c, state in enumerate(states) if state is not None]
    for c in resumed:
        run, state, key = runs[c], states[c], id(runs[c])
        assigned[key] = np.array(state.assigned, dtype=Xc.dtype)
        centers[key] = np.array(state.centers, dtype=Xc.dtype)
        sums[key] = np.array(state.sums, dtype=np.float64)
        counts[key] = np.array(state.counts, dtype=np.int64)
        run.n_iter = int(state.n_iter)
        if state.last_inertia is not None:
            run._last_inertia = float(state.last_inertia)
        if state.final:
            final_pass.add(key)
    if resumed:  # their labels: each row's nearest of the centers of their last pass
        own = [assigned[id(runs[c])] for c in resumed]
        all_labels[:, resumed] = nearest_labels(Xc, x_sq, own)
    live = list(runs)
    work = {id(run): 0 for run in runs}

    def snapshot() -> list[tuple[int, LloydState]]:
        """Where each unfinished run stands (copies)."""
        return [
            (
                column[id(run)],
                LloydState(
                    assigned=assigned[id(run)].copy(),
                    centers=centers[id(run)].copy(),
                    sums=sums[id(run)].copy(),
                    counts=counts[id(run)].copy(),
                    n_iter=run.n_iter,
                    last_inertia=(run._last_inertia if np.isfinite(run._last_inertia) else None),
                    final=id(run) in final_pass,
                ),
            )
            for run in live
            if id(run) in assigned
        ]

    def finished(run: FusedRun) -> None:
        """Hand a finished run to ``on_done`` (its labels, centers and inertia final)."""
        if on_done is not None:
            key = id(run)
            run.labels = np.ascontiguousarray(all_labels[:, column[key]])
            run.centered, run.centers = centers[key], centers[key] + mean
            run.inertia = float(kern.exact_inertia(Xc, centers[key], run.labels))
            on_done(column[key], run)

    while live:
        wanted = split.threads if share is None else share.threads()
        if wanted > split.threads:  # peers have finished (the driver widens BLAS's cap)
            split.resize(wanted)
        stacked = np.concatenate([centers[id(run)] for run in live])
        offsets = np.zeros(len(live) + 1, dtype=np.intp)
        offsets[1:] = np.cumsum([run.k for run in live])
        half_sq = 0.5 * np.einsum("ij,ij->i", stacked, stacked)
        pass_sums = np.concatenate([sums[id(run)] for run in live])
        pass_counts = np.concatenate([counts[id(run)] for run in live])
        columns = [column[id(run)] for run in live]
        previous = all_labels[:, columns]
        new_labels = np.empty_like(previous)
        changes = np.zeros(len(live), dtype=np.int64)
        inertia = np.zeros(len(live), dtype=np.float64)
        for start, stop in row_blocks(n, rows):
            G = stacked @ Xc[start:stop].T  # one row per center
            split.each(
                [run.k for run in live],
                partial(
                    _assign_part,
                    kern,
                    Xc[start:stop],
                    G,
                    half_sq,
                    offsets,
                    pass_sums,
                    pass_counts,
                    previous[start:stop],
                    new_labels[start:stop],
                    changes,
                    inertia,
                    x_sq[start:stop],
                ),
            )
        all_labels[:, columns] = new_labels
        still = []
        for r, run in enumerate(live):
            key = id(run)
            work[key] += run.k
            part = slice(offsets[r], offsets[r + 1])
            sums[key], counts[key] = pass_sums[part], pass_counts[part]
            if key in final_pass:  # its last pass is done: the run is finished
                finished(run)
                continue
            old = assigned[key] = centers[key]
            # relocation moves centers, not the rows' labels
            relocate = partial(_relocate_empty, Xc, labels=new_labels[:, r])
            new, shift = lloyd_update(run, old, sums[key], counts[key], relocate, Xc.dtype)
            centers[key] = new
            if stop_rule == "sklearn":
                if run.n_iter > 1 and changes[r] == 0:
                    finished(run)  # strict convergence: the labels are final
                    continue
                done = shift <= tol_abs
            else:
                mean_inertia = inertia[r] / n
                done = abs(run._last_inertia - mean_inertia) < tol_abs
                run._last_inertia = mean_inertia
            if done or run.n_iter >= max_iter:
                final_pass.add(key)
            still.append(run)
        live = still
        if live and on_pass is not None:
            on_pass(snapshot)
    total_work = sum(work.values())
    for run in runs:
        key = id(run)
        run.labels = np.ascontiguousarray(all_labels[:, column[key]])
        run.centered, run.centers = centers[key], centers[key] + mean
        run.seconds = work[key] / total_work  # a share, scaled to seconds by the caller
        run._rng = None

    def finish(a: int, b: int) -> None:
        for run in runs[a:b]:
            run.inertia = float(kern.exact_inertia(Xc, centers[id(run)], run.labels))

    split.each([run.k for run in runs], finish)


def rebuild_runs(
    X: np.ndarray, ks: list[int], seeds: list[int], centered: list, n_iters: list[int]
) -> list[FusedRun]:
    """Finished runs again from their final centers, in one pass over ``X``.

    ``centered`` holds each run's :attr:`FusedRun.centered` (as a checkpoint stores
    it), ``n_iters`` its Lloyd iterations. Every row is assigned to its nearest center
    by the products and the kernel of the engine's passes, so ``labels``, ``centers``
    and ``inertia`` are those the run ended with, bit for bit, where its labels were
    the nearest centers' (always, but for a run that converged with an empty cluster
    moved: a caller compares the inertia with the stored one). ``seconds`` is 0.
    """
    kern = kernels()
    _, Xc, mean, x_sq = centered_data(X)
    own = [
        np.asarray(c, dtype=Xc.dtype).reshape(int(k), Xc.shape[1])
        for c, k in zip(centered, ks, strict=True)
    ]
    labels = nearest_labels(Xc, x_sq, own)
    runs = []
    for r, (k, seed, n_iter) in enumerate(zip(ks, seeds, n_iters, strict=True)):
        run = FusedRun(k=int(k), seed=int(seed), n_iter=int(n_iter), seconds=0.0)
        run.labels = np.ascontiguousarray(labels[:, r])
        run.centered, run.centers = own[r], own[r] + mean
        run.inertia = float(kern.exact_inertia(Xc, own[r], run.labels))
        runs.append(run)
    return runs


def fused_unsupported(template: Any, X: Any, score_func: Any) -> str | None:
    """Why the fused engine cannot fit this sweep, or None when it can."""
    name = type(template).__module__.split(".")[0] + "." + type(template).__name__
    params = template.get_params(deep=False)
    if name == "sklearn.KMeans":
        if not (isinstance(params["init"], str) and params["init"] == "k-means++"):
            return f"it fits KMeans with init='k-means++' only, not init={params['init']!r}"
    elif name == "tslearn.TimeSeriesKMeans":
        if params["metric"] != "euclidean":
            return f"it fits metric='euclidean' only, not metric={params['metric']!r}"
        if not (isinstance(params["init"], str) and params["init"] == "k-means++"):
            return f"it fits init='k-means++' only, not init={params['init']!r}"
        if params.get("dtw_inertia"):
            return "it does not compute DTW inertia (dtw_inertia=True)"
    else:
        return (
            "it fits scikit-learn's KMeans and tslearn's TimeSeriesKMeans(metric='euclidean') "
            f"only, not {type(template).__name__}"
        )
    if score_func is not None:
        return "a score_func is set"
    if sparse.issparse(X):
        return "X is sparse"
    if not np.isfinite(X).all():
        return "X has NaN (series of different lengths, padded)"
    if not numba_available():
        return "numba is not installed (pip install 'ksweep[fast]')"
    return None


def fit_runs(
    template: Any,
    X: np.ndarray,
    ks: list[int],
    seeds: list[int],
    threads: int | CoreShare = 1,
    mean_variance: float | None = None,
    chains: list[int] | None = None,
    on_done: Callable[[int, FusedRun], None] | None = None,
    states: list[LloydState | None] | None = None,
    on_pass: Callable | None = None,
) -> list[FusedRun]:
    """The fused runs for ``template``'s k-means settings (X as the sweep validated it)."""
    params = template.get_params(deep=False)
    timeseries = X.ndim == 3
    data = X.reshape(X.shape[0], -1) if timeseries else X
    return fused_lloyd(
        data,
        ks,
        seeds,
        max_iter=int(params["max_iter"]),
        tol=float(params["tol"]),
        stop_rule="tslearn" if timeseries else "sklearn",
        threads=threads,
        mean_variance=mean_variance,
        chains=chains,
        on_done=on_done,
        states=states,
        on_pass=on_pass,
    )


def fitted_estimator(
    template: Any, X: np.ndarray, run: FusedRun, mean_variance: float | None = None
) -> Any:
    """A fitted estimator of the user's class holding the fused run's result.

    It has the attributes a ``fit`` of that class sets, so ``predict``,
    ``transform`` and ``score`` work as after a fit with ``init=run.init_centers``.
    """
    model = clone(template).set_params(**task_params(template, run.k, run.seed))
    if X.ndim == 3:  # tslearn: centers as series, inertia as a mean over series
        model.cluster_centers_ = run.centers.reshape((run.k, *X.shape[1:]))
        model.labels_ = run.labels.astype(np.intp)
        model.inertia_ = run.inertia / X.shape[0]
        model.n_iter_ = run.n_iter
        model._iter = run.n_iter
        model._X_fit = X
        model._squared_inertia = True
        model.n_features_in_ = X.shape[-1]
        return model
    if mean_variance is None:
        mean_variance = float(np.mean(np.var(X, axis=0)))
    return fill_kmeans(model, run, X.dtype, mean_variance)


def fill_kmeans(model: Any, run: FusedRun, dtype, mean_variance: float) -> Any:
    """Set on an unfitted ``KMeans`` every attribute its ``fit`` sets, from a run."""
    model.cluster_centers_ = run.centers.astype(dtype, copy=False)
    model.labels_ = run.labels
    model.inertia_ = run.inertia
    model.n_iter_ = run.n_iter
    model.n_features_in_ = run.centers.shape[1]
    model._n_features_out = run.k
    model._n_threads = (
        _openmp_effective_n_threads() if _openmp_effective_n_threads is not None else cpu_cores()
    )
    model._n_init = 1
    model._algorithm = model.algorithm
    model._tol = mean_variance * model.tol
    return model
