#!/usr/bin/env python3
"""Which ``rapidata`` SDK versions the simulator works with: the SDK-facing tests, per version.

    python bench/sdk_compat.py                       # newest patch of every minor 3.20 .. 3.27
    python bench/sdk_compat.py --minors 3.25-3.27    # some minors
    python bench/sdk_compat.py --versions 3.25.3     # exact versions
    python bench/sdk_compat.py --tests tests/api/test_lists.py   # other tests (pytest arguments)

Slow (a venv and a test run per version, one version at a time: a few minutes each), so it
is not part of the default test command nor of ``bench/run``'s default suites. For each
version it:

1. finds the newest patch of the minor (``pip index versions rapidata``);
2. snapshots this working tree once into a temporary folder (so editing the tree while it
   runs changes nothing), makes a fresh venv there, and installs the snapshot (editable)
   with the ``test`` extra's tools but the chosen ``rapidata==X.Y.Z`` instead of the pin;
3. runs ``TESTS`` (below) with ``pytest -n 0`` from the snapshot, each test limited to
   ``TEST_TIMEOUT_S`` (pytest-timeout: an older SDK may wait forever where a newer one
   raises), and reads the junit XML.

It writes ``docs/compatibility.md`` (``--out``): one row per version with passed / failed /
errors / skipped and, for each failure, the test and the first line of its error; and the
raw results to ``bench/results/sdk_compat.json``. Exit status is non-zero if any version
failed to install or had a failing test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

#: The SDK-facing tests, chosen to cover every part of the SDK the simulator serves while
#: finishing in a few minutes per version on two shared cores: the pytest plugin as a user
#: meets it (fresh projects, xdist), the guides' examples (audiences, jobs, signals), results
#: in every format, lists and pagination, job-definition revisions, auth and token refresh,
#: bad inputs and injected HTTP faults (the SDK's retries), the crowd model, worlds and
#: determinism through the SDK, and the scenario files. Left out: the worked example's
#: state-machine search (~2 min, simulator-side), the fast-forward and load tests (the
#: scheduler, not the SDK), schemathesis (the specs, not the SDK) and the browser test.
TESTS = [
    "tests/tools/test_pytest_plugin.py",
    "tests/guides/test_guide_quickstart_audiences.py",
    "tests/guides/test_guide_signals.py",
    "tests/sdk/test_results_formats.py",
    "tests/api/test_lists.py",
    "tests/sdk/test_revisions.py",
    "tests/sdk/test_auth_and_visibility.py",
    "tests/api/test_bad_inputs.py",
    "tests/sdk/test_http_faults.py",
    "tests/sdk/test_crowd.py",
    "tests/api/test_worlds.py",
    "tests/sdk/test_scheduler_and_determinism.py",
    "tests/guides/test_worked_example.py",
    "scenarios",
    "-k", "not state_machine",
]
#: Installed beside the test extra: an older SDK can wait forever where a newer one raises (a
#: paused job, say), so every test gets a time limit and a hang costs one test, not the run.
EXTRA_TOOLS = ["pytest-timeout>=2.1"]
TEST_TIMEOUT_S = 120
PIPE, ESCAPED_PIPE = "|", "\\|"
#: Files and folders not copied into the snapshot.
IGNORE = shutil.ignore_patterns(".venv", ".git", "__pycache__", "*.pyc", ".pytest_cache", "results",
                                ".hypothesis", "*.egg-info", "site")


def pip_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RAPIDATA_", "SSL_CERT", "VIRTUAL_ENV", "PYTHONPATH"))}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def parse_version(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", v)[:3])


def available_versions() -> list[str]:
    """Every released rapidata version, as the index lists them (final releases only)."""
    out = subprocess.run([sys.executable, "-m", "pip", "index", "versions", "rapidata"], capture_output=True,
                         text=True, env=pip_env(), timeout=300)
    m = re.search(r"Available versions:\s*(.+)", out.stdout)
    if not m:
        raise SystemExit(f"pip index versions rapidata listed nothing:\n{out.stdout}\n{out.stderr[-2000:]}")
    return [v.strip() for v in m.group(1).split(",") if re.fullmatch(r"\d+\.\d+\.\d+", v.strip())]


def newest_patches(minors: list[tuple[int, int]], versions: list[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for major, minor in minors:
        of_minor = [v for v in versions if parse_version(v)[:2] == (major, minor)]
        out[f"{major}.{minor}"] = max(of_minor, key=parse_version) if of_minor else None
    return out


def parse_minors(spec: str) -> list[tuple[int, int]]:
    """``3.20-3.27`` or ``3.20,3.22``."""
    out: list[tuple[int, int]] = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        a, b = parse_version(lo), parse_version(hi or lo)
        if a[0] != b[0]:
            raise SystemExit(f"--minors {part}: one major at a time")
        out += [(a[0], m) for m in range(a[1], b[1] + 1)]
    return out


def test_requirements() -> list[str]:
    """The ``test`` extra without its rapidata pin."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    return [r for r in extras["test"] if not re.match(r"rapidata\b(?!-)", r)]


