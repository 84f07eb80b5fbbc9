"""A battery of bad inputs across every public entry point of ksweep.

Each case asserts the exception type and the meaningful part of its message. Where ksweep
raises the error itself, the message follows scikit-learn's template
``The 'x' parameter of KSweep must be ... Got ... instead.``; where it hands the input to
scikit-learn's ``validate_data``/``check_array``, scikit-learn's own message is expected.
Every refusal of ``KSweep.fit`` is also checked to happen before any task is submitted.

Tests marked ``BUG:`` in their docstring fail against the current ksweep on purpose: they
describe behaviour that the documentation promises and the code does not deliver.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.cluster import (
    DBSCAN,
    HDBSCAN,
    OPTICS,
    AffinityPropagation,
    AgglomerativeClustering,
    KMeans,
    MeanShift,
    MiniBatchKMeans,
)
from sklearn.datasets import make_blobs
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler

import ksweep._executors
import ksweep._threads
from ksweep import (
    InvalidParameterError,
    KSweep,
    NoElbowWarning,
    SelectionResult,
    SerialExecutor,
    SweepTaskError,
    available_executors,
    register_executor,
)
from ksweep.criteria import (
    calinski_harabasz,
    davies_bouldin,
    gap_statistic,
    reference_datasets,
    select_max,
    silhouette,
)
from ksweep.distances import dtw_distance_matrix
from ksweep.elbow import kneedle, two_segment

X_TRAIN, _ = make_blobs(n_samples=24, n_features=3, centers=3, cluster_std=0.4, random_state=7)
N_CORES = ksweep._threads.cpu_cores()
NOT_FITTED = (
    "This KSweep instance is not fitted yet. Call 'fit' with appropriate arguments "
    "before using this estimator."
)


class CountingExecutor(SerialExecutor):
    """A serial executor that counts the tasks submitted to it."""

    def __init__(self):
        super().__init__()
        self.n_submitted = 0

    def submit(self, fn, /, *args, **kwargs):
        self.n_submitted += 1
        return super().submit(fn, *args, **kwargs)


def assert_refused_before_any_fit(X, exc_type, message, **params):
    """``KSweep(**params).fit(X)`` raises ``exc_type`` matching ``message``; nothing ran."""
    executor = CountingExecutor()
    params = {"k_range": [2, 3, 4], "n_init": 2, **params, "executor": executor}
    with pytest.raises(exc_type, match=re.escape(message)):
        KSweep(**params).fit(X)
    assert executor.n_submitted == 0


@contextlib.contextmanager
def quiet():
    """Silence the warnings a tiny sweep may raise (no elbow, non-monotonic inertia)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def template(param, expectation, value):
    return f"The {param!r} parameter of KSweep must be {expectation}. Got {value!r} instead."


@pytest.fixture(scope="module")
def fitted_kmeans():
    with quiet():
        return KSweep(k_range=[2, 3, 4, 5], n_init=2, random_state=0).fit(X_TRAIN)


@pytest.fixture(scope="module")
def fitted_mixture():
    with quiet():
        return KSweep(GaussianMixture(), k_range=[2, 3, 4, 5], n_init=1, random_state=0).fit(
            X_TRAIN
        )


# --------------------------------------------------------------------------------------
# KSweep.fit: bad X
# --------------------------------------------------------------------------------------

_NAN = float("nan")
_SPARSE_NAN = sparse.csr_matrix(np.array([[0.0, 1.0], [_NAN, 0.0], [2.0, 0.0], [0.0, 3.0]]))
_SPARSE_INF = sparse.csr_matrix(np.array([[0.0, 1.0], [np.inf, 0.0], [2.0, 0.0], [0.0, 3.0]]))


@pytest.mark.parametrize(
    ("X", "estimator", "exc_type", "message"),
    [
        pytest.param(
            [[0.0, 1.0], [_NAN, 2.0], [3.0, 4.0], [5.0, 6.0]],
            None,
            ValueError,
            "Input X contains NaN.",
            id="nan-in-a-list",
        ),
        pytest.param(
            np.array([[0.0, 1.0], [2.0, _NAN], [3.0, 4.0]], dtype=np.float32),
            None,
            ValueError,
            "Input X contains NaN.",
            id="nan-float32",
        ),
        pytest.param(_SPARSE_NAN, None, ValueError, "Input X contains NaN.", id="nan-sparse"),
        pytest.param(
            _SPARSE_INF,
            None,
            ValueError,
            "Input X contains infinity or a value too large for dtype('float64').",
            id="inf-sparse",
        ),
        pytest.param(
            np.array([[0.0, 1.0], [-np.inf, 0.0], [1.0, 1.0]], dtype=np.float32),
            None,
            ValueError,
            "Input X contains infinity or a value too large for dtype('float32').",
            id="minus-inf-float32",
        ),
        pytest.param(
            sparse.csr_matrix((0, 3)),
            None,
            ValueError,
            "Found array with 0 sample(s) (shape=(0, 3)) while a minimum of 2 is required by "
            "KSweep.",
            id="empty-sparse",
        ),
        pytest.param([], None, ValueError, "Expected 2D array, got 1D array instead", id="[]"),
        pytest.param(
            np.zeros((5, 0)),
            None,
            ValueError,
            "Found array with 0 feature(s) (shape=(5, 0)) while a minimum of 1 is required by "
            "KSweep.",
            id="no-features",
        ),
        pytest.param(
            [[1.0, 2.0]],
            None,
            ValueError,
            "Found array with 1 sample(s) (shape=(1, 2)) while a minimum of 2 is required by "
            "KSweep.",
            id="one-sample-list",
        ),
        pytest.param(
            sparse.csr_matrix(np.ones((1, 4))),
            None,
            ValueError,
            "Found array with 1 sample(s) (shape=(1, 4)) while a minimum of 2 is required by "
            "KSweep.",
            id="one-sample-sparse",
        ),
        pytest.param(
            [["a", "b"], ["c", "d"], ["e", "f"]],
            None,
            ValueError,
            "could not convert string to float: 'a'",
            id="strings",
        ),
        pytest.param(
            np.array([[1.0, None], [2.0, 3.0], [4.0, 5.0]], dtype=object),
            None,
            ValueError,
            "Input X contains NaN.",
            id="object-with-None",
        ),
        pytest.param(
            pd.DataFrame({"a": ["x", "y", "z"], "b": [1.0, 2.0, 3.0]}),
            None,
            ValueError,
            "could not convert string to float: 'x'",
            id="dataframe-with-a-text-column",
        ),
        pytest.param(
            np.ones((4, 2), dtype=np.complex64),
            None,
            ValueError,
            "Complex data not supported",
            id="complex64",
        ),
        pytest.param(
            sparse.csr_matrix(np.eye(4) * (1 + 2j)),
            None,
            ValueError,
            "Complex data not supported",
            id="complex-sparse",
        ),
        pytest.param(
            np.zeros((6, 2, 2)),
            GaussianMixture(),
            ValueError,
            "Found array with dim 3, while dim <= 2 is required by KSweep.",
            id="3d-to-a-mixture",
        ),
        pytest.param(
            np.arange(6.0),
            None,
            ValueError,
            "Expected 2D array, got 1D array instead",
            id="1d",
        ),
        pytest.param(
            sparse.csr_matrix(X_TRAIN),
            GaussianMixture(),
            TypeError,
            "Sparse data was passed for X, but dense data is required. Use '.toarray()' to "
            "convert to a dense numpy array.",
            id="sparse-to-GaussianMixture",
        ),
        pytest.param(
            sparse.csr_matrix(X_TRAIN),
            AgglomerativeClustering(),
            TypeError,
            "Sparse data was passed for X, but dense data is required.",
            id="sparse-to-AgglomerativeClustering",
        ),
    ],
)
def test_bad_X_is_refused_before_any_fit(X, estimator, exc_type, message):
    assert_refused_before_any_fit(X, exc_type, message, estimator=estimator, k_range=[1, 2, 3])


