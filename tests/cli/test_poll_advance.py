"""Server-side auto-advance (``serve --poll-advance``, ``SimConfig.poll_advance``): an unmodified
SDK script in another process, whose job takes hours of virtual time, gets its results from
``rapidata-sim serve`` (frozen, or at speed 1) at once; with the policy off the job stays ``Running``."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import textwrap

from datetime import timedelta

import pytest

from rapidata_sim.core.clock import parse_iso
from rapidata_sim.serving.remote import Remote
from tests.cli.test_cli_control import clean_env

# The script a user would write: nothing in it knows about the simulator.
SCRIPT = textwrap.dedent("""
    import sys
    from rapidata import RapidataClient

    client = RapidataClient()
    definition = client.job.create_classification_job_definition(
        name="Animals", instruction="What animal is it?", answer_options=["Cat", "Dog"],
        datapoints=[f"animal photo {i}" for i in range(20)], data_type="text", responses_per_datapoint=5)
    job = client.audience.get_audience_by_id("global").assign_job(definition)
    print("OUT", job.id, flush=True)
    if sys.argv[1] == "signal":
        signal = client.signals.create_signal(name="daily", audience="global", job_definition=definition,
                                              interval_hours=24)
        print("OUT", signal.wait_for_next_job(timeout=600).get_status())
    elif sys.argv[1] == "wait":
        results = job.get_results()
        print("OUT", job.get_status(), sum(results["summary"].values()))
    else:
        print("OUT", job.get_status(), job.get_status(), job.get_status())
""")


@pytest.fixture(params=["0", "1"], ids=["frozen", "speed-1"])
def server(tmp_path, request):
    proc = subprocess.Popen([sys.executable, "-m", "rapidata_sim.cli", "serve", "--data-dir", str(tmp_path),
                             "--speed", request.param], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=clean_env())
    try:
        lines = [proc.stdout.readline() for _ in range(7)]
        yield {**clean_env(), **dict(re.findall(r"^export (\w+)=(.*)$", "".join(lines), flags=re.M))}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


def run(env, mode: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", SCRIPT, mode], env=env, capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    # The SDK prints too (its progress notes): only the script's own lines count.
    return [word for line in done.stdout.splitlines() if line.startswith("OUT ") for word in line.split()[1:]]


def test_get_results_on_a_long_job_returns_at_once_and_off_leaves_it_running(server):
    remote = Remote(server)
    # 100 responses at 20 an hour: about five hours of virtual time, and the clock is frozen.
    remote.call("PATCH", "/_sim/audiences/global/population", {"population": {"responses_per_hour": 20}})
    assert remote.call("GET", "/_sim/policy")["pollAdvance"] == "next-event"  # serve's default
    start = remote.call("GET", "/_sim/clock")["now"]

    job_id, state, responses = run(server, "wait")
    assert (state, responses) == ("Completed", "100")
    moved_to = remote.call("GET", "/_sim/clock")["now"]
    job = remote.call("GET", f"/job/{job_id}")
    assert job["state"] == "Completed"
    assert parse_iso(job["completedAt"]) - parse_iso(start) > timedelta(hours=2)  # hours of virtual time
    assert parse_iso(moved_to) >= parse_iso(job["completedAt"])

    # wait_for_next_job on a daily signal: the repeated runs poll moves the world to its first firing.
    before = parse_iso(remote.call("GET", "/_sim/clock")["now"])
    _, state = run(server, "signal")
    assert state in ("Running", "Completed")
    assert parse_iso(remote.call("GET", "/_sim/clock")["now"]) - before >= timedelta(hours=24)
    moved_to = remote.call("GET", "/_sim/clock")["now"]

    assert remote.call("PATCH", "/_sim/policy", {"pollAdvance": "off"})["pollAdvance"] == "off"
    job_id, *states = run(server, "look")
    assert states == ["Running"] * 3  # three polls in a row, and the world only followed its clock
    now = parse_iso(remote.call("GET", "/_sim/clock")["now"])
    assert now - parse_iso(moved_to) < timedelta(hours=1)
    assert remote.call("GET", f"/job/{job_id}")["state"] == "Running"


def test_one_look_sees_the_truth_and_a_repeated_poll_moves_the_world(worlds_server):
    """In process (``worlds_server`` with the policy on in one world): the first ``get_status()``
    sees ``Running`` and leaves the clock alone; the next one, nothing having happened in between,
    moves the world to the job's completion."""
    client = worlds_server.client("poller", "poller-secret")
    sim = worlds_server.worlds.get("poller")
    sim.configure(poll_advance="next-event")
    with sim.store.transaction():
        sim.audiences.update_population("global", {"responses_per_hour": 20})
    definition = client.job.create_classification_job_definition(
        name="Animals", instruction="What?", answer_options=["Cat", "Dog"], datapoints=["a", "b"],
        data_type="text", responses_per_datapoint=5)
    job = client.audience.get_audience_by_id("global").assign_job(definition)
    before = sim.clock.now()
    assert job.get_status() == "Running"
    assert sim.clock.now() == before
    assert job.get_status() == "Completed"
    assert sim.clock.now() > before
    assert [e["kind"] for e in sim.events() if e["subject"] == job.id][-1] == "job.completed"
    other = worlds_server.worlds.default  # the policy is per world: the default one's clock never moved
    assert other.config.poll_advance == "off"


def test_a_repeated_flow_item_poll_settles_the_item(worlds_server):
    client = worlds_server.client("flow-poller", "flow-poller-secret")
    sim = worlds_server.worlds.get("flow-poller")
    sim.configure(poll_advance="next-event")
    with sim.store.transaction():
        sim.audiences.update_population("global", {"responses_per_hour": 120})  # 2 a minute
    flow = client.flow.create_ranking_flow(name="slow", instruction="Better?", max_response_threshold=50,
                                           min_response_threshold=20)
    item = flow.create_new_flow_batch(datapoints=["a", "b", "c"], data_type="text", time_to_live=3600)
    assert item.get_status() == "Running"
    result = item.get_results()  # its wait's second look settles the item
    assert item.get_status() == "Completed"
    assert result.total_votes >= 20


def test_a_paused_job_polled_again_does_not_move_the_world(worlds_server):
    """Only an unfinished thing that time can finish moves time: a paused job stays where it is."""
    client = worlds_server.client("pauser", "pauser-secret")
    sim = worlds_server.worlds.get("pauser")
    sim.configure(poll_advance="next-event")
    with sim.store.transaction():
        sim.audiences.update_population("global", {"responses_per_hour": 20})
    definition = client.job.create_free_text_job_definition(
        name="Why", instruction="Why?", datapoints=["a"], data_type="text", responses_per_datapoint=5)
    job = client.audience.get_audience_by_id("global").assign_job(definition).pause()
    before = sim.clock.now()
    assert [job.get_status() for _ in range(3)] == ["Paused"] * 3
    assert sim.clock.now() == before