def snapshot(dest: Path) -> Path:
    src = dest / "rapidata-sim"
    shutil.copytree(ROOT, src, ignore=IGNORE)
    return src


def junit_counts(path: Path) -> dict[str, Any]:
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    failures: list[dict[str, str]] = []
    root = ET.parse(path).getroot()
    for case in root.iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        kinds = {child.tag for child in case}
        if "error" in kinds:
            counts["errors"] += 1
            el = case.find("error")
        elif "failure" in kinds:
            counts["failed"] += 1
            el = case.find("failure")
        elif "skipped" in kinds:
            counts["skipped"] += 1
            continue
        else:
            counts["passed"] += 1
            continue
        failures.append({"test": name, "kind": el.tag, "message": first_line(el.get("message"), el.text)[:300]})
    return {**counts, "failures": failures}


def first_line(message: str | None, text: str | None) -> str:
    """The telling line of a failure: its message, or (a collection error's message is only
    "collection failure") the last ``E   ...`` line of the traceback."""
    message = (message or "").strip()
    if message and message != "collection failure":
        return message.splitlines()[0]
    e_lines = [line[1:].strip() for line in (text or "").splitlines() if line.startswith("E ")]
    return e_lines[-1] if e_lines else message or (text or "").strip()[:300]


def run_version(version: str, src: Path, work: Path, tests: list[str], timeout: float) -> dict[str, Any]:
    venv = work / f"venv-{version}"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    install = subprocess.run([py, "-m", "pip", "install", "-q", "-e", str(src), *test_requirements(),
                              *EXTRA_TOOLS, f"rapidata=={version}"],
                             capture_output=True, text=True, env=pip_env(), timeout=1800)
    install_s = time.perf_counter() - t0
    if install.returncode != 0:
        return {"version": version, "installed": False, "install_s": round(install_s, 1),
                "error": (install.stderr or install.stdout)[-3000:]}
    got = subprocess.run([py, "-c", "import importlib.metadata as m; print(m.version('rapidata'), "
                                    "m.version('pydantic'))"], capture_output=True, text=True, env=pip_env())
    installed, _, pydantic = got.stdout.strip().partition(" ")
    junit = work / f"junit-{version}.xml"
    env = pip_env()
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    t1 = time.perf_counter()
    try:
        run = subprocess.run([py, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider",
                              f"--timeout={TEST_TIMEOUT_S}", "--continue-on-collection-errors",
                              f"--junitxml={junit}", *tests],
                             cwd=src, capture_output=True, text=True, env=env, timeout=timeout)
        tail, rc = run.stdout[-4000:], run.returncode
    except subprocess.TimeoutExpired as e:
        tail, rc = f"timed out after {timeout:.0f} s\n{(e.stdout or b'')[-3000:]!r}", None
    test_s = time.perf_counter() - t1
    result: dict[str, Any] = {"version": version, "installed": True, "rapidata": installed, "pydantic": pydantic,
                              "install_s": round(install_s, 1), "test_s": round(test_s, 1), "exit": rc}
    if junit.exists():
        result.update(junit_counts(junit))
    else:
        result.update({"passed": 0, "failed": 0, "errors": 1, "skipped": 0,
                       "failures": [{"test": "(session)", "kind": "error", "message": tail.strip()[-300:]}]})
    result["summary"] = next((line for line in reversed(tail.splitlines()) if " in " in line), tail[-200:])
    return result


#: Failures whose cause is on the SDK's side of the wire: the test uses or expects something the
#: SDK version under test does not have (checked by hand for the versions in the table). Each is
#: (regex on the failure's message, what the note says, the name the first group captures).
SDK_SIDE: list[tuple[str, str]] = [
    (r"unexpected keyword argument '(\w+)'", "newer SDK API"),
    (r"has no attribute '(\w+)'", "newer SDK API"),
    (r"cannot import name '(\w+)'", "newer SDK API"),
    (r"Timeout \(>", "SDK polls a paused job until the time limit (3.27 raises at once)"),
    # An older SDK's to_pandas() (columns starting with 'identifier') lays classifications out
    # wide: one column per answer where 3.27 has 'option' / 'ratio' rows.
    (r"KeyError: 'option'|!= 'option'|assert \['identifier'", "the SDK's own DataFrame layout of results is older"),
    # A setting's value is sent as str(value): an older SDK's bool gives 'True', 3.27's 'true'.
    (r"'True'\}\] == \[\{'key'", "the SDK sends a setting's value as 'True' (3.27: 'true')"),
]


