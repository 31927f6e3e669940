"""The ``lethe`` command line."""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from pathlib import Path

from processors.errors import LetheError
from processors.exports import FORMATS
from streams.cli.audit import cmd_audit
from streams.cli.discover import cmd_discover
from streams.cli.dlq import add_parser as add_dlq_parser
from streams.cli.events import cmd_consume, cmd_publish
from streams.cli.helptext import describe
from streams.cli.policy import cmd_policy_check, cmd_policy_explain
from streams.cli.processes import cmd_broker, cmd_demo, cmd_run, cmd_sink, cmd_store_agent, cmd_topics_create
from streams.cli.request_list import STATUS_CHOICES
from streams.cli.rights import cmd_hold, cmd_request
from streams.cli.schemas import cmd_schemas
from streams.logs import quiet_libraries, set_verbose
from streams.settings import MAX_PROCESSES

EPILOG = """environment:
  LETHE_BOOTSTRAP_SERVERS  Kafka host:port list; unset = start the embedded broker
  LETHE_STORE_URL          SQLAlchemy URL of Lethe's store (default sqlite:///.lethe/lethe.db)
  LETHE_METRICS_PORT       port of /metrics, /healthz and /readyz (default 9108; 0 = off)
  LETHE_POLICY             policy file (default deploy/policy.toml)
  LETHE_PSEUDONYM_KEY      hex master key for pseudonyms (default: a key file made in LETHE_DATA_DIR)
  LETHE_DATA_DIR           local state: key file, demo logs (default .lethe)
  LETHE_PARTITIONS         partitions of every Lethe topic (default 4; a worker refuses other counts)
  LETHE_PROCESSES          worker processes of `lethe run` (default 1; as --processes)
  see docs/configuration.md for the rest
"""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    set_verbose(args.verbose)
    quiet_libraries()   # client-library logs only with --verbose (streams/logs.py)
    try:
        result: int = args.func(args)
        return result
    except LetheError as exc:
        if args.verbose:   # the details: where it was raised, and the underlying error it came from
            traceback.print_exception(exc, file=sys.stderr)
        print(f"lethe: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _processes(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_PROCESSES:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number of worker processes from 1 to {MAX_PROCESSES}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lethe", description="Enforce a privacy policy on Kafka event streams.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verbose", action="store_true",
                        help="show the details: the Kafka client libraries' logs, and with an error its "
                             "traceback and underlying exception (give it before the command: "
                             "lethe --verbose run)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run a worker (starts the embedded broker if none is configured)",
                         epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("--processes", type=_processes, default=None, metavar="N",
                     help="run N worker processes in one consumer group on this machine, supervised "
                          f"(1..{MAX_PROCESSES}; default LETHE_PROCESSES, else 1): one per core")
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

    publish = sub.add_parser("publish", help="publish JSON events to a topic, keyed by the subject's id")
    publish.add_argument("topic", help="topic, e.g. orders.v1")
    publish.add_argument("files", nargs="*", type=Path,
                         help="files holding a JSON object, a JSON array or JSON lines (default stdin)")
    publish.add_argument("--example", action="store_true", help="publish the topic's schemas/examples/ event")
    publish.add_argument("--sample", type=int, metavar="N", help="publish N synthetic events instead")
    publish.add_argument("--encoding", choices=("json", "avro"), default="json",
                         help="json, or Avro single-object encoding (default json)")
    publish.add_argument("--any-topic", action="store_true",
                         help="allow a topic that is not one of Lethe's input topics (nothing will process it)")
    publish.add_argument("--key-field", default=None,
                         help="dotted path whose value keys the record (default: the subject path the policy "
                              "declares for the topic's source, else customer_id)")
    publish.set_defaults(func=cmd_publish)

    consume = sub.add_parser("consume", help="print a topic's records from the beginning")
    consume.add_argument("topic")
    consume.add_argument("--max", type=int, default=None, help="stop after N records")
    consume.add_argument("--timeout", type=float, default=10.0, help="stop after S seconds (default 10)")
    consume.set_defaults(func=cmd_consume)

    discover = sub.add_parser("discover",
                              help="sample a topic or JSON-lines file; propose its schema and policy stanza")
    discover.add_argument("topic", nargs="?", help="topic to sample from the beginning (or, with --file, the name "
                                                   "to give the proposal)")
    discover.add_argument("--file", type=Path, default=None, metavar="FILE.jsonl",
                          help="sample JSON lines (or a JSON array) from this file instead of a topic")
    discover.add_argument("--max-records", type=int, default=1000, metavar="N",
                          help="stop after N records (default 1000)")
    discover.add_argument("--max-seconds", type=float, default=30.0, metavar="S",
                          help="stop after S seconds (default 30)")
    discover.add_argument("--out", type=Path, default=None, metavar="DIR",
                          help="write <topic>.avsc and <topic>.policy.toml here (default LETHE_SCHEMAS_DIR)")
    discover.add_argument("--name", default=None, metavar="TOPIC",
                          help="the topic name for the proposal (default: TOPIC, or the file's name)")
    discover.add_argument("--force", action="store_true", help="overwrite existing files")
    discover.set_defaults(func=cmd_discover)

    schemas = sub.add_parser("schemas", help="check the policy's sources; write each output's derived Avro schema")
    schemas.add_argument("--out", type=Path, default=None, metavar="DIR",
                         help="write <output>.avsc here (default LETHE_SCHEMAS_DIR)")
    schemas.add_argument("--force", action="store_true", help="overwrite a file that differs from the derivation")
    schemas.set_defaults(func=cmd_schemas)

    policy = sub.add_parser("policy", help="check a policy file, or show what it does to an event (no broker needed)")
    policy_sub = policy.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = policy_sub.add_parser("check",
                                  help="check a policy file as a worker's start-up does; every problem at once")
    check.add_argument("file", nargs="?", type=Path, metavar="FILE",
                       help="the policy file (default LETHE_POLICY, else deploy/policy.toml)")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.set_defaults(func=cmd_policy_check)
    explain = policy_sub.add_parser("explain", help="show what the policy does to one event, output by output")
    explain.add_argument("--topic", required=True, metavar="TOPIC", help="the event's source topic, e.g. orders.v1")
    explain.add_argument("event", nargs="?", type=Path, metavar="EVENT_FILE",
                         help="a file holding the JSON event (default the topic's example, "
                              "schemas/examples/TOPIC.json)")
    explain.add_argument("--index", type=int, default=1, metavar="N",
                         help="with a file of several events (a JSON array or JSON lines): the Nth (default 1)")
    explain.add_argument("--policy", type=Path, default=None, metavar="FILE",
                         help="the policy file (default LETHE_POLICY, else deploy/policy.toml)")
    explain.add_argument("--json", action="store_true", help="print the explanation as JSON")
    explain.set_defaults(func=cmd_policy_explain)

    agent = sub.add_parser("store-agent", help="apply lifecycle commands to the database at LETHE_STORE_URL")
    agent.add_argument("--mapping", type=Path, default=None,
                       help="mapping file: tables, subject/key columns, column categories "
                            "(default deploy/store-mapping.toml)")
    agent.add_argument("--commands-topic", default="lifecycle.commands.v1", metavar="TOPIC",
                       help="the commands topic to apply (a partner's agent: partners.<name>.commands.v1; "
                            "default lifecycle.commands.v1)")
    agent.add_argument("--name", default=None, metavar="STORE",
                       help="the store name its acks carry (default the mapping's 'store'; a partner's agent: "
                            "the partner's store, partner.<name> unless its policy entry says otherwise)")
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
        "request", help="file a data-subject request, list requests, show one's status or write its export",
        description="File a rights request on privacy-requests.v1, list the requests the workers track (due "
                    "dates, which store or partner has not acked), show a filed request's status, or write "
                    "the export of an access or portability request.",
        epilog="examples:\n"
               "  lethe request erase --customer cust-8841\n"
               "  lethe request restrict --customer cust-8841\n"
               "  lethe request object --customer cust-8841 --detail purpose=analytics\n"
               "  lethe request request.json            (a JSON privacy-requests.v1 event)\n"
               "  lethe request status req-1a2b3c --wait 60\n"
               "  lethe request list --status overdue      (what each is waiting for)\n"
               "  lethe request list --status open --type erase --json\n"
               "  lethe request access --customer cust-8841 --out .lethe/exports/   (files, waits, writes the export)\n"
               "  lethe request export req-1a2b3c --out .lethe/exports/",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    request.add_argument("what", help="a request type (access, rectify, erase, restrict, object, portability, "
                                      "withdraw_consent, minor_flag), a JSON file, 'status', 'list' or 'export'")
    request.add_argument("request_id", nargs="?", help="with 'status' or 'export': the request id")
    request.add_argument("--out", type=Path, default=None, metavar="DIR",
                         help="with 'export' (or access/portability): write <request id>.json into DIR, "
                              "once every store has answered")
    request.add_argument("--customer", help="customer_id of the data subject (with 'list': only that subject's)")
    request.add_argument("--detail", action="append", default=[], metavar="NAME=VALUE",
                         help="a detail of the request (repeatable), e.g. purpose=analytics or action=lift")
    request.add_argument("--channel", default="internal", help="how the request reached you (default internal)")
    request.add_argument("--format", choices=FORMATS, default=None,
                         help="with 'export' (or access/portability --out): json writes <request id>.json, csv one "
                              "CSV file per table into DIR/<request id>/ (portability only), both does both "
                              "(default: both for portability, json for access)")
    request.add_argument("--id", dest="new_id", help="request id (default: generated)")
    request.add_argument("--wait", type=float, default=0.0, metavar="S",
                         help="with 'status' or 'export': wait up to S seconds for the request to complete")
    request.add_argument("--status", choices=STATUS_CHOICES, default=None,
                         help="with 'list': open (received, in progress or overdue), overdue (past the due date), "
                              "completed or failed (default: all)")
    request.add_argument("--type", default=None, metavar="TYPE", help="with 'list': requests of this type only")
    request.add_argument("--json", action="store_true",
                         help="with 'list': a JSON array of objects (request_id, type, status, received_at, due_at, "
                              "seconds_to_due, completed_at, waiting_for) instead of a table")
    request.set_defaults(func=cmd_request)

    audit = sub.add_parser("audit", help="one data subject's story in time order, from the subject's partition")
    audit.add_argument("--customer", required=True, metavar="ID", help="customer_id of the data subject")
    audit.add_argument("--json", action="store_true",
                       help="JSON Lines (one object per entry: at, kind, action, ref, source, details) "
                            "instead of a table")
    audit.set_defaults(func=cmd_audit)

    add_dlq_parser(sub)   # lethe dlq show|replay (streams/cli/dlq.py)

    topics = sub.add_parser("topics", help="manage Lethe's topics")
    topics_sub = topics.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = topics_sub.add_parser("create", help="create every Lethe topic with LETHE_PARTITIONS partitions")
    create.add_argument("--allow-partition-mismatch", action="store_true",
                        help="only warn when an existing Lethe topic has another partition count than "
                             "LETHE_PARTITIONS (default: refuse)")
    create.set_defaults(func=cmd_topics_create)
    return describe(parser)   # every subcommand's description and examples (streams/cli/helptext.py)
