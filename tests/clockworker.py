"""A `lethe run` worker whose clock is a file the test writes: tests move time instead of waiting.

    python tests/clockworker.py CLOCK_FILE

Settings come from the environment, as for `lethe run`; CLOCK_FILE holds the current time in epoch
seconds (written whole with os.replace by tests/support.py FakeClock). Time stands still until the
test writes a new one, so a deadline days or years away fires exactly when the test says, and
nothing fires before. Test-only: no production setting selects this clock.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path

# run as a script, its folder (tests/) would come first on sys.path, and tests/processors/ (a folder
# of test files) would shadow parts of the processors package: the repository root comes first
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from streams.settings import Settings  # noqa: E402
from streams.worker import run_worker  # noqa: E402


class FileClock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.last = float(path.read_text())

    def __call__(self) -> float:
        with contextlib.suppress(OSError, ValueError):   # not expected (writes are atomic): keep the last
            self.last = float(self.path.read_text())
        return self.last


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("kafka", "aiokafka"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return run_worker(Settings.from_env(), clock=FileClock(Path(sys.argv[1])))


if __name__ == "__main__":
    sys.exit(main())
