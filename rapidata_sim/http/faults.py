"""HTTP fault injection: seeded, per-world errors and latency in front of the service's routes.

A world's *HTTP fault rules* make some requests fail the way a real deployment
sometimes does — ``429 Too Many Requests`` with ``Retry-After``, ``503``,
``500``, any 4xx/5xx — or answer late, so code built on the SDK can be tested
against a flaky service. The SDK itself absorbs some of it: it retries 429,
502, 503 and 504 (three retries, honouring ``Retry-After``) and raises
``RapidataError`` for the rest.

A rule says *which* requests (``method``, an ``fnmatch`` pattern on ``path``),
*how often* (``probability``; ``count`` stops it after that many hits) and
*what* (``status``, ``retry_after_seconds``, ``latency_ms``). For each request
every live rule that matches draws from its own generator, seeded from the
world's seed and the rule's id (``random.Random(f"{seed}/http-faults/{id}")``),
so the same seed, rules and request sequence give the same faults, and adding
a rule does not change another rule's draws. All rules that fire apply: their
latencies add up (capped at ``MAX_LATENCY_MS`` in all), and the first of them
that has a status answers with it — the real handler never runs, so nothing
it would write happens. A rule without a status only delays the request.

Every request a rule fires on is recorded in the world's event log as
``http.fault`` (method, status, latency, rules, trace id) in a transaction of
its own, before the response is sent. The trace id of an injected error comes
from a seeded generator too, so event logs stay reproducible.

Never faulted: the simulator's own ``/_sim`` surface; ``/connect/token``
unless a rule's path is exactly ``/connect/token`` (a failed token fetch is not
retried by the SDK; fault it only on purpose); and requests the world does not
authenticate: they get their 401 as usual, write no ``http.fault`` event and
draw from no rule's generator, so a stranger's requests cannot change what an
authenticated client's seeded sequence of faults is.

Python: ``http_faults(sim).add(503, probability=0.3, path="/signal/*")``,
``.rules()``, ``.clear()``. HTTP: ``POST/GET/DELETE /_sim/faults/http``.
Rules live in memory with the world (they are not stored in its database).
"""

from __future__ import annotations

import asyncio
import random
import threading
import weakref
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Optional

from pydantic import ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ..core.errors import SimError, ValidationFailed
from .app_pages import cookie_token
from .inputs import Body
from .problems import problem
from .routing import Call, endpoint

if TYPE_CHECKING:
    from ..engine import Engine

#: The most latency one request gets, whatever the rules say (milliseconds).
MAX_LATENCY_MS = 10_000
#: Largest ``Retry-After`` a rule may send (the SDK caps what it honours at 60 s).
MAX_RETRY_AFTER_SECONDS = 3600
#: ``Retry-After`` of a 429 whose rule does not say.
DEFAULT_RETRY_AFTER_SECONDS = 1
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
CONTROL_PREFIX = "/_sim"
TOKEN_PATH = "/connect/token"

_TYPES = {
    429: "https://tools.ietf.org/html/rfc6585#section-4",
    500: "https://tools.ietf.org/html/rfc9110#section-15.6.1",
    502: "https://tools.ietf.org/html/rfc9110#section-15.6.3",
    503: "https://tools.ietf.org/html/rfc9110#section-15.6.4",
    504: "https://tools.ietf.org/html/rfc9110#section-15.6.5",
}


@dataclass
class HttpFaultRule:
    """One rule. ``injected`` counts the requests it fired on."""

    id: str
    status: int | None
    probability: float
    path: str | None
    method: str | None
    retry_after_seconds: int | None
    latency_ms: int
    count: int | None
    injected: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    @property
    def remaining(self) -> int | None:
        return None if self.count is None else max(0, self.count - self.injected)

    @property
    def live(self) -> bool:
        return self.count is None or self.injected < self.count

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        if path == TOKEN_PATH:
            return self.path == TOKEN_PATH  # only when named exactly
        return self.path is None or fnmatchcase(path, self.path)

    def to_dict(self) -> dict[str, Any]:
        """As the control API shows it (camelCase)."""
        return {"id": self.id, "status": self.status, "probability": self.probability, "path": self.path,
                "method": self.method, "retryAfterSeconds": self.retry_after_seconds, "latencyMs": self.latency_ms,
                "count": self.count, "injected": self.injected, "remaining": self.remaining}


@dataclass(frozen=True)
class Decision:
    """What the rules that fired on one request do to it."""

    status: int | None
    latency_ms: int
    retry_after_seconds: int | None
    rules: tuple[str, ...]
    trace_id: str | None

    def response(self) -> Response:
        assert self.status is not None and self.trace_id is not None
        try:
            title = HTTPStatus(self.status).phrase
        except ValueError:
            title = "Error"
        headers = {} if self.retry_after_seconds is None else {"Retry-After": str(self.retry_after_seconds)}
        extra = {"type": _TYPES[self.status]} if self.status in _TYPES else None
        return problem(self.status, title, f"Injected by rapidata-sim (HTTP fault rule {self.rules[0]}).",
                       trace_id=self.trace_id, headers=headers, extra=extra)


