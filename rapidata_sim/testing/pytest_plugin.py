"""The pytest plugin (entry point ``pytest11``): a simulated Rapidata world per test.

Fixtures ``rapidata_sim`` (a fresh ``Simulator`` per test, the environment patched so user
code's ``RapidataClient()`` reaches it) and ``rapidata_client``. One TLS server and client
serve the session; each test swaps a new world in behind them. Settings: the
``rapidata_sim`` marker, then command line, then ini; ``warmup`` readies the SDK early.
Scenario files in ``scenarios/`` are collected as tests. See ``docs/testing.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterator

import pytest

if TYPE_CHECKING:
    from rapidata import RapidataClient

    from ..serving.server import SharedServer
    from ..simulator import Simulator
    from .warmup import WarmUp  # noqa: F401 (named in a string: the stash key's type)

SETTINGS = {
    "seed": ("--rapidata-sim-seed", "Seed of each test's simulated world (default 0)."),
    "clock": ("--rapidata-sim-clock", "frozen (default: moves only when advanced) or wall."),
    "start": ("--rapidata-sim-start", "Start instant of a frozen clock, ISO 8601 with offset."),
    "auto_advance": ("--rapidata-sim-auto-advance",
                     "next-event (default: the SDK's waits advance virtual time) or off."),
}


@dataclass(frozen=True)
class WorldSettings:
    seed: int = 0
    clock: str = "frozen"
    start: str | None = None
    auto_advance: str = "next-event"

    def describe(self) -> str:
        start = f" --rapidata-sim-start={self.start}" if self.start else ""
        return (f"seed={self.seed} clock={self.clock} start={self.start or 'default'} "
                f"auto_advance={self.auto_advance}\nreplay with: --rapidata-sim-seed={self.seed} "
                f"--rapidata-sim-clock={self.clock}{start}")


WARMUP_HELP = ("on (default): warm the SDK and the session's server and client in a background thread "
               "from session start; off: the first test using them pays for it.")
#: The session's warm-up (``rapidata_sim.testing.warmup.WarmUp``), once started.
WARMUP_KEY = pytest.StashKey["WarmUp"]()
WARMUP_WANTED_KEY = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rapidata-sim", "simulated Rapidata worlds (rapidata-sim)")
    for name, (flag, help_text) in SETTINGS.items():
        group.addoption(flag, dest=f"rapidata_sim_{name}", default=None, help=help_text)
        parser.addini(f"rapidata_sim_{name}", help_text, default=None)
    group.addoption("--rapidata-sim-warmup", dest="rapidata_sim_warmup", default=None, help=WARMUP_HELP)
    parser.addini("rapidata_sim_warmup", WARMUP_HELP, default=None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "rapidata_sim(seed=None, clock=None, start=None, auto_advance=None): settings of this "
                   "test's simulated Rapidata world")


# -- the session's warm-up -----------------------------------------------------------------


def warmup_wanted(config: pytest.Config) -> bool:
    value = config.getoption("rapidata_sim_warmup") or config.getini("rapidata_sim_warmup") or "on"
    if value not in ("on", "off"):
        raise pytest.UsageError(f"rapidata_sim warmup must be 'on' or 'off', not {value!r}")
    if value == "off" or config.getoption("collectonly", False):
        return False
    # An xdist controller runs no test: its workers (each a session of its own) warm up.
    return not (getattr(config.option, "dist", "no") != "no" and not hasattr(config, "workerinput"))


def uses_sdk(item: pytest.Item) -> bool:
    return isinstance(item, ScenarioItem) or "_rapidata_sim_session" in getattr(item, "fixturenames", ())


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[WARMUP_WANTED_KEY] = warmup_wanted(session.config)


def pytest_itemcollected(item: pytest.Item) -> None:
    # The warm-up starts as collection meets the first test that uses the plugin: a session
    # with none (most runs of a project that merely has rapidata-sim installed) pays nothing.
    config = item.config
    if config.stash.get(WARMUP_WANTED_KEY, False) and WARMUP_KEY not in config.stash and uses_sdk(item):
        from .warmup import WarmUp

        config.stash[WARMUP_KEY] = WarmUp(lambda: new_world(WorldSettings())).start()


def pytest_collection_finish(session: pytest.Session) -> None:
    warm = session.config.stash.get(WARMUP_KEY, None)
    if warm is not None and not any(uses_sdk(item) for item in session.items):
        warm.cancel()  # its tests were deselected: stop after the current step


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # No test runs while the warm-up may be importing SDK modules (no import races), and the
    # session fixture takes over the server and client it made.
    warm = item.config.stash.get(WARMUP_KEY, None)
    if warm is not None and warm.running:
        warm.wait()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    warm = session.config.stash.get(WARMUP_KEY, None)
    if warm is not None:
        warm.close()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    warm = config.stash.get(WARMUP_KEY, None)
    if warm is not None and warm.error is not None:
        terminalreporter.write_line(f"rapidata-sim: the SDK warm-up stopped early ({type(warm.error).__name__}: "
                                    f"{warm.error}); the first test paid for what it left", yellow=True)


def settings_for(item: pytest.Item) -> WorldSettings:
    values: dict[str, Any] = {}
    for name in SETTINGS:
        value = item.config.getoption(f"rapidata_sim_{name}") or item.config.getini(f"rapidata_sim_{name}")
        if value not in (None, ""):
            values[name] = value
    for marker in reversed(list(item.iter_markers("rapidata_sim"))):
        values.update({k: v for k, v in marker.kwargs.items() if v is not None})
    unknown = set(values) - set(SETTINGS)
    if unknown:
        raise pytest.UsageError(f"unknown rapidata_sim settings: {sorted(unknown)}")
    try:
        values["seed"] = int(values.get("seed", 0))
    except ValueError:
        raise pytest.UsageError(f"rapidata_sim seed must be an integer, not {values['seed']!r}") from None
    settings = WorldSettings(**values)
    if settings.clock not in ("frozen", "wall"):
        raise pytest.UsageError(f"rapidata_sim clock must be 'frozen' or 'wall', not {settings.clock!r}")
    if settings.auto_advance not in ("next-event", "off"):
        raise pytest.UsageError("rapidata_sim auto_advance must be 'next-event' or 'off'")
    if settings.start is not None and settings.clock != "frozen":
        raise pytest.UsageError("rapidata_sim start applies to a frozen clock only")
    return settings


def new_world(settings: WorldSettings) -> "Simulator":
    from ..core.clock import Clock
    from ..simulator import Simulator

    if settings.clock == "frozen":
        start = datetime.fromisoformat(settings.start.replace("Z", "+00:00")) if settings.start else None
        clock = Clock.frozen(start)
    else:
        clock = Clock()
    sim = Simulator(seed=settings.seed, clock=clock)
    sim.auto_advance = settings.auto_advance
    return sim


@pytest.fixture(scope="session")
def _rapidata_sim_session(request: pytest.FixtureRequest) -> Iterator["SharedServer"]:
    """The session's server and client (per xdist worker: per process): the warm-up's, or made
    on first use."""
    from ..serving.server import SharedServer

    warm = request.config.stash.get(WARMUP_KEY, None)
    shared = (warm.take_shared() if warm is not None else None) or SharedServer()
    yield shared
    shared.stop()


@pytest.fixture
def rapidata_sim(request: pytest.FixtureRequest, _rapidata_sim_session: "SharedServer",
                 monkeypatch: pytest.MonkeyPatch) -> Iterator["Simulator"]:
    """A fresh simulated Rapidata world for this test, served on 127.0.0.1."""
    from . import offline_sdk

    settings = settings_for(request.node)
    request.node._rapidata_sim_settings = settings
    offline_sdk.quiet_env(monkeypatch.setenv)
    offline_sdk.skip_version_check(monkeypatch.setattr)
    sim = new_world(settings)
    server = _rapidata_sim_session.enter(sim)
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    try:
        yield sim
    finally:
        _rapidata_sim_session.leave(sim)


@pytest.fixture
def rapidata_client(rapidata_sim: "Simulator", _rapidata_sim_session: "SharedServer") -> "RapidataClient":
    """A real ``RapidataClient`` connected to this test's world (one per session, reused)."""
    return _rapidata_sim_session.client()


