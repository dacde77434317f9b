"""``Simulator``: one simulated Rapidata world, usable from Python without HTTP.

The world itself, and the wiring of its parts, is ``engine.Engine``; ``Simulator`` adds the
doors to the upper layers: the HTTPS server, the SDK client, the HTTP faults and the process
clock. Those layers take an ``Engine``, so they never import this module back.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .core.clock import parse_iso
from .engine import Engine, SimConfig, fixtures_dir

if TYPE_CHECKING:
    from rapidata import RapidataClient

    from .http.faults import HttpFaults

    from .serving.server import Server


class Simulator(Engine):
    """A world: its store, clock, seed, and the services that act on them.

    >>> sim = Simulator(seed=7)
    >>> sim.clock.now()  # doctest: +SKIP
    """

    @property
    def http_faults(self) -> "HttpFaults":
        """This world's HTTP fault rules (``rapidata_sim.http.faults``)."""
        from .http.faults import http_faults

        return http_faults(self)

    # -- connecting the SDK -------------------------------------------------------

    def serve(self, *, host: str = "127.0.0.1", port: int = 0, data_dir: str | Path | None = None,
              record: bool = False) -> "Server":
        """Start the HTTPS server for this world on a thread (idempotent); returns it.

        ``record=True`` keeps a request log (``server.exchanges``).
        """
        from .serving.server import serve

        return serve(self, host=host, port=port, data_dir=data_dir, record=record)

    def env(self) -> dict[str, str]:
        """Environment variables that make a plain ``RapidataClient()`` talk to this world."""
        return self.serve().env()

    def client(self, **kwargs: Any) -> "RapidataClient":
        """A real ``RapidataClient`` connected to this world (starts the server if needed).

        Also makes this world the one whose clock the SDK's waits advance (``autoadvance``).
        """
        from .testing import autoadvance

        autoadvance.activate(self)
        return self.serve().client(**kwargs)

    def drive_sdk_waits(self) -> None:
        """Let the SDK's poll loops advance this world's clock (for code that builds its own
        ``RapidataClient()`` from ``env()``); ``client()`` does this by itself."""
        from .testing import autoadvance

        autoadvance.activate(self)

    def virtual_process_clock(self, **kwargs: Any):
        """Context manager: ``datetime.now()`` in the code under test reads this world's clock
        (freezegun; see ``process_clock`` for what it does not cover)."""
        from .testing.process_clock import virtual_process_clock

        return virtual_process_clock(self, **kwargs)

    def close(self) -> None:
        from .testing import autoadvance

        autoadvance.deactivate(self)
        super().close()


__all__ = ["Simulator", "SimConfig", "fixtures_dir", "parse_iso"]
