"""`lethe dlq show|replay`: dead letters opened for an operator who holds the keys (docs/dlq.md).

Both read dlq.v1 and the subject-secrets changelog from their beginning to the end offsets observed
at start (streams/client.py ``read_to_end``), and open each dead letter with the master key
(LETHE_PSEUDONYM_KEY or the key file, as the worker has it) and its subject's secret. A subject
erased since has no secret: its dead letters stay shut. ``replay`` publishes each selected,
readable dead letter's original key and value to its source topic, then a marker on
dlq.replays.v1 keyed by the dead letter's topic, partition and offset, so a later replay skips it.
"""

from __future__ import annotations

import argparse
import base64
import sys
import time
from collections.abc import Iterator
from typing import Any

import orjson

from processors.dlq import Keyring, Opened, Selection, replay_id
from processors.errors import LetheError
from processors.retention.rules import parse_duration
from processors.time import iso, parse_time
from streams.cli.common import _bootstrap
from streams.client import Record, partition_counts, producer, read_to_end
from streams.settings import Settings
from streams.state.secrets import changelog_topic
from streams.text import plural

REPLAYS = "dlq.replays.v1"
SHOW = ("Print dead letters from dlq.v1 with their headers (source, rule, field path, reason, time) and "
        "their original key and value, opened with the master key (LETHE_PSEUDONYM_KEY or the worker's key "
        "file in LETHE_DATA_DIR) and the subject's secret. A dead letter of a subject erased since prints "
        "as unreadable. The output holds personal data: it is for the operator fixing the cause.")
REPLAY = ("Publish dead letters again to their source topic, with their original key and value, after the "
          "cause is fixed (a schema published, a producer corrected). Each dead letter is replayed once: a "
          "marker on dlq.replays.v1 remembers it. A record that fails again is dead-lettered again, as a "
          "new dead letter. Dead letters of erased subjects are skipped and counted.")
EXAMPLES = ("  lethe dlq show --rule enum --since 2h\n"
            "  lethe dlq show --json --limit 10\n"
            "  lethe dlq replay --rule enum --dry-run\n"
            "  lethe dlq replay --since 2026-12-01T00:00:00Z")


def add_parser(sub: Any) -> None:
    dlq = sub.add_parser("dlq", help="show dead letters decrypted, or replay them to their source topic after a fix",
                         description="Read the dead-letter topic dlq.v1, whose values are sealed (docs/dlq.md).",
                         epilog=f"examples:\n{EXAMPLES}")
    actions = dlq.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = actions.add_parser("show", help="print dead letters with their reason and their original record",
                              description=SHOW, epilog=f"examples:\n{EXAMPLES}")
    replay = actions.add_parser("replay", help="publish dead letters again to their source topic, each once",
                                description=REPLAY, epilog=f"examples:\n{EXAMPLES}")
    for parser in (show, replay):
        parser.add_argument("--rule", metavar="RULE", help="only dead letters of this rule (the rule header, "
                                                           "e.g. enum, required, json, max_size)")
        parser.add_argument("--since", metavar="TIME", type=_since,
                            help="only dead letters that failed at or after TIME: an RFC 3339 time "
                                 "(2026-12-01T00:00:00Z) or a duration ago (30m, 2h, 7d)")
    show.add_argument("--limit", type=int, metavar="N", help="print at most N dead letters")
    show.add_argument("--json", action="store_true",
                      help="JSON Lines: one object per dead letter (headers, sealed_with, readable, key, value)")
    show.set_defaults(func=cmd_dlq_show)
    replay.add_argument("--dry-run", action="store_true", help="count what would be replayed; publish nothing")
    replay.set_defaults(func=cmd_dlq_replay)


def _since(text: str) -> float:
    try:
        return time.time() - parse_duration(text)
    except ValueError:
        pass
    try:
        return parse_time(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give an RFC 3339 time (2026-12-01T00:00:00Z) or a "
                                         "duration ago (30m, 2h, 7d)") from None


class DeadLetterReader:
    """The dead letters of a deployment, opened with the keys the operator holds."""

    def __init__(self, settings: Settings, bootstrap: str) -> None:
        self.settings, self.bootstrap = settings, bootstrap
        self.topic = settings.topics.dlq
        counts = partition_counts(bootstrap, [self.topic, changelog_topic(settings)])
        if self.topic not in counts:
            raise LetheError(f"topic {self.topic} does not exist: is LETHE_TOPIC_PREFIX right, and has a worker run "
                             "on this cluster?")
        self.dlq_partitions = counts[self.topic]
        self.keyring = Keyring(settings.pseudonym_key.reveal(), self._secrets(counts.get(changelog_topic(settings))))

    def _secrets(self, partitions: int | None) -> dict[str, list[bytes]]:
        """Each subject's secrets as its changelog holds them now (a destroyed one is a tombstone)."""
        if partitions is None:
            return {}
        latest: dict[tuple[int, bytes], bytes | None] = {}
        topic = changelog_topic(self.settings)
        for record in read_to_end(self.bootstrap, [(topic, p) for p in range(partitions)]):
            if record.key is not None:
                latest[(record.partition, record.key)] = record.value
        secrets: dict[str, list[bytes]] = {}
        for (_, key), secret in latest.items():
            if secret is not None:
                secrets.setdefault(key.decode(errors="replace"), []).append(secret)
        return secrets

    def letters(self, selection: Selection) -> Iterator[tuple[Record, Opened]]:
        """The selected dead letters, in each partition's order, with what they hold."""
        opened_deployment = shut_deployment = 0
        for record in read_to_end(self.bootstrap, [(self.topic, p) for p in range(self.dlq_partitions)]):
            if not selection.takes(record.headers):
                continue
            opened = self.keyring.open(record.value, record.key, record.headers)
            if opened.sealed_with == "deployment":
                opened_deployment += opened.readable
                shut_deployment += not opened.readable
            yield record, opened
        if shut_deployment and not opened_deployment:
            raise LetheError(f"{plural(shut_deployment, 'dead letter')} sealed with the deployment key did not open "
                             f"with the master key from {self.settings.key_source}: set LETHE_PSEUDONYM_KEY (or "
                             "LETHE_DATA_DIR to the directory of the worker's key file) as the workers have it")


