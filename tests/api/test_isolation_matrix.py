"""Who may do what to whose resources: the isolation and authorization matrix.

Two organizations with two users each (``fixtures/world.toml``): ``org_sim`` (``rapidata-sim``,
``rapidata-sim-colleague``) and ``org_other`` (``rapidata-sim-other``,
``rapidata-sim-other-colleague``). For every (resource, operation) in ``EXPECT`` a fresh resource is
created by an owner, and each of the four users, seen from that owner as *owner*, *same-org
colleague* or *other-org user* (both users of the other organization), performs the operation
over real HTTPS — through the real SDK wherever it can express the operation, raw ``https_client``
requests otherwise. Each cell checks the outcome (the status, or whether a list shows the resource)
and the effect: an allowed mutation happened, a refused one left the stored row byte-identical and
wrote nothing else. The whole matrix runs twice, once with the owner in each organization.

A last test checks that two worlds of one server (``rapidata_sim.serving.worlds``) never see each
other's resources, even where both hold the same ids and names.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
from support import https_client
from rapidata.rapidata_client.exceptions.rapidata_error import RapidataError

from rapidata_sim import Clock, Simulator
from rapidata_sim.testing import offline_sdk
from rapidata_sim.serving.worlds import Worlds, WorldsServer

OK, LISTED, HIDDEN = "ok", "listed", "hidden"

# ---------------------------------------------------------------------------------------------
# THE SPEC. (resource, operation) -> outcome for (owner, same-org colleague, other-org user).
#
# Where each rule comes from:
#  [S] Signals: signal.openapi.json ("GET /signal: Queries the signals visible to the current
#      caller"; every /signal/{id} operation documents 403 Forbidden and 404), the SDK's
#      create_signal docstring ("is_public: Whether other users can discover and read this
#      signal") and find_signals ("your own signals plus public ones"); rapidata_sim/domain/
#      signals.py: seen by the owner, and by the owner's organization when public; only the owner
#      may change it (403 for a colleague who can read it, 404 for one who cannot).
#  [R] Signal runs follow their signal (GET /signal/{id}/run and GET /signal/run/{runId}).
#  [J] Jobs: order.openapi.json ("GET /jobs: Queries jobs visible to the caller"; sharing across
#      organizations is an explicit act, /job/{id}/shares, /jobs/shared, which 3.27.1 never uses);
#      domain/jobs.py: the organization reads and manages its jobs. Results (download, preliminary
#      download by pipeline) follow the job. A job fired by a *private* signal is still a job of
#      the organization (the run that names it is not visible to the colleague, the job is).
#  [D] Job definitions: order.openapi.json ("GET /job/definitions: Results are scoped to the
#      caller's organization"; public templates need PATCH /job/definition/{id}/share, not in
#      3.27.1); domain/definitions.py: the organization reads, renames, revises and deletes.
#      Revisions follow their definition.
#  [A] Custom audiences: audience.openapi.json ("GET /audiences: Queries all audiences visible to
#      the caller"); domain/audiences.py: the organization's own plus public ones; custom ones are
#      managed by the organization.
#  [F] Flows: flow.openapi.json ("GET /flow: Queries flows"; flows are owned by an organization,
#      ``organizationId``); domain/flows.py: the organization reads, configures, feeds and deletes
#      its flows; items and their results follow their flow.
#  [B] Benchmarks (client.mri): leaderboard.openapi.json scopes them to the caller's organization
#      ("GET /benchmarks" lists the caller's; publishing is a separate act 3.27.1 never uses);
#      domain/benchmarks.py: the organization reads and manages them, leaderboards, participants
#      and standings follow their benchmark.
#  [V] Validation sets: validation.openapi.json ("GET /validation-sets: Queries validation sets visible
#      to the caller"); domain/validation_sets.py: the organization reads, changes, extends and deletes
#      its own; a revision may name only one the caller can see (400 on ``validationSetId`` otherwise).
#  [U] Unlisted audiences (ula_): the SDK's RapidataUnlistedAudience ("only people you share its link
#      with"); domain/audiences.py: anyone signed in reads one by id (the link), none is listed by
#      find_audiences, only its organization assigns jobs to it.
#  [X] Another organization's object is 404, as if absent (docs/requests.md, "Visibility"; the service hides
#      what the caller may not see). Naming one in a create request is the 400 of an unknown id
#      (ValidationProblemDetails with the field in ``errors``), never a silent success.
# ---------------------------------------------------------------------------------------------
EXPECT: dict[tuple[str, str], tuple[Any, Any, Any]] = {
    # resource          operation                owner   colleague other-org
    ("private_signal", "get"):                  (OK,     404,      404),      # [S]
    ("private_signal", "find"):                 (LISTED, HIDDEN,   HIDDEN),   # [S]
    ("private_signal", "runs"):                 (OK,     404,      404),      # [R]
    ("private_signal", "run_by_id"):            (OK,     404,      404),      # [R]
    ("private_signal", "update"):               (OK,     404,      404),      # [S]
    ("private_signal", "pause"):                (OK,     404,      404),      # [S]
    ("private_signal", "resume"):               (OK,     404,      404),      # [S]
    ("private_signal", "trigger"):              (OK,     404,      404),      # [S]
    ("private_signal", "delete"):               (OK,     404,      404),      # [S]
    ("private_signal", "job_of_run"):           (OK,     OK,       404),      # [J]
    ("public_signal", "get"):                   (OK,     OK,       404),      # [S]
    ("public_signal", "find"):                  (LISTED, LISTED,   HIDDEN),   # [S]
    ("public_signal", "runs"):                  (OK,     OK,       404),      # [R]
    ("public_signal", "run_by_id"):             (OK,     OK,       404),      # [R]
    ("public_signal", "update"):                (OK,     403,      404),      # [S]
    ("public_signal", "pause"):                 (OK,     403,      404),      # [S]
    ("public_signal", "resume"):                (OK,     403,      404),      # [S]
    ("public_signal", "trigger"):               (OK,     403,      404),      # [S]
    ("public_signal", "delete"):                (OK,     403,      404),      # [S]
    ("public_signal", "job_of_run"):            (OK,     OK,       404),      # [J]
    ("job", "get"):                             (OK,     OK,       404),      # [J]
    ("job", "find"):                            (LISTED, LISTED,   HIDDEN),   # [J]
    ("job", "progress"):                        (OK,     OK,       404),      # [J]
    ("job", "cost_estimate"):                   (OK,     OK,       404),      # [J]
    ("job", "pause"):                           (OK,     OK,       404),      # [J]
    ("job", "resume"):                          (OK,     OK,       404),      # [J]
    ("job", "delete"):                          (OK,     OK,       404),      # [J]
    ("job", "as_preceding_job"):                (OK,     OK,       400),      # [J][X]
    ("job_results", "get_results"):             (OK,     OK,       404),      # [J]
    ("job_results", "preliminary"):             (OK,     OK,       404),      # [J]
    ("job_results", "preliminary_by_id"):       (OK,     OK,       404),      # [J]
    ("job_definition", "get"):                  (OK,     OK,       404),      # [D]
    ("job_definition", "find"):                 (LISTED, LISTED,   HIDDEN),   # [D]
    ("job_definition", "latest_revision"):      (OK,     OK,       404),      # [D]
    ("job_definition", "revision_by_number"):   (OK,     OK,       404),      # [D]
    ("job_definition", "revisions"):            (OK,     OK,       404),      # [D]
    ("job_definition", "cost_estimate"):        (OK,     OK,       404),      # [D]
    ("job_definition", "rename"):               (OK,     OK,       404),      # [D]
    ("job_definition", "create_revision"):      (OK,     OK,       404),      # [D]
    ("job_definition", "delete"):               (OK,     OK,       404),      # [D]
    ("job_definition", "assign_job"):           (OK,     OK,       400),      # [D][X]
    ("job_definition", "create_signal"):        (OK,     OK,       400),      # [D][X]
    ("custom_audience", "get"):                 (OK,     OK,       404),      # [A]
    ("custom_audience", "find"):                (LISTED, LISTED,   HIDDEN),   # [A]
    ("custom_audience", "user_metrics"):        (OK,     OK,       404),      # [A]
    ("custom_audience", "examples"):            (OK,     OK,       404),      # [A]
    ("custom_audience", "update"):              (OK,     OK,       404),      # [A]
    ("custom_audience", "recruit"):             (OK,     OK,       404),      # [A]
    ("custom_audience", "filter"):              (OK,     OK,       404),      # [A]
    ("custom_audience", "assign_job"):          (OK,     OK,       400),      # [A][X]
    ("custom_audience", "delete"):              (OK,     OK,       404),      # [A]
    ("flow", "get"):                            (OK,     OK,       404),      # [F]
    ("flow", "find"):                           (LISTED, LISTED,   HIDDEN),   # [F]
    ("flow", "items"):                          (OK,     OK,       404),      # [F]
    ("flow", "update"):                         (OK,     OK,       404),      # [F]
    ("flow", "delete"):                         (OK,     OK,       404),      # [F]
    ("flow_item", "status"):                    (OK,     OK,       404),      # [F]
    ("flow_item", "results"):                   (OK,     OK,       404),      # [F]
    ("flow_item", "win_loss_matrix"):           (OK,     OK,       404),      # [F]
    ("benchmark", "get"):                       (OK,     OK,       404),      # [B]
    ("benchmark", "find"):                      (LISTED, LISTED,   HIDDEN),   # [B]
    ("benchmark", "standings"):                 (OK,     OK,       404),      # [B]
    ("benchmark", "create_leaderboard"):        (OK,     OK,       404),      # [B]
    ("benchmark", "disable_participant"):       (OK,     OK,       404),      # [B]
    ("validation_set", "get"):                  (OK,     OK,       404),      # [V]
    ("validation_set", "find"):                 (LISTED, LISTED,   HIDDEN),   # [V]
    ("validation_set", "rapids"):               (OK,     OK,       404),      # [V]
    ("validation_set", "add_rapid"):            (OK,     OK,       404),      # [V]
    ("validation_set", "update"):               (OK,     OK,       404),      # [V]
    ("validation_set", "delete"):               (OK,     OK,       404),      # [V]
    ("validation_set", "use_in_revision"):      (OK,     OK,       400),      # [V][X]
    ("unlisted_audience", "get"):               (OK,     OK,       OK),       # [U]
    ("unlisted_audience", "find"):              (HIDDEN, HIDDEN,   HIDDEN),   # [U]
    ("unlisted_audience", "assign_job"):        (OK,     OK,       400),      # [U][X]
}

# The four users: (client id, secret, organization).
USERS = {
    "sim": ("rapidata-sim", "rapidata-sim-secret", "org_sim"),
    "sim-colleague": ("rapidata-sim-colleague", "colleague-secret", "org_sim"),
    "other": ("rapidata-sim-other", "other-secret", "org_other"),
    "other-colleague": ("rapidata-sim-other-colleague", "other-colleague-secret", "org_other"),
}
# For an owner: who is the colleague, who are the other organization's users.
RELATIONS = {
    "sim": ("sim-colleague", ("other", "other-colleague")),
    "other": ("other-colleague", ("sim", "sim-colleague")),
}
LONG = 10_000  # hours between firings: no scheduled firing ever happens during this module


@dataclass
class Actor:
    name: str
    org: str
    sdk: Any
    http: Any


@dataclass
class World:
    sim: Simulator
    actors: dict[str, Actor]


@dataclass
class Res:
    """One fresh resource (and what it hangs on), made by its owner for one cell."""

    owner: Actor
    name: str
    table: str = ""
    id: str = ""
    handle: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# The world: one frozen-clock world for the module, its responses contract-checked at the end.

@pytest.fixture(scope="module")
def world(contract, tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        offline_sdk.quiet_env(mp.setenv)
        mp.setenv("HOME", str(tmp_path_factory.mktemp("home")))
        offline_sdk.skip_version_check(mp.setattr)
        sim = Simulator(seed=4242, clock=Clock.frozen())
        server = sim.serve(record=True)
        actors = {name: Actor(name, org, sim.client(client_id=cid, client_secret=secret),
                              https_client(server, (cid, secret)))
                  for name, (cid, secret, org) in USERS.items()}
        yield World(sim, actors)
        problems = []
        for ex in server.exchanges:
            if ex.path.startswith("/_sim/"):
                continue
            for problem in contract.check(ex.method, ex.path, ex.status, ex.body, ex.content_type):
                problems.append(f"{ex.method} {ex.path} -> {ex.status}: {problem}")
        for actor in actors.values():
            actor.http.close()
        sim.close()
        assert not problems, "responses that break the contract:\n" + "\n".join(problems[:20])


_names = itertools.count(1)


def unique(kind: str) -> str:
    # "cell00012x-…": a name no other cell's name contains, for the SDK's name[contains] filters.
    return f"cell{next(_names):05d}x-{kind}"


def as_actor(handle: Any, actor: Actor) -> Any:
    """The owner's SDK handle, re-bound to ``actor``'s client: an id the actor learned somehow."""
    h = copy.copy(handle)
    h._openapi_service = actor.sdk._openapi_service
    if hasattr(h, "_example_handler"):
        h._example_handler = copy.copy(h._example_handler)
        h._example_handler._openapi_service = actor.sdk._openapi_service
    return h


def via_sdk(call: Callable[[], Any]) -> Any:
    try:
        call()
    except RapidataError as exc:
        return exc.status_code
    return OK


def via_http(response: Any) -> Any:
    if response.is_success:
        return OK
    # Every refusal is the service's problem+json; a 400 is a ValidationProblemDetails.
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    body = response.json()
    assert body["status"] == response.status_code and body["traceId"] and response.headers["x-trace-id"]
    if response.status_code == 400:
        assert body["errors"], body
    return response.status_code


def listed(ids: list[str], res: Res) -> str:
    return LISTED if res.id in ids else HIDDEN


# ---------------------------------------------------------------------------------------------
# Making resources (always as the owner, through the SDK).

def make_definition(w: World, owner: Actor, name: str | None = None) -> Res:
    name = name or unique("def")
    d = owner.sdk.job.create_free_text_job_definition(name=name, instruction="?", datapoints=["t"],
                                                      data_type="text", responses_per_datapoint=1)
    return Res(owner, name, "job_definitions", d.id, d)


def make_signal(w: World, owner: Actor, public: bool) -> Res:
    d = make_definition(w, owner)
    name = unique("sig")
    s = owner.sdk.signals.create_signal(name=name, audience="global", job_definition=d.handle,
                                        interval_hours=LONG, is_public=public)
    return Res(owner, name, "signals", s.id, s, {"definition": d})


def make_job(w: World, owner: Actor) -> Res:
    d = make_definition(w, owner)
    job = owner.sdk.audience.get_audience_by_id("global").assign_job(d.handle)
    return Res(owner, d.name, "jobs", job.id, job, {"definition": d})


def make_audience(w: World, owner: Actor) -> Res:
    name = unique("aud")
    # One validation task to graduate, one example: the service lets it start recruiting.
    a = owner.sdk.audience.create_audience(name=name, min_tasks=1)
    a.add_classification_example(instruction="Which?", answer_options=["A", "B"], datapoint="a", truth=["A"],
                                 data_type="text")
    return Res(owner, name, "audiences", a.id, a)


def triggered_run(w: World, res: Res) -> str:
    """The owner triggers the signal and lists its runs (which starts the run): the run's id."""
    res.handle.trigger()
    runs = res.owner.http.get(f"/signal/{res.id}/run").json()["items"]
    assert len(runs) == 1 and runs[0]["audienceJobId"], runs
    return runs[0]["id"]


