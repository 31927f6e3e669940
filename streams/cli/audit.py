"""`lethe audit --customer ID`: one data subject's story, read from the subject's partition only.

Every topic Lethe writes about a subject is keyed by (or explicitly written to the partition of) the
subject's customer_id, so the story is in one partition of each: the policy's sources (events
received), privacy.audit.v1, the commands topics and acks, the sharing ledger and the
retention-timers changelog. The DLQ keys a subject's dead letters by a reference derived from its
secret (docs/dlq.md), which the subject's partition of the secrets changelog gives first: once the
subject is erased, its dead letters are no longer part of its story, or of anyone's. Each is read
to its end offset observed at start, however long that takes
(streams/client.py ``read_to_end``); what is printed is the subject's only, ordered by processors/story.py.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from processors.dlq import letter_key
from processors.errors import InvalidRecord, LetheError
from processors.plan import get_path
from processors.story import (
    Entry,
    ack_entry,
    audit_entry,
    command_entry,
    dead_letter_entry,
    deadline_entry,
    event_entry,
    json_lines,
    share_entry,
    story,
    table,
)
from streams.cli.common import _bootstrap
from streams.client import Record, partition_counts, read_to_end, subject_partition
from streams.settings import Settings
from streams.state.secrets import changelog_topic
from streams.text import plural

Reader = Callable[[Record], Iterator[Entry]]


def cmd_audit(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    bootstrap = _bootstrap()
    subject = args.customer
    story_of = SubjectStory(settings, subject)
    counts = partition_counts(bootstrap, story_of.readers)
    audit_topic = settings.topics.name("privacy.audit.v1")
    if audit_topic not in counts:
        raise LetheError(f"topic {audit_topic} does not exist: is LETHE_TOPIC_PREFIX right, and has a worker run "
                         "on this cluster (it creates its topics at start)?")
    key = subject.encode()
    wanted = [(topic, subject_partition(key, count)) for topic, count in counts.items()]
    dlq = settings.topics.dlq
    if dlq in counts:   # the subject's dead letters are keyed by a reference to its secret (docs/dlq.md)
        story_of.letter_keys = letter_keys(bootstrap, changelog_topic(settings), key)
        wanted += sorted({(dlq, subject_partition(k, counts[dlq])) for k in story_of.letter_keys} - set(wanted))
    entries = story(story_of.entries(read_to_end(bootstrap, wanted)))
    partitions = sorted({partition for _, partition in wanted})
    where = (f"partition {partitions[0]}" if len(partitions) == 1
             else f"partitions {', '.join(map(str, partitions))}")
    print(f"lethe: {plural(len(entries), 'entry', 'entries')} about customer {subject} in {where} of "
          f"{plural(len(wanted), 'topic')}, read to their end", file=sys.stderr)
    if story_of.unreadable:
        print(f"lethe: {plural(story_of.unreadable, 'record')} of the subject could not be read (not JSON) "
              "and are left out", file=sys.stderr)
    if not entries:
        print(f"lethe: nothing about customer {subject}: check the id (it is the key upstream services publish "
              "with) and LETHE_TOPIC_PREFIX", file=sys.stderr)
        return 1
    print("\n".join(json_lines(entries) if args.json else table(entries)), flush=True)
    return 0


def letter_keys(bootstrap: str, secrets_topic: str, key: bytes) -> set[bytes]:
    """The dlq.v1 keys of the subject's dead letters: one per secret it holds now (none once erased)."""
    counts = partition_counts(bootstrap, [secrets_topic])
    if secrets_topic not in counts:
        return set()
    latest: bytes | None = None
    for record in read_to_end(bootstrap, [(secrets_topic, subject_partition(key, counts[secrets_topic]))]):
        if record.key == key:
            latest = record.value
    return set() if latest is None else {letter_key(latest)}


