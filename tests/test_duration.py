"""A sweep that will take long says so after its first fit, with what makes it cheaper."""

import warnings

import numpy as np
import pytest
from tslearn.clustering import TimeSeriesKMeans

import ksweep._duration
from ksweep import KSweep, LongSweepWarning

pytestmark = pytest.mark.filterwarnings("ignore::ksweep.NoElbowWarning")


def _series():
    rng = np.random.default_rng(0)
    return rng.normal(size=(12, 10, 1)).cumsum(axis=1)


def test_a_long_sweep_warns_once_with_the_projection(monkeypatch):
    monkeypatch.setattr(ksweep._duration, "LONG_SWEEP_SECONDS", 0.0)
    sweep = KSweep(k_range=range(2, 5), n_init=2, engine="independent", random_state=0)
    with pytest.warns(LongSweepWarning) as caught:
        sweep.fit(_series()[:, :, 0])
    long = [w for w in caught if issubclass(w.category, LongSweepWarning)]
    assert len(long) == 1
    message = str(long[0].message)
    assert "its first fit (the largest k) took" in message and "6 run 1 at a time" in message
    assert "n_init, now 2" in message
    assert long[0].filename == __file__  # it points at the user's fit


def test_dtw_advice_names_the_cost_and_the_cheaper_paths():
    advice = ksweep._duration._advice(TimeSeriesKMeans(metric="dtw"), 10)
    assert "DTW costs grow with the series length squared" in advice
    assert "n_init" in advice and "(now 10)" in advice and "dtw_distance_matrix" in advice


def test_a_short_sweep_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error", LongSweepWarning)
        KSweep(k_range=range(2, 5), n_init=2, random_state=0).fit(_series()[:, :, 0])


def test_the_projection_counts_rounds_of_workers():
    check = ksweep._duration.DurationCheck(70, 4, TimeSeriesKMeans(), 10)
    assert check.projection(2.0) == 2.0 * 18
