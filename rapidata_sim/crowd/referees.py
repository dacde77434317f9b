"""When a datapoint has enough votes: the referees the SDK configures (naive, early
stopping, quorum).

Early stopping's confidence is our model (the service documents only that it combines the
voters' ``userScores``): each vote is evidence with the voter's score as its accuracy, from a
uniform prior; a compare's Both/Neither carry none. See ``docs/crowd.md``.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Iterator, Mapping, Sequence

SCORE_FLOOR, SCORE_CEILING = 0.01, 0.99


def max_votes(referee: Mapping[str, Any]) -> int:
    """How many votes a datapoint collects at most under this referee."""
    if referee.get("_t") == "NaiveReferee":
        return max(1, int(referee.get("totalVotes") or 1))
    return max(1, int(referee.get("maxVotes") or referee.get("totalVotes") or 1))


def fixed_votes(referee: Mapping[str, Any]) -> int | None:
    """The vote count when it does not depend on the answers (NaiveReferee), else None."""
    return max_votes(referee) if referee.get("_t") == "NaiveReferee" else None


def _weigh(logs: dict[str, float], choice: str, score: float) -> None:
    """Add one vote's evidence to the log-odds of each category (no-op outside them)."""
    k = len(logs)
    if choice not in logs or k < 2:
        return
    s = min(SCORE_CEILING, max(SCORE_FLOOR, score))
    hit, miss = math.log(s), math.log((1 - s) / (k - 1))
    for c in logs:
        logs[c] += hit if c == choice else miss


def log_evidence(categories: Sequence[str], votes: Iterable[tuple[str, float]]) -> dict[str, float]:
    logs = dict.fromkeys(categories, 0.0)
    for choice, score in votes:
        _weigh(logs, choice, score)
    return logs


def confidence(categories: Sequence[str], votes: Iterable[tuple[str, float]]) -> dict[str, float]:
    """Posterior probability of each category being right, given (choice, userScore) votes."""
    logs = log_evidence(categories, votes)
    if not logs:
        return {}
    top = max(logs.values())
    exps = {c: math.exp(v - top) for c, v in logs.items()}
    total = sum(exps.values())
    return {c: v / total for c, v in exps.items()}


def collect(referee: Mapping[str, Any], categories: Sequence[str], votes: Iterator[tuple[str, float]]) -> int:
    """How many of ``votes`` (an endless stream of (choice, userScore)) the referee takes."""
    kind = referee.get("_t")
    limit = max_votes(referee)
    if kind == "NaiveReferee" or len(categories) < 2:
        return limit
    if kind == "EarlyStoppingReferee":
        threshold = float(referee.get("threshold") or 0.999)
        logs = dict.fromkeys(categories, 0.0)
        for n in range(1, limit + 1):
            choice, score = next(votes)
            if choice in logs:
                _weigh(logs, choice, score)
                top = max(logs.values())
                total = sum(math.exp(v - top) for v in logs.values())
                if 1 / total >= threshold:
                    return n
        return limit
    if kind == "QuorumReferee":
        threshold = int(referee.get("threshold") or 1)
        counts = dict.fromkeys(categories, 0)
        for n in range(1, limit + 1):
            choice, _ = next(votes)
            if choice in counts:
                counts[choice] += 1
                if counts[choice] >= threshold:
                    return n
            left = limit - n
            if all(c + left < threshold for c in counts.values()):
                return n
        return limit
    return limit
