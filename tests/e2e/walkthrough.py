"""Running the docs' shell blocks as written: extraction, a fresh directory, the registry of claims.

Every ```sh block of README.md and docs/*.md is either marked as not run (its first line starts
with NOT_RUN, saying why) or claimed by exactly one test below, which runs it in a fresh directory
against the embedded broker and checks its stated result. test_walkthroughs.py fails on a block
that is neither, so a new block in the docs cannot go untested unnoticed.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from support import REPO

from streams.broker import free_port

NOT_RUN = "# not run by the test suite:"
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

SESSION = "test_readme.py::test_the_session_and_retention_walk_throughs_run_as_written"
RIGHTS = "test_readme.py::test_rights_requests_against_the_demo_run_as_written"
DOCS_AGAINST_DEMO = "test_docs.py::test_the_hold_and_request_walk_throughs_run_as_written"
OWN_TOPICS = "test_own_topics.py::test_the_your_own_topics_walk_through_runs_as_written"
OFFICER = "test_readme.py::test_the_privacy_officers_commands_against_the_demo_run_as_written"
# (document, a substring found in exactly one of its shell blocks) -> the test that runs that block
CLAIMS: dict[tuple[str, str], str] = {
    ("README.md", "lethe broker --port 9092"): SESSION,
    ("README.md", "kill $WORKER"): SESSION,
    ("README.md", "scripts/demo --keep-running"): RIGHTS,   # test_docs.py runs it too, to start the demo
    ("README.md", "request erase --customer cust-100003"): RIGHTS,
    ("README.md", "lethe discover loyalty.v1"): OWN_TOPICS,
    ("README.md", "lethe policy check .lethe/draft-policy.toml"):
        "test_policy_command.py::test_the_readme_walk_through_runs_as_written",
    ("README.md", "lethe audit --customer cust-100009"): OFFICER,
    ("docs/retention.md", "lethe hold place"): DOCS_AGAINST_DEMO,
    ("docs/rights.md", "lethe request erase"): DOCS_AGAINST_DEMO,
    ("docs/rights.md", "lethe audit --customer cust-100005"): DOCS_AGAINST_DEMO,
}


def blocks(document: Path) -> list[str]:
    """The ```sh blocks of a document, in order."""
    return re.findall(r"^```sh\n(.*?)^```", document.read_text(encoding="utf-8"), re.S | re.M)


def block(document: str, containing: str) -> str:
    """The one shell block of ``document`` (relative to the repository) that contains ``containing``."""
    assert (document, containing) in CLAIMS, f"claim {document}: {containing!r} in walkthrough.CLAIMS first"
    found = [b for b in blocks(REPO / document) if containing in b]
    assert len(found) == 1, f"{document} has {len(found)} shell blocks containing {containing!r}"
    return found[0]


def with_free_ports(script: str, ports: tuple[str, ...]) -> str:
    """The fixed ports a walk-through names, swapped for free ones (a developer's machine may use them)."""
    for port in ports:
        script = script.replace(port, str(free_port()))
    return script


def fresh_directory(tmp_path: Path) -> Path:
    """A directory that looks like a fresh clone after `scripts/setup`: no .lethe, no data."""
    home = tmp_path / "clone"
    home.mkdir()
    for name in (".venv", "deploy", "schemas", "scripts"):
        (home / name).symlink_to(REPO / name)
    return home


def run(script: str, tmp_path: Path, timeout: float = 240) -> tuple[int, str, bool]:
    """Run ``script`` with `bash -e` (a failing line fails it) in a fresh directory, in a session of
    its own; (exit code, its output, whether every process it started had ended within a grace time
    of its last line). Whatever is left running is killed either way."""
    home = fresh_directory(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LETHE_")}
    log = tmp_path / "walk-through.log"   # a file, not a pipe: a process left running must not hold the test
    with open(log, "wb") as out:
        process = subprocess.Popen(["bash", "-e", "-c", script], cwd=home, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            process.wait(timeout=timeout)
        finally:
            all_gone = stop_group(process.pid, home)
    return process.returncode, log.read_text(errors="replace"), all_gone


def stop_group(pgid: int, home: Path, grace: float = 15.0) -> bool:
    """True if the walk-through's processes all ended within ``grace`` s of its last line (SIGTERM
    takes a moment): those of its process group, and any other (the embedded broker starts a
    session of its own) still working in ``home``. Whatever is left is killed either way."""
    deadline = time.monotonic() + grace
    while True:
        left = working_in(home)
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            if not left:
                return True
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return False


def working_in(home: Path) -> list[int]:
    """Live processes whose working directory is ``home`` or below it."""
    home = home.resolve()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state not in ("Z", "X") and (cwd == home or home in cwd.parents):
            found.append(int(entry.name))
    return found