def classify(failure: dict[str, str]) -> tuple[str, str | None]:
    """(cause, the API name involved) of one failure; cause "other" if none of ``SDK_SIDE``."""
    for pattern, cause in SDK_SIDE:
        m = re.search(pattern, failure["message"])
        if m:
            return cause, (m.group(1) if m.groups() else None)
    return "other", None


def notes_of(r: dict[str, Any], known: dict[str, str]) -> str:
    if not r.get("installed"):
        last = [line for line in r.get("error", "").splitlines() if line.strip()]
        return f"does not install: {last[-1][:200] if last else '?'}"
    if known.get(r["version"]):
        return known[r["version"]]
    if not r["failures"]:
        return "all pass"
    causes: dict[str, list[str]] = {}
    others: list[dict[str, str]] = []
    for f in r["failures"]:
        cause, name = classify(f)
        if cause == "other":
            others.append(f)
        else:
            causes.setdefault(cause, []).append(name or "")
    parts = []
    for cause, names in causes.items():
        named = sorted({n for n in names if n})
        parts.append(f"{len(names)} × {cause}" + (f" ({', '.join(f'`{n}`' for n in named)})" if named else ""))
    for f in others[:6]:
        parts.append(f"`{f['test'].split('::', 1)[-1]}`: {f['message'][:140]}")
    if len(others) > 6:
        parts.append(f"and {len(others) - 6} more")
    return "; ".join(parts)


def simulator_side(r: dict[str, Any]) -> int:
    """Failures not explained by the SDK version (``SDK_SIDE``): what the simulator may get wrong."""
    return sum(classify(f)[0] == "other" for f in r.get("failures", []))


def row(r: dict[str, Any], notes: dict[str, str]) -> str:
    note = notes_of(r, notes).replace(PIPE, ESCAPED_PIPE)
    if not r.get("installed"):
        return f"| {r['version']} | - | - | - | - | - | {note} |"
    return (f"| {r['version']} | {r['passed']} | {r['failed']} | {r['errors']} | {r['skipped']} | "
            f"{simulator_side(r)} | {note} |")


