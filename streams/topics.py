"""Topic provisioning: every Lethe topic is created explicitly with its partition count.

Auto-created topics get whatever the broker's default is (4 on the embedded broker, 1 on many
Kafka installs), which silently breaks co-partitioning by subject, so Lethe never relies on it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from streams.exceptions import PartitionMismatch, TopicError
from streams.kafka import kafka_python_options
from streams.settings import Settings
from streams.text import plural

if TYPE_CHECKING:
    from processors.policy import Policy
    from processors.rights.receipt import RawTopic

log = logging.getLogger(__name__)


def _partition_mismatches(admin: KafkaAdminClient, names: list[str], partitions: int) -> dict[str, int]:
    """The topics of ``names`` whose partition count is not ``partitions``, with their count."""
    if not names:
        return {}
    try:
        described = admin.describe_topics(names)
    except KafkaError as exc:
        raise TopicError(f"cannot describe the existing topics: {exc}") from None
    counts = {str(topic.get("name") or topic.get("topic")): len(topic.get("partitions") or ())
              for topic in described}
    return {name: counts[name] for name in names if name in counts and counts[name] != partitions}


def admin_client(bootstrap: str, timeout: float = 20.0) -> KafkaAdminClient:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return KafkaAdminClient(**kafka_python_options(), bootstrap_servers=bootstrap, client_id="lethe-admin",
                                    request_timeout_ms=10_000)
        except KafkaError:
            if time.monotonic() > deadline:
                raise TopicError(f"no Kafka broker answers at {bootstrap} (LETHE_BOOTSTRAP_SERVERS); "
                                 "is it running?") from None
            time.sleep(0.5)


DAY_MS = 86_400_000
FOREVER = {"retention.ms": "-1"}
WEEK = {"retention.ms": str(7 * DAY_MS)}
MONTH = {"retention.ms": str(30 * DAY_MS)}
COMPACTED = {"cleanup.policy": "compact"}


@dataclass(frozen=True)
class TopicSpec:
    """One Lethe topic: its canonical name (a deployment may prefix it), role, schema and config."""

    name: str
    role: str            # input | output | lifecycle | audit | ledger | dlq | changelog
    schema: str | None   # schemas/<schema>.avsc describes its records (None: internal state)
    config: Mapping[str, str]


# The one topic table: every topic list, changelog name and topic config is derived from it.
# Retention of each topic (docs/operations.md). Raw input holds personal data: kept a week, long
# enough to replay after an outage, then gone. Topics Lethe replays to rebuild state (holds,
# consents) and the audit trail are kept; changelogs are compacted.
TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec("orders.v1", "input", "orders.v1", WEEK),
    TopicSpec("logs.v1", "input", "logs.v1", WEEK),
    TopicSpec("consent.v1", "input", "consent.v1", FOREVER),
    # rectify values: not kept; a request's state is in its changelog
    TopicSpec("privacy-requests.v1", "input", "privacy-requests.v1", MONTH),
    TopicSpec("legal-holds.v1", "input", "legal-holds.v1", FOREVER),
    TopicSpec("orders.anonymized.v1", "output", "orders.anonymized.v1", MONTH),
    TopicSpec("logs.anonymized.v1", "output", "logs.anonymized.v1", MONTH),
    TopicSpec("lifecycle.commands.v1", "lifecycle", "lifecycle.commands.v1", MONTH),
    TopicSpec("lifecycle.acks.v1", "lifecycle", "lifecycle.acks.v1", MONTH),
    TopicSpec("privacy.audit.v1", "audit", "privacy.audit.v1", FOREVER),
    TopicSpec("privacy.exports.v1", "lifecycle", "privacy.exports.v1", WEEK),
    # the sharing ledger: one entry per subject, partner and category (key subject|partner|category)
    TopicSpec("privacy.sharing.v1", "ledger", "privacy.sharing.v1", COMPACTED),
    TopicSpec("dlq.v1", "dlq", "dlq.v1", {"retention.ms": str(14 * DAY_MS)}),
    # `lethe dlq replay`'s markers (one per replayed dead letter, no personal data): outlive the DLQ's records
    TopicSpec("dlq.replays.v1", "dlq", None, {"retention.ms": str(15 * DAY_MS)}),
)
# State a worker owns per partition, named "<app id>-<name>" (streams/state/base.py restores them).
# a destroyed key's old record must really go: compaction within a week at the latest
SHREDDABLE = {**COMPACTED, "segment.ms": str(DAY_MS), "max.compaction.lag.ms": str(7 * DAY_MS),
              "min.cleanable.dirty.ratio": "0.1", "delete.retention.ms": str(DAY_MS)}
CHANGELOGS: dict[str, TopicSpec] = {
    "secrets": TopicSpec("subject-secrets-changelog", "changelog", None, SHREDDABLE),   # subjects' secrets
    "timers": TopicSpec("retention-timers-changelog", "changelog", None, COMPACTED),   # a tombstone once fired
    "requests": TopicSpec("requests-changelog", "changelog", None, SHREDDABLE),   # export keys (docs/rights.md)
    "consent": TopicSpec("consent-changelog", "changelog", None, COMPACTED),
    # cookie-banner choices of sessions: every worker reads all of it (streams/state/sessions.py)
    "session-consent": TopicSpec("session-consent-changelog", "changelog", None, COMPACTED),
}
BY_NAME = {spec.name: spec for spec in TOPICS}
# the shipped example sources and their outputs: in a deployment only if its policy declares them
SHIPPED_EXAMPLES = ("orders.v1", "logs.v1", "orders.anonymized.v1", "logs.anonymized.v1")
ALL_TOPICS = tuple(spec.name for spec in TOPICS)
TOPIC_CONFIGS: dict[str, dict[str, str]] = {spec.name: dict(spec.config) for spec in TOPICS}


# why Lethe's own input topics keep a subject's records past an erasure (its receipt says so)
KEPT_BECAUSE = {
    "consent.v1": "proof of each consent choice (GDPR Art. 7(1)); holds the subject id, purposes and choices only",
    "privacy-requests.v1": "the request events themselves, the proof of what was asked and when",
    "legal-holds.v1": "legal holds are replayed to rebuild their state; holds the subject id and case references",
}


def retained_topics(settings: Settings, policy: Policy) -> dict[str, RawTopic]:
    """The topics that keep a subject's records until their retention expires them, by real name: the
    policy's sources (their stated raw_retention), Lethe's other inputs and the partners' projections."""
    from processors.rights.receipt import RawTopic

    def retention(spec: TopicSpec) -> float | None:
        ms = int(spec.config.get("retention.ms", str(7 * DAY_MS)))
        return None if ms < 0 else ms / 1000

    found = {settings.topics.name(s.topic): RawTopic(s.raw_retention_s, s.raw_retention_reason)
             for s in policy.sources.values()}
    for name, reason in KEPT_BECAUSE.items():
        found[settings.topics.name(name)] = RawTopic(retention(BY_NAME[name]), reason)
    for partner in policy.partners:
        projection = partner_topics(partner)[0]
        found[settings.topics.name(projection.name)] = RawTopic(
            retention(projection), "the partner's projection (its own copy is erased through its ack)")
    return found


