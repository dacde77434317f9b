"""Where a scenario runs: a world in this process, or the caller's world on a running server.

``rapidata_sim.scenario`` plays timelines and checks expectations through this small
interface, so the same file runs in-process (``LocalWorld``: a fresh ``Simulator``) and
against a server (``RemoteWorld``: the credentials' world, reset to the scenario's seed
and start, driven through ``/_sim``). The SDK client is real in both.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from .clock import Clock, iso, parse_iso
from .crowd import Behaviour


class LocalWorld:
    """A fresh in-process world with the scenario's seed, on a frozen clock at ``start``."""

    def __init__(self, seed: int, start: datetime | None, *, sim: Any = None) -> None:
        from .simulator import Simulator

        self.sim = sim if sim is not None else Simulator(seed=seed, clock=Clock.frozen(start))

    @classmethod
    def of(cls, sim: Any) -> "LocalWorld":
        """An existing world (the Hypothesis machine's)."""
        return cls(sim.seed, None, sim=sim)

    def client(self) -> Any:
        return self.sim.client()

    def configure(self, **policy: Any) -> None:
        self.sim.configure(**policy)

    def set_population(self, audience_id: str, changes: dict[str, Any]) -> None:
        self.sim.audiences.update_population(audience_id, changes)

    def set_labeling_seconds(self, audience_id: str, seconds: int | None) -> None:
        self.sim.audiences.configure(audience_id, labeling_seconds=seconds)

    def behave(self, audience_id: str, models: dict[str, Any]) -> None:
        """The named models (plain dicts) replace the ones in effect; the others stay."""
        self.sim.crowd.behave(audience_id, **Behaviour.models_from_dict(models))

    def advance(self, delta: timedelta) -> None:
        self.sim.advance(delta)

    def outage(self, delta: timedelta) -> None:
        self.sim.outage(delta)

    def inject(self, audience_id: str, state: str, *, message: str | None, after: timedelta,
               at_progress: float | None, jobs: int | None) -> None:
        self.sim.crowd.inject(state, audience_id=audience_id, message=message, after=after,
                              at_progress=at_progress, jobs=jobs)

    def clear_faults(self, audience_id: str) -> None:
        self.sim.crowd.clear_faults(audience_id)

    def last_event(self) -> int:
        return self.sim.store.last_seq()

    def events(self, since: int) -> list[dict[str, Any]]:
        return self.sim.events(since)

    def counters(self, signal_id: str) -> dict[str, Any]:
        return self.sim.counters(signal_id)

    def runs(self, signal_id: str) -> list[dict[str, Any]]:
        """The signal's runs in start order: ``status``, ``job`` (or None)."""
        rows = self.sim.store.select("signal_runs", "signal_id = ?", [signal_id], order_by="started_at, rowid")
        return [{"status": r["status"], "job": r["audience_job_id"]} for r in rows]

    def job_state(self, job_id: str) -> str:
        return self.sim.store.get("jobs", job_id)["state"]

    def results(self, job_id: str) -> dict[str, Any]:
        """The job's results as of now (preliminary while it runs)."""
        return self.sim.results.current(self.sim.store.get("jobs", job_id))

    def close(self) -> None:
        self.sim.close()


