"""Auto-advance: the SDK's blocking calls return at once, with virtual time moved for them.

Under the ``next-event`` policy, the SDK's poll sleeps (``get_results()``,
``display_progress_bar()``, ``wait_for_next_job()``) advance the world's clock to its next
event instead; with nothing scheduled they really sleep, so SDK timeouts still run out. The
SDK's signal module reads "now" from the world's clock (its timestamp rule), and only the SDK's
own sleeps are touched. ``sim.auto_advance_off()`` scopes it off. See ``docs/behaviour.md``.
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
