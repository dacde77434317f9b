"""The code under test reads virtual time: ``datetime.now()``/``time.time()`` follow the world's clock.

User code often asks "what happened in the last 24 hours?" with
``datetime.now()``. Inside ``virtual_process_clock(sim)`` (freezegun), such
calls return the world's virtual now, and move whenever the world's clock is
advanced. The SDK, the HTTP stack, the server and the simulator itself keep
real time (``DEFAULT_IGNORE``): the SDK's token expiry and poll deadlines are
wall-clock matters, and the simulator's clock is never behind them anyway.

Not covered: threads or processes started elsewhere that read the time
(freezegun patches this process's modules only, and skips ignored callers);
``asyncio`` sleeps and event-loop time; ``time.monotonic``/``perf_counter``
in ignored modules; C extensions that read the system clock themselves.
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