@pytest.mark.parametrize("estimator", [KMeans(), MiniBatchKMeans(batch_size=16)], ids=repr)
@pytest.mark.parametrize("to_sparse", [sparse.csr_matrix, sparse.csc_matrix], ids=["csr", "csc"])
def test_sparse_input_works_where_the_estimator_takes_it(estimator, to_sparse):
    X = np.abs(X_TRAIN)
    X[X < 2.0] = 0.0
    with quiet():
        sweep = KSweep(estimator, k_range=[2, 3, 4, 5], n_init=2, random_state=0)
        sweep.fit(to_sparse(X))
        dense = KSweep(
            estimator, k_range=[2, 3, 4, 5], n_init=2, random_state=0, engine="independent"
        ).fit(X)
    assert sweep.results_.engine == "independent"  # the fused engine takes dense X only
    np.testing.assert_allclose(sweep.results_["inertia"], dense.results_["inertia"], rtol=1e-6)
    assert sweep.predict(to_sparse(X)).shape == (X.shape[0],)


def test_fewer_distinct_points_than_k_warns_convergence_and_kneedle_still_finds_them():
    # 3 distinct points, each 6 times: k = 4, 5, 6 cannot find more than 3 clusters
    X = np.repeat([[0.0, 0.0], [4.0, 4.0], [0.0, 9.0]], 6, axis=0)
    # kneedle itself: the default's no-structure test reads only k = 1 and 2, and with
    # 18 rows it cannot tell three equal clusters in a triangle from a uniform box
    sweep = KSweep(k_range=range(1, 7), n_init=2, random_state=0, selection="kneedle")
    with pytest.warns(ConvergenceWarning) as record:
        sweep.fit(X)
    messages = {str(w.message) for w in record if issubclass(w.category, ConvergenceWarning)}
    for k in (4, 5, 6):
        assert (
            f"Number of distinct clusters (3) found smaller than n_clusters ({k}). Possibly due "
            "to duplicate points in X." in messages
        )
    assert not any(f"n_clusters ({k})" in m for m in messages for k in (1, 2, 3))
    assert sweep.best_k_ == 3  # not a silent wrong k
    assert sweep.results_["inertia"][3:].max() < 1e-20


def test_every_k_above_the_distinct_points_warns_convergence_and_no_elbow():
    # 2 distinct points and k = 3, 4, 5: every inertia is 0, so no k can be chosen
    X = np.repeat([[0.0, 0.0], [4.0, 4.0]], 6, axis=0)
    sweep = KSweep(k_range=[3, 4, 5], n_init=2, random_state=0)
    with pytest.warns(Warning) as record:
        sweep.fit(X)
    categories = {w.category for w in record}
    assert ConvergenceWarning in categories and NoElbowWarning in categories
    no_elbow = [str(w.message) for w in record if w.category is NoElbowWarning]
    assert any(
        "The 'scores' argument of kneedle must not be constant" in m
        and "using the largest k=5" in m
        for m in no_elbow
    )
    assert sweep.best_k_ == 5 and sweep.elbow_.k is None


# --------------------------------------------------------------------------------------
# KSweep parameters
# --------------------------------------------------------------------------------------

_NOT_INTS = "a range or a 1-D array-like of ints"


@pytest.mark.parametrize(
    ("k_range", "expectation"),
    [
        ((), "non-empty"),
        (np.array([], dtype=np.int64), "non-empty"),
        (np.array([2.0, 3.0, 4.0]), _NOT_INTS),
        ([np.float64(2.0), 3, 4], _NOT_INTS),
        ([2, "3", 4], _NOT_INTS),
        ([2, 3, float("nan")], _NOT_INTS),
        ("2,3,4", _NOT_INTS),
        (b"\x02\x03\x04", _NOT_INTS),
        (None, _NOT_INTS),
        (True, _NOT_INTS),
        ({2, 3, 4}, _NOT_INTS),
        ({2: "a", 3: "b", 4: "c"}, _NOT_INTS),
        (np.array(3), _NOT_INTS),
        (np.array([[2, 3, 4]]), _NOT_INTS),
        (np.array([True, True, False]), _NOT_INTS),
        ([-1, 2, 3], "made of ints >= 1"),
        (np.array([0, 2, 3]), "made of ints >= 1"),
        ((2, 2, 3), "free of duplicated values"),
        (np.array([2, 5, 5]), "free of duplicated values"),
        ((5, 3, 4), "sorted in increasing order"),
        (range(6, 1, -1), "sorted in increasing order"),
        ([2, 3, 25], "made of ints <= n_samples=24 (the number of samples in X)"),
        (range(20, 26), "made of ints <= n_samples=24 (the number of samples in X)"),
    ],
    ids=repr,
)
def test_bad_k_range(k_range, expectation):
    message = template("k_range", expectation, k_range)
    assert_refused_before_any_fit(X_TRAIN, InvalidParameterError, message, k_range=k_range)


def test_k_range_as_a_generator_is_refused():
    values = (k for k in (2, 3, 4))
    message = f"The 'k_range' parameter of KSweep must be {_NOT_INTS}. Got <generator object"
    assert_refused_before_any_fit(X_TRAIN, InvalidParameterError, message, k_range=values)


