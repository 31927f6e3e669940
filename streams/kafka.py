"""How every Kafka client of a Lethe process connects: TLS and SASL (PLAIN, SCRAM), from settings.

    LETHE_KAFKA_SECURITY_PROTOCOL   PLAINTEXT (default) | SSL | SASL_PLAINTEXT | SASL_SSL
    LETHE_KAFKA_SASL_MECHANISM      PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512 (with SASL_*)
    LETHE_KAFKA_SASL_USERNAME       (with SASL_*)
    LETHE_KAFKA_SASL_PASSWORD       (with SASL_*; a secret: never logged or printed)
    LETHE_KAFKA_SSL_CAFILE          CA bundle that signed the brokers' certificates (with SSL/SASL_SSL;
                                    default: the system's)
    LETHE_KAFKA_SSL_CERTFILE, LETHE_KAFKA_SSL_KEYFILE   client certificate and key (mutual TLS)

A process reads them once (``Settings.from_env``) and calls :func:`configure`; every aiokafka,
kafka-python, librdkafka (the worker's producers) and Faust client then takes its options from
here, so no client can be forgotten.
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
from streams.exceptions import BrokerTlsError, BrokerUnreachable
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

    def librdkafka(self) -> dict[str, Any]:
        """Options for confluent-kafka (librdkafka) clients: the same connection in its own names.

        librdkafka does its own TLS (OpenSSL), so it gets the files rather than ``ssl_context()``;
        like the Python clients it checks that the broker's certificate names the address
        (``ssl.endpoint.identification.algorithm``), and without a CA file it trusts the system's.
        """
        options: dict[str, Any] = {"security.protocol": self.protocol.lower()}
        if self.tls:
            options["ssl.ca.location"] = str(self.cafile) if self.cafile else "probe"
            options["ssl.endpoint.identification.algorithm"] = "https"
            if self.certfile and self.keyfile:
                options["ssl.certificate.location"] = str(self.certfile)
                options["ssl.key.location"] = str(self.keyfile)
        if self.mechanism:
            assert self.password is not None
            options.update({"sasl.mechanism": self.mechanism, "sasl.username": self.username,
                            "sasl.password": self.password.reveal()})
        return options

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


def librdkafka_options() -> dict[str, Any]:
    return _security.librdkafka()


def faust_credentials() -> Any:
    return _security.faust_credentials()


def check_reachable(bootstrap: str, timeout: float = 4.0) -> None:
    """Fail fast, before any Kafka client is built (they retry for half a minute and log every try),
    when no ``host:port`` of ``bootstrap`` answers a Kafka ApiVersions request within ``timeout``
    seconds in all. A port that accepts connections but does not speak Kafka does not count. With
    TLS (LETHE_KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL) the request goes over a TLS connection made
    as every client makes it, so a certificate the clients would refuse stops start-up here, at
    once, with :class:`BrokerTlsError` naming the setting to fix.

    The servers are tried in turn until the deadline, so a broker started a moment ago in the
    same shell (``lethe broker & lethe run``) is found once it listens."""
    servers = [server.strip() for server in bootstrap.split(",") if server.strip()]
    deadline = time.monotonic() + timeout
    cause: Exception | None = None   # shown by `lethe --verbose`
    mismatch = ""   # a port answered, but not in the protocol LETHE_KAFKA_SECURITY_PROTOCOL says
    while servers:
        for server in servers:
            host, _, port = server.rpartition(":")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                if _answers_kafka(host.strip("[]"), int(port), max(remaining / len(servers), 0.5), server):
                    return
                cause = ConnectionError(f"{server} accepted a connection but did not answer as a Kafka broker")
                mismatch = mismatch or ("" if _security.tls else _PLAIN_TO_TLS)
            except ValueError as exc:
                cause = exc
                servers = []   # a malformed address does not get better with time
                break
            except _NoHandshake as exc:
                cause, mismatch = exc, _TLS_TO_PLAIN
            except OSError as exc:
                cause = exc
        if deadline - time.monotonic() <= 0.25:
            break
        time.sleep(0.25)
    raise BrokerUnreachable(f"no Kafka broker answers at {bootstrap} (LETHE_BOOTSTRAP_SERVERS); "
                            f"is it running?{mismatch}") from cause


_PLAIN_TO_TLS = (" A port there accepted the connection but did not answer Kafka over plain TCP: if the broker "
                 "speaks TLS there, set LETHE_KAFKA_SECURITY_PROTOCOL=SSL (or SASL_SSL).")
_TLS_TO_PLAIN = (" A port there accepted the connection but did not complete a TLS handshake: if the broker does "
                 "not speak TLS there, LETHE_KAFKA_SECURITY_PROTOCOL should be PLAINTEXT (or SASL_PLAINTEXT).")


class _NoHandshake(ConnectionError):
    """A port accepted the connection but no TLS handshake followed (a plain-TCP broker, most likely)."""


# ApiVersions v0 (api key 18), correlation id 7, client id "lethe-probe": every broker answers it,
# before SASL authentication too.
_PROBE_ID = 7
_PROBE = struct.pack(">hhih", 18, 0, _PROBE_ID, 11) + b"lethe-probe"


def _answers_kafka(host: str, port: int, timeout: float, server: str) -> bool:
    with socket.create_connection((host, port), timeout=timeout) as raw:
        sock = _tls_handshake(raw, host, server) if _security.tls else raw
        header = b""
        with sock:
            try:
                sock.sendall(struct.pack(">i", len(_PROBE)) + _PROBE)
                while len(header) < 8:
                    chunk = sock.recv(8 - len(header))
                    if not chunk:
                        return False
                    header += chunk
            except ssl.SSLError as exc:   # TLS 1.3: a refused client certificate shows after the handshake
                _raise_if_client_refused(exc, server)
                return False
            except OSError:   # accepted, then reset or silent: not a Kafka broker in this protocol
                return False
    size, correlation = struct.unpack(">ii", header)
    return bool(correlation == _PROBE_ID and 0 < size < 1 << 20)


# OpenSSL's verify codes (X509_V_ERR_*) for which there is a better message than its own
_EXPIRED, _NOT_YET_VALID, _HOSTNAME_MISMATCH, _IP_MISMATCH = 10, 9, 62, 64
_UNTRUSTED = {2, 18, 19, 20, 21}   # no issuer found, self-signed, self-signed in chain, no local issuer


def _tls_handshake(raw: socket.socket, host: str, server: str) -> ssl.SSLSocket:
    """``raw`` wrapped in TLS the way every client of this process connects (the same context)."""
    try:
        return _security.ssl_context().wrap_socket(raw, server_hostname=host)
    except ssl.SSLCertVerificationError as exc:
        raise BrokerTlsError(_refused(exc, server)) from exc
    except (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError) as exc:
        raise _NoHandshake(f"{server}: no TLS handshake ({exc})") from exc
    except ssl.SSLError as exc:   # e.g. the broker refused our client certificate, or no common protocol
        if exc.reason == "WRONG_VERSION_NUMBER":   # it answered, but not in TLS
            raise _NoHandshake(f"{server}: no TLS handshake ({exc})") from exc
        _raise_if_client_refused(exc, server)
        raise BrokerTlsError(f"TLS with the broker at {server} failed ({exc.reason or exc}): check "
                             "LETHE_KAFKA_SECURITY_PROTOCOL and LETHE_KAFKA_SSL_*") from exc
    except OSError as exc:   # reset, closed or timed out during the handshake
        raise _NoHandshake(f"{server}: no TLS handshake ({exc})") from exc


def _raise_if_client_refused(exc: ssl.SSLError, server: str) -> None:
    """The broker refused our client certificate (mutual TLS), or wanted one and got none."""
    if any(alert in (exc.reason or "") for alert in ("CERTIFICATE", "UNKNOWN_CA")):
        given = "Lethe's TLS client certificate" if _security.certfile else "a connection without a client certificate"
        raise BrokerTlsError(f"the broker at {server} refused {given} ({exc.reason}): set LETHE_KAFKA_SSL_CERTFILE "
                             "and LETHE_KAFKA_SSL_KEYFILE to a certificate and key signed by a CA the broker "
                             "trusts") from exc


def _refused(exc: ssl.SSLCertVerificationError, server: str) -> str:
    """Which setting to fix when the broker's certificate is refused."""
    cafile = f"the CA in LETHE_KAFKA_SSL_CAFILE ({_security.cafile})" if _security.cafile else \
        "a CA this system trusts (LETHE_KAFKA_SSL_CAFILE is not set)"
    code = exc.verify_code
    if code == _EXPIRED:
        return (f"the TLS certificate of the broker at {server} has expired (or the CA that signed it has): "
                "renew it on the broker or its TLS proxy; if the CA was renewed, point LETHE_KAFKA_SSL_CAFILE "
                "at the new one")
    if code == _NOT_YET_VALID:
        return (f"the TLS certificate of the broker at {server} is not valid yet: check this machine's clock "
                "and the certificate's start date")
    if code in (_HOSTNAME_MISMATCH, _IP_MISMATCH):
        return (f"the TLS certificate of the broker at {server} does not name that address: use a name or "
                "address the certificate lists in LETHE_BOOTSTRAP_SERVERS, or reissue the certificate for it")
    if code in _UNTRUSTED:
        return (f"the TLS certificate of the broker at {server} is not signed by {cafile}: set "
                "LETHE_KAFKA_SSL_CAFILE to the CA that signed the broker's certificate")
    return (f"the TLS certificate of the broker at {server} was refused ({exc.verify_message}): check "
            "LETHE_KAFKA_SSL_CAFILE")
