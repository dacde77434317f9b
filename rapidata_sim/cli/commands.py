"""``rapidata-sim``: serve worlds, control a running server, run scenarios, or watch the demo."""

from __future__ import annotations

import argparse
import signal as signals
import sys
import textwrap
import threading
from pathlib import Path

from ..serving.remote import ENV_FILE


def _serve(args: argparse.Namespace) -> int:
    """One server, many worlds: each set of client credentials has its own (``worlds``)."""
    from ..serving.worlds import Worlds, WorldsServer

    data_dir = Path(args.data_dir) if args.data_dir else None
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
    # On a data dir the worlds are kept: clocks continue, downtime is an outage (catch-up policy).
    worlds = Worlds(seed=args.seed, speed=args.speed, data_dir=data_dir, max_worlds=args.max_worlds,
                    idle_seconds=args.idle_seconds, poll_advance=args.poll_advance)
    server = WorldsServer(worlds, host=args.host, port=args.port).start()
    print("# rapidata-sim is serving on https://%s:%d — paste these lines into a shell:" % (args.host, server.port),
          file=sys.stderr)
    sys.stdout.write(server.export_lines())
    sys.stdout.flush()
    sys.stderr.write(serve_notes(server.environment, server.certs.ca_pem))
    sys.stderr.flush()
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




def serve_notes(environment: str, ca_pem: Path) -> str:
    """What ``serve`` tells a person after the export lines: why the less obvious ones are there,
    where the dashboard is, and how a browser comes to trust it."""
    origin = "https://" + environment.split("@", 1)[1]
    paragraphs = (
        "RAPIDATA_AGENT_HINT=0: on import the SDK tells a coding agent (Claude Code, Cursor, Codex ...) to read "
        "its guide and to sign in to the real service with 'python -m rapidata login'; against the simulator the "
        "lines above are all the sign-in there is, so the hint is switched off. RAPIDATA_DISABLE_OTLP=1 sends "
        "no telemetry to the real service; RAPIDATA_cacheToDisk=0 keeps the SDK's upload cache in memory.",
        f"Dashboard: {origin}/_sim/dashboard — the links the SDK prints open there too, e.g. "
        f"Preview in dashboard: https://app.{environment}/definitions/jd_... and a job's page.",
        f"To open them without a certificate warning, trust {ca_pem} in your browser as a certificate "
        "authority: Chrome/Chromium: Settings > Privacy and security > Security > Manage certificates > "
        "Authorities > Import; Firefox: Settings > Privacy & Security > Certificates > View Certificates > "
        f"Authorities > Import; on Linux also: certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n rapidata-sim -i {ca_pem}",
        "That CA signed this server's certificate (127.0.0.1, localhost, ::1) and nothing else: its key was never "
        "written to disk. Without --data-dir every start makes a new one, to be trusted again.",
    )
    return "".join(textwrap.fill(text, 110, initial_indent="# ", subsequent_indent="#   ", break_long_words=False,
                                 break_on_hyphens=False) + "\n" for text in paragraphs)


def _env(args: argparse.Namespace) -> int:
    """The connection lines of the server running on ``--data-dir``."""
    path = Path(args.data_dir) / ENV_FILE
    if not path.exists():
        print(f"rapidata-sim env: no server has run on {args.data_dir} (no {ENV_FILE})", file=sys.stderr)
        return 2
    sys.stdout.write(path.read_text())
    return 0


def _remote(args: argparse.Namespace) -> int:
    from .control import main as remote_main

    if args.command == "clock" and args.action != "show" and args.value is None:
        print(f"rapidata-sim clock {args.action}: needs a value", file=sys.stderr)
        return 2
    if args.command == "clock" and args.action == "set-speed":
        try:
            speed(args.value)
        except argparse.ArgumentTypeError as exc:
            print(f"rapidata-sim clock set-speed: {exc}", file=sys.stderr)
            return 2
    return remote_main(args)


def _demo(args: argparse.Namespace) -> int:
    """The signals guide over two virtual weeks, offline, watched live (``cli/demo.py``)."""
    from .demo import MIN_DAYS, run

    if args.days < MIN_DAYS:
        print(f"rapidata-sim demo: --days must be at least {MIN_DAYS}", file=sys.stderr)
        return 2
    return run(days=args.days, seed=args.seed, fast=args.fast)


def _run(args: argparse.Namespace) -> int:
    """Run scenario files: a readable timeline each, non-zero exit if an expectation fails."""
    from ..testing import offline_sdk
    from ..scenario import Scenario, ScenarioError, run

    offline_sdk.quiet_env()
    offline_sdk.skip_version_check()
    from ..serving.remote import RemoteError, connection

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


DESCRIPTION = ("Serve simulated Rapidata worlds to the unmodified SDK, control a running server, run "
               "scenarios, or watch the demo. 'rapidata-sim COMMAND --help' tells more about a command.")
DURATION = "a number and a unit: s, m, h, d or w (90s, 30m, 1.5h, 3d, 2w)"
SERVE_TEXT = ("Serve worlds over HTTPS on one port and print the environment lines for the SDK (stdout), then "
              "where the dashboard is: https://HOST:PORT/_sim/dashboard, which also opens the links the SDK "
              "prints (Preview in dashboard: https://app.sim@HOST:PORT/definitions/...). Each set of client "
              "credentials gets a world of its own. Stop with Ctrl-C.")