def completed_job(w: World, owner: Actor) -> Res:
    res = make_job(w, owner)
    w.sim.advance(hours=2)  # the global crowd answers one free-text datapoint in minutes
    assert w.sim.store.get("jobs", res.id)["state"] == "Completed"
    return res


def make_flow(w: World, owner: Actor) -> Res:
    name = unique("flow")
    flow = owner.sdk.flow.create_ranking_flow(name=name, instruction="?", max_response_threshold=6)
    return Res(owner, name, "flows", flow.id, flow)


def make_flow_item(w: World, owner: Actor) -> Res:
    flow = make_flow(w, owner)
    item = flow.handle.create_new_flow_batch(datapoints=["a", "b"], data_type="text", time_to_live=60)
    w.sim.advance(minutes=2)  # past its time to live: finished either way
    assert w.sim.store.get("flow_items", item.id)["state"] in ("Completed", "Incomplete")
    return Res(owner, flow.name, "flow_items", item.id, item, {"flow": flow})
def make_benchmark(w: World, owner: Actor) -> Res:
    name = unique("bench")
    b = owner.sdk.mri.create_new_benchmark(name, identifiers=["p1"], prompts=["a cat"])
    participant = b.add_model("model", media=["a cat, drawn"], identifiers=["p1"], data_type="text")
    return Res(owner, name, "benchmarks", b.id, b, {"participant": participant})