def test_k_range_larger_than_n_samples_as_a_numpy_array():
    message = (
        "The 'k_range' parameter of KSweep must be made of ints <= n_samples=24 (the number "
        "of samples in X). Got array([ 2,"
    )
    assert_refused_before_any_fit(X_TRAIN, InvalidParameterError, message, k_range=np.arange(2, 30))


def test_k_range_with_a_huge_int_is_refused_as_larger_than_n_samples():
    """BUG: a k beyond int64 escapes validation as a bare OverflowError.

    ``check_k_range`` converts to int64 before comparing with n_samples, so
    ``KSweep(k_range=[2, 3, 2**70]).fit(X)`` raises ``OverflowError: Python int too large
    to convert to C long`` instead of the documented k_range message.
    """
    message = "The 'k_range' parameter of KSweep must be made of ints that fit in 64 bits"
    assert_refused_before_any_fit(X_TRAIN, InvalidParameterError, message, k_range=[2, 3, 2**70])


@pytest.mark.parametrize(
    ("selection", "k_range", "needed"),
    [("silhouette", [3], 2), ("gap", range(4, 5), 2), ("two_segment", (2, 3, 5), 4)],
)
def test_k_range_too_short_for_the_selection_method(selection, k_range, needed):
    message = template(
        "k_range", f"at least {needed} values long for selection={selection!r}", k_range
    )
    assert_refused_before_any_fit(
        X_TRAIN, InvalidParameterError, message, k_range=k_range, selection=selection
    )


_SCORING_OPTIONS = "{'silhouette', 'calinski_harabasz', 'davies_bouldin', 'gap'}"
_SELECTION_OPTIONS = (
    "a str among {'auto', 'kneedle', 'two_segment', 'silhouette', 'calinski_harabasz', "
    "'davies_bouldin', 'gap', 'bic', 'vote'} or a callable"
)


@pytest.mark.parametrize(
    ("param", "value", "expectation"),
    [
        ("n_init", np.int64(0), "an int in the range [1, inf)"),
        ("n_init", -1, "an int in the range [1, inf)"),
        ("n_init", 1.5, "an int in the range [1, inf)"),
        ("n_init", np.float64(3.0), "an int in the range [1, inf)"),
        ("n_init", True, "an int in the range [1, inf)"),
        ("n_init", False, "an int in the range [1, inf)"),
        ("n_init", None, "an int in the range [1, inf)"),
        ("n_jobs", np.int64(0), "a nonzero int or None"),
        ("n_jobs", 2.0, "a nonzero int or None"),
        ("n_jobs", True, "a nonzero int or None"),
        ("n_jobs", "2", "a nonzero int or None"),
        ("inner_threads", 1.0, "a str among {'auto'}, an int in the range [1, inf) or None"),
        ("inner_threads", -1, "a str among {'auto'}, an int in the range [1, inf) or None"),
        ("inner_threads", "1", "a str among {'auto'}, an int in the range [1, inf) or None"),
        ("inner_threads", True, "a str among {'auto'}, an int in the range [1, inf) or None"),
        ("progress", 1, "a bool"),
        ("progress", 0, "a bool"),
        ("progress", None, "a bool"),
        ("progress", "True", "a bool"),
        ("elbow_scale", "LOG", "a str among {'auto', 'log', 'linear'}"),
        ("elbow_scale", None, "a str among {'auto', 'log', 'linear'}"),
        ("elbow_scale", "ln", "a str among {'auto', 'log', 'linear'}"),
        ("silhouette_sample", 0, "an int in the range [2, inf) or None"),
        ("silhouette_sample", 2.5, "an int in the range [2, inf) or None"),
        ("silhouette_sample", True, "an int in the range [2, inf) or None"),
        ("silhouette_sample", "all", "an int in the range [2, inf) or None"),
        ("gap_references", -1, "an int in the range [1, inf)"),
        ("gap_references", 2.0, "an int in the range [1, inf)"),
        ("gap_references", True, "an int in the range [1, inf)"),
        ("gap_references", None, "an int in the range [1, inf)"),
        ("gap_reference", "PCA", "a str among {'uniform', 'pca'}"),
        ("gap_reference", None, "a str among {'uniform', 'pca'}"),
        (
            "gap_rule",
            "tibs",
            "a str among {'firstSEmax', 'Tibs2001SEmax', 'globalSEmax', 'firstmax', 'globalmax'}",
        ),
        (
            "gap_rule",
            None,
            "a str among {'firstSEmax', 'Tibs2001SEmax', 'globalSEmax', 'firstmax', 'globalmax'}",
        ),
        ("gap_se_factor", -0.5, "a finite real number >= 0"),
        ("gap_se_factor", float("inf"), "a finite real number >= 0"),
        ("gap_se_factor", True, "a finite real number >= 0"),
        ("gap_se_factor", "1", "a finite real number >= 0"),
        ("gap_reference", "gaussian", "a str among {'uniform', 'pca'}"),
        ("score_func", "inertia", "a callable or None"),
        ("score_func", 3, "a callable or None"),
        (
            "random_state",
            1.5,
            "an int in the range [0, inf), a numpy RandomState or Generator or None",
        ),
        (
            "random_state",
            "0",
            "an int in the range [0, inf), a numpy RandomState or Generator or None",
        ),
        ("selection", "Kneedle", _SELECTION_OPTIONS),
        ("selection", "gap_statistic", _SELECTION_OPTIONS),
        ("selection", None, _SELECTION_OPTIONS),
        ("selection", 3, _SELECTION_OPTIONS),
        ("selection", ("kneedle",), _SELECTION_OPTIONS),
    ]
    + [
        (
            "scoring",
            value,
            f"a tuple of str among {_SCORING_OPTIONS}, a str among {_SCORING_OPTIONS} or None",
        )
        for value in ("Silhouette", {"silhouette"}, ("silhouette", 3), 3, ("gap", "dunn"))
    ],
    ids=lambda v: repr(v)[:40],
)
def test_bad_parameter_value(param, value, expectation):
    message = template(param, expectation, value)
    assert_refused_before_any_fit(X_TRAIN, InvalidParameterError, message, **{param: value})


def test_random_state_seed_sequence_is_refused():
    message = (
        "The 'random_state' parameter of KSweep must be an int in the range [0, inf), a numpy "
        "RandomState or Generator or None. Got SeedSequence("
    )
    assert_refused_before_any_fit(
        X_TRAIN, InvalidParameterError, message, random_state=np.random.SeedSequence(0)
    )