def cmd_dlq_show(args: argparse.Namespace) -> int:
    reader = DeadLetterReader(Settings.from_env(), _bootstrap())
    shown = unreadable = 0
    for record, opened in reader.letters(Selection(args.rule, args.since)):
        if args.limit is not None and shown >= args.limit:
            break
        shown += 1
        unreadable += not opened.readable
        print(_json_line(record, opened) if args.json else _text(record, opened), flush=True)
    erased = f" ({unreadable} unreadable: subject erased)" if unreadable else ""
    print(f"lethe: {plural(shown, 'dead letter')} on {reader.topic}{erased}", file=sys.stderr)
    return 0


def cmd_dlq_replay(args: argparse.Namespace) -> int:
    settings, bootstrap = Settings.from_env(), _bootstrap()
    reader = DeadLetterReader(settings, bootstrap)
    replays = settings.topics.name(REPLAYS)
    counts = partition_counts(bootstrap, [replays])
    if replays not in counts:
        raise LetheError(f"topic {replays} does not exist: create it with `lethe topics create`")
    done = {r.key.decode() for r in read_to_end(bootstrap, [(replays, p) for p in range(counts[replays])]) if r.key}
    todo: list[tuple[Record, Opened]] = []
    already = erased = 0
    for record, opened in reader.letters(Selection(args.rule, args.since)):
        if replay_id(record.topic, record.partition, record.offset) in done:
            already += 1
        elif not opened.readable:
            erased += 1
        else:
            todo.append((record, opened))
    if todo and not args.dry_run:
        _publish(bootstrap, replays, todo)
    verb = "would replay" if args.dry_run else "replayed"
    print(f"lethe: {verb} {plural(len(todo), 'dead letter')}; skipped {already} replayed before and "
          f"{erased} unreadable (subject erased)", file=sys.stderr)
    return 0


def _publish(bootstrap: str, replays: str, todo: list[tuple[Record, Opened]]) -> None:
    """The originals first, then their markers once the broker has them all: a crash in between
    replays some again on the next run (at-least-once), never marks one that was not published."""
    client = producer(bootstrap)
    try:
        sent = [client.send(r.headers["source_topic"].decode(), key=o.key, value=o.value) for r, o in todo]
        client.flush()
        for future in sent:
            future.get(timeout=30)
        now = iso(time.time())
        marks = [client.send(replays, key=replay_id(r.topic, r.partition, r.offset).encode(), value=orjson.dumps({
            "dlq_topic": r.topic, "dlq_partition": r.partition, "dlq_offset": r.offset,
            "source_topic": r.headers["source_topic"].decode(), "rule": r.headers.get("rule", b"").decode(),
            "replayed_at": now})) for r, _ in todo]
        client.flush()
        for future in marks:
            future.get(timeout=30)
    finally:
        client.close()


HEADERS = ("source_topic", "source_partition", "source_offset", "rule", "field_path", "reason", "failed_at",
           "encoding", "truncated_from_bytes")


def _text(record: Record, opened: Opened) -> str:
    h = {k: v.decode(errors="replace") for k, v in record.headers.items()}
    head = (f"{record.topic}[{record.partition}]@{record.offset}  {h.get('failed_at', '?')}  "
            f"{h.get('source_topic', '?')}[{h.get('source_partition', '?')}]@{h.get('source_offset', '?')}  "
            f"rule={h.get('rule', '?')}" + (f"  field={h['field_path']}" if "field_path" in h else "")
            + f"\n  reason: {h.get('reason', '')}")
    if not opened.readable:
        return f"{head}\n  unreadable (subject erased)"
    key = "(none)" if opened.key is None else opened.key.decode(errors="replace")
    value = "(null)" if opened.value is None else opened.value.decode(errors="replace")
    return f"{head}\n  key: {key}\n  value: {value}"


def _json_line(record: Record, opened: Opened) -> str:
    out: dict[str, Any] = {"dlq_topic": record.topic, "dlq_partition": record.partition, "dlq_offset": record.offset}
    out.update({name: record.headers[name].decode(errors="replace") for name in HEADERS if name in record.headers})
    out.update(sealed_with=opened.sealed_with, readable=opened.readable)
    if opened.readable:
        for name, raw in (("key", opened.key), ("value", opened.value)):
            try:
                out[name] = None if raw is None else raw.decode()
            except UnicodeDecodeError:   # not text: its bytes, in base64
                out[f"{name}_base64"] = base64.b64encode(raw or b"").decode()
    return orjson.dumps(out).decode()