def _authenticated(sim: "Engine", scope: Scope) -> bool:
    """Whether a request may be faulted: one the world would authenticate (a valid bearer token, or
    the dashboard's cookie on a page), or a token request (its credentials are its authentication,
    and a rule applies to it only when it names ``/connect/token`` exactly). Anything else is
    answered as usual (401) and uses up no rule's draw."""
    if scope["path"] == TOKEN_PATH:
        return True
    token = ""
    for name, value in scope.get("headers", []):
        if name.lower() == b"authorization":
            auth = value.decode("latin-1")
            token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
            break
    token = token or cookie_token(scope)
    if not token:
        return False
    try:
        sim.identity.authenticate(token)
    except SimError:
        return False
    return True


def _decide(faults: HttpFaults, sim: "Engine", scope: Scope) -> Decision | None:
    return faults.decide(scope["method"], scope["path"]) if _authenticated(sim, scope) else None


def _is_control(path: str) -> bool:
    return path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/")


class HttpFaults:
    """The HTTP fault rules of one world (get it with ``http_faults(sim)``)."""

    def __init__(self, sim: "Engine") -> None:
        self._sim = weakref.ref(sim)
        self._seed = sim.seed
        self._rules: list[HttpFaultRule] = []
        self._next = 1
        self._lock = threading.Lock()
        self._trace_rng = random.Random(f"{sim.seed}/http-faults/trace-ids")

    @property
    def sim(self) -> "Engine":
        sim = self._sim()
        if sim is None:
            raise RuntimeError("the world of these HTTP fault rules is gone")
        return sim

    def add(self, status: int | None = None, *, probability: float = 1.0, path: str | None = None,
            method: str | None = None, retry_after_seconds: int | None = None, latency_ms: int = 0,
            count: int | None = None) -> HttpFaultRule:
        """Add a rule; ``ValidationFailed`` (400 over HTTP) names the offending argument."""
        def bad(name: str, message: str) -> ValidationFailed:
            return ValidationFailed.field(name, message)

        if status is not None and (isinstance(status, bool) or not isinstance(status, int)
                                   or not 400 <= status <= 599):
            raise bad("status", "An injected status must be an error status, 400 to 599.")
        if isinstance(probability, bool) or not isinstance(probability, (int, float)) or not 0 <= probability <= 1:
            raise bad("probability", "'probability' must be a number from 0 to 1.")
        if isinstance(latency_ms, bool) or not isinstance(latency_ms, int) or not 0 <= latency_ms <= MAX_LATENCY_MS:
            raise bad("latencyMs", f"'latencyMs' must be an integer from 0 to {MAX_LATENCY_MS}.")
        if status is None and latency_ms == 0:
            raise bad("status", "Give a 'status', a 'latencyMs', or both: this rule would do nothing.")
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
            raise bad("count", "'count' must be a positive integer (or null: no limit).")
        if method is not None:
            if not isinstance(method, str) or method.upper() not in METHODS:
                raise bad("method", f"'method' must be one of {', '.join(METHODS)} (or null: any).")
            method = method.upper()
        if path is not None:
            if not isinstance(path, str) or not path.startswith(("/", "*")):
                raise bad("path", "'path' is a pattern on the request path (fnmatch), starting with '/' or '*'.")
            if _is_control(path):
                raise bad("path", "Faults are never injected on the simulator's control surface (/_sim).")
        if retry_after_seconds is not None:
            if status not in (429, 503):
                raise bad("retryAfterSeconds", "'retryAfterSeconds' goes with status 429 or 503.")
            if (isinstance(retry_after_seconds, bool) or not isinstance(retry_after_seconds, int)
                    or not 0 <= retry_after_seconds <= MAX_RETRY_AFTER_SECONDS):
                raise bad("retryAfterSeconds",
                          f"'retryAfterSeconds' must be an integer from 0 to {MAX_RETRY_AFTER_SECONDS}.")
        elif status == 429:
            retry_after_seconds = DEFAULT_RETRY_AFTER_SECONDS
        with self._lock:
            rule_id = f"hf_{self._next}"
            self._next += 1
            rule = HttpFaultRule(rule_id, status, float(probability), path, method, retry_after_seconds, latency_ms,
                                 count, _rng=random.Random(f"{self._seed}/http-faults/{rule_id}"))
            self._rules.append(rule)
        sim = self.sim
        with sim.store.transaction():
            sim.world.log.record("http.fault_rule", rule_id, **{k: v for k, v in rule.to_dict().items()
                                                                 if k not in ("id", "injected", "remaining")})
        return rule

    def rules(self) -> list[HttpFaultRule]:
        """The rules, in the order they were added (exhausted ones included)."""
        with self._lock:
            return list(self._rules)

    def clear(self) -> int:
        """Remove every rule; returns how many there were."""
        with self._lock:
            n, self._rules = len(self._rules), []
        if n:
            sim = self.sim
            with sim.store.transaction():
                sim.world.log.record("http.faults_cleared", "http", rules=n)
        return n

    def decide(self, method: str, path: str) -> Decision | None:
        """Roll the dice for one request; records ``http.fault`` when a rule fires."""
        if _is_control(path) or not self._rules:
            return None
        with self._lock:
            fired = [rule for rule in self._rules
                     if rule.live and rule.matches(method, path) and rule._rng.random() < rule.probability]
            if not fired:
                return None
            for rule in fired:
                rule.injected += 1
            failing = next((rule for rule in fired if rule.status is not None), None)
            latency = min(MAX_LATENCY_MS, sum(rule.latency_ms for rule in fired))
            trace_id = None if failing is None else "%032x" % self._trace_rng.getrandbits(128)
        ordered = ((failing,) if failing else ()) + tuple(r for r in fired if r is not failing)
        decision = Decision(failing.status if failing else None, latency,
                            failing.retry_after_seconds if failing else None, tuple(r.id for r in ordered), trace_id)
        sim = self.sim
        with sim.store.transaction():  # its own: no handler runs, nothing else to commit or roll back
            sim.scheduler.sync()  # as every request does: the world catches up before the event is logged
            sim.world.log.record("http.fault", path, method=method, status=decision.status, latencyMs=latency,
                                 rules=list(decision.rules), traceId=trace_id)
        return decision


