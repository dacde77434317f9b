"""Auto-advance: the SDK's blocking calls return at once, with virtual time moved for them.

``job.get_results()`` on an unfinished job, ``job.display_progress_bar()`` and
``signal.wait_for_next_job()`` poll the service and sleep between polls (5 s
of wall time by default). Under the **next-event** policy, each of those
sleeps instead advances the world's virtual clock to its next event (every
event before it processed in order) and returns at once, so the next poll
sees exactly the state the wait was for. When nothing is scheduled, the sleep
is a real one, so the SDK's own timeouts still run out.

``wait_for_next_job()`` only accepts runs that started at or after the moment
it began waiting, by the SDK's ``datetime.now()``. Once virtual time is ahead
of the wall clock, every earlier run would pass that test, so the wait would
return an old job at once; the SDK's signal module therefore reads "now" from
the world's clock too, as it would from the real service's.

The SDK's 0.5 s sleep while the asset service "downloads" URL uploads is cut
to nothing as well: the simulator completes batch uploads at once.

Only the SDK's own sleeps are touched (``rapidata.rapidata_client.*``), never
``time.sleep`` elsewhere. The policy is a world setting: ``sim.auto_advance``
is ``"next-event"`` or ``"off"``; ``with sim.auto_advance_off():`` scopes it,
so a test can observe a job still ``Running`` or a firing being skipped.
"""

from __future__ import annotations

import importlib
import threading
import time as _time
from datetime import datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..engine import Engine

POLICIES = ("next-event", "off")

#: (module, attribute) of each SDK poll-loop sleep.
POLL_SLEEPS = [
    ("rapidata.rapidata_client.job.rapidata_job", "sleep"),
    ("rapidata.rapidata_client.signal.rapidata_signal", "sleep"),
    ("rapidata.rapidata_client.job.cost", "sleep"),
    ("rapidata.rapidata_client.flow.rapidata_flow_item", "sleep"),
]
#: Modules whose ``datetime.now()`` must be the world's now (compared with run timestamps).
VIRTUAL_NOW_MODULES = ["rapidata.rapidata_client.signal.rapidata_signal"]
#: Modules whose ``time.sleep`` waits for server-side work the simulator does at once.
INSTANT_TIME_MODULES = ["rapidata.rapidata_client.datapoints._batch_asset_uploader"]

_lock = threading.Lock()
_worlds: list["Engine"] = []   # the most recently activated world is driven
_installed = False


def _poll_sleep(seconds: float) -> None:
    sim = _worlds[-1] if _worlds else None
    if sim is None or sim.auto_advance != "next-event":
        _time.sleep(seconds)
        return
    nxt = sim.next_event_at()
    if nxt is None:
        _time.sleep(seconds)
        return
    sim.advance_to(max(nxt, sim.clock.now()))


def _instant_sleep(seconds: float) -> None:
    if not (_worlds and _worlds[-1].auto_advance == "next-event"):
        _time.sleep(seconds)


class _VirtualDatetime(datetime):
    """``datetime`` whose ``now()`` is the driven world's virtual now (real now without one)."""

    @classmethod
    def now(cls, tz=None):  # type: ignore[override]
        sim = _worlds[-1] if _worlds else None
        if sim is None or sim.auto_advance != "next-event":
            return datetime.now(tz)
        now = sim.clock.now()
        return now.astimezone(tz) if tz is not None else now.astimezone().replace(tzinfo=None)


def _install() -> None:
    global _installed
    if _installed:
        return
    for module_name, attr in POLL_SLEEPS:
        module = importlib.import_module(module_name)
        setattr(module, attr, _poll_sleep)
    shim = SimpleNamespace(**{name: getattr(_time, name) for name in dir(_time) if not name.startswith("__")})
    shim.sleep = _instant_sleep
    for module_name in INSTANT_TIME_MODULES:
        importlib.import_module(module_name).time = shim
    for module_name in VIRTUAL_NOW_MODULES:
        importlib.import_module(module_name).datetime = _VirtualDatetime
    _installed = True


def activate(sim: "Engine") -> None:
    """Make ``sim`` the world whose clock the SDK's waits advance (installs the patches once)."""
    with _lock:
        _install()
        if sim in _worlds:
            _worlds.remove(sim)
        _worlds.append(sim)


def deactivate(sim: "Engine") -> None:
    with _lock:
        if sim in _worlds:
            _worlds.remove(sim)
