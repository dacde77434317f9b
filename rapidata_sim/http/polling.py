"""Server-side auto-advance: a client that keeps polling an unfinished thing moves its world on.

In process, the SDK's poll sleeps advance the clock (``testing/autoadvance``). A script in
another process talking to ``rapidata-sim serve`` sleeps for real, so a job that takes hours of
virtual time would take hours. Under ``SimConfig.poll_advance == "next-event"`` the server does
it instead: when a client repeats a poll of an unfinished thing and nothing has happened in its
world since it last asked, the world is moved (``Engine.advance_until_event``) event by event
until something happens to that thing — its job completes, fails or halts, its flow item settles,
its signal fires or skips — or nothing more is scheduled. The repeated poll then answers with
the new state.

The polls are the SDK's own (3.27.1): ``GET /job/{id}`` (``get_status``, ``get_results``'s
wait), ``GET /job/{id}/progress`` (``display_progress_bar``, ``get_progress``),
``GET /flow/ranking/item/{id}`` (a flow item's ``get_status`` and ``get_results``'s wait) and
``GET /signal/{id}/run`` (``wait_for_next_job``). A job, progress or item is unfinished while its
``state`` is ``Running``; a signal's run list always is (the client waits for a new run). The
first poll never moves time, so one ``get_status()`` still sees ``Running``; ``get_results()``
asks twice before it first sleeps and so returns at once. See ``docs/behaviour.md``.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from ..engine import Engine


def _running(body: Any) -> bool:
    return isinstance(body, dict) and body.get("state") == "Running"


def _waiting(body: Any) -> bool:
    return True


#: The SDK's poll GETs: path pattern (its group is the polled subject) -> "is it unfinished?".
POLLS: list[tuple[re.Pattern[str], Callable[[Any], bool]]] = [
    (re.compile(r"/job/([^/]+)"), _running),
    (re.compile(r"/job/([^/]+)/progress"), _running),
    (re.compile(r"/flow/ranking/item/([^/]+)"), _running),
    (re.compile(r"/signal/([^/]+)/run"), _waiting),
]
#: Polls remembered per world (the oldest are forgotten first).
MEMORY = 1000
#: Most events one poll moves a world through (a job nothing will ever finish, in a world with an
#: hourly signal, stops after this many firings instead of running to the end of the calendar).
MAX_EVENTS = 1000


def poll_subject(method: str, path: str) -> tuple[str, Callable[[Any], bool]] | None:
    """The subject a request polls and its "unfinished" test, or None if it is no poll."""
    if method != "GET":
        return None
    for pattern, unfinished in POLLS:
        m = pattern.fullmatch(path)
        if m:
            return m.group(1), unfinished
    return None


class PollAdvanceMiddleware:
    """Pure ASGI, in front of the routes: applies ``SimConfig.poll_advance`` to the SDK's polls."""

    def __init__(self, app: ASGIApp, sim: "Engine") -> None:
        self.app = app
        self.sim = sim
        self._lock = threading.Lock()
        #: (token, path, query) -> (latest event seq after the answer, was the subject unfinished)
        self._last: OrderedDict[tuple[str, str, bytes], tuple[int, bool]] = OrderedDict()

    def _seq(self) -> int:
        (seq,) = self.sim.store.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()
        return seq

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        on = scope["type"] == "http" and self.sim.config.poll_advance == "next-event"
        poll = poll_subject(scope["method"], scope["path"]) if on else None
        if poll is None:
            await self.app(scope, receive, send)
            return
        subject, unfinished = poll
        headers = dict(scope.get("headers", []))
        key = (headers.get(b"authorization", b"").decode("latin-1"), scope["path"], scope.get("query_string", b""))
        with self._lock:
            last = self._last.get(key)
        if last is not None and last[1] and last[0] == self._seq():
            self.sim.advance_until_event(subject, max_steps=MAX_EVENTS)

        status, chunks = 0, []

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, capture)
        try:
            answer = json.loads(b"".join(chunks)) if status == 200 else None
        except ValueError:
            answer = None
        with self._lock:
            self._last[key] = (self._seq(), status == 200 and unfinished(answer))
            self._last.move_to_end(key)
            while len(self._last) > MEMORY:
                self._last.popitem(last=False)