class SubjectStory:
    """What each topic of the story contributes about one subject, and nothing about any other."""

    def __init__(self, settings: Settings, subject: str) -> None:
        from processors.decode import Decoder
        from processors.policy import load_policy
        from processors.schemas import SchemaCatalog
        from processors.sharing import commands_topic
        from streams.state.timers import timers_topic

        self.subject, self.key = subject, subject.encode()
        self.letter_keys: set[bytes] = set()   # its dead letters' keys, found by cmd_audit
        self.unreadable = 0
        name = settings.topics.name
        policy = load_policy(settings.policy_path)
        catalog = SchemaCatalog.load(settings.schemas_dir)
        self.readers: dict[str, Reader] = {}
        for topic, source in policy.sources.items():
            if source.subject is None:
                continue   # events without a data subject
            decoder = Decoder(catalog.for_topic(source.schema_name), catalog.by_fingerprint.get)
            self.readers[name(topic)] = self._events(source, decoder)
        self.readers[name("privacy.audit.v1")] = self._json(lambda value, topic: (
            [audit_entry(value, topic)] if value.get("subject") == subject else []))
        for topic in ["lifecycle.commands.v1", *(commands_topic(partner) for partner in policy.partners)]:
            self.readers[name(topic)] = self._json(self._command)
        self.readers[name("lifecycle.acks.v1")] = self._acks
        self.readers[name("privacy.sharing.v1")] = self._json(lambda value, topic: (
            [share_entry(value, topic)] if value.get("subject") == subject else []))
        self.readers[settings.topics.dlq] = self._dead_letters
        self.readers[timers_topic(settings)] = self._deadlines
        self._ack_entries = self._json(lambda ack, topic: [ack_entry(ack, topic)])
        self.commands: set[str] = set()
        self.acks: list[Entry] = []

    def entries(self, records: Iterator[Record]) -> Iterator[Entry]:
        for record in records:
            yield from self.readers[record.topic](record)
        # an ack is the subject's if its command is (acks carry the command id, read in any order)
        yield from (ack for ack in self.acks if ack.ref in self.commands)

    def _json(self, entry: Callable[[dict[str, Any], str], list[Entry]]) -> Reader:
        """A reader of JSON records; ``entry`` keeps the subject's (by the record's subject field: the
        ledger's key is subject|partner|category)."""
        def read(record: Record) -> Iterator[Entry]:
            if record.value is None:
                return
            try:
                value = orjson.loads(record.value)
                yield from entry(value, record.topic)
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                self.unreadable += 1
        return read

    def _events(self, source: Any, decoder: Any) -> Reader:
        def read(record: Record) -> Iterator[Entry]:
            if record.key != self.key:
                return
            try:
                event = decoder.decode(record.value)
            except InvalidRecord:
                return   # dead-lettered: its DLQ entry tells why
            if get_path(event, source.subject) == self.subject:
                yield event_entry(source, event, record.topic)
        return read

    def _command(self, command: dict[str, Any], topic: str) -> list[Entry]:
        if command.get("subject") != self.subject:
            return []
        self.commands.add(command["command_id"])
        return [command_entry(command, topic)]

    def _acks(self, record: Record) -> Iterator[Entry]:
        """An ack names its command, not its subject: kept until the subject's commands are all read."""
        if record.key == self.key:   # acked on the command's key and partition
            self.acks += self._ack_entries(record)
        yield from ()

    def _dead_letters(self, record: Record) -> Iterator[Entry]:
        if record.key in self.letter_keys or record.key == self.key:   # or keyed by its id (before letter_key)
            yield dead_letter_entry(record.headers, record.topic, (record.timestamp or 0) / 1000)

    def _deadlines(self, record: Record) -> Iterator[Entry]:
        if record.value is None or record.key is None:
            return   # a fired or cancelled deadline: its command (or audit) says so
        try:
            timer = orjson.loads(record.value)
            if timer[3] == self.subject:
                yield deadline_entry(record.key.decode(), timer, (record.timestamp or 0) / 1000, record.topic)
        except (orjson.JSONDecodeError, IndexError, TypeError, ValueError):
            self.unreadable += 1
