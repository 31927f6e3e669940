"""How every Kafka client of a Lethe process connects: TLS and SASL (PLAIN, SCRAM), from settings.

    LETHE_KAFKA_SECURITY_PROTOCOL   PLAINTEXT (default) | SSL | SASL_PLAINTEXT | SASL_SSL
    LETHE_KAFKA_SASL_MECHANISM      PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512 (with SASL_*)
    LETHE_KAFKA_SASL_USERNAME       (with SASL_*)
    LETHE_KAFKA_SASL_PASSWORD       (with SASL_*; a secret: never logged or printed)
    LETHE_KAFKA_SSL_CAFILE          CA bundle that signed the brokers' certificates (with SSL/SASL_SSL;
                                    default: the system's)
    LETHE_KAFKA_SSL_CERTFILE, LETHE_KAFKA_SSL_KEYFILE   client certificate and key (mutual TLS)

A process reads them once (``Settings.from_env``) and calls :func:`configure`; every aiokafka,
kafka-python and Faust client then takes its options from here, so no client can be forgotten.
"""

from __future__ import annotations

import socket
import ssl
import struct
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from processors.errors import ConfigError
from streams.exceptions import BrokerUnreachable
from streams.secret import Secret

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


@dataclass(frozen=True)
class KafkaSecurity:
    protocol: str = "PLAINTEXT"
    mechanism: str | None = None
    username: str | None = None
    password: Secret[str] | None = None
    cafile: Path | None = None
    certfile: Path | None = None
    keyfile: Path | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> KafkaSecurity:
        def get(name: str) -> str | None:
            return env.get(name, "").strip() or None

        protocol = (get("LETHE_KAFKA_SECURITY_PROTOCOL") or "PLAINTEXT").upper()
        if protocol not in PROTOCOLS:
            raise ConfigError(f"LETHE_KAFKA_SECURITY_PROTOCOL={protocol!r}: use one of {', '.join(PROTOCOLS)}")
        sasl = protocol.startswith("SASL_")
        mechanism = get("LETHE_KAFKA_SASL_MECHANISM")
        username, password = get("LETHE_KAFKA_SASL_USERNAME"), env.get("LETHE_KAFKA_SASL_PASSWORD", "")
        if sasl:
            mechanism = (mechanism or "").upper()
            if mechanism not in MECHANISMS:
                raise ConfigError(f"LETHE_KAFKA_SASL_MECHANISM={mechanism!r}: with {protocol} use one of "
                                  f"{', '.join(MECHANISMS)}")
            if not username or not password:
                raise ConfigError(f"LETHE_KAFKA_SECURITY_PROTOCOL={protocol} needs LETHE_KAFKA_SASL_USERNAME and "
                                  "LETHE_KAFKA_SASL_PASSWORD")
        elif mechanism or username or password:
            raise ConfigError("LETHE_KAFKA_SASL_* are set but LETHE_KAFKA_SECURITY_PROTOCOL is "
                              f"{protocol}; use SASL_SSL (or SASL_PLAINTEXT on a trusted network)")
        files: dict[str, Path | None] = {}
        for name in ("LETHE_KAFKA_SSL_CAFILE", "LETHE_KAFKA_SSL_CERTFILE", "LETHE_KAFKA_SSL_KEYFILE"):
            value = get(name)
            if value is not None and not protocol.endswith("SSL"):
                raise ConfigError(f"{name} is set but LETHE_KAFKA_SECURITY_PROTOCOL is {protocol} (no TLS)")
            if value is not None and not Path(value).is_file():
                raise ConfigError(f"{name}={value}: no such file")
            files[name] = Path(value) if value else None
        if (files["LETHE_KAFKA_SSL_CERTFILE"] is None) != (files["LETHE_KAFKA_SSL_KEYFILE"] is None):
            raise ConfigError("LETHE_KAFKA_SSL_CERTFILE and LETHE_KAFKA_SSL_KEYFILE go together (mutual TLS)")
        return cls(protocol, mechanism if sasl else None, username if sasl else None,
                   Secret(password) if sasl else None, files["LETHE_KAFKA_SSL_CAFILE"],
                   files["LETHE_KAFKA_SSL_CERTFILE"], files["LETHE_KAFKA_SSL_KEYFILE"])

    @property
    def tls(self) -> bool:
        return self.protocol.endswith("SSL")

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.cafile) if self.cafile else None)
        if self.certfile and self.keyfile:
            context.load_cert_chain(str(self.certfile), str(self.keyfile))
        return context

    def aiokafka(self) -> dict[str, Any]:
        """Options for AIOKafkaProducer and AIOKafkaConsumer."""
        return self._options()

    def kafka_python(self) -> dict[str, Any]:
        """Options for kafka-python's KafkaProducer, KafkaConsumer and KafkaAdminClient (same names)."""
        return self._options()

    def _options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"security_protocol": self.protocol}
        if self.tls:
            options["ssl_context"] = self.ssl_context()
        if self.mechanism:
            assert self.password is not None
            options.update(sasl_mechanism=self.mechanism, sasl_plain_username=self.username,
                           sasl_plain_password=self.password.reveal())
        return options

    def faust_credentials(self) -> Any:
        import faust

        if self.mechanism:
            assert self.password is not None and self.username is not None
            return faust.SASLCredentials(username=self.username, password=self.password.reveal(),
                                         mechanism=self.mechanism,
                                         ssl_context=self.ssl_context() if self.tls else None)
        if self.tls:
            return faust.SSLCredentials(self.ssl_context())
        return None


