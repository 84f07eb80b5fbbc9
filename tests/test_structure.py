"""The no-structure test (k = 1 against k = 2, uniform-box references) and its gate."""

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from threadpoolctl import threadpool_limits

from ksweep.gap import reference_datasets
from ksweep.structure import StructureTest, no_structure, select_unless_no_structure


def test_no_structure_when_gap_1_is_within_one_se_of_gap_2():
    # gap = (0.0, 0.10); s_2 = 0.08 * sqrt(1 + 1/4) = 0.0894: 0.0 < 0.1 - 0.0894 = 0.0106
    ref = np.array([[5.0] * 4, [4.18, 4.02, 4.18, 4.02]])
    structured = no_structure([5.0, 4.0], ref)
    assert not structured and structured.no_structure is False
    np.testing.assert_allclose(structured.gap, [0.0, 0.1], atol=1e-12)
    assert structured.s_2 == pytest.approx(0.08 * np.sqrt(1.25))
    assert structured.n_references == 4
    # two standard errors reach gap(1)
    assert no_structure([5.0, 4.0], ref, se_factor=2.0).no_structure
    assert "gap(2) - 2·s_2" in no_structure([5.0, 4.0], ref, se_factor=2.0).reason


def test_equality_counts_as_no_structure():
    ref = np.array([[3.0, 3.0], [2.5, 2.5]])  # s_2 = 0, gap = (0.5, 0.5)
    test = no_structure([2.5, 2.0], ref)
    assert test.no_structure
    assert test.reason == (
        "no structure: gap(1) = 0.5000 >= gap(2) - s_2 = 0.5000 (uniform-box references, B=2)"
    )


@pytest.mark.parametrize(
    ("log_w", "ref", "kwargs", "message"),
    [
        ([1.0, 2.0, 3.0], [[1, 1], [1, 1]], {}, "'log_inertia' argument of no_structure must be"),
        ([1.0, 2.0], [[1, 1]], {}, "'reference_log_inertia' argument of no_structure must be a"),
        (
            [1.0, 2.0],
            [[], []],
            {},
            "of shape (2, n_references). Got float64 values of shape (2, 0)",
        ),
        (
            [1.0, np.nan],
            [[1, 1], [1, 1]],
            {},
            "'log_inertia' argument of no_structure must contain",
        ),
        (["a", "b"], [[1, 1], [1, 1]], {}, "Got <U1 values of shape (2,) instead."),
        ([1.0, 2.0], [[1, 1], [1, 1]], {"se_factor": -1}, "'se_factor' argument of no_structure"),
    ],
)
def test_bad_input_is_refused_by_name(log_w, ref, kwargs, message):
    with pytest.raises(ValueError) as info:
        no_structure(log_w, ref, **kwargs)
    assert message in str(info.value)


def _test_on(X, *, n_references=10, n_samples=None, seed=0):
    """The no-structure test of X with exact W_1 and best-of-3 2-means W_2."""

    def log_w12(data):
        total = float(((data - data.mean(axis=0)) ** 2).sum())
        return [np.log(total), np.log(KMeans(2, n_init=3, random_state=seed).fit(data).inertia_)]

    refs = reference_datasets(X, n_references, random_state=seed, n_samples=n_samples)
    with threadpool_limits(limits=1):
        return no_structure(log_w12(X), np.array([log_w12(r) for r in refs]).T)


NOISE = {
    "uniform square": lambda rng: rng.random((2000, 2)),
    "uniform 6-cube": lambda rng: rng.random((2000, 6)),
    "Gaussian 2-D": lambda rng: rng.standard_normal((2000, 2)),
    "Gaussian 8-D": lambda rng: rng.standard_normal((2000, 8)),
    "elongated Gaussian": lambda rng: rng.standard_normal((2000, 5)) * [4, 2, 1, 1, 1],
}


@pytest.mark.parametrize("name", NOISE)
@pytest.mark.parametrize("n_samples", [None, 400])
def test_noise_shows_no_structure(name, n_samples):
    X = NOISE[name](np.random.default_rng(1))
    test = _test_on(X, n_samples=n_samples)
    assert test.no_structure, test.reason


