"""Signals: an audience, a job definition and an interval; and their runs.

Visibility: a signal is seen by its owner, and by the owner's organization
when ``is_public``; never by another organization (404). Only the owner may
change it (403 for an organization member who can merely read it).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..core.clock import iso, parse_iso
from ..core.errors import Forbidden, NotFound, ValidationFailed
from ..core.rows import RunRow, SignalRow
from ..core.querying import ListSpec, Page, Query
from ..core.world import World
from .audiences import Audiences
from .base import Principal, Service
from .definitions import Definitions
from .ports import Scheduling

MIN_INTERVAL_SECONDS = 60
MAX_INTERVAL_SECONDS = 2**31 - 1

SIGNAL_LIST = ListSpec(
    filters={
        "id": ("id", "str"), "name": ("name", "str"), "owner_id": ("owner_id", "str"),
        "audience_id": ("audience_id", "str"), "job_definition_id": ("job_definition_id", "str"),
        "is_paused": ("is_paused", "bool"), "is_public": ("is_public", "bool"),
        "created_at": ("created_at", "time"), "next_run_at": ("next_run_at", "time"),
    },
    sorts={"id": "id", "name": "name", "created_at": "created_at", "next_run_at": "next_run_at",
           "last_run_at": "last_run_at"},
)
RUN_LIST = ListSpec(
    filters={"status": ("status", "str"), "trigger_source": ("trigger_source", "str"),
             "started_at": ("started_at", "time"), "completed_at": ("completed_at", "time"),
             "audience_job_id": ("audience_job_id", "str")},
    sorts={"started_at": "started_at", "completed_at": "completed_at", "status": "status"},
    default_sort="-started_at",
)


#: Who sees a signal: its owner, and its owner's organization when it is public; nobody else
#: (404). ``visible_to`` is the same rule for one row; ``Signals.visible`` lists by it.
VISIBLE = "deleted = 0 AND (owner_id = ? OR (organization_id = ? AND is_public = 1))"


def visible_to(row: dict[str, Any], who: Principal) -> bool:
    return row["owner_id"] == who.user_id or bool(row["is_public"] and row["organization_id"] == who.organization_id)


def next_on_grid(anchor: datetime, interval: timedelta, after: datetime) -> datetime:
    """The first instant ``anchor + k*interval`` (k >= 1) strictly after ``after``."""
    if anchor + interval > after:
        return anchor + interval
    steps = (after - anchor) // interval + 1
    return anchor + steps * interval


def next_point(signal: dict[str, Any], due: str) -> str:
    """The grid point after ``due``: one interval on (the scheduler moves a signal on by it)."""
    return iso(parse_iso(due) + timedelta(seconds=signal["interval_seconds"]))


def grid(signal: dict[str, Any], count: int) -> list[str]:
    """The next ``count`` grid points of a signal."""
    start = parse_iso(signal["next_run_at"])
    step = timedelta(seconds=signal["interval_seconds"])
    return [iso(start + i * step) for i in range(count)]


class Signals(Service):
    def __init__(self, world: World, *, audiences: Audiences, definitions: Definitions,
                 scheduler: Scheduling) -> None:
        super().__init__(world)
        self.audiences = audiences
        self.definitions = definitions
        self.scheduler = scheduler

    def _check_interval(self, value: int, errors: dict[str, list[str]]) -> None:
        if value < MIN_INTERVAL_SECONDS:
            errors["intervalSeconds"] = [
                f"'Interval Seconds' must be greater than or equal to '{MIN_INTERVAL_SECONDS}'."]
        elif value > MAX_INTERVAL_SECONDS:
            errors["intervalSeconds"] = [f"'Interval Seconds' must be at most {MAX_INTERVAL_SECONDS}."]

    def create(self, who: Principal, *, name: str, audience_id: str, job_definition_id: str,
               interval_seconds: int, is_public: bool = False, description: str | None = None,
               revision_number: int | None = None) -> dict[str, Any]:
        errors: dict[str, list[str]] = {}
        if not name.strip():
            errors["name"] = ["'Name' must not be empty."]
        self._check_interval(interval_seconds, errors)
        try:
            self.audiences.get(audience_id, who)
        except NotFound as exc:
            errors["audienceId"] = [exc.detail]
        try:
            definition = self.definitions.get(job_definition_id, who)
            if revision_number is not None and self.store.get(
                    "revisions", (job_definition_id, revision_number)) is None:
                errors["revisionNumber"] = [
                    f"Revision {revision_number} of job definition '{job_definition_id}' was not found."]
        except NotFound as exc:
            errors["jobDefinitionId"] = [exc.detail]
        if errors:
            raise ValidationFailed(errors)
        now = self.clock.now()
        row = self.store.insert("signals", {
            "id": self.ids.new("sig"), "name": name, "description": description, "audience_id": audience_id,
            "job_definition_id": definition["id"], "revision_number": revision_number,
            "interval_seconds": interval_seconds, "next_run_at": iso(now + timedelta(seconds=interval_seconds)),
            "last_run_at": None, "is_paused": False, "is_public": is_public, "owner_id": who.user_id,
            "owner_mail": who.email, "organization_id": who.organization_id, "created_at": iso(now),
            "pending_triggers": 0, "pending_trigger_at": None, "last_job_id": None, "buffered_at": None,
            "deleted": False,
        })
        self.record("signal.created", row["id"], interval_seconds=interval_seconds, next_run_at=row["next_run_at"])
        self.scheduler.watch_signal(row)
        return row

    def get(self, who: Principal | None, signal_id: str) -> SignalRow:
        row = self._get_live("signals", signal_id, "Signal")
        if who is not None and not visible_to(row, who):
            raise NotFound(f"Signal '{signal_id}' was not found.")
        return row

    def _get_owned(self, who: Principal, signal_id: str) -> dict[str, Any]:
        row = self.get(who, signal_id)
        if row["owner_id"] != who.user_id:
            raise Forbidden(f"Only the owner may modify signal '{signal_id}'.")
        return row

    def find(self, who: Principal, query: Query) -> Page:
        return self._page("signals", SIGNAL_LIST, query, VISIBLE, [who.user_id, who.organization_id])

    def visible(self, who: Principal, *, job_definition_id: str | None = None) -> list[SignalRow]:
        """Every signal ``who`` may see (of one job definition), oldest first: what the dashboard shows."""
        where, params = VISIBLE, [who.user_id, who.organization_id]
        if job_definition_id is not None:
            where, params = where + " AND job_definition_id = ?", params + [job_definition_id]
        return self.store.select("signals", where, params, order_by="created_at")

    def update(self, who: Principal, signal_id: str, changes: dict[str, Any]) -> None:
        """PATCH: keys absent from ``changes`` stay; ``description: None`` clears it."""
        row = self._get_owned(who, signal_id)
        errors: dict[str, list[str]] = {}
        if "name" in changes and not (changes["name"] or "").strip():
            errors["name"] = ["'Name' must not be empty."]
        if "interval_seconds" in changes:
            self._check_interval(changes["interval_seconds"], errors)
        if errors:
            raise ValidationFailed(errors)
        if "interval_seconds" in changes and changes["interval_seconds"] != row["interval_seconds"]:
            # The grid restarts from the last firing (or creation) at the new cadence.
            anchor = parse_iso(row["last_run_at"] or row["created_at"])
            changes["next_run_at"] = iso(next_on_grid(anchor, timedelta(seconds=changes["interval_seconds"]),
                                                      self.clock.now()))
        self.store.update("signals", signal_id, changes)
        self.record("signal.updated", signal_id, **changes)
        if "next_run_at" in changes:
            self.scheduler.watch_signal({**row, **changes})

    def set_paused(self, who: Principal, signal_id: str, paused: bool) -> None:
        row = self._get_owned(who, signal_id)
        if row["is_paused"] == paused:
            return
        changes: dict[str, Any] = {"is_paused": paused}
        if not paused and parse_iso(row["next_run_at"]) <= self.clock.now():
            # Firings missed while paused are not caught up: the next one is on the grid, ahead.
            changes["next_run_at"] = iso(next_on_grid(parse_iso(row["next_run_at"]),
                                                      timedelta(seconds=row["interval_seconds"]),
                                                      self.clock.now()))
        self.store.update("signals", signal_id, changes)
        self.record("signal.paused" if paused else "signal.resumed", signal_id)
        if not paused:
            self.scheduler.watch_signal({**row, **changes})

    def delete(self, who: Principal, signal_id: str) -> None:
        self._get_owned(who, signal_id)
        self.store.update("signals", signal_id, {"deleted": True, "pending_triggers": 0, "pending_trigger_at": None})
        self.record("signal.deleted", signal_id)

    def trigger(self, who: Principal, signal_id: str) -> None:
        """Queue a manual firing; the run starts a moment later (see ``Scheduler``)."""
        row = self._get_owned(who, signal_id)
        changes = {"pending_triggers": (row["pending_triggers"] or 0) + 1,
                   "pending_trigger_at": row["pending_trigger_at"] or self.now()}
        self.store.update("signals", signal_id, changes)
        self.record("signal.triggered", signal_id)
        self.scheduler.watch_signal({**row, **changes})

    def runs(self, who: Principal, signal_id: str, query: Query) -> Page:
        self.get(who, signal_id)
        self.scheduler.start_pending_triggers(signal_id)
        return self._page("signal_runs", RUN_LIST, query, "signal_id = ?", [signal_id])

    def run(self, who: Principal, run_id: str) -> RunRow:
        row = self.store.get("signal_runs", run_id)
        if row is None:
            raise NotFound(f"Signal run '{run_id}' was not found.")
        try:
            self.get(who, row["signal_id"])
        except NotFound:
            raise NotFound(f"Signal run '{run_id}' was not found.") from None
        return row

    # -- what a signal has done (the simulator's view, not the service's) --------------

    def counters(self, signal_id: str, upcoming: int = 5) -> dict[str, Any]:
        """Fired (scheduled/manual), skipped by reason, missed in outages, and the next grid points."""
        signal = self.store.get("signals", signal_id)
        if signal is None:
            raise NotFound(f"Signal '{signal_id}' was not found.")
        self.store.flush()
        rows = self.store.conn.execute(
            "SELECT status, skipped_reason, trigger_source, COUNT(*) FROM signal_runs WHERE signal_id = ? "
            "GROUP BY status, skipped_reason, trigger_source", [signal_id]).fetchall()
        fired = {"Scheduled": 0, "Manual": 0}
        skipped: dict[str, int] = {}
        for status, reason, source, n in rows:
            if status == "Skipped":
                skipped[reason] = skipped.get(reason, 0) + n
            else:
                fired[source] += n
        missed = self.store.count("events", "kind = 'signal.missed' AND subject = ?", [signal_id])
        return {"signal_id": signal_id, "fired": fired, "skipped": skipped, "missed": missed,
                "next_run_at": signal["next_run_at"], "is_paused": signal["is_paused"],
                "upcoming": [] if signal["deleted"] or signal["is_paused"] else grid(signal, upcoming)}