def make_validation_set(w: World, owner: Actor) -> Res:
    name = unique("vs")
    vs = owner.sdk.validation.create_compare_set(name=name, instruction="?", datapoints=[["a", "b"]], truths=["a"],
                                                 data_type="text")
    return Res(owner, name, "validation_sets", vs.id, vs)


def make_unlisted_audience(w: World, owner: Actor) -> Res:
    name = unique("ula")
    a = owner.sdk.audience.create_unlisted_audience(name)
    return Res(owner, name, "audiences", a.id, a)


def _validation_set_as(r: Res, a: Actor) -> Any:
    """The owner's set as the actor's SDK builds it from the id (its rapid uploader holds a client)."""
    from rapidata.rapidata_client.validation.rapidata_validation_set import RapidataValidationSet

    return RapidataValidationSet(r.id, r.name, [], a.sdk._openapi_service)


def _use_validation_set(w: World, a: Actor, r: Res) -> Any:
    definition = make_definition(w, a).handle
    definition.validation_set_id = r.id
    return via_sdk(definition.save)


MAKE: dict[str, Callable[[World, Actor], Res]] = {
    "private_signal": lambda w, o: make_signal(w, o, False),
    "public_signal": lambda w, o: make_signal(w, o, True),
    "job": make_job,
    "job_results": make_job,
    "job_definition": make_definition,
    "custom_audience": make_audience,
    "flow": make_flow,
    "flow_item": make_flow_item,
    "benchmark": make_benchmark,
    "validation_set": make_validation_set,
    "unlisted_audience": make_unlisted_audience,
}


