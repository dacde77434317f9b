"""``rapidata-sim demo``: the SDK's signals guide, two virtual weeks of it, watched live.

A daily compare signal runs in an in-process world driven an hour at a time; the crowd gets
slow (firings skipped), the user triggers once, the crowd's taste flips. All user actions go
through the real SDK; what the world does is read from its event log. A ``rich`` live view on
a terminal, plain lines elsewhere. See ``docs/demo.md``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable

from ..core.clock import Clock, parse_iso
from ..crowd import Prefer
from ..simulator import Simulator

if TYPE_CHECKING:
    from rich.console import Console

#: The virtual start: a Monday morning. Fixed, so the same seed prints the same story.
START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
AUDIENCE = "aud_MU1GZYoESyO"  # "Alignment", the signals guide's audience
PAIRS = 20
RESPONSES = 10
#: Responses an hour while the crowd is slow: a 200-vote job then takes ~33 h, more than a day.
SLOW_RATE = 6.0
PREFIX = "model-b"
MIN_DAYS = 5
#: Wall seconds a virtual day takes on a terminal (unless --fast); at most ~40 s in all.
DAY_SECONDS = 2.5
PACED_TOTAL_SECONDS = 40.0

A_STYLE, B_STYLE = "cyan", "magenta"


# -- the plan -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Story:
    """When things happen, in days after the signal is created (firings come at 09:00)."""

    days: int
    manual_day: int   # a manual trigger at 15:00
    slow_from: int    # the crowd becomes slow at 10:00, after that day's firing
    slow_until: int   # and fast again at 12:00
    shift_day: int    # the crowd's preference flips to model B at 10:00

    @classmethod
    def for_days(cls, days: int) -> "Story":
        if days < MIN_DAYS:
            raise ValueError(f"the story needs at least {MIN_DAYS} days (got {days})")
        slow_from = max(2, round(days * 0.3))
        slow_until = min(slow_from + max(2, round(days * 0.3)), days - 1)
        return cls(days=days, manual_day=max(1, days // 5), slow_from=slow_from, slow_until=slow_until,
                   shift_day=days // 2)

    def at(self, day: int, hour: int) -> datetime:
        return START + timedelta(days=day, hours=hour - START.hour)

    @property
    def shift_at(self) -> datetime:
        return self.at(self.shift_day, 10)

    @property
    def end(self) -> datetime:
        return self.at(self.days, 12)  # the last firing (09:00) has had time to finish


@dataclass
class Firing:
    """One run of the signal, as the demo saw it happen."""

    at: datetime
    source: str
    status: str                  # Running, Completed, Failed, Skipped ...
    job_id: str | None = None
    reason: str | None = None
    b_votes: int = 0
    votes: int = 0

    @property
    def rate(self) -> float | None:
        return self.b_votes / self.votes if self.votes else None


@dataclass
class Demo:
    sim: Simulator
    client: Any
    signal: Any
    story: Story
    view: "View"
    firings: list[Firing] = field(default_factory=list)
    seen: int = 0
    crowd: str = "fast"
    prefers: str = "model-a"
    fast_rate: float = 0.0

    def by_job(self, job_id: str) -> Firing | None:
        return next((f for f in self.firings if f.job_id == job_id), None)

    # -- reading the world ------------------------------------------------------------

    def drain(self) -> None:
        """Everything the world logged since the last look, as it happened."""
        for event in self.sim.events(self.seen):
            self.seen = event["seq"]
            kind, data, at = event["kind"], event["data"], parse_iso(event["at"])
            if kind == "signal.fired" and event["subject"] == self.signal.id:
                self.firings.append(Firing(at, data.get("source", "Scheduled"), "Running", job_id=data.get("job")))
                self.view.log(at, "fired", f"{data.get('source', 'Scheduled'):<9}  {data.get('job')}  "
                                           f"({self.crowd} crowd)", "green")
            elif kind == "signal.skipped" and event["subject"] == self.signal.id:
                reason = data.get("reason", "?")
                self.firings.append(Firing(at, data.get("source", "Scheduled"), "Skipped", reason=reason))
                running = next((f for f in reversed(self.firings) if f.status == "Running"), None)
                why = f": {running.job_id} is still running ({self.progress(running.job_id):.0f} % done)" \
                    if running and reason == "PreviousJobNotFinished" else ""
                self.view.log(at, "SKIPPED", f"{reason}{why}", "bold yellow")
            elif kind == "job.completed" and self.by_job(event["subject"]):
                self.completed(at, self.by_job(event["subject"]))
            elif kind in ("job.failed", "job.halted") and self.by_job(event["subject"]):
                firing = self.by_job(event["subject"])
                firing.status = data.get("state", "Failed")
                self.view.log(at, firing.status.lower(), f"{firing.job_id} {data.get('message') or ''}", "red")

    def completed(self, at: datetime, firing: Firing) -> None:
        """A job finished: its votes, read as a user reads them (through the SDK)."""
        job = self.client.job.get_job_by_id(firing.job_id)
        results = job.get_results()
        firing.status = job.get_status()
        firing.b_votes, firing.votes = win_votes(results)
        rate = firing.rate or 0.0
        self.view.log(at, "done", f"{firing.job_id}  model-B won {firing.b_votes:>3} of {firing.votes} votes  "
                                  f"{bar(rate, 20)} {rate:4.0%}", B_STYLE if rate > 0.5 else A_STYLE)

    def progress(self, job_id: str) -> float:
        return self.sim.jobs.progress(self.sim.principal(), job_id)["completion_percentage"]

    def status(self) -> str:
        if not self.view.live:
            return ""
        running = [f for f in self.firings if f.status == "Running"]
        jobs = ", ".join(f"{f.job_id} {self.progress(f.job_id):.0f} %" for f in running) or "no job running"
        return f"{self.crowd} crowd, prefers {self.prefers} · {jobs}"

    # -- what the user and the world do -----------------------------------------------

    def trigger(self) -> None:
        self.view.log(self.sim.clock.now(), "trigger", "by hand: signal.trigger(), then signal.wait_for_next_job()",
                      "bold")
        self.signal.trigger()
        job = self.signal.wait_for_next_job(timeout=60)
        self.drain()
        self.view.log(self.sim.clock.now(), "trigger", f"wait_for_next_job() returned {job.id}", "bold")

    def slow_down(self) -> None:
        self.set_rate(SLOW_RATE)
        self.crowd = "slow"
        hours = PAIRS * RESPONSES / SLOW_RATE
        self.view.log(self.sim.clock.now(), "crowd", f"the audience thins out: {SLOW_RATE:g} responses/hour, a "
                                                     f"{PAIRS * RESPONSES}-vote job now takes ~{hours:.0f} h", "yellow")

    def speed_up(self) -> None:
        self.set_rate(self.fast_rate)
        self.crowd = "fast"
        self.view.log(self.sim.clock.now(), "crowd", f"the audience is back: {self.fast_rate:,.0f} responses/hour "
                                                     "(a running job keeps its pace)", "yellow")

    def shift(self) -> None:
        self.sim.crowd.behave(AUDIENCE, compare=Prefer(quality={f"{PREFIX}*": 1.0}, strength=1.5, noise=0.05,
                                                       unsure=0.0))
        self.prefers = "model-b"
        self.view.log(self.sim.clock.now(), "crowd", "preference shift: the crowd now prefers model-b "
                                                     "(existing jobs keep their answers)", B_STYLE)

    def set_rate(self, rate: float) -> None:
        self.sim.audiences.update_population(AUDIENCE, {"responses_per_hour": rate})

    # -- the loop ---------------------------------------------------------------------

    def play(self, pace: float) -> None:
        story = self.story
        actions: dict[datetime, list[Callable[[], None]]] = {}
        for at, act in ((story.at(story.manual_day, 15), self.trigger),
                        (story.at(story.slow_from, 10), self.slow_down),
                        (story.at(story.slow_until, 12), self.speed_up),
                        (story.shift_at, self.shift)):
            actions.setdefault(at, []).append(act)
        self.fast_rate = self.sim.crowd.population(self.sim.store.get("audiences", AUDIENCE)).responses_per_hour
        step = timedelta(hours=1)
        t = START
        while t < story.end:
            t += step
            self.sim.advance_to(max(t, self.sim.clock.now()))
            self.drain()
            for act in actions.get(t, []):
                act()
                self.drain()
            self.view.tick(t, self.status())
            if pace:
                time.sleep(pace / 24)


def win_votes(results: Any) -> tuple[int, int]:
    """(votes for model B's answers, all votes) in a compare job's results."""
    b = total = 0
    for item in results["results"]:
        for name, votes in item.get("aggregatedResults", {}).items():
            total += votes
            if str(name).startswith(PREFIX):
                b += votes
    return b, total


def bar(share: float, width: int) -> str:
    filled = round(share * width)
    return "█" * filled + "░" * (width - filled)


def stamp(at: datetime) -> str:
    return at.strftime("%a %m-%d %H:%M")


def day_of(at: datetime) -> int:
    return (at - START).days


# -- showing it -----------------------------------------------------------------------------


class View:
    """The log above a live progress line on a terminal; plain lines anywhere else."""

    def __init__(self, console: "Console", story: Story) -> None:
        self.console = console
        self.live = console.is_terminal and not console.is_dumb_terminal
        self.progress = None
        self.story = story

    def __enter__(self) -> "View":
        if self.live:
            from rich.progress import BarColumn, Progress, TextColumn

            self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(bar_width=30),
                                     TextColumn("{task.fields[day]}"), TextColumn("[dim]{task.fields[status]}"),
                                     console=self.console, transient=True, refresh_per_second=12)
            self.progress.start()
            self.task = self.progress.add_task(f"{START:%a %Y-%m-%d %H:%M} UTC", day="day 0",
                                               total=(self.story.end - START) / timedelta(hours=1), status="")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def log(self, at: datetime, what: str, text: str, style: str = "") -> None:
        from rich.text import Text

        line = Text.assemble((f"day {day_of(at):>2}  {stamp(at)}  ", "dim"), (f"{what:<8}", style), "  ", text)
        self.console.print(line, soft_wrap=not self.live, highlight=False)  # a log line stays one line

    def tick(self, now: datetime, status: str) -> None:
        """The progress line: the virtual date, how far the story is, what the crowd is doing."""
        if self.progress is not None:
            self.progress.update(self.task, completed=(now - START) / timedelta(hours=1), status=status,
                                 description=f"{now:%a %Y-%m-%d %H:%M} UTC",
                                 day=f"day {min(day_of(now), self.story.days)} of {self.story.days}")


def summary(demo: Demo) -> None:
    """The final table and chart, from the world's runs and the votes the SDK returned."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    console, sim, story = demo.view.console, demo.sim, demo.story
    runs = sim.store.select("signal_runs", "signal_id = ?", [demo.signal.id], order_by="started_at, rowid")
    table = Table(title=f"Signal {demo.signal.id}: every run", box=box.SIMPLE_HEAD, title_justify="left")
    for name, justify in (("day", "right"), ("fired (UTC)", "left"), ("source", "left"), ("run status", "left"),
                          ("job / skipped because", "left"), ("B votes", "right"), ("B win rate", "right")):
        table.add_column(name, justify=justify, no_wrap=name != "job / skipped because")
    for run in runs:
        at = parse_iso(run["started_at"])
        firing = demo.by_job(run["audience_job_id"]) if run["audience_job_id"] else None
        rate = firing.rate if firing else None
        skipped = run["status"] == "Skipped"
        table.add_row(str(day_of(at)), f"{at:%m-%d %H:%M}", run["trigger_source"],
                      Text(run["status"], "yellow" if skipped else ""),
                      Text(run["skipped_reason"] or "", "yellow") if skipped else run["audience_job_id"] or "",
                      f"{firing.b_votes} / {firing.votes}" if firing and firing.votes else "",
                      Text(f"{rate:.0%}", B_STYLE if rate > 0.5 else A_STYLE) if rate is not None else "")
    console.print()
    console.print(table)

    console.print(Text(f"model-B win rate per day  (█ share of the votes for model-b, "
                       f"the crowd's taste flips on day {story.shift_day} at 10:00)", "bold"))
    by_day: dict[int, list[Firing]] = {}
    for firing in demo.firings:
        by_day.setdefault(day_of(firing.at), []).append(firing)
    for day in range(1, story.days + 1):
        for firing in by_day.get(day, []) or [None]:
            label = f"day {day:>2}  {firing.at:%a %m-%d %H:%M}" if firing else f"day {day:>2}  {'':15}"
            if firing is None:
                line = Text.assemble(label, "  ", ("no run", "dim"))
            elif firing.status == "Skipped":
                line = Text.assemble(label, "  ", (f"skipped ({firing.reason})", "yellow"))
            elif firing.rate is None:
                line = Text.assemble(label, "  ", (firing.status.lower(), "dim"))
            else:
                style = B_STYLE if firing.rate > 0.5 else A_STYLE
                manual = "  manual" if firing.source == "Manual" else ""
                line = Text.assemble(label, "  ", (bar(firing.rate, 40), style), f" {firing.rate:4.0%}{manual}")
            console.print(line, soft_wrap=True, highlight=False)

    before = [f for f in demo.firings if f.rate is not None and f.at < story.shift_at]
    after = [f for f in demo.firings if f.rate is not None and f.at >= story.shift_at]
    counters = sim.counters(demo.signal.id)
    skipped = ", ".join(f"{n} × {reason}" for reason, n in counters["skipped"].items()) or "none"
    console.print()
    console.print(f"fired: {counters['fired']['Scheduled']} scheduled + {counters['fired']['Manual']} manual; "
                  f"skipped: {skipped}", highlight=False, soft_wrap=True)
    if before and after:
        console.print(Text.assemble(
            "model-B win rate: ", (f"{pooled(before):.0%}", A_STYLE), f" over {len(before)} jobs created before the "
            f"shift, ", (f"{pooled(after):.0%}", B_STYLE), f" over {len(after)} jobs after it"), soft_wrap=True)
    console.print(f"next run at {demo.signal.next_run_at:%a %Y-%m-%d %H:%M} UTC (signal.next_run_at)",
                  highlight=False, soft_wrap=True)


def pooled(firings: list[Firing]) -> float:
    return sum(f.b_votes for f in firings) / sum(f.votes for f in firings)


# -- the command ------------------------------------------------------------------------------


def run(*, days: int = 14, seed: int = 0, fast: bool = False, console: "Console | None" = None) -> int:
    """Play the story; returns the exit status (0)."""
    from rich.console import Console

    story = Story.for_days(days)
    if console is None:
        # A log file is not a terminal of 80 columns: do not wrap its lines (COLUMNS still wins).
        console = Console(highlight=False)
        if not console.is_terminal and "COLUMNS" not in os.environ:
            console = Console(highlight=False, width=110)
    from ..testing import offline_sdk

    offline_sdk.quiet_env()  # before the SDK is first imported: it reads its settings then
    sim = Simulator(seed=seed, clock=Clock.frozen(START))
    try:
        os.environ.update(sim.env())
        offline_sdk.skip_version_check()
        sim.drive_sdk_waits()  # the SDK's 5 s polls move virtual time instead of waiting
        sim.crowd.behave(AUDIENCE, compare=Prefer(quality={"model-a*": 1.0}, strength=1.5, noise=0.05, unsure=0.0))
        from rapidata import RapidataClient

        console.print(f"[bold]rapidata-sim demo[/]: {days} virtual days of a daily signal, in a simulated Rapidata "
                      f"(seed {seed})", soft_wrap=True, highlight=False)
        console.print("Every call below is the real rapidata SDK, unmodified, talking to it; the world's clock "
                      "moves an hour a step.\n", soft_wrap=True, highlight=False)
        client = RapidataClient()
        audience = client.audience.get_audience_by_id(AUDIENCE)
        definition = client.job.create_compare_job_definition(
            name="Model A vs model B",
            instruction="Which answer is better?",
            datapoints=[[f"model-a answer {i}", f"model-b answer {i}"] for i in range(PAIRS)],
            data_type="text",
            responses_per_datapoint=RESPONSES,
        )
        signal = client.signals.create_signal(name="Daily model A vs model B", audience=audience,
                                              job_definition=definition, interval_hours=24)
        for label, text in (
            ("audience", f"{audience.name} ({audience.id}), prefers model-a's answers for now"),
            ("definition", f"{definition.id}: {PAIRS} text pairs 'model-a answer i' vs 'model-b answer i', "
                           f"{RESPONSES} responses each"),
            ("signal", f"{signal.id}, every 24 h, first run {signal.next_run_at:%a %m-%d %H:%M} UTC"),
            ("plan", f"day {story.manual_day} 15:00 a manual trigger; days {story.slow_from}-{story.slow_until} a "
                     f"slow crowd; day {story.shift_day} 10:00 the crowd's preference shifts to model-b"),
        ):
            console.print(f"{label:<11} {text}", soft_wrap=True, highlight=False)
        console.print()
        pace = 0.0 if fast or not console.is_terminal else min(DAY_SECONDS, PACED_TOTAL_SECONDS / days)
        with View(console, story) as view:
            demo = Demo(sim, client, signal, story, view)
            demo.seen = sim.store.last_seq()
            demo.play(pace)
        summary(demo)
    finally:
        sim.close()
    return 0
