"""`lethe request list`: the rights requests the workers track, with due dates and who has not acked.

Read from the requests changelog (streams/requests.py), to its end observed at start; selected and
written by processors/rights/listing.py.
"""

from __future__ import annotations

import argparse
import sys
import time

from processors.errors import LetheError
from processors.rights import REQUEST_TYPES
from processors.rights.listing import STATUS_CHOICES, json_array, selected, table
from streams.cli.common import _bootstrap
from streams.settings import Settings
from streams.text import plural


def cmd_request_list(args: argparse.Namespace) -> int:
    if args.type is not None and args.type not in REQUEST_TYPES:
        raise LetheError(f"--type {args.type!r} is not a request type ({', '.join(REQUEST_TYPES)})")
    from streams.requests import read_request_states

    states = read_request_states(_bootstrap(), Settings.from_env())
    rows = selected(states.values(), time.time(), args.status, args.type, args.customer)
    chosen = " ".join(part for part in (args.status, args.type) if part)
    print(f"lethe: {plural(len(rows), (chosen + ' request').strip())} of {len(states)} tracked", file=sys.stderr)
    if args.json:
        print(json_array(rows), flush=True)
    elif rows:
        print("\n".join(table(rows)), flush=True)
    return 0


def check_list_options(args: argparse.Namespace) -> None:
    """--status, --type and --json are list options; with any other `lethe request` they are a mistake."""
    for option, value in (("--status", args.status), ("--type", args.type), ("--json", args.json or None)):
        if value is not None and args.what != "list":
            raise LetheError(f"{option} goes with `lethe request list` only")


__all__ = ["STATUS_CHOICES", "check_list_options", "cmd_request_list"]
