"""The README's walk-throughs, run as written: its own shell blocks, in order, in a fresh directory.

The blocks are read from README.md at test time, so the test follows the README when it changes.
Only the fixed ports are swapped for free ones (a developer's machine may already use 9092 or
9108); every other character runs as a user would paste it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from support import REPO

from streams.broker import free_port

pytestmark = pytest.mark.integration

README = REPO / "README.md"


def block(containing: str) -> str:
    """The README shell block that contains ``containing`` (exactly one must)."""
    found = [b for b in re.findall(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), re.S) if containing in b]
    assert len(found) == 1, f"README.md has {len(found)} shell blocks containing {containing!r}"
    return found[0]


def fresh_directory(tmp_path: Path) -> Path:
    """A directory that looks like a fresh clone after `scripts/setup`: no .lethe, no data."""
    home = tmp_path / "clone"
    home.mkdir()
    for name in (".venv", "deploy", "schemas"):
        (home / name).symlink_to(REPO / name)
    return home


@pytest.mark.skipif(not (shutil.which("sqlite3") and shutil.which("curl")),
                    reason="the README's walk-through uses sqlite3 and curl")
def test_the_session_and_retention_walk_throughs_run_as_written(tmp_path: Path) -> None:
    script = block("lethe broker --port 9092") + "\n" + block("kill $WORKER")
    for port in ("9092", "9107", "9108", "9110", "9111"):
        script = script.replace(port, str(free_port()))
    home = fresh_directory(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LETHE_")}
    log = tmp_path / "walk-through.log"   # a file, not a pipe: a process left running must not hold the test
    with open(log, "wb") as out:
        process = subprocess.Popen(["bash", "-c", script], cwd=home, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            process.wait(timeout=240)
        finally:
            with_children_gone = _stop_group(process.pid)
    text = log.read_text(errors="replace")
    assert process.returncode == 0, text[-4000:]
    # the session: an anonymized order and the worker's metrics
    assert re.search(r'"tags\\?":', text), text[-4000:]
    assert re.search(r"^lethe_records_in_total\{topic=\"orders\.v1\"\} [1-9]", text, re.M), text[-4000:]
    # retention: the row as written, then anonymized on time, acked and audited
    assert "ORD-2026-000123|alice@example.com" in text, text[-4000:]
    assert re.search(r"^ORD-2026-000123\|$", text, re.M), text[-4000:]
    assert '\\"status\\": \\"applied\\"' in text, text[-4000:]
    assert '\\"action\\":\\"command\\"' in text, text[-4000:]
    # the last line stops everything the walk-through started
    assert with_children_gone, "processes the README started were still running after its last line"


def _stop_group(pgid: int, grace: float = 15.0) -> bool:
    """True if the walk-through's processes all ended within ``grace`` s of its last line (SIGTERM
    takes a moment); whatever is left is killed either way."""
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    os.killpg(pgid, signal.SIGKILL)
    return False
