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
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Mapping

from ..core.clock import MAX_SPAN
from .settings import MAX_MAGNITUDE, check, parse, weights

HOUR = timedelta(hours=1)
#: The most labelers, recruits or graduates a population may name.
MAX_COUNT = 10**9

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
        # Types are checked by ``settings.parse`` for plain data; these are the values that
        # would break a job's plan (an empty table to draw from, a span past the calendar).
        count, rate = f"from 0 to {MAX_COUNT}", f"numbers from 0 to {MAX_MAGNITUDE:g}"
        check({
            "size": [] if 0 <= self.size <= MAX_COUNT else [f"size must be {count}"],
            "target": [] if 0 <= self.target <= MAX_COUNT else [f"target must be {count}"],
            "ready_graduates": [] if 0 <= self.ready_graduates <= MAX_COUNT else [f"ready_graduates must be {count}"],
            "responses_per_hour": [] if 0 <= self.responses_per_hour <= MAX_MAGNITUDE else [f"rates are {rate}"],
            "recruits_per_hour": [] if 0 <= self.recruits_per_hour <= MAX_MAGNITUDE else [f"rates are {rate}"],
            "graduation_rate": [] if 0 <= self.graduation_rate <= 1 else ["graduation_rate is a probability"],
            "no_demographics": [] if 0 <= self.no_demographics <= 1 else ["no_demographics is a probability"],
            "score_mean": [] if 0 < self.score_mean < 1 else ["score_mean must be in (0, 1)"],
            "score_concentration": [] if 0 < self.score_concentration <= MAX_MAGNITUDE
            else [f"score_concentration must be > 0 and at most {MAX_MAGNITUDE:g}"],
            "hourly": [] if self.hourly is None or (len(self.hourly) == 24 and not weights("hourly", dict(
                enumerate(self.hourly)))) else ["hourly needs 24 factors from 0 to 1e9 (UTC hours 0..23)"],
            "distill_hours": [] if 0 <= self.distill_hours <= MAX_SPAN / HOUR
            else [f"distill_hours must be from 0 to {MAX_SPAN / HOUR:.0f}"],
            "countries": weights("countries", self.countries, required=True),
            "ages": weights("ages", self.ages, required=True),
            "genders": weights("genders", self.genders, required=True),
            "occupations": weights("occupations", self.occupations, required=True),
        })

    # -- (de)serialisation ----------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["countries"] = {k: list(v) for k, v in self.countries.items()}
        data["hourly"] = list(self.hourly) if self.hourly is not None else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "Population":
        """From plain data, checked (``settings.parse``: ``InvalidSettings`` names bad fields)."""
        return parse(cls, data)

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
        if hours > MAX_SPAN / HOUR:
            return None  # not within any span a world can reach
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
