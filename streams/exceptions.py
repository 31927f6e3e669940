"""Every error ``streams/`` raises on purpose, under one root (:class:`LetheError`).

The pure errors (bad settings, policy, schema or record) live in ``processors/errors.py`` because
``processors/`` may not import ``streams/``; they are re-exported here so that I/O code and the
CLI import errors from one place. Messages name the setting, topic, store or rule, never a value.
"""

from __future__ import annotations

from processors.errors import ConfigError, InvalidRecord, LetheError, PolicyError, SchemaError


class BrokerError(LetheError):
    """The embedded broker could not be started."""


class BrokerUnreachable(LetheError):
    """No broker of LETHE_BOOTSTRAP_SERVERS accepts a connection."""


class BrokerTlsError(BrokerUnreachable):
    """The broker answers, but the TLS connection to it fails in a way retrying cannot fix: its
    certificate is not trusted, has expired or does not name the address, or it refused ours."""


class DeliveryFailed(LetheError):
    """The broker did not take a record (it is sent again with backoff; nothing is committed meanwhile)."""


class RecordTooLarge(DeliveryFailed):
    """A record above the producer's or the broker's maximum size (a dead letter is then truncated)."""


class TopicError(LetheError):
    """Topics could not be listed or created."""


class PartitionMismatch(TopicError):
    """Existing topics have another partition count than LETHE_PARTITIONS (co-partitioning breaks)."""


class StoreError(LetheError):
    """A store database cannot be used (unknown URL scheme, no answer, missing driver)."""


class UsageError(LetheError):
    """A command was called with arguments it cannot act on."""


__all__ = ["BrokerError", "BrokerTlsError", "BrokerUnreachable", "ConfigError", "DeliveryFailed", "InvalidRecord",
           "LetheError", "PartitionMismatch", "PolicyError", "RecordTooLarge", "SchemaError", "StoreError",
           "TopicError", "UsageError"]
