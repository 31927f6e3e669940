"""The ``lethe`` command line."""

from __future__ import annotations

import argparse
import io
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from processors.errors import LetheError
from streams.settings import Settings

if TYPE_CHECKING:
    from processors.inputs import Inputs

EPILOG = """environment:
  LETHE_BOOTSTRAP_SERVERS  Kafka host:port list; unset = start the embedded broker
  LETHE_STORE_URL          SQLAlchemy URL of Lethe's store (default sqlite:///.lethe/lethe.db)
  LETHE_METRICS_PORT       port of /metrics (default 9108; 0 = off)
  LETHE_POLICY             policy file (default deploy/policy.toml)
  LETHE_PSEUDONYM_KEY      hex master key for pseudonyms (default: a key file made in LETHE_DATA_DIR)
  LETHE_DATA_DIR           local state: key file, demo logs (default .lethe)
  LETHE_PARTITIONS         partitions per topic when Lethe creates them (default 4)
  see docs/configuration.md for the rest
"""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("kafka", "aiokafka"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        result: int = args.func(args)
        return result
    except LetheError as exc:
        print(f"lethe: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lethe", description="Enforce a privacy policy on Kafka event streams.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run a worker (starts the embedded broker if none is configured)",
                         epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.set_defaults(func=cmd_run)

    broker = sub.add_parser("broker", help="run the embedded Kafka-protocol broker in the foreground")
    broker.add_argument("--port", type=int, default=9092, help="port to listen on (default 9092; 0 = any free)")
    broker.set_defaults(func=cmd_broker)

    demo = sub.add_parser("demo", help="everything embedded: broker, worker, sample traffic, the result")
    demo.add_argument("--events", type=int, default=2000, help="sample events to publish (default 2000)")
    demo.add_argument("--subjects", type=int, default=50, help="distinct customers (default 50)")
    demo.add_argument("--keep-running", action="store_true",
                      help="keep the broker, worker, sink and store agent running afterwards, to file "
                           "requests against them (Ctrl-C stops)")
    demo.set_defaults(func=cmd_demo)

    publish = sub.add_parser("publish", help="publish JSON events to a topic, keyed by customer_id")
    publish.add_argument("topic", help="topic, e.g. orders.v1")
    publish.add_argument("files", nargs="*", type=Path,
                         help="files holding a JSON object, a JSON array or JSON lines (default stdin)")
    publish.add_argument("--example", action="store_true", help="publish the topic's schemas/examples/ event")
    publish.add_argument("--sample", type=int, metavar="N", help="publish N synthetic events instead")
    publish.add_argument("--encoding", choices=("json", "avro"), default="json",
                         help="json, or Avro single-object encoding (default json)")
    publish.add_argument("--key-field", default="customer_id", help="field whose value keys the record")
    publish.set_defaults(func=cmd_publish)

    consume = sub.add_parser("consume", help="print a topic's records from the beginning")
    consume.add_argument("topic")
    consume.add_argument("--max", type=int, default=None, help="stop after N records")
    consume.add_argument("--timeout", type=float, default=10.0, help="stop after S seconds (default 10)")
    consume.set_defaults(func=cmd_consume)

    agent = sub.add_parser("store-agent", help="apply lifecycle commands to the database at LETHE_STORE_URL")
    agent.add_argument("--mapping", type=Path, default=None,
                       help="mapping file: tables, subject/key columns, column categories "
                            "(default deploy/store-mapping.toml)")
    agent.set_defaults(func=cmd_store_agent)

    sink = sub.add_parser("sink", help="reference sink: materialize orders.v1 and logs.v1 into LETHE_STORE_URL")
    sink.add_argument("--name", default=None,
                      help="name of this sink, for one sink per database (its own consumer group); "
                           "default: the one shared group <app id>.sink")
    sink.set_defaults(func=cmd_sink)

    hold = sub.add_parser("hold", help="place or release a legal hold (suspends retention deletions)",
                          description="Publish a legal-hold event to legal-holds.v1. While a hold is in force, "
                                      "the subject's (or the one order's) retention deadlines are suspended; "
                                      "releasing it lets the overdue ones fire. Both are audited.")
    hold.add_argument("action", choices=("place", "release"))
    hold.add_argument("--customer", required=True, help="customer_id of the data subject")
    hold.add_argument("--order", default=None, help="hold only this order_id (default: all of the subject's data)")
    hold.add_argument("--case", default="", help="case reference for the audit (no personal data); "
                                                 "required to place")
    hold.add_argument("--hold-id", default=None, help="id of the hold (required to release; generated to place)")
    hold.set_defaults(func=cmd_hold)

    request = sub.add_parser(
        "request", help="file a data-subject request, or show one's status",
        description="File a rights request on privacy-requests.v1, or show a filed request's status.",
        epilog="examples:\n"
               "  lethe request erase --customer cust-8841\n"
               "  lethe request restrict --customer cust-8841\n"
               "  lethe request object --customer cust-8841 --detail purpose=analytics\n"
               "  lethe request request.json            (a JSON privacy-requests.v1 event)\n"
               "  lethe request status req-1a2b3c --wait 60\n"
               "  lethe request access --customer cust-8841 --out exports/   (files, waits, writes the export)\n"
               "  lethe request export req-1a2b3c --out exports/",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    request.add_argument("what", help="a request type (access, rectify, erase, restrict, object, portability, "
                                      "withdraw_consent, minor_flag), a JSON file, 'status' or 'export'")
    request.add_argument("request_id", nargs="?", help="with 'status' or 'export': the request id")
    request.add_argument("--out", type=Path, default=None, metavar="DIR",
                         help="with 'export' (or access/portability): write <request id>.json into DIR, "
                              "once every store has answered")
    request.add_argument("--customer", help="customer_id of the data subject")
    request.add_argument("--detail", action="append", default=[], metavar="NAME=VALUE",
                         help="a detail of the request (repeatable), e.g. purpose=analytics or action=lift")
    request.add_argument("--channel", default="internal", help="how the request reached you (default internal)")
    request.add_argument("--id", dest="new_id", help="request id (default: generated)")
    request.add_argument("--wait", type=float, default=0.0, metavar="S",
                         help="with 'status': wait up to S seconds for the request to complete")
    request.set_defaults(func=cmd_request)

    topics = sub.add_parser("topics", help="manage Lethe's topics")
    topics_sub = topics.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = topics_sub.add_parser("create", help="create every Lethe topic with LETHE_PARTITIONS partitions")
    create.set_defaults(func=cmd_topics_create)
    return parser


def cmd_run(args: argparse.Namespace) -> int:
    from streams.worker import run_worker

    return run_worker(Settings.from_env())


def cmd_broker(args: argparse.Namespace) -> int:
    from streams.broker import EmbeddedBroker, free_port

    broker = EmbeddedBroker(port=args.port or free_port()).start()
    print(f"lethe: embedded broker listening on {broker.bootstrap} (memory only; Ctrl-C stops it)", flush=True)
    print(f"  export LETHE_BOOTSTRAP_SERVERS={broker.bootstrap}", flush=True)
    import signal

    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        return broker.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        broker.stop()


def _bootstrap() -> str:
    settings = Settings.from_env()
    if settings.bootstrap_servers is None:
        raise LetheError("set LETHE_BOOTSTRAP_SERVERS (e.g. the address `lethe broker` prints)")
    return settings.bootstrap_servers


def cmd_publish(args: argparse.Namespace) -> int:
    from processors.sample import Traffic, load_example
    from streams.client import publish

    settings = Settings.from_env()
    bootstrap = _bootstrap()
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
                raise LetheError("--sample is available for orders.v1 and logs.v1")
    elif args.example:
        events = [load_example(args.topic, examples)]
    else:
        events = list(_read_events(args.files))
    encode = _encoder(args.encoding, settings, args.topic)
    topic = settings.topics.name(args.topic)
    records = []
    for event in events:
        key = event.get(args.key_field) if isinstance(event, dict) else None
        records.append((topic, str(key).encode() if key is not None else None, encode(event)))
    count = publish(bootstrap, records)
    print(f"lethe: published {count} record(s) to {topic}", file=sys.stderr)
    return 0


def _encoder(encoding: str, settings: Settings, topic: str) -> Any:
    if encoding == "json":
        return lambda event: json.dumps(event, ensure_ascii=False).encode()
    from fastavro import schemaless_writer

    from processors.decode import SINGLE_OBJECT_MAGIC
    from processors.schemas import SchemaCatalog

    schema = SchemaCatalog.load(settings.schemas_dir).for_topic(topic)

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


def _read_events(files: list[Path]) -> Iterator[Any]:
    sources = [(str(f), f.read_text(encoding="utf-8")) for f in files] or [("stdin", sys.stdin.read())]
    for name, text in sources:
        stripped = text.strip()
        if not stripped:
            continue
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError:
            try:
                data = [json.loads(line) for line in stripped.splitlines() if line.strip()]
            except json.JSONDecodeError as exc:
                raise LetheError(f"{name}: neither JSON nor JSON lines (line {exc.lineno})") from None
        yield from data if isinstance(data, list) else [data]


def cmd_hold(args: argparse.Namespace) -> int:
    import uuid
    from datetime import UTC, datetime

    from processors.errors import InvalidRecord
    from streams.client import publish

    if args.action == "release" and not args.hold_id:
        raise LetheError("releasing needs --hold-id (the id printed when the hold was placed)")
    if args.action == "place" and not args.case:
        raise LetheError("placing a hold needs --case (the case reference the audit will show)")
    event = {"hold_id": args.hold_id or f"hold-{uuid.uuid4().hex[:12]}", "action": args.action,
             "occurred_at": datetime.now(UTC).isoformat(), "customer_id": args.customer,
             "order_id": args.order, "case_ref": args.case or "release"}
    value = json.dumps(event).encode()
    settings = Settings.from_env()
    try:
        _inputs(settings).hold(value)
    except InvalidRecord as exc:
        raise LetheError(f"not a valid hold: {exc}") from None
    topic = settings.topics.name("legal-holds.v1")
    publish(_bootstrap(), [(topic, args.customer.encode(), value)])
    print(f"lethe: hold {event['hold_id']} {'placed' if args.action == 'place' else 'released'} "
          f"({'order' if args.order else 'subject'} scope) on {topic}")
    return 0


def _inputs(settings: Settings) -> Inputs:
    """The decoders of the inputs the CLI publishes to, as the worker will read them."""
    from processors.inputs import Inputs
    from processors.schemas import SchemaCatalog

    return Inputs(SchemaCatalog.load(settings.schemas_dir))


def cmd_request(args: argparse.Namespace) -> int:
    import time
    import uuid
    from datetime import UTC, datetime

    from processors.errors import InvalidRecord
    from processors.rights import REQUEST_TYPES
    from streams.client import publish

    settings = Settings.from_env()
    if args.what == "status":
        if not args.request_id:
            raise LetheError("usage: lethe request status REQUEST_ID")
        from streams.requests import read_request_state

        deadline = time.monotonic() + args.wait
        while True:
            state = read_request_state(_bootstrap(), settings, args.request_id)
            if state is not None and (state["status"] in ("completed", "failed") or time.monotonic() >= deadline):
                break
            if state is None and time.monotonic() >= deadline:
                raise LetheError(f"no request {args.request_id} is known yet (is a worker running?)")
            time.sleep(1.0)
        print(json.dumps(_status_view(state), indent=2))
        return 0 if state["status"] != "failed" else 1
    if args.what == "export":
        if not args.request_id or args.out is None:
            raise LetheError("usage: lethe request export REQUEST_ID --out DIR")
        return _write_export(settings, args.request_id, args.out, args.wait)
    if args.what in REQUEST_TYPES:
        if not args.customer:
            raise LetheError(f"a {args.what} request needs --customer CUSTOMER_ID")
        details = {}
        for item in args.detail:
            name, sep, value = item.partition("=")
            if not sep or not name:
                raise LetheError("--detail takes NAME=VALUE (e.g. purpose=analytics)")   # no echo: it may be personal
            details[name] = value
        event: Any = {"request_id": args.new_id or f"req-{uuid.uuid4().hex[:12]}",
                      "occurred_at": datetime.now(UTC).isoformat(), "customer_id": args.customer,
                      "type": args.what, "details": details, "channel": args.channel}
    else:
        path = Path(args.what)
        if not path.is_file():
            raise LetheError(f"{args.what!r} is neither a request type ({', '.join(REQUEST_TYPES)}), "
                             "'status', nor a JSON file")
        events = list(_read_events([path]))
        if len(events) != 1:
            raise LetheError(f"{path}: holds {len(events)} events; file one request at a time")
        event = events[0]
    value = json.dumps(event).encode()
    try:
        request = _inputs(settings).request(value)
    except InvalidRecord as exc:
        raise LetheError(f"not a valid request: {exc}") from None
    topic = settings.topics.name("privacy-requests.v1")
    publish(_bootstrap(), [(topic, request.subject.encode(), value)])
    print(f"lethe: {request.type} request {request.request_id} filed on {topic}; "
          f"follow it with: lethe request status {request.request_id}")
    if request.type in ("access", "portability") and args.out is not None:
        return _write_export(settings, request.request_id, args.out, max(args.wait, 120.0))
    return 0


def _write_export(settings: Settings, request_id: str, out: Path, wait: float) -> int:
    """Assemble an access export from privacy.exports.v1 once the request is complete, and audit it."""
    import time
    from datetime import UTC, datetime

    from processors.records import audit_record
    from streams.client import publish, read
    from streams.requests import read_request_state

    bootstrap = _bootstrap()
    deadline = time.monotonic() + wait
    while True:
        state = read_request_state(bootstrap, settings, request_id)
        if state is not None and state["type"] not in ("access", "portability"):
            raise LetheError(f"request {request_id} is a {state['type']} request; only access and portability "
                             "requests have an export")
        if state is not None and state["status"] == "completed":
            break
        if time.monotonic() >= deadline:
            status = "unknown (is a worker running?)" if state is None else state["status"]
            raise LetheError(f"request {request_id} is not complete yet (status {status}); "
                             "retry later or pass --wait SECONDS")
        print(f"lethe: waiting for every store to answer request {request_id} ...", file=sys.stderr, flush=True)
        time.sleep(2.0)
    document: dict[str, Any] = {"format": "lethe.export.v1", "request_id": request_id, "type": state["type"],
                                "subject": state["subject"], "generated_at": datetime.now(UTC).isoformat(),
                                "lethe": None, "stores": {}}
    # a repeated part (a retried command) replaces the earlier one: keyed by source, family, chunk
    pieces: dict[tuple[str, str | None], dict[int, Any]] = {}
    for record in read(bootstrap, [settings.topics.name("privacy.exports.v1")], timeout=60, idle=1.5):
        part = json.loads(record.value or b"{}")
        if part.get("request_id") == request_id:
            pieces.setdefault((part["source"], part["family"]), {})[part.get("chunk", 0)] = json.loads(part["document"])
    parts = sum(len(chunks) for chunks in pieces.values())
    for (source, family), chunks in sorted(pieces.items(), key=lambda item: (item[0][0], item[0][1] or "")):
        ordered = [chunks[n] for n in sorted(chunks)]
        if source == "lethe":
            lethe_part = ordered[0]
            for more in ordered[1:]:
                lethe_part["pending_deadlines"] += more["pending_deadlines"]
            document["lethe"] = lethe_part
        else:
            document["stores"].setdefault(source, {})[family] = [row for rows in ordered for row in rows]
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{request_id}.json"
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
    path.chmod(0o600)
    audit = audit_record("export_written", state["subject"], time.time(), f"{request_id}:written",
                         rule=f"request.{state['type']}", request_id=request_id,
                         details={"file": path.name, "parts": str(parts), "stores": ",".join(document["stores"])})
    publish(bootstrap, [(settings.topics.name("privacy.audit.v1"), state["subject"].encode(),
                         json.dumps(audit).encode())])
    print(f"lethe: export of request {request_id} written to {path} ({parts} parts)")
    return 0


def _status_view(state: dict[str, Any]) -> dict[str, Any]:
    return {key: state[key] for key in ("request_id", "type", "status", "received_at", "due_at", "completed_at",
                                        "stores", "retries", "reason", "export") if key in state} | {
        "acks": state.get("acks", {})}


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


def cmd_store_agent(args: argparse.Namespace) -> int:
    from streams.settings import REPO_ROOT
    from streams.store.agent import run_store_agent

    return run_store_agent(Settings.from_env(), args.mapping or REPO_ROOT / "deploy" / "store-mapping.toml")


def cmd_sink(args: argparse.Namespace) -> int:
    from streams.store.sink import run_sink

    return run_sink(Settings.from_env(), args.name)


def cmd_topics_create(args: argparse.Namespace) -> int:
    from streams.topics import provision

    settings = Settings.from_env()
    created, existing = provision(settings, _bootstrap())
    print(f"lethe: {len(created)} topic(s) created, {len(existing)} already existed "
          f"({len(created) + len(existing)} in all)")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from streams.demo import run_demo

    return run_demo(Settings.from_env(), events=args.events, subjects=args.subjects,
                    keep_running=args.keep_running)


if __name__ == "__main__":
    sys.exit(main())