@pytest.mark.parametrize("executor", ["serial", "threads"])
def test_n_jobs_leaving_no_worker(executor):
    n_jobs = -(N_CORES + 1)
    message = (
        "The 'n_jobs' parameter of KSweep must be a number that leaves at least one worker "
        f"on {N_CORES} cores. Got {n_jobs} instead."
    )
    with pytest.raises(InvalidParameterError, match=re.escape(message)):
        KSweep(k_range=[2, 3, 4], n_jobs=n_jobs, executor=executor).fit(X_TRAIN)


def _not_an_executor(n_jobs):
    return None


@pytest.mark.parametrize(
    "executor",
    [3, ThreadPoolExecutor, SerialExecutor, None, "Threads", "", "process", _not_an_executor],
    ids=repr,
)
def test_bad_executor(executor):
    names = ", ".join(repr(name) for name in available_executors())
    message = template(
        "executor",
        f"a str among {{{names}}}, an instance of concurrent.futures.Executor or a "
        "distributed.Client",
        executor,
    )
    with pytest.raises(InvalidParameterError, match=re.escape(message)):
        KSweep(k_range=[2, 3, 4], executor=executor).fit(X_TRAIN)


@pytest.mark.parametrize(
    ("engine", "what"),
    [("independent", "k=4 (restart 0)"), ("fused", "k=2..4 (restarts 0..1, fused engine)")],
)
def test_shut_down_executor_fails_at_the_first_submit_with_no_finished_task(engine, what):
    pool = ThreadPoolExecutor(max_workers=2)
    pool.shutdown()
    sweep = KSweep(k_range=[2, 3, 4], n_init=2, executor=pool, engine=engine)
    with pytest.raises(
        SweepTaskError,
        match=re.escape(
            f"Fitting KMeans with {what} failed: RuntimeError: cannot schedule new "
            "futures after shutdown. The 0 finished task(s)"
        ),
    ) as info:
        sweep.fit(X_TRAIN)
    assert info.value.completed == []
    assert (info.value.k, info.value.restart) == (4, 0)


def _a_function(X):
    return X


@pytest.mark.parametrize(
    "estimator",
    ["KMeans()", 3, object(), len, _a_function, int],
    ids=lambda v: getattr(v, "__name__", repr(v)),
)
def test_non_estimator_objects_are_refused(estimator):
    message = template(
        "estimator", "a scikit-learn style estimator with fit and get_params", estimator
    )
    assert_refused_before_any_fit(X_TRAIN, InvalidParameterError, message, estimator=estimator)


def test_estimator_class_instead_of_an_instance_is_refused():
    """BUG: a class passed as estimator crashes inside ksweep with a bare TypeError.

    ``KSweep(KMeans).fit(X)`` raises ``TypeError: BaseEstimator.get_params() missing 1
    required positional argument: 'self'`` from ``cluster_count_param`` (the class has
    ``fit`` and ``get_params`` attributes, so the hasattr check passes), instead of the
    documented "The 'estimator' parameter of KSweep must be ..." message.
    """
    message = "The 'estimator' parameter of KSweep must be"
    assert_refused_before_any_fit(X_TRAIN, InvalidParameterError, message, estimator=KMeans)


@pytest.mark.parametrize(
    "estimator",
    [DBSCAN(eps=0.3), OPTICS(), MeanShift(), AffinityPropagation(), HDBSCAN(), StandardScaler()],
    ids=lambda e: type(e).__name__,
)
def test_estimator_without_a_cluster_count_parameter(estimator):
    message = template(
        "estimator",
        "a clusterer whose number of clusters is a parameter ('n_clusters' or "
        f"'n_components'); {type(estimator).__name__} has none of them",
        estimator,
    )
    assert_refused_before_any_fit(X_TRAIN, InvalidParameterError, message, estimator=estimator)


def test_n_components_of_a_non_clusterer_passes_validation_then_stops_at_the_first_task():
    # PCA has n_components, so ksweep takes it for a mixture-like count parameter; it
    # cannot be scored, and the documented behaviour is to stop the sweep asking for
    # score_func (largest k first).
    with pytest.raises(
        SweepTaskError,
        match=re.escape(
            "Fitting PCA with k=3 (restart 0) failed: AttributeError: ksweep cannot score PCA: "
            "it has no 'inertia_', no 'labels_' and no 'predict'. Pass KSweep(score_func=...)"
        ),
    ) as info:
        KSweep(PCA(), k_range=[1, 2, 3], n_init=1).fit(X_TRAIN)
    assert (info.value.k, info.value.restart) == (3, 0)


# --------------------------------------------------------------------------------------
# scoring that cannot apply
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("scoring", ["gap", ("silhouette", "gap")], ids=repr)
def test_gap_on_sparse_X_is_refused(scoring):
    message = template(
        "scoring",
        "free of 'gap' for sparse X (its reference data sets are dense boxes)",
        scoring,
    )
    assert_refused_before_any_fit(
        sparse.csr_matrix(X_TRAIN), InvalidParameterError, message, scoring=scoring
    )


def test_gap_selection_on_sparse_X_names_the_value_that_asked_for_it():
    """BUG: with selection="gap" and scoring=None, the error says "Got None instead."

    ``KSweep(selection="gap").fit(sparse.csr_matrix(X))`` raises "The 'scoring' parameter of
    KSweep must be free of 'gap' for sparse X (...). Got None instead.": it blames a
    parameter the user left at None. The time series / precomputed check reports the
    selection's value in the same situation (see the next test).
    """
    message = "must be free of 'gap' for sparse X (its reference data sets are dense boxes). "
    executor = CountingExecutor()
    with pytest.raises(InvalidParameterError, match=re.escape(message)) as info:
        KSweep(k_range=[2, 3, 4], selection="gap", executor=executor).fit(
            sparse.csr_matrix(X_TRAIN)
        )
    assert executor.n_submitted == 0
    assert "Got 'gap' instead." in str(info.value)


@pytest.mark.parametrize(
    ("params", "shown"),
    [
        ({"scoring": ("davies_bouldin",)}, ("davies_bouldin",)),
        ({"scoring": ("silhouette", "calinski_harabasz")}, ("silhouette", "calinski_harabasz")),
        ({"selection": "calinski_harabasz"}, "calinski_harabasz"),
    ],
)
def test_euclidean_criteria_on_precomputed_distances_are_refused(params, shown):
    from kmedoids import KMedoids

    D = np.abs(X_TRAIN[:, :1] - X_TRAIN[:, :1].T)
    message = template(
        "scoring",
        "empty or ('silhouette',) for precomputed distances (the silhouette is defined on a "
        "distance matrix; the other criteria are Euclidean on feature vectors, which "
        "KMedoids does not take)",
        shown,
    )
    assert_refused_before_any_fit(
        D, InvalidParameterError, message, estimator=KMedoids(2, metric="precomputed"), **params
    )


