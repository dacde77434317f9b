"""The command line as a person meets it: its help, its refusals, and what ``serve`` tells them."""

from __future__ import annotations

import argparse
import re
import signal
import ssl
import subprocess
import sys

import httpx
import pytest

from rapidata_sim import cli


def _parsers() -> dict[str, argparse.ArgumentParser]:
    root = cli.build_parser()
    (sub,) = [a for a in root._actions if isinstance(a, argparse._SubParsersAction)]
    return {"": root, **sub.choices}


def test_help_has_no_rest_markup_and_every_option_says_what_it_does_and_its_default():
    parsers = _parsers()
    for name, parser in parsers.items():
        text = parser.format_help()
        assert "`" not in text, f"rapidata-sim {name} --help shows backticks"
        formatter = parser.formatter_class(parser.prog)
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            assert action.help, f"{name} {action.dest} has no help text"
            if action.option_strings and not action.required:
                assert "default" in formatter._get_help_string(action), f"{name} {action.dest} hides its default"
    assert "/_sim/dashboard" in parsers["serve"].format_help()
    assert "app.sim@" in parsers["serve"].format_help()  # the SDK's links are named as the dashboard's
    assert "DESTRUCTIVE" in parsers["reset"].format_help()
    assert "DESTRUCTIVE" not in parsers["run"].format_help()  # scenarios on a server run in scratch worlds
    for name in ("clock", "outage"):  # every duration says its format
        assert "90s, 30m, 1.5h, 3d, 2w" in parsers[name].format_help()


@pytest.mark.parametrize("value", ["nan", "-1", "inf", "-inf", "1e8", "fast", ""])
def test_serve_refuses_a_speed_that_would_freeze_or_crash_the_clock(value, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.build_parser().parse_args(["serve", f"--speed={value}"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --speed: {value!r} is not a speed" in err and "from 0 (frozen) to 1e7" in err
    assert cli.main(["clock", "set-speed", "--", value]) == 2  # refused before any server is asked
    assert f"{value!r} is not a speed" in capsys.readouterr().err


def test_serve_accepts_every_finite_speed_up_to_the_clock_cap():
    for value, expected in (("0", 0.0), ("3600", 3600.0), ("1e7", 1e7)):
        assert cli.build_parser().parse_args(["serve", f"--speed={value}"]).speed == expected


def test_serve_names_the_dashboard_how_to_trust_its_ca_and_why_the_agent_hint_is_off(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "rapidata_sim.cli", "serve", "--speed", "0", "--data-dir",
                             str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        exports = dict(re.findall(r"^export (\w+)=(.*)$", "".join(proc.stdout.readline() for _ in range(7)),
                                  flags=re.M))
        assert len(exports) == 7  # stdout stays the export lines alone, for eval and the env file
        notes = ""
        while "nothing else" not in notes:  # the last note
            line = proc.stderr.readline()
            assert line, notes
            notes += line
        flat = re.sub(r"\n#   ", " ", notes)
        assert "RAPIDATA_AGENT_HINT=0: on import the SDK tells a coding agent" in flat
        environment = exports["RAPIDATA_ENVIRONMENT"]
        (dashboard,) = re.findall(r"Dashboard: (\S+)", flat)
        assert dashboard == f"https://{environment.split('@')[1]}/_sim/dashboard"
        assert f"https://app.{environment}/definitions/" in flat
        ca = exports["SSL_CERT_FILE"]
        assert f"trust {ca} in your browser as a certificate authority" in flat
        # The printed address, trusting the printed CA, as a browser would once told to.
        page = httpx.get(dashboard, verify=ssl.create_default_context(cafile=ca))
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
