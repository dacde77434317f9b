"""The README is a front door a newcomer reads in five minutes, and every command in it runs as written.

- it stays short, and opens with the two commands: the demo and the tests (``.ci/run`` runs the latter);
- its pytest example runs, as a file of its own, under a pytest of its own;
- its ``pip install`` lines resolve (dry run: the path form on this checkout, the git form on a clone of it);
- its ``rapidata-sim`` command lines run against a server started as the README starts it;
- neither it nor the documentation site points at material outside the repository.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MAX_LINES = 250
#: The placeholder the install lines use for a clone on disk, and the git URL they show.
CLONE_PLACEHOLDER = "/path/to/rapidata-sim"
GIT_URL_PLACEHOLDER = "https://git.example.com/you/rapidata-sim.git"


def readme() -> str:
    return README.read_text(encoding="utf-8")


def block_after(marker: str, text: str | None = None) -> str:
    """The fenced code block that follows ``<!-- marker -->``."""
    text = readme() if text is None else text
    m = re.search(rf"<!-- {re.escape(marker)} -->\n```[a-z]*\n(.*?)\n```", text, re.S)
    assert m, f"no code block after <!-- {marker} -->"
    return m.group(1)


def code_blocks(text: str) -> list[str]:
    return re.findall(r"^```[a-z]*\n(.*?)\n```", text, re.S | re.M)


def clean_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a fresh shell: nothing of this test session's worlds, a throwaway HOME,
    and the SDK offline (no version check, no telemetry)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RAPIDATA_", "SSL_CERT", "PYTEST_", "COV_"))}
    env.update(HOME=str(tmp_path), HTTPS_PROXY="http://127.0.0.1:9", NO_PROXY="127.0.0.1,localhost")
    return env


def test_readme_is_short():
    assert len(readme().splitlines()) <= MAX_LINES


def test_readme_opens_with_the_demo_and_the_test_command():
    text = readme()
    first_two = code_blocks(text)[:2]
    demo, tests = block_after("demo-command"), block_after("test-command")
    assert first_two == [demo, tests]
    assert text.index("<!-- test-command -->") < text.index("\n## ")  # before any section
    assert demo == "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[sdk]' && rapidata-sim demo"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    expected = re.search(r'^expected="(.*)"$', ci, re.M).group(1)
    assert tests == expected  # .ci/run checks the same, and then runs it
    assert demo in (ROOT / "docs" / "demo.md").read_text(encoding="utf-8")


def test_the_pytest_example_runs_as_written(tmp_path):
    example = block_after("readme-example")
    name = re.match(r"# (test_\w+\.py)", example).group(1)
    (tmp_path / name).write_text(example + "\n", encoding="utf-8")
    # The command the README gives after the example (``pytest FILE``), as ``python -m pytest`` so
    # that it is this interpreter's; -p no:cacheprovider keeps tmp_path clean.
    command = next(b for b in code_blocks(readme()) if b.startswith("pytest "))
    assert command == f"pytest {name}"
    out = subprocess.run([sys.executable, "-m", *shlex.split(command), "-q", "-p", "no:cacheprovider"],
                         cwd=tmp_path, env=clean_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    tests = len(re.findall(r"^def test_", example, re.M))
    assert re.search(rf"\b{tests} passed\b", out.stdout), out.stdout[-2000:]


def _install_lines() -> list[str]:
    section = readme().split("## Install into your own project", 1)[1].split("\n## ", 1)[0]
    lines = [line for block in code_blocks(section) for line in block.splitlines() if line.startswith("pip install")]
    assert len(lines) == 2, lines
    return lines


def test_the_install_lines_name_real_extras():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    for line in _install_lines():
        for extra in re.findall(r"rapidata-sim\[(\w+)\]", line):
            assert extra in extras, line
    (sdk,) = extras["sdk"]
    assert f"`{sdk.removeprefix('rapidata')}`" in README.read_text() or f"`{sdk}`" in README.read_text(), sdk


def test_the_install_lines_resolve(tmp_path):
    """Each ``pip install`` line, with this checkout for the placeholder clone (and a git clone of it for
    the git URL), as a dry run that builds the package's metadata offline."""
    pytest.importorskip("hatchling")  # the build backend, for --no-build-isolation (the SDK depends on it)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=60)
    for line in _install_lines():
        args = shlex.split(line.replace(CLONE_PLACEHOLDER, str(ROOT))
                           .replace(GIT_URL_PLACEHOLDER, f"file://localhost{clone}"))
        assert args[:2] == ["pip", "install"] and len(args) == 3, line
        out = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--no-index",
                              "--no-build-isolation", args[2]], capture_output=True, text=True, timeout=180,
                             env=clean_env(tmp_path))
        assert out.returncode == 0 and "Would install rapidata-sim-" in out.stdout, (line, out.stdout, out.stderr)


