"""Decoders of the topics Lethe reads besides its sources: consent, legal holds, privacy requests,
lifecycle commands (read by store agents) and acks.

Each goes through the same schema-compiled :class:`~processors.decode.Decoder` as orders and
logs: JSON or Avro single-object encoding, the same :class:`InvalidRecord` rules (``json``,
``type``, ``required``, ``enum``, ``format.timestamp`` ...) and so the same DLQ headers. What a
schema cannot say is checked after decoding by a small domain check per topic, raising
:class:`InvalidRecord` in the same style: the rule and the field path, never a value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from processors.consent import ConsentEvent
from processors.decode import DEFAULT_LIMITS, Decoder, Limits, Registry
from processors.errors import InvalidRecord
from processors.retention.holds import Hold
from processors.rights import IDENTIFIER, Request
from processors.schemas import SchemaCatalog
from processors.sources import FAMILY_NAME
from processors.time import parse_event_time

INTERNAL_FAMILIES = ("consent", "requests")   # Lethe's own state, never a store's tables
TOPICS = ("consent.v1", "legal-holds.v1", "privacy-requests.v1", "lifecycle.commands.v1", "lifecycle.acks.v1")


class Inputs:
    """One decoder per topic, built once from the schema catalogue; each method decodes one record."""

    def __init__(self, catalog: SchemaCatalog, limits: Limits = DEFAULT_LIMITS,
                 registry: Registry | None = None) -> None:
        self.catalog = catalog
        writers = catalog.by_fingerprint.get
        self.decoders = {topic: Decoder(catalog.for_topic(topic), writers, limits, registry) for topic in TOPICS}
        self._consent, self._holds, self._requests, self._commands, self._acks = (
            self.decoders[topic] for topic in TOPICS)

    def consent(self, raw: bytes | None) -> ConsentEvent:
        """A customer's decision, or (no customer_id) a session's cookie-banner choice."""
        event = self._consent.decode(raw)
        non_empty(event, "event_id", "policy_version")
        customer, session = event["customer_id"], event.get("session_id")
        subject = customer if customer is not None else session
        if subject is None:
            raise InvalidRecord("required", "a consent names its customer_id, or for a banner choice before login "
                                "its session_id", "customer_id")
        non_empty(event, "customer_id" if customer is not None else "session_id")
        event_time(event, "occurred_at")
        return ConsentEvent(event["event_id"], event["occurred_at"], subject, event["purpose"], event["granted"],
                            event["policy_version"], event["source"], session=customer is None)

    def hold(self, raw: bytes | None) -> Hold:
        event = self._holds.decode(raw)
        non_empty(event, "hold_id", "customer_id", "case_ref")
        if event["order_id"] is not None:
            non_empty(event, "order_id")
        event_time(event, "occurred_at")
        return Hold(event["hold_id"], event["action"], event["customer_id"], event["order_id"], event["case_ref"],
                    event["occurred_at"])

    def request(self, raw: bytes | None) -> Request:
        event = self._requests.decode(raw)
        non_empty(event, "request_id", "customer_id")
        if not IDENTIFIER.fullmatch(event["request_id"]):
            raise InvalidRecord("format.identifier", "must be 1-128 letters, digits or . _ : -", "request_id")
        event_time(event, "occurred_at")
        return Request(event["request_id"], event["type"], event["customer_id"], event["occurred_at"],
                       event["channel"], event["details"])

    def command(self, raw: bytes | None) -> dict[str, Any]:
        """A lifecycle command as a store agent applies it (schemas/lifecycle.commands.v1.avsc)."""
        command = self._commands.decode(raw)
        family = command["selector"]["family"]
        if family in INTERNAL_FAMILIES or not FAMILY_NAME.match(family):
            raise InvalidRecord("enum", "store agents apply commands to a source's family (e.g. orders, logs) only",
                                "selector.family")
        return command

    def ack(self, raw: bytes | None) -> dict[str, Any]:
        """A store agent's ack (schemas/lifecycle.acks.v1.avsc)."""
        return self._acks.decode(raw)


def non_empty(record: Mapping[str, Any], *names: str) -> None:
    """Ids the schema types as strings must also not be empty."""
    for name in names:
        if not record[name]:
            raise InvalidRecord("min_length", "must not be empty", name)


def event_time(record: Mapping[str, Any], name: str) -> None:
    """An event's time: RFC 3339 with an offset (the schema says as much) and a year from 1970 to 2999."""
    try:
        parse_event_time(record[name])
    except ValueError:
        raise InvalidRecord("format.timestamp", "not an RFC 3339 time with an offset in the years 1970-2999",
                            name) from None


__all__ = ["TOPICS", "Inputs", "event_time", "non_empty"]
