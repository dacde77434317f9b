"""Schemathesis over the real service's OpenAPI specs, in-process against one world's ASGI app.

Every spec operation the app serves (``coverage_table.implemented_operations()``: derived from the app's
routes, not a hand list) gets a bounded number of generated requests — schema-valid ones (half of them
aimed at objects that exist, the other half at generated ids) and schema-invalid ones — sent with a
bearer token of the seed user straight into the ASGI app (no sockets). Every response must:

- not be a 5xx (``not_a_server_error``);
- have a status the spec declares (``status_code_conformance``);
- have a documented content type and validate against the documented schema
  (``content_type_conformance``, ``response_schema_conformance``; schemathesis' own validator);
- pass ``tests/support/contract.py``'s ``Contract.check`` too (the project's validator, with its OAS 3.0
  ``nullable`` reading and problem+json rules) — two independent validators over the same specs.

Deliberate differences from the specs are not switched off: they are written into the in-memory copy of
the specs that schemathesis reads (``fuzz_spec``), from ``contract.py``'s lists (``SPEC_PATCHES`` are
already applied by ``Contract.load``; ``EXTRA_STATUSES`` become declared responses) and from
``coverage_table.SCHEMATHESIS_ALLOW`` (problem+json for 4xx). Operations not served are not collected.

Budget: ``EXAMPLES`` positive + ``NEGATIVE_EXAMPLES`` negative examples per operation; the module runs in
about 15-20 s on the project's 2-core machine (53 operations, ~1,400 requests).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from support.coverage_table import EXTRA_STATUSES, implemented_operations, load_contract  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.core.failures import Failure  # noqa: E402
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,  # noqa: E402
                                         status_code_conformance)

from rapidata_sim import Clock, Simulator  # noqa: E402
from rapidata_sim.http import create_app  # noqa: E402

EXAMPLES = 20           # positive examples per operation
NEGATIVE_EXAMPLES = 8   # negative (schema-invalid) examples per operation
CREDS = ("rapidata-sim", "rapidata-sim-secret")
PROBLEM_MEDIA = "application/problem+json"

CONTRACT = load_contract()
OPERATIONS = implemented_operations(CONTRACT)


def _problem_schema(status: int) -> dict[str, Any]:
    """RFC 9457 problem details as the service sends them (``contract.py`` rule 4)."""
    return {"type": "object", "required": ["title", "status"],
            "properties": {"type": {"type": "string"}, "title": {"type": "string", "minLength": 1},
                           "status": {"type": "integer", "enum": [status]}, "detail": {"type": "string",
                                                                                      "nullable": True},
                           "traceId": {"type": "string"}}}


def fuzz_spec(name: str) -> dict[str, Any]:
    """Spec file ``name`` as ``Contract.load`` patched it, with the allow-lists written in as declarations:

    - every 4xx response is ``application/problem+json``: 400 with its ``ValidationProblemDetails`` schema,
      the others with a problem-details schema (``SCHEMATHESIS_ALLOW[("*", "*")]``, contract.py rule 4;
      the only other 4xx schema in the specs, a JSON string for bridge-token's 404, is replaced too);
    - every ``EXTRA_STATUSES`` status that applies to an operation and is not declared is declared, with a
      problem-details body (409 on revisions also carries ``latestRevisionNumber``: extra properties are
      allowed).
    """
    doc = copy.deepcopy(CONTRACT.specs[name])
    for template, item in doc["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            responses = op["responses"]
            for status, extra in EXTRA_STATUSES.items():
                if str(status) not in responses and extra.applies_to(method.upper(), template):
                    responses[str(status)] = {"description": f"allow-listed (EXTRA_STATUSES): {extra.reason}"}
            for code, response in responses.items():
                if not (code.isdigit() and 400 <= int(code) < 500):
                    continue
                if code == "400":
                    schema = {"$ref": "#/components/schemas/ValidationProblemDetails"}
                else:
                    schema = _problem_schema(int(code))
                response["content"] = {PROBLEM_MEDIA: {"schema": schema}}
    return doc


SCHEMAS = {name: schemathesis.openapi.from_dict(fuzz_spec(name)) for name in sorted(CONTRACT.specs)}


def _api_operation(method: str, template: str):
    spec = CONTRACT.operations[(method, template)].spec
    return SCHEMAS[spec][template][method]


# -- a world with one of everything, so that half the examples reach real objects -------------------------

def _seed(sim: Simulator) -> dict[str, str]:
    me = sim.principal()
    ds = sim.datasets.create(me, "ds")
    sim.datasets.add_datapoint(me, ds["id"], [{"key": "asset", "kind": "Asset", "asset": {
        "_t": "MultiAssetInput", "assets": [{"_t": "TextAssetInput", "text": "left"},
                                            {"_t": "TextAssetInput", "text": "right"}]}}])
    workflow = {"_t": "SimpleWorkflow", "rapid": {"_t": "Compare", "asset": {"segment": "asset"},
                                                  "criteria": {"literal": "?"}}}
    definition, _ = sim.definitions.create(me, name="d", workflow=workflow,
                                           referee={"_t": "NaiveReferee", "totalVotes": 3}, dataset_id=ds["id"])
    audience = sim.audiences.create_custom(me, name="mine")
    pair = {"_t": "MultiAssetInput", "assets": [{"_t": "TextAssetInput", "text": "a"},
                                                {"_t": "TextAssetInput", "text": "b"}]}
    example = sim.audiences.add_example(me, audience["id"], {  # as the SDK's add_compare_example sends it
        "asset": pair, "payload": {"_t": "CompareExamplePayload", "criteria": "?"},
        "truth": {"_t": "CompareExampleTruth", "winnerId": "a"}, "random_correct_probability": 0.5,
        "explanation": None, "context": None, "context_asset": None, "feature_flags": []})
    job = sim.jobs.create(me, definition_id=definition["id"], audience_id="global")
    signal = sim.signals.create(me, name="s", audience_id="global", job_definition_id=definition["id"],
                                interval_seconds=3600)
    sim.advance(hours=1, minutes=1)  # one scheduled firing: a run
    run = sim.store.select("signal_runs", "signal_id = ?", [signal["id"]])[0]
    batch = sim.datasets.start_batch(me, ["https://example.com/a.jpg"], "corr-1")
    flow = sim.flows.create_ranking(me, name="f", criteria="?", max_responses=6)
    two = sim.datasets.create(me, "two")
    for i, text in enumerate(("left", "right")):
        sim.datasets.add_datapoint(me, two["id"], [{"key": "asset", "kind": "Asset",
                                                    "asset": {"_t": "TextAssetInput", "text": text}}], sort_index=i)
    item = sim.flows.create_item(me, flow["id"], "Ranking", dataset_id=two["id"], time_to_live=60)
    sim.advance(minutes=2)  # the item is finished: its results and matrix are there to read
    return {"datasetId": ds["id"], "definitionId": definition["id"], "revisionNumber": 1,
            "audienceId": audience["id"], "baseAudienceId": audience["id"], "exampleId": example["id"],
            "jobId": job["id"], "signalId": signal["id"], "runId": run["id"], "batchUploadId": batch["id"],
            "flowId": flow["id"], "flowItemId": item["id"]}


@pytest.fixture
def world():
    sim = Simulator(seed=7, clock=Clock.frozen())
    ids = _seed(sim)
    token = sim.identity.issue_token(*CREDS)["access_token"]
    yield sim, create_app(sim), ids, token
    sim.close()


# -- checks ----------------------------------------------------------------------------------------------------

class ContractProblem(Failure):
    """``tests/support/contract.py`` found a problem with a response."""

    kind_title = "tests/support/contract.py: the response breaks the contract"

    @property
    def _unique_key(self) -> str:
        return self.message


def contract_check(ctx, response, case) -> None:
    raw = response.request.url.split("testserver", 1)[-1]
    problems = CONTRACT.check(case.method, raw, response.status_code, response.content,
                              response.headers.get("content-type", [None])[0])
    if problems:
        raise ContractProblem(operation=case.operation.label, message="\n".join(problems))


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          contract_check]

FUZZ_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                         suppress_health_check=list(HealthCheck))


#: Body fields that name an object -> the seeded object's key in ``_seed``'s ids.
BODY_IDS = {"audienceId": "audienceId", "jobDefinitionId": "definitionId", "definitionId": "definitionId",
            "datasetId": "datasetId", "baseAudienceId": "audienceId"}


def _aim_body(case, ids: dict[str, Any]):
    """Point a generated body's id fields at seeded objects, so that examples get past "not found"."""
    if isinstance(case.body, dict):
        for field, key in BODY_IDS.items():
            if field in case.body:
                case.body[field] = ids[key]
    return case


def _ids(key):
    return f"{key[0]} {key[1]}"


@pytest.mark.parametrize("key", OPERATIONS, ids=[_ids(k) for k in OPERATIONS])
def test_operation_conforms(key, world):
    sim, app, ids, token = world
    operation = _api_operation(*key)
    real = {p.name: ids[p.name] for p in operation.path_parameters if p.name in ids}
    positive = operation.as_strategy(GenerationMode.POSITIVE)
    if real:
        positive = st.one_of(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=real), positive)
    positive = st.tuples(positive, st.booleans()).map(lambda drawn: _aim_body(drawn[0], ids) if drawn[1] else drawn[0])
    statuses: list[int] = []

    def send(case) -> None:
        response = case.call(app=app, headers={"Authorization": f"Bearer {token}"})
        statuses.append(response.status_code)
        case.validate_response(response, checks=CHECKS)

    def run(strategy, examples: int) -> None:
        settings(FUZZ_SETTINGS, max_examples=examples)(given(case=strategy)(lambda case: send(case)))()

    run(positive, EXAMPLES)
    if operation.body or operation.query:  # a path of plain strings cannot be made schema-invalid
        run(operation.as_strategy(GenerationMode.NEGATIVE), NEGATIVE_EXAMPLES)
    assert statuses, "no request was sent"
    assert all(s < 500 for s in statuses), statuses


