"""`lethe topics create` provisions every topic with its partitions and retention or compaction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kafka.admin import KafkaAdminClient
from support import unique_prefix

from streams.broker import EmbeddedBroker
from streams.settings import Settings
from streams.topics import ALL_TOPICS, BY_NAME, TOPIC_CONFIGS, admin_client, ensure_topics, topic_table

pytestmark = pytest.mark.integration


def test_every_topic_has_a_retention_decision() -> None:
    assert set(TOPIC_CONFIGS) == set(ALL_TOPICS)
    raw_input = ("orders.v1", "logs.v1", "privacy.exports.v1", "dlq.v1", "privacy-requests.v1")
    assert all(int(TOPIC_CONFIGS[t]["retention.ms"]) > 0 for t in raw_input)   # personal data expires
    replayed = ("consent.v1", "legal-holds.v1", "privacy.audit.v1")
    assert all(TOPIC_CONFIGS[t]["retention.ms"] == "-1" for t in replayed)       # state and proof are kept


def test_topics_are_created_with_their_partitions_and_configs(broker: EmbeddedBroker, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # the embedded broker stores topic configs but does not report them (describe_configs answers
    # empty), so the configs are checked as the broker receives them: in the CreateTopics requests
    requested: dict[str, dict[str, str]] = {}
    create_topics = KafkaAdminClient.create_topics

    def recording(admin: KafkaAdminClient, new_topics: list[Any], *args: Any, **kwargs: Any) -> Any:
        for topic in new_topics:
            requested[topic.name] = dict(topic.topic_configs)
        return create_topics(admin, new_topics, *args, **kwargs)

    monkeypatch.setattr(KafkaAdminClient, "create_topics", recording)
    prefix = unique_prefix("topics")
    settings = Settings.from_env({"LETHE_TOPIC_PREFIX": prefix, "LETHE_APP_ID": f"{prefix}lethe",
                                  "LETHE_PARTITIONS": "6", "LETHE_DATA_DIR": str(tmp_path)})
    created = ensure_topics(settings, broker.bootstrap)
    changelogs = [f"{prefix}lethe-{n}-changelog" for n in ("subject-secrets", "retention-timers", "requests",
                                                            "consent", "session-consent")]
    partners = [f"{prefix}partners.{name}.{kind}" for name in ("parcelco", "paynow") for kind in ("v1", "commands.v1")]
    assert set(created) == {prefix + t for t in ALL_TOPICS} | set(changelogs) | set(partners)
    assert ensure_topics(settings, broker.bootstrap) == []   # idempotent
    admin = admin_client(broker.bootstrap)
    try:
        described = {t["name"]: t for t in admin.describe_topics(created)}
        assert set(described) == set(created)
        assert {len(t["partitions"]) for t in described.values()} == {6}
    finally:
        admin.close()
    assert set(requested) == set(created)
    for topic in ALL_TOPICS:   # each with its retention decision
        assert requested[prefix + topic] == TOPIC_CONFIGS[topic], topic
    for changelog in changelogs:   # state: compacted, never expired by time
        assert requested[changelog]["cleanup.policy"] == "compact", changelog
        assert "retention.ms" not in requested[changelog]
    secrets = requested[changelogs[0]]   # a shredded secret's old record is compacted away within a week
    assert int(secrets["max.compaction.lag.ms"]) <= 7 * 86_400_000
    for topic in partners:   # a partner's projection holds personal data: it expires like raw input
        assert int(requested[topic]["retention.ms"]) > 0, topic


def test_each_policy_partner_gets_its_topic_and_its_command_topic(tmp_path: Path) -> None:
    settings = Settings.from_env({"LETHE_TOPIC_PREFIX": "p.", "LETHE_DATA_DIR": str(tmp_path)})
    table = topic_table(settings, ["orders.anonymized.v1", "partners.parcelco.v1"], None, ["parcelco"])
    assert (table["p.partners.parcelco.v1"].role, table["p.partners.parcelco.v1"].schema) == (
        "partner", "partners.parcelco.v1")
    assert table["p.partners.parcelco.commands.v1"].role == "lifecycle"
    assert table["p.partners.parcelco.commands.v1"].schema == "lifecycle.commands.v1"


def test_a_policy_output_the_table_does_not_know_gets_its_topic(tmp_path: Path) -> None:
    settings = Settings.from_env({"LETHE_TOPIC_PREFIX": "p.", "LETHE_APP_ID": "app", "LETHE_DATA_DIR": str(tmp_path)})
    table = topic_table(settings, ["orders.anonymized.v1", "partners.logistics.v1"])
    assert table["p.partners.logistics.v1"].role == "output"
    assert table["p.orders.anonymized.v1"] is BY_NAME["orders.anonymized.v1"]
    assert {n for n, spec in table.items() if spec.role == "changelog"} == {
        f"app-{n}-changelog" for n in ("subject-secrets", "retention-timers", "requests", "consent",
                                       "session-consent")}
    assert all(spec.config for spec in table.values())   # every topic has a retention or compaction decision


def test_the_policy_sources_and_outputs_get_their_topics(tmp_path: Path) -> None:
    """A source the table does not know is an input topic; the example topics only if the policy declares them."""
    settings = Settings.from_env({"LETHE_TOPIC_PREFIX": "p.", "LETHE_DATA_DIR": str(tmp_path)})
    table = topic_table(settings, ["tickets.anonymized.v1"], {"tickets.v1": "tickets.v1"})
    assert (table["p.tickets.v1"].role, table["p.tickets.v1"].schema) == ("input", "tickets.v1")
    assert table["p.tickets.anonymized.v1"].role == "output"
    assert int(table["p.tickets.v1"].config["retention.ms"]) > 0   # raw personal data expires
    assert not {"p.orders.v1", "p.logs.v1", "p.orders.anonymized.v1", "p.logs.anonymized.v1"} & set(table)
    assert {"p.consent.v1", "p.privacy-requests.v1", "p.lifecycle.commands.v1"} <= set(table)
    everything = topic_table(settings, ["orders.anonymized.v1"], {"orders.v1": "orders.v1", "logs.v1": "logs.v1"})
    assert {"p.orders.v1", "p.logs.v1", "p.orders.anonymized.v1"} <= set(everything)


def test_publish_accepts_the_policy_sources(tmp_path: Path) -> None:
    from tickets import STANZA

    from streams.topics import input_topics

    policy = tmp_path / "policy.toml"
    policy.write_text((Path(__file__).resolve().parents[2] / "deploy" / "policy.toml").read_text() + STANZA)
    settings = Settings.from_env({"LETHE_POLICY": str(policy), "LETHE_DATA_DIR": str(tmp_path)})
    assert set(input_topics(settings)) == {"orders.v1", "logs.v1", "tickets.v1", "consent.v1",
                                           "privacy-requests.v1", "legal-holds.v1"}
