"""The silhouette: ksweep's exact path in row blocks vs sklearn.metrics.silhouette_score.

Data: 17,000 samples × 20 features around 8 centers (make_blobs, seed 0), labels from the
generating centers. Prints, side by side in one run, the wall seconds of one call and the
peak memory Python allocated in a second, traced call (tracemalloc, numpy's buffers
included; tracing slows numpy's allocations, so it is kept out of the timed call), and
the difference of the two scores (they agree to about 1e-12).

Run:  python benchmarks/silhouette.py            # the figures in docs/guide.md
      python benchmarks/silhouette.py --quick    # 4,000 samples
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

from sklearn.datasets import make_blobs
from sklearn.metrics import silhouette_score

from ksweep.criteria import silhouette


def _measured(func):
    """Seconds of one call (untraced), then the peak traced memory of another."""
    start = time.perf_counter()
    value = func()
    seconds = time.perf_counter() - start
    tracemalloc.start()
    func()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return value, seconds, peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4,000 samples")
    args = parser.parse_args()
    n = 4_000 if args.quick else 17_000
    X, labels = make_blobs(n_samples=n, n_features=20, centers=8, random_state=0)
    ours, ours_s, ours_mb = _measured(lambda: silhouette(X, labels).score)
    theirs, theirs_s, theirs_mb = _measured(lambda: silhouette_score(X, labels))
    print(f"{n:,} samples × 20 features, 8 clusters")
    print(f"{'variant':<42} {'wall s':>8} {'peak MB':>8}")
    print(f"{'ksweep.criteria.silhouette (exact)':<42} {ours_s:>8.2f} {ours_mb:>8.1f}")
    print(f"{'sklearn.metrics.silhouette_score':<42} {theirs_s:>8.2f} {theirs_mb:>8.1f}")
    print(f"ratio {theirs_s / ours_s:.1f}x; |difference of the scores| {abs(ours - theirs):.1e}")


if __name__ == "__main__":
    main()