def prepare(w: World, resource: str, op: str, res: Res) -> None:
    """What an operation needs before it can mean something (done by the owner)."""
    if resource.endswith("signal") and op == "resume":
        res.handle.pause()
    elif resource.endswith("signal") and op in ("run_by_id", "job_of_run"):
        res.extra["run"] = triggered_run(w, res)
    elif resource == "job" and op == "resume":
        res.handle.pause()
        assert w.sim.store.get("jobs", res.id)["state"] == "Paused"
    elif resource == "job_results" and op == "get_results":
        w.sim.advance(hours=2)
        assert w.sim.store.get("jobs", res.id)["state"] == "Completed"
    elif resource == "job_results" and op == "preliminary_by_id":
        made = res.owner.http.post(f"/pipeline/{res.handle.pipeline_id}/preliminary-download", json={})
        assert made.status_code == 200, made.text
        res.extra["download"] = made.json()["downloadId"]


# ---------------------------------------------------------------------------------------------
# The operations: (world, actor, resource) -> outcome.

def _signal_ops() -> dict[str, Callable[[World, Actor, Res], Any]]:
    return {
        "get": lambda w, a, r: via_sdk(lambda: a.sdk.signals.get_signal_by_id(r.id)),
        "find": lambda w, a, r: listed([s.id for s in a.sdk.signals.find_signals(name=r.name)], r),
        "runs": lambda w, a, r: via_sdk(lambda: as_actor(r.handle, a).get_jobs()),
        "run_by_id": lambda w, a, r: via_http(a.http.get(f"/signal/run/{r.extra['run']}")),
        "update": lambda w, a, r: via_sdk(lambda: as_actor(r.handle, a).update(name=f"{r.name} by {a.name}")),
        "pause": lambda w, a, r: via_sdk(lambda: as_actor(r.handle, a).pause()),
        "resume": lambda w, a, r: via_sdk(lambda: as_actor(r.handle, a).resume()),
        "trigger": lambda w, a, r: via_sdk(lambda: as_actor(r.handle, a).trigger()),
        "delete": lambda w, a, r: via_sdk(lambda: as_actor(r.handle, a).delete()),
        "job_of_run": lambda w, a, r: via_sdk(lambda: a.sdk.job.get_job_by_id(
            w.sim.store.get("signal_runs", r.extra["run"])["audience_job_id"])),
    }


def _create_job_with(a: Actor, **body: Any) -> Any:
    return via_http(a.http.post("/job", json={"audienceId": "global", **body}))


