"""The hostile-input table: attacks and mistakes, one row each, against a world served over HTTPS.

Every row of ``ROWS`` is one parametrized test. For each the test asserts

- the status the real service would give (400 ValidationProblemDetails with ``errors``, 401, 404,
  405, 413, 415 ...; the SQL-looking list filters are 200 with *no* match: literals, not code);
- the body's shape: ``application/problem+json`` with ``status`` and ``title`` (and an ``x-trace-id``);
  the token endpoint's rows are RFC 6749 OAuth errors instead (``key`` = the ``error`` code), as the
  SDK's OAuth client expects and ``contract.OAUTH_ERROR_PATHS`` requires;
- the response passes the OpenAPI contract check (``tests/support/contract.py``);
- nothing was written: the world's store snapshot is the same before and after;
- the server is still healthy: an ordinary authenticated request succeeds afterwards;
- ``server="disk"`` rows (the control surface, whose settings a world keeps and runs with) go to a
  multi-world server on a data dir: afterwards the world must still advance a day with a signal firing
  (jobs planned with whatever settings it holds), and the server must restart on the same data dir
  with every world open and answering.

The world's body limit is set low (``SimConfig.max_body_bytes``, 1 MiB here; 32 MiB by default) so
the oversized rows are cheap. ``render_table()`` prints the table as markdown.

To add a row: append a ``Row(...)`` to ``ROWS`` (``{name}`` in ``path``/``body`` refers to the ids
the ``world`` fixture makes: ``private``, ``public``, ``definition``, ``dataset``, ``job``, ``batch``,
``runsignal``, ``example_audience``, ``validation_set``; ``who`` picks the credentials, see ``_auth``).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest
from support import https_client, one_datapoint_definition

from rapidata_sim import Clock, Simulator
from rapidata_sim.simulator import SimConfig
from rapidata_sim.serving.worlds import Worlds, WorldsServer

LIMIT = 1024 * 1024  # this world's SimConfig.max_body_bytes
DEFAULT = ("rapidata-sim", "rapidata-sim-secret")
DOOMED = ("hostile-doomed", "doomed-secret")
BOUNDARY = "hostileboundary7MA4YWxkTrZu0gW"


@dataclass(frozen=True)
class Row:
    id: str
    sent: str  # what is sent, for the table
    status: int
    why: str
    method: str = "GET"
    path: str = "/signal"
    body: Any = None  # bytes | dict/list (sent as JSON) | callable(world) -> bytes | iterator
    who: str | None = "default"
    content_type: str | None = "application/json"  # only when there is a body
    key: str | None = None  # a key that must be in a 400's ``errors``
    shape: str = "problem"  # "problem" | "oauth" | "no-match"
    baseline: str | None = None  # no-match rows: the same list unfiltered, which must not be empty
    server: str = "sim"  # "sim" (one world) | "worlds" (a multi-world server) | "disk" (see below)


def multipart(filename: str, data: bytes = b"hello", content_type: str = "text/plain") -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            f"Content-Type: {content_type}\r\n\r\n").encode() + data + f"\r\n--{BOUNDARY}--\r\n".encode()


MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def signal_body(w: dict[str, Any], **over: Any) -> dict[str, Any]:
    body = {"name": "hostile", "audienceId": "global", "jobDefinitionId": w["definition"], "intervalSeconds": 3600}
    body.update(over)
    return body


def raw_signal(w: dict[str, Any], fragment: str) -> bytes:
    """A signal body whose last member is ``fragment``, raw (for what json.dumps cannot write)."""
    return (f'{{"name": "hostile", "audienceId": "global", "jobDefinitionId": "{w["definition"]}", '
            f'{fragment}}}').encode()


def definition_body(w: dict[str, Any], **over: Any) -> dict[str, Any]:
    body = {"definitionName": "hostile", "datasetId": w["dataset"],
            "workflow": {"_t": "SimpleWorkflow", "rapid": {"_t": "Compare", "criteria": {"literal": "?"}}},
            "referee": {"_t": "NaiveReferee", "totalVotes": 3}}
    body.update(over)
    return body


def chunks(total: int, size: int = 64 * 1024) -> Callable[[dict[str, Any]], Any]:
    def make(_w: dict[str, Any]) -> Any:
        def gen():
            sent = 0
            while sent < total:
                n = min(size, total - sent)
                yield b"x" * n
                sent += n
        return gen()
    return make


SQL = "' OR '1'='1' --"
ALG_NONE = ("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."
            "eyJzdWIiOiJyYXBpZGF0YS1zaW0iLCJyb2xlIjoiQWRtaW4iLCJleHAiOjQxMDI0NDQ4MDB9.")

ROWS: list[Row] = [
    # -- size and shape of the body ----------------------------------------------------------
    Row("body one byte over the limit", f"POST /signal, {LIMIT + 1} bytes with Content-Length", 413,
        "the documented limit (SimConfig.max_body_bytes) is exact", "POST", "/signal",
        lambda w: b" " * LIMIT + b"{"),
    Row("body exactly at the limit", f"POST /signal, {LIMIT} bytes of junk", 400,
        "at the limit the body is read and judged as JSON, so the 413 is not off by one", "POST", "/signal",
        lambda w: b"[" * LIMIT, key="$"),
    Row("oversized chunked body", f"POST /signal, {LIMIT + 4096} bytes chunked, no Content-Length", 413,
        "the limit is counted on the stream, not trusted from a header", "POST", "/signal",
        chunks(LIMIT + 4096)),
    Row("oversized multipart upload", f"POST /asset/file, a {LIMIT + 1}-byte file", 413,
        "uploads fall under the same limit (Starlette alone does not limit file parts)", "POST", "/asset/file",
        lambda w: multipart("big.png", b"\0" * (LIMIT + 1), "image/png"), content_type=MULTIPART),
    Row("oversized PATCH", f"PATCH /signal/{{private}}, {LIMIT + 12} bytes of JSON", 413,
        "every body-taking verb is limited", "PATCH", "/signal/{private}",
        lambda w: json.dumps({"name": "x" * LIMIT}).encode()),
    Row("100k nested arrays", "POST /signal, '[' x 100000 + ']' x 100000", 400,
        "nesting is bounded: a 400, not a RecursionError", "POST", "/signal",
        lambda w: b"[" * 100_000 + b"]" * 100_000, key="$"),
    Row("100k nested objects in a free-form field", "POST /job/definition, extra = {\"a\":{\"a\":...}} x 100000",
        400, "dict-typed fields are parsed with the same bound", "POST", "/job/definition",
        lambda w: (json.dumps(definition_body(w))[:-1] + ', "extra": ' + '{"a":' * 100_000 + "1"
                   + "}" * 100_000 + "}").encode(), key="$"),
    Row("truncated JSON", 'POST /job, \'{"jobDefinitionId": "jd_\'', 400, "cut off mid-string", "POST", "/job",
        b'{"jobDefinitionId": "jd_', key="$"),
    Row("trailing garbage after JSON", "POST /dataset, '{\"name\": \"d\"} DROP'", 400,
        "one JSON value, nothing after it", "POST", "/dataset", b'{"name": "d"} DROP', key="$"),
    Row("empty body", "POST /dataset, 0 bytes, application/json", 400, "a required body is missing",
        "POST", "/dataset", b""),
    Row("JSON with comments and single quotes", "POST /dataset, \"{'name': 'd' /* hi */}\"", 400,
        "strict JSON only", "POST", "/dataset", b"{'name': 'd' /* hi */}", key="$"),
    Row("overlong UTF-8 in a JSON string", "POST /dataset, name bytes C0 AF", 400,
        "an overlong encoding of '/' is not UTF-8", "POST", "/dataset", b'{"name": "\xc0\xaf"}'),
    Row("lone surrogate escape", 'POST /dataset, {"name": "\\ud800"}', 400,
        "valid JSON syntax, but not a Unicode string the store can hold", "POST", "/dataset",
        b'{"name": "\\ud800"}'),
    Row("NaN literal", 'POST /audience/{example_audience}/example, "randomCorrectProbability": NaN', 400,
        "System.Text.Json rejects NaN; storing it would make later responses invalid JSON", "POST",
        "/audience/{example_audience}/example",
        b'{"asset": {"_t": "TextAssetInput", "text": "t"}, "payload": {"_t": "ClassifyPayload"}, '
        b'"randomCorrectProbability": NaN}', key="$"),
    Row("Infinity inside a free-form object", "POST /job/definition, referee.totalVotes = Infinity", 400,
        "not a JSON number, wherever it sits", "POST", "/job/definition",
        lambda w: json.dumps(definition_body(w)).replace('"totalVotes": 3', '"totalVotes": Infinity').encode(),
        key="$"),
    Row("-Infinity as an integer", "POST /signal, intervalSeconds: -Infinity", 400, "not a JSON number",
        "POST", "/signal", lambda w: raw_signal(w, '"intervalSeconds": -Infinity'), key="$"),
    Row("duplicate keys", 'POST /signal, "intervalSeconds": 3600, "intervalSeconds": 5', 400,
        "which one wins is ambiguous between parsers; refuse rather than guess", "POST", "/signal",
        lambda w: raw_signal(w, '"intervalSeconds": 3600, "intervalSeconds": 5'), key="$"),
    Row("duplicate discriminator", 'POST /job/definition, workflow {"_t": "SimpleWorkflow", "_t": "Nope"}', 400,
        "a type confusion through a repeated _t", "POST", "/job/definition",
        lambda w: json.dumps(definition_body(w)).replace('"_t": "SimpleWorkflow"',
                                                         '"_t": "SimpleWorkflow", "_t": "Nope"').encode(), key="$"),
    Row("huge integer interval", "POST /signal, intervalSeconds: 10**30", 400,
        "int32 on the service; never an overflow in date arithmetic or SQLite", "POST", "/signal",
        lambda w: signal_body(w, intervalSeconds=10**30), key="intervalSeconds"),
    Row("integer past int64 for a revision", "POST /job, revisionNumber: 2**63", 400,
        "SQLite cannot bind it: must be a 400, not an OverflowError", "POST", "/job",
        lambda w: {"jobDefinitionId": w["definition"], "audienceId": "global", "revisionNumber": 2**63},
        key="revisionNumber"),
    Row("5000-digit integer", "POST /dataset/{dataset}/datapoint, sortIndex: 9 x 5000", 400,
        "past Python's int-parsing digit limit", "POST", "/dataset/{dataset}/datapoint",
        lambda w: b'{"asset": {"_t": "TextAssetInput", "text": "t"}, "sortIndex": ' + b"9" * 5000 + b"}"),
    Row("huge revision number in the path", "GET /job/definition/{definition}/revision/99999999999999999999",
        400, "path integers are int32 too", "GET", "/job/definition/{definition}/revision/99999999999999999999",
        key="revisionNumber"),
    # -- the control surface: settings a world keeps, and time ---------------------------------
    # Each is a 400 naming the field, and the world still fires, advances and restarts afterwards.
    *[Row(f"crowd setting: {label}", f"{method} /_sim/audiences/global/{what}, {json.dumps(body)}", 400,
          "a crowd setting that could not run is refused when it is set, naming its field (once stored, "
          "every job planned with it would fail, and so would the world's restart)", method,
          f"/_sim/audiences/global/{what}", body, who="disk", key=key, server="disk")
      for label, method, what, body, key in [
          ("classify truth a number", "PUT", "behaviour", {"behaviour": {"classify": {"truth": 5}}},
           "behaviour.classify.truth"),
          ("classify distribution of text", "PUT", "behaviour",
           {"behaviour": {"classify": {"distribution": {"Cat": "x"}}}}, "behaviour.classify.distribution.Cat"),
          ("classify confusion a list", "PUT", "behaviour", {"behaviour": {"classify": {"confusion": [1]}}},
           "behaviour.classify.confusion"),
          ("compare strength text", "PUT", "behaviour", {"behaviour": {"compare": {"strength": "x"}}},
           "behaviour.compare.strength"),
          ("compare quality text", "PUT", "behaviour", {"behaviour": {"compare": {"quality": "abc"}}},
           "behaviour.compare.quality"),
          ("compare quality of words", "PUT", "behaviour", {"behaviour": {"compare": {"quality": {"*": "high"}}}},
           "behaviour.compare.quality.*"),
          ("compare strength 1e300", "PUT", "behaviour", {"behaviour": {"compare": {"strength": 1e300}}},
           "behaviour.compare.strength"),
          ("free-text answers a number", "PUT", "behaviour", {"behaviour": {"free_text": {"answers": 5}}},
           "behaviour.free_text.answers"),
          ("no countries", "PATCH", "population", {"population": {"countries": {}}}, "population.countries"),
          ("ages a list", "PATCH", "population", {"population": {"ages": [1, 2]}}, "population.ages"),
          ("no genders", "PATCH", "population", {"population": {"genders": {}}}, "population.genders"),
          ("negative country weight", "PATCH", "population", {"population": {"countries": {"US": ["en", -1]}}},
           "population.countries"),
          ("distilling for 1e300 hours", "PATCH", "population", {"population": {"distill_hours": 1e300}},
           "population.distill_hours"),
      ]],
    *[Row(f"time: {label}", f"{method} {path}, {json.dumps(body)}", 400,
          "every input that moves time stays inside the simulated calendar (1900 to 9000, spans of at most "
          "100 years), so no world's clock can overflow the year 9999", method, path, body, who="disk", key=key,
          server="disk")
      for label, method, path, body, key in [
          ("advance to 9999-12-31T23:59", "POST", "/_sim/clock/advance", {"to": "9999-12-31T23:59:00Z"}, "to"),
          ("advance to the last microsecond", "POST", "/_sim/clock/advance",
           {"to": "9999-12-31T23:59:59.999999Z"}, "to"),
          ("advance to year 0 in UTC", "POST", "/_sim/clock/advance", {"to": "0001-01-01T00:00:00+01:00"}, "to"),
          ("advance 1e13 seconds", "POST", "/_sim/clock/advance", {"seconds": 1e13}, "seconds"),
          ("advance 1e300 seconds", "POST", "/_sim/clock/advance", {"seconds": 1e300}, "seconds"),
          ("speed 1e12", "PATCH", "/_sim/clock", {"speed": 1e12}, "speed"),
          ("outage of 1e13 seconds", "POST", "/_sim/outage", {"seconds": 1e13}, "seconds"),
          ("outage of 1e300 seconds", "POST", "/_sim/outage", {"seconds": 1e300}, "seconds"),
          ("fault after 1e300 seconds", "POST", "/_sim/faults",
           {"state": "Failed", "audienceId": "global", "afterSeconds": 1e300}, "afterSeconds"),
          ("fault for 10**30 jobs", "POST", "/_sim/faults",
           {"state": "Failed", "audienceId": "global", "jobs": 10**30}, "jobs"),
          ("trigger latency 1e300 s", "PATCH", "/_sim/policy", {"triggerLatencySeconds": 1e300},
           "triggerLatencySeconds"),
          ("behaviour from year 9999", "PUT", "/_sim/audiences/global/behaviour",
           {"behaviour": {}, "at": "9999-12-31T00:00:00Z"}, "at"),
          ("behaviour from year 0 in UTC", "PUT", "/_sim/audiences/global/behaviour",
           {"behaviour": {}, "at": "0001-01-01T00:00:00+01:00"}, "at"),
          ("reset to year 1", "POST", "/_sim/worlds/{disk_world}/reset", {"start": "0001-01-01T00:00:00Z"}, "body"),
      ]],
    # -- numbers, instants and sizes the store or the calendar cannot take (issue 16) ------------
    Row("reset to year 0 in UTC", "POST /_sim/worlds/{disk_world}/reset, {\"start\": \"0001-01-01T00:00:00+01:00\"}",
        400, "an instant whose UTC reading is before year 1 is outside the calendar, not an overflow", "POST",
        "/_sim/worlds/{disk_world}/reset", {"start": "0001-01-01T00:00:00+01:00"}, who="disk", key="body",
        server="disk"),
    *[Row(f"event log since {label}", f"GET /_sim/events?since={label}", 400,
          "a sequence number is a SQLite integer: past it, a 400 naming the range", "GET",
          f"/_sim/events?since={value}", who="disk", key="since", server="disk")
      for label, value in (("10**30", 10**30), ("-10**30", -10**30))],
    Row("event log page of 0", "GET /_sim/events?limit=0", 400, "a page holds 1 to 100000 events", "GET",
        "/_sim/events?limit=0", who="disk", key="limit", server="disk"),
    *[Row(f"{label} across 175,200 hourly firings", f"POST {path}, {json.dumps(body)} (an hourly signal)", 400,
          "one request crosses at most 100,000 grid points (SimConfig.max_firings_per_request), refused "
          "before anything is written, so no request holds its world for minutes", "POST", path, body,
          who="disk", key="seconds", server="disk")
      for label, path, body in (("advance 20 years", "/_sim/clock/advance", {"seconds": 20 * 365 * 86400}),
                                ("outage of 20 years", "/_sim/outage", {"seconds": 20 * 365 * 86400}))],
    Row("list filter from year 0 in UTC", "GET /audiences?created_at[gt]=0001-01-01T00:00:00+01:00", 400,
        "an instant before year 1 in UTC is not one", "GET",
        "/audiences?created_at%5Bgt%5D=0001-01-01T00:00:00%2B01:00", key="created_at[gt]"),
    Row("list filter past year 9999 in UTC", "GET /jobs?created_at[lt]=9999-12-31T23:59:59-01:00", 400,
        "nor one after year 9999", "GET", "/jobs?created_at%5Blt%5D=9999-12-31T23:59:59-01:00",
        key="created_at[lt]"),
    Row("run filter from year 0 in UTC", "GET /signal/{runsignal}/run?started_at[gte]=0001-01-01T00:00:00+01:00", 400,
        "the runs list parses instants the same way", "GET",
        "/signal/{runsignal}/run?started_at%5Bgte%5D=0001-01-01T00:00:00%2B01:00", key="started_at[gte]"),
    Row("sort given 2001 times", "GET /audiences?sort=name&sort=name... (2001 times)", 400,
        "at most 20 sort keys (SQLite refuses an ORDER BY of more than 10000 terms)", "GET",
        "/audiences?" + "&".join(["sort=name"] * 2001), key="sort"),
    Row("60000-character name[contains]", "GET /audiences?name[contains]=a...a (60000)", 400,
        "a text filter looks for at most 10000 characters (SQLite refuses LIKE patterns past 50000 bytes)",
        "GET", "/audiences?name%5Bcontains%5D=" + "a" * 60_000, key="name[contains]"),
    Row("unclosed IPv6 host in an asset URL", "POST /asset/url?url=http://[::1", 400,
        "not a URL: refused like any other", "POST", "/asset/url?url=http%3A%2F%2F%5B%3A%3A1", key="url"),
    Row("Arabic-Indic digit as a page size", "GET /audiences?page_size=\u0665", 400,
        "integers are ASCII digits, as .NET parses them (Python's int() would read 5)", "GET",
        "/audiences?page_size=%D9%A5", key="page_size"),
    Row("underscore in a page number", "GET /audiences?page=1_000", 400,
        "nor does .NET read digit separators (Python's int() would read 1000)", "GET", "/audiences?page=1_000",
        key="page"),
    # -- unknown discriminators ----------------------------------------------------------------
    Row("unknown referee _t", 'POST /job/definition, referee {"_t": "DropTables"}', 400,
        "discriminators come from a closed set", "POST", "/job/definition",
        lambda w: definition_body(w, referee={"_t": "DropTables", "totalVotes": 1}), key="referee"),
    Row("unknown audience filter _t", 'POST /audience, filters [{"_t": "SqlFilter"}]', 400,
        "filters come from a closed set", "POST", "/audience",
        {"name": "hostile", "filters": [{"_t": "SqlFilter", "where": "1=1"}]}, key="filters[0]"),
    Row("unknown _t nested in a multi asset", "POST /dataset/{dataset}/datapoint, MultiAssetInput[{_t: Evil}]", 400,
        "nested discriminators are checked as well", "POST", "/dataset/{dataset}/datapoint",
        {"segments": [{"key": "asset", "kind": "Asset",
                       "asset": {"_t": "MultiAssetInput", "assets": [{"_t": "Evil"}]}}]},
        key="segments[0].asset.assets[0]"),
    # -- content types -----------------------------------------------------------------------
    Row("JSON route, text/plain", "POST /signal, a valid signal as text/plain", 415,
        "ASP.NET's JSON formatter refuses other media types: nothing is created", "POST", "/signal",
        lambda w: signal_body(w), content_type="text/plain"),
    Row("JSON route, form-urlencoded", "POST /job, jobDefinitionId=...&audienceId=global", 415,
        "a form is not JSON (a classic CSRF shape)", "POST", "/job",
        lambda w: f"jobDefinitionId={w['definition']}&audienceId=global".encode(),
        content_type="application/x-www-form-urlencoded"),
    Row("upload route, JSON", "POST /asset/file, application/json", 415, "the upload takes multipart/form-data",
        "POST", "/asset/file", {"file": "hello"}),
    Row("truncated multipart", "POST /asset/file, multipart without its closing boundary", 400,
        "a malformed upload is the client's fault, not a 500", "POST", "/asset/file",
        lambda w: f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n"
                  .encode(), content_type=MULTIPART, key="file"),
    # -- invalid UTF-8 in the query ------------------------------------------------------------
    Row("invalid UTF-8 in a filter value", "GET /signal?name[contains]=%FF%FE", 400,
        "undecodable bytes are refused, not turned into U+FFFD and searched for", "GET",
        "/signal?name%5Bcontains%5D=%FF%FE", key="name[contains]"),
    Row("overlong UTF-8 in a filter value", "GET /jobs?name[eq]=%C0%AF", 400, "overlong '/' is not UTF-8",
        "GET", "/jobs?name%5Beq%5D=%C0%AF", key="name[eq]"),
    # -- paging ------------------------------------------------------------------------------
    Row("negative page", "GET /jobs?page=-5", 400, "pages start at 1", "GET", "/jobs?page=-5", key="page"),
    Row("negative page size", "GET /audiences?page_size=-1", 400, "1..1000", "GET", "/audiences?page_size=-1",
        key="page_size"),
    Row("zero page size", "GET /job/definitions?page_size=0", 400, "1..1000 (no division by zero)",
        "GET", "/job/definitions?page_size=0", key="page_size"),
    Row("page past int32", "GET /signal?page=99999999999999999999", 400,
        "int32 on the service; an OFFSET that large breaks SQLite", "GET", "/signal?page=99999999999999999999",
        key="page"),
    Row("page size in exponent form", "GET /jobs?page_size=1e3", 400, "integers only", "GET",
        "/jobs?page_size=1e3", key="page_size"),
    Row("fractional page", "GET /signal/{runsignal}/run?page=1.5", 400, "integers only", "GET",
        "/signal/{runsignal}/run?page=1.5", key="page"),
    Row("SQL in sort", "GET /signal?sort=name;DROP TABLE signals", 400, "sort keys come from a closed set",
        "GET", "/signal?sort=name%3BDROP%20TABLE%20signals", key="sort"),
    Row("SQL in logic", "GET /jobs?logic=or 1=1", 400, "'and' or 'or' only", "GET", "/jobs?logic=or%201%3D1",
        key="logic"),
    # -- SQL-looking filter values: literals, matching nothing -----------------------------------
    Row("SQL in signal name[eq]", f"GET /signal?name[eq]={SQL}", 200, "bound parameter: a literal, no match",
        "GET", "/signal?name%5Beq%5D=%27%20OR%20%271%27%3D%271%27%20--", shape="no-match", baseline="/signal"),
    Row("LIKE wildcard in signal id[contains]", "GET /signal?id[contains]=%", 200,
        "'%' is escaped in LIKE: it matches a literal percent sign, not everything", "GET",
        "/signal?id%5Bcontains%5D=%25", shape="no-match", baseline="/signal"),
    Row("SQL in job name[contains]", "GET /jobs?name[contains]=') OR 1=1 --", 200, "a literal substring",
        "GET", "/jobs?name%5Bcontains%5D=%27%29%20OR%201%3D1%20--", shape="no-match", baseline="/jobs"),
    Row("SQL in job state[in]", "GET /jobs?state[in]=Running') OR ('1'='1", 200,
        "each item of an IN list is one bound value", "GET",
        "/jobs?state%5Bin%5D=Running%27%29%20OR%20%28%271%27%3D%271", shape="no-match", baseline="/jobs"),
    Row("SQL in definition name[starts_with]", "GET /job/definitions?name[starts_with]='; DROP TABLE jobs;--",
        200, "a literal prefix", "GET", "/job/definitions?name%5Bstarts_with%5D=%27%3B%20DROP%20TABLE%20jobs%3B--",
        shape="no-match", baseline="/job/definitions"),
    Row("underscore wildcard in definition name[ends_with]", "GET /job/definitions?name[ends_with]=_", 200,
        "'_' is escaped in LIKE too", "GET", "/job/definitions?name%5Bends_with%5D=_", shape="no-match",
        baseline="/job/definitions"),
    Row("SQL in audience name[contains]", "GET /audiences?name[contains]=%' OR name LIKE '%", 200,
        "a literal substring", "GET", "/audiences?name%5Bcontains%5D=%25%27%20OR%20name%20LIKE%20%27%25",
        shape="no-match", baseline="/audiences"),
    Row("SQL in audience owner_mail[eq]", f"GET /audiences?owner_mail[eq]={SQL}", 200, "a literal",
        "GET", "/audiences?owner_mail%5Beq%5D=%27%20OR%20%271%27%3D%271%27%20--", shape="no-match",
        baseline="/audiences"),
    Row("SQL in run status[eq]", f"GET /signal/{{runsignal}}/run?status[eq]={SQL}", 200, "a literal",
        "GET", "/signal/{runsignal}/run?status%5Beq%5D=%27%20OR%20%271%27%3D%271%27%20--", shape="no-match",
        baseline="/signal/{runsignal}/run"),
    Row("SQL in run audience_job_id[in]", "GET /signal/{runsignal}/run?audience_job_id[in]=x','y') OR 1=1--", 200,
        "a literal IN item", "GET", "/signal/{runsignal}/run?audience_job_id%5Bin%5D=x%27%2C%27y%27%29%20OR%201%3D1--",
        shape="no-match", baseline="/signal/{runsignal}/run"),
    # -- path traversal on the asset routes --------------------------------------------------
    Row("traversal in an upload file name", "POST /asset/file, filename=\"../../etc/passwd\"", 400,
        "the SDK sends base names; a path is refused, never stored", "POST", "/asset/file",
        lambda w: multipart("../../etc/passwd"), content_type=MULTIPART, key="file"),
    Row("url-encoded traversal in an upload file name", "POST /asset/file, filename=\"..%2F..%2Fetc%2Fpasswd\"",
        400, "decoded later by someone, it is a path", "POST", "/asset/file",
        lambda w: multipart("..%2F..%2Fetc%2Fpasswd"), content_type=MULTIPART, key="file"),
    Row("backslash traversal in an upload file name", "POST /asset/file, filename=\"..\\\\..\\\\win.ini\"", 400,
        "Windows separators too", "POST", "/asset/file", lambda w: multipart("..\\..\\win.ini"),
        content_type=MULTIPART, key="file"),
    Row("dot-dot as the whole file name", "POST /asset/file, filename=\"..\"", 400, "not a file name",
        "POST", "/asset/file", lambda w: multipart(".."), content_type=MULTIPART, key="file"),
    Row("encoded traversal in a batch id", "GET /asset/batch-upload/..%2F..%2Fetc%2Fpasswd", 404,
        "an id is one path segment; no route, no file", "GET", "/asset/batch-upload/..%2F..%2Fetc%2Fpasswd"),
    Row("double-encoded traversal in a batch id", "GET /asset/batch-upload/%252e%252e%252fetc%252fpasswd", 404,
        "decoded once, it is just an unknown id", "GET", "/asset/batch-upload/%252e%252e%252fetc%252fpasswd"),
    Row("traversal in an abort", "POST /asset/batch-upload/%2e%2e%2f{batch}/abort", 404,
        "cannot reach a real batch through '..'", "POST", "/asset/batch-upload/%2e%2e%2f{batch}/abort"),
    Row("file URL as an asset URL", "POST /asset/url?url=file:///etc/passwd", 400,
        "http(s) only: the simulator fetches nothing, and must not pretend to", "POST",
        "/asset/url?url=file%3A%2F%2F%2Fetc%2Fpasswd", key="url"),
    # -- tokens ------------------------------------------------------------------------------
    Row("token with a tampered last character", "GET /signal, a real token with its last char changed", 401,
        "tokens are looked up whole", who="tampered"),
    Row("alg-none JWT", "GET /signal, Bearer <header alg=none>.<claims role=Admin>.", 401,
        "unsigned claims are not accepted", who="alg-none"),
    Row("SQL as a token", f"GET /signal, Bearer {SQL}", 401, "a bound lookup", who="sql"),
    Row("8 KB token", "GET /signal, Bearer x*8000", 401, "long junk is just junk", who="long"),
    Row("Basic credentials on an API route", "GET /signal, Authorization: Basic <client id:secret>", 401,
        "client credentials only buy tokens at /connect/token", who="basic"),
    Row("expired token on a write", "POST /signal (valid body), expired token", 401,
        "expiry is checked before anything is written", "POST", "/signal", lambda w: signal_body(w),
        who="expired"),
    Row("token of another simulator", "GET /signal, a token another Simulator issued", 401,
        "tokens are per world", who="other-sim"),
    Row("token of a deleted client", "DELETE /signal/{private}, token issued before the client was deleted", 401,
        "Identity.delete_client revokes the client's tokens", "DELETE", "/signal/{private}", who="deleted"),
    Row("deleted client's credentials replayed", "POST /connect/token, Basic hostile-doomed:doomed-secret", 400,
        "invalid_client (RFC 6749 shape, which the SDK parses): a deleted client gets no new token",
        "POST", "/connect/token", b"grant_type=client_credentials", who="doomed-basic",
        content_type="application/x-www-form-urlencoded", key="invalid_client", shape="oauth"),
    Row("oversized token request", f"POST /connect/token, {LIMIT + 1}-byte form", 413,
        "the auth host has the same body limit (an OAuth invalid_request, the shape the SDK parses there)",
        "POST", "/connect/token", lambda w: b"grant_type=client_credentials&pad=" + b"x" * LIMIT, who="basic",
        content_type="application/x-www-form-urlencoded", key="invalid_request", shape="oauth"),
    Row("another world's token reads this world's signal", "GET /signal/{w_signal} on a Worlds server, "
        "token of a stranger's world", 404, "worlds never see each other's rows", "GET", "/signal/{w_signal}",
        who="stranger", server="worlds"),
    Row("another world's token deletes this world's signal", "DELETE /signal/{w_signal}, stranger's token", 404,
        "nor change them", "DELETE", "/signal/{w_signal}", who="stranger", server="worlds"),
    # -- world floods (a server of many worlds on a data dir, capped at one world besides the default) --
    Row("new client id without a grant type", "POST /connect/token, client_id=flood-new&client_secret=s", 400,
        "unsupported_grant_type; a refused token request makes no world (the restart check counts them)",
        "POST", "/connect/token", b"client_id=flood-new&client_secret=s", who=None,
        content_type="application/x-www-form-urlencoded", key="unsupported_grant_type", shape="oauth",
        server="disk"),
    Row("new client id with the password grant", "POST /connect/token, grant_type=password, new client id", 400,
        "unsupported_grant_type, and no world", "POST", "/connect/token",
        b"grant_type=password&client_id=flood-new&client_secret=s", who=None,
        content_type="application/x-www-form-urlencoded", key="unsupported_grant_type", shape="oauth",
        server="disk"),
    Row("new client id past --max-worlds", "POST /connect/token, new credentials on a server at its world cap",
        403, "access_denied naming the cap (Worlds(max_worlds=...)); nothing is made", "POST", "/connect/token",
        b"grant_type=client_credentials&client_id=flood-new&client_secret=s", who=None,
        content_type="application/x-www-form-urlencoded", key="access_denied", shape="oauth", server="disk"),
    Row("5000-character client id past --max-worlds", "POST /connect/token, client_id=q*5000", 403,
        "a long id is refused by the cap, not by a file name too long (below the cap it gets a world: "
        "test_world_floods)", "POST", "/connect/token",
        b"grant_type=client_credentials&client_secret=s&client_id=" + b"q" * 5000, who=None,
        content_type="application/x-www-form-urlencoded", key="access_denied", shape="oauth", server="disk"),
    # -- methods -----------------------------------------------------------------------------
    Row("DELETE on a list", "DELETE /jobs", 405, "no bulk delete", "DELETE", "/jobs"),
    Row("PUT on a definition", "PUT /job/definition/{definition}", 405, "PATCH renames; PUT does not exist", "PUT",
        "/job/definition/{definition}", {"name": "x"}),
    Row("GET on a trigger", "GET /signal/{private}/trigger", 405, "a state change is never a GET (no CSRF by link)",
        "GET", "/signal/{private}/trigger"),
    Row("TRACE", "TRACE /signal", 405, "no echoing methods", "TRACE", "/signal"),
    # -- odd ids -----------------------------------------------------------------------------
    Row("NUL in an id", "GET /signal/sig_%00", 404, "unknown, not an error", "GET", "/signal/sig_%00"),
    Row("RTL override in an id", "GET /job/job_%E2%80%AE", 404, "unknown", "GET", "/job/job_%E2%80%AE"),
    Row("SQL as an id", f"GET /job/definition/{SQL}", 404, "a bound lookup", "GET",
        "/job/definition/%27%20OR%20%271%27%3D%271%27%20--"),
    Row("invalid UTF-8 in an id", "GET /audience/%FF%FE", 404, "unknown", "GET", "/audience/%FF%FE"),
    Row("4000-character id", "GET /signal/sig_a...a", 404, "unknown", "GET", "/signal/sig_" + "a" * 4000),
    Row("glob as an id", "DELETE /signal/*", 404, "no wildcards", "DELETE", "/signal/*"),
    # -- flows -------------------------------------------------------------------------------
    Row("ranking flow with min above max", "POST /flow/ranking, minResponses 50, maxResponses 5", 400,
        "the thresholds are checked together; no flow is made", "POST", "/flow/ranking",
        {"name": "f", "criteria": "?", "minResponses": 50, "maxResponses": 5}, key="maxResponses"),
    Row("classify flow with one category", "POST /flow/simple, a blueprint of 1 category", 400,
        "2 to 8 categories, as the SDK checks too", "POST", "/flow/simple",
        {"name": "f", "blueprint": {"_t": "ClassifyBlueprint", "title": "?",
                                    "categories": [{"label": "a", "value": "a"}]}}, key="blueprint.categories"),
    Row("batch for an unknown flow", "POST /flow/ranking/flow_nope/item", 404,
        "unknown flow, before its dataset is looked at", "POST", "/flow/ranking/flow_nope/item",
        {"datasetId": "{dataset}"}),
    Row("SQL as a flow item id", f"GET /flow/ranking/item/{SQL}/results", 404, "a bound lookup", "GET",
        "/flow/ranking/item/%27%20OR%20%271%27%3D%271%27%20--/results"),
    # -- benchmarks and leaderboards ---------------------------------------------------------
    Row("blank benchmark name", 'POST /benchmark {"name": "   "}', 400, "a benchmark needs a name", "POST",
        "/benchmark", {"name": "   "}, key="name"),
    Row("leaderboard below the minimum responses", "POST /leaderboard, minResponses 2, responseBudget -1", 400,
        "both named at once, before the benchmark is even looked up", "POST", "/leaderboard",
        {"benchmarkId": "bench_x", "name": "x", "instruction": "x", "showPrompt": False, "minResponses": 2,
         "responseBudget": -1}, key="minResponses"),
    Row("101 participants submitted at once", "POST /participants/submit, 101 ids", 400,
        "the service takes at most 100 per request (the SDK chunks by 100)", "POST", "/participants/submit",
        {"participantIds": [f"participant_{i}" for i in range(101)]}, key="participantIds"),
    Row("SQL in a standings tag filter", f"GET /benchmark/{SQL}/standings/query?tags[in]=...", 404,
        "a bound lookup: no such benchmark", "GET",
        "/benchmark/%27%20OR%20%271%27%3D%271%27%20--/standings/query?tags%5Bin%5D=%27%20OR%201%3D1%20--"),
    # -- validation sets, unlisted audiences, billing --------------------------------------------
    Row("blank validation set name", 'POST /validation-set {"name": "   "}', 400, "a set needs a name",
        "POST", "/validation-set", {"name": "   "}, key="name"),
    Row("rapid of an unknown payload kind", 'POST /validation-set/{validation_set}/rapid, payload._t "DropTable"',
        400, "the payload is one of the service's IRapidPayload kinds, checked before anything is stored",
        "POST", "/validation-set/{validation_set}/rapid",
        {"asset": {"_t": "TextAssetInput", "text": "a"}, "payload": {"_t": "DropTable"}}, key="payload"),
    Row("rapid whose guess chance is 7", 'POST /validation-set/{validation_set}/rapid, "randomCorrectProbability": 7',
        400, "a probability is in [0, 1]", "POST", "/validation-set/{validation_set}/rapid",
        {"asset": {"_t": "TextAssetInput", "text": "a"}, "payload": {"_t": "ClassifyPayload", "categories": [],
                                                                     "title": "?"}, "randomCorrectProbability": 7},
        key="randomCorrectProbability"),
    Row("validation set dimensions as a string", 'PATCH /validation-set/{validation_set} {"dimensions": "all"}', 400,
        "a list of strings, strictly", "PATCH", "/validation-set/{validation_set}", {"dimensions": "all"},
        key="dimensions"),
    Row("revision naming an unknown validation set", 'POST /job/definition/{definition}/revision '
        '{"validationSetId": "vs_nope"}', 400, "as for an unknown dataset: the field is named, no revision is made",
        "POST", "/job/definition/{definition}/revision", {"validationSetId": "vs_nope"}, key="validationSetId"),
    Row("SQL in validation set name[contains]", f"GET /validation-sets?name[contains]={SQL}", 200,
        "a literal substring", "GET", "/validation-sets?name%5Bcontains%5D=%27%20OR%20%271%27%3D%271%27%20--",
        shape="no-match", baseline="/validation-sets"),
    Row("blank unlisted audience name", 'POST /audience/unlisted {"name": ""}', 400, "an audience needs a name",
        "POST", "/audience/unlisted", {"name": ""}, key="name"),
    Row("billing without a token", "GET /billing-period/active, no Authorization", 401,
        "an organization's spending is not public", "GET", "/billing-period/active", who=None),
]


# -- the world ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def world(contract):
    from datetime import datetime, timezone

    sim = Simulator(seed=4242, clock=Clock.frozen(datetime(2100, 1, 1, tzinfo=timezone.utc)),
                    config=SimConfig(max_body_bytes=LIMIT))
    server = sim.serve(record=True)
    http = https_client(server, creds=None)
    default = https_client(server, DEFAULT)
    me = sim.principal()
    ds, definition = one_datapoint_definition(sim, me, "pairs")
    private = sim.signals.create(me, name="private", audience_id="global", job_definition_id=definition["id"],
                                 interval_seconds=3600)
    public = sim.signals.create(me, name="public", audience_id="global", job_definition_id=definition["id"],
                                interval_seconds=3600, is_public=True)
    sim.signals.trigger(me, private["id"])
    sim.advance(seconds=30)  # the trigger's run starts: the runs list is not empty
    job = sim.jobs.create(me, definition_id=definition["id"], audience_id="global")
    batch = sim.datasets.start_batch(me, ["https://example.com/a.png"], "corr-1")
    validation_set = sim.validation_sets.create(me, name="gold")
    # a client that is deleted after its token was issued
    with sim.store.transaction():
        sim.identity.create_client(me.user_id, client_id=DOOMED[0], secret=DOOMED[1])
    deleted_token = sim.identity.issue_token(*DOOMED)["access_token"]
    sim.identity.delete_client(DOOMED[0])
    other_sim = Simulator(seed=1)
    foreign_token = other_sim.identity.issue_token(*DEFAULT)["access_token"]
    other_sim.close()
    token = default.headers["Authorization"][len("Bearer "):]
    # a server of many worlds: the default world holds a signal, a stranger's world reads at it
    worlds_server = WorldsServer(Worlds(seed=5, speed=0)).start()
    wdefault = worlds_server.worlds.default
    wme = wdefault.principal()
    _, wdef = one_datapoint_definition(wdefault, wme, "d")
    wsignal = wdefault.signals.create(wme, name="w", audience_id="global", job_definition_id=wdef["id"],
                                      interval_seconds=3600, is_public=True)
    whttp = https_client(worlds_server, creds=None)
    wdefault_client = https_client(worlds_server, DEFAULT)
    stranger = https_client(worlds_server, ("hostile-stranger", "stranger-secret"))
    yield {
        "sim": sim, "server": server, "http": http, "contract": contract,
        "tokens": {"default": token, "tampered": token[:-1] + ("A" if token[-1] != "A" else "B"),
                   "alg-none": ALG_NONE, "sql": SQL, "long": "x" * 8000,
                   "expired": sim.identity.issue_token(*DEFAULT, lifetime=0)["access_token"],
                   "other-sim": foreign_token, "deleted": deleted_token,
                   "stranger": stranger.headers["Authorization"][len("Bearer "):],
                   "w-default": wdefault_client.headers["Authorization"][len("Bearer "):]},
        "worlds": worlds_server, "whttp": whttp,
        "ids": {"private": private["id"], "public": public["id"], "definition": definition["id"],
                "dataset": ds["id"], "job": job["id"], "batch": batch["id"], "runsignal": private["id"],
                "example_audience": "aud_sim_nightowls", "w_signal": wsignal["id"],
                "validation_set": validation_set["id"]},
    }
    for c in (http, default, whttp, wdefault_client, stranger):
        c.close()
    worlds_server.stop()
    sim.close()


DISK = ("hostile-disk", "disk-secret")


class DiskServer:
    """A multi-world server on a data dir, in process (the rows it takes are about what a world
    keeps, not the transport), that can be restarted on the same dir. Frozen, so that the store
    snapshot around a row sees only what the row wrote (``test_server_survives`` restarts worlds
    whose clocks follow the wall)."""

    def __init__(self, data_dir: Path) -> None:
        from starlette.testclient import TestClient

        self.data_dir = data_dir
        self.worlds = Worlds(seed=6, speed=0, data_dir=data_dir, max_worlds=1)  # the disk world only
        self.http = TestClient(self.worlds, base_url="https://127.0.0.1")

    def restart(self) -> "DiskServer":
        self.http.close()
        self.worlds.close()
        return DiskServer(self.data_dir)


@pytest.fixture(scope="module")
def disk(tmp_path_factory):
    server = DiskServer(tmp_path_factory.mktemp("hostile-disk"))
    token = server.http.post("/connect/token", data={"grant_type": "client_credentials"}, auth=DISK)
    world = server.worlds.get(server.worlds.for_client(*DISK))
    owner = world.identity.principal(world.default_client["user"])
    _, definition = one_datapoint_definition(world, owner, "disk")
    world.signals.create(owner, name="hourly", audience_id="global", job_definition_id=definition["id"],
                         interval_seconds=3600)
    state = {"server": server, "token": token.json()["access_token"], "world": server.worlds.for_client(*DISK)}
    yield state
    state["server"].http.close()
    state["server"].worlds.close()


def _auth(w: dict[str, Any], who: str | None) -> dict[str, str]:
    if who is None:
        return {}
    if who == "basic":
        return {"Authorization": "Basic " + base64.b64encode(":".join(DEFAULT).encode()).decode()}
    if who == "doomed-basic":
        return {"Authorization": "Basic " + base64.b64encode(":".join(DOOMED).encode()).decode()}
    return {"Authorization": f"Bearer {w['tokens'][who]}"}


def _snapshot(w: dict[str, Any], server: str) -> Any:
    if server == "sim":
        return w["sim"].store.snapshot()
    if server == "disk":
        return {wid: sim.store.snapshot() for wid, sim in sorted(w["disk"]["server"].worlds._worlds.items())}
    return {wid: sim.store.snapshot() for wid, sim in sorted(w["worlds"].worlds._worlds.items())}


def _content(w: dict[str, Any], body: Any) -> Any:
    if callable(body):
        body = body(w["ids"])
    if isinstance(body, (dict, list)):
        return json.dumps(body).encode()
    return body


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_hostile_input(world, disk, row: Row):
    w = {**world, "disk": disk, "tokens": {**world["tokens"], "disk": disk["token"]},
         "ids": {**world["ids"], "disk_world": disk["world"]}}
    http = {"sim": w["http"], "worlds": w["whttp"], "disk": disk["server"].http}[row.server]
    path = row.path.format(**w["ids"])
    headers = _auth(w, row.who)
    content = _content(w, row.body)
    if content is not None and row.content_type:
        headers["Content-Type"] = row.content_type
    recorded = len(w["server"].exchanges)
    before = _snapshot(w, row.server)
    r = http.request(row.method, path, content=content, headers=headers)
    assert r.status_code == row.status, r.text[:500]
    media = r.headers.get("content-type", "").split(";")[0]
    if row.shape == "problem":
        assert media == "application/problem+json", r.headers
        problem = r.json()
        assert problem["status"] == row.status and problem["title"], problem
        assert r.headers["x-trace-id"]
        if row.status == 400:
            assert isinstance(problem.get("errors"), dict) and problem["errors"], problem
            if row.key is not None:
                assert row.key in problem["errors"], problem["errors"]
        if row.status == 413:
            assert str(LIMIT) in problem["detail"], problem  # the limit is stated
    elif row.shape == "oauth":
        assert media == "application/json" and r.json()["error"] == row.key, r.text
    elif row.shape == "no-match":
        assert r.json()["total"] == 0 and r.json()["items"] == [], r.text[:500]
        unfiltered = http.get(row.baseline.format(**w["ids"]), headers=_auth(w, "default"))
        assert unfiltered.status_code == 200 and unfiltered.json()["total"] > 0, unfiltered.text[:300]
    assert _snapshot(w, row.server) == before, "the request wrote to the store"
    if row.server == "sim":
        # A 404 for a path no route matches has no operation in the specs to check against.
        problems = [f"{ex.method} {ex.path} -> {ex.status}: {p}" for ex in w["server"].exchanges[recorded:]
                    for p in w["contract"].check(ex.method, ex.path, ex.status, ex.body, ex.content_type)
                    if not (ex.status == 404 and "no such operation" in p)]
        assert not problems, problems
        health = http.get("/audience/global", headers=_auth(w, "default"))
    elif row.server == "disk":
        _still_runs_and_restarts(disk)
        health = disk["server"].http.get("/_sim/clock", headers=_auth(w, "disk"))
    else:
        health = http.get(path if row.method == "GET" else "/signal/" + w["ids"]["w_signal"],
                          headers=_auth(w, "w-default"))
    assert health.status_code == 200, health.text[:300]


def _still_runs_and_restarts(disk: dict[str, Any]) -> None:
    """The disk world fires its signal through a day (jobs planned with the settings it holds),
    then the server restarts on the same data dir with every world open and answering."""
    auth = {"Authorization": f"Bearer {disk['token']}"}
    day = disk["server"].http.post("/_sim/clock/advance", json={"seconds": 86400}, headers=auth)
    assert day.status_code == 200, day.text[:300]
    assert disk["server"].http.get("/_sim/dashboard/state", headers=auth).status_code == 200
    disk["server"] = disk["server"].restart()
    default = disk["server"].http.post("/connect/token", data={"grant_type": "client_credentials"}, auth=DEFAULT)
    for headers in (auth, {"Authorization": f"Bearer {default.json()['access_token']}"}):
        r = disk["server"].http.get("/_sim/clock", headers=headers)  # opens the world (on demand)
        assert r.status_code == 200, r.text[:300]
    worlds = disk["server"].worlds.list()
    assert [w["id"] for w in worlds if w["status"] != "open"] == [], worlds
    assert len(worlds) == 2, worlds  # the default world and the disk world, nothing made by a row


def test_table_is_big_enough_and_ids_unique():
    assert len(ROWS) >= 30
    assert len({r.id for r in ROWS}) == len(ROWS)
    assert all(400 <= r.status < 500 or r.shape == "no-match" for r in ROWS)


def test_body_limit_is_configurable_and_defaults_to_32_mib():
    assert SimConfig().max_body_bytes == 32 * 1024 * 1024
    assert SimConfig(max_body_bytes=LIMIT).max_body_bytes == LIMIT


def test_a_file_under_the_limit_still_uploads(world):
    """The multipart changes (body read first, 415, file-name rule) keep ordinary uploads working."""
    w = world
    headers = _auth(w, "default") | {"Content-Type": MULTIPART}
    before = w["sim"].store.count("assets")
    r = w["http"].post("/asset/file", content=multipart("cat photo.png", b"\x89PNG" * 10, "image/png"),
                       headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["fileName"].endswith(".png")
    assert w["sim"].store.count("assets") == before + 1


def render_table() -> str:
    """``ROWS`` as a markdown table: attack, request, expected status."""
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| attack | request | expected | restarts on its data dir |", "|---|---|---|---|"]
    for r in ROWS:
        expected = f"{r.status} (no match)" if r.shape == "no-match" else str(r.status)
        restarts = "checked" if r.server == "disk" else "—"
        lines.append(f"| {cell(r.id)} | `{cell(r.sent)}` | {expected} | {restarts} |")
    return "\n".join(lines) + "\n"


def test_docs_hold_the_current_table():
    page = (Path(__file__).resolve().parents[2] / "docs" / "hostile-input.md").read_text()
    block = page.split("<!-- hostile-input:start -->", 1)[1].split("<!-- hostile-input:end -->", 1)[0]
    assert block.strip("\n") == render_table().strip("\n"), "docs/hostile-input.md's table is stale: render_table()"
