"""How much a Lethe process says: one clear line by default, the details with ``lethe --verbose``.

By default the Kafka client libraries' own logs are off: while a broker is away they write a
line per reconnect attempt (thousands a minute), and a CLI mistake must stay one line. What they
would say is said once by Lethe instead (streams/connection.py, streams/kafka.py). ``--verbose``
turns them on at INFO and adds tracebacks to errors, as LETHE_LOG_LEVEL=debug does. Never at DEBUG:
there they quote the records they send (personal data must not reach a log).
"""

from __future__ import annotations

import logging

CLIENT_LIBRARIES = ("kafka", "aiokafka", "httpx2", "httpcore2", "confluent_kafka")   # schema registry: httpx2
FRAMEWORKS = ("faust", "mode")

_verbose = False


def set_verbose(on: bool) -> None:
    global _verbose
    _verbose = on


def verbose() -> bool:
    return _verbose


def quiet_libraries(level: str = "info") -> None:
    """Set the libraries' log levels for this process (again after a framework set up logging)."""
    if level == "debug":
        clients, frameworks = logging.INFO, logging.DEBUG
    elif _verbose:
        clients, frameworks = logging.INFO, logging.INFO
    else:
        clients, frameworks = logging.CRITICAL + 1, logging.WARNING
    for name in CLIENT_LIBRARIES:
        logging.getLogger(name).setLevel(clients)
    for name in FRAMEWORKS:
        logging.getLogger(name).setLevel(frameworks)
