"""Kafka clients over real TLS (stunnel in front of the embedded broker), and the start-up check
that refuses a certificate the clients would refuse, naming the setting to fix."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable, Iterator

import pytest
from kafka import KafkaAdminClient
from support import unique_prefix
from tls_proxy import TlsBroker

from streams import kafka
from streams.client import publish, read
from streams.exceptions import BrokerTlsError, BrokerUnreachable
from streams.kafka import KafkaSecurity, check_reachable
from streams.producer import Producer, producer_config

pytestmark = pytest.mark.integration

Configure = Callable[[dict[str, str]], None]


@pytest.fixture
def security() -> Iterator[Configure]:
    """Configure this process's Kafka clients from settings; back to plain TCP afterwards."""
    def configure(env: dict[str, str]) -> None:
        kafka.configure(KafkaSecurity.from_env(env))

    try:
        yield configure
    finally:
        kafka.configure(KafkaSecurity())


def test_clients_configured_for_tls_produce_and_read_through_the_proxy(tls_broker: TlsBroker,
                                                                      security: Configure) -> None:
    security(tls_broker.env())
    check_reachable(tls_broker.bootstrap)
    admin = KafkaAdminClient(**kafka.kafka_python_options(), bootstrap_servers=tls_broker.bootstrap)
    try:   # the broker tells clients the proxy's address: they stay on TLS after the first request
        brokers = admin.describe_cluster()["brokers"]
    finally:
        admin.close()
    assert [(b["host"], b["port"]) for b in brokers] == [("127.0.0.1", tls_broker.ports["server"])]
    topic = unique_prefix("tls") + "roundtrip"
    records = [(topic, f"k{n}".encode(), f"v{n}".encode()) for n in range(5)]
    assert publish(tls_broker.bootstrap, records) == 5
    got = sorted((r.key, r.value) for r in read(tls_broker.bootstrap, [topic], expect=5))
    assert got == sorted((k, v) for _, k, v in records)


def test_the_worker_s_librdkafka_producer_connects_with_a_client_certificate(tls_broker: TlsBroker,
                                                                             security: Configure) -> None:
    """Mutual TLS for the worker's producer: bootstrapped through the port that requires a client certificate."""
    certificates = tls_broker.certificates
    security({**tls_broker.env(), "LETHE_KAFKA_SSL_CERTFILE": str(certificates.cert("client")),
              "LETHE_KAFKA_SSL_KEYFILE": str(certificates.key("client"))})
    topic = unique_prefix("tls") + "librdkafka"

    async def produce() -> list:
        producer = Producer(producer_config(tls_broker.address("mutual"), "test", 1_048_576, linger_ms=5))
        try:
            batch = producer.batch()
            for n in range(5):
                batch.send(topic, f"v{n}".encode(), f"k{n}".encode())
            return await asyncio.wait_for(batch.delivered(), 60)
        finally:
            await producer.stop(within=5)

    assert asyncio.run(produce()) == []
    got = sorted(r.value for r in read(tls_broker.bootstrap, [topic], expect=5))
    assert got == [f"v{n}".encode() for n in range(5)]


@pytest.mark.parametrize(("cafile", "address", "message"), [
    ("other_ca", "server", "is not signed by the CA in LETHE_KAFKA_SSL_CAFILE"),
    ("ca", "expired", "has expired"),
    ("ca", "misnamed", "does not name that address"),
    (None, "server", "is not signed by a CA this system trusts (LETHE_KAFKA_SSL_CAFILE is not set)"),
])
def test_a_refused_certificate_stops_start_up_naming_the_setting(
        tls_broker: TlsBroker, security: Configure, cafile: str | None, address: str, message: str) -> None:
    env = tls_broker.env(getattr(tls_broker.certificates, cafile)) if cafile else \
        {"LETHE_KAFKA_SECURITY_PROTOCOL": "SSL"}
    security(env)
    bootstrap = tls_broker.address(address)
    with pytest.raises(BrokerTlsError) as error:
        check_reachable(bootstrap, timeout=30)   # raised at once: retrying cannot fix a certificate
    text = str(error.value)
    assert message in text and bootstrap in text and "\n" not in text
    assert "LETHE_KAFKA_SSL_CAFILE" in text or "LETHE_BOOTSTRAP_SERVERS" in text


def test_the_certificate_files_do_not_leak_into_the_message(tls_broker: TlsBroker, security: Configure) -> None:
    security(tls_broker.env(tls_broker.certificates.other_ca))
    with pytest.raises(BrokerTlsError) as error:
        check_reachable(tls_broker.bootstrap)
    assert "BEGIN CERTIFICATE" not in str(error.value)
    assert str(tls_broker.certificates.other_ca) in str(error.value)   # which file, so it can be fixed


def test_plain_tcp_to_a_tls_port_says_to_set_the_protocol(tls_broker: TlsBroker) -> None:
    with pytest.raises(BrokerUnreachable) as error:
        check_reachable(tls_broker.bootstrap, timeout=1.0)
    assert "set LETHE_KAFKA_SECURITY_PROTOCOL=SSL" in str(error.value)


def test_tls_to_a_plain_port_says_the_protocol_is_wrong(tls_broker: TlsBroker, security: Configure) -> None:
    security(tls_broker.env())
    with pytest.raises(BrokerUnreachable) as error:
        check_reachable(tls_broker.plain_bootstrap, timeout=1.0)
    assert not isinstance(error.value, BrokerTlsError)
    assert "did not complete a TLS handshake" in str(error.value)
    assert "LETHE_KAFKA_SECURITY_PROTOCOL should be PLAINTEXT" in str(error.value)


def test_the_test_certificates_are_what_they_claim(tls_broker: TlsBroker) -> None:
    """The expired certificate is expired and the others are not (so each refusal above has its cause)."""
    certs = tls_broker.certificates

    def valid_now(name: str) -> bool:
        return subprocess.run(["openssl", "x509", "-checkend", "0", "-noout", "-in", str(certs.cert(name))],
                              capture_output=True, check=False).returncode == 0

    assert [valid_now(n) for n in ("ca", "other_ca", "server", "expired", "misnamed", "client")] == [
        True, True, True, False, True, True]


def test_mutual_tls_needs_the_client_certificate_and_names_the_settings(tls_broker: TlsBroker,
                                                                       security: Configure) -> None:
    certs = tls_broker.certificates
    security(tls_broker.env())
    with pytest.raises(BrokerTlsError) as error:
        check_reachable(tls_broker.address("mutual"), timeout=30)
    assert "refused a connection without a client certificate" in str(error.value)
    assert "LETHE_KAFKA_SSL_CERTFILE and LETHE_KAFKA_SSL_KEYFILE" in str(error.value)

    security({**tls_broker.env(), "LETHE_KAFKA_SSL_CERTFILE": str(certs.cert("client")),
              "LETHE_KAFKA_SSL_KEYFILE": str(certs.key("client"))})
    check_reachable(tls_broker.address("mutual"))   # answers Kafka over mutual TLS
    with pytest.raises(BrokerTlsError) as error:   # a client certificate from another CA is refused
        security({**tls_broker.env(), "LETHE_KAFKA_SSL_CERTFILE": str(certs.other_ca),
                  "LETHE_KAFKA_SSL_KEYFILE": str(certs.key("other_ca"))})
        check_reachable(tls_broker.address("mutual"), timeout=30)
    assert "refused Lethe's TLS client certificate" in str(error.value)