CLUSTERED = {
    "4 blobs": lambda: make_blobs(2000, centers=4, cluster_std=1.0, random_state=2)[0],
    "2 separated in 5-D": lambda: make_blobs(
        2000, n_features=5, centers=[[0] * 5, [6] * 5], random_state=3
    )[0],
    "7 blobs in 10-D": lambda: make_blobs(2100, n_features=10, centers=7, random_state=4)[0],
}


@pytest.mark.parametrize("name", CLUSTERED)
@pytest.mark.parametrize("n_samples", [None, 400])
def test_clusters_show_structure(name, n_samples):
    test = _test_on(CLUSTERED[name](), n_samples=n_samples)
    assert not test.no_structure, test.reason


def test_capped_references_only_shift_the_gap():
    """Fewer reference rows shift both gaps alike (by about log(n / m)), not their difference."""
    X = CLUSTERED["4 blobs"]()
    full, capped = _test_on(X), _test_on(X, n_samples=400)
    shift = full.gap - capped.gap
    assert shift == pytest.approx([np.log(2000 / 400)] * 2, abs=0.05)
    assert abs(shift[0] - shift[1]) < 0.02


K = [1, 2, 3, 4, 5, 6]
INERTIA = [1000.0, 420.0, 100.0, 92.0, 85.0, 79.0]
FLAT = no_structure([6.9, 6.5], [[6.9, 6.9], [6.4, 6.42]])
CLEAR = no_structure([6.9, 5.99], [[6.9, 6.9], [6.4, 6.42]])


def test_the_gate_answers_1_or_lets_kneedle_choose():
    gated = select_unless_no_structure(K, INERTIA, FLAT)
    assert gated.k == 1 and gated.method == "auto"
    assert gated.reason.startswith("k=1: no structure: gap(1) = ")
    assert gated.details["no_structure"] is FLAT
    chosen = select_unless_no_structure(K, INERTIA, CLEAR)
    assert chosen.k == 3 == gated.details["method_result"].k
    assert chosen.reason.startswith("structure: gap(2) - s_2 = ")


def test_without_k_1_the_gate_keeps_the_methods_k_and_says_why():
    result = select_unless_no_structure(K[1:], INERTIA[1:], FLAT)
    assert result.k == 3
    assert "but k=1 was not swept" in result.reason


def test_the_gate_takes_another_method():
    result = select_unless_no_structure(K, INERTIA, CLEAR, method=lambda k, s: FakeResult(5))
    assert result.k == 5


class FakeResult:
    def __init__(self, k):
        self.k, self.candidates, self.statistic = k, np.arange(1, 7), np.zeros(6)
        self.statistic_name, self.reason = "none", f"k={k} by hand"


def test_the_gate_needs_a_structure_test():
    with pytest.raises(ValueError, match=r"must be a StructureTest .* Got bool instead"):
        select_unless_no_structure(K, INERTIA, True)
    assert isinstance(FLAT, StructureTest)


def test_each_data_set_of_the_test_stops_at_its_own_fixed_point(monkeypatch):
    """A set whose split no longer changes stops; running it on to the last iteration
    (as the batched loop did, until every set had stopped) changes no bit."""
    from ksweep import _structure_check as sc

    rng = np.random.default_rng(3)
    blobs = make_blobs(300, n_features=6, centers=3, random_state=0)[0]
    sets = np.stack([blobs, rng.random((300, 6)), rng.normal(size=(300, 6)), 5 * blobs])
    sets -= sets.mean(axis=1, keepdims=True)
    stopped = sc._two_means(sets, np.random.default_rng(0))

    def never_stopping(fast, c0, c1):
        m, total = fast.shape[0], fast.sum(axis=0)
        for _ in range(sc.MAX_ITER):
            threshold = ((c1**2).sum(axis=1) - (c0**2).sum(axis=1)) / 2
            side = fast @ np.ascontiguousarray((c1 - c0).T) > threshold
            weights = np.ascontiguousarray(side.T, dtype=np.float32)
            n1 = weights.sum(axis=1)[:, np.newaxis]
            sum1 = weights @ fast
            c0 = np.where(m - n1 > 0, (total - sum1) / np.maximum(m - n1, 1), c0)
            c1 = np.where(n1 > 0, sum1 / np.maximum(n1, 1), c1)
        return side

    monkeypatch.setattr(sc, "_lloyd_splits", never_stopping)
    np.testing.assert_array_equal(stopped, sc._two_means(sets, np.random.default_rng(0)))
    assert np.all(stopped > 0)