# -- scenario files ---------------------------------------------------------------------


def pytest_collect_file(file_path, parent):  # type: ignore[no-untyped-def]
    """Every ``*.toml`` in a ``scenarios/`` directory is a test (see ``docs/scenarios.md``)."""
    if file_path.suffix == ".toml" and file_path.parent.name == "scenarios":
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    def collect(self):  # type: ignore[no-untyped-def]
        yield ScenarioItem.from_parent(self, name=self.path.stem)


class ScenarioFailed(Exception):
    pass


class ScenarioItem(pytest.Item):
    def runtest(self) -> None:
        from . import offline_sdk
        from ..scenario import Scenario, run

        with pytest.MonkeyPatch.context() as mp:
            offline_sdk.quiet_env(mp.setenv)
            offline_sdk.skip_version_check(mp.setattr)
            outcome = run(Scenario.load(self.path))
        if not outcome.ok:
            raise ScenarioFailed(outcome.report())

    def repr_failure(self, excinfo, style=None):  # type: ignore[no-untyped-def]
        if isinstance(excinfo.value, ScenarioFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):  # type: ignore[no-untyped-def]
        return self.path, 0, f"scenario: {self.name}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    settings = getattr(item, "_rapidata_sim_settings", None)
    if settings is not None and report.failed:
        report.sections.append(("rapidata-sim world", settings.describe()))

