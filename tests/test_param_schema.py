"""Every parameter of KSweep and SparkKSweep has a declared rule that refuses bad values.

ksweep declares its schema under its own names (``_constraints``, checked by
``ksweep._validation.validate_params``), not scikit-learn's ``_parameter_constraints``:
it accepts what scikit-learn's vocabulary has no word for (a numpy Generator as
random_state, an executor by name or instance, a k range). These tests do for it what
scikit-learn's ``check_param_validation`` does for scikit-learn's estimators: a value
of no accepted type, then a value of an accepted type out of its range, for every
parameter, through every fit method, raises ``InvalidParameterError`` naming it.
"""

import re

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.utils._param_validation import InvalidParameterError as SklearnInvalidParameterError

from ksweep import InvalidParameterError, KSweep
from ksweep.spark import SparkKSweep

X = np.random.default_rng(0).normal(size=(40, 3))
BAD_TYPE = type("BadType", (), {})()  # an object no rule accepts
KSWEEP_PARAMS = sorted(KSweep().get_params(deep=False))
SPARK_PARAMS = sorted(SparkKSweep().get_params())

#: For each parameter whose rule is more than a type: a value of an accepted type that
#: is out of range. Every parameter is here or has only type rules (listed below).
OUT_OF_RANGE = {
    "estimator": KMeans,  # a class, not an instance
    "k_range": [0, 1, 2],
    "n_init": 0,
    "random_state": -1,
    "executor": "no-such-executor",
    "n_jobs": 0,
    "engine": "fast",
    "inner_threads": 0,
    "selection": "best",
    "elbow_scale": "cubic",
    "scoring": ("no-such-criterion",),
    "silhouette_sample": 1,
    "seeding_sample": 0,
    "gap_references": 0,
    "gap_reference": "gaussian",
    "gap_rule": "firstSE",
    "gap_se_factor": -1.0,
    "n_init_max": 0,
    "stability": 1,
}
TYPE_ONLY = {"progress", "score_func", "checkpoint", "checkpoint_overwrite"}
SPARK_OUT_OF_RANGE = {
    "k_range": [1, 2, 3],  # Spark's KMeans refuses k=1
    "n_init": 0,
    "n_init_max": 0,
    "random_state": -1,
    "selection": "gap",
    "elbow_scale": "cubic",
    "scoring": "gap",
    "features_col": "",
    "prediction_col": "",
    "max_iter": 0,
    "tol": -1.0,
    "init_mode": "k-means++",
    "init_steps": 0,
    "engine": "spark",
    "concurrency": 0,
}


def refused(name: str, owner: str = "KSweep"):
    return pytest.raises(
        InvalidParameterError,
        match=rf"^The {re.escape(repr(name))} parameter of {owner} must be .+ Got .+ instead\.$",
    )


def test_every_parameter_has_a_rule_and_is_covered_here():
    assert set(KSweep._constraints) == set(KSWEEP_PARAMS)
    assert set(OUT_OF_RANGE) | TYPE_ONLY == set(KSWEEP_PARAMS)
    assert not set(OUT_OF_RANGE) & TYPE_ONLY
    assert set(SparkKSweep._constraints) | {"k_range"} == set(SPARK_PARAMS)
    assert set(SPARK_OUT_OF_RANGE) | {"cache"} == set(SPARK_PARAMS)


def test_ksweep_uses_its_own_names_not_scikit_learns_schema():
    assert not hasattr(KSweep, "_parameter_constraints")
    assert "_validate_params" not in vars(KSweep)
    assert issubclass(InvalidParameterError, SklearnInvalidParameterError)


@pytest.mark.parametrize("name", KSWEEP_PARAMS)
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_a_value_of_no_accepted_type_is_refused_by_name(name, method):
    sweep = KSweep(k_range=range(2, 6), n_init=1).set_params(**{name: BAD_TYPE})
    if not hasattr(sweep, method):  # partial_fit does not exist for such an estimator
        assert (name, method) == ("estimator", "partial_fit")
        return
    with refused(name):
        getattr(sweep, method)(X)


@pytest.mark.parametrize(("name", "value"), sorted(OUT_OF_RANGE.items()))
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_a_value_out_of_range_is_refused_by_name(name, value, method):
    sweep = KSweep(k_range=range(2, 6), n_init=1).set_params(**{name: value})
    with refused(name):
        getattr(sweep, method)(X)


@pytest.mark.parametrize("name", SPARK_PARAMS)
def test_spark_refuses_a_value_of_no_accepted_type_before_touching_spark(name):
    sweep = SparkKSweep()
    setattr(sweep, name, BAD_TYPE)
    with refused(name, "SparkKSweep"):
        sweep.fit(None)


@pytest.mark.parametrize(("name", "value"), sorted(SPARK_OUT_OF_RANGE.items()))
def test_spark_refuses_a_value_out_of_range_before_touching_spark(name, value):
    sweep = SparkKSweep()
    setattr(sweep, name, value)
    with refused(name, "SparkKSweep"):
        sweep.fit(None)
