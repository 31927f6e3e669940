"""`lethe hold` and `lethe request`: legal holds and rights requests, their status and exports."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from processors.errors import LetheError
from streams.cli.common import _bootstrap, _inputs, _read_events
from streams.cli.exports import write_export
from streams.settings import Settings
from streams.text import a_or_an, plural


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
    done = f"placed ({'order' if args.order else 'subject'} scope)" if args.action == "place" else "released"
    print(f"lethe: hold {event['hold_id']} {done} on {topic}", file=sys.stderr)
    print(event["hold_id"], flush=True)   # stdout is the id alone: HOLD=$(lethe hold place ...)
    return 0


def cmd_request(args: argparse.Namespace) -> int:
    import time
    import uuid
    from datetime import UTC, datetime

    from processors.errors import InvalidRecord
    from processors.rights import REQUEST_TYPES
    from streams.cli.request_list import check_list_options, cmd_request_list
    from streams.client import publish

    check_list_options(args)
    if args.what == "list":
        return cmd_request_list(args)
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
                raise LetheError(_unknown_request(settings, args.request_id))
            time.sleep(1.0)
        print(json.dumps(_status_view(state), indent=2))
        return 0 if state["status"] != "failed" else 1
    if args.what == "export":
        if not args.request_id or args.out is None:
            raise LetheError("usage: lethe request export REQUEST_ID --out DIR")
        return write_export(settings, args.request_id, args.out, args.wait, args.format)
    if args.what in REQUEST_TYPES:
        if not args.customer:
            raise LetheError(f"{a_or_an(args.what)} request needs --customer CUSTOMER_ID")
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
            raise LetheError(f"{args.what!r} is not a request type ({', '.join(REQUEST_TYPES)}), "
                             "'status', 'list', 'export' or a JSON file")
        events = list(_read_events([path]))
        if len(events) != 1:
            raise LetheError(f"{path}: holds {plural(len(events), 'event')}; file one request at a time")
        event = events[0]
    value = json.dumps(event).encode()
    try:
        request = _inputs(settings).request(value)
    except InvalidRecord as exc:
        raise LetheError(f"not a valid request: {exc}") from None
    topic = settings.topics.name("privacy-requests.v1")
    publish(_bootstrap(), [(topic, request.subject.encode(), value)])
    print(f"lethe: {request.type} request {request.request_id} filed on {topic}; "
          f"follow it with: lethe request status {request.request_id}", file=sys.stderr)
    print(request.request_id, flush=True)   # stdout is the id alone: ID=$(lethe request erase ...)
    if request.type in ("access", "portability") and args.out is not None:
        return write_export(settings, request.request_id, args.out, max(args.wait, 120.0), args.format)
    return 0


def _status_view(state: dict[str, Any]) -> dict[str, Any]:
    """The state as ``lethe request status`` prints it: never the export's private key; an erasure's receipt."""
    from processors.rights.receipt import receipt

    view = {key: state[key] for key in ("request_id", "type", "status", "received_at", "due_at", "completed_at",
                                        "stores", "partners", "retries", "reason")
            if key in state} | {"acks": state.get("acks", {})}
    if state.get("export"):
        view["export"] = {k: v for k, v in state["export"].items() if k not in ("private_key", "written_id")}
    found = receipt(state)
    if found is not None:
        view["receipt"] = found
    return view


def _unknown_request(settings: Settings, request_id: str) -> str:
    """Why a request id is not found, with what to check (the workers' app id decides where they keep it)."""
    from streams.state.requests import requests_topic

    return (f"no request {request_id} in {requests_topic(settings)}: check the id, and that a worker with "
            f"LETHE_APP_ID={settings.app_id} runs on this cluster (a request appears once a worker accepts it; "
            "--wait SECONDS waits for it)")
