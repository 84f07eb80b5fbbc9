"""How often each way of choosing k finds the true k, on data sets with a known k.

Every data set is swept over k = 1..10 with KMeans (n_init=10). Reported, side by side:

- ksweep: kneedle on log inertia (the default), two_segment, silhouette,
  Calinski-Harabasz, Davies-Bouldin, the gap statistic (B = 10 references) with each of
  R's five rules and both references (uniform box, PCA box), and ``vote`` (each of
  kneedle, two_segment, silhouette, Calinski-Harabasz and Davies-Bouldin casts one vote;
  "vote + gap" adds the gap statistic's vote);
- "KSweep defaults": ``KSweep(k_range=range(1, 11), n_init=10, random_state=seed)``, every
  other parameter at its default (``selection="auto"``: kneedle on log inertia unless its
  no-structure test, on a sample of at most 1,000 rows, says k = 1; ``n_init_max="auto"``);
- "kneedle unless no structure": the same rule read off the whole data's gap curve
  (``ksweep.structure.no_structure``: the uniform-box gap at k = 1 and 2, Tibshirani's
  rule, B = 10); and other combinations that let a test answer "no clusters" and a method choose k;
- peers, fitted by their own loops: scikit-learn KMeans per k + kneed's KneeLocator on the
  inertia (convex, decreasing: what yellowbrick does), yellowbrick's KElbowVisualizer
  (distortion), and scikit-learn KMeans per k + the highest ``silhouette_score``.

A last table counts, for every gap variant, how often it answers k = 1 on data without
and with clusters (the no-structure test answers 1 exactly when the uniform-box gap with
Tibshirani's rule does).

Silhouette, Calinski-Harabasz, Davies-Bouldin and the peers' silhouette cannot score
k = 1: they choose among 2..10 and can never answer 1; nor can kneedle or kneed (a knee
needs a point before it), nor two_segment (k = 1 and 2 cannot start a right segment).

Data sets (true k in brackets), several realizations each:

- scikit-learn's bundled data whose classes form k-means clusters: wine, standardized [3]
  (13 measurements on different scales; standardized, KMeans at k = 3 recovers the
  cultivars with ARI 0.90), and iris, raw [3] (setosa is apart, versicolor and virginica
  touch: ARI 0.73, the classic hard case). Breast cancer (ARI 0.65) and digits (classes
  are not compact blobs, k = 10 at the range's edge) are left out. A realization is a
  90% subsample.
- the five simulation designs of Tibshirani, Walther & Hastie (2001, section 6):
  (a) null: 200 points uniform in the unit 10-cube [1]; (b) 3 standard normal clusters
  in 2-D, 25/25/50 points centred at (0,0), (0,5), (5,-3) [3]; (c) 4 standard normal
  clusters in 3-D, 25 or 50 points each, centres drawn from N(0, 5 I) [4]; (d) the same
  in 10-D with centres from N(0, 1.9 I) [4]; in (c) and (d) a realization whose closest
  points of two clusters are less than 1.0 apart is drawn again (about half of them, as
  in the paper); (e) two elongated clusters in 3-D: 100 points at (t, t, t) for t evenly
  spaced in [-0.5, 0.5] plus N(0, 0.1^2) noise, and the same shifted by 10 [2].
- Milligan & Cooper (1985)-style separated clusters: truncated normal clusters (at 1.5
  standard deviations) that do not overlap on the first dimension (gaps of 0.25 to 0.75
  times the summed spreads of neighbours) and overlap on the others; 2 to 5 clusters in
  4 to 8 dimensions, equal sizes or one cluster holding 60% [2, 3, 4, 5, 5].
- elongated clusters: scikit-learn's anisotropic blobs (the linear map of its clustering
  comparison example) [3]; 4 clusters in 5-D stretched 6:1 along random directions [4].
- unequal sizes and spreads: 500/100/25 points with standard deviations 1.5/0.8/0.4 in
  2-D [3]; 5 clusters of 400/200/100/50/25 points in 4-D [5].
- many clusters: 7 well-separated clusters in 10-D [7]; 8 blobs in 2-D [8].
- no structure: uniform in the unit square and 6-cube, one Gaussian in 2-D and 8-D, and
  one elongated Gaussian in 5-D (standard deviations 4, 2, 1, 1, 1) [1].

A second table gives the five Tibshirani designs alone, 20 realizations each (5 with
--quick), with the gap statistic's hit rate per rule and reference.

Run:  python benchmarks/selection_accuracy.py [--quick] [--realizations N] [--save out.json]
(--quick: 1 realization per data set, 5 per Tibshirani design.)
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")

import numpy as np
from kneed import KneeLocator
from peers import ClustererKMeans
from sklearn.cluster import KMeans
from sklearn.datasets import load_iris, load_wine, make_blobs
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler
from yellowbrick.cluster import KElbowVisualizer

from ksweep import KSweep
from ksweep.consensus import vote
from ksweep.criteria import CRITERIA
from ksweep.elbow import kneedle, two_segment
from ksweep.gap import GAP_RULES, gap_statistic
from ksweep.structure import no_structure, select_unless_no_structure

K_RANGE = range(1, 11)
N_INIT = 10
GAP_REFERENCES = 10
CRITERION_NAMES = ("silhouette", "calinski_harabasz", "davies_bouldin")

# --------------------------------------------------------------------------------------
# Data sets: generator(rng) -> X
# --------------------------------------------------------------------------------------


def _min_cross_distance(X: np.ndarray, labels: np.ndarray) -> float:
    """Smallest distance between two points of different clusters."""
    sq = np.sum(X**2, axis=1)
    dist = sq[:, None] + sq[None, :] - 2 * X @ X.T
    dist[labels[:, None] == labels[None, :]] = np.inf
    return float(np.sqrt(max(dist.min(), 0.0)))


def _points_around(centers: np.ndarray, sizes, rng, scale=1.0) -> tuple[np.ndarray, np.ndarray]:
    labels = np.repeat(np.arange(len(sizes)), sizes)
    X = centers[labels] + scale * rng.standard_normal((labels.size, centers.shape[1]))
    return X, labels


def tibshirani_a(rng):
    return rng.random((200, 10))


def tibshirani_b(rng):
    centers = np.array([[0.0, 0.0], [0.0, 5.0], [5.0, -3.0]])
    return _points_around(centers, [25, 25, 50], rng)[0]


def _tibshirani_four(rng, dim: int, variance: float):
    while True:  # the paper discards realizations whose clusters come closer than 1.0
        sizes = rng.choice([25, 50], size=4)
        centers = rng.normal(0.0, np.sqrt(variance), size=(4, dim))
        X, labels = _points_around(centers, sizes, rng)
        if _min_cross_distance(X, labels) >= 1.0:
            return X


def tibshirani_c(rng):
    return _tibshirani_four(rng, 3, 5.0)


def tibshirani_d(rng):
    return _tibshirani_four(rng, 10, 1.9)


def tibshirani_e(rng):
    t = np.linspace(-0.5, 0.5, 100)
    line = np.repeat(t[:, None], 3, axis=1)
    X = np.concatenate([line, line + 10.0])
    return X + rng.normal(0.0, 0.1, size=X.shape)


def milligan(n_clusters: int, dim: int, sizes: str) -> Callable:
    """Milligan & Cooper-style: no overlap on dimension 0, overlap elsewhere."""

    def make(rng):
        total = 50 * n_clusters
        if sizes == "equal":
            counts = np.full(n_clusters, 50)
        else:  # one cluster holds 60% of the points
            rest = (total * 0.4) // (n_clusters - 1)
            counts = np.array(
                [int(total - rest * (n_clusters - 1))] + [int(rest)] * (n_clusters - 1)
            )
        spread = rng.uniform(0.5, 1.5, size=(n_clusters, dim))
        centers = rng.uniform(-1.5, 1.5, size=(n_clusters, dim))
        position = 0.0
        for c in range(n_clusters):  # clusters side by side along dimension 0
            if c:
                gap = rng.uniform(0.25, 0.75) * 1.5 * (spread[c - 1, 0] + spread[c, 0])
                position += 1.5 * spread[c - 1, 0] + gap + 1.5 * spread[c, 0]
            centers[c, 0] = position
        parts = []
        for c in range(n_clusters):
            z = rng.standard_normal((counts[c] * 3, dim))
            z = z[np.all(np.abs(z) <= 1.5, axis=1)][: counts[c]]  # truncated at 1.5 sd
            parts.append(centers[c] + z * spread[c])
        return np.concatenate(parts)

    return make


def anisotropic_three(rng):
    X, _ = make_blobs(n_samples=500, centers=3, random_state=int(rng.integers(2**31)))
    return X @ np.array([[0.6, -0.6], [-0.4, 0.8]])


def _separated_centers(rng, n: int, dim: int, box: float, min_distance: float) -> np.ndarray:
    while True:
        centers = rng.uniform(-box, box, size=(n, dim))
        gaps = np.linalg.norm(centers[:, None] - centers[None, :], axis=2)
        if gaps[np.triu_indices(n, 1)].min() >= min_distance:
            return centers


def elongated_four(rng):
    centers = _separated_centers(rng, 4, 5, 12.0, 12.0)
    parts = []
    for center in centers:
        rotation, _ = np.linalg.qr(rng.standard_normal((5, 5)))
        z = rng.standard_normal((150, 5)) * np.array([3.0, 0.5, 0.5, 0.5, 0.5])
        parts.append(center + z @ rotation.T)
    return np.concatenate(parts)


def unequal_three(rng):
    centers = np.array([[0.0, 0.0], [8.0, 1.0], [2.0, 7.0]])
    parts = [
        c + s * rng.standard_normal((n, 2))
        for c, n, s in zip(centers, (500, 100, 25), (1.5, 0.8, 0.4), strict=True)
    ]
    return np.concatenate(parts)


def unequal_five(rng):
    centers = _separated_centers(rng, 5, 4, 10.0, 7.0)
    return _points_around(centers, [400, 200, 100, 50, 25], rng)[0]


def many_seven(rng):
    centers = _separated_centers(rng, 7, 10, 8.0, 8.0)
    return _points_around(centers, [100] * 7, rng)[0]


def many_eight(rng):
    centers = _separated_centers(rng, 8, 2, 10.0, 4.5)
    return _points_around(centers, [60] * 8, rng, scale=0.5)[0]


def bundled(loader, standardize: bool) -> Callable:
    data = loader().data
    data = StandardScaler().fit_transform(data) if standardize else data

    def make(rng):
        keep = rng.choice(data.shape[0], size=int(0.9 * data.shape[0]), replace=False)
        return data[np.sort(keep)]

    return make


#: (family, name, true k, generator)
DATASETS = [
    ("bundled", "wine, standardized", 3, bundled(load_wine, True)),
    ("bundled", "iris", 3, bundled(load_iris, False)),
    ("tibshirani", "Tibshirani (a) null 10-D", 1, tibshirani_a),
    ("tibshirani", "Tibshirani (b) 3 in 2-D", 3, tibshirani_b),
    ("tibshirani", "Tibshirani (c) 4 in 3-D", 4, tibshirani_c),
    ("tibshirani", "Tibshirani (d) 4 in 10-D", 4, tibshirani_d),
    ("tibshirani", "Tibshirani (e) 2 elongated", 2, tibshirani_e),
    ("milligan", "Milligan 2 in 4-D", 2, milligan(2, 4, "equal")),
    ("milligan", "Milligan 3 in 6-D", 3, milligan(3, 6, "equal")),
    ("milligan", "Milligan 4 in 8-D, 60%", 4, milligan(4, 8, "unequal")),
    ("milligan", "Milligan 5 in 4-D", 5, milligan(5, 4, "equal")),
    ("milligan", "Milligan 5 in 8-D, 60%", 5, milligan(5, 8, "unequal")),
    ("elongated", "anisotropic 3 in 2-D", 3, anisotropic_three),
    ("elongated", "elongated 4 in 5-D", 4, elongated_four),
    ("unequal", "unequal 3 in 2-D", 3, unequal_three),
    ("unequal", "unequal 5 in 4-D", 5, unequal_five),
    ("many", "7 separated in 10-D", 7, many_seven),
    ("many", "8 blobs in 2-D", 8, many_eight),
    ("null", "uniform 2-D", 1, lambda rng: rng.random((500, 2))),
    ("null", "uniform 6-D", 1, lambda rng: rng.random((500, 6))),
    ("null", "Gaussian 2-D", 1, lambda rng: rng.standard_normal((500, 2))),
    ("null", "Gaussian 8-D", 1, lambda rng: rng.standard_normal((1000, 8))),
    (
        "null",
        "elongated Gaussian 5-D",
        1,
        lambda rng: rng.standard_normal((500, 5)) * np.array([4.0, 2.0, 1.0, 1.0, 1.0]),
    ),
]

# --------------------------------------------------------------------------------------
# Methods
# --------------------------------------------------------------------------------------


#: The row of KSweep's defaults, fitted as a user writes it.
DEFAULT = "KSweep defaults (selection='auto')"


def _k_or_none(result) -> int | None:
    return None if result.k is None else int(result.k)


def ksweep_choices(X: np.ndarray, seed: int, *, peers: bool) -> dict[str, int | None]:
    """Every ksweep method's k (and the gap's, per rule and reference) on X."""
    choices: dict[str, int | None] = {}
    gap_curves = {}
    for reference in ("uniform", "pca"):
        scoring = ("gap", *CRITERION_NAMES) if reference == "uniform" and peers else ("gap",)
        sweep = KSweep(
            k_range=K_RANGE,
            n_init=N_INIT,
            random_state=seed,
            scoring=scoring,
            gap_references=GAP_REFERENCES,
            gap_reference=reference,
        ).fit(X)
        results = sweep.results_
        k = results["k"]
        log_w = np.log(results["inertia"])
        gap_curves[reference] = (k, log_w, results["gap_reference_log_inertia"])
        if reference == "uniform" and peers:
            choices["kneedle"] = _k_or_none(kneedle(k, log_w))
            choices["two_segment"] = _k_or_none(two_segment(k, results["inertia"]))
            for name in CRITERION_NAMES:
                choices[name] = _k_or_none(CRITERIA[name].select(k, results[name]))
    if peers:  # what a user gets: KSweep's defaults (selection="auto", the repair on)
        default = KSweep(k_range=K_RANGE, n_init=N_INIT, random_state=seed).fit(X)
        choices[DEFAULT] = int(default.best_k_)
        # the same rule on the whole data: kneedle unless the no-structure test says k = 1
        k, log_w, ref = gap_curves["uniform"]
        test = no_structure(log_w[:2], ref[:2])  # K_RANGE starts at 1: k = 1 and 2
        choices["no-structure test"] = int(test.no_structure)
        choices["kneedle unless no structure"] = _k_or_none(
            select_unless_no_structure(k, np.exp(log_w), test)
        )
    for reference, (k, log_w, ref) in gap_curves.items():
        for rule in GAP_RULES:
            choices[f"gap {reference} {rule}"] = _k_or_none(gap_statistic(k, log_w, ref, rule=rule))
    return choices


def peer_choices(X: np.ndarray, seed: int) -> dict[str, int | None]:
    inertia, silhouettes = [], []
    for k in K_RANGE:
        model = KMeans(k, n_init=N_INIT, random_state=seed).fit(X)
        inertia.append(model.inertia_)
        silhouettes.append(silhouette_score(X, model.labels_) if k > 1 else -np.inf)
    knee = KneeLocator(list(K_RANGE), inertia, curve="convex", direction="decreasing").knee
    visualizer = KElbowVisualizer(
        ClustererKMeans(n_init=N_INIT, random_state=seed),
        k=(K_RANGE.start, K_RANGE.stop),
        timings=False,
    )
    visualizer.fit(X)
    import matplotlib.pyplot as plt

    plt.close("all")
    elbow = visualizer.elbow_value_
    return {
        "peer: KMeans loop + kneed": None if knee is None else int(knee),
        "peer: yellowbrick KElbowVisualizer": None if elbow is None else int(elbow),
        "peer: KMeans loop + max silhouette_score": list(K_RANGE)[int(np.argmax(silhouettes))],
    }


def derived_choices(c: dict[str, int | None]) -> dict[str, int | None]:
    """Votes and gap-gated combinations, from the single methods' choices."""
    voters = {name: c[name] for name in ("kneedle", "two_segment", *CRITERION_NAMES)}
    out = {
        "vote": vote(voters).k,
        "vote + gap (uniform, Tibs2001SEmax)": vote(
            {**voters, "gap": c["gap uniform Tibs2001SEmax"]}
        ).k,
        "no-structure test, else vote": 1 if c["no-structure test"] else vote(voters).k,
    }
    for rule in ("Tibs2001SEmax", "firstSEmax"):
        says_one = c[f"gap pca {rule}"] == 1
        out[f"gap pca {rule} says 1, else kneedle"] = 1 if says_one else c["kneedle"]
    return out


