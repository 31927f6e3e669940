"""Topic provisioning: every Lethe topic is created explicitly with its partition count.

Auto-created topics get whatever the broker's default is (4 on the embedded broker, 1 on many
Kafka installs), which silently breaks co-partitioning by subject, so Lethe never relies on it.
"""

from __future__ import annotations

import logging
import time

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from processors.errors import LetheError
from streams.kafka import kafka_python_options
from streams.settings import ALL_TOPICS, Settings

log = logging.getLogger(__name__)


class TopicError(LetheError):
    """Topics could not be listed or created."""


def admin_client(bootstrap: str, timeout: float = 20.0) -> KafkaAdminClient:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return KafkaAdminClient(**kafka_python_options(), bootstrap_servers=bootstrap, client_id="lethe-admin",
                                    request_timeout_ms=10_000)
        except KafkaError:
            if time.monotonic() > deadline:
                raise TopicError(f"no Kafka broker answers at {bootstrap}; is it running? "
                                 "(unset LETHE_BOOTSTRAP_SERVERS to use the embedded broker)") from None
            time.sleep(0.5)


DAY_MS = 86_400_000
FOREVER = {"retention.ms": "-1"}
# Retention of each topic (docs/operations.md). Raw input holds personal data: kept a week, long
# enough to replay after an outage, then gone. Topics Lethe replays to rebuild state (holds,
# consents, requests) and the audit trail are kept; compacted changelogs are created below.
TOPIC_CONFIGS: dict[str, dict[str, str]] = {
    "orders.v1": {"retention.ms": str(7 * DAY_MS)},
    "logs.v1": {"retention.ms": str(7 * DAY_MS)},
    "consent.v1": FOREVER,
    "privacy-requests.v1": {"retention.ms": str(30 * DAY_MS)},   # rectify values: not kept; state is in the changelog
    "legal-holds.v1": FOREVER,
    "orders.anonymized.v1": {"retention.ms": str(30 * DAY_MS)},
    "logs.anonymized.v1": {"retention.ms": str(30 * DAY_MS)},
    "lifecycle.commands.v1": {"retention.ms": str(30 * DAY_MS)},
    "lifecycle.acks.v1": {"retention.ms": str(30 * DAY_MS)},
    "privacy.audit.v1": FOREVER,
    "privacy.exports.v1": {"retention.ms": str(7 * DAY_MS)},
    "dlq.v1": {"retention.ms": str(14 * DAY_MS)},
}


def ensure_topics(settings: Settings, bootstrap: str) -> list[str]:
    """Create every missing Lethe topic; return the names created."""
    admin = admin_client(bootstrap)
    try:
        existing = set(admin.list_topics())
        configs = {settings.topics.name(topic): dict(TOPIC_CONFIGS[topic]) for topic in ALL_TOPICS}
        if True:
            # the subject secrets: compacted, partitioned like the input (see streams/ingest.py);
            # a shredded secret's old record must really go: compaction within a week at the latest
            configs[f"{settings.app_id}-subject-secrets-changelog"] = {
                "cleanup.policy": "compact", "segment.ms": str(DAY_MS), "max.compaction.lag.ms": str(7 * DAY_MS),
                "min.cleanable.dirty.ratio": "0.1", "delete.retention.ms": str(DAY_MS)}
            # retention deadlines: compacted, a tombstone once fired (streams/retention.py)
            configs[f"{settings.app_id}-retention-timers-changelog"] = {"cleanup.policy": "compact"}
            # rights requests and their progress (streams/requests.py)
            configs[f"{settings.app_id}-requests-changelog"] = {"cleanup.policy": "compact"}
            configs[f"{settings.app_id}-consent-changelog"] = {"cleanup.policy": "compact"}
        created = []
        for name, config in configs.items():
            if name in existing:
                continue
            try:
                admin.create_topics([NewTopic(name, settings.partitions, settings.replication_factor,
                                              topic_configs=config)])
                created.append(name)
            except TopicAlreadyExistsError:
                pass
            except KafkaError as exc:
                raise TopicError(f"cannot create topic {name}: {exc}") from None
        if created:
            log.info("created %d topics with %d partitions: %s", len(created), settings.partitions,
                     ", ".join(created))
        return created
    finally:
        admin.close()
