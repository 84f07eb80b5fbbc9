"""scikit-learn's estimator checks, for KSweep over several estimator families."""

import pytest
from sklearn.base import clone
from sklearn.cluster import AgglomerativeClustering, BisectingKMeans, KMeans, MiniBatchKMeans
from sklearn.mixture import GaussianMixture
from sklearn.utils.estimator_checks import parametrize_with_checks

from ksweep import KSweep

EXPECTED_FAILED_CHECKS = {
    # The default k_range is range(2, 11). The check only allows defaults of a few
    # builtin types (it guards against mutable defaults); a range is immutable and says
    # what it means. test_default_k_range_is_an_immutable_range checks the intent.
    "check_parameters_default_constructible": (
        "k_range defaults to range(2, 11), an immutable range the check does not list"
    ),
}

SWEEPS = [
    KSweep(KMeans(), k_range=range(2, 7), n_init=2, random_state=0),
    KSweep(MiniBatchKMeans(), k_range=range(2, 7), n_init=2, random_state=0),
    KSweep(BisectingKMeans(), k_range=range(2, 7), n_init=2, random_state=0),
    KSweep(GaussianMixture(), k_range=range(2, 7), n_init=2, random_state=0),
    KSweep(AgglomerativeClustering(), k_range=range(2, 7), n_init=1),
]


@pytest.mark.filterwarnings("ignore::ksweep.NoElbowWarning")
@pytest.mark.filterwarnings("ignore::ksweep.exceptions.NonMonotonicWarning")
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(SWEEPS, expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_default_k_range_is_an_immutable_range():
    # What check_parameters_default_constructible guards: every default is immutable and
    # survives get_params / clone unchanged.
    sweep = KSweep()
    assert sweep.get_params(deep=False) == {
        "estimator": None,
        "k_range": range(2, 11),
        "n_init": 10,
        "random_state": None,
        "executor": "auto",
        "n_jobs": None,
        "engine": "auto",
        "inner_threads": "auto",
        "progress": False,
        "selection": "auto",
        "elbow_scale": "auto",
        "scoring": None,
        "silhouette_sample": 10_000,
        "seeding_sample": 20_000,
        "gap_references": 10,
        "gap_reference": "uniform",
        "gap_rule": "Tibs2001SEmax",
        "gap_se_factor": 1.0,
        "score_func": None,
        "checkpoint": None,
        "checkpoint_overwrite": False,
        "n_init_max": "auto",
        "stability": None,
    }
    assert type(sweep.k_range) is range
    assert clone(sweep).k_range == range(2, 11)
