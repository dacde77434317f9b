"""Helpers the tests import (``from support import ...``); fixtures stay in ``tests/conftest.py``.

- ``https_client``, ``one_datapoint_definition``: below;
- ``support.contract``: the OpenAPI contract checker every recorded response goes through;
- ``support.coverage_table``: the generated per-endpoint coverage table
  (``python tests/support/coverage_table.py --write`` regenerates ``docs/contract-coverage.md``).

``tests/`` is on ``sys.path`` through ``pythonpath = ["tests"]`` in ``pyproject.toml``.
"""

from __future__ import annotations


def one_datapoint_definition(sim, me, name):
    """A dataset of one text datapoint and a compare job definition over it (3 votes): the
    smallest world the bad-input tables need. Returns (dataset row, definition row)."""
    ds = sim.datasets.create(me, "ds")
    sim.datasets.add_datapoint(me, ds["id"], [{"key": "asset", "kind": "Asset",
                                               "asset": {"_t": "TextAssetInput", "text": "hi"}}])
    workflow = {"_t": "SimpleWorkflow", "rapid": {"_t": "Compare", "asset": {"segment": "asset"},
                                                  "criteria": {"literal": "?"}}}
    definition, _ = sim.definitions.create(me, name=name, workflow=workflow,
                                           referee={"_t": "NaiveReferee", "totalVotes": 3}, dataset_id=ds["id"])
    return ds, definition


def https_client(server, creds=("rapidata-sim", "rapidata-sim-secret")):
    """A plain httpx client for ``server``, holding a bearer token for ``creds`` (None: no token)."""
    import ssl

    import httpx

    client = httpx.Client(base_url=f"https://127.0.0.1:{server.port}",
                          verify=ssl.create_default_context(cafile=str(server.certs.ca_pem)))
    if creds is not None:
        token = client.post("/connect/token", data={"grant_type": "client_credentials"}, auth=creds)
        assert token.status_code == 200, token.text
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    return client
