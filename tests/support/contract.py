"""Contract checker: does a response of rapidata-sim match the real service's OpenAPI specs?

The specs are the real Rapidata service's OpenAPI 3.0 files (``specs/openapi/*.openapi.json``, vendored,
snapshot ``2026.08.21.1305-2bf435d``). The SDK we target, ``rapidata==3.27.1``, is a little newer
than them (its generated ``rapidata/api_client/`` wins where they differ), so a few documented allow-lists below let through
what the real service and the SDK do but the specs do not say. Everything else is a problem.

Usage::

    contract = Contract.load(spec_dir)
    problems = contract.check("GET", "/signal/sig_1", 200, body_bytes, "application/json")
    assert problems == [], problems

``check()`` verifies, in order:

1. the operation exists in the specs (concrete paths are matched to templates; a literal segment
   beats a templated one, so ``/signal/run/x`` is ``/signal/run/{runId}``), unless the path is in
   ``NOT_IN_SPEC``. A 405 for a path the specs know under other methods is also accepted;
2. the status code is declared for that operation, or allowed by ``EXTRA_STATUSES``;
3. a 2xx whose declared response is JSON: the content type is JSON, the body parses (no NaN or
   Infinity) and validates against the schema with OpenAPI 3.0 semantics
   (``openapi_schema_validator.OAS30Validator``; ``$ref`` into ``#/components`` is resolved with
   ``referencing`` inside the same spec file). A 204 must have an empty body;
4. every 4xx is ``application/problem+json`` with ``status`` equal to the HTTP status and a
   non-empty ``title`` (except ``OAUTH_ERROR_PATHS``); a 400 must also validate against
   ``ValidationProblemDetails`` and carry an ``errors`` object. Other schemas the specs declare
   for 4xx are not applied (the only ones are a JSON *string* for ``GET /identity/bridge-token``
   404 and ``POST /asset/compress`` 400, which contradict the problem+json rule).

Validation semantics, beyond what ``OAS30Validator`` does by itself:

- ``nullable: true`` also admits ``null`` when the schema has no ``type`` of its own: the specs
  write nullable enums and nullable nested objects as ``{"allOf": [{"$ref": …}], "nullable":
  true}`` (and ``oneOf``), and the service sends ``null`` for them;
- formats checked: ``int32``, ``int64``, ``float``, ``double``, ``byte`` (the library's OAS
  checkers), ``date-time`` (RFC 3339 with a mandatory offset, via jsonschema's checker when
  ``rfc3339-validator`` is installed), ``uuid`` and ``uint32``. ``uri`` is not checked;
- ``discriminator`` is honoured as the library implements it (``_t`` picks the ``oneOf`` branch;
  a missing or unknown ``_t`` is a problem — the SDK fails hard on it as well).

The SDK-only required fields (``isShared``, ``capacity``, ``responseCount``,
``campaignFeatureFlags``) are extra properties as far as the specs are concerned. No schema in the
snapshot sets ``additionalProperties: false`` (checked: 0 occurrences in all six files), so they
validate as they are and need no allow-list. If a future spec sets it, the self-test
``test_sdk_only_fields_are_accepted`` fails and an entry belongs here.

Allow-lists (cite these constants, not this prose):

``NOT_IN_SPEC`` — path templates that the SDK calls but the specs do not describe:
    - ``/connect/token``: OAuth token endpoint of the auth host; not part of the API specs.
    - ``/connect/userinfo``: OIDC userinfo of the auth host; not part of the API specs.
    - ``/pipeline/{pipelineId}/preliminary-download`` and ``/pipeline/preliminary-download/{downloadId}``:
      3.27.1's ``PipelineApi`` (``rapidata/api_client/api/pipeline_api.py``) calls them for
      ``get_results(preliminary_results=True)``; absent from the snapshot.
    - ``/audience/unlisted/{audienceId}``: 3.27.1 calls it for ``ula_`` audiences
      (``rapidata/api_client/api/unlisted_audience_api.py``); absent from the snapshot.
    - ``/flow/ranking/{flowId}`` (PATCH; the snapshot has ``…/config``), ``/flow/simple``,
      ``/flow/simple/{flowId}``, ``/flow/simple/{flowId}/item``, ``/flow/simple/item/{flowItemId}/results``:
      3.27.1's ``RankingFlowApi``, ``SimpleFlowApi`` and ``SimpleFlowItemApi`` call them (classify flows,
      ranking ``update_config``); absent from the snapshot.
    - ``/participants/submit``: 3.27.1's ``ParticipantApi.participants_submit_post`` (``benchmark.run``,
      ``participant.run``) submits up to 100 participants at once; the snapshot has only the single
      ``/participants/{participantId}/submit``.
    - ``/audience/unlisted`` (POST, ``create_unlisted_audience``) and ``/billing/outstanding``
      (``billing.get_outstanding_balance``): 3.27.1's ``UnlistedAudienceApi`` and ``BillingApi``
      call them; absent from the snapshot.

``EXTRA_STATUSES`` — statuses accepted although the operation does not declare them:
    - 404 (every operation): the real service answers 404 for unknown ids; the specs declare only
      400/401/403.
    - 409 (only ``POST /job/definition/{definitionId}/revision``, ``GET /job/{jobId}/cost-estimate``,
      ``GET /job/definition/{definitionId}/cost-estimate``, ``GET /job/{jobId}/download-results``):
      state conflicts — a newer revision exists (the body carries ``latestRevisionNumber``),
      nothing to estimate yet, or results asked for before the job finished. Also
      ``POST /participant/{participantId}/sample`` and ``POST /benchmark/{benchmarkId}/prompt``: a
      sample or prompt identifier the benchmark already holds (3.27.1's participant upload reads
      409 as "already present").
    - 413 (every operation): request body over the size limit.
    - 405 (every operation): method not allowed on a known path.
    - 415 (every operation): a body in a media type the route does not take.

``SPEC_PATCHES`` — in-memory corrections applied to the loaded specs, where the snapshot is wrong
about what the service sends or older than 3.27.1 (found by running the SDK flows and comparing
every component's ``required`` with the 3.27.1 models):
    - ``audience`` ``GetAudienceByIdEndpoint_Output.filter`` made nullable: its own description says
      "Null for a regular audience"; 3.27.1 parses null.
    - ``order`` ``IOrderWorkflowInputSimpleWorkflowInput.blueprint`` made optional: 3.27.1 renamed it
      to ``rapid`` (optional ``IRapidSpec``, which the snapshot does not define, so ``rapid`` is
      not validated); the SDK sends ``rapid`` and a revision echoes it.
    - ``flow`` ``FlowType`` gains ``Simple`` and ``IFlow`` gains a ``SimpleFlow`` branch
      (``IFlowSimpleFlow``, written from 3.27.1's ``rapidata/api_client/models/i_flow_simple_flow.py``):
      3.27.1 has classify ("simple") flows, which the snapshot predates.

``OAUTH_ERROR_PATHS`` — 4xx bodies there follow RFC 6749 §5.2 (``application/json`` with a string
``error``), which is what the SDK's OAuth client parses, instead of problem+json:
    - ``/connect/token``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping
from urllib.parse import quote, unquote

from jsonschema import Draft4Validator, Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.validators import extend
from openapi_schema_validator import OAS30Validator
from openapi_schema_validator._format import oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

__all__ = ["Contract", "Operation", "ExtraStatus", "SpecPatch", "NOT_IN_SPEC", "EXTRA_STATUSES", "SPEC_PATCHES",
           "OAUTH_ERROR_PATHS"]

#: The vendored specs (``specs/openapi/``, see ``specs/README.md``); ``$RAPIDATA_SIM_OPENAPI_DIR``
#: points the checks at another folder of ``*.openapi.json`` files, e.g. a newer service version.
SPEC_DIR = Path(__file__).resolve().parents[2] / "specs" / "openapi"


def spec_dir() -> Path:
    """The folder of specs the contract checks read."""
    return Path(os.environ.get("RAPIDATA_SIM_OPENAPI_DIR", SPEC_DIR))


HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

#: Path templates the SDK calls that the specs do not describe -> why (any method).
NOT_IN_SPEC: dict[str, str] = {
    "/connect/token": "OAuth token endpoint of the auth host; not part of the API specs.",
    "/connect/userinfo": "OIDC userinfo endpoint of the auth host; not part of the API specs.",
    "/pipeline/{pipelineId}/preliminary-download": ("3.27.1's PipelineApi calls it for preliminary results; absent "
                                                    "from the spec snapshot."),
    "/pipeline/preliminary-download/{downloadId}": ("3.27.1's PipelineApi calls it for preliminary results; absent "
                                                    "from the spec snapshot."),
    "/audience/unlisted/{audienceId}": "3.27.1 calls it for ula_ audiences; absent from the spec snapshot.",
    "/flow/ranking/{flowId}": "3.27.1's update_config PATCHes it (the snapshot has .../config); absent from it.",
    "/flow/simple": "3.27.1's create_classify_flow (SimpleFlowApi); absent from the spec snapshot.",
    "/flow/simple/{flowId}": "3.27.1's classify update_config (SimpleFlowApi); absent from the spec snapshot.",
    "/flow/simple/{flowId}/item": "3.27.1's classify create_new_flow_batch; absent from the spec snapshot.",
    "/flow/simple/item/{flowItemId}/results": "3.27.1's classify get_results; absent from the spec snapshot.",
    "/participants/submit": ("3.27.1's ParticipantApi.participants_submit_post (benchmark.run, participant.run) "
                             "submits up to 100 participants at once; the snapshot has only the single "
                             "/participants/{participantId}/submit."),
    "/audience/unlisted": ("3.27.1's create_unlisted_audience posts here (UnlistedAudienceApi); absent from the "
                           "spec snapshot."),
    "/billing/outstanding": ("3.27.1's billing.get_outstanding_balance reads it (BillingApi, "
                             "GetOutstandingCostEndpointOutput); absent from the spec snapshot."),
}


@dataclass(frozen=True)
class ExtraStatus:
    """A status accepted without being declared; ``operations`` None means every operation."""

    reason: str
    operations: frozenset[tuple[str, str]] | None = None

    def applies_to(self, method: str, template: str) -> bool:
        return self.operations is None or (method, template) in self.operations


#: Undeclared statuses that are accepted anyway -> where and why.
EXTRA_STATUSES: dict[int, ExtraStatus] = {
    404: ExtraStatus("The real service answers 404 for unknown ids; the specs declare only 400/401/403."),
    409: ExtraStatus(
        "State conflict: a newer revision exists (body has latestRevisionNumber), nothing to estimate yet, "
        "or results asked for before the job finished, or a benchmark sample or prompt the service already "
        "holds (3.27.1's participant upload treats 409 as 'already present', participant.py "
        "_ALREADY_EXISTS_STATUS).",
        frozenset({
            ("POST", "/participant/{participantId}/sample"),
            ("POST", "/benchmark/{benchmarkId}/prompt"),
            ("POST", "/job/definition/{definitionId}/revision"),
            ("GET", "/job/{jobId}/download-results"),
            ("GET", "/job/{jobId}/cost-estimate"),
            ("GET", "/job/definition/{definitionId}/cost-estimate"),
        }),
    ),
    413: ExtraStatus("Request body over the size limit."),
    405: ExtraStatus("Method not allowed on a known path."),
    415: ExtraStatus("Request body in a media type the route does not take (not JSON; not multipart for uploads)."),
}


@dataclass(frozen=True)
class SpecPatch:
    """Make ``schema.prop`` in spec file ``spec`` ``nullable`` or ``optional`` (not required); or add
    ``prop`` to the enum ``schema`` (``enum``); or add the schema ``value`` as component ``prop`` and a
    ``oneOf`` branch of ``schema`` under the discriminator value ``value["properties"]["_t"]["enum"][0]``
    (``branch``)."""

    spec: str
    schema: str
    prop: str
    change: str  # "nullable" | "optional" | "enum" | "branch"
    reason: str
    value: Any = None

    def apply(self, specs: dict[str, dict[str, Any]]) -> None:
        try:
            target = specs[self.spec]["components"]["schemas"][self.schema]
            if self.change == "nullable":
                target["properties"][self.prop]["nullable"] = True
            elif self.change == "optional":
                target["required"].remove(self.prop)
            elif self.change == "enum":
                target["enum"].append(self.prop)
            elif self.change == "branch":
                ref = f"#/components/schemas/{self.prop}"
                specs[self.spec]["components"]["schemas"][self.prop] = self.value
                target["oneOf"].append({"$ref": ref})
                target["discriminator"]["mapping"][self.value["properties"]["_t"]["enum"][0]] = ref
            else:
                raise RuntimeError(f"unknown SpecPatch change {self.change!r}")
        except (KeyError, ValueError):
            raise RuntimeError(f"SPEC_PATCHES entry {self.spec}:{self.schema}.{self.prop} ({self.change}) no longer "
                               f"applies to the specs; drop or update it.") from None


def _simple_flow_schema() -> dict[str, Any]:
    """``IFlowSimpleFlow`` as 3.27.1's model has it (``rapidata/api_client/models/i_flow_simple_flow.py``)."""
    def num(nullable: bool = False) -> dict[str, Any]:
        return {"type": "number", "nullable": True} if nullable else {"type": "number"}

    def integer(nullable: bool = False) -> dict[str, Any]:
        return {"type": "integer", "nullable": True} if nullable else {"type": "integer"}
    category = {"type": "object", "required": ["label", "value"],
                "properties": {"label": {"type": "string"}, "value": {"type": "string"}}}
    properties = {
        "_t": {"enum": ["SimpleFlow"], "type": "string"}, "id": {"type": "string"}, "name": {"type": "string"},
        "campaignId": {"type": "string"}, "flowItemCount": integer(), "targetResponseCount": integer(True),
        "pidProportionalGain": num(), "pidIntegralGain": num(), "pidDerivativeGain": num(), "pidOutputOffset": num(),
        "pidMinSessionsPerMinute": integer(), "pidMaxSessionsPerMinute": integer(),
        "pidBatchMode": {"$ref": "#/components/schemas/PidBatchMode"}, "serveTimeoutSeconds": integer(True),
        "drainDurationSeconds": integer(True), "serveToResponseRatio": num(True),
        "blueprint": {"type": "object", "required": ["_t", "title", "categories"],
                      "properties": {"_t": {"enum": ["ClassifyBlueprint"], "type": "string"},
                                     "title": {"type": "string"},
                                     "categories": {"type": "array", "items": category}}},
        "minResponses": integer(), "maxResponses": integer(),
        "featureFlags": {"type": "array", "items": {"$ref": "#/components/schemas/FeatureFlag"}},
        "ownerId": {"type": "string", "format": "uuid"}, "ownerMail": {"type": "string"},
        "organizationId": {"type": "string"}, "createdAt": {"type": "string", "format": "date-time"},
    }
    return {"required": list(properties), "type": "object", "properties": properties}