def write_markdown(path: Path, results: list[dict[str, Any]], minors: dict[str, str | None], tests: list[str],
                   commit: str, notes: dict[str, str], preamble: str, when: str, python: str) -> None:
    lines = [
        "# SDK compatibility",
        "",
        "Which versions of the `rapidata` Python SDK the simulator is tested with. The `sdk` extra",
        "(`pip install 'rapidata-sim[sdk]'`) accepts the range that passes below; the `test` extra pins",
        "the version the full test suite runs against.",
        "",
    ]
    if preamble:
        lines += [preamble.strip(), ""]
    lines += [
        "| rapidata | passed | failed | errors | skipped | unexplained | notes |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    by_version = {r["version"]: r for r in results}
    for minor, version in minors.items():
        if version is None:
            lines.append(f"| {minor}.x | - | - | - | - | - | no release of this minor |")
            continue
        r = by_version.get(version)
        if r is None:
            lines.append(f"| {version} | - | - | - | - | - | not run |")
        else:
            lines.append(row(r, notes))
    for r in results:
        if r["version"] not in minors.values():
            lines.append(row(r, notes))
    lines += [
        "",
        "The tests are written against 3.27.1, so an older SDK fails some of them for its own reasons:",
        "a method, argument or exception it does not have yet, a DataFrame layout of its own, a paused",
        "job it keeps polling (each test has a time limit) where 3.27 raises. The notes count those",
        "by cause; *unexplained* counts the rest, the failures that may be the simulator's. Each cause",
        "is matched on the failure's message (`SDK_SIDE` in `bench/sdk_compat.py`), and was checked by",
        "hand on the versions above. The one error before 3.27 is `tests/sdk/test_revisions.py` failing to",
        "import 3.27's `RevisionConflictError`: the revisions API is new in 3.27, and those tests do",
        "not run on older versions.",
        "",
        f"Measured {when} at commit `{commit}` on Python {python}, each version the newest",
        "patch of its minor, in a fresh venv with the `test` extra's tools and that SDK version (and whatever",
        "dependency versions pip picked for it). Tests run, with `pytest -n 0`:",
        "",
        "```",
        " ".join(tests),
        "```",
        "",
        "That is the pytest plugin as a user meets it (fresh projects, xdist), the guides' examples",
        "(audiences, jobs, signals), results in every format, lists and pagination, job-definition",
        "revisions, auth and token refresh, bad inputs and injected HTTP faults (the SDK's retries), the",
        "crowd model, worlds and determinism through the SDK, and the scenario files. The rest of the",
        "suite drives the simulator without the SDK, or checks the OpenAPI specs, and does not depend on",
        "the SDK's version.",
        "",
        "Regenerate with `python bench/sdk_compat.py` (slow: a venv and a test run per version, a few",
        "minutes each; `--minors 3.25-3.27` or `--versions 3.25.3` for some). Raw results:",
        "`bench/results/sdk_compat.json`.",
        "",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def render(json_path: Path, out: Path, notes_path: Path) -> None:
    doc = json.loads(json_path.read_text())
    notes = json.loads(notes_path.read_text()) if notes_path.exists() else {}
    preamble = notes.pop("_preamble", "")
    write_markdown(out, doc["results"], doc["minors"], doc["tests"], doc["commit"], notes, preamble,
                   doc.get("at") or datetime.fromtimestamp(json_path.stat().st_mtime, timezone.utc).strftime(
                       "%Y-%m-%d"), doc.get("python", "?"))


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "rapidata_sim", "tests", "scenarios"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "?"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minors", default="3.20-3.27", help="minors whose newest patch to test (default 3.20-3.27)")
    ap.add_argument("--versions", default="", help="comma-separated exact versions instead of --minors")
    ap.add_argument("--tests", nargs=argparse.REMAINDER, help="pytest arguments instead of the default subset")
    ap.add_argument("--timeout", type=float, default=1200, help="per version's test run, seconds (default 1200)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "compatibility.md")
    ap.add_argument("--json", type=Path, default=HERE / "results" / "sdk_compat.json")
    ap.add_argument("--notes", type=Path, default=HERE / "sdk_compat_notes.json",
                    help="JSON {version: note} that replaces the generated note of a version (e.g. the reason "
                         "for a floor), and {'_preamble': text} written above the table")
    ap.add_argument("--merge", action="store_true",
                    help="keep earlier results (from --json) of versions not run this time")
    ap.add_argument("--render", action="store_true",
                    help="only write --out from the results in --json (after editing the notes, say)")
    args = ap.parse_args(argv)
    tests = args.tests or TESTS
    if args.render:
        render(args.json, args.out, args.notes)
        print(f"wrote {args.out}")
        return 0

    if args.versions:
        chosen = {v: v for v in args.versions.split(",") if v}
        minors: dict[str, str | None] = {}
    else:
        minors = newest_patches(parse_minors(args.minors), available_versions())
        chosen = {m: v for m, v in minors.items() if v}
    print("versions: " + ", ".join(f"{m} -> {v}" for m, v in (minors or chosen).items()), flush=True)

    earlier: dict[str, dict[str, Any]] = {}
    if args.merge and args.json.exists():
        earlier = {r["version"]: r for r in json.loads(args.json.read_text()).get("results", [])}
    results: list[dict[str, Any]] = []
    commit = git_commit()
    with tempfile.TemporaryDirectory(prefix="rapidata-sim-compat-") as tmp:
        work = Path(tmp)
        src = snapshot(work)
        for version in chosen.values():
            print(f"\n== rapidata {version}: installing ...", flush=True)
            r = run_version(version, src, work, tests, args.timeout)
            if r["installed"]:
                print(f"   rapidata {r['rapidata']} (pydantic {r['pydantic']}): {r['passed']} passed, "
                      f"{r['failed']} failed, {r['errors']} errors, {r['skipped']} skipped "
                      f"(install {r['install_s']} s, tests {r['test_s']} s)", flush=True)
                for f in r["failures"]:
                    print(f"     {f['kind']}: {f['test']}: {f['message'][:200]}", flush=True)
            else:
                print(f"   did not install:\n{r['error'][-1500:]}", flush=True)
            results.append(r)
            earlier.pop(version, None)
            # After each version, so an interrupted run still leaves what it measured.
            everything = sorted([*results, *earlier.values()], key=lambda x: parse_version(x["version"]))
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({"commit": commit, "at": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
                                             "tests": tests, "minors": minors or {v: v for v in chosen.values()},
                                             "python": platform.python_version(), "results": everything},
                                            indent=2) + "\n")
            render(args.json, args.out, args.notes)
    print(f"\nwrote {args.out} and {args.json}")
    bad = [r for r in results if not r["installed"] or r["failed"] or r["errors"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
