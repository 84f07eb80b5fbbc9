"""Parameter constraints declared as data, and the checks KSweep runs in ``fit``.

ksweep's own names (:class:`Constraint`, :class:`Checked`, :func:`validate_params`,
``KSweep._constraints``), not scikit-learn's ``_parameter_constraints`` and
``_validate_params``: ksweep's schema accepts what scikit-learn's does not (a numpy
``Generator`` as ``random_state``, an executor by name or instance, a k range), and
keeps its messages in scikit-learn's words ("The 'x' parameter of KSweep must be
... Got ... instead.") with :class:`~ksweep.exceptions.InvalidParameterError`,
a subclass of scikit-learn's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from numbers import Integral, Real
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


@dataclass(frozen=True)
class Checked:
    """A parameter checked by a function of its own, ``check(value, owner)``, which raises
    ``InvalidParameterError`` (a k range, an estimator, an executor)."""

    check: Callable[[Any, str], Any]

    def __str__(self) -> str:
        return getattr(self.check, "__name__", "checked")


#: What a parameter may be: one of a list of constraints, or a function's check.
Rule = list[Constraint] | Checked


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
NONNEGATIVE_REAL = Constraint(
    "a finite real number >= 0",
    lambda v: isinstance(v, Real) and not isinstance(v, bool) and bool(np.isfinite(v)) and v >= 0,
)
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


def validate_params(owner: str, constraints: dict[str, Rule], params: dict) -> None:
    """Raise ``InvalidParameterError`` for the first parameter its rule refuses."""
    for param, allowed in constraints.items():
        value = params[param]
        if isinstance(allowed, Checked):
            allowed.check(value, owner)
        elif not any(c.test(value) for c in allowed):
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
    if isinstance(k_range, range):
        check_range_bounds(k_range, fail, n_samples)
        return np.arange(k_range.start, k_range.stop, k_range.step, dtype=np.int64)
    values = np.asarray(k_range, dtype=object)
    if values.ndim != 1:
        raise fail("a range or a 1-D array-like of ints")
    if values.size == 0:
        raise fail("non-empty")
    if not all(_is_int(v) for v in values):
        raise fail("a range or a 1-D array-like of ints")
    try:
        values = values.astype(np.int64)
    except OverflowError:
        raise fail("made of ints that fit in 64 bits") from None
    if values.min() < 1:
        raise fail("made of ints >= 1")
    if np.unique(values).size != values.size:
        raise fail("free of duplicated values")
    if np.any(np.diff(values) < 0):
        raise fail("sorted in increasing order")
    if n_samples is not None and values.max() > n_samples:
        raise fail(f"made of ints <= n_samples={n_samples} (the number of samples in X)")
    return values


#: The most k values a ``range`` may hold before X is seen (a sweep fits every one).
MAX_K_VALUES = 1_000_000


def check_range_bounds(k_range: range, fail: Callable, n_samples: int | None) -> None:
    """Check a ``range`` k_range from its bounds alone, without expanding it.

    A ``range(2, 10**9)`` is refused at once (its last value against ``n_samples``
    when known, else its length against :data:`MAX_K_VALUES`), never listed.
    """
    if len(k_range) == 0:
        raise fail("non-empty")
    if k_range.step < 0 and len(k_range) > 1:
        raise fail("sorted in increasing order")
    if k_range[0] < 1 or k_range[-1] < 1:
        raise fail("made of ints >= 1")
    if k_range[-1] >= 2**63:
        raise fail("made of ints that fit in 64 bits")
    if n_samples is not None and k_range[-1] > n_samples:
        raise fail(f"made of ints <= n_samples={n_samples} (the number of samples in X)")
    if len(k_range) > MAX_K_VALUES:
        raise fail(f"at most {MAX_K_VALUES:,} values long (a sweep fits every k)")


def check_estimator(estimator: Any, owner: str = "KSweep") -> None:
    """Raise unless ``estimator`` is None (KMeans) or an estimator instance."""
    if estimator is not None:
        _check_instance(estimator, owner)


def _check_instance(estimator: Any, owner: str) -> None:
    if isinstance(estimator, type) and hasattr(estimator, "fit"):
        raise param_error(
            "estimator",
            owner,
            f"an estimator instance, such as {estimator.__name__}(), not the class",
            estimator,
        )
    if not (hasattr(estimator, "fit") and hasattr(estimator, "get_params")):
        raise param_error(
            "estimator", owner, "a scikit-learn style estimator with fit and get_params", estimator
        )


def validate_estimator_params(estimator: Any) -> None:
    """Run the estimator's own parameter validation, as its ``fit`` would, or do nothing.

    For engines that fit in place of the estimator's ``fit`` (fused, dask arrays):
    scikit-learn's ``_validate_params`` checks every parameter against the class's
    ``_parameter_constraints`` and raises scikit-learn's ``InvalidParameterError``
    ("The 'max_iter' parameter of KMeans must be ..."). The rest of
    ``KMeans._check_params_vs_input`` does not apply there: k against n_samples is
    checked by the sweep, ``init`` is "k-means++", and ``tol`` is scaled by the engine.
    Estimators without declared constraints (tslearn's) are not checked here.
    """
    if getattr(type(estimator), "_parameter_constraints", None) is None:
        return
    validate = getattr(estimator, "_validate_params", None)
    if callable(validate):
        validate()


def cluster_count_param(estimator: Any, owner: str = "KSweep") -> str:
    """Name of the estimator's parameter that sets the number of clusters, or raise."""
    _check_instance(estimator, owner)
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


def check_time_series(X: Any, *, owner: str = "KSweep", min_samples: int = 1) -> np.ndarray:
    """Return a time series dataset of shape (n_series, length, n_dims), or raise.

    Accepts 3-D arrays, 2-D arrays (one dimension per time step) and lists of
    series of different lengths, which are NaN-padded at the end as tslearn
    does. NaN is allowed only as that trailing padding; float32 is kept.
    """
    if isinstance(X, (list, tuple)) and X and len({np.shape(x)[0] for x in X}) > 1:
        from tslearn.utils import to_time_series_dataset

        X = to_time_series_dataset(X)
    arr = np.asarray(X)
    if arr.dtype.kind in "OUSV" or np.iscomplexobj(arr):
        raise ValueError(
            f"{owner} expects real numbers in a time series dataset. Got dtype {arr.dtype} instead."
        )
    if arr.ndim == 2:
        arr = arr[:, :, np.newaxis]
    if arr.ndim != 3:
        raise ValueError(
            f"{owner} expects a time series dataset of shape (n_series, length) or "
            f"(n_series, length, n_dims). Got an array of shape {arr.shape} instead."
        )
    arr = arr.astype(np.float32 if arr.dtype == np.float32 else np.float64, copy=False)
    if arr.shape[0] < min_samples:
        raise ValueError(
            f"Found array with {arr.shape[0]} sample(s) (shape={arr.shape}) while a minimum "
            f"of {min_samples} is required by {owner}."
        )
    if np.isinf(arr).any():
        raise ValueError(f"Input X contains infinity, which {owner} cannot fit.")
    nan = np.isnan(arr)
    step_any, step_all = nan.any(axis=2), nan.all(axis=2)
    if (step_any != step_all).any():
        i = int(np.flatnonzero((step_any != step_all).any(axis=1))[0])
        raise ValueError(
            f"Input X contains NaN in some but not all dimensions of a time step of series "
            f"{i}; NaN is allowed only as trailing padding of variable-length series."
        )
    if (np.diff(step_all.astype(np.int8), axis=1) < 0).any():
        i = int(np.flatnonzero((np.diff(step_all.astype(np.int8), axis=1) < 0).any(axis=1))[0])
        raise ValueError(
            f"Input X contains NaN inside series {i}; NaN is allowed only as trailing padding "
            "of variable-length series."
        )
    if step_all[:, 0].any():
        i = int(np.flatnonzero(step_all[:, 0])[0])
        raise ValueError(f"Input X contains an empty series (all NaN) at position {i}.")
    return arr


#: What a NaN in X means for a sweep, and what to do (scikit-learn's own message points to
#: supervised models that accept NaN, which no clusterer here does).
MISSING_VALUES_ADVICE = (
    "Input X contains NaN. {owner} clusters every row, and its clusterers need a value in "
    "every cell: drop the rows with missing values (for a DataFrame, X.dropna()) or impute "
    "them first (sklearn.impute.SimpleImputer in a Pipeline before {owner})."
)


def check_numeric_columns(X: Any, owner: str) -> None:
    """Refuse a (pandas or dask) DataFrame with a non-numeric column, naming the column."""
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(X, "columns") or not hasattr(dtypes, "items"):
        return
    from pandas.api.types import is_numeric_dtype  # a DataFrame: pandas is there

    for name, dtype in dtypes.items():
        if is_numeric_dtype(dtype):
            continue
        example = ""
        if type(X).__module__.startswith("pandas"):  # show a value that is not a number
            try:
                np.asarray(X[name], dtype=np.float64)
                continue  # object column of numbers: scikit-learn converts it
            except (TypeError, ValueError) as exc:
                example = f" ({exc})"
        raise ValueError(
            f"The 'X' argument of {owner} has a non-numeric column {name!r} "
            f"(dtype {dtype}){example}: encode it first (OneHotEncoder or OrdinalEncoder in a "
            f"ColumnTransformer) or drop it."
        )


def check_input(estimator: Any, X: Any, *, reset: bool, timeseries: bool):
    """X for ``fit`` (``reset``) or for predict, transform and score of a fitted sweep.

    Feature vectors go through scikit-learn's ``validate_data`` (sparse CSR where
    the estimator takes it); time series through :func:`check_time_series`, with
    ``n_features_in_`` their number of dimensions.
    """
    from sklearn.utils import get_tags
    from sklearn.utils.validation import validate_data

    owner = type(estimator).__name__
    if not timeseries:
        check_numeric_columns(X, owner)
        try:
            return validate_data(
                estimator,
                X,
                reset=reset,
                accept_sparse="csr" if get_tags(estimator).input_tags.sparse else False,
                accept_large_sparse=False,
                dtype=[np.float64, np.float32],
                ensure_min_samples=2 if reset else 1,
            )
        except ValueError as exc:
            first = str(exc).split("\n", 1)[0]
            if first.startswith("Input X contains NaN"):  # not scikit-learn's advice for
                raise ValueError(MISSING_VALUES_ADVICE.format(owner=owner)) from None  # models
            raise
    X = check_time_series(X, owner=owner, min_samples=2 if reset else 1)
    if reset:
        estimator.n_features_in_ = X.shape[2]
    elif X.shape[2] != estimator.n_features_in_:
        raise ValueError(
            f"X has {X.shape[2]} features, but {owner} is expecting "
            f"{estimator.n_features_in_} features as input."
        )
    return X
