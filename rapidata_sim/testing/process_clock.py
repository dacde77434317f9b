"""The code under test reads virtual time: inside ``virtual_process_clock(sim)`` (freezegun),
``datetime.now()``/``time.time()`` follow the world's clock.

The SDK, the HTTP stack, the server and the simulator keep real time (``DEFAULT_IGNORE``).
Not covered: other threads' or processes' clocks, asyncio loop time, ``monotonic`` in ignored
modules, C extensions. See ``docs/behaviour.md``.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterable, Iterator

if TYPE_CHECKING:
    from ..engine import Engine

#: Module prefixes that keep real time inside the context. freezegun decides by looking at a few
#: frames above each call, so test frameworks must not be listed: they call the code under test.
DEFAULT_IGNORE = (
    "rapidata", "rapidata_sim", "httpx", "httpx2", "httpcore", "httpcore2", "h11", "authlib", "requests", "urllib3",
    "uvicorn", "starlette", "anyio", "asyncio", "sqlite_utils", "sqlite3", "concurrent", "threading", "ssl",
    "tqdm", "opentelemetry", "diskcache",
)


@contextmanager
def virtual_process_clock(sim: "Engine", *, ignore: Iterable[str] = DEFAULT_IGNORE) -> Iterator[object]:
    """Within the block, the code under test sees ``sim.clock`` as the process clock."""
    import freezegun

    with freezegun.freeze_time(sim.clock.now(), ignore=list(ignore), tick=sim.clock.speed > 0) as frozen:
        def follow(now) -> None:
            frozen.move_to(now)

        sim.clock.on_move(follow)
        try:
            yield frozen
        finally:
            sim.clock.remove_listener(follow)
