"""The simulator's own control surface, under ``/_sim`` (a prefix the real API never uses).

A thin skin over the same ``Simulator`` calls the Python API offers.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, Optional

from pydantic import Field
from starlette.responses import Response
from starlette.routing import Route

from ..core.clock import HORIZON, MAX_SPAN, MAX_SPEED, CalendarError, check_instant, iso, parse_iso
from ..crowd import Behaviour
from ..scheduling.budget import firings_until
from ..crowd.settings import InvalidSettings
from ..core.errors import SimError, ValidationFailed
from ..core.querying import strict_int
from .inputs import Body, Int32
from .routing import Call, endpoint

PREFIX = "/_sim"

#: A span of virtual time an input may name (``clock.MAX_SPAN``).
Span = Annotated[float, Field(ge=0, le=MAX_SPAN.total_seconds())]


class Advance(Body):
    seconds: Optional[Span] = None
    to: Optional[str] = None


class ClockSpeed(Body):
    speed: float = Field(ge=0, le=MAX_SPEED)


class Outage(Body):
    seconds: float = Field(gt=0, le=MAX_SPAN.total_seconds())


class Policy(Body):
    overlap: Literal["skip", "allow", "buffer_one"] = None  # type: ignore[assignment]
    trigger_overlap: Literal["obey", "ignore"] = None  # type: ignore[assignment]
    paused: Literal["none", "skip"] = None  # type: ignore[assignment]
    catch_up: Literal["none", "latest", "all"] = None  # type: ignore[assignment]
    trigger_latency_seconds: Span = None  # type: ignore[assignment]
    auto_advance: Literal["next-event", "off"] = None  # type: ignore[assignment]
    poll_advance: Literal["next-event", "off"] = None  # type: ignore[assignment]


class SetBehaviour(Body):
    behaviour: dict[str, Any]
    definition_id: Optional[str] = None
    at: Optional[str] = None
    #: True: only the models given (compare, classify, free_text) change; the others stay.
    merge: bool = False


class SetPopulation(Body):
    population: dict[str, Any]


class Fault(Body):
    state: Literal["Failed", "Paused", "ManualApproval", "SpendLimited"]
    audience_id: Optional[str] = None
    job_id: Optional[str] = None
    message: Optional[str] = None
    after_seconds: Span = 0
    at_progress: Optional[float] = Field(default=None, ge=0, le=1)
    jobs: Optional[Int32] = Field(default=None, ge=1)


def _not_past(call: Call, field: str, text: str, message: str) -> datetime:
    """``text`` as an instant in the simulated calendar, not before the world's now (400 on
    ``field`` otherwise)."""
    try:
        instant = parse_iso(text)
    except ValueError:
        raise ValidationFailed.field(field, f"'{text}' is not a date-time with an offset.") from None
    try:
        check_instant(instant)
    except ValueError as exc:
        raise ValidationFailed.field(field, str(exc)) from None
    if instant < call.sim.clock.now():
        raise ValidationFailed.field(field, message)
    return instant


def _moving(field: str, move: Any, *args: Any) -> Any:
    """``move(*args)``, a call that moves the clock; one past the horizon is a 400 on ``field``."""
    try:
        return move(*args)
    except CalendarError as exc:
        raise ValidationFailed.field(field, str(exc)) from None


def _bounded(call: Call, field: str, until: datetime) -> None:
    """A 400 on ``field`` if moving the clock to ``until`` crosses more grid points than one request
    may (``SimConfig.max_firings_per_request``, ``scheduling/budget.py``); nothing is written."""
    bound = call.sim.config.max_firings_per_request
    if until > HORIZON:
        return  # past the calendar: the move itself says so
    count = firings_until(call.sim.store, until, paused_fire=call.sim.scheduler.config.paused == "skip")
    if count > bound:
        raise ValidationFailed.field(field, (
            f"This would move the clock across {count} signal grid points (firings); one request may cross "
            f"at most {bound} (SimConfig.max_firings_per_request). Move the clock in shorter steps."))


def clock(call: Call) -> dict[str, Any]:
    sim = call.sim
    nxt = sim.next_event_at()
    return {"now": iso(sim.clock.now()), "nextEventAt": iso(nxt) if nxt else None, "speed": sim.clock.speed,
            "autoAdvance": sim.auto_advance, "pollAdvance": sim.config.poll_advance}


def advance(call: Call) -> dict[str, Any]:
    b: Advance = call.body
    if (b.seconds is None) == (b.to is None):
        raise ValidationFailed.field("seconds", "Give exactly one of 'seconds' or 'to'.")
    if b.to is not None:
        to = _not_past(call, "to", b.to, "The clock never goes backwards.")
        _bounded(call, "to", to)
        call.sim.advance_to(to)
    else:
        _bounded(call, "seconds", call.sim.clock.now() + timedelta(seconds=b.seconds))
        _moving("seconds", call.sim.advance, timedelta(seconds=b.seconds))
    return clock(call)


def set_speed(call: Call) -> dict[str, Any]:
    """Virtual seconds per wall second from now on (0 freezes the clock)."""
    call.sim.set_speed(call.body.speed)
    return clock(call)


def run_until_idle(call: Call) -> dict[str, Any]:
    call.sim.run_until_idle()
    return clock(call)


def outage(call: Call) -> dict[str, Any]:
    b: Outage = call.body
    _bounded(call, "seconds", call.sim.clock.now() + timedelta(seconds=b.seconds))
    missed = _moving("seconds", call.sim.outage, timedelta(seconds=b.seconds))
    return {"missed": missed, **clock(call)}


#: ``GET /_sim/events`` pages: ``limit`` events at most (default ``EVENTS_PAGE``, at most ``EVENTS_MAX``).
EVENTS_PAGE, EVENTS_MAX = 10_000, 100_000
#: Sequence numbers are SQLite integers.
SEQ_MIN, SEQ_MAX = -2**63, 2**63 - 1
#: The response header naming the ``since`` of the next page; absent on the last page.
NEXT_SINCE = "x-sim-next-since"


def _query_int(call: Call, name: str, default: int, low: int, high: int, what: str) -> int:
    raw = call.query.get(name)
    value = default if raw is None or raw == "" else strict_int(raw)
    if value is None or not low <= value <= high:
        raise ValidationFailed.field(name, f"'{name}' must be {what} from {low} to {high}.")
    return value


def events(call: Call) -> Response:
    """The events after ``since``, oldest first, as JSON lines, ``limit`` at most: when more follow,
    the ``x-sim-next-since`` header holds the ``since`` of the next page."""
    since = _query_int(call, "since", 0, SEQ_MIN, SEQ_MAX, "an integer sequence number")
    limit = _query_int(call, "limit", EVENTS_PAGE, 1, EVENTS_MAX, "an integer")
    body = call.sim.events_jsonl(since, limit + 1)
    headers = {}
    lines = body.count("\n")
    if lines > limit:
        body = body[:body.rfind("\n", 0, len(body) - 1) + 1]  # the extra one read: more follow
        headers[NEXT_SINCE] = str(json.loads(body[body.rfind("\n", 0, len(body) - 1) + 1:])["seq"])
    return Response(body, media_type="application/x-ndjson", headers=headers)


def counters(call: Call) -> dict[str, Any]:
    call.sim.signals.get(call.who, call.path["signal_id"])  # visibility as for the signal itself
    upcoming = strict_int(call.query.get("upcoming", "5"))
    if upcoming is None:
        raise ValidationFailed.field("upcoming", "'upcoming' must be an integer.")
    c = call.sim.counters(call.path["signal_id"], max(0, min(upcoming, 1000)))
    return {"signalId": c["signal_id"], "fired": c["fired"], "skipped": c["skipped"], "missed": c["missed"],
            "nextRunAt": c["next_run_at"], "isPaused": c["is_paused"], "upcoming": c["upcoming"]}


def _policy_out(call: Call) -> dict[str, Any]:
    cfg = call.sim.scheduler.config
    return {"overlap": cfg.overlap, "triggerOverlap": cfg.trigger_overlap, "paused": cfg.paused,
            "catchUp": cfg.catch_up, "triggerLatencySeconds": cfg.trigger_latency_seconds,
            "autoAdvance": call.sim.auto_advance, "pollAdvance": call.sim.config.poll_advance}


def get_policy(call: Call) -> dict[str, Any]:
    return _policy_out(call)


def set_policy(call: Call) -> dict[str, Any]:
    b: Policy = call.body
    changes = b.given("overlap", "trigger_overlap", "paused", "catch_up", "trigger_latency_seconds", "auto_advance",
                      "poll_advance")
    call.sim.configure(**changes)
    return _policy_out(call)


def set_behaviour(call: Call) -> dict[str, Any]:
    b: SetBehaviour = call.body
    audience = call.sim.audiences.get(call.path["audience_id"], call.who)
    try:
        models = Behaviour.models_from_dict(b.behaviour)
    except InvalidSettings as exc:
        raise ValidationFailed(exc.under("behaviour").errors) from None
    at = None if b.at is None else _not_past(call, "at", b.at, "A behaviour change cannot start in the past.")
    if b.definition_id is not None:
        call.sim.definitions.get(b.definition_id, call.who)
    # merge: the models given replace those in effect; otherwise they make a whole new behaviour.
    behaviour = None if b.merge else Behaviour(**models)
    change = call.sim.crowd.behave(audience["id"], behaviour, definition_id=b.definition_id, at=at,
                                   **(models if b.merge else {}))
    effective = call.sim.crowd.behaviour_for(audience["id"], b.definition_id, iso(at or call.sim.clock.now()))
    try:
        shown = effective.to_dict()
    except TypeError:  # the merged-into behaviour holds a callable set from Python: show what was sent
        shown = Behaviour(**models).to_dict()
    return {"change": change, "audienceId": audience["id"], "behaviour": shown}


def set_population(call: Call) -> dict[str, Any]:
    audience = call.sim.audiences.get(call.path["audience_id"], call.who)
    try:
        population = call.sim.audiences.update_population(audience["id"], call.body.population)
    except InvalidSettings as exc:
        raise ValidationFailed(exc.under("population").errors) from None
    return {"audienceId": audience["id"], "population": population.to_dict()}


def inject_fault(call: Call) -> dict[str, Any]:
    b: Fault = call.body
    if (b.audience_id is None) == (b.job_id is None):
        raise ValidationFailed.field("audienceId", "Give exactly one of 'audienceId' or 'jobId'.")
    if b.audience_id is not None:
        call.sim.audiences.get(b.audience_id, call.who)
    else:
        call.sim.jobs.get(b.job_id, call.who)
    try:
        call.sim.crowd.inject(b.state, audience_id=b.audience_id, job_id=b.job_id, message=b.message,
                              after=timedelta(seconds=b.after_seconds), at_progress=b.at_progress, jobs=b.jobs)
    except SimError as exc:
        raise ValidationFailed.field("jobId", exc.detail) from None
    return {"state": b.state, "audienceId": b.audience_id, "jobId": b.job_id}


def clear_faults(call: Call) -> Response:
    audience = call.sim.audiences.get(call.path["audience_id"], call.who)
    call.sim.crowd.clear_faults(audience["id"])
    return Response(status_code=204)


def routes(sim) -> list[Route]:
    e = lambda fn, **kw: endpoint(sim, fn, **kw)  # noqa: E731
    return [
        Route(f"{PREFIX}/clock", e(clock), methods=["GET"]),
        Route(f"{PREFIX}/clock", e(set_speed, body=ClockSpeed), methods=["PATCH"]),
        Route(f"{PREFIX}/clock/advance", e(advance, body=Advance), methods=["POST"]),
        Route(f"{PREFIX}/clock/run-until-idle", e(run_until_idle), methods=["POST"]),
        Route(f"{PREFIX}/outage", e(outage, body=Outage), methods=["POST"]),
        Route(f"{PREFIX}/events", e(events), methods=["GET"]),
        Route(f"{PREFIX}/signals/{{signal_id}}/counters", e(counters), methods=["GET"]),
        Route(f"{PREFIX}/policy", e(get_policy), methods=["GET"]),
        Route(f"{PREFIX}/policy", e(set_policy, body=Policy), methods=["PATCH"]),
        Route(f"{PREFIX}/audiences/{{audience_id}}/behaviour", e(set_behaviour, body=SetBehaviour), methods=["PUT"]),
        Route(f"{PREFIX}/audiences/{{audience_id}}/population", e(set_population, body=SetPopulation), methods=["PATCH"]),
        Route(f"{PREFIX}/audiences/{{audience_id}}/faults", e(clear_faults), methods=["DELETE"]),
        Route(f"{PREFIX}/faults", e(inject_fault, body=Fault), methods=["POST"]),
    ]
