"""A port Lethe picks to listen on (the embedded broker's, the demo's metrics ports) lies outside the
kernel's ephemeral range, so no outgoing connection can take it between choice and bind."""

from __future__ import annotations

import socket

import pytest

from streams import broker
from streams.broker import free_port


def test_free_port_is_below_the_ephemeral_range_and_bindable() -> None:
    low, high = broker._ephemeral_range()
    for _ in range(20):
        port = free_port()
        assert not low <= port <= high
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


@pytest.mark.parametrize(("ephemeral", "inside"), [
    ((1024, 65535), True),      # no room outside the range: the kernel's choice
    ((40000, 60999), False),
])
def test_free_port_falls_back_to_the_kernel_when_no_window_is_left(
        monkeypatch: pytest.MonkeyPatch, ephemeral: tuple[int, int], inside: bool) -> None:
    monkeypatch.setattr(broker, "_ephemeral_range", lambda: ephemeral)
    port = free_port()
    assert (ephemeral[0] <= port <= ephemeral[1]) is inside
