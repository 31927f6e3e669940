"""streams.client.poll: the store agent's and the sink's poll waits out a broker outage (unit, pure logic).

kafka-python's ``poll`` may raise a connection error out of its coordinator lookup while the broker is
gone (tests/e2e/test_outage.py caught a store agent exiting on it); such a retriable error is an empty
poll, any other error still stops the process.
"""

from __future__ import annotations

from typing import Any

import pytest
from kafka.errors import KafkaConnectionError, NodeNotReadyError, TopicAuthorizationFailedError

from streams import client


class Polling:
    """A consumer whose poll returns or raises what it is given."""

    def __init__(self, outcome: Any) -> None:
        self.outcome = outcome

    def poll(self, timeout_ms: int) -> Any:
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


CASES = [
    ("records", {"tp": [1, 2]}, {"tp": [1, 2]}),
    ("nothing", {}, {}),
    ("connection refused", KafkaConnectionError("111 ECONNREFUSED"), {}),
    ("node not ready", NodeNotReadyError(), {}),
]


@pytest.mark.parametrize(("case", "outcome", "expected"), CASES, ids=[c[0] for c in CASES])
def test_poll_is_empty_while_the_broker_is_away(case: str, outcome: Any, expected: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client, "OUTAGE_PAUSE_S", 0.0)
    assert client.poll(Polling(outcome), 500) == expected


def test_any_other_error_is_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client, "OUTAGE_PAUSE_S", 0.0)
    with pytest.raises(TopicAuthorizationFailedError):
        client.poll(Polling(TopicAuthorizationFailedError()), 500)
