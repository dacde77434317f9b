"""Where a scenario runs: a world in this process (``LocalWorld``), or a scratch world on a
running server (``RemoteWorld``: fresh credentials, reset to the scenario's seed and start,
driven through ``/_sim``, deleted afterwards unless kept; the credentials' own world is never
touched). Both answer hooks with the same dicts (``WorldView``, ``domain.observation``).
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from ..domain import observation
from ..core.clock import FROZEN_START, Clock, iso, parse_iso
from ..crowd import Behaviour
from ..domain.observation import Counters, Job, Run
from .format import ScenarioError


@runtime_checkable
class WorldView(Protocol):
    """What a scenario's hooks read of the world it runs in (``ctx.world``)."""

    def now(self) -> datetime:
        """The world's clock."""

    def events(self, since: int = 0) -> list[dict[str, Any]]:
        """The event log after sequence number ``since``: ``seq``, ``at``, ``kind``, ``subject``, ``data``."""

    def counters(self, signal_id: str) -> Counters:
        """Fired by source, skipped by reason, missed, ``next_run_at``, ``is_paused``, ``upcoming``."""

    def runs(self, signal_id: str) -> list[Run]:
        """Every run of the signal, oldest first (skipped ones have no ``audience_job_id``)."""

    def job(self, job_id: str) -> Job:
        """The job: ``state``, ``revision_number``, ``created_at`` ..."""

    def results(self, job_id: str) -> dict[str, Any]:
        """The job's results document as of now (preliminary while it runs)."""


class World(WorldView, Protocol):
    """What the scenario runner drives: the view, plus the SDK client and the world's levers."""

    def client(self) -> Any: ...
    def configure(self, **policy: Any) -> None: ...
    def set_population(self, audience_id: str, changes: dict[str, Any]) -> None: ...
    def set_labeling_seconds(self, audience_id: str, seconds: int | None) -> None: ...
    def behave(self, audience_id: str, models: dict[str, Any]) -> None: ...
    def advance(self, delta: timedelta) -> None: ...
    def outage(self, delta: timedelta) -> None: ...
    def inject(self, audience_id: str, state: str, *, message: str | None, after: timedelta,
               at_progress: float | None, jobs: int | None) -> None: ...
    def clear_faults(self, audience_id: str) -> None: ...
    def last_event(self) -> int: ...
    def close(self) -> None: ...


class LocalWorld:
    """A fresh in-process world with the scenario's seed, on a frozen clock at ``start``."""

    def __init__(self, seed: int, start: datetime | None, *, sim: Any = None) -> None:
        from ..simulator import Simulator

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

    # -- WorldView: the whole world is this process's own (no visibility checks) --------

    def now(self) -> datetime:
        return self.sim.clock.now()

    def events(self, since: int = 0) -> list[dict[str, Any]]:
        return self.sim.events(since)

    def counters(self, signal_id: str) -> Counters:
        return observation.counters(self.sim, None, signal_id)

    def runs(self, signal_id: str) -> list[Run]:
        return observation.runs(self.sim, None, signal_id)

    def job(self, job_id: str) -> Job:
        return observation.job(self.sim, None, job_id)

    def results(self, job_id: str) -> dict[str, Any]:
        return observation.results(self.sim, None, job_id)

    def close(self) -> None:
        self.sim.close()


