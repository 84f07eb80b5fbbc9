"""KSweep's parameter schema: what each parameter may be, checked at the start of every fit.

ksweep's own schema (see :mod:`ksweep._validation`), in the order the checks run.
"""

from __future__ import annotations

import os

import numpy as np

from ksweep._choosing import SCORING_NAMES, SELECTION_NAMES
from ksweep._executors import check_executor
from ksweep._validation import (
    CALLABLE,
    NONE,
    NONNEGATIVE_REAL,
    NONZERO_INT,
    RANDOM_STATE,
    Checked,
    Constraint,
    Rule,
    check_estimator,
    check_k_range,
    int_at_least,
    options,
)
from ksweep.gap import GAP_RULES

_BOOL = Constraint("a bool", lambda v: isinstance(v, bool | np.bool_))

KSWEEP_CONSTRAINTS: dict[str, Rule] = {
    "n_init": [int_at_least(1)],
    "n_init_max": [options("auto"), int_at_least(1), NONE],
    "stability": [int_at_least(2), NONE],
    "random_state": [RANDOM_STATE, NONE],
    "n_jobs": [NONZERO_INT, NONE],
    "inner_threads": [options("auto"), int_at_least(1), NONE],
    "engine": [options("auto", "fused", "independent")],
    "score_func": [CALLABLE, NONE],
    "progress": [_BOOL],
    "elbow_scale": [options("auto", "log", "linear")],
    "selection": [options(*SELECTION_NAMES), CALLABLE],
    "scoring": [
        Constraint(
            "a tuple of str among {" + ", ".join(repr(n) for n in SCORING_NAMES) + "}",
            lambda v: (
                isinstance(v, (tuple, list))
                and all(isinstance(n, str) and n in SCORING_NAMES for n in v)
            ),
        ),
        options(*SCORING_NAMES),
        NONE,
    ],
    "silhouette_sample": [int_at_least(2), NONE],
    "seeding_sample": [int_at_least(1)],
    "gap_references": [int_at_least(1)],
    "gap_reference": [options("uniform", "pca")],
    "gap_rule": [options(*GAP_RULES)],
    "gap_se_factor": [NONNEGATIVE_REAL],
    "checkpoint": [
        Constraint(
            "a non-empty str or os.PathLike (a directory)",
            lambda v: isinstance(v, (str, os.PathLike)) and os.fspath(v) != "",
        ),
        NONE,
    ],
    "checkpoint_overwrite": [_BOOL],
    "executor": Checked(check_executor),
    "k_range": Checked(lambda value, owner: check_k_range(value, owner=owner)),
    "estimator": Checked(check_estimator),
}
