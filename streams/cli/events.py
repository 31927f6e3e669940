"""`lethe publish` and `lethe consume`: JSON (or Avro) events in and out of a topic."""

from __future__ import annotations

import argparse
import io
import json
import sys
from typing import Any

from processors.errors import LetheError
from streams.cli.common import _bootstrap, _read_events
from streams.exceptions import UsageError
from streams.settings import Settings
from streams.text import plural
from streams.topics import input_topics


def cmd_publish(args: argparse.Namespace) -> int:
    from processors.sample import Traffic, load_example
    from streams.client import publish

    settings = Settings.from_env()
    inputs = input_topics(settings) if not args.any_topic else []
    if args.topic not in inputs and not args.any_topic:
        raise UsageError(f"{args.topic} is not a Lethe input topic (one of {', '.join(inputs)}: the policy's "
                         "sources and Lethe's own inputs); pass --any-topic to publish to another topic")
    examples = settings.schemas_dir / "examples"
    if args.sample:
        events: list[Any] = []
        traffic = Traffic(examples, subjects=max(args.sample // 10, 1))
        for _ in range(args.sample):
            if args.topic == "orders.v1":
                events.append(traffic.order())
            elif args.topic == "logs.v1":
                events.append(traffic.log())
            else:
                raise UsageError("--sample makes orders.v1 and logs.v1 events only")
    elif args.example:
        if not (examples / f"{args.topic}.json").is_file():
            have = sorted(path.stem for path in examples.glob("*.json"))
            raise UsageError(f"no example event for {args.topic} in {examples} (examples exist for "
                             f"{', '.join(have)})")
        events = [load_example(args.topic, examples)]
    else:
        events = list(_read_events(args.files))
    bootstrap = _bootstrap()
    encode = _encoder(args.encoding, settings, args.topic)
    topic = settings.topics.name(args.topic)
    key_paths = _key_paths(args.key_field, settings, args.topic)
    records = []
    for event in events:
        key = next((value for value in (_at(event, path) for path in key_paths) if value is not None), None)
        records.append((topic, str(key).encode() if key is not None else None, encode(event)))
    count = publish(bootstrap, records)
    print(f"lethe: published {plural(count, 'record')} to {topic}", file=sys.stderr)
    return 0


def _key_paths(key_field: str | None, settings: Settings, topic: str) -> tuple[tuple[str, ...], ...]:
    """The dotted paths whose first non-null value keys each record: --key-field, else the subject path of
    the topic's source in the policy (so a source of your own is partitioned as the worker expects), else
    customer_id; then the session path (a record of no customer, e.g. a cookie-banner choice made before
    login, is keyed by its session, where the worker keeps that session's choice)."""
    if key_field:
        return (tuple(key_field.split(".")),)
    from processors.policy import load_policy

    declared = load_policy(settings.policy_path).sources.get(topic)
    subject = declared.subject if declared is not None and declared.subject else ("customer_id",)
    session = declared.session if declared is not None and declared.session else ("session_id",)
    return (subject, session)


def _at(event: Any, path: tuple[str, ...]) -> Any:
    """The value at ``path`` of an event, or None (a malformed event is published unkeyed, to be dead-lettered)."""
    for segment in path:
        event = event.get(segment) if isinstance(event, dict) else None
    return event


def _encoder(encoding: str, settings: Settings, topic: str) -> Any:
    if encoding == "json":
        return lambda event: json.dumps(event, ensure_ascii=False).encode()
    from fastavro import schemaless_writer

    from processors.decode import SINGLE_OBJECT_MAGIC
    from processors.policy import load_policy
    from processors.schemas import SchemaCatalog

    declared = load_policy(settings.policy_path).sources.get(topic)
    schema = SchemaCatalog.load(settings.schemas_dir).for_topic(declared.schema_name if declared else topic)

    def encode(event: Any) -> bytes:
        buffer = io.BytesIO()
        buffer.write(SINGLE_OBJECT_MAGIC + schema.fingerprint)
        try:
            schemaless_writer(buffer, schema.parsed, event)
        except (ValueError, TypeError, KeyError) as exc:
            raise LetheError(f"event does not fit the {topic} schema, cannot Avro-encode it "
                             f"({type(exc).__name__}); publish it as JSON to see the DLQ reason") from None
        return buffer.getvalue()
    return encode


def cmd_consume(args: argparse.Namespace) -> int:
    from streams.client import read

    settings = Settings.from_env()
    topic = settings.topics.name(args.topic)
    for record in read(_bootstrap(), [topic], expect=args.max, timeout=args.timeout):
        key = record.key.decode(errors="replace") if record.key else None
        value = record.value.decode(errors="replace") if record.value else None
        print(json.dumps({"partition": record.partition, "offset": record.offset, "key": key,
                          "headers": {k: v.decode(errors="replace") for k, v in record.headers.items()},
                          "value": value}, ensure_ascii=False), flush=True)
    return 0
