"""What a fitted KSweep shows about its choice: ``summary()`` and ``plot()``.

A mixin of :class:`~ksweep.KSweep`; it reads ``results_``, ``elbow_``, ``best_k_`` and
``estimators_`` and never refits.
"""

from __future__ import annotations

from sklearn.utils.validation import check_is_fitted

from ksweep._choosing import SCORING_NAMES, Summary, cheap_criteria, criterion_columns, summary
from ksweep._resampling import stability_summary
from ksweep._seeding import criteria_seed, seed_entropy


class SweepEvidence:
    """``summary`` and ``plot`` for a fitted sweep (a mixin of KSweep)."""

    def summary(self, X=None) -> Summary:
        """What every applicable selection method chooses on this sweep, side by side.

        The default selection ``"auto"`` first (its reason gives the
        no-structure test), the elbow detectors, each criterion in ``results_``,
        the gap statistic when it was computed, BIC for mixtures, the ``"vote"``
        of these, whose reason is the tally, and with ``stability`` a
        ``"stability"`` row (the k chosen most often over the resamples). ``str()`` of the
        result is a table that ends with whether the methods agree (and, when
        they do not, which k each group chose); ``.chosen()`` maps each method
        to its k.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), default=None
            The training data. When given, the cheap criteria ("silhouette",
            "calinski_harabasz", "davies_bouldin") that ``results_`` lacks are
            computed from each k's training labels and shown too (``results_``
            is not changed); they need X, which a sweep does not keep. Without
            X, the table notes which cheap criteria it could not show. Not used
            for time series or a dask array; on precomputed distances only the
            silhouette applies.

        Returns
        -------
        Summary
            A dict of method name to :class:`~ksweep.SelectionResult`.

        Examples
        --------
        >>> from sklearn.datasets import make_blobs
        >>> from ksweep import KSweep
        >>> X, _ = make_blobs(n_samples=300, centers=3, cluster_std=0.5, random_state=0)
        >>> sweep = KSweep(k_range=range(2, 7), n_init=2, random_state=0).fit(X)
        >>> summary = sweep.summary(X)
        >>> print(" ".join(summary))
        auto kneedle two_segment silhouette calinski_harabasz davies_bouldin vote
        >>> summary.chosen()["silhouette"], summary["vote"].k
        (3, 3)
        >>> print(str(summary).splitlines()[-1])
        The methods disagree: k=3 (auto, kneedle, silhouette, calinski_harabasz, \
davies_bouldin); k=4 (two_segment).
        """
        check_is_fitted(self)
        results, notes = self.results_, []
        cheap = [name for name in cheap_criteria(self) if name not in results]
        if cheap and X is None:
            notes.append(
                f"Not shown: {', '.join(cheap)} (pass the training data: summary(X), "
                f"or scoring={tuple(cheap)!r} at fit)."
            )
        elif cheap:
            results = results.with_columns(**self._criteria_of(X, tuple(cheap)))
        rows = Summary(
            summary(
                results["k"],
                results,
                self.elbow_scale,
                gap_rule=self.gap_rule,
                gap_se_factor=self.gap_se_factor,
                structure=getattr(self, "structure_", None),
            ),
            notes=notes,
        )
        if hasattr(self, "stability_"):
            rows["stability"] = stability_summary(self.stability_, self.best_k_)
        return rows

    def _criteria_of(self, X, names: tuple[str, ...]) -> dict:
        """The named criteria of the training data X from each k's fitted labels."""
        X = self._validate_X(X, reset=False)
        labels = {int(k): getattr(model, "labels_", None) for k, model in self.estimators_.items()}
        if any(v is None or len(v) != X.shape[0] for v in labels.values()):
            raise ValueError(
                f"The 'X' argument of {type(self).__name__}.summary must be the training data "
                f"({len(next(iter(labels.values())))} samples, as in labels_). "
                f"Got {X.shape[0]} samples instead."
            )
        return criterion_columns(
            X,
            self.results_["k"],
            labels,
            names,
            silhouette_sample=self.silhouette_sample,
            seed=criteria_seed(seed_entropy(self.random_state)),
            precomputed=self._template().get_params(deep=False).get("metric") == "precomputed",
        )

    def plot(self, ax=None):
        """Plot the sweep: inertia per k with its spread over restarts, the chosen k marked.

        Without ``ax``, one figure (:func:`ksweep.plotting.plot_sweep`): the best
        inertia per k with mean ± std over restarts (on a log axis when the
        selection ran on log inertia), the selection's statistic (why k was
        chosen), and one panel per criterion in ``results_`` with its own pick
        (the gap with ± s_k error bars and its rule's pick); the chosen k is
        marked on every panel and each y label says which way is better. With
        ``ax``, only the inertia panel, drawn on it. Needs matplotlib
        (``pip install 'ksweep[plot]'``).

        Returns
        -------
        matplotlib Figure (without ``ax``) or Axes (with ``ax``)

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from sklearn.datasets import make_blobs
        >>> from ksweep import KSweep
        >>> X, _ = make_blobs(n_samples=300, centers=3, cluster_std=0.5, random_state=0)
        >>> sweep = KSweep(k_range=range(2, 7), n_init=2, random_state=0).fit(X)
        >>> fig = sweep.plot()
        >>> type(fig).__name__, len(fig.axes)  # inertia, kneedle's statistic
        ('Figure', 2)
        >>> plt.close(fig)
        """
        check_is_fitted(self)
        from ksweep.plotting import plot_fitted

        k_values = self.results_["k"].tolist()
        picks = {  # each criterion's own k, read as summary() reads it (the gap's rule)
            name: k_values.index(k)
            for name, k in self.summary().chosen().items()
            if name in SCORING_NAMES and k is not None
        }
        return plot_fitted(
            self.results_, self.elbow_, self.best_k_, SCORING_NAMES, ax=ax, picks=picks
        )
