"""One timer for every world of a server: a single thread, however many worlds there are.

A world whose clock follows the wall (``Engine.run_realtime``) is handed to the ticker
instead of getting a thread of its own. The ticker wakes when the earliest world's next
event falls due, syncs that world and asks it when to come back; a world with nothing
scheduled is looked at again only after ``recheck`` seconds or when ``touch`` says a
request may have scheduled something. Requests sync their world on their own, so the
ticker is only for events nobody asks about. Once a ``period`` it also runs the server's
chores (a heartbeat, closing idle worlds).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

log = logging.getLogger("rapidata_sim.ticker")


class Ticker:
    def __init__(self, chores: Callable[[], None] | None = None, *, period: float = 1.0,
                 recheck: float = 60.0) -> None:
        self.chores, self.period, self.recheck = chores, period, recheck
        self._due: dict[Any, float] = {}  # engine -> monotonic time to look at it next
        self._cond = threading.Condition()
        self._busy: Any = None
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="rapidata-sim ticker", daemon=True)

    def start(self) -> "Ticker":
        self._thread.start()
        return self

    def add(self, engine: Any) -> None:
        """Fire ``engine``'s events as its clock reaches them (looked at right away)."""
        with self._cond:
            self._due[engine] = 0.0
            self._cond.notify_all()

    def touch(self, engine: Any) -> None:
        """Something may have been scheduled in ``engine`` (a request): look again soon."""
        with self._cond:
            if engine in self._due:
                self._due[engine] = 0.0
                self._cond.notify_all()

    def discard(self, engine: Any) -> None:
        """Forget ``engine``; returns once the ticker is not working on it (it may then be closed)."""
        with self._cond:
            self._due.pop(engine, None)
            while self._busy is engine and threading.current_thread() is not self._thread:
                self._cond.wait()

    def __len__(self) -> int:
        return len(self._due)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        next_chores = time.monotonic() + self.period
        while True:
            with self._cond:
                if self._stopped:
                    return
                now = time.monotonic()
                wake = min(min(self._due.values(), default=next_chores), next_chores)
                if wake > now:
                    self._cond.wait(wake - now)
                    continue
                due = [engine for engine, at in self._due.items() if at <= now]
            for engine in due:
                self._tick(engine)
            if time.monotonic() >= next_chores:
                next_chores = time.monotonic() + self.period
                if self.chores is not None:
                    try:
                        self.chores()
                    except Exception:  # noqa: BLE001 - a chore that fails must not stop the timer
                        log.exception("ticker chores failed")

    def _tick(self, engine: Any) -> None:
        with self._cond:
            if engine not in self._due:
                return
            self._busy = engine
        wait = self.recheck
        try:
            if engine.clock.speed > 0:
                engine.sync()
                nxt = engine.next_event_at()
                if nxt is not None:
                    wait = min(self.recheck, engine.clock.wall_until(nxt))
        except Exception:  # noqa: BLE001 - one world's failure is its own (its requests will show it)
            log.exception("a world's timer tick failed")
        finally:
            with self._cond:
                self._busy = None
                if engine in self._due:
                    if engine.clock.speed > 0:
                        self._due[engine] = time.monotonic() + max(wait, 0.01)
                    else:
                        del self._due[engine]  # frozen: set_speed hands it back when it runs again
                self._cond.notify_all()
