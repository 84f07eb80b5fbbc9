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
k-medoids by medoid silhouette (kmedoids  sum of distances to the closest medoid, from X;
``method`` "fastmsc", "fastermsc",        restarts ranked by the medoid silhouette in
"pamsil", "pammedsil")                    ``inertia_`` (higher is better): ``objective``
                                          ``neg_medoid_silhouette``
precomputed distances (``metric=          ``inertia_`` where it has one, else
"precomputed"``) without ``inertia_``     Σ_clusters Σ_{i,j in c} d_ij² / (2 |c|): the sum of
                                          squares to the mean, from distances
mixtures (GaussianMixture, ...)           squared Euclidean distance to the mean of the
                                          predicted cluster; restarts are ranked by
                                          ``neg_log_likelihood``, and ``bic`` is recorded
anything else with labels or predict      squared Euclidean distance to the mean of the
                                          cluster of its labels
========================================  ===============================================

Every family says what its score means (``Family.score``): a within-cluster sum
to minimise ("within_sum"), or a quantity to maximise ("maximise", ranked by its
negative). Where ksweep cannot know (a precomputed affinity: no distances,
no features), ``score_func`` is required. kmedoids' ``method="dynmsc"`` treats
``n_clusters`` as a maximum (it picks k itself) and is refused.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from ksweep._validation import cluster_count_param, param_error

#: tslearn estimators whose ``inertia_`` is a mean over samples, not a sum.
_MEAN_INERTIA = {"TimeSeriesKMeans", "KShape"}
#: kmedoids methods whose ``inertia_`` is a (medoid) silhouette, higher is better.
SILHOUETTE_METHODS = ("fastmsc", "fastermsc", "pamsil", "pammedsil")
#: Criteria computed from feature vectors: refused for precomputed distances and affinities.
FEATURE_CRITERIA = ("silhouette", "calinski_harabasz", "davies_bouldin", "gap")


def precomputed_param(estimator: Any) -> str | None:
    """ "metric" or "affinity" where the estimator takes X as a precomputed matrix, else None."""
    params = estimator.get_params(deep=False)
    for name in ("metric", "affinity"):
        if isinstance(params.get(name), str) and params[name] == "precomputed":
            return name
    return None


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
    score : str
        What the estimator's own score means: "within_sum" (a within-cluster sum,
        lower is better) or "maximise" (higher is better; ranked by its negative).
    precomputed : str or None
        "metric" (X is a distance matrix), "affinity" (a similarity matrix) or None.
    """

    name: str
    timeseries: bool
    objective: str
    inertia_definition: str
    score: str = "within_sum"
    precomputed: str | None = None


def family_of(estimator: Any, score_func: Callable | None = None) -> Family:
    """The family of an (unfitted) estimator."""
    module = type(estimator).__module__
    name = type(estimator).__name__
    timeseries = module.startswith("tslearn")
    precomputed = precomputed_param(estimator)
    method = estimator.get_params(deep=False).get("method")
    if name == "KMedoids" and method == "dynmsc":
        raise param_error(
            "estimator",
            "KSweep",
            "a clusterer with a fixed number of clusters: KMedoids(method='dynmsc') treats "
            "n_clusters as a maximum and chooses k itself. Use method='fastermsc' (ranked by "
            "its medoid silhouette) or 'fasterpam'",
            estimator,
        )
    if score_func is not None:
        return Family(
            "custom",
            timeseries,
            "inertia",
            f"score_func(estimator, X) ({score_func!r})",
            precomputed=precomputed,
        )
    if precomputed == "affinity":
        raise param_error(
            "score_func",
            "KSweep",
            f"a callable (fitted_estimator, X) -> float, lower is better, for "
            f"{name}(affinity='precomputed'): X is a similarity matrix, so ksweep has neither "
            "features nor distances to score a fit with",
            score_func,
        )
    if name == "KMedoids" and method in SILHOUETTE_METHODS:
        return Family(
            "kmedoids-silhouette",
            timeseries,
            "neg_medoid_silhouette",
            f"sum of distances (not squared) to the closest medoid; KMedoids(method={method!r}) "
            "maximises the medoid silhouette, kept in 'medoid_silhouette': restarts are "
            "ranked by it (higher is better)",
            score="maximise",
            precomputed=precomputed,
        )
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
            precomputed=precomputed,
        )
    if hasattr(estimator, "bic") and hasattr(estimator, "score"):
        return Family(
            "mixture",
            timeseries,
            "neg_log_likelihood",
            "sum of squared Euclidean distances to the mean of each predicted cluster; "
            "restarts ranked by neg_log_likelihood",
        )
    if precomputed == "metric":
        return Family(
            "default",
            timeseries,
            "inertia",
            f"{name}.inertia_ where it has one, else the sum of squared distances to the mean "
            "of each cluster, from the precomputed distances (Σ d_ij² / (2 |cluster|))",
            precomputed=precomputed,
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
    if family.name == "kmedoids-silhouette":
        silhouette = float(model.inertia_)
        extras = {"medoid_silhouette": silhouette, "neg_medoid_silhouette": -silhouette}
        return medoid_distance_sum(model, X), silhouette, extras
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
    if family.precomputed == "metric":
        return within_sum_from_distances(X, labels), float("nan"), {}
    return within_cluster_sum_of_squares(X, labels), float("nan"), {}


def medoid_distance_sum(model: Any, X: Any) -> float:
    """Sum over samples of the distance to the medoid of their cluster, in the model's metric."""
    labels = np.asarray(model.labels_)
    medoids = np.asarray(model.medoid_indices_)[labels]
    params = model.get_params(deep=False)
    if params.get("metric") == "precomputed":
        return float(np.asarray(X)[np.arange(labels.shape[0]), medoids].sum())
    from sklearn.metrics import pairwise_distances

    distances = pairwise_distances(
        X,
        X[np.asarray(model.medoid_indices_)],
        metric=params.get("metric", "euclidean"),
        **(params.get("metric_params") or {}),
    )
    return float(distances[np.arange(labels.shape[0]), labels].sum())


