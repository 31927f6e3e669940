"""Rights requests of the partitions a worker owns, backed by ``<app id>-requests-changelog``
(key: the request id), and the gates they set, indexed by subject.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from processors.rights import (
    GATING,
    OPEN,
    gates,
)
from streams.metrics import Metrics
from streams.settings import Settings
from streams.state.base import PartitionedState
from streams.state.maps import Json, Maps, Partitioned
from streams.topics import changelog_name

log = logging.getLogger(__name__)


def requests_topic(settings: Settings) -> str:
    return changelog_name(settings, "requests")


def _written_id(state: dict[str, Any]) -> list[str]:
    written = (state.get("export") or {}).get("written_id")
    return [written] if written else []


class RequestStore(PartitionedState):
    """The rights requests of the partitions this worker owns, and the gates they set."""

    what = "privacy requests"

    def __init__(self, bootstrap: str, topic: str, metrics: Metrics, maps: Maps | None = None) -> None:
        super().__init__(bootstrap, topic)
        self.metrics = metrics
        made = maps or Maps()
        self.partitions: Partitioned[Json] = made.json("requests")   # request id ->
        self.by_command: dict[str, tuple[int, str]] = {}
        self.by_subject: dict[str, dict[str, int]] = {}   # subject -> request id -> partition
        self.gating: dict[str, dict[str, dict[str, Any]]] = {}   # subject -> its gating requests
        self.open: dict[str, int] = {}   # request id -> partition, of requests not yet completed or failed
        self.keyed: dict[str, int] = {}  # request id -> partition, of exports whose key is not destroyed yet

    def load(self, partition: int, records: list[Any]) -> None:
        states = self.partitions[partition]
        for record in records:
            request_id = record.key.decode()
            if record.value is None:
                gone = states.pop(record.key, None)
                self.open.pop(request_id, None)
                self.keyed.pop(request_id, None)
                if gone is not None:
                    self.gating.get(gone["subject"], {}).pop(request_id, None)
                    self.by_subject.get(gone["subject"], {}).pop(request_id, None)
            else:
                self._index(partition, (states.get(record.key) or {}) | orjson.loads(record.value))

    def drop(self, partition: int) -> None:
        states = self.partitions.get(partition)
        if states is None:
            return
        for state in states.values():
            self.open.pop(state["request_id"], None)
            self.keyed.pop(state["request_id"], None)
            for command_id in [*state["commands"], *_written_id(state)]:
                self.by_command.pop(command_id, None)
            for index in (self.gating, self.by_subject):
                of_subject = index.get(state["subject"])
                if of_subject is not None:
                    of_subject.pop(state["request_id"], None)
                    if not of_subject:
                        del index[state["subject"]]
        self.partitions.close(partition)

    async def stop(self) -> None:
        self.partitions.close_all()
        await super().stop()

    def _index(self, partition: int, state: dict[str, Any]) -> None:
        self.partitions[partition][state["request_id"].encode()] = state
        for command_id in [*state["commands"], *_written_id(state)]:   # the export's: `lethe request export` acks it
            self.by_command[command_id] = (partition, state["request_id"])
        if (state.get("export") or {}).get("private_key"):
            self.keyed[state["request_id"]] = partition
        else:
            self.keyed.pop(state["request_id"], None)
        if state["status"] in OPEN:   # the deadline loop and the gauges look at open requests only
            self.open[state["request_id"]] = partition
        else:
            self.open.pop(state["request_id"], None)
        self.by_subject.setdefault(state["subject"], {})[state["request_id"]] = partition
        if state["type"] in GATING:   # looked up for every input batch: by subject, not by scan
            gating = self.gating.setdefault(state["subject"], {})
            gating[state["request_id"]] = state

    def save(self, partition: int, state: dict[str, Any]) -> None:
        self._index(partition, state)
        self.stage(partition, state["request_id"].encode(), orjson.dumps(state))

    def get(self, partition: int, request_id: str) -> dict[str, Any] | None:
        states = self.partitions.get(partition)
        return None if states is None else states.get(request_id.encode())

    def find(self, request_id: str) -> dict[str, Any] | None:
        key = request_id.encode()
        for states in self.partitions.values():
            state = states.get(key)
            if state is not None:
                return state
        return None

    def partition_of(self, request_id: str) -> int | None:
        key = request_id.encode()
        for partition, states in self.partitions.items():
            if key in states:
                return partition
        return None

    def of_subject(self, subject: str) -> list[dict[str, Any]]:
        return [state for _, state in self._held(self.by_subject.get(subject, {}).items())]

    def open_states(self) -> list[tuple[int, dict[str, Any]]]:
        return self._held(self.open.items())

    def keyed_states(self) -> list[tuple[int, dict[str, Any]]]:
        return self._held(self.keyed.items())

    def states(self) -> list[tuple[int, dict[str, Any]]]:
        return [(p, s) for p, states in self.partitions.items() for s in states.values()]

    def _held(self, where: Iterable[tuple[str, int]]) -> list[tuple[int, dict[str, Any]]]:
        """The states of request ids in the partitions an index names."""
        found: list[tuple[int, dict[str, Any]]] = []
        for request_id, partition in where:
            state = self.partitions[partition].get(request_id.encode())
            if state is not None:
                found.append((partition, state))
        return found

    def blocked(self, subjects: Mapping[str, int]) -> dict[str, dict[str, str]]:
        """Subjects in ``subjects`` whose records must not reach every output, and why."""
        if not self.gating:
            return {}
        return gates(state for subject in subjects for state in self.gating.get(subject, {}).values())