# --------------------------------------------------------------------------------------
# selection callables that misbehave (they run after the fits)
# --------------------------------------------------------------------------------------


def _result(k, reason="custom reason"):
    return SelectionResult(
        k=k,
        method="custom",
        candidates=np.array([2, 3, 4]),
        statistic=np.zeros(3),
        statistic_name="none",
        reason=reason,
    )


@pytest.mark.parametrize(
    ("returned", "shown"),
    [(np.int64(1), "k=1"), (_result(9), "k=9"), (10, "k=10")],
    ids=["np.int64-below", "SelectionResult-above", "int-above"],
)
def test_selection_returning_a_k_outside_k_range_is_an_error(returned, shown):
    def pick(k, results):
        return returned

    with pytest.raises(
        InvalidParameterError,
        match=re.escape(
            "The 'selection' parameter of KSweep must be a method that returns one of the "
            f"fitted k values [2, 3, 4] (it returned {shown}). Got <function"
        ),
    ):
        KSweep(k_range=[2, 3, 4], n_init=1, selection=pick).fit(X_TRAIN)


def test_selection_returning_none_warns_and_uses_the_largest_k():
    def pick_nothing(k, results):
        return None

    sweep = KSweep(k_range=[2, 3, 4], n_init=1, selection=pick_nothing)
    with pytest.warns(
        NoElbowWarning,
        match=re.escape(
            "selection='pick_nothing' chose no k (pick_nothing returned None); "
            "using the largest k=4."
        ),
    ):
        sweep.fit(X_TRAIN)
    assert sweep.best_k_ == 4 and sweep.elbow_.k is None


def test_selection_result_with_no_k_warns_with_its_reason():
    sweep = KSweep(k_range=[2, 3, 4], n_init=1, selection=lambda k, r: _result(None, "too flat"))
    with pytest.warns(NoElbowWarning, match=re.escape("chose no k (too flat); using the largest")):
        sweep.fit(X_TRAIN)
    assert sweep.best_k_ == 4 and sweep.elbow_.k is None


def test_selection_callable_raising_value_error_propagates_it():
    """A user's callable is user code: its errors are not turned into a fallback."""

    def refuse(k, results):
        raise ValueError("custom failure")

    sweep = KSweep(k_range=[2, 3, 4], n_init=1, selection=refuse)
    with pytest.raises(ValueError, match="custom failure"):
        sweep.fit(X_TRAIN)
    assert sweep.results_["k"].tolist() == [2, 3, 4]  # the fits are kept on the object


def test_selection_raising_another_error_propagates_it():
    with pytest.raises(KeyError, match="no_such_column"):
        KSweep(k_range=[2, 3, 4], n_init=1, selection=lambda k, r: r["no_such_column"]).fit(X_TRAIN)


def test_selection_returning_a_float_k_is_not_taken_for_no_k():
    """BUG: a callable returning the float 3.0 gets k=4 and a warning that it 'chose no k'.

    ``KSweep(k_range=[2, 3, 4], selection=lambda k, r: 3.0).fit(X)`` issues
    ``NoElbowWarning: selection='<lambda>' chose no k (3.0); using the largest k=4`` and sets
    ``best_k_ = 4``: the returned value is neither used nor reported as invalid. A return
    value that is not a SelectionResult, an object with ``.k``, an int or None should be
    refused like an out-of-range k is.
    """
    sweep = KSweep(k_range=[2, 3, 4], n_init=1, selection=lambda k, r: np.float64(3.0))
    with pytest.raises(InvalidParameterError, match=re.escape("The 'selection' parameter")):
        sweep.fit(X_TRAIN)


def test_bic_selection_without_a_mixture_warns_and_uses_the_largest_k():
    sweep = KSweep(k_range=[2, 3, 4], n_init=1, selection="bic")
    with pytest.warns(
        NoElbowWarning,
        match=re.escape(
            "selection failed: selection='bic' needs results_['bic']: it is recorded for "
            "mixture models only."
        ),
    ):
        sweep.fit(X_TRAIN)
    assert sweep.best_k_ == 4


# --------------------------------------------------------------------------------------
# score_func that misbehaves
# --------------------------------------------------------------------------------------


def test_score_func_returning_nan_warns_that_no_k_was_chosen():
    sweep = KSweep(k_range=[2, 3, 4], n_init=1, score_func=lambda model, X: float("nan"))
    with pytest.warns(
        NoElbowWarning,
        match=re.escape("The 'scores' argument of kneedle must contain only finite values."),
    ):
        sweep.fit(X_TRAIN)
    assert np.isnan(sweep.results_["inertia"]).all()


@pytest.mark.parametrize(
    ("score_func", "cause", "detail"),
    [
        (lambda model, X: 1 / 0, ZeroDivisionError, "ZeroDivisionError: division by zero"),
        (lambda model, X: "low", ValueError, "could not convert string to float: 'low'"),
        (lambda: 0.0, TypeError, "takes 0 positional arguments but 2 were given"),
    ],
    ids=["raises", "returns-a-str", "wrong-signature"],
)
def test_score_func_failing_stops_the_sweep_naming_k_and_restart(score_func, cause, detail):
    with pytest.raises(SweepTaskError, match=re.escape(detail)) as info:
        KSweep(k_range=[2, 3, 4], n_init=1, score_func=score_func).fit(X_TRAIN)
    assert str(info.value).startswith("Fitting KMeans with k=4 (restart 0) failed")
    assert isinstance(info.value.__cause__, cause)


# --------------------------------------------------------------------------------------
# the fitted sweep: predict / transform / score / summary / plot
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "n_features"), [("transform", 5), ("score", 2), ("predict", 1)])
def test_kmeans_sweep_methods_check_the_number_of_features(fitted_kmeans, method, n_features):
    message = f"X has {n_features} features, but KSweep is expecting 3 features as input."
    with pytest.raises(ValueError, match=re.escape(message)):
        getattr(fitted_kmeans, method)(np.zeros((4, n_features)))