# -- what the fuzzer found, pinned as plain examples ------------------------------------------------------------

def _request(app, token, method, path, body=None):
    from starlette.testclient import TestClient

    with TestClient(app) as http:
        return http.request(method, path, json=body, headers={"Authorization": f"Bearer {token}"})


def test_found_filter_with_unhashable_type_is_400(world):
    sim, app, ids, token = world
    r = _request(app, token, "POST", f"/audience/{ids['audienceId']}/filter", {"filter": {"_t": [[], [1.5]]}})
    assert r.status_code == 400 and "filter[0]" in r.json()["errors"], r.text


def test_found_pausing_a_finished_job_is_a_validation_problem(world):
    sim, app, ids, token = world
    assert sim.store.get("jobs", ids["jobId"])["state"] == "Completed"
    r = _request(app, token, "POST", f"/job/{ids['jobId']}/pause")
    assert r.status_code == 400 and r.headers["content-type"] == PROBLEM_MEDIA
    assert list(r.json()["errors"]) == ["jobId"], r.text


def test_found_compare_results_with_a_single_asset_datapoint(world):
    """A dataset built by hand may hold a datapoint that is no pair: the results skip it instead of a 500."""
    sim, app, ids, token = world
    me = sim.principal()
    ds = sim.datasets.create(me, "odd")
    for asset in ({"_t": "TextAssetInput", "text": "alone"}, {"_t": "MultiAssetInput", "assets": [
            {"_t": "TextAssetInput", "text": "l"}, {"_t": "TextAssetInput", "text": "r"}]}):
        sim.datasets.add_datapoint(me, ds["id"], [{"key": "asset", "kind": "Asset", "asset": asset}])
    workflow = {"_t": "SimpleWorkflow", "rapid": {"_t": "Compare", "asset": {"segment": "asset"},
                                                  "criteria": {"literal": "?"}}}
    definition, _ = sim.definitions.create(me, name="odd", workflow=workflow,
                                           referee={"_t": "NaiveReferee", "totalVotes": 3}, dataset_id=ds["id"])
    job = sim.jobs.create(me, definition_id=definition["id"], audience_id="global")
    sim.advance(hours=6)
    r = _request(app, token, "GET", f"/job/{job['id']}/download-results")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/octet-stream"  # what the spec declares
    assert [list(item["assetUrls"]) for item in json.loads(r.content)["results"]] == [["l", "r"]]


