"""``KSweep(stability=B)``: the sweep again on B subsamples, and how often each k is chosen.

Each resample keeps 80% of the rows (:func:`ksweep.stability.resample_indices`,
seeded under :data:`ksweep._seeding.STABILITY_KEY`) and is swept like the data: a clone of the
sweep (same estimator, engine, executor, ``k_range``, ``n_init`` and selection;
no repair, no checkpoint) with its own seed. Each resample's best clustering per
k labels its rows; :func:`ksweep.stability.resample_stability` then gives per k
the mean adjusted Rand index between resamples (on the rows they share) and how
many resamples chose it. The cost is about B sweeps of 80% of the rows.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.base import clone

from ksweep._seeding import STABILITY_KEY, seed_of, spawn
from ksweep._selection import SelectionResult
from ksweep._validation import param_error
from ksweep.stability import StabilityResult, resample_indices, resample_stability

#: The share of rows each resample keeps.
FRACTION = 0.8


def _labels(model: Any, X: Any) -> np.ndarray:
    labels = getattr(model, "labels_", None)
    return np.asarray(model.predict(X) if labels is None else labels)


def resampled_stability(front: Any, X: Any, entropy: int) -> StabilityResult:
    """Sweep ``front`` again on ``front.stability`` subsamples of X (in memory)."""
    n_resamples = int(front.stability)
    k_values = np.asarray(front.results_["k"])
    size = round(FRACTION * X.shape[0])
    if size < k_values.max():
        raise param_error(
            "stability",
            type(front).__name__,
            f"None for data this small: each resample keeps {size} rows, fewer than the "
            f"largest k ({int(k_values.max())})",
            front.stability,
        )
    indices = resample_indices(
        X.shape[0], n_resamples, fraction=FRACTION, random_state=spawn(entropy, (*STABILITY_KEY, 0))
    )
    labels: list[list[np.ndarray]] = [[] for _ in k_values]
    chosen = []
    for b, rows in enumerate(indices):
        sub = clone(front).set_params(
            stability=None,
            n_init_max=None,
            checkpoint=None,
            progress=False,
            random_state=seed_of(entropy, (*STABILITY_KEY, 1, b)),
        )
        part = X[rows]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the resamples' own warnings are not the user's
            sub.fit(part)
        chosen.append(int(sub.best_k_))
        for i, k in enumerate(k_values):
            labels[i].append(_labels(sub.estimators_[int(k)], part))
    return resample_stability(k_values, labels, indices, chosen)


def stability_columns(result: StabilityResult) -> dict[str, np.ndarray]:
    """Per-k columns for ``results_``: times chosen and mean ARI between resamples."""
    return {"stability_chosen": result.chosen_count, "stability_ari": result.mean_ari}


def stability_summary(result: StabilityResult, best_k: int) -> SelectionResult:
    """The summary row: the k chosen most often, and what the sweep's own k did."""
    top = int(result.k[int(np.argmax(result.chosen_count))])
    reason = result.describe(top)
    if top != best_k:
        reason += f"; the sweep's {result.describe(best_k)}"
    return SelectionResult(
        k=top,
        method="stability",
        candidates=result.k.copy(),
        statistic=result.chosen_count.astype(np.float64),
        statistic_name="times chosen",
        reason=reason,
        details={"stability": result},
    )