OPS: dict[tuple[str, str], Callable[[World, Actor, Res], Any]] = {
    **{("private_signal", op): fn for op, fn in _signal_ops().items()},
    **{("public_signal", op): fn for op, fn in _signal_ops().items()},
    ("job", "get"): lambda w, a, r: via_sdk(lambda: a.sdk.job.get_job_by_id(r.id)),
    ("job", "find"): lambda w, a, r: listed([j.id for j in a.sdk.job.find_jobs(name=r.name)], r),
    ("job", "progress"): lambda w, a, r: via_sdk(lambda: as_actor(r.handle, a).get_progress()),
    ("job", "cost_estimate"): lambda w, a, r: via_sdk(lambda: as_actor(r.handle, a).estimated_cost),
    ("job", "pause"): lambda w, a, r: via_sdk(lambda: as_actor(r.handle, a).pause()),
    ("job", "resume"): lambda w, a, r: via_sdk(lambda: as_actor(r.handle, a).resume()),
    ("job", "delete"): lambda w, a, r: via_sdk(lambda: as_actor(r.handle, a).delete()),
    # The actor names the owner's job as the one its own new job follows.
    ("job", "as_preceding_job"): lambda w, a, r: _create_job_with(
        a, jobDefinitionId=make_definition(w, a).id, precedingJobId=r.id),
    ("job_results", "get_results"): lambda w, a, r: via_sdk(lambda: as_actor(r.handle, a).get_results()),
    ("job_results", "preliminary"): lambda w, a, r: via_sdk(
        lambda: as_actor(r.handle, a).get_results(preliminary_results=True)),
    ("job_results", "preliminary_by_id"): lambda w, a, r: via_http(
        a.http.get(f"/pipeline/preliminary-download/{r.extra['download']}")),
    ("job_definition", "get"): lambda w, a, r: via_sdk(lambda: a.sdk.job.get_job_definition_by_id(r.id)),
    ("job_definition", "find"): lambda w, a, r: listed(
        [d.id for d in a.sdk.job.find_job_definitions(name=r.name)], r),
    ("job_definition", "latest_revision"): lambda w, a, r: via_sdk(lambda: as_actor(r.handle, a).reload()),
    ("job_definition", "revision_by_number"): lambda w, a, r: via_sdk(lambda: as_actor(r.handle, a).reload(1)),
    ("job_definition", "revisions"): lambda w, a, r: via_sdk(lambda: as_actor(r.handle, a).revisions()),
    ("job_definition", "cost_estimate"): lambda w, a, r: via_sdk(lambda: as_actor(r.handle, a).estimated_cost),
    ("job_definition", "rename"): lambda w, a, r: via_http(
        a.http.patch(f"/job/definition/{r.id}", json={"name": f"{r.name} by {a.name}"})),
    ("job_definition", "create_revision"): lambda w, a, r: via_sdk(lambda: _save_revision(as_actor(r.handle, a))),
    ("job_definition", "delete"): lambda w, a, r: via_sdk(lambda: as_actor(r.handle, a).delete()),
    ("job_definition", "assign_job"): lambda w, a, r: _create_job_with(a, jobDefinitionId=r.id),
    ("job_definition", "create_signal"): lambda w, a, r: via_http(a.http.post("/signal", json={
        "name": f"{r.name} signal by {a.name}", "audienceId": "global", "jobDefinitionId": r.id,
        "intervalSeconds": LONG * 3600, "isPublic": False})),
    ("custom_audience", "get"): lambda w, a, r: via_sdk(lambda: a.sdk.audience.get_audience_by_id(r.id)),
    ("custom_audience", "find"): lambda w, a, r: listed([x.id for x in a.sdk.audience.find_audiences(name=r.name)], r),
    ("custom_audience", "user_metrics"): lambda w, a, r: via_sdk(
        lambda: as_actor(r.handle, a).get_recruiting_metrics()),
    ("custom_audience", "examples"): lambda w, a, r: via_sdk(lambda: as_actor(r.handle, a).get_examples()),
    ("custom_audience", "update"): lambda w, a, r: via_sdk(lambda: as_actor(r.handle, a).update_name(
        f"{r.name} by {a.name}")),
    ("custom_audience", "recruit"): lambda w, a, r: via_sdk(lambda: as_actor(r.handle, a).start_recruiting()),
    ("custom_audience", "filter"): lambda w, a, r: via_http(a.http.post(
        f"/audience/{r.id}/filter", json={"filter": {"_t": "CountryFilter", "countries": ["DE"]}})),
    ("custom_audience", "assign_job"): lambda w, a, r: _create_job_with(
        a, jobDefinitionId=make_definition(w, a).id, audienceId=r.id),
    ("custom_audience", "delete"): lambda w, a, r: via_sdk(lambda: as_actor(r.handle, a).delete()),
    ("flow", "get"): lambda w, a, r: via_sdk(lambda: a.sdk.flow.get_flow_by_id(r.id)),
    ("flow", "find"): lambda w, a, r: listed([f.id for f in a.sdk.flow.find_flows(name=r.name)], r),
    ("flow", "items"): lambda w, a, r: via_sdk(lambda: as_actor(r.handle, a).get_flow_items()),
    ("flow", "update"): lambda w, a, r: via_sdk(lambda: as_actor(r.handle, a).update_config(
        instruction=f"{r.name} by {a.name}")),
    ("flow", "delete"): lambda w, a, r: via_sdk(lambda: as_actor(r.handle, a).delete()),
    ("flow_item", "status"): lambda w, a, r: via_sdk(lambda: as_actor(r.handle, a).get_status()),
    ("flow_item", "results"): lambda w, a, r: via_sdk(lambda: as_actor(r.handle, a).get_results()),
    ("flow_item", "win_loss_matrix"): lambda w, a, r: via_sdk(lambda: as_actor(r.handle, a).get_win_loss_matrix()),
    ("benchmark", "get"): lambda w, a, r: via_sdk(lambda: a.sdk.mri.get_benchmark_by_id(r.id)),
    ("benchmark", "find"): lambda w, a, r: listed([b.id for b in a.sdk.mri.find_benchmarks(name=r.name)], r),
    ("benchmark", "standings"): lambda w, a, r: via_sdk(lambda: as_actor(r.handle, a).get_overall_standings()),
    ("benchmark", "create_leaderboard"): lambda w, a, r: via_sdk(
        lambda: as_actor(r.handle, a).create_leaderboard(f"{r.name} board", "Which?")),
    ("benchmark", "disable_participant"): lambda w, a, r: via_sdk(
        lambda: as_actor(r.extra["participant"], a).disable()),
    ("validation_set", "get"): lambda w, a, r: via_sdk(lambda: a.sdk.validation.get_validation_set_by_id(r.id)),
    ("validation_set", "find"): lambda w, a, r: listed(
        [v.id for v in a.sdk.validation.find_validation_sets(name=r.name)], r),
    ("validation_set", "rapids"): lambda w, a, r: via_http(a.http.get(f"/validation-set/{r.id}/rapids")),
    ("validation_set", "add_rapid"): lambda w, a, r: via_sdk(lambda: _validation_set_as(r, a).add_rapid(
        a.sdk.validation.rapid.compare_rapid(instruction="?", truth="c", datapoint=["c", "d"], data_type="text"))),
    ("validation_set", "update"): lambda w, a, r: via_sdk(lambda: as_actor(r.handle, a).update_dimensions([a.name])),
    ("validation_set", "delete"): lambda w, a, r: via_sdk(lambda: as_actor(r.handle, a).delete()),
    ("validation_set", "use_in_revision"): _use_validation_set,
    ("unlisted_audience", "get"): lambda w, a, r: via_sdk(lambda: a.sdk.audience.get_audience_by_id(r.id)),
    ("unlisted_audience", "find"): lambda w, a, r: listed(
        [x.id for x in a.sdk.audience.find_audiences(name=r.name)], r),
    ("unlisted_audience", "assign_job"): lambda w, a, r: _create_job_with(
        a, jobDefinitionId=make_definition(w, a).id, audienceId=r.id),
}


