"""Self-tests of the contract checker (tests/support/contract.py): each one can fail if the checker goes soft."""

from __future__ import annotations

import json

import pytest

from support.contract import EXTRA_STATUSES, NOT_IN_SPEC, Contract, spec_dir

PROBLEM = "application/problem+json"
JSON = "application/json"


@pytest.fixture(scope="module")
def contract() -> Contract:
    return Contract.load(spec_dir())


def signal_body(**changes) -> dict:
    body = {
        "id": "sig_1a2b3c", "name": "Daily prompt alignment", "description": None,
        "audienceId": "aud_MU1GZYoESyO", "jobDefinitionId": "jd_1a2b3c", "revisionNumber": None,
        "intervalSeconds": 86400, "nextRunAt": "2026-08-22T10:00:00.1234567Z", "lastRunAt": None,
        "isPaused": False, "isPublic": False, "ownerId": "8a1c2b3d-0000-4000-8000-000000000001",
        "ownerMail": "sim@example.com", "organizationId": "org_sim", "createdAt": "2026-08-21T10:00:00+00:00",
    }
    body.update(changes)
    return body


def check_signal(contract: Contract, body: dict) -> list[str]:
    return contract.check("GET", "/signal/sig_1a2b3c", 200, json.dumps(body).encode(), JSON)


def test_load_fails_clearly_when_the_folder_is_missing(tmp_path):
    with pytest.raises(RuntimeError, match="OpenAPI specs folder not found"):
        Contract.load(tmp_path / "nope")


def test_valid_signal_passes(contract):
    assert check_signal(contract, signal_body()) == []


def test_interval_as_string_fails(contract):
    problems = check_signal(contract, signal_body(intervalSeconds="86400"))
    assert len(problems) == 1 and "intervalSeconds" in problems[0] and "integer" in problems[0], problems


def test_missing_required_field_fails(contract):
    body = signal_body()
    del body["nextRunAt"]
    problems = check_signal(contract, body)
    assert any("'nextRunAt' is a required property" in p for p in problems), problems


def test_formats_and_nullability_are_checked(contract):
    assert check_signal(contract, signal_body(createdAt="2026-08-21T10:00:00")) != []  # naive: no offset
    assert check_signal(contract, signal_body(ownerId="not-a-uuid")) != []
    assert check_signal(contract, signal_body(isPaused=None)) != []  # not nullable
    assert check_signal(contract, signal_body(lastRunAt="2026-08-21T11:00:00Z")) == []


def test_undeclared_status_fails(contract):
    problems = contract.check("GET", "/signal/sig_1a2b3c", 201, json.dumps(signal_body()).encode(), JSON)
    assert any("status 201 is not declared" in p for p in problems), problems
    problems = contract.check("GET", "/signal/sig_1", 500, b'{"title":"Internal Server Error","status":500}', PROBLEM)
    assert any("status 500 is not declared" in p for p in problems), problems


def test_404_problem_passes(contract):
    body = b'{"type":"https://tools.ietf.org/html/rfc9110#section-15.5.5","title":"Not Found","status":404}'
    assert 404 in EXTRA_STATUSES
    assert contract.check("GET", "/signal/sig_nope", 404, body, PROBLEM) == []


def test_bad_problems_fail(contract):
    good = b'{"title":"Not Found","status":404}'
    assert contract.check("GET", "/signal/x", 404, good, JSON) != []  # wrong content type
    assert contract.check("GET", "/signal/x", 404, b'{"title":"Not Found","status":400}', PROBLEM) != []
    assert contract.check("GET", "/signal/x", 404, b'{"status":404}', PROBLEM) != []  # no title
    no_errors = b'{"title":"One or more validation errors occurred.","status":400}'
    assert any("errors" in p for p in contract.check("POST", "/signal", 400, no_errors, PROBLEM))
    ok = b'{"title":"One or more validation errors occurred.","status":400,"errors":{"name":["Required."]}}'
    assert contract.check("POST", "/signal", 400, ok, PROBLEM) == []


def test_409_only_where_allow_listed(contract):
    conflict = b'{"title":"Conflict","status":409,"latestRevisionNumber":2}'
    assert contract.check("POST", "/job/definition/jd_1/revision", 409, conflict, PROBLEM) == []
    assert contract.check("GET", "/job/definition/jd_1/cost-estimate", 409, conflict, PROBLEM) == []
    assert contract.check("DELETE", "/signal/sig_1", 409, conflict, PROBLEM) != []