@pytest.mark.parametrize(("method", "n_features"), [("predict", 4), ("score", 1)])
def test_mixture_sweep_methods_check_the_number_of_features(fitted_mixture, method, n_features):
    message = f"X has {n_features} features, but KSweep is expecting 3 features as input."
    with pytest.raises(ValueError, match=re.escape(message)):
        getattr(fitted_mixture, method)(np.zeros((4, n_features)))


@pytest.mark.parametrize(
    ("X", "exc_type", "message"),
    [
        (np.zeros((2, 3, 1)), ValueError, "Found array with dim 3, while dim <= 2 is required"),
        (
            np.zeros((0, 3)),
            ValueError,
            "Found array with 0 sample(s) (shape=(0, 3)) while a "
            "minimum of 1 is required by KSweep.",
        ),
        (np.array([[0.0, np.nan, 1.0]]), ValueError, "Input X contains NaN."),
        (np.array([["a", "b", "c"]]), ValueError, "could not convert string to float"),
    ],
    ids=["3d", "empty", "nan", "strings"],
)
def test_predict_validates_X_like_fit(fitted_kmeans, X, exc_type, message):
    with pytest.raises(exc_type, match=re.escape(message)):
        fitted_kmeans.predict(X)


def test_predict_sparse_on_a_mixture_sweep_is_refused(fitted_mixture):
    with pytest.raises(TypeError, match=re.escape("Sparse data was passed for X")):
        fitted_mixture.predict(sparse.csr_matrix(X_TRAIN))


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.transform(X_TRAIN),
        lambda s: s.score(X_TRAIN),
        lambda s: s.summary(),
        lambda s: s.plot(),
        lambda s: s.plot(ax=object()),
    ],
    ids=["transform", "score", "summary", "plot", "plot-ax"],
)
def test_methods_before_fit_raise_not_fitted(call):
    with pytest.raises(NotFittedError, match=re.escape(NOT_FITTED)):
        call(KSweep(KMeans(), k_range=[2, 3, 4]))


@pytest.mark.parametrize("method", ["predict", "transform", "score"])
def test_methods_the_estimator_lacks_do_not_exist(method):
    sweep = KSweep(AgglomerativeClustering(), k_range=[2, 3, 4])
    with pytest.raises(
        AttributeError, match=re.escape(f"This 'KSweep' has no attribute {method!r}")
    ):
        getattr(sweep, method)


# --------------------------------------------------------------------------------------
# elbow detectors
# --------------------------------------------------------------------------------------

DETECTORS = [pytest.param(kneedle, 3, id="kneedle"), pytest.param(two_segment, 4, id="two_segment")]
K7 = [2, 3, 4, 5, 6, 8, 10]
S7 = [900.0, 400.0, 150.0, 120.0, 100.0, 90.0, 80.0]


@pytest.mark.parametrize(("func", "min_points"), DETECTORS)
@pytest.mark.parametrize(
    ("k", "scores", "message"),
    [
        (
            K7,
            S7[:-1],
            "The 'k' and 'scores' arguments of {f} must have the same length. Got 7 and 6 instead.",
        ),
        (
            K7,
            [*S7[:3], np.nan, *S7[4:]],
            "The 'scores' argument of {f} must contain only finite "
            "values. Got nan at position 3 instead.",
        ),
        (
            [*K7[:-1], np.inf],
            S7,
            "The 'k' argument of {f} must contain only finite values. "
            "Got inf at position 6 instead.",
        ),
        (
            K7,
            [np.inf, *S7[1:]],
            "The 'scores' argument of {f} must contain only finite values. "
            "Got inf at position 0 instead.",
        ),
        (
            K7,
            [7.5] * 7,
            "The 'scores' argument of {f} must not be constant: a flat curve has "
            "no elbow. Got all values equal to 7.5 instead.",
        ),
        (
            [2, 3, 5, 4, 6, 8, 10],
            S7,
            "The 'k' argument of {f} must be strictly increasing. "
            "Got unsorted values 5 and 4 at positions 2 and 3 instead.",
        ),
        (
            [2.0, 2.5, 2.5, 5, 6, 8, 10],
            S7,
            "The 'k' argument of {f} must be strictly "
            "increasing. Got duplicated values 2.5 and 2.5 at positions 1 and 2 instead.",
        ),
        (
            None,
            S7,
            "The 'k' argument of {f} must be a 1-D array-like. Got an array of shape () instead.",
        ),
        (
            K7,
            np.array(S7, dtype=object),
            "The 'scores' argument of {f} must contain real numbers. Got dtype object instead.",
        ),
        ([], [], "The 'scores' argument of {f} must have at least {m} points. Got 0 instead."),
    ],
    ids=[
        "lengths",
        "nan-score",
        "inf-k",
        "inf-score",
        "constant",
        "unsorted",
        "duplicated",
        "None",
        "object",
        "empty",
    ],
)
def test_elbow_detectors_bad_curves(func, min_points, k, scores, message):
    with pytest.raises(ValueError, match=re.escape(message.format(f=func.__name__, m=min_points))):
        func(k, scores)


@pytest.mark.parametrize(("func", "min_points"), DETECTORS)
def test_elbow_detectors_too_few_points(func, min_points):
    n = min_points - 1
    message = (
        f"The 'scores' argument of {func.__name__} must have at least {min_points} points. "
        f"Got {n} instead."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        func(K7[:n], S7[:n])


# --------------------------------------------------------------------------------------
# criteria
# --------------------------------------------------------------------------------------

CRITERIA = [silhouette, calinski_harabasz, davies_bouldin]
_X10 = np.random.default_rng(1).normal(size=(10, 2))
_LABELS10 = [0, 1] * 5


@pytest.mark.parametrize("func", CRITERIA, ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    ("X", "labels", "message"),
    [
        (
            np.where(np.arange(20).reshape(10, 2) == 5, np.inf, _X10),
            _LABELS10,
            "Input X contains infinity or a value too large for dtype('float64').",
        ),
        (
            sparse.csr_matrix(np.where(np.arange(20).reshape(10, 2) == 3, np.nan, _X10)),
            _LABELS10,
            "Input X contains NaN.",
        ),
        (
            _X10,
            [*_LABELS10, 0],
            "The 'labels' argument of {f} must have one entry per sample "
            "of X. Got 11 labels for 10 samples instead.",
        ),
        (
            _X10,
            [3] * 10,
            "Number of labels is 1. Valid values are 2 to n_samples - 1 "
            "(inclusive): the 'labels' argument of {f} must hold 2 to 9 distinct values for 10 "
            "samples.",
        ),
        (np.array([["a", "b"]] * 10), _LABELS10, "could not convert string to float"),
        (_X10 + 1j, _LABELS10, "Complex data not supported"),
        (
            np.zeros((0, 2)),
            [],
            "Found array with 0 sample(s) (shape=(0, 2)) while a minimum of 1 is required.",
        ),
        (np.zeros((10, 2, 2)), _LABELS10, "Found array with dim 3, while dim <= 2 is required."),
    ],
    ids=["inf", "nan-sparse", "labels-length", "one-label", "strings", "complex", "empty", "3d"],
)
def test_criteria_bad_input(func, X, labels, message):
    with pytest.raises(ValueError, match=re.escape(message.format(f=func.__name__))):
        func(X, labels)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"sample_size": 0},
            "The 'sample_size' argument of silhouette must be an int >= 2 or None. Got 0 instead.",
        ),
        ({"sample_size": 4.0}, "must be an int >= 2 or None. Got 4.0 instead."),
        (
            {"chunk_size": -1},
            "The 'chunk_size' argument of silhouette must be an int >= 1 or None. Got -1 instead.",
        ),
        ({"chunk_size": 2.0}, "must be an int >= 1 or None. Got 2.0 instead."),
        (
            {"sample_size": 6, "random_state": -1},
            "The 'random_state' argument of silhouette "
            "must be an int >= 0, a numpy Generator or SeedSequence, or None. Got -1 instead.",
        ),
    ],
    ids=repr,
)
def test_silhouette_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        silhouette(_X10, _LABELS10, **kwargs)


