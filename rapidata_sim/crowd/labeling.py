"""The votes one job collects, datapoint by datapoint, reproducibly.

Each datapoint has two generators of its own, seeded by (world seed, the job's
stream, the datapoint): one for what labelers answer, one for who they are.
The job's stream depends on what the job is (definition, revision, audience,
instant), not on how many other jobs or signals exist, so adding a job never
changes another job's answers. The referee decides how many votes a datapoint
takes from the endless stream of would-be votes.
"""

from __future__ import annotations

import random
from typing import Any, Callable, Iterator, Mapping, Sequence

from . import referees
from .behaviour import Behaviour
from .population import Population

Vote = tuple[Any, dict[str, Any]]  # (answer, userDetails)


class JobCrowd:
    """The crowd answering one job."""

    def __init__(self, *, seed: object, stream: str, behaviour: Behaviour, population: Population,
                 referee: Mapping[str, Any], allow_unsure: bool = False) -> None:
        self.seed, self.stream = seed, stream
        self.behaviour = behaviour
        self.sampler = population.sampler()
        self.referee = referee
        self.allow_unsure = allow_unsure

    def _rngs(self, key: str) -> tuple[random.Random, random.Random]:
        base = f"{self.seed}/{self.stream}/{key}"
        return random.Random(base + "/answers"), random.Random(base + "/users")

    def _take(self, key: str, categories: Sequence[str], answer: Callable[[random.Random], Any],
              limit: int | None = None, count: int | None = None) -> list[Vote]:
        """The votes the referee accepts for one datapoint (the first ``limit`` of them);
        ``count``: exactly that many, whatever the referee (a ranking group's comparisons)."""
        answers, users = self._rngs(key)
        votes: list[Vote] = []
        draw = self.sampler.draw

        def stream() -> Iterator[tuple[Any, float]]:
            while True:
                user = draw(users)
                choice = answer(answers)
                votes.append((choice, user))
                yield choice, user["userScores"]["global"]

        fixed = referees.fixed_votes(self.referee) if count is None else count
        if fixed is not None:
            it = stream()
            for _ in range(fixed if limit is None else min(limit, fixed)):
                next(it)
            return votes
        n = referees.collect(self.referee, categories, stream())
        return votes[:n if limit is None else min(n, limit)]

    # -- per task type ----------------------------------------------------------------

    def compare(self, key: str, a: Sequence[str | None], b: Sequence[str | None],
                labels: Sequence[str], limit: int | None = None) -> list[Vote]:
        """``a``/``b``: the names an asset is known by (results name, URL); ``labels``: as results show."""
        model = self.behaviour.compare
        p = model.p_first(a, b)
        options = list(labels)
        return self._take(key, options, lambda rng: model.vote(rng, p, options, self.allow_unsure), limit)

    def classify(self, key: str, names: Sequence[str | None], options: Sequence[str],
                 limit: int | None = None) -> list[Vote]:
        dist = self.behaviour.classify.answer_distribution(self.seed, key, names, options)
        cats = list(dist)
        cum, acc = [], 0.0
        for c in cats:
            acc += dist[c]
            cum.append(acc)

        def answer(rng: random.Random) -> str:
            u = rng.random() * acc
            for c, edge in zip(cats, cum):
                if u < edge:
                    return c
            return cats[-1]
        return self._take(key, options, answer, limit)

    def free_text(self, key: str, names: Sequence[str | None], limit: int | None = None) -> list[Vote]:
        model = self.behaviour.free_text
        return self._take(key, [], lambda rng: {"text": model.answer(rng, names)}, limit)

    def ranking(self, key: str, names: Sequence[str], urls: Sequence[str | None],
                limit: int | None = None, votes: int | None = None) -> list[Vote]:
        """Pairwise votes within a group. With ``votes`` (the group's comparison count), the
        unique pairs are visited in rounds, each round in a random order, so a count of
        pairs x k compares every pair k times; without it, the referee's count of votes
        on pairs drawn at random."""
        model = self.behaviour.compare
        q = {n: model.q(n, u) for n, u in zip(names, urls)}
        pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
        queue: list[tuple[str, str]] = []

        def next_pair(rng: random.Random) -> list[str]:
            if votes is None:
                return rng.sample(list(names), 2)
            if not queue:
                queue.extend(rng.sample(pairs, len(pairs)))
            pair = list(queue.pop())
            rng.shuffle(pair)
            return pair

        def answer(rng: random.Random) -> tuple[str, str, str]:
            a, b = next_pair(rng)
            p = model.p_first((a,), (b,)) if model.quality is not None else _bt(q[a] - q[b], model.strength)
            if rng.random() < model.noise:
                p = 0.5
            return (a, b, a if rng.random() < p else b)
        if len(names) < 2:
            return []
        return self._take(key, [], answer, limit, count=votes)

    def shapes(self, key: str, kind: str, limit: int | None = None) -> list[Vote]:
        """Locate, Draw (Line), SelectWords (Transcription), Scrub, ...: valid answers in their format."""
        return self._take(key, [], lambda rng: shape_answer(kind, rng), limit)


def _bt(diff: float, strength: float) -> float:
    import math
    x = max(-700.0, min(700.0, strength * diff))
    return 1 / (1 + math.exp(-x))


def shape_answer(kind: str, rng: random.Random) -> dict[str, Any]:
    """One plausible answer for task types whose content nobody tests logic on."""
    def point() -> dict[str, float]:
        return {"x": round(rng.uniform(0.05, 0.95), 4), "y": round(rng.uniform(0.05, 0.95), 4)}
    if kind == "Locate":
        return {"coordinates": [point() for _ in range(rng.randint(1, 2))]}
    if kind in ("Line", "Draw"):
        return {"lines": [[point() for _ in range(rng.randint(2, 4))]]}
    if kind in ("Transcription", "SelectWords"):
        start = rng.randint(0, 4)
        return {"selectedWords": list(range(start, start + rng.randint(1, 3)))}
    if kind == "Scrub":
        return {"timestamps": [round(rng.uniform(0, 10), 2)]}
    if kind == "BoundingBox":
        x, y = point()["x"] * 0.5, point()["y"] * 0.5
        return {"boxes": [{"x": round(x, 4), "y": round(y, 4), "width": round(rng.uniform(0.1, 0.5), 4),
                           "height": round(rng.uniform(0.1, 0.5), 4)}]}
    return {"answer": None}
