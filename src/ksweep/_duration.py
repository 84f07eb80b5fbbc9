"""How long a sweep will take, projected from its first finished task, and a warning when
that is long (:class:`~ksweep.exceptions.LongSweepWarning`)."""

from __future__ import annotations

import time
import warnings
from typing import Any

from ksweep.exceptions import LongSweepWarning

#: A projection above this many seconds is warned about.
LONG_SWEEP_SECONDS = 60.0


def _advice(template: Any, n_init: int) -> str:
    """What makes this estimator's sweep cheaper, in words."""
    metric = template.get_params(deep=False).get("metric")
    if metric in ("dtw", "softdtw"):
        return (
            f" {metric.upper()} costs grow with the series length squared and with n_init "
            f"(now {n_init}): try n_init=1 to 3, shorter series (resample), or one "
            "ksweep.distances.dtw_distance_matrix and a k-medoids sweep on it "
            "(metric='precomputed')."
        )
    return f" Fewer restarts (n_init, now {n_init}) or a smaller k range cost less."


class DurationCheck:
    """Warn once, after the first finished job, when the whole sweep projects long.

    Parameters
    ----------
    n_jobs_total : int
        Jobs (tasks, or fused groups) the sweep runs.
    workers : int
        Jobs that run at once.
    template : estimator
        The swept estimator (for the advice).
    n_init : int
        Restarts per k.
    unit : str, default="fit (the largest k)"
        What one job is, in the message.
    """

    def __init__(
        self,
        n_jobs_total: int,
        workers: int,
        template: Any,
        n_init: int,
        unit: str = "fit (the largest k)",
    ):
        self.total, self.workers = n_jobs_total, max(1, workers)
        self.template, self.n_init, self.unit = template, n_init, unit
        self.start = time.perf_counter()
        self.done = False

    def projection(self, elapsed: float) -> float:
        """Seconds the sweep takes if every job takes ``elapsed`` (the first one's)."""
        rounds = -(-self.total // self.workers)  # ceil: jobs run `workers` at a time
        return elapsed * rounds

    def first_finished(self, stacklevel: int) -> None:
        """Call after each finished job; only the first call measures (and may warn)."""
        if self.done:
            return
        self.done = True
        elapsed = time.perf_counter() - self.start
        projected = self.projection(elapsed)
        if self.total > 1 and projected > LONG_SWEEP_SECONDS:
            warnings.warn(
                f"This sweep may take up to about {projected / 60:.0f} min: its first "
                f"{self.unit} took {elapsed:.1f} s, and {self.total} run "
                f"{self.workers} at a time.{_advice(self.template, self.n_init)}",
                LongSweepWarning,
                stacklevel=stacklevel,
            )