class RemoteWorld:
    """A scratch world on the server that ``settings`` point at, for one scenario.

    Fresh credentials (``scenario-…``) open a new world on the server (``rapidata_sim.serving.worlds``);
    it is reset to the scenario's seed and a clock frozen at its start, driven and read
    through ``/_sim`` as those credentials, and deleted by ``close`` unless ``keep``. The
    credentials in ``settings`` are not used: their world is left alone.
    """

    sim = None  # hooks read ``ctx.world``; ``ctx.sim`` is the in-process simulator only

    def __init__(self, settings: dict[str, str], seed: int, start: datetime | None, *, keep: bool = False) -> None:
        from ..serving.remote import Remote

        self.keep = keep
        self.settings = {**settings, "RAPIDATA_CLIENT_ID": f"scenario-{secrets.token_hex(8)}",
                         "RAPIDATA_CLIENT_SECRET": secrets.token_urlsafe(24)}
        self.remote = Remote(self.settings)  # the token request makes the world
        try:
            self.world_id: str = self.remote.call("GET", "/_sim/worlds")["yours"]
            try:
                # Frozen at the scenario's start, or where an in-process world's clock starts without one.
                self.remote.call("POST", f"/_sim/worlds/{self.world_id}/reset",
                                 {"seed": seed, "start": iso(start or FROZEN_START)})
                # The scenario moves time itself (and the SDK's waits, from here, as in process): the
                # server's poll_advance would also move it on the scenario's repeated reads.
                self.remote.call("PATCH", "/_sim/policy", {"pollAdvance": "off"})
            except Exception:
                self._delete()
                raise
        except Exception:
            self.remote.http.close()
            raise
        self.driver = _RemoteDriver(self.remote)

    def client(self) -> Any:
        from rapidata import RapidataClient

        from ..testing import autoadvance, offline_sdk

        # The SDK's waits move this world's clock, and its "now" is this world's, as in-process.
        autoadvance.activate(self.driver)  # type: ignore[arg-type]
        offline_sdk.forget_uploads()  # same host and port as the last world: its uploads are not this one's
        return RapidataClient(client_id=self.settings["RAPIDATA_CLIENT_ID"],
                              client_secret=self.settings["RAPIDATA_CLIENT_SECRET"],
                              environment=self.settings["RAPIDATA_ENVIRONMENT"],
                              cert_path=self.settings["SSL_CERT_FILE"])

    def configure(self, **policy: Any) -> None:
        self.remote.call("PATCH", "/_sim/policy", policy)

    def set_population(self, audience_id: str, changes: dict[str, Any]) -> None:
        self.remote.call("PATCH", f"/_sim/audiences/{audience_id}/population", {"population": changes})

    def set_labeling_seconds(self, audience_id: str, seconds: int | None) -> None:

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

    def last_event(self) -> int:
        events = self.events(0)
        return events[-1]["seq"] if events else 0

    # -- WorldView, through the /_sim read routes (http/observe.py) ------------------------

    def now(self) -> datetime:
        return self.driver.now()

    def events(self, since: int = 0) -> list[dict[str, Any]]:
        text = "".join(self.remote.events(since))
        return [json.loads(line) for line in text.splitlines()]

    def counters(self, signal_id: str) -> Counters:
        return observation.unwire(self.remote.call("GET", f"/_sim/signals/{signal_id}/counters"))  # type: ignore

    def runs(self, signal_id: str) -> list[Run]:
        page = self.remote.call("GET", f"/_sim/signals/{signal_id}/runs")
        return [observation.unwire(r) for r in page["runs"]]  # type: ignore[misc]

    def job(self, job_id: str) -> Job:
        return observation.unwire(self.remote.call("GET", f"/_sim/jobs/{job_id}"))  # type: ignore[return-value]

    def results(self, job_id: str) -> dict[str, Any]:
        return self.remote.call("GET", f"/_sim/jobs/{job_id}/results")

    # -- the end -------------------------------------------------------------------------

    def kept(self) -> dict[str, str] | None:
        """The kept world's id and credentials (``keep=True``), for the user to look at it."""
        if not self.keep:
            return None
        return {"world": self.world_id, "RAPIDATA_CLIENT_ID": self.settings["RAPIDATA_CLIENT_ID"],
                "RAPIDATA_CLIENT_SECRET": self.settings["RAPIDATA_CLIENT_SECRET"]}

    def _delete(self) -> None:
        self.remote.call("DELETE", f"/_sim/worlds/{self.world_id}")

    def close(self) -> None:
        from ..testing import autoadvance

        autoadvance.deactivate(self.driver)  # type: ignore[arg-type]
        try:
            if not self.keep:
                self._delete()
        finally:
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
