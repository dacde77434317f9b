"""The endpoint table in ``docs/endpoints.md`` is the app's route list: neither may drift from the other."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.routing import Route

from rapidata_sim import Simulator
from rapidata_sim.http import create_app

PAGE = Path(__file__).resolve().parents[2] / "docs" / "endpoints.md"


def _normalise(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_docs_table_matches_routes():
    text = PAGE.read_text(encoding="utf-8")
    table = text.split("<!-- endpoints -->", 1)[1].split("<!-- /endpoints -->", 1)[0]
    documented = {(m, _normalise(p)) for m, p in re.findall(r"^\| (GET|POST|PATCH|DELETE|PUT) \| `([^`]+)`", table,
                                                               re.M)}
    with Simulator() as sim:
        app = create_app(sim)
    served = set()
    for route in app.routes:
        assert isinstance(route, Route)
        for method in route.methods - {"HEAD"}:
            served.add((method, _normalise(route.path)))
    # userinfo also accepts POST (OIDC allows both); the table lists the GET the SDK uses.
    served.discard(("POST", "/connect/userinfo"))
    served.discard(("GET", "/identity/bridge-token"))
    assert documented == served
