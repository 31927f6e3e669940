"""Settings: one frozen object, read from the environment at start-up (never at import)."""

from __future__ import annotations

import importlib.util
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from processors.errors import ConfigError
from streams.kafka import KafkaSecurity, configure
from streams.secret import Secret

REPO_ROOT = Path(__file__).resolve().parent.parent
KEY_FILE = "pseudonym.key"
MAX_PROCESSES = 64   # worker processes `lethe run --processes N` supervises on one machine


@dataclass(frozen=True)
class Topics:
    prefix: str = ""

    def name(self, canonical: str) -> str:
        return self.prefix + canonical

    @property
    def orders(self) -> str:
        return self.name("orders.v1")

    @property
    def logs(self) -> str:
        return self.name("logs.v1")

    @property
    def dlq(self) -> str:
        return self.name("dlq.v1")



def _get(env: Mapping[str, str], name: str, default: str) -> str:
    return env.get(name, "").strip() or default


def _parsed(env: Mapping[str, str], name: str, default: float, low: float, high: float, kind: type[float],
            noun: str) -> float:
    raw = _get(env, name, str(default))
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not {noun}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is out of range ({low}..{high})")
    return value


def metrics_port(env: Mapping[str, str] | None = None) -> int:
    """LETHE_METRICS_PORT (0: off), alone: `lethe broker` reads no other setting."""
    return int(_parsed(os.environ if env is None else env, "LETHE_METRICS_PORT", 9108, 0, 65535, int, "an integer"))


@dataclass(frozen=True)
class Settings:
    bootstrap_servers: str | None
    store_url: str
    metrics_port: int
    policy_path: Path
    schemas_dir: Path
    data_dir: Path
    pseudonym_key: Secret[bytes] = field(repr=True)
    key_source: str
    app_id: str
    topics: Topics
    partitions: int
    replication_factor: int
    table_store: str
    session_timeout_s: float
    batch_size: int
    batch_within_s: float
    output_encoding: str
    max_record_bytes: int
    log_level: str
    agent_batch: int = 500   # store agent: the most commands applied in one transaction
    ingest: str = "direct"
    kafka: KafkaSecurity = field(default_factory=KafkaSecurity)
    schema_registry_url: str | None = None   # Confluent wire-format input (streams/registry.py)
    processes: int = 1   # LETHE_PROCESSES: worker processes on this machine (streams/supervisor.py)

    @property
    def embedded(self) -> bool:
        return self.bootstrap_servers is None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, bootstrap: str | None = None) -> Settings:
        env = os.environ if env is None else env

        def get(name: str, default: str) -> str:
            return _get(env, name, default)

        def integer(name: str, default: int, low: int, high: int) -> int:
            return int(_parsed(env, name, default, low, high, int, "an integer"))

        def number(name: str, default: float, low: float, high: float) -> float:
            return _parsed(env, name, default, low, high, float, "a number")

        servers = bootstrap or env.get("LETHE_BOOTSTRAP_SERVERS", "").strip() or None
        if servers is not None:
            for server in servers.split(","):
                host, _, port = server.strip().rpartition(":")
                if not host or not port.isdigit():
                    raise ConfigError(
                        f"LETHE_BOOTSTRAP_SERVERS entry {server.strip()!r} is not host:port "
                        "(example: kafka-1:9092,kafka-2:9092)")
        data_dir = Path(get("LETHE_DATA_DIR", ".lethe")).resolve()
        store_url = get("LETHE_STORE_URL", f"sqlite:///{data_dir / 'lethe.db'}")
        _check_store_url(store_url)
        policy = Path(get("LETHE_POLICY", str(REPO_ROOT / "deploy" / "policy.toml")))
        if not policy.is_file():
            raise ConfigError(f"LETHE_POLICY={policy}: no such file (the default is deploy/policy.toml)")
        key, key_source = _pseudonym_key(env.get("LETHE_PSEUDONYM_KEY", ""), data_dir)
        encoding = get("LETHE_OUTPUT_ENCODING", "json")
        if encoding not in ("json", "avro"):
            raise ConfigError(f"LETHE_OUTPUT_ENCODING={encoding!r}: use json or avro")
        store = get("LETHE_TABLE_STORE", "memory://")
        if not (store.startswith("memory://") or store.startswith("rocksdb://")):
            raise ConfigError(f"LETHE_TABLE_STORE={store!r}: use memory:// or rocksdb://")
        if store.startswith("rocksdb://") and importlib.util.find_spec("rocksdict") is None:
            raise ConfigError("LETHE_TABLE_STORE=rocksdb:// needs the rocksdict package: pip install -e '.[rocksdb]'")
        ingest = get("LETHE_INGEST", "direct")
        if ingest != "direct":
            raise ConfigError(
                f"LETHE_INGEST={ingest!r}: this ingest mode was removed. Lethe has one runtime, the batch ingest "
                "(LETHE_INGEST=direct or unset): the Faust-agents mode enforced no consent, restriction, objection "
                "or quarantine gate, no retention, no legal hold and no rights request, and was 2.7x slower "
                "(docs/architecture.md). Unset LETHE_INGEST.")
        registry = env.get("LETHE_SCHEMA_REGISTRY_URL", "").strip() or None
        if registry is not None and registry.split("://")[0] not in ("http", "https", "mock"):
            raise ConfigError(f"LETHE_SCHEMA_REGISTRY_URL={registry!r}: give the registry's http:// or https:// URL "
                              "(e.g. http://schema-registry:8081; mock://NAME is the client's in-memory registry, "
                              "for tests)")
        kafka = KafkaSecurity.from_env(env)
        configure(kafka)   # every Kafka client this process makes connects this way
        level = get("LETHE_LOG_LEVEL", "info").lower()
        if level not in ("debug", "info", "warning", "error"):
            raise ConfigError(f"LETHE_LOG_LEVEL={level!r}: use debug, info, warning or error")
        return cls(
            bootstrap_servers=servers,
            store_url=store_url,
            metrics_port=metrics_port(env),
            policy_path=policy,
            schemas_dir=Path(get("LETHE_SCHEMAS_DIR", str(REPO_ROOT / "schemas"))),
            data_dir=data_dir,
            pseudonym_key=key,
            key_source=key_source,
            app_id=get("LETHE_APP_ID", "lethe"),
            topics=Topics(env.get("LETHE_TOPIC_PREFIX", "").strip()),
            partitions=integer("LETHE_PARTITIONS", 4, 1, 10_000),
            replication_factor=integer("LETHE_REPLICATION_FACTOR", 1, 1, 10),
            table_store=store,
            session_timeout_s=number("LETHE_SESSION_TIMEOUT_S", 6.0, 1.0, 300.0),
            batch_size=integer("LETHE_BATCH_SIZE", 2000, 1, 100_000),
            batch_within_s=number("LETHE_BATCH_WITHIN_MS", 50.0, 1.0, 10_000.0) / 1000,
            output_encoding=encoding,
            max_record_bytes=integer("LETHE_MAX_RECORD_BYTES", 1_048_576, 1024, 64 * 1_048_576),
            log_level=level,
            agent_batch=integer("LETHE_AGENT_BATCH", 500, 1, 10_000),
            ingest=ingest,
            kafka=kafka,
            schema_registry_url=registry,
            processes=integer("LETHE_PROCESSES", 1, 1, MAX_PROCESSES),
        )


