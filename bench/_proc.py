"""This process's memory and any process's CPU, from /proc: no imports beyond the standard library, so a
benchmark that measures its own memory can use them before it loads anything else."""

from __future__ import annotations

import gc
import os

_TICK = os.sysconf("SC_CLK_TCK")


def rss_bytes() -> int:
    """This process's resident set size, from /proc."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU of a process (all its threads), from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def release_memory() -> None:
    """Collect, and hand freed heap back to the OS (glibc), so that RSS growth means something."""
    gc.collect()
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
