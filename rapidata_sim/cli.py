"""``rapidata-sim``: serve worlds, control a running server, run scenarios, or watch the demo."""

from __future__ import annotations

import argparse
import signal as signals
import sys
import threading
from pathlib import Path

from .remote import ENV_FILE


def _serve(args: argparse.Namespace) -> int:
    """One server, many worlds: each set of client credentials has its own (``worlds``)."""
    from .worlds import Worlds, WorldsServer

    data_dir = Path(args.data_dir) if args.data_dir else None
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
    # On a data dir the worlds are kept: clocks continue, downtime is an outage (catch-up policy).
    worlds = Worlds(seed=args.seed, speed=args.speed, data_dir=data_dir)
    server = WorldsServer(worlds, host=args.host, port=args.port).start()
    print("# rapidata-sim is serving on https://%s:%d — paste these lines into a shell:" % (args.host, server.port),
          file=sys.stderr)
    sys.stdout.write(server.export_lines())
    sys.stdout.flush()
    if data_dir is not None:
        (data_dir / ENV_FILE).write_text(server.export_lines())
    stop = threading.Event()
    for sig in (signals.SIGINT, signals.SIGTERM):
        signals.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    print("# rapidata-sim: shutting down", file=sys.stderr)
    server.stop()
    return 0




def _env(args: argparse.Namespace) -> int:
    """The connection lines of the server running on ``--data-dir``."""
    path = Path(args.data_dir) / ENV_FILE
    if not path.exists():
        print(f"rapidata-sim env: no server has run on {args.data_dir} (no {ENV_FILE})", file=sys.stderr)
        return 2
    sys.stdout.write(path.read_text())
    return 0


def _remote(args: argparse.Namespace) -> int:
    from .remote import main as remote_main

    if args.command == "clock" and args.action != "show" and args.value is None:
        print(f"rapidata-sim clock {args.action}: needs a value", file=sys.stderr)
        return 2
    return remote_main(args)


def _demo(args: argparse.Namespace) -> int:
    """The signals guide over two virtual weeks, offline, watched live (``demo.py``)."""
    from .demo import MIN_DAYS, run

    if args.days < MIN_DAYS:
        print(f"rapidata-sim demo: --days must be at least {MIN_DAYS}", file=sys.stderr)
        return 2
    return run(days=args.days, seed=args.seed, fast=args.fast)


def _run(args: argparse.Namespace) -> int:
    """Run scenario files: a readable timeline each, non-zero exit if an expectation fails."""
    from . import sdk
    from .scenario import Scenario, ScenarioError, run

    sdk.quiet_env()
    sdk.skip_version_check()
    from .remote import RemoteError, connection

    try:
        server = connection(args.data_dir) if (args.server or args.data_dir) else None
    except RemoteError as exc:
        print(f"rapidata-sim run: {exc}", file=sys.stderr)
        return 2
    failed = 0
    for path in args.files:
        try:
            outcome = run(Scenario.load(path), server=server, keep_world=args.keep_world)
        except (OSError, ScenarioError) as exc:  # the file is wrong, not an expectation
            print(f"rapidata-sim run: {path}: {exc}", file=sys.stderr)
            return 2
        if outcome.kept_world:  # to stderr: the story on stdout is the same in-process and on a server
            kept = outcome.kept_world
            print(f"# {path}: kept world {kept['world']}; reach it with\n"
                  f"export RAPIDATA_CLIENT_ID={kept['RAPIDATA_CLIENT_ID']}\n"
                  f"export RAPIDATA_CLIENT_SECRET={kept['RAPIDATA_CLIENT_SECRET']}", file=sys.stderr)
        sys.stdout.write(outcome.report() + "\n")
        failed += not outcome.ok
    if len(args.files) > 1:
        print(f"{len(args.files) - failed} of {len(args.files)} scenarios passed")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rapidata-sim", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve a world over HTTPS and print the SDK's environment")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port")
    serve.add_argument("--data-dir", help="keep the SQLite state and the CA here (default: in memory)")
    serve.add_argument("--seed", type=int, default=0)
    serve.add_argument("--speed", type=float, default=1.0,
                       help="virtual seconds per wall second (3600 = an hour a second); 0 = frozen, moved "
                            "only through /_sim/clock/advance")
    serve.set_defaults(run=_serve)
    env = sub.add_parser("env", help="print the environment lines of the server on a data dir again")
    env.add_argument("--data-dir", required=True)
    env.set_defaults(run=_env)
    demo = sub.add_parser("demo", help="watch a daily signal for two virtual weeks, offline, through the real SDK")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--days", type=int, default=14, help="virtual days to play (at least 5; default 14)")
    demo.add_argument("--fast", action="store_true",
                      help="no pauses: on a terminal the demo otherwise takes about 2.5 s a virtual day")
    demo.set_defaults(run=_demo)
    # Control of a running server (the /_sim API), as the credentials in the environment or --data-dir.
    def remote(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--data-dir", help="connect to the server that runs on this data dir")
        p.set_defaults(run=_remote)
        return p

    clock = remote("clock", "show the clock, or: clock advance 24h | clock set-speed 3600")
    clock.add_argument("action", nargs="?", choices=("show", "advance", "set-speed"), default="show")
    clock.add_argument("value", nargs="?", help="a duration (90s, 30m, 12h, 3d) or a speed")
    remote("trigger", "trigger a signal now").add_argument("signal_id")
    remote("outage", "the service is down for a while (catch-up policy applies)").add_argument("duration")
    remote("events", "the event log as JSON lines").add_argument("--since", type=int, default=0)
    remote("worlds", "list the server's worlds")
    remote("reset", "replace your world with a fresh one")
    runner = sub.add_parser("run", help="run scenario files (TOML) and check their expectations")
    runner.add_argument("files", nargs="+", help="scenario files, e.g. scenarios/*.toml")
    runner.add_argument("--server", action="store_true",
                        help="run on the running server the environment points at, each scenario in a scratch "
                             "world of its own (your world is left as it is)")
    runner.add_argument("--data-dir", help="run on the server that runs on this data dir (implies --server)")
    runner.add_argument("--keep-world", action="store_true",
                        help="with --server: keep each scenario's scratch world and print its credentials "
                             "(default: deleted afterwards)")
    runner.set_defaults(run=_run)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    raise SystemExit(main())