def _save_revision(definition: Any) -> int:
    definition.responses_per_datapoint = 2
    return definition.save()


# ---------------------------------------------------------------------------------------------
# Effects: did the operation change the world? (checked for allowed and refused cells alike)

def _row(w: World, r: Res) -> dict[str, Any]:
    return w.sim.store.get(r.table, r.id)


def _count(w: World, table: str, where: str, args: list[Any]) -> int:
    return w.sim.store.count(table, where, args)


def _signal_effects() -> dict[str, Callable[[World, Actor, Res], bool]]:
    return {
        "update": lambda w, a, r: _row(w, r)["name"] == f"{r.name} by {a.name}",
        "pause": lambda w, a, r: _row(w, r)["is_paused"] is True or _row(w, r)["is_paused"] == 1,
        "resume": lambda w, a, r: not _row(w, r)["is_paused"],
        "trigger": lambda w, a, r: (_row(w, r)["pending_triggers"] or 0) == 1,
        "delete": lambda w, a, r: bool(_row(w, r)["deleted"]),
    }


EFFECTS: dict[tuple[str, str], Callable[[World, Actor, Res], bool]] = {
    **{("private_signal", op): fn for op, fn in _signal_effects().items()},
    **{("public_signal", op): fn for op, fn in _signal_effects().items()},
    ("job", "pause"): lambda w, a, r: _row(w, r)["state"] == "Paused",
    ("job", "resume"): lambda w, a, r: _row(w, r)["state"] == "Running",
    ("job", "delete"): lambda w, a, r: bool(_row(w, r)["deleted"]),
    ("job", "as_preceding_job"): lambda w, a, r: _count(w, "jobs", "preceding_job_id = ?", [r.id]) == 1,
    ("job_results", "preliminary"): lambda w, a, r: _count(w, "preliminary_downloads", "job_id = ?", [r.id]) == 1,
    ("job_definition", "rename"): lambda w, a, r: _row(w, r)["name"] == f"{r.name} by {a.name}",
    ("job_definition", "create_revision"): lambda w, a, r: _row(w, r)["latest_revision"] == 2,
    ("job_definition", "delete"): lambda w, a, r: bool(_row(w, r)["deleted"]),
    ("job_definition", "assign_job"): lambda w, a, r: _count(w, "jobs", "definition_id = ?", [r.id]) == 1,
    ("job_definition", "create_signal"): lambda w, a, r: _count(w, "signals", "job_definition_id = ?", [r.id]) == 2,
    ("custom_audience", "update"): lambda w, a, r: _row(w, r)["name"] == f"{r.name} by {a.name}",
    ("custom_audience", "recruit"): lambda w, a, r: _row(w, r)["status"] != "Created",
    ("custom_audience", "filter"): lambda w, a, r: _count(
        w, "audiences", "base_audience_id = ? AND id != ?", [r.id, r.id]) == 1,
    ("custom_audience", "assign_job"): lambda w, a, r: _count(w, "jobs", "audience_id = ?", [r.id]) == 1,
    ("custom_audience", "delete"): lambda w, a, r: bool(_row(w, r)["deleted"]),
    ("flow", "update"): lambda w, a, r: _row(w, r)["criteria"] == f"{r.name} by {a.name}",
    ("flow", "delete"): lambda w, a, r: bool(_row(w, r)["deleted"]),
    ("benchmark", "create_leaderboard"): lambda w, a, r: _count(w, "leaderboards", "benchmark_id = ?", [r.id]) == 1,
    ("benchmark", "disable_participant"): lambda w, a, r: w.sim.store.get(
        "participants", r.extra["participant"].id)["status"] == "Disabled",
    ("validation_set", "add_rapid"): lambda w, a, r: _count(
        w, "validation_rapids", "validation_set_id = ?", [r.id]) == 2,
    ("validation_set", "update"): lambda w, a, r: _row(w, r)["dimensions"] == [a.name],
    ("validation_set", "delete"): lambda w, a, r: bool(_row(w, r)["deleted"]),
    ("validation_set", "use_in_revision"): lambda w, a, r: _count(
        w, "revisions", "validation_set_id = ?", [r.id]) == 1,
    ("unlisted_audience", "assign_job"): lambda w, a, r: _count(w, "jobs", "audience_id = ?", [r.id]) == 1,
}