def changelog_name(settings: Settings, kind: str) -> str:
    """The changelog topic of one kind of partition state (``secrets``, ``timers``, ...)."""
    return f"{settings.app_id}-{CHANGELOGS[kind].name}"


def partner_topics(name: str) -> tuple[TopicSpec, TopicSpec]:
    """A partner's two topics: the projection it receives and the erasure/rectification commands for it.

    The projection holds personal data the partner needs: kept a week like raw input, long enough
    for a partner's outage, then gone (the partner keeps its own copy under its contract)."""
    return (TopicSpec(f"partners.{name}.v1", "partner", f"partners.{name}.v1", WEEK),
            TopicSpec(f"partners.{name}.commands.v1", "lifecycle", "lifecycle.commands.v1", MONTH))


def topic_table(settings: Settings, outputs: Iterable[str] = (),
                sources: Mapping[str, str] | None = None, partners: Iterable[str] = ()) -> dict[str, TopicSpec]:
    """Every topic a deployment needs, by its real name: the table, the changelogs, each policy source
    (``sources``: canonical topic -> schema name) as an input and each policy output (``outputs``:
    canonical names) that the table does not know, as an anonymized output, and each partner's two
    topics (``partners``: names). With ``sources`` given, the shipped example topics (orders, logs and
    their outputs) are only there if the policy declares them."""
    outputs = list(outputs)
    table = {}
    for spec in TOPICS:
        if sources is not None and spec.name in SHIPPED_EXAMPLES and spec.name not in sources \
                and spec.name not in outputs:
            continue
        table[settings.topics.name(spec.name)] = spec
    for source, schema in (sources or {}).items():
        if source not in BY_NAME:
            table[settings.topics.name(source)] = TopicSpec(source, "input", schema, WEEK)
    for output in outputs:
        if output not in BY_NAME:
            table[settings.topics.name(output)] = TopicSpec(output, "output", output, MONTH)
    for partner in partners:
        for spec in partner_topics(partner):
            table[settings.topics.name(spec.name)] = spec
    for kind in CHANGELOGS:
        table[changelog_name(settings, kind)] = CHANGELOGS[kind]
    return table


