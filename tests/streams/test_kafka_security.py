"""TLS and SASL settings for every Kafka client: parsed, checked, never printed (pure, plus real TLS files)."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pytest

from processors.errors import ConfigError
from streams import kafka
from streams.kafka import KafkaSecurity
from streams.settings import Settings


def test_plaintext_is_the_default() -> None:
    security = KafkaSecurity.from_env({})
    assert security.protocol == "PLAINTEXT"
    assert security.aiokafka() == {"security_protocol": "PLAINTEXT"}
    assert security.kafka_python() == {"security_protocol": "PLAINTEXT"}
    assert security.librdkafka() == {"security.protocol": "plaintext"}
    assert security.faust_credentials() is None


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "scram-sha-512"])
def test_sasl_options_reach_every_client(mechanism: str) -> None:
    env = {"LETHE_KAFKA_SECURITY_PROTOCOL": "sasl_plaintext", "LETHE_KAFKA_SASL_MECHANISM": mechanism,
           "LETHE_KAFKA_SASL_USERNAME": "lethe", "LETHE_KAFKA_SASL_PASSWORD": "hunter2-secret"}
    security = KafkaSecurity.from_env(env)
    for options in (security.aiokafka(), security.kafka_python()):
        assert options == {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": mechanism.upper(),
                           "sasl_plain_username": "lethe", "sasl_plain_password": "hunter2-secret"}
    assert security.librdkafka() == {"security.protocol": "sasl_plaintext", "sasl.mechanism": mechanism.upper(),
                                     "sasl.username": "lethe", "sasl.password": "hunter2-secret"}
    credentials = security.faust_credentials()
    assert credentials.username == "lethe" and credentials.mechanism.name.replace("_", "-") == mechanism.upper()


def test_the_password_is_never_printed() -> None:
    security = KafkaSecurity.from_env({"LETHE_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                                       "LETHE_KAFKA_SASL_MECHANISM": "PLAIN", "LETHE_KAFKA_SASL_USERNAME": "u",
                                       "LETHE_KAFKA_SASL_PASSWORD": "hunter2-secret"})
    assert "hunter2" not in repr(security) and "hunter2" not in str(security)


@pytest.mark.parametrize(("env", "message"), [
    ({"LETHE_KAFKA_SECURITY_PROTOCOL": "TLS"}, "use one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"),
    ({"LETHE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "LETHE_KAFKA_SASL_USERNAME": "u",
      "LETHE_KAFKA_SASL_PASSWORD": "p"}, "LETHE_KAFKA_SASL_MECHANISM=''"),
    ({"LETHE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "LETHE_KAFKA_SASL_MECHANISM": "GSSAPI",
      "LETHE_KAFKA_SASL_USERNAME": "u", "LETHE_KAFKA_SASL_PASSWORD": "p"}, "GSSAPI"),
    ({"LETHE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "LETHE_KAFKA_SASL_MECHANISM": "PLAIN",
      "LETHE_KAFKA_SASL_USERNAME": "u"}, "needs LETHE_KAFKA_SASL_USERNAME and LETHE_KAFKA_SASL_PASSWORD"),
    ({"LETHE_KAFKA_SASL_USERNAME": "u"}, "LETHE_KAFKA_SASL_* are set but"),
    ({"LETHE_KAFKA_SSL_CAFILE": "/etc/hostname"}, "LETHE_KAFKA_SSL_CAFILE is set but"),
    ({"LETHE_KAFKA_SECURITY_PROTOCOL": "SSL", "LETHE_KAFKA_SSL_CAFILE": "/nonexistent/ca.pem"}, "no such file"),
    ({"LETHE_KAFKA_SECURITY_PROTOCOL": "SSL", "LETHE_KAFKA_SSL_CERTFILE": "/etc/hostname"},
     "go together"),
])
def test_bad_settings_stop_start_up_naming_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        KafkaSecurity.from_env(env)
    assert message in str(error.value)
    assert "hunter2" not in str(error.value)


def test_settings_configure_every_client_of_the_process(tmp_path: Path) -> None:
    env = {"LETHE_DATA_DIR": str(tmp_path), "LETHE_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
           "LETHE_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256", "LETHE_KAFKA_SASL_USERNAME": "lethe",
           "LETHE_KAFKA_SASL_PASSWORD": "pw"}
    try:
        settings = Settings.from_env(env)
        assert settings.kafka.protocol == "SASL_PLAINTEXT"
        assert kafka.aiokafka_options()["sasl_mechanism"] == "SCRAM-SHA-256"
        assert kafka.kafka_python_options()["sasl_plain_username"] == "lethe"
        assert kafka.librdkafka_options()["sasl.mechanism"] == "SCRAM-SHA-256"
        assert "pw" not in repr(settings.kafka)
    finally:
        kafka.configure(KafkaSecurity())


def test_tls_with_a_private_ca_and_a_client_certificate(tmp_path: Path) -> None:
    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=tmp_path, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1",
            "-subj", "/CN=lethe-test-ca")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.csr",
            "-subj", "/CN=lethe")
    openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "client.pem", "-days", "1")
    security = KafkaSecurity.from_env({
        "LETHE_KAFKA_SECURITY_PROTOCOL": "SSL", "LETHE_KAFKA_SSL_CAFILE": str(tmp_path / "ca.pem"),
        "LETHE_KAFKA_SSL_CERTFILE": str(tmp_path / "client.pem"),
        "LETHE_KAFKA_SSL_KEYFILE": str(tmp_path / "client.key")})
    context = security.aiokafka()["ssl_context"]
    assert isinstance(context, ssl.SSLContext) and context.verify_mode == ssl.CERT_REQUIRED
    assert any(c["subject"] == ((("commonName", "lethe-test-ca"),),) for c in context.get_ca_certs())
    assert security.kafka_python()["security_protocol"] == "SSL"
    assert security.librdkafka() == {"security.protocol": "ssl", "ssl.ca.location": str(tmp_path / "ca.pem"),
                                     "ssl.endpoint.identification.algorithm": "https",
                                     "ssl.certificate.location": str(tmp_path / "client.pem"),
                                     "ssl.key.location": str(tmp_path / "client.key")}
    assert security.faust_credentials() is not None


def test_without_a_ca_file_librdkafka_trusts_the_system_s_cas() -> None:
    security = KafkaSecurity.from_env({"LETHE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                                       "LETHE_KAFKA_SASL_MECHANISM": "PLAIN", "LETHE_KAFKA_SASL_USERNAME": "u",
                                       "LETHE_KAFKA_SASL_PASSWORD": "p"})
    options = security.librdkafka()
    assert options["security.protocol"] == "sasl_ssl" and options["ssl.ca.location"] == "probe"
    assert "ssl.certificate.location" not in options
