"""An erasure's receipt (docs/rights.md, "The erasure receipt"): every place the subject's data was
and what happened there. The facts known when the erasure is carried out (the secret's partitions,
export keys, the raw topics' expiry dates) are kept in the request's state; the stores' and
partners' acks are added from the state whenever the receipt is shown (``lethe request status``)
and in the completion audit record. Pure: a state in, a receipt out.

A raw input topic cannot lose one record: the subject's records there go when the topic's retention
(stated in the policy, ``raw_retention``) expires them. The date given is the erasure's time plus that
retention: every record of the subject the topic holds was published before then, so it is the
latest date its last record expires (Kafka deletes whole segments, so the broker may take up to one
segment roll, ``segment.ms``, longer to drop the file).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from processors.time import iso

DLQ = ("dead letters of the subject are sealed with a key derived from its secret and keyed by a hash of it: "
       "unreadable and unlinked once it is destroyed")
ANONYMIZED = "pseudonyms keyed with the destroyed secret: no longer linkable to the subject"


@dataclass(frozen=True)
class RawTopic:
    """An input topic whose records Kafka keeps until its retention expires them."""

    retention_s: float | None      # None: kept without a time limit
    reason: str | None = None      # why it is kept longer than the erasure deadline, if it is


def erasure_facts(view: Any, keys_destroyed: list[str]) -> dict[str, Any]:
    """What an erasure does beyond the stores, at the time it is carried out (``view``: SubjectView)."""
    now = view.now
    raw: dict[str, Any] = {}
    for topic, spec in sorted(view.context.raw_topics.items()):
        entry: dict[str, Any] = {"retention": _days(spec.retention_s),
                                 "last_record_expires_by": None if spec.retention_s is None
                                 else iso(now + spec.retention_s)}
        if spec.reason:
            entry["kept_because"] = spec.reason
        raw[topic] = entry
    return {
        "erased_at": iso(now),
        "secret": {"destroyed": bool(view.secret_partitions), "partitions": sorted(view.secret_partitions)},
        "dlq": DLQ,
        "anonymized_outputs": {topic: ANONYMIZED for topic in sorted(view.context.output_names.values())},
        "exports": {"keys_destroyed": sorted(keys_destroyed)},
        "raw_topics": raw,
    }


def _days(seconds: float | None) -> str:
    if seconds is None:
        return "unlimited"
    return f"{seconds / 86_400:g}d" if seconds >= 86_400 else f"{seconds:g}s"


def _ack_of(state: Mapping[str, Any], store: str) -> dict[str, Any]:
    keys = [f"{command_id}|{store}" for command_id in state["commands"]]
    statuses = [state["acks"].get(key) for key in keys]
    if not keys or None in statuses:
        status = "waiting" if keys else "not asked"
    elif "failed" in statuses:
        status = "failed"
    else:
        status = "deleted" if "applied" in statuses else "held no rows"
    times = [t for key in keys if (t := state.get("acked_at", {}).get(key))]
    return {"status": status, "acked_at": max(times) if times else None}


def receipt(state: Mapping[str, Any]) -> dict[str, Any] | None:
    """The receipt of an erasure's state (None for another request, or one not carried out yet)."""
    facts = state.get("receipt")
    if facts is None:
        return None
    partners: Mapping[str, str] = state.get("partners") or {}
    return {"status": state["status"], "completed_at": state.get("completed_at"),
            "stores": {s: _ack_of(state, s) for s in state["stores"] if s not in partners},
            "partners": {partners[s]: _ack_of(state, s) for s in state["stores"] if s in partners},
            **facts}


def receipt_details(state: Mapping[str, Any]) -> dict[str, str]:
    """The receipt as audit details (their values are strings): one JSON document."""
    found = receipt(state)
    return {} if found is None else {"receipt": json.dumps(found, sort_keys=True)}
