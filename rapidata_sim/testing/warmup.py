"""Warming the SDK before the first test needs it (the pytest plugin's session warm-up).

``WarmUp`` imports the SDK (under the quiet environment, with the generated API's
``validate_call`` deferred to each method's first call), starts the session's TLS server and
client in a daemon thread from the first test collected that uses the fixtures, and hands them
to the session fixture. A failure is logged and the fixtures do what they did before. What it
costs and saves, measured: ``docs/testing.md``.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import pkgutil
import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator

if TYPE_CHECKING:
    from ..serving.server import SharedServer
    from ..simulator import Simulator

#: Modules whose ``validate_call`` validators are built on first call when the warm-up imports
#: them: the SDK's generated OpenAPI client.
DEFERRED_PREFIX = "rapidata.api_client."
#: SDK packages whose modules the SDK imports lazily, on some first call (services, referees, ...).
LAZY_PACKAGES = ("rapidata.service", "rapidata.rapidata_client")


@contextmanager
def deferred_api_validators() -> Iterator[None]:
    """While inside, a ``validate_call`` applied to a function of a module under
    ``DEFERRED_PREFIX`` (with no config of its own) gets pydantic's ``defer_build=True``: its
    validator is built on the function's first call, by pydantic, from the namespace pydantic
    captured at decoration. Every other function, in any thread, is wrapped exactly as before.

    Hooks pydantic's (private) ``ValidateCallWrapper.__init__``; where that has another shape
    (another pydantic), nothing is deferred and the SDK imports as it always did."""
    try:
        from pydantic._internal._validate_call import ValidateCallWrapper

        original = ValidateCallWrapper.__init__
        shape = list(inspect.signature(original).parameters)[:3]
    except Exception:  # noqa: BLE001 - another pydantic: no deferral
        shape, original = [], None
    if shape != ["self", "function", "config"] or original is None:
        yield
        return

    @functools.wraps(original)
    def __init__(self: Any, function: Any, config: Any, *args: Any, **kwargs: Any) -> None:
        module = getattr(getattr(function, "func", function), "__module__", None) or ""
        if config is None and module.startswith(DEFERRED_PREFIX):
            config = {"defer_build": True}
        original(self, function, config, *args, **kwargs)

    ValidateCallWrapper.__init__ = __init__  # type: ignore[method-assign]
    try:
        yield
    finally:
        ValidateCallWrapper.__init__ = original  # type: ignore[method-assign]


@contextmanager
def quiet_environment() -> Iterator[None]:
    """``sdk.QUIET_ENV`` for the variables not already set, removed again afterwards (the SDK
    reads some of them when it is imported)."""
    from .offline_sdk import QUIET_ENV

    added = [key for key in QUIET_ENV if key not in os.environ]
    for key in added:
        os.environ[key] = QUIET_ENV[key]
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


def import_sdk() -> None:
    """Import the SDK and the modules it would import on its first calls."""
    with quiet_environment(), deferred_api_validators():
        importlib.import_module("rapidata")
        try:
            importlib.import_module("rapidata.api_client.api")
        except ImportError:  # another SDK layout: its first call imports what it needs
            pass
        for name in LAZY_PACKAGES:
            try:
                package = importlib.import_module(name)
            except ImportError:
                continue
            for info in pkgutil.walk_packages(getattr(package, "__path__", []), name + "."):
                try:
                    importlib.import_module(info.name)
                except Exception:  # noqa: BLE001 - an optional extra's module; the SDK would not import it either
                    pass


class WarmUp:
    """The session's warm-up: ``start()`` it, ``wait()`` before using the SDK, ``take_shared()``
    for the session server and client it made (or None)."""

    def __init__(self, new_world: "Callable[[], Simulator]") -> None:
        #: Makes a world as the first test's fixtures would (the plugin's, handed in: the plugin
        #: imports this module, so this one does not import it back).
        self._new_world = new_world
        self.thread: threading.Thread | None = None
        self.timings: dict[str, float] = {}   # step -> seconds
        self.error: BaseException | None = None
        self._cancel = threading.Event()
        self._shared: "SharedServer | None" = None

    def start(self) -> "WarmUp":
        self.thread = threading.Thread(target=self._run, name="rapidata-sim-warmup", daemon=True)
        self.thread.start()
        return self

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def wait(self) -> None:
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join()

    def cancel(self) -> None:
        """Stop after the current step (nothing will use what is left)."""
        self._cancel.set()

    def take_shared(self) -> "SharedServer | None":
        """The session server and client the warm-up made, handed over once (after ``wait``)."""
        self.wait()
        shared, self._shared = self._shared, None
        return shared

    def close(self) -> None:
        """At the session's end: stop a server nobody took."""
        self.cancel()
        self.wait()
        if self._shared is not None:
            self._shared.stop()
            self._shared = None

    def _step(self, name: str, fn: Callable[[], None]) -> bool:
        if self._cancel.is_set():
            return False
        t = time.perf_counter()
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - a warm-up never fails a session
            self.error = e
            return False
        finally:
            self.timings[name] = time.perf_counter() - t
        return True

    def _run(self) -> None:
        t = time.perf_counter()
        try:
            (self._step("simulator", self._import_simulator) and self._step("sdk", import_sdk)
             and self._step("session", self._start_session))
        finally:
            self.timings["total"] = time.perf_counter() - t

    @staticmethod
    def _import_simulator() -> None:
        from .. import simulator  # noqa: F401
        from ..serving import server  # noqa: F401
        from . import autoadvance  # noqa: F401

    def _start_session(self) -> None:
        """The session's server and client, and one SDK call through them, as the first test's
        fixtures would make them (with the same patches, undone afterwards)."""
        import pytest

        from ..serving.server import SharedServer
        from . import offline_sdk as sdk

        shared = SharedServer()
        world = self._new_world()
        try:
            with pytest.MonkeyPatch.context() as mp:
                sdk.quiet_env(mp.setenv)
                sdk.skip_version_check(mp.setattr)
                shared.enter(world)
                try:
                    shared.client().audience.get_audience_by_id("global")
                finally:
                    shared.leave(world)
        except BaseException:
            shared.stop()
            raise
        self._shared = shared