_REF3 = np.array([[5.0, 5.1], [4.4, 4.5], [4.0, 4.1]])


@pytest.mark.parametrize(
    ("k", "log_w", "ref", "message"),
    [
        (
            [1, 2, 3],
            [5.0, 4.0],
            _REF3,
            "The 'k' and 'log_inertia' arguments of gap_statistic "
            "must have the same length. Got 3 and 2 instead.",
        ),
        (
            [1, 2, 3],
            [5.0, 4.0, 3.0],
            _REF3[:2],
            "The 'reference_log_inertia' argument of "
            "gap_statistic must be a 2-D array of shape (n_k, n_references) = (3, B) with B >= 1. "
            "Got an array of shape (2, 2) instead.",
        ),
        ([1, 2, 3], [5.0, 4.0, 3.0], _REF3[:, 0], "Got an array of shape (3,) instead."),
        (
            [1, 2, 3],
            [5.0, np.nan, 3.0],
            _REF3,
            "The 'log_inertia' argument of gap_statistic "
            "must contain only finite values. Got nan at position 1 instead.",
        ),
        (
            [1, 2, 3],
            [5.0, 4.0, 3.0],
            np.where(_REF3 == 4.5, -np.inf, _REF3),
            "The "
            "'reference_log_inertia' argument of gap_statistic must contain only finite values. "
            "Got -inf at position (1, 1) instead.",
        ),
        (
            [3],
            [5.0],
            _REF3[:1],
            "The 'k' argument of gap_statistic must have at least 2 values. Got 1 instead.",
        ),
        (
            [1, 3, 2],
            [5.0, 4.0, 3.0],
            _REF3,
            "The 'k' argument of gap_statistic must be strictly "
            "increasing. Got unsorted values 3 and 2 at positions 1 and 2 instead.",
        ),
        (
            [1, 2, 3],
            ["5", "4", "3"],
            _REF3,
            "The 'log_inertia' argument of gap_statistic must "
            "contain real numbers. Got dtype <U1 instead.",
        ),
    ],
    ids=["lengths", "ref-rows", "ref-1d", "nan", "ref-inf", "one-k", "unsorted", "strings"],
)
def test_gap_statistic_bad_input(k, log_w, ref, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        gap_statistic(k, log_w, ref)


@pytest.mark.parametrize(
    ("X", "kwargs", "exc_type", "message"),
    [
        (
            _X10,
            {"n_references": 0},
            ValueError,
            "The 'n_references' argument of reference_datasets must be an int >= 1. Got 0 instead.",
        ),
        (_X10, {"n_references": 2.0}, ValueError, "must be an int >= 1. Got 2.0 instead."),
        (_X10, {"n_references": True}, ValueError, "must be an int >= 1. Got True instead."),
        (
            _X10,
            {"n_references": 2, "method": "gaussian"},
            ValueError,
            "The 'method' argument "
            "of reference_datasets must be one of 'uniform' or 'pca'. Got 'gaussian' instead.",
        ),
        (
            _X10,
            {"n_references": 2, "random_state": -3},
            ValueError,
            "The 'random_state' "
            "argument of reference_datasets must be an int >= 0, a numpy SeedSequence or None. "
            "Got -3 instead.",
        ),
        (
            _X10,
            {"n_references": 2, "random_state": np.random.default_rng(0)},
            ValueError,
            "a numpy SeedSequence or None. Got Generator(PCG64)",
        ),
        (
            sparse.csr_matrix(_X10),
            {"n_references": 2},
            TypeError,
            "Sparse data was passed for X, but dense data is required.",
        ),
        (np.full((4, 2), np.nan), {"n_references": 2}, ValueError, "Input X contains NaN."),
    ],
    ids=["zero", "float", "bool", "method", "negative-seed", "generator", "sparse", "nan"],
)
def test_reference_datasets_bad_input(X, kwargs, exc_type, message):
    with pytest.raises(exc_type, match=re.escape(message)):
        reference_datasets(X, **kwargs)


@pytest.mark.parametrize(
    ("k", "scores", "message"),
    [
        (
            [2, 3, 4],
            [0.1, 0.2],
            "The 'k' and 'scores' arguments of select_max must have the "
            "same length. Got 3 and 2 instead.",
        ),
        (
            [2, 3, 4],
            [np.nan, 0.2, np.nan],
            "The 'scores' argument of select_max must have at "
            "least 2 values that are not NaN. Got 1 instead.",
        ),
        (
            [2, 3, 4],
            [0.4, 0.4, np.nan],
            "The 'scores' argument of select_max must not be "
            "constant: every k would score the same. Got all values equal to 0.4 instead.",
        ),
        (
            [2, 3, 4],
            [0.1, -np.inf, 0.3],
            "The 'scores' argument of select_max must contain only "
            "finite values. Got -inf at position 1 instead.",
        ),
        (
            [4, 3, 2],
            [0.1, 0.2, 0.3],
            "The 'k' argument of select_max must be strictly "
            "increasing. Got unsorted values 4 and 3 at positions 0 and 1 instead.",
        ),
        (
            [2, 3, 4],
            ["a", "b", "c"],
            "The 'scores' argument of select_max must contain real numbers. Got dtype <U1 instead.",
        ),
        # integer scores skip the NaN-aware path and get the elbow detectors' wording
        ([2, 3, 4], [1, 1, 1], "The 'scores' argument of select_max must not be constant"),
    ],
    ids=["lengths", "one-defined", "constant", "inf", "unsorted", "strings", "constant-int"],
)
def test_select_max_bad_input(k, scores, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        select_max(k, scores)


# --------------------------------------------------------------------------------------
# dtw_distance_matrix
# --------------------------------------------------------------------------------------

_SERIES = np.array([[0.0, 1.0, 2.0, 1.0], [0.0, 2.0, 2.0, 0.0], [1.0, 1.0, 1.0, 1.0]])


@pytest.mark.parametrize("block_size", [0, -3, 1.5, True, None, "64"], ids=repr)
def test_dtw_bad_block_size(block_size):
    message = (
        "The 'block_size' parameter of dtw_distance_matrix must be an int in the range "
        f"[1, inf). Got {block_size!r} instead."
    )
    with pytest.raises(InvalidParameterError, match=re.escape(message)):
        dtw_distance_matrix(_SERIES, block_size=block_size)


@pytest.mark.parametrize(
    ("X", "message"),
    [
        (
            np.array([["a", "b"], ["c", "d"]]),
            "dtw_distance_matrix expects real numbers in a "
            "time series dataset. Got dtype <U1 instead.",
        ),
        (
            np.array([[1.0, None], [2.0, 3.0]], dtype=object),
            "expects real numbers in a time series dataset. Got dtype object instead.",
        ),
        (_SERIES + 1j, "Got dtype complex128 instead."),
        ([[1.0, "x"], [1.0, 2.0]], "Got dtype <U32 instead."),
        ([["a", "b"], ["c", "d", "e"]], "could not convert string to float: 'a'"),
        (
            np.array([[1.0, np.nan, 2.0], [1.0, 2.0, 3.0]]),
            "Input X contains NaN inside series "
            "0; NaN is allowed only as trailing padding of variable-length series.",
        ),
        (
            np.array([[1.0, 2.0, 3.0], [1.0, np.inf, 3.0]]),
            "Input X contains infinity, which dtw_distance_matrix cannot fit.",
        ),
        ([[1.0, 2.0], []], "Input X contains an empty series (all NaN) at position 1."),
        (
            np.zeros((0, 3)),
            "Found array with 0 sample(s) (shape=(0, 3, 1)) while a minimum of 1 "
            "is required by dtw_distance_matrix.",
        ),
        (
            np.zeros((2, 3, 1, 1)),
            "dtw_distance_matrix expects a time series dataset of shape "
            "(n_series, length) or (n_series, length, n_dims). Got an array of shape (2, 3, 1, 1) "
            "instead.",
        ),
    ],
    ids=[
        "strings",
        "object",
        "complex",
        "mixed-list",
        "ragged-strings",
        "nan-inside",
        "inf",
        "empty-series",
        "no-series",
        "4d",
    ],
)
def test_dtw_non_numeric_or_malformed_series(X, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        dtw_distance_matrix(X, block_size=2)


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"executor": "gpu"}, "executor"),
        ({"executor": "threads", "n_jobs": 0}, "n_jobs"),
        ({"executor": "threads", "n_jobs": -(N_CORES + 7)}, "n_jobs"),
    ],
    ids=["executor-name", "n_jobs-zero", "n_jobs-too-negative"],
)
def test_dtw_bad_executor_or_n_jobs(kwargs, param):
    """BUG: dtw_distance_matrix does not validate ``executor`` or ``n_jobs``.

    - ``dtw_distance_matrix(X, executor="gpu")`` raises a bare ``KeyError: 'gpu'`` from the
      executor registry;
    - ``n_jobs=0`` is silently accepted (it means ``cpu_cores() + 1`` workers), although
      KSweep refuses it as "a nonzero int or None";
    - ``n_jobs=-(cores + 7)`` is refused with a message naming the wrong function:
      "The 'n_jobs' parameter of KSweep must leave at least one worker ...".
    """
    message = f"The {param!r} parameter of dtw_distance_matrix must be"
    with pytest.raises(InvalidParameterError, match=re.escape(message)):
        dtw_distance_matrix(_SERIES, **kwargs)


