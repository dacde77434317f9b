"""Keeping the real SDK quiet and offline when rapidata-sim drives it itself.

The tests, the scenario runner and the demo construct real ``RapidataClient``s.
The SDK would otherwise ask api.github.com for its latest version, send
telemetry, print previews and progress bars: none of which belongs in an
offline run.
"""

from __future__ import annotations

import os
from typing import Any

#: Environment under which the SDK stays offline and silent.
QUIET_ENV = {"RAPIDATA_DISABLE_OTLP": "1", "RAPIDATA_AGENT_HINT": "0", "RAPIDATA_silent_mode": "1",
             "RAPIDATA_cacheToDisk": "0"}


def quiet_env(setenv: Any = None) -> None:
    """Set ``QUIET_ENV`` (through ``setenv(key, value)``, e.g. a pytest monkeypatch, if given)."""
    for key, value in QUIET_ENV.items():
        if setenv is not None:
            setenv(key, value)
        else:
            os.environ.setdefault(key, value)


def skip_version_check(setattr_: Any = setattr) -> None:
    """``RapidataClient()`` asks GitHub for the latest release; skip that request."""
    from rapidata import RapidataClient

    if hasattr(RapidataClient, "_check_version"):
        setattr_(RapidataClient, "_check_version", lambda self: None)


def forget_uploads() -> None:
    """The SDK caches uploaded assets per process, keyed by environment (host:port). When a
    server keeps its port but a new world stands behind it, the old uploads must be forgotten."""
    try:
        from rapidata.rapidata_client.datapoints._asset_uploader import AssetUploader
    except ImportError:  # another SDK layout: nothing to clear
        return
    for name in ("_url_cache", "_file_cache"):
        cache = getattr(AssetUploader, name, None)
        if cache is not None and hasattr(cache, "set_storage"):
            cache.set_storage({})