def within_sum_from_distances(D: Any, labels: np.ndarray) -> float:
    """Within-cluster sum of squares from a distance matrix: Σ_c Σ_{i,j in c} d_ij² / (2 |c|).

    Equal to :func:`within_cluster_sum_of_squares` of the features when ``D`` holds
    their Euclidean distances.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [2.0], [10.0], [12.0]])
    >>> D = np.abs(X - X.T)
    >>> within_sum_from_distances(D, np.array([0, 0, 1, 1]))
    4.0
    """
    D = D.toarray() if sparse.issparse(D) else np.asarray(D, dtype=np.float64)
    labels = np.asarray(labels)
    total = 0.0
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        block = D[np.ix_(members, members)]
        total += float((block**2).sum()) / (2 * members.size)
    return total


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
    scoring = sweep._scoring()
    if not scoring:
        return
    shown = sweep.scoring if sweep.scoring is not None else sweep.selection
    owner = type(sweep).__name__
    precomputed = precomputed_param(template)
    if family_of(template, sweep.score_func).timeseries:
        raise param_error(
            "scoring",
            owner,
            "empty for time series (the criteria are Euclidean on feature vectors, and "
            f"{type(template).__name__} does not take them)",
            shown,
        )
    if precomputed == "affinity" and any(name in FEATURE_CRITERIA for name in scoring):
        raise param_error(
            "scoring",
            owner,
            "empty for precomputed affinities (the criteria are Euclidean on feature "
            f"vectors or read distances, and {type(template).__name__} takes similarities)",
            shown,
        )
    if precomputed == "metric" and set(scoring) - {"silhouette"}:
        raise param_error(
            "scoring",
            owner,
            "empty or ('silhouette',) for precomputed distances (the silhouette is defined "
            "on a distance matrix; the other criteria are Euclidean on feature vectors, "
            f"which {type(template).__name__} does not take)",
            shown,
        )


def check_precomputed(template: Any, X: Any, owner: str = "KSweep") -> None:
    """Check a precomputed X up front: square, finite, non-negative, zero diagonal (distances).

    Raises ``ValueError`` naming the parameter (``metric`` or ``affinity``) and what
    is wrong; an asymmetric matrix gives a ``UserWarning``.
    """
    param = precomputed_param(template)
    if param is None:
        return
    what = "distances" if param == "metric" else "similarities"
    label = f"{type(template).__name__}({param}='precomputed')"
    if X.ndim != 2 or X.shape[0] != X.shape[1]:
        raise ValueError(
            f"With {param}='precomputed', {owner} takes X as a square matrix of pairwise {what}, "
            f"shape (n_samples, n_samples), for {label}. Got X of shape {X.shape} instead; "
            f"for feature vectors, set {param} to a metric such as 'euclidean'."
        )
    values = X.data if sparse.issparse(X) else np.asarray(X)  # finite: validate_data checked
    if values.size and values.min() < 0:
        raise ValueError(
            f"With {param}='precomputed', X must hold non-negative {what} for {label}. Got "
            f"{int((values < 0).sum())} negative entries (the smallest {values.min():g}); "
            "is X a matrix of features?"
        )
    diagonal = X.diagonal()
    if param == "metric" and np.any(diagonal != 0):
        raise ValueError(
            f"With metric='precomputed', X must be a distance matrix with a zero diagonal for "
            f"{label}. Got {int(np.count_nonzero(diagonal))} nonzero diagonal entries "
            f"(the largest {np.abs(diagonal).max():g}); is X a matrix of features?"
        )
    largest = _largest_asymmetry(X)
    if largest > 1e-8 * max(float(np.abs(values).max()) if values.size else 0.0, 1.0):
        warnings.warn(
            f"With {param}='precomputed', X is not symmetric (largest |X - X.T| = "
            f"{largest:g}): {label} reads pairwise {what}, which are symmetric.",
            UserWarning,
            stacklevel=3,
        )


def _largest_asymmetry(X: Any, rows: int = 1024) -> float:
    """max |X - X.T|, in blocks of rows (no second n × n matrix)."""
    if sparse.issparse(X):
        difference = abs(X - X.T)
        return float(difference.max()) if difference.nnz else 0.0
    largest = 0.0
    for start in range(0, X.shape[0], rows):
        block = np.abs(X[start : start + rows] - X[:, start : start + rows].T)
        largest = max(largest, float(block.max()))
    return largest