def _check_store_url(url: str) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        make_url(url)
    except ArgumentError:
        raise ConfigError("LETHE_STORE_URL is not a SQLAlchemy URL "
                          "(examples: sqlite:///lethe.db, postgresql://host/db)") from None


def _pseudonym_key(raw: str, data_dir: Path) -> tuple[Secret[bytes], str]:
    """The master pseudonymization key: LETHE_PSEUDONYM_KEY, else a key file made on first run."""
    raw = raw.strip()
    if raw:
        try:
            key = bytes.fromhex(raw)
        except ValueError:
            raise ConfigError("LETHE_PSEUDONYM_KEY must be hex (64 hex digits = 32 bytes; "
                              "make one with: python -c 'import secrets; print(secrets.token_hex(32))')") from None
        if len(key) < 16:
            raise ConfigError("LETHE_PSEUDONYM_KEY is too short: give at least 32 hex digits (16 bytes)")
        return Secret(key[:64]), "LETHE_PSEUDONYM_KEY"
    path = data_dir / KEY_FILE
    if path.is_file():
        return _read_key_file(path), str(path)
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    # written whole under a name of its own, then linked into place in one step: a process starting
    # beside this one (lethe run --processes N, a CLI command) reads a whole key or makes the file itself
    staging = path.with_name(f".{KEY_FILE}.{os.getpid()}.tmp")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(key.hex())
            handle.flush()
            os.fsync(handle.fileno())
        os.link(staging, path)
    except FileExistsError:   # another process made it first: every process keeps that one
        return _read_key_file(path), str(path)
    finally:
        staging.unlink(missing_ok=True)
    return Secret(key), f"{path} (generated)"


def _read_key_file(path: Path) -> Secret[bytes]:
    try:
        key = bytes.fromhex(path.read_text().strip())
    except (ValueError, UnicodeDecodeError):
        raise ConfigError(f"{path}: the pseudonym key file is not hex; restore it from your backup "
                          "(a new key would give every subject new pseudonyms)") from None
    if len(key) < 16:
        raise ConfigError(f"{path}: the pseudonym key file holds {len(key)} bytes, not a key; restore it from your "
                          "backup (a new key would give every subject new pseudonyms)")
    return Secret(key)