def _cli_lines() -> list[str]:
    lines = []
    for block in code_blocks(readme()):
        for line in block.splitlines():
            line = line.removeprefix("$ ")
            if line.startswith("rapidata-sim ") or " rapidata-sim " in line.split("&&")[-1]:
                lines.append(line.split("&& ")[-1])
    for m in re.finditer(r"`(rapidata-sim [^`]+)`", readme()):
        lines.append(m.group(1))
    return lines


def test_every_command_line_parses(capsys):
    """Every ``rapidata-sim …`` in the README is a command the CLI takes (checked with ``--help``
    after its arguments, which argparse reads up to there)."""
    from rapidata_sim.cli import main

    lines = _cli_lines()
    assert {shlex.split(line)[1] for line in lines} >= {"demo", "serve", "env", "clock", "trigger", "outage",
                                                          "events", "worlds", "reset", "run"}
    for line in lines:
        with pytest.raises(SystemExit) as exit_:
            main(shlex.split(line)[1:] + ["--help"])
        assert exit_.value.code == 0, line
        for word in shlex.split(line):
            if word.endswith(".toml"):
                assert (ROOT / word).is_file(), line
    capsys.readouterr()


def test_the_command_lines_run_against_the_server_the_readme_starts(tmp_path, monkeypatch, capsys):
    """``rapidata-sim serve --port 8443 --data-dir ./sim-data`` (on a free port, with a frozen clock,
    in a scratch directory), then the README's command block, line by line, as written (a real
    signal's id for ``SIGNAL_ID``; in this process, through the CLI's ``main``, to save a start-up
    per line)."""
    from rapidata_sim.cli import main

    serve = next(line for line in _cli_lines() if line.startswith("rapidata-sim serve"))
    args = shlex.split(serve)[1:]
    args[args.index("--port") + 1] = "0"
    env = clean_env(tmp_path)
    cli = [sys.executable, "-m", "rapidata_sim.cli"]
    server = subprocess.Popen([*cli, *args, "--speed", "0"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        exports = {}
        while "RAPIDATA_DISABLE_OTLP" not in exports:
            line = server.stdout.readline()
            assert line.startswith("export "), line
            key, _, value = line[len("export "):].strip().partition("=")
            exports[key] = value
        for key, value in exports.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("HOME", str(tmp_path))
        from rapidata import RapidataClient

        client = RapidataClient()
        definition = client.job.create_free_text_job_definition(
            name="readme", instruction="?", datapoints=["t"], data_type="text", responses_per_datapoint=1)
        signal_id = client.signals.create_signal(name="readme", audience="global", job_definition=definition,
                                                 interval_hours=24).id

        monkeypatch.chdir(tmp_path)  # --data-dir ./sim-data, as the server was started
        block = next(b for b in code_blocks(readme()) if b.startswith("rapidata-sim clock advance"))
        for line in block.splitlines():
            words = [signal_id if w == "SIGNAL_ID" else w for w in shlex.split(line)]
            assert main(words[1:]) == 0, (line, capsys.readouterr())
            assert capsys.readouterr().out.strip(), line
        env_line = next(line for line in _cli_lines() if line.startswith("rapidata-sim env"))
        assert main(shlex.split(env_line)[1:]) == 0
        assert f"export RAPIDATA_ENVIRONMENT={exports['RAPIDATA_ENVIRONMENT']}" in capsys.readouterr().out
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)


#: Words that cite material a reader of the repository cannot open.
OUTSIDE = re.compile(r"wire notes|wire-notes|\.\./shared|the issue|issue's|issue #|§\s*\d", re.I)


def _pages() -> list[Path]:
    return [README, *sorted((ROOT / "docs").glob("*.md")), ROOT / "specs" / "README.md"]


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_page_points_outside_the_repository(page):
    text = page.read_text(encoding="utf-8")
    text = text.replace("RFC 6749 §5.2", "")  # a public standard, not outside material
    assert not OUTSIDE.search(text), OUTSIDE.search(text).group(0)
    for target in re.findall(r"\]\(([^)]+)\)", text):
        if re.match(r"https?://", target):
            continue
        path = (page.parent / target.split("#", 1)[0]).resolve()
        assert path.is_relative_to(ROOT) and path.exists(), f"{page.name}: broken link {target}"


def test_the_docs_navigation_lists_every_page():
    """mkdocs --strict (in .ci/run) checks links and anchors; this checks nothing is left out of the nav."""
    nav = set(re.findall(r":\s*([\w-]+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(encoding="utf-8"), re.M))
    assert nav == {p.name for p in (ROOT / "docs").glob("*.md")}