class _Help(argparse.HelpFormatter):
    """Help that ends every option's text with its default, unless the text names it already."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (action.option_strings and "default" not in text and action.default not in (None, argparse.SUPPRESS)
                and not isinstance(action, argparse._HelpAction)):
            text += " (default: %(default)s)"
        return text


def speed(text: str) -> float:
    """``--speed``'s type: ``clock.check_speed`` (nan and inf would freeze or crash the clock)."""
    from ..core.clock import MAX_SPEED, CalendarError, check_speed

    try:
        return check_speed(float(text))
    except (ValueError, CalendarError):
        cap = f"{MAX_SPEED:.0e}".replace("e+0", "e")
        raise argparse.ArgumentTypeError(f"{text!r} is not a speed: give virtual seconds per wall second, "
                                         f"a number from 0 (frozen) to {cap}") from None


def _count(text: str) -> int:
    """``--max-worlds``: a whole number, 0 or more."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a count of worlds: give a whole number, 0 or more")
    return int(text)


def _seconds(text: str) -> float:
    """``--idle-seconds``: a finite number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    """Every command and option, each with its help text (and default)."""
    parser = argparse.ArgumentParser(prog="rapidata-sim", description=DESCRIPTION, formatter_class=_Help)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str, description: str | None = None) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, description=description or help_text, formatter_class=_Help)

    serve = command("serve", "serve worlds over HTTPS, print the SDK's environment and the dashboard's address",
                    SERVE_TEXT)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one")
    serve.add_argument("--data-dir", help="keep the worlds (SQLite), the CA and the environment lines here, so a "
                                          "restart carries on (default: none, everything in memory and a new CA "
                                          "each start)")
    serve.add_argument("--seed", type=int, default=0, help="seed of every world's ids and crowd answers")
    serve.add_argument("--speed", type=speed, default=1.0,
                       help="virtual seconds per wall second, from 0 to 1e7 (3600 = an hour a second); 0 = "
                            "frozen, moved only by the 'clock advance' command")
    serve.add_argument("--max-worlds", type=_count, default=None,
                       help="at most this many worlds besides the default one; new client credentials past it get "
                            "403 access_denied at /connect/token (default: no cap)")
    serve.add_argument("--idle-seconds", type=_seconds, default=300.0,
                       help="with --data-dir, close a world after this many seconds without requests; its next "
                            "request opens it again, and what fell due meanwhile happens then")
    serve.add_argument("--poll-advance", choices=("next-event", "off"), default="next-event",
                       help="next-event (default): a client that polls an unfinished job, flow item or signal "
                            "again moves its world to the next thing that happens to it, so get_results() "
                            "returns at once; off: time passes only by the clock")
    serve.set_defaults(run=_serve)
    env = command("env", "print the environment lines of the server on a data dir again")
    env.add_argument("--data-dir", required=True, help="the --data-dir the server was started with (required)")
    env.set_defaults(run=_env)
    demo = command("demo", "watch a daily signal for two virtual weeks, offline, through the real SDK")
    demo.add_argument("--seed", type=int, default=0, help="seed of the world's ids and crowd answers")
    demo.add_argument("--days", type=int, default=14, help="virtual days to play, at least 5")
    demo.add_argument("--fast", action="store_true",
                      help="no pauses (default: off; on a terminal the demo takes about 2.5 s a virtual day)")
    demo.set_defaults(run=_demo)

    # Control of a running server (the /_sim API), as the credentials in the environment or --data-dir.
    def remote(name: str, help_text: str) -> argparse.ArgumentParser:
        p = command(name, help_text, help_text + ". Acts on the world of the credentials in the environment "
                                                 "(the lines 'serve' prints), or of the server on --data-dir.")
        p.add_argument("--data-dir", help="connect to the server that runs on this data dir (default: the "
                                          "server and credentials the environment names)")
        p.set_defaults(run=_remote)
        return p

    clock = remote("clock", "show the clock, or move it: 'clock advance 24h', 'clock set-speed 3600'")
    clock.add_argument("action", nargs="?", choices=("show", "advance", "set-speed"), default="show",
                       help="show (default), advance by a duration, or set-speed")
    clock.add_argument("value", nargs="?", help=f"for advance a duration, {DURATION}; for set-speed virtual "
                                                "seconds per wall second, 0 to 1e7")
    remote("trigger", "trigger a signal now").add_argument("signal_id", help="the signal's id (sig_...)")
    remote("outage", "take the service down for a while; missed firings follow the catch-up policy").add_argument(
        "duration", help=f"how long it is down, {DURATION}")
    remote("events", "print the event log as JSON lines").add_argument(
        "--since", type=int, default=0, help="only events after this sequence number")
    remote("worlds", "show your own world (other worlds are not shown to callers)")
    remote("reset", "DESTRUCTIVE: replace your world with a fresh one; its definitions, jobs, signals and "
                    "results are deleted (clients and tokens stay)")
    runner = command("run", "run scenario files (TOML) and check their expectations")
    runner.add_argument("files", nargs="+", help="scenario files, e.g. scenarios/*.toml")
    runner.add_argument("--server", action="store_true",
                        help="run on the running server the environment points at, each scenario in a scratch "
                             "world of its own; your world is left as it is (default: off, in a private "
                             "in-process world)")
    runner.add_argument("--data-dir", help="run on the server that runs on this data dir, as --server does "
                                           "(default: none)")
    runner.add_argument("--keep-world", action="store_true",
                        help="with --server: keep each scenario's scratch world and print its credentials "
                             "(default: deleted afterwards)")
    runner.set_defaults(run=_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)