class RemoteWorld:
    """The world of ``settings``' credentials on a running server, reset for the scenario."""

    sim = None  # hooks that read the store directly need a local world

    def __init__(self, settings: dict[str, str], seed: int, start: datetime | None) -> None:
        from .remote import Remote

        self.settings = settings
        self.remote = Remote(settings)
        yours = self.remote.call("GET", "/_sim/worlds")["yours"]
        body: dict[str, Any] = {"seed": seed}
        if start is not None:
            body["start"] = iso(start)
        self.remote.call("POST", f"/_sim/worlds/{yours}/reset", body)
        self.driver = _RemoteDriver(self.remote)

    def client(self) -> Any:
        from rapidata import RapidataClient

        from . import autoadvance

        # The SDK's waits move the server world's clock, and its "now" is that world's, as in-process.
        autoadvance.activate(self.driver)  # type: ignore[arg-type]
        return RapidataClient(client_id=self.settings["RAPIDATA_CLIENT_ID"],
                              client_secret=self.settings["RAPIDATA_CLIENT_SECRET"],
                              environment=self.settings["RAPIDATA_ENVIRONMENT"],
                              cert_path=self.settings["SSL_CERT_FILE"])

    def configure(self, **policy: Any) -> None:
        self.remote.call("PATCH", "/_sim/policy", policy)

    def set_population(self, audience_id: str, changes: dict[str, Any]) -> None:
        self.remote.call("PATCH", f"/_sim/audiences/{audience_id}/population", {"population": changes})

    def set_labeling_seconds(self, audience_id: str, seconds: int | None) -> None:
        from .scenario import ScenarioError

        raise ScenarioError("labeling_seconds cannot be set on a running server (use a population)")

    def behave(self, audience_id: str, models: dict[str, Any]) -> None:
        self.remote.call("PUT", f"/_sim/audiences/{audience_id}/behaviour", {"behaviour": models, "merge": True})

    def advance(self, delta: timedelta) -> None:
        self.remote.call("POST", "/_sim/clock/advance", {"seconds": delta.total_seconds()})

    def outage(self, delta: timedelta) -> None:
        self.remote.call("POST", "/_sim/outage", {"seconds": delta.total_seconds()})

    def inject(self, audience_id: str, state: str, *, message: str | None, after: timedelta,
               at_progress: float | None, jobs: int | None) -> None:
        body = {"state": state, "audienceId": audience_id, "message": message, "afterSeconds": after.total_seconds(),
                "atProgress": at_progress, "jobs": jobs}
        self.remote.call("POST", "/_sim/faults", {k: v for k, v in body.items() if v is not None})

    def clear_faults(self, audience_id: str) -> None:
        self.remote.call("DELETE", f"/_sim/audiences/{audience_id}/faults")

    def events(self, since: int) -> list[dict[str, Any]]:
        text = self.remote.call("GET", f"/_sim/events?since={since}") or ""
        return [json.loads(line) for line in text.splitlines()]

    def last_event(self) -> int:
        events = self.events(0)
        return events[-1]["seq"] if events else 0

    def counters(self, signal_id: str) -> dict[str, Any]:
        return self.remote.call("GET", f"/_sim/signals/{signal_id}/counters")

    def runs(self, signal_id: str) -> list[dict[str, Any]]:
        page = self.remote.call("GET", f"/signal/{signal_id}/run?page_size=1000")
        items = sorted(page["items"], key=lambda r: r["startedAt"])
        return [{"status": r["status"], "job": r.get("audienceJobId")} for r in items]

    def job_state(self, job_id: str) -> str:
        return self.remote.call("GET", f"/job/{job_id}")["state"]

    def results(self, job_id: str) -> dict[str, Any]:
        job = self.remote.call("GET", f"/job/{job_id}")
        if job["state"] in ("Completed", "Failed"):
            return json.loads(self.remote.http.get(f"/job/{job_id}/download-results").content)
        download = self.remote.call("POST", f"/pipeline/{job['pipelineId']}/preliminary-download", {"sendEmail": False})
        return self.remote.call("GET", f"/pipeline/preliminary-download/{download['downloadId']}")

    def close(self) -> None:
        from . import autoadvance

        autoadvance.deactivate(self.driver)  # type: ignore[arg-type]
        self.remote.http.close()


class _RemoteDriver:
    """What ``autoadvance`` needs of a world (its clock, next event, advance_to), over ``/_sim``."""

    auto_advance = "next-event"

    def __init__(self, remote: Any) -> None:
        self.remote = remote
        self.clock = self

    def now(self) -> datetime:
        return parse_iso(self.remote.call("GET", "/_sim/clock")["now"])

    def next_event_at(self) -> datetime | None:
        at = self.remote.call("GET", "/_sim/clock")["nextEventAt"]
        return parse_iso(at) if at else None

    def advance_to(self, instant: datetime) -> datetime:
        return parse_iso(self.remote.call("POST", "/_sim/clock/advance", {"to": iso(instant)})["now"])
