"""What each ``lethe`` subcommand does, with an example: the text of its ``--help``.

Kept apart from the options (``build_parser``) and applied to the parser it builds, so that every
subcommand, nested ones too (``topics create``), has a description and examples.
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Iterator

# command path -> (description, examples); a command's own description or examples, set where it is
# built, are kept
HELP: dict[str, tuple[str, str]] = {
    "run": (
        "Run a worker: consume orders.v1, logs.v1 and the privacy topics, tag and anonymize each record "
        "under the policy,\nproduce the anonymized outputs, dead-letter invalid records to dlq.v1, fire "
        "retention deadlines and act on\nrights requests. Without LETHE_BOOTSTRAP_SERVERS it starts the "
        "embedded broker. SIGTERM or Ctrl-C stops it\nafter committing what it processed.",
        "  lethe run                                              # embedded broker, SQLite\n"
        "  LETHE_BOOTSTRAP_SERVERS=127.0.0.1:9092 lethe run       # a broker of your own\n"
        "  lethe run --processes 2     # two worker processes, supervised; /metrics on 9109 and 9110"),
    "broker": (
        "Run the embedded Kafka-protocol broker in the foreground, for a local session or tests. It "
        "serves /metrics,\n/healthz and /readyz on LETHE_METRICS_PORT like every Lethe process: give it "
        "a port of its own (a worker\nwants 9108). SIGTERM or Ctrl-C stops it.",
        "  LETHE_METRICS_PORT=9107 lethe broker --port 9092\n"
        "  export LETHE_BOOTSTRAP_SERVERS=127.0.0.1:9092          # then, in another terminal"),
    "demo": (
        "Everything embedded in one command: a broker, a worker, the reference sink and a store agent; "
        "publishes sample\ntraffic with some malformed records and shows a record before and after, the "
        "dead-lettered ones with their\nreason, and the worker's counters. Logs go to LETHE_DATA_DIR "
        "(demo-worker.log, demo-sink.log, demo-store-agent.log).\nCtrl-C or SIGTERM stops it and its "
        "processes.",
        "  lethe demo\n"
        "  lethe demo --events 300 --subjects 10\n"
        "  lethe demo --keep-running                              # then file requests in another terminal"),
    "publish": (
        "Publish JSON events (an object, an array or JSON lines; from files or stdin) to a topic, keyed by "
        "a field\n(customer_id by default), as an upstream producer would.",
        "  lethe publish orders.v1 order.json\n"
        "  lethe publish orders.v1 --example                      # the schema's example event\n"
        "  lethe publish logs.v1 --sample 100                     # synthetic events"),
    "consume": (
        "Print a topic's records from the beginning, one JSON object a line with key, partition, offset "
        "and headers;\nstops after --max records or --timeout seconds.",
        "  lethe consume orders.anonymized.v1 --max 5\n"
        "  lethe consume dlq.v1 --timeout 3                       # what was dead-lettered, and why\n"
        "  lethe consume privacy.audit.v1                         # the audit trail"),
    "discover": (
        "Sample a topic from the beginning (or a JSON-lines file) and propose what Lethe needs to process it: an "
        "Avro schema\n<out>/<topic>.avsc with a data category, format and scan attribute on every personal field, "
        "and <out>/<topic>.policy.toml\nwith the [sources] stanza and a suggested anonymized output. It prints a "
        "report per field path (type, category,\nformat, confidence, reasons); a field it cannot decide gets a "
        "conservative category and a \"review\" note. It never\nprints a field's value and registers nothing: "
        "review the files, then commit them and paste the stanza into your\npolicy.",
        "  lethe discover orders.v1 --out proposals/\n"
        "  lethe discover loyalty.v1 --max-records 5000 --max-seconds 60 --out schemas/\n"
        "  lethe discover --file tickets.jsonl --name support-tickets.v1 --out proposals/"),
    "schemas": (
        "Check the policy's sources against their schemas (every declared path, category and strategy), as a "
        "worker's\nstart-up does but without a broker, and write each output's Avro schema, derived from its "
        "source's, as\n<out>/<output>.avsc for the consumers of Avro output. A file that differs from the derivation "
        "is kept unless --force.",
        "  lethe schemas\n"
        "  LETHE_POLICY=my-policy.toml LETHE_SCHEMAS_DIR=my-schemas/ lethe schemas --out consumers/"),
    "policy": (
        "A policy author's dry runs, without a broker: check a policy file, or show what it does to one event.",
        "  lethe policy check\n"
        "  lethe policy explain --topic orders.v1"),
    "policy check": (
        "Check a policy file as a worker's start-up checks it, without a broker: every entry of the file, each\n"
        "source against its schema in LETHE_SCHEMAS_DIR, then every output's and partner's plan, transfer routes and\n"
        "derived Avro schema, compiled by the worker's own code. Prints a summary and exits 0, or one line per\n"
        "problem (each naming its entry) and exits 1. A stage runs once the stages before it have no problems.",
        "  lethe policy check\n"
        "  lethe policy check my-policy.toml\n"
        "  LETHE_SCHEMAS_DIR=my-schemas/ lethe policy check my-policy.toml --json"),
    "policy explain": (
        "Run one event through its source's pipeline as a worker would, without a broker, and show for every output\n"
        "and partner each personal field's category, strategy, the policy entry that chose it, its value and what\n"
        "is published, the free text findings, the transfer decision and the consent the output needs; then the\n"
        "gates that could hold the event back and the retention deadlines it sets. Pseudonyms come from a key made\n"
        "for the run (a deployment's differ). An invalid event gets the reason a worker would dead-letter it with,\n"
        "and exit 1. Values shown are the event's own: run it on your terminal, not into a shared log.",
        "  lethe policy explain --topic orders.v1                 # the topic's example event\n"
        "  lethe policy explain --topic logs.v1 event.json --json\n"
        "  lethe policy explain --topic loyalty.v1 loyalty.v1.jsonl --index 3 --policy my-policy.toml"),
    "store-agent": (
        "Apply lifecycle commands (retention deletes and updates, erasure, rectification, exports) from "
        "lifecycle.commands.v1\nto the database at LETHE_STORE_URL, through a mapping of its tables, and "
        "ack each one on lifecycle.acks.v1.\nA partner's agent reads its own commands topic instead: the erasures and "
        "rectifications of the subjects\nthe sharing ledger says it received (docs/sharing.md).",
        "  lethe store-agent\n"
        "  LETHE_STORE_URL=postgresql://shop@db/shop lethe store-agent --mapping deploy/store-mapping.toml\n"
        "  lethe store-agent --commands-topic partners.parcelco.commands.v1 --name partner.parcelco "
        "--mapping parcelco.toml"),
    "sink": (
        "The reference sink: materialize orders.v1 and logs.v1 into the tables orders and logs at "
        "LETHE_STORE_URL, so that\nretention and rights requests have rows to act on. Serves /metrics "
        "(lethe_sink_rows_written_total), /healthz\nand /readyz on LETHE_METRICS_PORT.",
        "  lethe sink\n"
        "  LETHE_METRICS_PORT=9111 lethe sink --name shop-db"),
    "hold": (
        "",
        "  lethe hold place --customer cust-8841 --case LIT-1     # prints the hold id\n"
        "  lethe hold release --customer cust-8841 --hold-id HOLD_ID"),
    "request": ("", ""),
    "audit": (
        "One data subject's story in time order: events received, consents, rights requests and their steps "
        "(acks,\nretries, completion), legal holds, retention deadlines set and fired, lifecycle commands and "
        "acks, what was\nheld back from an output or a transfer, shares with partners, dead-lettered records. "
        "It reads only the subject's\npartition of each topic, to the end observed at start (no time limit), "
        "and prints nothing about other subjects.\n--json writes JSON Lines: one object per entry with at, kind, "
        "action, ref, source and details\n(docs/rights.md, \"A subject's story\").",
        "  lethe audit --customer cust-8841\n"
        "  lethe audit --customer cust-8841 --json > cust-8841.jsonl      # for tools: one JSON object a line"),
    "topics": (
        "Manage Lethe's topics on the broker at LETHE_BOOTSTRAP_SERVERS.",
        "  lethe topics create"),
    "topics create": (
        "Create every Lethe topic (the policy's sources, outputs and partners' topics, DLQ, privacy and\n"
        "lifecycle topics, changelogs) with LETHE_PARTITIONS partitions, LETHE_REPLICATION_FACTOR replicas\n"
        "and each topic's retention; run it once per deployment, before the workers. Existing topics are\n"
        "left as they are.",
        "  lethe topics create\n"
        "  LETHE_PARTITIONS=12 LETHE_REPLICATION_FACTOR=3 lethe topics create"),
}


def subcommands(parser: argparse.ArgumentParser, prefix: str = "") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every subcommand under ``parser``, nested ones too, as ("topics create", its parser)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                path = f"{prefix}{name}"
                yield path, child
                yield from subcommands(child, path + " ")


def describe(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Give every subcommand of ``parser`` its description and examples from HELP."""
    for path, child in subcommands(parser):
        description, examples = HELP.get(path, ("", ""))
        if child.formatter_class is not argparse.RawDescriptionHelpFormatter and child.description:
            child.description = textwrap.fill(child.description, 110)   # it was written to be wrapped
        child.formatter_class = argparse.RawDescriptionHelpFormatter
        if not child.description:
            child.description = description
        if examples and "example" not in (child.epilog or ""):
            child.epilog = f"examples:\n{examples}" + (f"\n\n{child.epilog}" if child.epilog else "")
    return parser
