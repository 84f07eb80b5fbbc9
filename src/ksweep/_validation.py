"""Parameter constraints declared as data, and the checks KSweep runs in ``fit``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np

from ksweep.exceptions import InvalidParameterError

#: Parameters whose value is the number of clusters, in the order they are looked for.
CLUSTER_COUNT_PARAMS = ("n_clusters", "n_components")


@dataclass(frozen=True)
class Constraint:
    """One acceptable kind of value for a parameter: a description and a test."""

    description: str
    test: Callable[[Any], bool]

    def __str__(self) -> str:
        return self.description


def _is_int(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def int_at_least(low: int) -> Constraint:
    """An integer ``>= low``."""
    return Constraint(f"an int in the range [{low}, inf)", lambda v: _is_int(v) and v >= low)


def options(*names: str) -> Constraint:
    """One of the given strings."""
    listed = ", ".join(repr(n) for n in names)
    return Constraint(f"a str among {{{listed}}}", lambda v: isinstance(v, str) and v in names)


def instance_of(*types: type, name: str) -> Constraint:
    """An instance of any of ``types``."""
    return Constraint(f"an instance of {name}", lambda v: isinstance(v, types))


NONE = Constraint("None", lambda v: v is None)
CALLABLE = Constraint("a callable", callable)
NONZERO_INT = Constraint("a nonzero int", lambda v: _is_int(v) and v != 0)
RANDOM_STATE = Constraint(
    "an int in the range [0, inf), a numpy RandomState or Generator",
    lambda v: (
        (_is_int(v) and v >= 0) or isinstance(v, (np.random.RandomState, np.random.Generator))
    ),
)


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def param_error(param: str, owner: str, expectation: str, value: Any) -> InvalidParameterError:
    """The scikit-learn style error for a parameter that breaks its constraint."""
    return InvalidParameterError(
        f"The {param!r} parameter of {owner} must be {expectation}. Got {value!r} instead."
    )


def validate_params(owner: str, constraints: dict[str, list[Constraint]], params: dict) -> None:
    """Raise ``InvalidParameterError`` for the first parameter no constraint accepts."""
    for param, allowed in constraints.items():
        value = params[param]
        if not any(c.test(value) for c in allowed):
            raise param_error(param, owner, _join([str(c) for c in allowed]), value)


def check_k_range(k_range: Any, *, owner: str = "KSweep", n_samples: int | None = None):
    """Return ``k_range`` as a strictly increasing int64 array, or raise.

    Accepts a ``range`` or a 1-D array-like of integers >= 1 with no repeats,
    in increasing order, none larger than ``n_samples`` when it is given.
    """

    def fail(expectation: str) -> InvalidParameterError:
        return param_error("k_range", owner, expectation, k_range)

    if isinstance(k_range, (str, bytes)) or not isinstance(k_range, (range, Iterable)):
        raise fail("a range or a 1-D array-like of ints")
    values = np.asarray(list(k_range) if isinstance(k_range, range) else k_range, dtype=object)
    if values.ndim != 1:
        raise fail("a range or a 1-D array-like of ints")
    if values.size == 0:
        raise fail("non-empty")
    if not all(_is_int(v) for v in values):
        raise fail("a range or a 1-D array-like of ints")
    values = values.astype(np.int64)
    if values.min() < 1:
        raise fail("made of ints >= 1")
    if np.unique(values).size != values.size:
        raise fail("free of duplicated values")
    if np.any(np.diff(values) < 0):
        raise fail("sorted in increasing order")
    if n_samples is not None and values.max() > n_samples:
        raise fail(f"made of ints <= n_samples={n_samples} (the number of samples in X)")
    return values


def cluster_count_param(estimator: Any, owner: str = "KSweep") -> str:
    """Name of the estimator's parameter that sets the number of clusters, or raise."""
    if not (hasattr(estimator, "fit") and hasattr(estimator, "get_params")):
        raise param_error(
            "estimator", owner, "a scikit-learn style estimator with fit and get_params", estimator
        )
    params = estimator.get_params(deep=False)
    for name in CLUSTER_COUNT_PARAMS:
        if name in params:
            return name
    wanted = " or ".join(repr(n) for n in CLUSTER_COUNT_PARAMS)
    raise param_error(
        "estimator",
        owner,
        f"a clusterer whose number of clusters is a parameter ({wanted}); "
        f"{type(estimator).__name__} has none of them",
        estimator,
    )
