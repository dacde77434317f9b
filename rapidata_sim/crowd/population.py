"""Who is in an audience, how fast they answer, and how a custom audience fills up.

A ``Population`` is plain data (it round-trips through a dict, so fixtures and
the store can hold it). Everything that depends on time is a closed-form
function of the instant, so reading an audience at any virtual time costs the
same however long ago recruiting started: no event per recruit, no event per
vote.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any, Mapping

#: Country -> language, weight. The shape of a broad international crowd.
DEFAULT_COUNTRIES: dict[str, tuple[str, float]] = {
    "US": ("en", 0.22), "IN": ("en", 0.12), "BR": ("pt", 0.09), "DE": ("de", 0.07), "GB": ("en", 0.07),
    "FR": ("fr", 0.06), "PH": ("en", 0.06), "EG": ("ar", 0.05), "ES": ("es", 0.05), "JP": ("ja", 0.04),
    "MX": ("es", 0.05), "NG": ("en", 0.04), "ID": ("id", 0.04), "PL": ("pl", 0.04),
}
DEFAULT_AGES = {"18-29": 0.38, "30-39": 0.27, "40-49": 0.17, "50-64": 0.13, "65+": 0.05}
DEFAULT_GENDERS = {"Male": 0.49, "Female": 0.48, "Other": 0.03}
DEFAULT_OCCUPATIONS = {"Employed": 0.55, "Student": 0.2, "Self-employed": 0.12, "Not currently working": 0.13}


@dataclass(frozen=True)
class Population:
    """An audience's crowd.

    ``responses_per_hour`` is the rate at which the whole (graduated) crowd answers
    one job; ``hourly`` optionally scales it by UTC hour of day (24 factors). A
    custom audience recruits ``recruits_per_hour`` candidates until ``target`` have
    graduated; each distils for ``distill_hours`` and then graduates with
    probability ``graduation_rate`` (the rest are dropped). It answers at
    ``responses_per_hour`` scaled by how much of ``target`` has graduated, so a job
    assigned before anyone graduated waits.
    """

    size: int = 5000
    responses_per_hour: float = 20_000.0
    hourly: tuple[float, ...] | None = None
    #: Labeler score (``userScores.global``): a Beta distribution with this mean and
    #: concentration.
    score_mean: float = 0.75
    score_concentration: float = 12.0
    countries: Mapping[str, tuple[str, float]] = field(default_factory=lambda: dict(DEFAULT_COUNTRIES))
    ages: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_AGES))
    genders: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_GENDERS))
    occupations: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_OCCUPATIONS))
    #: Fraction of labelers whose ``demographics`` are ``{}`` (they never answered the survey).
    no_demographics: float = 0.1
    # -- the recruiting funnel (custom audiences) --
    recruits_per_hour: float = 40.0
    distill_hours: float = 4.0
    graduation_rate: float = 0.6
    target: int = 200
    #: Graduates needed before the audience reports ``Ready``.
    ready_graduates: int = 10

    def __post_init__(self) -> None:
        problems = []
        if self.size < 0 or self.target < 0 or self.ready_graduates < 0:
            problems.append("size, target and ready_graduates must be >= 0")
        if self.responses_per_hour < 0 or self.recruits_per_hour < 0:
            problems.append("rates must be >= 0")
        if not 0 <= self.graduation_rate <= 1 or not 0 <= self.no_demographics <= 1:
            problems.append("graduation_rate and no_demographics are probabilities")
        if not 0 < self.score_mean < 1 or self.score_concentration <= 0:
            problems.append("score_mean must be in (0, 1) and score_concentration > 0")
        if self.hourly is not None and (len(self.hourly) != 24 or min(self.hourly) < 0):
            problems.append("hourly needs 24 non-negative factors (UTC hours 0..23)")
        if self.distill_hours < 0:
            problems.append("distill_hours must be >= 0")
        if problems:
            raise ValueError("; ".join(problems))

    # -- (de)serialisation ----------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["countries"] = {k: list(v) for k, v in self.countries.items()}
        data["hourly"] = list(self.hourly) if self.hourly is not None else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "Population":
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown population settings: {sorted(unknown)}")
        if data.get("countries") is not None:
            data["countries"] = {k: (v[0], float(v[1])) for k, v in data["countries"].items()}
        if data.get("hourly") is not None:
            data["hourly"] = tuple(float(x) for x in data["hourly"])
        return cls(**data)

    # -- labelers -------------------------------------------------------------------

    def sampler(self) -> "UserSampler":
        return UserSampler(self)

    # -- the funnel -----------------------------------------------------------------

    def funnel(self, started: datetime | None, now: datetime) -> dict[str, int]:
        """``usersPerState`` of a recruiting audience ``now`` (all zero before it started)."""
        if started is None or now <= started:
            return {"Graduated": 0, "Distilling": 0, "Dropped": 0}
        hours = (now - started).total_seconds() / 3600
        recruited = self._recruited(hours)
        finished = self._recruited(hours - self.distill_hours)
        graduated = min(self.target, int(finished * self.graduation_rate))
        return {"Graduated": graduated, "Distilling": recruited - finished,
                "Dropped": finished - int(finished * self.graduation_rate)}

    def _recruit_hours(self) -> float:
        """Hours of recruiting until enough have been recruited to graduate ``target``."""
        if self.target == 0:
            return 0.0
        if self.recruits_per_hour == 0 or self.graduation_rate == 0:
            return math.inf
        return math.ceil(self.target / self.graduation_rate) / self.recruits_per_hour

    def _recruited(self, hours: float) -> int:
        if hours <= 0:
            return 0
        return int(min(hours, self._recruit_hours()) * self.recruits_per_hour)

    def ready_at(self, started: datetime) -> datetime | None:
        """When a funnel started at ``started`` reaches ``ready_graduates`` (None: never)."""
        need = min(self.ready_graduates, self.target)
        if need == 0:
            return started
        if self.recruits_per_hour == 0 or self.graduation_rate == 0:
            return None
        # smallest recruited count r with int(r * rate) >= need, then the hour it is reached
        r = math.ceil(need / self.graduation_rate)
        while int(r * self.graduation_rate) < need:
            r += 1
        if r > self.recruits_per_hour * self._recruit_hours() + 1e-9:
            return None
        hours = r / self.recruits_per_hour + self.distill_hours
        # round up to the microsecond, then make sure the closed form agrees
        at = started + timedelta(microseconds=math.ceil(hours * 3600 * 1e6))
        while self.funnel(started, at)["Graduated"] < need:
            at += timedelta(seconds=1)
        return at

    # -- answering rate -------------------------------------------------------------

    def rate_at(self, at: datetime, *, started: datetime | None = None, recruiting: bool = False) -> float:
        """Responses per hour this crowd gives one job at ``at``."""
        rate = self.responses_per_hour
        if self.hourly is not None:
            rate *= self.hourly[at.hour]
        if recruiting:
            graduated = self.funnel(started, at)["Graduated"]
            rate *= graduated / self.target if self.target else 1.0
        return rate


class UserSampler:
    """Draws ``userDetails`` from a population, fast (precomputed cumulative weights)."""

    def __init__(self, population: Population) -> None:
        self.p = population
        self._countries = list(population.countries.items())
        self._c_cum = _cumulative([w for _, (_, w) in self._countries])
        self._ages, self._a_cum = list(population.ages), _cumulative(list(population.ages.values()))
        self._genders, self._g_cum = list(population.genders), _cumulative(list(population.genders.values()))
        self._occs, self._o_cum = list(population.occupations), _cumulative(list(population.occupations.values()))
        m, k = population.score_mean, population.score_concentration
        self._alpha, self._beta = m * k, (1 - m) * k

    def draw(self, rng: random.Random) -> dict[str, Any]:
        country, (language, _) = self._countries[_pick(self._c_cum, rng)]
        score = round(rng.betavariate(self._alpha, self._beta), 3)
        if rng.random() < self.p.no_demographics:
            demographics: dict[str, str] = {}
        else:
            demographics = {"age": self._ages[_pick(self._a_cum, rng)],
                            "gender": self._genders[_pick(self._g_cum, rng)],
                            "occupation": self._occs[_pick(self._o_cum, rng)]}
        return {"country": country, "language": language, "userScores": {"global": score},
                "demographics": demographics}


def _cumulative(weights: list[float]) -> list[float]:
    total = sum(weights) or 1.0
    out, acc = [], 0.0
    for w in weights:
        acc += w / total
        out.append(acc)
    if out:
        out[-1] = 1.0
    return out


def _pick(cumulative: list[float], rng: random.Random) -> int:
    return min(bisect.bisect_right(cumulative, rng.random()), len(cumulative) - 1)