#: In-memory corrections to the loaded specs (see the module docstring).
SPEC_PATCHES: tuple[SpecPatch, ...] = (
    SpecPatch("audience", "GetAudienceByIdEndpoint_Output", "filter", "nullable",
              'Its description says "Null for a regular audience"; 3.27.1 parses null.'),
    SpecPatch("order", "IOrderWorkflowInputSimpleWorkflowInput", "blueprint", "optional",
              "3.27.1 renamed it to `rapid` (optional IRapidSpec); the SDK sends `rapid` and revisions echo it."),
    SpecPatch("flow", "FlowType", "Simple", "enum", "3.27.1 has classify (simple) flows; the snapshot predates them."),
    SpecPatch("flow", "IFlow", "IFlowSimpleFlow", "branch",
              "3.27.1 has classify (simple) flows; the schema is its i_flow_simple_flow.py model's.",
              value=_simple_flow_schema()),
)

#: Path templates whose 4xx bodies are RFC 6749 OAuth errors, not problem+json -> why.
OAUTH_ERROR_PATHS: dict[str, str] = {
    "/connect/token": "RFC 6749 §5.2 error JSON ({\"error\": …}), which the SDK's OAuth client parses.",
}

MAX_ERRORS = 10  # schema errors reported per response
_SPEC_URI = "urn:rapidata-sim:openapi:{}"