# --------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------


def print_table(rows: list[dict], methods: list[str], title: str) -> None:
    families = list(dict.fromkeys(row["family"] for row in rows))
    width = max(len(m) for m in methods) + 2
    header = f"{'method':<{width}}" + "".join(f"{f[:10]:>11}" for f in families)
    print(f"\n{title}\n{header}{'all':>11}")
    for method in methods:
        cells = []
        for family in families:
            group = [r for r in rows if r["family"] == family]
            hits = sum(r["choices"][method] == r["true_k"] for r in group)
            cells.append(f"{hits:>5}/{len(group):<5}")
        total = sum(r["choices"][method] == r["true_k"] for r in rows)
        print(f"{method:<{width}}" + "".join(cells) + f"{total:>5}/{len(rows):<5}")


def print_null_table(rows: list[dict], methods: list[str]) -> None:
    """How often each method answers k = 1, on data without and with clusters."""
    none = [r for r in rows if r["true_k"] == 1]
    some = [r for r in rows if r["true_k"] > 1]
    width = max(len(m) for m in methods) + 2
    print(
        f"\nAnswers k = 1 (all data sets of both tables)\n{'method':<{width}}"
        f"{'no structure':>14}{'clusters':>12}"
    )
    for method in methods:
        hits = sum(r["choices"][method] == 1 for r in none)
        false = sum(r["choices"][method] == 1 for r in some)
        print(f"{method:<{width}}{hits:>8}/{len(none):<5}{false:>6}/{len(some):<5}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 realization per data set")
    parser.add_argument("--realizations", type=int, default=5)
    parser.add_argument("--tibshirani-realizations", type=int, default=20)
    parser.add_argument("--save", help="write every data set's choices to this JSON file")
    args = parser.parse_args()
    n_real = 1 if args.quick else args.realizations
    n_tib = 5 if args.quick else args.tibshirani_realizations
    warnings.simplefilter("ignore")
    start = time.perf_counter()

    rows = []
    for family, name, true_k, make in DATASETS:
        for r in range(n_real):
            seed = 1000 * len(rows) + r
            X = make(np.random.default_rng(seed))
            choices = {**ksweep_choices(X, seed, peers=True), **peer_choices(X, seed)}
            choices.update(derived_choices(choices))
            rows.append(
                {"family": family, "data": name, "true_k": true_k, "seed": seed, "choices": choices}
            )
        print(f"  {name:<30} done ({time.perf_counter() - start:6.0f} s)", flush=True)

    gap_names = [f"gap {ref} {rule}" for ref in ("uniform", "pca") for rule in GAP_RULES]
    single = ["kneedle", "two_segment", *CRITERION_NAMES]
    peers = [m for m in rows[0]["choices"] if m.startswith("peer:")]
    derived = list(derived_choices(rows[0]["choices"]))
    print_table(
        rows,
        [DEFAULT, *single, "kneedle unless no structure", *gap_names, *derived, *peers],
        f"True k found, k = 1..{K_RANGE.stop - 1}, KMeans n_init={N_INIT}, "
        f"{n_real} realization(s) per data set (kneedle on log inertia is ksweep's default)",
    )
    print("\nPer data set (hits over realizations):")
    shown = [
        DEFAULT,
        "kneedle",
        "two_segment",
        *CRITERION_NAMES,
        "gap uniform Tibs2001SEmax",
        "gap pca Tibs2001SEmax",
        "vote",
        *peers,
    ]
    print(f"{'data':<28}{'k':>3} " + " ".join(f"{m.replace('peer: ', '')[:9]:>9}" for m in shown))
    for name in dict.fromkeys(row["data"] for row in rows):
        group = [r for r in rows if r["data"] == name]
        cells = " ".join(f"{sum(r['choices'][m] == r['true_k'] for r in group):>9}" for m in shown)
        print(f"{name:<28}{group[0]['true_k']:>3} {cells}")

    tib_rows = []
    for family, name, true_k, make in DATASETS:
        if family != "tibshirani":
            continue
        for r in range(n_tib):
            seed = 7919 * (r + 1) + true_k
            X = make(np.random.default_rng(seed))
            choices = ksweep_choices(X, seed, peers=False)
            tib_rows.append(
                {"family": name.split()[1], "data": name, "true_k": true_k, "choices": choices}
            )
    print_table(
        tib_rows,
        gap_names,
        f"Tibshirani, Walther & Hastie (2001) designs (a)-(e), {n_tib} realizations each: "
        f"gap statistic, B={GAP_REFERENCES}",
    )
    # the no-structure test is the uniform-reference gap read with Tibshirani's rule at k = 1
    print_null_table(rows + tib_rows, gap_names)
    print(
        "(the no-structure test of ksweep.structure answers k = 1 exactly when "
        "'gap uniform Tibs2001SEmax' does)"
    )
    print(f"\ntotal {time.perf_counter() - start:.0f} s")
    if args.save:
        with open(args.save, "w") as fh:
            json.dump({"main": rows, "tibshirani": tib_rows}, fh)


if __name__ == "__main__":
    main()