def test_found_examples_list_assets_in_the_output_shape(world):
    """Examples are stored as sent (IAssetInput) but listed as the spec's IAsset (TextAsset, MultiAsset…)."""
    sim, app, ids, token = world
    r = _request(app, token, "GET", f"/audience/{ids['audienceId']}/examples")
    assert r.status_code == 200, r.text
    item = r.json()["items"][0]
    assert item["asset"]["_t"] == "MultiAsset"
    assert [a["_t"] for a in item["asset"]["assets"]] == ["TextAsset", "TextAsset"]
    assert item["truth"] == {"_t": "CompareExampleTruth", "winnerId": "a"}
    assert CONTRACT.check("GET", f"/audience/{ids['audienceId']}/examples", 200, r.content,
                          r.headers["content-type"]) == []


def test_allow_list_is_applied_not_checks_switched_off():
    """The fuzz specs declare the allow-listed statuses, and nothing else changed: an undeclared status (418)
    and a 2xx schema violation still fail schemathesis' own checks."""
    op = _api_operation("GET", "/signal/{signalId}")
    assert {"404", "405", "413"} <= set(op.definition.raw["responses"])
    assert "409" not in op.definition.raw["responses"]  # EXTRA_STATUSES 409 is for four operations only
    assert "409" in _api_operation("GET", "/job/{jobId}/download-results").definition.raw["responses"]
    from schemathesis.core.failures import FailureGroup

    case = op.Case(path_parameters={"signalId": "sig_x"})
    for status, body in ((418, {"type": "t", "title": "I'm a teapot", "status": 418}), (200, {"id": 1})):
        import requests

        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode()
        response.headers["Content-Type"] = PROBLEM_MEDIA if status >= 400 else "application/json"
        response.request = requests.Request("GET", "http://testserver/signal/sig_x").prepare()
        with pytest.raises(FailureGroup):
            case.validate_response(response, checks=CHECKS)