# --------------------------------------------------------------------------------------
# register_executor
# --------------------------------------------------------------------------------------


@pytest.fixture
def registry(monkeypatch):
    """A private copy of the executor registry, restored after the test."""
    monkeypatch.setattr(ksweep._executors, "_REGISTRY", dict(ksweep._executors._REGISTRY))


@pytest.mark.parametrize("name", ["", 3, None, b"mine"], ids=repr)
def test_register_executor_bad_name(registry, name):
    message = (
        f"The 'name' parameter of register_executor must be a non-empty str. Got {name!r} instead."
    )
    with pytest.raises(InvalidParameterError, match=re.escape(message)):
        register_executor(name, lambda n_jobs: SerialExecutor())


@pytest.mark.parametrize("factory", [3, None, "threads", SerialExecutor()], ids=repr)
def test_register_executor_bad_factory(registry, factory):
    message = (
        f"The 'factory' parameter of register_executor must be a callable. Got {factory!r} instead."
    )
    with pytest.raises(InvalidParameterError, match=re.escape(message)):
        register_executor("mine", factory)
    assert "mine" not in available_executors()


def test_registered_factory_returning_a_non_executor_is_reported(registry):
    """BUG: a factory that returns something other than an Executor gives an AttributeError.

    After ``register_executor("returns-int", lambda n_jobs: 5)``,
    ``KSweep(executor="returns-int").fit(X)`` raises ``AttributeError: 'int' object has no
    attribute 'shutdown'``: the submit failure is turned into a SweepTaskError, which the
    ``shutdown`` call in ``Backend.close`` (a ``finally`` clause) then masks. The
    factory's return value should be checked and refused with a message naming the
    expected type.
    """
    register_executor("returns-int", lambda n_jobs: 5)
    with pytest.raises((TypeError, ValueError), match=r"concurrent\.futures\.Executor"):
        KSweep(k_range=[2, 3, 4], executor="returns-int").fit(X_TRAIN)


def test_registered_factory_raising_propagates_its_error(registry):
    def broken(n_jobs):
        raise OSError("no cluster available")

    register_executor("broken", broken)
    with pytest.raises(OSError, match="no cluster available"):
        KSweep(k_range=[2, 3, 4], executor="broken").fit(X_TRAIN)
