"""A job's progress over virtual time, in closed form: no event per vote.

A job needs ``work`` units (one unit = one vote; ``work`` is the vote count
stretched by Gamma noise, the waiting time for that many Poisson arrivals).
Its crowd delivers ``rate(t)`` units per hour. The rate is piecewise constant
between UTC hour boundaries (hour-of-day profiles, a recruiting funnel that
grows), so integrating it and solving for the finish instant walks at most one
step per virtual hour of the job's life, and a constant rate is one step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping

from ..core.clock import parse_iso
from .population import Population

HOUR = timedelta(hours=1)
#: A job whose crowd will not finish it within this horizon never completes on its own.
HORIZON = timedelta(days=5 * 365)


@dataclass(frozen=True)
class Rate:
    """Responses per hour a crowd gives one job, as a function of the instant."""

    per_hour: float
    hourly: tuple[float, ...] | None = None
    #: (recruits_per_hour, distill_hours, graduation_rate, target, started): a funnel.
    funnel: tuple[float, float, float, int, str] | None = None

    @classmethod
    def of(cls, population: Population, *, recruiting_started: str | None = None) -> "Rate":
        funnel = None
        if recruiting_started is not None:
            funnel = (population.recruits_per_hour, population.distill_hours, population.graduation_rate,
                      population.target, recruiting_started)
        return cls(population.responses_per_hour, population.hourly, funnel)

    def to_dict(self) -> dict[str, Any]:
        return {"per_hour": self.per_hour, "hourly": list(self.hourly) if self.hourly else None,
                "funnel": list(self.funnel) if self.funnel else None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Rate":
        return cls(data["per_hour"], tuple(data["hourly"]) if data.get("hourly") else None,
                   tuple(data["funnel"]) if data.get("funnel") else None)  # type: ignore[arg-type]

    @property
    def constant(self) -> bool:
        return self.hourly is None and self.funnel is None

    def _population(self) -> Population:
        rph, distill, grad, target, _ = self.funnel  # type: ignore[misc]
        return Population(recruits_per_hour=rph, distill_hours=distill, graduation_rate=grad, target=target,
                          ready_graduates=1)

    def at(self, instant: datetime) -> float:
        rate = self.per_hour
        if self.hourly is not None:
            rate *= self.hourly[instant.hour]
        if self.funnel is not None:
            target = self.funnel[3]
            graduated = self._population().funnel(parse_iso(self.funnel[4]), instant)["Graduated"]
            rate *= graduated / target if target else 1.0
        return rate

    def _segments(self, start: datetime, end: datetime | None):
        """(segment start, segment end, rate) pieces from ``start`` on, to ``end`` or the horizon.

        Pieces end at UTC hour boundaries and, for a recruiting crowd, at its first graduation;
        each piece runs at the rate of its first instant, so no work is ever counted before
        anyone could do it (a growing funnel is slightly underestimated within an hour)."""
        stop = end if end is not None else start + HORIZON
        if self.constant:
            yield start, stop, self.per_hour
            return
        first = self._population().ready_at(parse_iso(self.funnel[4])) if self.funnel is not None else None
        t = start
        while t < stop:
            seg_end = min(t.replace(minute=0, second=0, microsecond=0) + HOUR, stop)
            if first is not None and t < first < seg_end:
                seg_end = first
            yield t, seg_end, self.at(t)
            t = seg_end

    def work(self, start: datetime, end: datetime) -> float:
        """Units delivered in [start, end)."""
        if end <= start:
            return 0.0
        return sum(r * (b - a).total_seconds() / 3600 for a, b, r in self._segments(start, end))

    def finish(self, start: datetime, work: float) -> datetime | None:
        """The instant ``work`` units have been delivered from ``start`` (None: not within the horizon)."""
        if work <= 0:
            return start
        left = work
        for a, b, r in self._segments(start, None):
            units = r * (b - a).total_seconds() / 3600
            if units >= left and r > 0:
                seconds = left / r * 3600
                return a + timedelta(microseconds=math.ceil(seconds * 1e6))
            left -= units
        return None
