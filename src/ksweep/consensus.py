"""Consensus of several selection methods: each method's chosen k is one vote.

:func:`vote` follows the majority rule of NbClust (Charrad et al., 2014): every
method that chose a k casts one vote for it and the k with the most votes wins.
Methods that chose no k abstain. Ties go to the tied k of the voter listed first:
the voters' order is their priority. KSweep lists kneedle first (then
two_segment, silhouette, Calinski-Harabasz, Davies-Bouldin, gap, BIC), the most
accurate single method on ``benchmarks/selection_accuracy.py``, where this rule
found the true k in 69 of 115 data sets against 64 for NbClust's smallest tied k.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ksweep._selection import SelectionResult

__all__ = ["vote"]


def _chosen_k(name: str, choice) -> int | None:
    """The k a voter chose: a SelectionResult's ``k``, an int, or None (abstain)."""
    k = getattr(choice, "k", choice)
    if k is None:
        return None
    if isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_)):
        return int(k)
    raise ValueError(
        "The 'choices' argument of vote must map each method name to a SelectionResult, "
        f"an int or None. Got {choice!r} for {name!r} instead."
    )


def vote(choices: Mapping, candidates=None) -> SelectionResult:
    """Choose the k most selection methods chose (ties: the first voter's k).

    Parameters
    ----------
    choices : mapping of str to SelectionResult, int or None
        Each voter's name and its choice; a result with ``k=None`` (or None)
        abstains. The order is the voters' priority: a tie goes to the tied k
        whose first voter comes first.
    candidates : array-like of int or None, default=None
        The k values that could be chosen (for example the fitted k range), so
        that ``statistic`` has a count for each of them, zeros included. None uses
        the k values that received a vote. Every vote must be among them.

    Returns
    -------
    SelectionResult
        ``method="vote"``; ``statistic`` is the number of votes per candidate;
        ``details`` holds ``votes`` (voter name to its k, abstentions as None) and
        ``tally`` (k to the names of its voters, most votes first). ``k`` is None
        when every voter abstained.

    Examples
    --------
    >>> from ksweep.consensus import vote
    >>> result = vote({"kneedle": 4, "two_segment": 3, "silhouette": 4, "gap": None})
    >>> result.k, result.statistic.tolist()
    (4, [1, 2])
    >>> result.reason
    'k=4 has 2 of 3 votes (kneedle, silhouette); k=3: 1 (two_segment); gap abstained'
    >>> vote({"kneedle": 5, "silhouette": 3}).k  # a tie goes to the first voter's k
    5
    """
    if not isinstance(choices, Mapping):
        raise ValueError(
            "The 'choices' argument of vote must be a mapping of method name to choice. "
            f"Got {type(choices).__name__} instead."
        )
    votes = {str(name): _chosen_k(str(name), choice) for name, choice in choices.items()}
    cast = {name: k for name, k in votes.items() if k is not None}
    if candidates is None:
        grid = np.array(sorted(set(cast.values())), dtype=np.int64)
    else:
        grid = np.asarray(candidates).astype(np.int64).reshape(-1)
        outside = sorted({k for k in cast.values() if k not in set(grid.tolist())})
        if outside:
            raise ValueError(
                "The 'candidates' argument of vote must include every k voted for. "
                f"Got votes for k={outside} outside {grid.tolist()} instead."
            )
    chosen = list(cast.values())
    counts = np.array([chosen.count(c) for c in grid.tolist()], dtype=np.int64)
    # most votes first; among equals, the k whose first voter comes first
    order = sorted(dict.fromkeys(chosen), key=lambda k: -chosen.count(k))
    tally = {k: [name for name, v in cast.items() if v == k] for k in order}
    abstained = [name for name, k in votes.items() if k is None]
    common = dict(
        method="vote",
        candidates=grid,
        statistic=counts,
        statistic_name="votes",
        details={"votes": votes, "tally": tally},
    )
    abstain = [f"{', '.join(abstained)} abstained"] if abstained else []
    if not cast:
        return SelectionResult(
            k=None, reason="; ".join(["no votes: every method abstained", *abstain]), **common
        )
    winner = order[0]
    parts = [
        f"k={winner} has {len(tally[winner])} of {len(cast)} votes ({', '.join(tally[winner])})",
        *(f"k={k}: {len(names)} ({', '.join(names)})" for k, names in tally.items() if k != winner),
        *abstain,
    ]
    return SelectionResult(k=winner, reason="; ".join(parts), **common)
