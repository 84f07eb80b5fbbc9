"""Estimator families: what input each takes and how its fits are scored on one scale.

``results_["inertia"]`` is a within-cluster *sum* for every family, in the
estimator's own metric; the estimator's own value is kept as ``raw_inertia``.

========================================  ===============================================
family                                    inertia (sum over samples)
========================================  ===============================================
scikit-learn k-means (KMeans, MiniBatch,  ``inertia_``: squared Euclidean distance to the
Bisecting) and any estimator with         closest center
``inertia_``
tslearn TimeSeriesKMeans, KShape          ``inertia_ × n_samples`` (tslearn reports the
                                          mean): squared distance in the model's metric
                                          (Euclidean, DTW; soft-DTW value for "softdtw")
k-medoids (kmedoids, scikit-learn-extra)  ``inertia_``: distance (not squared) to the
                                          closest medoid, in the model's metric
mixtures (GaussianMixture, ...)           squared Euclidean distance to the mean of the
                                          predicted cluster; restarts are ranked by
                                          ``neg_log_likelihood``, and ``bic`` is recorded
anything else with labels or predict      squared Euclidean distance to the mean of the
                                          cluster of its labels
========================================  ===============================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from ksweep._validation import cluster_count_param, param_error

#: tslearn estimators whose ``inertia_`` is a mean over samples, not a sum.
_MEAN_INERTIA = {"TimeSeriesKMeans", "KShape"}


@dataclass(frozen=True)
class Family:
    """How ksweep treats one kind of estimator.

    Attributes
    ----------
    name : str
        "default", "timeseries", "kmedoids", "mixture" or "custom".
    timeseries : bool
        Input is a time series dataset (3-D, NaN-padded variable lengths).
    objective : str
        The column the best of n_init minimizes: "inertia" or "neg_log_likelihood".
    inertia_definition : str
        What ``results_["inertia"]`` holds for this family, in words.
    """

    name: str
    timeseries: bool
    objective: str
    inertia_definition: str


def family_of(estimator: Any, score_func: Callable | None = None) -> Family:
    """The family of an (unfitted) estimator."""
    module = type(estimator).__module__
    name = type(estimator).__name__
    timeseries = module.startswith("tslearn")
    if score_func is not None:
        return Family("custom", timeseries, "inertia", f"score_func(estimator, X) ({score_func!r})")
    if name in _MEAN_INERTIA and timeseries:
        return Family(
            "timeseries",
            True,
            "inertia",
            f"{name}.inertia_ × n_samples: sum of squared distances to the closest center in "
            "the model's metric (tslearn reports the mean)",
        )
    if name == "KMedoids":
        return Family(
            "kmedoids",
            timeseries,
            "inertia",
            "KMedoids.inertia_: sum of distances (not squared) to the closest medoid",
        )
    if hasattr(estimator, "bic") and hasattr(estimator, "score"):
        return Family(
            "mixture",
            timeseries,
            "neg_log_likelihood",
            "sum of squared Euclidean distances to the mean of each predicted cluster; "
            "restarts ranked by neg_log_likelihood",
        )
    return Family(
        "default",
        timeseries,
        "inertia",
        f"{name}.inertia_ where it has one, else the sum of squared Euclidean distances to the "
        "mean of each cluster of its labels",
    )


def score_fit(
    model: Any, X: Any, family: Family, score_func: Callable | None = None
) -> tuple[float, float, dict[str, float]]:
    """Score a fitted model: ``(inertia, raw_inertia, extras)``, inertia on the sum scale."""
    n_samples = X.shape[0]
    if score_func is not None:
        value = float(score_func(model, X))
        return value, value, {}
    if family.name == "timeseries":
        raw = float(model.inertia_)
        return raw * n_samples, raw, {}
    if family.name == "mixture":
        labels = model.predict(X)
        extras = {
            "bic": float(model.bic(X)),
            "neg_log_likelihood": -float(model.score(X)) * n_samples,
        }
        return within_cluster_sum_of_squares(X, labels), float("nan"), extras
    if hasattr(model, "inertia_"):
        raw = float(model.inertia_)
        return raw, raw, {}
    if hasattr(model, "labels_"):
        labels = model.labels_
    elif hasattr(model, "predict"):
        labels = model.predict(X)
    else:
        raise AttributeError(
            f"ksweep cannot score {type(model).__name__}: it has no 'inertia_', no 'labels_' "
            "and no 'predict'. Pass KSweep(score_func=...), a callable (fitted_estimator, X) "
            "-> float where lower is better."
        )
    return within_cluster_sum_of_squares(X, labels), float("nan"), {}


def within_cluster_sum_of_squares(X: Any, labels: np.ndarray) -> float:
    """Sum over clusters of the squared Euclidean distances to the cluster mean.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [2.0], [10.0], [12.0]])
    >>> within_cluster_sum_of_squares(X, np.array([0, 0, 1, 1]))
    4.0
    """
    labels = np.asarray(labels)
    if not sparse.issparse(X):
        X = np.asarray(X, dtype=np.float64).reshape(X.shape[0], -1)
    total = 0.0
    for label in np.unique(labels):
        members = X[labels == label]
        center = np.asarray(members.mean(axis=0)).ravel()
        if sparse.issparse(members):
            # ||x - c||² = ||x||² - 2 x·c + ||c||², summed over the members
            sq_norms = members.multiply(members).sum()
            cross = (members @ center).sum()
            total += float(sq_norms - 2 * cross + members.shape[0] * center @ center)
        else:
            total += float(((members - center) ** 2).sum())
    return total


def task_params(estimator: Any, k: int, seed: int) -> dict[str, Any]:
    """The parameters a task sets on its clone: k, a single restart, its seed.

    ``copy_x`` is forced on: tasks running side by side in threads share X, and
    k-means with ``copy_x=False`` centers X in place while it fits.
    """
    params = estimator.get_params(deep=False)
    out: dict[str, Any] = {cluster_count_param(estimator): int(k)}
    if params.get("copy_x") is False:
        out["copy_x"] = True
    if "n_init" in params:
        out["n_init"] = 1
    if "random_state" in params:
        out["random_state"] = int(seed)
    return out


def check_scoring_applies(sweep: Any) -> None:
    """Refuse criteria (``scoring``, or a criterion as ``selection``) that do not apply:
    every criterion for time series, all but the silhouette on precomputed distances (the
    others are Euclidean on feature vectors; the silhouette is defined on distances)."""
    template = sweep._template()
    names = sweep._scoring()
    if not names:
        return
    shown = sweep.scoring if sweep.scoring is not None else sweep.selection
    owner = type(sweep).__name__
    if family_of(template, sweep.score_func).timeseries:
        raise param_error(
            "scoring",
            owner,
            "empty for time series (the criteria are Euclidean on feature vectors, and "
            f"{type(template).__name__} does not take them)",
            shown,
        )
    if template.get_params(deep=False).get("metric") == "precomputed" and set(names) - {
        "silhouette"
    }:
        raise param_error(
            "scoring",
            owner,
            "empty or ('silhouette',) for precomputed distances (the silhouette is defined "
            "on a distance matrix; the other criteria are Euclidean on feature vectors, "
            f"which {type(template).__name__} does not take)",
            shown,
        )
