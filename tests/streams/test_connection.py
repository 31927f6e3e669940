"""The broker watch says once that the broker is gone, once that it is back, and flips /readyz."""

from __future__ import annotations

import logging
import time

import pytest
from support import wait_for

from streams.broker import EmbeddedBroker
from streams.connection import BrokerWatch
from streams.metrics import Metrics
from streams.outputs import Backoff

pytestmark = pytest.mark.integration


def test_a_lost_broker_is_said_once_and_its_return_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="streams.connection")
    metrics = Metrics(worker=False)
    metrics.ready_reason = ""
    broker = EmbeddedBroker().start()
    watch = BrokerWatch(broker.bootstrap, metrics, up_every=0.2, backoff=Backoff(0.1, 0.3)).start()
    try:
        assert metrics.readiness() == (True, "ready")
        broker.stop()
        wait_for(lambda: watch.down, 10, "the watch to see the broker gone")
        ready, reason = metrics.readiness()
        assert not ready and broker.bootstrap in reason
        time.sleep(1.0)   # several more failed probes: still said once
        broker = EmbeddedBroker(port=broker.port).start()   # the same address answers again
        wait_for(lambda: not watch.down, 15, "the watch to see the broker back")
        assert metrics.readiness() == (True, "ready")
    finally:
        watch.stop()
        broker.stop()
    said = [r for r in caplog.records if r.name == "streams.connection"]
    assert [r.levelname for r in said] == ["WARNING", "INFO"], [r.getMessage() for r in said]
    assert f"{broker.bootstrap} (LETHE_BOOTSTRAP_SERVERS) is unreachable" in said[0].getMessage()
    assert "reachable again" in said[1].getMessage()
