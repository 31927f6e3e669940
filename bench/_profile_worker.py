"""Run ``lethe run`` under cProfile timed by the main thread's CPU clock, for ``bench/throughput.py``.

    python bench/_profile_worker.py OUT.prof

``python -m cProfile`` times with the wall clock: on a busy 2-core machine a function is then
charged for every moment the scheduler gave the core to the broker or to another process (a
socket send that wakes the broker looks expensive), and idle waits show up as ``epoll.poll``.
``time.thread_time`` counts only the CPU this thread used, which is what an optimisation can
save. Only the main thread is profiled (Faust's consumer thread is not). The profile is written
when the worker stops, which it does on SIGTERM or SIGINT.
"""

from __future__ import annotations

import cProfile
import runpy
import sys
import time


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    sys.argv = ["lethe", "run"]
    profiler = cProfile.Profile(time.thread_time)
    code = 0
    profiler.enable()
    try:
        runpy.run_module("streams.cli", run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        profiler.disable()
        profiler.dump_stats(out)
    return code


if __name__ == "__main__":
    sys.exit(main())