def _baseline(w: World, resource: str, op: str, r: Res) -> None:
    """Counts an effect compares against (e.g. a signal already exists on the definition)."""
    if (resource, op) == ("job_definition", "create_signal"):
        # One signal of the owner's on the definition, so "2" means the actor's one was created.
        r.owner.sdk.signals.create_signal(name=f"{r.name} own", audience="global", job_definition=r.handle,
                                          interval_hours=LONG)


def test_the_table_covers_every_operation():
    assert set(EXPECT) == set(OPS)
    assert set(EFFECTS) <= set(OPS)
    for outcome in EXPECT.values():
        assert len(outcome) == 3


# ---------------------------------------------------------------------------------------------
# EXPECT as the table in docs/isolation.md (between the markers), which must stay current.

PAGE = Path(__file__).resolve().parents[2] / "docs" / "isolation.md"
START_MARKER, END_MARKER = "<!-- isolation-matrix:start -->", "<!-- isolation-matrix:end -->"
RESOURCE_LABELS = {"private_signal": "private signal", "public_signal": "public signal", "job": "job",
                   "job_results": "job results", "job_definition": "job definition",
                   "custom_audience": "custom audience", "flow": "flow", "flow_item": "flow item",
                   "benchmark": "benchmark", "validation_set": "validation set",
                   "unlisted_audience": "unlisted audience"}
OP_LABELS = {"find": "listed by `find_*`", "runs": "runs (`get_jobs`)", "run_by_id": "run by id",
             "job_of_run": "the job of one of its runs", "cost_estimate": "cost estimate",
             "as_preceding_job": "named as `precedingJobId` of a new job", "get_results": "`get_results()`",
             "preliminary": "preliminary results", "preliminary_by_id": "a preliminary download by id",
             "latest_revision": "latest revision", "revision_by_number": "revision *n*",
             "create_revision": "new revision (`save()`)", "create_signal": "used by a new signal",
             "user_metrics": "recruiting metrics", "recruit": "start recruiting", "filter": "filtered view",
             "standings": "overall standings", "create_leaderboard": "gets a new leaderboard",
             "disable_participant": "one of its participants disabled",
             "rapids": "its rapids", "add_rapid": "`add_rapid`", "use_in_revision": "named by a new revision"}
OP_LABELS_BY_RESOURCE = {("job_definition", "assign_job"): "used by a new job",
                         ("custom_audience", "assign_job"): "assigned a job", ("custom_audience", "update"): "rename",
                         ("flow", "items"): "its items (`get_flow_items`)", ("flow", "update"): "`update_config`",
                         ("flow_item", "status"): "`get_status()`", ("flow_item", "results"): "`get_results()`",
                         ("flow_item", "win_loss_matrix"): "`get_win_loss_matrix()`",
                         ("unlisted_audience", "assign_job"): "assigned a job",
                         ("validation_set", "update"): "`update_dimensions`"}


def render_matrix() -> str:
    """``EXPECT`` as markdown: per resource, the operations that share an outcome in one row."""
    def cell(outcome: Any) -> str:
        return {OK: "✓", LISTED: "listed", HIDDEN: "hidden", 403: "**403**"}.get(outcome, str(outcome))

    groups: dict[tuple[str, tuple[Any, ...]], list[str]] = {}
    for (resource, op), outcome in EXPECT.items():
        label = OP_LABELS_BY_RESOURCE.get((resource, op), OP_LABELS.get(op, op.replace("_", " ")))
        groups.setdefault((resource, tuple(outcome)), []).append(label)
    checks = len(EXPECT) * len(RELATIONS) * (2 + len(next(iter(RELATIONS.values()))[1]))
    lines = [f"{len(EXPECT)} (resource, operation) pairs, each checked with the owner in either organization "
             f"against all four users: {checks} checks.", "",
             "| resource | operation | owner | same-org colleague | other-org user |", "|---|---|---|---|---|"]
    for (resource, outcome), ops in groups.items():
        lines.append(f"| {RESOURCE_LABELS[resource]} | {', '.join(ops)} | {' | '.join(map(cell, outcome))} |")
    return "\n".join(lines) + "\n"


def test_docs_hold_the_current_matrix():
    text = PAGE.read_text(encoding="utf-8")
    block = text.split(START_MARKER, 1)[1].split(END_MARKER, 1)[0]
    assert block.strip("\n") == render_matrix().strip("\n"), "docs/isolation.md's matrix is stale: render_matrix()"


@pytest.mark.parametrize("owner_name", sorted(RELATIONS))
@pytest.mark.parametrize("resource,op", sorted(EXPECT))
def test_matrix(world, resource, op, owner_name):
    owner = world.actors[owner_name]
    colleague, strangers = RELATIONS[owner_name]
    cells = [("owner", owner_name), ("colleague", colleague)] + [("other-org", s) for s in strangers]
    expected_by_relation = dict(zip(("owner", "colleague", "other-org"), EXPECT[(resource, op)]))
    wrong = []
    for relation, actor_name in cells:
        actor = world.actors[actor_name]
        assert actor.org == owner.org if relation != "other-org" else actor.org != owner.org
        res = MAKE[resource](world, owner)
        prepare(world, resource, op, res)
        _baseline(world, resource, op, res)
        before = _row(world, res)
        jobs_before = world.sim.store.count("jobs", "1 = 1", [])
        expected = expected_by_relation[relation]
        got = OPS[(resource, op)](world, actor, res)
        if got != expected:
            wrong.append(f"{relation} ({actor_name}): expected {expected}, got {got}")
            continue
        effect = EFFECTS.get((resource, op))
        if effect is not None:
            happened = effect(world, actor, res)
            if happened != (got == OK):
                wrong.append(f"{relation} ({actor_name}): {got}, but the effect "
                             f"{'happened' if happened else 'did not happen'}")
        if got not in (OK, LISTED, HIDDEN):
            # A refusal writes nothing: the row is as it was, and no job appeared anywhere.
            if _row(world, res) != before:
                wrong.append(f"{relation} ({actor_name}): refused with {got}, yet the row changed")
            if world.sim.store.count("jobs", "1 = 1", []) != jobs_before:
                wrong.append(f"{relation} ({actor_name}): refused with {got}, yet a job was created")
    assert not wrong, f"{resource}.{op} owned by {owner_name}:\n" + "\n".join(wrong)


