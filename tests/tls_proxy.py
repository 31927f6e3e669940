"""Kafka over real TLS in tests: an embedded broker behind Debian's stunnel4, and the certificates.

The embedded broker speaks plain TCP only. stunnel terminates TLS on its own ports and forwards to
the broker's, and the broker advertises stunnel's main port in its metadata, so a client that
bootstraps over TLS keeps talking TLS to every broker it is told about (advertising the broker's
own port would send it back to plain TCP after its first request).

The CA and certificates are made by the test with the openssl command line tool (EC keys: fast):

    ca          the CA that LETHE_KAFKA_SSL_CAFILE names
    server      signed by ca, names 127.0.0.1 and localhost     -> TlsBroker.bootstrap
    expired     signed by ca, names them too, expired in 2020    -> TlsBroker.address("expired")
    misnamed    signed by ca, names only kafka.invalid           -> TlsBroker.address("misnamed")
    client      signed by ca, a client certificate: TlsBroker.address("mutual") (the server certificate)
                requires one signed by ca (mutual TLS)
    other_ca    an unrelated CA (the "wrong CA")
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from streams.broker import EmbeddedBroker, free_port

_CA_CONFIG = """\
[ca]
default_ca = test
[test]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
copy_extensions = copy
[any]
commonName = supplied
"""


@dataclass(frozen=True)
class Certificates:
    directory: Path

    def cert(self, name: str) -> Path:
        return self.directory / f"{name}.pem"

    def key(self, name: str) -> Path:
        return self.directory / f"{name}.key"

    @property
    def ca(self) -> Path:
        return self.cert("ca")

    @property
    def other_ca(self) -> Path:
        return self.cert("other_ca")


def make_certificates(directory: Path) -> Certificates:
    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ca.cnf").write_text(_CA_CONFIG)
    (directory / "index.txt").write_text("")
    (directory / "serial").write_text("01\n")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    for ca in ("ca", "other_ca"):
        openssl("req", "-x509", *ec, "-keyout", f"{ca}.key", "-out", f"{ca}.pem", "-days", "2",
                "-subj", f"/CN=lethe-test-{ca}", "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    local, in_2020 = "IP:127.0.0.1,DNS:localhost", ("-startdate", "20200101000000Z", "-enddate", "20200102000000Z")
    leaves = {"server": (local, ("-days", "2")), "expired": (local, in_2020),
              "misnamed": ("DNS:kafka.invalid", ("-days", "2")), "client": ("DNS:lethe", ("-days", "2"))}
    for name, (names, validity) in leaves.items():
        openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN=lethe-test-{name}",
                "-addext", f"subjectAltName={names}")
        openssl("ca", "-batch", "-notext", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key",
                "-in", f"{name}.csr", "-out", f"{name}.pem", *validity)
    return Certificates(directory)


def stunnel_binary() -> str:
    found = shutil.which("stunnel4") or shutil.which("stunnel")
    if found is None:   # fail, not skip: CI must run these tests
        raise RuntimeError("stunnel is missing: scripts/services installs Debian's stunnel4 package")
    return found


class TlsBroker:
    """An embedded broker reachable only over TLS, with one stunnel port per server certificate."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.certificates = make_certificates(directory / "certs")
        self.ports = {name: free_port() for name in ("server", "expired", "misnamed", "mutual")}
        self.broker = EmbeddedBroker(advertised=f"127.0.0.1:{self.ports['server']}")
        self._stunnel: subprocess.Popen[bytes] | None = None

    def address(self, certificate: str) -> str:
        """The TLS port that presents ``certificate``: server, expired, misnamed, or mutual (which presents
        the server certificate and requires a client certificate signed by the CA)."""
        return f"127.0.0.1:{self.ports[certificate]}"

    @property
    def bootstrap(self) -> str:
        """The port the broker advertises: TLS with the valid server certificate."""
        return self.address("server")

    @property
    def plain_bootstrap(self) -> str:
        """The broker's own, plain-TCP port."""
        return self.broker.bootstrap

    def env(self, cafile: Path | None = None) -> dict[str, str]:
        """The settings of a Lethe process that connects over TLS (trusting ``cafile``, default the test CA)."""
        return {"LETHE_KAFKA_SECURITY_PROTOCOL": "SSL",
                "LETHE_KAFKA_SSL_CAFILE": str(cafile or self.certificates.ca)}

    def start(self) -> TlsBroker:
        self.broker.start()
        certs = self.certificates
        services = "".join(
            f"[{name}]\naccept = 127.0.0.1:{port}\nconnect = {self.broker.bootstrap}\n" + (
                f"cert = {certs.cert('server')}\nkey = {certs.key('server')}\nverifyChain = yes\n"
                f"CAfile = {certs.ca}\n" if name == "mutual" else
                f"cert = {certs.cert(name)}\nkey = {certs.key(name)}\n")
            for name, port in self.ports.items())
        config = self.directory / "stunnel.conf"
        config.write_text(f"foreground = yes\npid =\ndebug = 4\noutput = {self.directory / 'stunnel.log'}\n"
                          f"{services}")
        self._stunnel = subprocess.Popen([stunnel_binary(), str(config)], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        waiting = set(self.ports.values())
        while waiting and time.monotonic() < deadline:
            if self._stunnel.poll() is not None:
                self.stop()
                raise RuntimeError(f"stunnel exited with {self._stunnel.returncode}: see {self.directory}")
            waiting = {port for port in waiting if not _accepts(port)}
            time.sleep(0.05)
        if waiting:
            self.stop()
            raise RuntimeError(f"stunnel did not listen on {sorted(waiting)} within 15 s")
        return self

    def stop(self) -> None:
        if self._stunnel is not None and self._stunnel.poll() is None:
            self._stunnel.terminate()
            try:
                self._stunnel.wait(10)
            except subprocess.TimeoutExpired:
                self._stunnel.kill()
                self._stunnel.wait(10)
        self.broker.stop()

    def __enter__(self) -> TlsBroker:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
