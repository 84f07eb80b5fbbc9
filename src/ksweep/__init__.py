"""ksweep: parallel k-selection sweeps for clustering estimators."""

from ksweep import _preload
from ksweep._executors import SerialExecutor, available_executors, register_executor
from ksweep._results import SweepResult
from ksweep._selection import SelectionResult
from ksweep._sweep import KSweep
from ksweep.elbow import kneedle, two_segment
from ksweep.exceptions import (
    InvalidParameterError,
    LongSweepWarning,
    NoElbowWarning,
    NoStructureWarning,
    SweepInterrupted,
    SweepTaskError,
)

__version__ = "0.1.0"

_preload.start()  # numba and the fused kernels load in the background (KSWEEP_PRELOAD=0: off)

__all__ = [
    # the estimator and its results
    "KSweep",
    "SweepResult",
    "SelectionResult",
    # elbow detectors (also in ksweep.elbow)
    "kneedle",
    "two_segment",
    # executors
    "SerialExecutor",
    "available_executors",
    "register_executor",
    # errors and warnings
    "InvalidParameterError",
    "LongSweepWarning",
    "NoElbowWarning",
    "NoStructureWarning",
    "SweepInterrupted",
    "SweepTaskError",
]