def test_path_matching_prefers_literal_segments(contract):
    by_id = contract.operation("GET", "/signal/run/abc")
    listing = contract.operation("GET", "/signal/abc/run")
    assert by_id is not None and by_id.template == "/signal/run/{runId}"
    assert listing is not None and listing.template == "/signal/{signalId}/run"
    assert contract.operation("GET", "/signal/run/run").template == "/signal/run/{runId}"
    assert contract.operation("GET", "/signal/abc/run?page=1&page_size=20&sort=-started_at").template == \
        "/signal/{signalId}/run"
    assert contract.operation("POST", "/signal/run/abc") is None


def test_unknown_operation_fails_and_allow_list_passes(contract):
    assert any("no such operation" in p for p in contract.check("GET", "/signal/abc/runs", 200, b"{}", JSON))
    assert "/connect/token" in NOT_IN_SPEC
    assert contract.check("POST", "/connect/token", 200, b'{"access_token":"t"}', JSON) == []
    assert contract.check("GET", "/audience/unlisted/ula_1", 200, b"{}", JSON) == []
    assert contract.operation("GET", "/audience/unlisted/ula_1") is None


def test_nested_oneof_discriminator_is_checked(contract):
    """A wrong ``_t`` in a nested oneOf makes the SDK raise; the checker must catch it too."""

    def check(body: dict) -> list[str]:
        return contract.check("GET", "/audience/aud_1", 200, json.dumps(body).encode(), JSON)

    audience = {
        "id": "aud_1", "baseAudienceId": "aud_1", "filter": None, "name": "Alignment", "status": "Ready",
        "qualifiedUserCount": 10, "filters": [{"_t": "LanguageFilter", "languages": ["en"]}],
        "createdAt": "2026-08-21T10:00:00Z", "ownerId": "8a1c2b3d-0000-4000-8000-000000000001",
        "ownerMail": "sim@example.com", "organizationId": "org_sim", "isPublic": True, "isDistilling": False,
        "distillingCampaignId": "c_1", "graduationRule": {"_t": "ScoreThreshold", "graduationScore": 0.5},
        "distillingRetrievalMode": "Random", "boostLevel": "None",
    }
    assert check(audience) == []
    bad_t = check(dict(audience, filters=[{"_t": "NoSuchFilter", "languages": ["en"]}]))
    assert any("$.filters[0]" in p for p in bad_t), bad_t
    no_t = check(dict(audience, graduationRule={"graduationScore": 0.5}))
    assert any("$.graduationRule" in p for p in no_t), no_t
    wrong_branch = check(dict(audience, graduationRule={"_t": "TaskAccuracy", "graduationScore": 0.5}))
    assert any("targetAccuracy" in p for p in wrong_branch), wrong_branch


def test_sdk_only_fields_are_accepted(contract):
    """3.27.1 requires fields the specs lack; that only works while no schema forbids extra properties."""
    progress = {"completionPercentage": 100, "total": 4, "completed": 4, "state": "Done", "responseCount": 40}
    assert contract.check("GET", "/job/job_1/progress", 200, json.dumps(progress).encode(), JSON) == []
    metrics = {"usersPerState": {"Graduated": 25}, "capacity": "Sufficient"}
    assert contract.check("GET", "/audience/aud_1/user-metrics", 200, json.dumps(metrics).encode(), JSON) == []
    del progress["total"]
    assert contract.check("GET", "/job/job_1/progress", 200, json.dumps(progress).encode(), JSON) != []


def test_literal_segments_win_regardless_of_spec_order():
    """The specs happen to list /signal/run/{runId} first; a templated-first spec must not change the match."""
    ok = {"200": {"description": "OK"}}
    spec = {"openapi": "3.0.4", "paths": {
        "/audience/{audienceId}/{view}": {"get": {"responses": ok}},
        "/signal/{signalId}/run": {"get": {"responses": ok}},
        "/signal/run/{runId}": {"get": {"responses": ok}},
    }, "components": {"schemas": {"ValidationProblemDetails": {"type": "object"}}}}
    contract = Contract({"synthetic": spec})
    assert contract.operation("GET", "/signal/run/run").template == "/signal/run/{runId}"
    assert contract.operation("GET", "/signal/abc/run").template == "/signal/{signalId}/run"
    # NOT_IN_SPEC's /audience/unlisted/{audienceId} is literal at segment 2, so it beats {audienceId}/{view}
    assert contract.not_in_spec("GET", "/audience/unlisted/ula_1") == "/audience/unlisted/{audienceId}"
    assert contract.operation("GET", "/audience/aud_1/jobs").template == "/audience/{audienceId}/{view}"