def test_public_audiences_are_read_by_all_and_changed_by_none(world):
    """Rapidata's public audiences (seed data): everyone reads them and may use them; nobody
    outside org_rapidata may change or delete them (404, as another organization's object)."""
    for actor in world.actors.values():
        assert actor.sdk.audience.get_audience_by_id("global").name == "Global"
        assert {"global", "aud_MU1GZYoESyO"} <= {a.id for a in actor.sdk.audience.find_audiences(amount=100)}
        assert via_http(actor.http.patch("/audience/global", json={"name": "mine"})) == 404
        assert via_http(actor.http.delete("/audience/global")) == 404
    row = world.sim.store.get("audiences", "global")
    assert row["name"] == "Global" and not row["deleted"]


# ---------------------------------------------------------------------------------------------
# Worlds: one server, one world per credential; same seed, so the same ids in each.

@pytest.fixture
def worlds_server(tmp_path, monkeypatch):
    offline_sdk.quiet_env(monkeypatch.setenv)
    monkeypatch.setenv("HOME", str(tmp_path))
    offline_sdk.skip_version_check(monkeypatch.setattr)
    srv = WorldsServer(Worlds(seed=5, speed=0)).start()
    yield srv
    srv.stop()


def _build(client: Any) -> dict[str, Any]:
    d = client.job.create_free_text_job_definition(name="same", instruction="?", datapoints=["t"],
                                                   data_type="text", responses_per_datapoint=1)
    s = client.signals.create_signal(name="same", audience="global", job_definition=d, interval_hours=24)
    a = client.audience.create_audience(name="same")
    j = client.audience.get_audience_by_id("global").assign_job(d)
    return {"definition": d, "signal": s, "audience": a, "job": j}


def test_worlds_never_see_each_other(worlds_server):
    alice = worlds_server.client("iso-alice", "alice-secret")
    bob = worlds_server.client("iso-bob", "bob-secret")
    a, b = _build(alice), _build(bob)
    # Same seed, same history: both worlds hold the very same ids and names.
    assert {k: v.id for k, v in a.items()} == {k: v.id for k, v in b.items()}

    # Alice changes all of hers; Bob's twins stay as they were.
    a["signal"].update(name="alice renamed")
    a["signal"].pause()
    a["definition"].responses_per_datapoint = 3
    assert a["definition"].save() == 2
    a["audience"].update_name("alice's audience")
    a["job"].delete()
    extra = _build(alice)  # ids that exist only in Alice's world

    assert bob.signals.get_signal_by_id(b["signal"].id).name == "same"
    assert bob.signals.get_signal_by_id(b["signal"].id).is_paused is False
    assert [r.revision for r in b["definition"].revisions()] == [1]
    assert bob.audience.get_audience_by_id(b["audience"].id).name == "same"
    assert bob.job.get_job_by_id(b["job"].id).get_status() == "Running"
    assert [s.name for s in bob.signals.find_signals()] == ["same"]
    assert [j.id for j in bob.job.find_jobs()] == [b["job"].id]
    assert len(bob.job.find_job_definitions()) == 1

    # Alice's world-only ids do not exist for Bob, for reading or writing.
    raw = https_client(worlds_server, creds=("iso-bob", "bob-secret"))
    try:
        for path in (f"/signal/{extra['signal'].id}", f"/job/{extra['job'].id}",
                     f"/job/definition/{extra['definition'].id}", f"/audience/{extra['audience'].id}"):
            assert via_http(raw.get(path)) == 404, path
        assert via_http(raw.post(f"/signal/{extra['signal'].id}/pause")) == 404
        assert via_http(raw.delete(f"/job/{extra['job'].id}")) == 404
        assert via_http(raw.post("/job", json={"jobDefinitionId": extra["definition"].id,
                                               "audienceId": "global"})) == 400
        # The control surface is per world too: Bob's counters know no Alice-only signal, his event
        # log holds no event of Alice's world, and without a token there is no control at all.
        assert via_http(raw.get(f"/_sim/signals/{extra['signal'].id}/counters")) == 404
        events = raw.get("/_sim/events").text
        assert "iso-bob" in events and "iso-alice" not in events and "alice renamed" not in events
        anonymous = https_client(worlds_server, creds=None)
        assert anonymous.get("/_sim/events").status_code == 401
        assert anonymous.post("/_sim/clock/advance", json={"seconds": 60}).status_code == 401
        anonymous.close()
    finally:
        raw.close()
    assert alice.signals.get_signal_by_id(extra["signal"].id).is_paused is False
    assert alice.job.get_job_by_id(extra["job"].id).get_status() == "Running"

    # The seed clients stay in the default world: its lists hold none of Alice's or Bob's.
    default = worlds_server.client("rapidata-sim", "rapidata-sim-secret")
    assert default.signals.find_signals() == []
    assert default.job.find_jobs() == []
