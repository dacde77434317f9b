"""The one source of time for a simulated world.

Nothing else in rapidata-sim reads the system clock: the domain asks its
``Clock`` for ``now()``. A clock never goes backwards. By default it follows
the wall clock (so an SDK process comparing our timestamps with its own
``datetime.now()`` never sees them in the past) and can be pushed forward on
top of that; a frozen clock moves only when told to.
"""

from __future__ import annotations

import math
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Callable

UTC = timezone.utc


def iso(instant: datetime) -> str:
    """Render an instant the way the service does: UTC, microseconds, ``Z``."""
    # isoformat, not strftime: "%Y" does not pad years before 1000 ("1-01-01..."), which would
    # break comparing timestamps as text (a list filter may name any instant); and it is faster.
    return instant.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def parse_iso(text: str) -> datetime:
    """Parse a timestamp written by :func:`iso` (or any ISO 8601 with offset); ``ValueError``
    for anything else, including instants whose UTC reading leaves the calendar."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"timestamp without a UTC offset: {text!r}")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{text!r} is outside the calendar in UTC") from None


#: The calendar a world lives in. Its clock never passes ``HORIZON`` (a clock with a speed
#: stops there), no input may name an instant outside [``EARLIEST``, ``HORIZON``], and no input
#: may name a span longer than ``MAX_SPAN`` (an interval, a delay, an outage): so every instant
#: the simulator computes (a clock reading plus a few spans) stays far inside Python's
#: ``datetime`` range (year 9999), and no input can make a world overflow it.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
HORIZON = datetime(9000, 1, 1, tzinfo=UTC)
MAX_SPAN = timedelta(days=100 * 366)
#: The fastest a clock may follow the wall (virtual seconds per wall second): about four virtual
#: months a wall second. ``PATCH /_sim/clock`` and ``serve --speed`` both refuse more.
MAX_SPEED = 1e7


class CalendarError(ValueError):
    """An instant, span or speed outside what a world's clock can take; nothing was changed."""


def check_instant(instant: datetime) -> datetime:
    """``instant`` if it lies in [EARLIEST, HORIZON]; ``CalendarError`` saying the range otherwise."""
    if not EARLIEST <= instant <= HORIZON:
        raise CalendarError(f"{iso(instant)} is outside the simulated calendar "
                         f"({iso(EARLIEST)} to {iso(HORIZON)}).")
    return instant


