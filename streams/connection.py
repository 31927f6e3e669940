"""Say once when the Kafka broker goes away and once when it is back (issue 10).

While the broker is unreachable, the Kafka clients retry on their own and Lethe's writes retry
with the shared backoff (streams/outputs.py, up to 30 s apart); nothing is committed that was not
published. Their own log lines are silenced at the default verbosity (streams/logs.py), so this
watch is what an operator reads: one WARNING naming the address and LETHE_BOOTSTRAP_SERVERS, one
INFO when it answers again, and /readyz not ready in between. It probes the broker the way
``check_reachable`` does, from a daemon thread, so it never holds up a process's main loop.
"""

from __future__ import annotations

import logging
import threading

from streams.exceptions import BrokerUnreachable
from streams.kafka import check_reachable
from streams.metrics import Metrics
from streams.outputs import BACKOFF, Backoff

log = logging.getLogger(__name__)

UP_EVERY_S = 3.0          # probe interval while the broker answers
DOWN_BACKOFF = Backoff(1.0, 10.0)   # probe intervals while it does not


class BrokerWatch:
    def __init__(self, bootstrap: str, metrics: Metrics | None = None, up_every: float = UP_EVERY_S,
                 backoff: Backoff = DOWN_BACKOFF, probe_timeout: float = 2.0) -> None:
        self.bootstrap, self.metrics = bootstrap, metrics
        self.up_every, self.backoff, self.probe_timeout = up_every, backoff, probe_timeout
        self.down = False
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lethe-broker-watch", daemon=True)

    def start(self) -> BrokerWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()

    def reachable(self) -> bool:
        try:
            check_reachable(self.bootstrap, timeout=self.probe_timeout)
        except BrokerUnreachable:
            return False
        return True

    def _run(self) -> None:
        delays = self.backoff.delays()
        delay = self.up_every
        while not self._stopped.wait(delay):
            up = self.reachable()
            if self._stopped.is_set():
                return
            if up:
                if self.down:
                    self._changed(False)
                delays, delay = self.backoff.delays(), self.up_every
            else:
                if not self.down:
                    self._changed(True)
                delay = next(delays)

    def _changed(self, down: bool) -> None:
        self.down = down
        if down:
            log.warning("the Kafka broker at %s (LETHE_BOOTSTRAP_SERVERS) is unreachable; waiting for it and "
                        "retrying with backoff (up to %.0fs apart); nothing unpublished is committed",
                        self.bootstrap, BACKOFF.cap)
        else:
            log.info("the Kafka broker at %s is reachable again; resuming", self.bootstrap)
        if self.metrics is not None:
            self.metrics.disconnected = f"the Kafka broker at {self.bootstrap} is unreachable" if down else ""
