"""The control commands: ``rapidata-sim clock``, ``trigger``, ``outage``, ``events``, ``worlds``,
``reset``, each one call to a running server's ``/_sim`` API (``serving.remote``).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from ..serving.remote import Remote, RemoteError, connection


def main(args: Any) -> int:
    """Run one control command (``args`` from the ``rapidata-sim`` parser)."""
    import httpx

    from ..scenario.format import ScenarioError, duration

    try:
        remote = Remote(connection(args.data_dir))
        out: Any
        if args.command == "clock":
            if args.action == "advance":
                out = remote.call("POST", "/_sim/clock/advance", {"seconds": duration(args.value).total_seconds()})
            elif args.action == "set-speed":
                out = remote.call("PATCH", "/_sim/clock", {"speed": float(args.value)})
            else:
                out = remote.call("GET", "/_sim/clock")
        elif args.command == "trigger":
            remote.call("POST", f"/signal/{args.signal_id}/trigger")
            out = {"triggered": args.signal_id}
        elif args.command == "outage":
            out = remote.call("POST", "/_sim/outage", {"seconds": duration(args.duration).total_seconds()})
        elif args.command == "events":
            for page in remote.events(int(args.since)):
                sys.stdout.write(page)
            return 0
        elif args.command == "worlds":
            out = remote.call("GET", "/_sim/worlds")
        elif args.command == "reset":
            yours = remote.call("GET", "/_sim/worlds")["yours"]
            out = remote.call("POST", f"/_sim/worlds/{yours}/reset")
        else:  # pragma: no cover - the parser only offers the commands above
            raise RemoteError(f"unknown command {args.command}")
    except (RemoteError, ScenarioError, ValueError, httpx.HTTPError) as exc:
        print(f"rapidata-sim {args.command}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(out, indent=2))
    return 0