def policy_topics(settings: Settings) -> tuple[list[str], dict[str, str]]:
    """The output topics and the sources (topic -> schema name) the deployment's policy declares."""
    from processors.policy import load_policy

    policy = load_policy(settings.policy_path)
    return ([output.topic for output in policy.outputs.values()],
            {topic: source.schema_name for topic, source in policy.sources.items()})


def policy_table(settings: Settings) -> dict[str, TopicSpec]:
    """:func:`topic_table` of the deployment's policy: its sources, outputs and partners."""
    from processors.policy import load_policy

    policy = load_policy(settings.policy_path)
    table = topic_table(settings, [output.topic for output in policy.outputs.values()],
                        {topic: source.schema_name for topic, source in policy.sources.items()}, policy.partners)
    for topic, source in policy.sources.items():   # the retention the policy states (the erasure receipt's dates)
        spec = table[settings.topics.name(topic)]
        table[settings.topics.name(topic)] = replace(spec, config={
            **spec.config, "retention.ms": str(int(source.raw_retention_s * 1000))})
    return table


def policy_outputs(settings: Settings) -> list[str]:
    """The output topics the deployment's policy declares (already checked at start-up)."""
    return policy_topics(settings)[0]


def input_topics(settings: Settings) -> list[str]:
    """Every topic ``lethe publish`` accepts: the policy's sources and Lethe's other inputs."""
    _, sources = policy_topics(settings)
    return [*sources, *(spec.name for spec in TOPICS if spec.role == "input" and spec.name not in SHIPPED_EXAMPLES)]


def ensure_topics(settings: Settings, bootstrap: str) -> list[str]:
    """Create every missing Lethe topic (the table, the changelogs, the policy's outputs and partners); return
    those created.

    A worker refuses existing topics with another partition count, with no override: its consent,
    request and hold state would sit on another partition than the subject's records, and records
    could be gated against the wrong consent state (docs/operations.md)."""
    try:
        return provision(settings, bootstrap)[0]
    except PartitionMismatch as exc:
        raise PartitionMismatch(f"the worker refuses to start: {exc}") from None


def provision(settings: Settings, bootstrap: str,
              allow_partition_mismatch: bool = False) -> tuple[list[str], list[str]]:
    """Create every missing Lethe topic; return (the names created, the names that already existed).

    Existing topics whose partition count is not ``settings.partitions`` break co-partitioning by
    subject: a PartitionMismatch names them, or (``allow_partition_mismatch``, `lethe topics create`
    only) a warning does.
    """
    table = policy_table(settings)
    admin = admin_client(bootstrap)
    try:
        existing = set(admin.list_topics())
        created, found = [], []
        for name, spec in table.items():
            if name in existing:
                found.append(name)
                continue
            try:
                admin.create_topics([NewTopic(name, settings.partitions, settings.replication_factor,
                                              topic_configs=dict(spec.config))])
                created.append(name)
            except TopicAlreadyExistsError:
                found.append(name)
            except KafkaError as exc:
                raise TopicError(f"cannot create topic {name}: {exc}") from None
        if created:
            log.info("created %s with %s: %s", plural(len(created), "topic"), plural(settings.partitions, "partition"),
                     ", ".join(created))
        mismatched = _partition_mismatches(admin, found, settings.partitions)
        if mismatched:
            counts = ", ".join(f"{name} ({plural(count, 'partition')})" for name, count in mismatched.items())
            message = (f"{plural(len(mismatched), 'existing topic')} {'has' if len(mismatched) == 1 else 'have'} "
                       f"a partition count other than LETHE_PARTITIONS={settings.partitions}: {counts}; "
                       "records of one subject could land on different partitions from its state")
            if not allow_partition_mismatch:
                raise PartitionMismatch(f"{message}. Set LETHE_PARTITIONS to the topics' count, or recreate "
                                        f"those topics with {plural(settings.partitions, 'partition')}")
            log.warning("%s", message)
        return created, found
    finally:
        admin.close()