_worlds: "weakref.WeakKeyDictionary[Engine, HttpFaults]" = weakref.WeakKeyDictionary()
_worlds_lock = threading.Lock()


def http_faults(sim: "Engine") -> HttpFaults:
    """The HTTP fault rules of ``sim`` (created empty on first use)."""
    with _worlds_lock:
        faults = _worlds.get(sim)
        if faults is None:
            faults = _worlds[sim] = HttpFaults(sim)
        return faults


def _active(sim: "Engine") -> HttpFaults | None:
    return _worlds.get(sim)


class HttpFaultMiddleware:
    """Pure ASGI, in front of every route: applies the world's rules to each request."""

    def __init__(self, app: ASGIApp, sim: "Engine") -> None:
        self.app = app
        self.sim = sim

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        faults = _active(self.sim) if scope["type"] == "http" else None
        decision = None
        if faults is not None and faults._rules:  # off the event loop: it reads and writes the world's store
            decision = await run_in_threadpool(_decide, faults, self.sim, scope)
        if decision is None:
            await self.app(scope, receive, send)
            return
        if decision.latency_ms:
            await asyncio.sleep(decision.latency_ms / 1000)
        if decision.status is None:
            await self.app(scope, receive, send)
            return
        # Read the request body before answering, as a server that received it would: a client
        # still writing a large upload must not see the connection reset under it.
        more = True
        while more:
            message = await receive()
            more = message["type"] == "http.request" and message.get("more_body", False)
        await decision.response()(scope, receive, send)


# -- the control API (a thin skin over HttpFaults) ---------------------------------------------


class AddHttpFault(Body):
    # Unknown keys are refused here: a misspelt "probabilty" must not become a 100 % rule.
    model_config = ConfigDict(extra="forbid")

    status: Optional[int] = None
    probability: float = Field(default=1.0, ge=0, le=1)
    path: Optional[str] = None
    method: Optional[str] = None
    retry_after_seconds: Optional[int] = None
    latency_ms: int = Field(default=0, ge=0, le=MAX_LATENCY_MS)
    count: Optional[int] = Field(default=None, ge=1)


def _add(call: Call) -> dict[str, Any]:
    b: AddHttpFault = call.body
    rule = http_faults(call.sim).add(b.status, probability=b.probability, path=b.path, method=b.method,
                                     retry_after_seconds=b.retry_after_seconds, latency_ms=b.latency_ms,
                                     count=b.count)
    return rule.to_dict()


def _list(call: Call) -> dict[str, Any]:
    return {"rules": [rule.to_dict() for rule in http_faults(call.sim).rules()]}


def _clear(call: Call) -> Response:
    http_faults(call.sim).clear()
    return Response(status_code=204)


def routes(sim: "Engine") -> list[Route]:
    path = f"{CONTROL_PREFIX}/faults/http"
    return [
        Route(path, endpoint(sim, _add, body=AddHttpFault), methods=["POST"]),
        Route(path, endpoint(sim, _list), methods=["GET"]),
        Route(path, endpoint(sim, _clear), methods=["DELETE"]),
    ]


__all__ = ["HttpFaults", "HttpFaultRule", "Decision", "HttpFaultMiddleware", "http_faults", "routes",
           "MAX_LATENCY_MS"]