_security = KafkaSecurity()


def configure(security: KafkaSecurity) -> None:
    """Set how this process's Kafka clients connect (once, at start-up)."""
    global _security
    _security = security


def aiokafka_options() -> dict[str, Any]:
    return _security.aiokafka()


def kafka_python_options() -> dict[str, Any]:
    return _security.kafka_python()


def faust_credentials() -> Any:
    return _security.faust_credentials()


def check_reachable(bootstrap: str, timeout: float = 4.0) -> None:
    """Fail fast, before any Kafka client is built (they retry for half a minute and log every try),
    when no ``host:port`` of ``bootstrap`` answers a Kafka ApiVersions request within ``timeout``
    seconds in all. A port that accepts connections but does not speak Kafka does not count.

    The servers are tried in turn until the deadline, so a broker started a moment ago in the
    same shell (``lethe broker & lethe run``) is found once it listens."""
    servers = [server.strip() for server in bootstrap.split(",") if server.strip()]
    deadline = time.monotonic() + timeout
    cause: Exception | None = None   # shown by `lethe --verbose`
    while servers:
        for server in servers:
            host, _, port = server.rpartition(":")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                if _answers_kafka(host.strip("[]"), int(port), max(remaining / len(servers), 0.5)):
                    return
                cause = ConnectionError(f"{server} accepted a connection but did not answer as a Kafka broker")
            except ValueError as exc:
                cause = exc
                servers = []   # a malformed address does not get better with time
                break
            except OSError as exc:
                cause = exc
        if deadline - time.monotonic() <= 0.25:
            break
        time.sleep(0.25)
    raise BrokerUnreachable(f"no Kafka broker answers at {bootstrap} (LETHE_BOOTSTRAP_SERVERS); "
                            "is it running?") from cause


# ApiVersions v0 (api key 18), correlation id 7, client id "lethe-probe": every broker answers it,
# before TLS-less SASL authentication too.
_PROBE_ID = 7
_PROBE = struct.pack(">hhih", 18, 0, _PROBE_ID, 11) + b"lethe-probe"


def _answers_kafka(host: str, port: int, timeout: float) -> bool:
    with socket.create_connection((host, port), timeout=timeout) as sock:
        if _security.protocol in ("SSL", "SASL_SSL"):
            return True   # a TLS handshake here would need the client's certificates: the connection will do
        sock.sendall(struct.pack(">i", len(_PROBE)) + _PROBE)
        header = b""
        while len(header) < 8:
            chunk = sock.recv(8 - len(header))
            if not chunk:
                return False
            header += chunk
        size, correlation = struct.unpack(">ii", header)
        return bool(correlation == _PROBE_ID and 0 < size < 1 << 20)
