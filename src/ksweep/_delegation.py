"""The chosen model's methods on a fitted sweep: predict, transform, score (delegation)."""

from __future__ import annotations

from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ksweep._dask_arrays import (
    fitted_dask_input,
    is_dask_collection,
    predict_dask,
    score_dask,
    transform_dask,
)
from ksweep.distances import predict_by_medoids


def _estimator_has(attr: str):
    """For ``available_if``: the best estimator (before fit: the template) has ``attr``."""

    def check(self) -> bool:
        model = getattr(self, "best_estimator_", None)
        if model is None:
            model = self._template()
        getattr(model, attr)  # raises AttributeError with the estimator's own message
        return True

    return check


class ChosenModelMixin:
    """``predict``, ``transform``, ``fit_transform``, ``fit_predict`` and ``score`` of
    ``best_estimator_`` (each present when the estimator has it), on arrays in memory
    and on dask arrays."""

    def _delegate(self, method: str, X, on_dask):
        """``best_estimator_.<method>(X)``; for a dask array, ``on_dask`` on the workers."""
        if is_dask_collection(X):  # lazy (predict, transform) or computed on the workers
            return on_dask(self.best_estimator_, fitted_dask_input(self, X))
        check_is_fitted(self)
        return getattr(self.best_estimator_, method)(self._validate_X(X, reset=False))

    @available_if(_estimator_has("predict"))
    def predict(self, X):
        """Predict the cluster of each sample with ``best_estimator_``.

        After a sweep on precomputed distances (a k-medoids ``metric="precomputed"``),
        X is the ``(n_new, best_k_)`` matrix of distances from each new sample to the
        medoids (``best_estimator_.medoid_indices_``, in that order; for series,
        :func:`ksweep.distances.dtw_to_medoids`), and each gets its nearest medoid's
        cluster.
        """
        model = getattr(self, "best_estimator_", None)
        if self._template().get_params(deep=False).get("metric") == "precomputed" and hasattr(
            model, "medoid_indices_"
        ):
            return predict_by_medoids(type(self).__name__, model, X)
        return self._delegate("predict", X, predict_dask)

    @available_if(_estimator_has("transform"))
    def transform(self, X):
        """Transform X with ``best_estimator_`` (for KMeans: distances to the centers)."""
        return self._delegate("transform", X, transform_dask)

    @available_if(_estimator_has("transform"))
    def fit_transform(self, X, y=None):
        """Fit the sweep, then transform X with ``best_estimator_``."""
        return self.fit(X, y).transform(X)

    @available_if(_estimator_has("fit_predict"))
    def fit_predict(self, X, y=None):
        """Fit the sweep and return the labels of X under ``best_estimator_``."""
        return self.fit(X, y).labels_

    @available_if(_estimator_has("score"))
    def score(self, X, y=None):
        """Score X with ``best_estimator_`` (for KMeans: minus the inertia of X)."""
        return self._delegate("score", X, score_dask)