# --- validation machinery ----------------------------------------------------------------------

def _nullable(keyword: Any) -> Any:
    """Let ``nullable: true`` admit None for keywords other than ``type`` (allOf/oneOf/enum…)."""

    def validate(validator: Any, value: Any, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
        if instance is None and schema.get("nullable") is True:
            return
        yield from keyword(validator, value, instance, schema)

    return validate


def _is_uint32(instance: object) -> bool:
    if isinstance(instance, bool) or not isinstance(instance, int):
        return True
    return 0 <= instance < 1 << 32


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    checker.checkers.update(oas30_format_checker.checkers)
    for name, source in (("date-time", Draft4Validator), ("uuid", Draft202012Validator)):
        if name in source.FORMAT_CHECKER.checkers:  # date-time needs rfc3339-validator
            checker.checkers[name] = source.FORMAT_CHECKER.checkers[name]
    checker.checks("uint32")(_is_uint32)
    return checker


_Validator = extend(OAS30Validator, {kw: _nullable(OAS30Validator.VALIDATORS[kw])
                                     for kw in ("allOf", "oneOf", "anyOf", "enum", "format")})
FORMAT_CHECKER = _format_checker()


def _pointer(*segments: str) -> str:
    return "".join("/" + quote(s.replace("~", "~0").replace("/", "~1"), safe="~") for s in segments)


def _describe(error: ValidationError) -> str:
    where = error.json_path
    if error.context:  # oneOf/anyOf: name the closest branch failure too
        inner = best_match(error.context)
        return _clip(f"{where}: {error.message} (closest: {inner.json_path}: {inner.message})")
    return _clip(f"{where}: {error.message}")


def _clip(text: str, limit: int = 400) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _media_type(content_type: str | None) -> str | None:
    return content_type.split(";", 1)[0].strip().lower() if content_type else None


def _is_json_media(media: str | None) -> bool:
    return media is not None and (media == "application/json" or (media.startswith("application/")
                                                                   and media.endswith("+json")))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _parse_json(body: bytes) -> tuple[Any, str | None]:
    try:
        return json.loads(body, parse_constant=_reject_constant), None
    except (ValueError, UnicodeDecodeError) as exc:
        return None, f"body is not valid JSON ({_clip(str(exc), 120)}): {body[:80]!r}"


# --- path matching -----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Template:
    template: str
    segments: tuple[str | re.Pattern[str], ...]  # str = literal, Pattern = templated
    rank: tuple[int, ...]  # 0 per literal segment, 1 per templated one: lower sorts first

    @classmethod
    def parse(cls, template: str) -> "_Template":
        segments: list[str | re.Pattern[str]] = []
        for seg in template.strip("/").split("/") if template.strip("/") else []:
            if "{" in seg:
                regex = "".join("[^/]+" if part.startswith("{") else re.escape(part)
                                for part in re.split(r"(\{[^}]+\})", seg) if part)
                segments.append(re.compile(regex))
            else:
                segments.append(seg)
        return cls(template, tuple(segments), tuple(0 if isinstance(s, str) else 1 for s in segments))

    def matches(self, parts: list[str]) -> bool:
        return len(parts) == len(self.segments) and all(
            seg == part if isinstance(seg, str) else seg.fullmatch(part) is not None
            for seg, part in zip(self.segments, parts))


def _split(path: str) -> list[str]:
    path = path.split("?", 1)[0].split("#", 1)[0].strip("/")
    return [unquote(p) for p in path.split("/")] if path else []


# --- the contract ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Operation:
    method: str  # upper case
    template: str  # e.g. /signal/{signalId}/run
    spec: str  # spec file stem, e.g. "signal"
    operation_id: str | None
    responses: Mapping[str, Any] = field(repr=False)

    @property
    def declared_statuses(self) -> tuple[str, ...]:
        return tuple(self.responses)

    def declares(self, status: int) -> bool:
        return self._response_key(status) is not None

    def _response_key(self, status: int) -> str | None:
        for key in (str(status), f"{status // 100}XX", f"{status // 100}xx", "default"):
            if key in self.responses:
                return key
        return None

    def json_media(self, status: int) -> str | None:
        """The JSON media type declared for ``status`` (with a schema), or None."""
        key = self._response_key(status)
        content = ((self.responses.get(key) or {}).get("content") or {}) if key else {}
        for media, item in content.items():
            if _is_json_media(media.lower()) and "schema" in item:
                return media
        return None

    def schema_pointer(self, status: int) -> str | None:
        media = self.json_media(status)
        if media is None:
            return None
        key = self._response_key(status)
        return _pointer("paths", self.template, self.method.lower(), "responses", key, "content", media, "schema")


class Contract:
    """The operations of all spec files, and ``check()`` for one response."""

    def __init__(self, specs: dict[str, dict[str, Any]], spec_dir: Path | None = None) -> None:
        self.spec_dir = spec_dir
        self.specs = specs
        self._registry: Registry = Registry().with_resources(
            (_SPEC_URI.format(name), Resource(contents=doc, specification=DRAFT4)) for name, doc in specs.items())
        self._by_method: dict[str, list[tuple[_Template, Operation | None]]] = {}
        self._all_templates: list[tuple[_Template, str]] = []  # (template, method) for 405 detection
        self._validators: dict[tuple[str, str], Any] = {}
        self.operations: dict[tuple[str, str], Operation] = {}
        allowed = [_Template.parse(t) for t in NOT_IN_SPEC]
        for name, doc in specs.items():
            for template, item in (doc.get("paths") or {}).items():
                for method, op in item.items():
                    if method not in HTTP_METHODS:
                        continue
                    key = (method.upper(), template)
                    if key in self.operations:
                        raise RuntimeError(f"{key[0]} {template} is defined in both {self.operations[key].spec} "
                                           f"and {name}")
                    operation = Operation(key[0], template, name, op.get("operationId"), op.get("responses") or {})
                    self.operations[key] = operation
                    parsed = _Template.parse(template)
                    self._by_method.setdefault(key[0], []).append((parsed, operation))
                    self._all_templates.append((parsed, key[0]))
        for method in HTTP_METHODS:  # NOT_IN_SPEC entries compete with spec templates, any method
            self._by_method.setdefault(method.upper(), []).extend((t, None) for t in allowed)
        for candidates in self._by_method.values():
            candidates.sort(key=lambda c: c[0].rank)
        vpd = next((n for n in ("signal", *specs) if n in specs and "ValidationProblemDetails"
                    in specs[n].get("components", {}).get("schemas", {})), None)
        if vpd is None:
            raise RuntimeError("no spec defines components/schemas/ValidationProblemDetails")
        self._fallback_vpd_spec = vpd

    # -- loading

    @classmethod
    def load(cls, spec_dir: Path) -> "Contract":
        spec_dir = Path(spec_dir)
        if not spec_dir.is_dir():
            raise RuntimeError(
                f"OpenAPI specs folder not found: {spec_dir}. The contract tests read the real service's specs "
                f"from specs/openapi/ in the repository, or from $RAPIDATA_SIM_OPENAPI_DIR if set to a folder of "
                f"*.openapi.json files if they live elsewhere.")
        files = sorted(spec_dir.glob("*.openapi.json"))
        if not files:
            raise RuntimeError(f"No *.openapi.json files in {spec_dir}.")
        specs: dict[str, dict[str, Any]] = {}
        for path in files:
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise RuntimeError(f"Cannot read OpenAPI spec {path}: {exc}") from exc
            if not str(doc.get("openapi", "")).startswith("3.0"):
                raise RuntimeError(f"{path} is OpenAPI {doc.get('openapi')!r}; the checker expects 3.0.x.")
            specs[path.name.removesuffix(".openapi.json")] = doc
        for patch in SPEC_PATCHES:
            patch.apply(specs)
        return cls(specs, spec_dir)

    # -- matching

    def _match(self, method: str, path: str) -> tuple[_Template, Operation | None] | None:
        parts = _split(path)
        for candidate in self._by_method.get(method.upper(), ()):  # sorted: literal segments first
            if candidate[0].matches(parts):
                return candidate
        return None

    def operation(self, method: str, path: str) -> Operation | None:
        """The spec operation for a concrete path (query string ignored), or None."""
        found = self._match(method, path)
        return found[1] if found else None

    def not_in_spec(self, method: str, path: str) -> str | None:
        """The ``NOT_IN_SPEC`` template a concrete path is allow-listed under, or None."""
        found = self._match(method, path)
        return found[0].template if found and found[1] is None else None

    def methods_for(self, path: str) -> list[str]:
        parts = _split(path)
        return sorted({m for t, m in self._all_templates if t.matches(parts)})

    # -- validation

    def validator(self, spec: str, pointer: str) -> Any:
        """A cached OAS 3.0 validator for the schema at ``pointer`` inside spec file ``spec``."""
        key = (spec, pointer)
        found = self._validators.get(key)
        if found is None:
            found = _Validator({"$ref": f"{_SPEC_URI.format(spec)}#{pointer}"}, registry=self._registry,
                               format_checker=FORMAT_CHECKER)
            self._validators[key] = found
        return found

    def schema_errors(self, spec: str, pointer: str, instance: Any) -> list[str]:
        errors = sorted(self.validator(spec, pointer).iter_errors(instance), key=lambda e: list(map(str, e.path)))
        out = list(dict.fromkeys(_describe(e) for e in errors))  # same message twice: allOf + oneOf
        if len(out) > MAX_ERRORS:
            out = out[:MAX_ERRORS] + [f"… and {len(out) - MAX_ERRORS} more schema errors"]
        return out

    def component_errors(self, spec: str, schema_name: str, instance: Any) -> list[str]:
        return self.schema_errors(spec, _pointer("components", "schemas", schema_name), instance)

    # -- the check

    def check(self, method: str, path: str, status: int, body: bytes, content_type: str | None) -> list[str]:
        """Problems with one response, human-readable; [] when it matches the contract.

        ``content_type`` is the response's Content-Type header (parameters ignored), None if absent.
        """
        method = method.upper()
        body = body or b""
        found = self._match(method, path)
        label = f"{method} {path.split('?', 1)[0]} -> {status}"
        problems: list[str] = []
        op: Operation | None = None
        template: str | None = None
        if found is None:
            others = self.methods_for(path)
            if not (status == 405 and others):
                hint = f" (the path exists for {', '.join(others)})" if others else ""
                problems.append(f"{label}: no such operation in the specs{hint} and not in NOT_IN_SPEC")
        else:
            template, op = found[0].template, found[1]
            label = f"{method} {template} -> {status}"

        if op is not None and not op.declares(status):
            extra = EXTRA_STATUSES.get(status)
            if extra is None or not extra.applies_to(method, op.template):
                problems.append(f"{label}: status {status} is not declared (spec declares "
                                f"{', '.join(op.declared_statuses)}) and not in EXTRA_STATUSES")

        media = _media_type(content_type)
        if 200 <= status < 300:
            if status == 204 and body:
                problems.append(f"{label}: a 204 must have an empty body, got {len(body)} bytes")
            pointer = op.schema_pointer(status) if op is not None else None
            if op is not None and pointer is not None:
                declared = op.json_media(status)
                if not _is_json_media(media):
                    problems.append(f"{label}: content type {content_type!r} is not JSON (spec declares {declared})")
                data, error = _parse_json(body)
                if error:
                    problems.append(f"{label}: {error}")
                else:
                    problems += [f"{label}: {e}" for e in self.schema_errors(op.spec, pointer, data)]
        elif 400 <= status < 500:
            if template is not None and template in OAUTH_ERROR_PATHS:
                problems += [f"{label}: {p}" for p in self._oauth_error_problems(media, content_type, body)]
            else:
                spec = op.spec if op is not None else self._fallback_vpd_spec
                problems += [f"{label}: {p}" for p in self._problem_json_problems(status, media, content_type,
                                                                                  body, spec)]
        return problems

    def _problem_json_problems(self, status: int, media: str | None, content_type: str | None, body: bytes,
                               spec: str) -> list[str]:
        problems = []
        if media != "application/problem+json":
            problems.append(f"content type {content_type!r} is not application/problem+json")
        data, error = _parse_json(body)
        if error:
            return problems + [error]
        if not isinstance(data, dict):
            return problems + [f"problem body is not a JSON object: {_clip(repr(data), 80)}"]
        got = data.get("status")
        if isinstance(got, bool) or got != status:
            problems.append(f"problem 'status' is {got!r}, expected {status}")
        if not isinstance(data.get("title"), str) or not data["title"]:
            problems.append(f"problem 'title' missing or not a non-empty string: {data.get('title')!r}")
        if status == 400:
            problems += self.component_errors(spec, "ValidationProblemDetails", data)
            if not isinstance(data.get("errors"), dict):
                problems.append(f"400 problem has no 'errors' object: {data.get('errors')!r}")
        return problems

    @staticmethod
    def _oauth_error_problems(media: str | None, content_type: str | None, body: bytes) -> list[str]:
        problems = []
        if media != "application/json":
            problems.append(f"content type {content_type!r} is not application/json (OAuth error)")
        data, error = _parse_json(body)
        if error:
            return problems + [error]
        if not isinstance(data, dict) or not isinstance(data.get("error"), str) or not data["error"]:
            problems.append(f"OAuth error body has no string 'error': {_clip(repr(data), 120)}")
        return problems


def iter_operations(contract: Contract) -> Iterable[Operation]:
    """All spec operations, sorted by template then method (for listings and coverage reports)."""
    return sorted(contract.operations.values(), key=lambda o: (o.template, o.method))