def check_span(seconds: float) -> timedelta:
    """``seconds`` as a span if it is finite, >= 0 and at most MAX_SPAN; ``CalendarError`` otherwise."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds) \
            or not 0 <= seconds <= MAX_SPAN.total_seconds():
        raise CalendarError(f"{seconds!r} is not a span of 0 to {MAX_SPAN.total_seconds():.0f} seconds "
                         f"({MAX_SPAN.days // 366} years).")
    return timedelta(seconds=seconds)


def check_speed(speed: float) -> float:
    """``speed`` if it is a finite number from 0 to MAX_SPEED; ``CalendarError`` otherwise."""
    if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not math.isfinite(speed) \
            or not 0 <= speed <= MAX_SPEED:
        raise CalendarError(f"speed must be a number from 0 to {MAX_SPEED:g}, not {speed!r}")
    return float(speed)


#: Where a frozen clock starts unless told otherwise: fixed (so runs replay byte for
#: byte) and in the future (so the SDK, which compares run timestamps with its own
#: ``datetime.now()``, never sees them in its past).
FROZEN_START = datetime(2100, 1, 1, tzinfo=UTC)


class Clock:
    """Virtual time for one world.

    Three ways to drive it:

    - ``Clock()`` follows the wall clock (speed 1): virtual time = start + wall
      time elapsed + every ``advance``. It starts at the wall clock's now, so it
      is never behind an SDK process on the same machine. The default for
      servers and SDK tests.
    - ``Clock(speed=3600)`` runs fast: one virtual hour per wall second, for
      demos and standalone servers (``Simulator.run_realtime`` fires events as
      they come due).
    - ``Clock.frozen(start)`` (or ``follow_wall=False``) moves only through
      ``advance``/``advance_to``: deterministic scenarios.

    ``wall`` is injectable so tests can control the real-time side too (token
    expiry uses it, see ``wall_now``). However it is driven, it never passes
    ``HORIZON``: moving it there is an error, running into it stops it.
    """

    def __init__(
        self,
        start: datetime | None = None,
        *,
        follow_wall: bool = True,
        speed: float = 1.0,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._wall = wall
        self._lock = threading.Lock()
        self._wall_base = wall()
        if start is None:
            start = datetime.fromtimestamp(self._wall_base, UTC) if follow_wall else FROZEN_START
        if start.tzinfo is None:
            raise ValueError("Clock start must carry a timezone")
        check_speed(speed)
        self._base = check_instant(start.astimezone(UTC))
        self._offset = timedelta(0)
        self._last = self._base
        self.speed = speed if follow_wall else 0.0
        self._listeners: list[Callable[[datetime], None]] = []

    @classmethod
    def frozen(cls, start: datetime | None = None, **kwargs) -> "Clock":
        """A clock that moves only when told (default start: ``FROZEN_START``)."""
        return cls(start, follow_wall=False, **kwargs)

    @property
    def follow_wall(self) -> bool:
        return self.speed > 0

    def set_speed(self, speed: float) -> None:
        """Change how fast virtual time follows the wall clock (0 = frozen), from now on."""
        check_speed(speed)
        with self._lock:
            now = self._raw()
            self._base, self._offset, self._wall_base = now, timedelta(0), self._wall()
            self.speed = speed

    def on_move(self, listener: Callable[[datetime], None]) -> None:
        """Call ``listener(now)`` after every ``advance``/``advance_to`` (e.g. a frozen process clock)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[datetime], None]) -> None:
        self._listeners.remove(listener)

    def _raw(self) -> datetime:
        start = self._base + self._offset
        if not self.speed:
            return start
        # In float seconds first: years of wall time at a high speed would overflow a timedelta.
        elapsed = (self._wall() - self._wall_base) * self.speed
        return start + timedelta(seconds=max(0.0, min(elapsed, (HORIZON - start).total_seconds())))

    def now(self) -> datetime:
        """The current virtual instant; never earlier than any instant returned before."""
        with self._lock:
            self._last = max(self._last, self._raw())
            return self._last

    def advance(self, delta: timedelta) -> datetime:
        """Move virtual time forward by ``delta`` and return the new instant."""
        if delta < timedelta(0):
            raise ValueError("the clock never goes backwards")
        return self._move(lambda current: delta)

    def advance_to(self, instant: datetime, *, or_stay: bool = False) -> datetime:
        """Move virtual time forward to ``instant``. An instant already past is an error, or
        with ``or_stay`` leaves the clock where it is (a clock that follows the wall may have
        passed it since the caller looked)."""
        def delta(current: datetime) -> timedelta:
            if instant < current and not or_stay:
                raise ValueError(f"the clock never goes backwards: {iso(instant)} < {iso(current)}")
            return max(instant - current, timedelta(0))
        return self._move(delta)

    def _move(self, delta_from: Callable[[datetime], timedelta]) -> datetime:
        with self._lock:
            current = max(self._last, self._raw())
            delta = delta_from(current)
            if delta > HORIZON - current:
                raise CalendarError(f"the clock cannot pass {iso(HORIZON)}, the end of the simulated calendar")
            self._offset += delta
            self._last = now = max(self._last, self._raw())
        for listener in self._listeners:
            listener(now)
        return now

    def wall_until(self, instant: datetime) -> float:
        """Wall seconds until the clock reaches ``instant`` on its own (inf if frozen)."""
        ahead = (instant - self.now()).total_seconds()
        if ahead <= 0:
            return 0.0
        return ahead / self.speed if self.speed else float("inf")

    def wall_now(self) -> float:
        """Real (client-side) time in epoch seconds.

        Only for things that live on the SDK's own timeline, such as access
        token lifetimes: the SDK refreshes tokens by its wall clock, so a
        token must not expire because virtual days have passed.
        """
        return self._wall()
