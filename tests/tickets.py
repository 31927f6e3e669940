"""A user's own source for tests: ``tickets.v1``, a deliberately awkward schema and its policy stanza.

Nothing in Lethe knows this topic: a test writes SCHEMA into a temporary LETHE_SCHEMAS_DIR and
appends STANZA to a policy, and that is all. The schema nests records in records, records in arrays
in records in arrays, records as map values, a union of null, a string and a record, an array of
strings with a category, and free text three levels down. ``ticket`` makes one event.
"""

from __future__ import annotations

import copy
from typing import Any

SCHEMA: dict[str, Any] = {
    "type": "record", "name": "TicketEvent", "namespace": "acme.support", "version": 1,
    "doc": "A support ticket event. Keyed by reporter.id.",
    "fields": [
        {"name": "ticket_id", "type": "string"},
        {"name": "status", "type": {"type": "enum", "name": "TicketStatus",
                                    "symbols": ["opened", "updated", "resolved", "closed"]}},
        {"name": "opened_at", "type": "string", "format": "timestamp"},
        {"name": "reporter", "type": {"type": "record", "name": "Reporter", "fields": [
            {"name": "id", "type": "string", "category": "identifier.customer", "format": "identifier"},
            {"name": "name", "type": ["null", "string"], "default": None, "category": "identity.name"},
            {"name": "contact", "type": ["null", {"type": "record", "name": "Contact", "fields": [
                {"name": "email", "type": ["null", "string"], "default": None, "category": "contact.email"},
                {"name": "phones", "type": {"type": "array", "items": "string"}, "default": [],
                 "category": "contact.phone"},
            ]}], "default": None},
        ]}},
        {"name": "messages", "type": {"type": "array", "items": {"type": "record", "name": "Message", "fields": [
            {"name": "author", "type": ["null", "string"], "default": None, "category": "identity.name"},
            {"name": "body", "type": "string", "category": "free_text", "scan": True},
            {"name": "attachments", "type": {"type": "array", "items": {
                "type": "record", "name": "Attachment", "fields": [
                    {"name": "filename", "type": "string"},
                    {"name": "uploader_ip", "type": ["null", "string"], "default": None,
                     "category": "network.ip", "format": "ip"},
                ]}}, "default": []},
        ]}}, "default": []},
        {"name": "custom", "type": {"type": "map", "values": {"type": "record", "name": "CustomField", "fields": [
            {"name": "label", "type": "string"},
            {"name": "value", "type": ["null", "string"], "default": None, "category": "free_text", "scan": True},
        ]}}, "default": {}},
        {"name": "device", "type": ["null", {"type": "record", "name": "DeviceInfo", "fields": [
            {"name": "agent", "type": ["null", "string"], "default": None, "category": "device.info",
             "format": "user_agent"},
            {"name": "geo", "type": ["null", {"type": "record", "name": "Point", "fields": [
                {"name": "lat", "type": "double", "category": "location.precise", "format": "latitude"},
                {"name": "lon", "type": "double", "category": "location.precise", "format": "longitude"},
            ]}], "default": None},
        ]}], "default": None},
        {"name": "assignee", "type": ["null", "string", {"type": "record", "name": "Agent", "fields": [
            {"name": "team", "type": "string"},
            {"name": "agent_email", "type": "string", "category": "contact.email"},
        ]}], "default": None},
        {"name": "session", "type": ["null", "string"], "default": None, "category": "identifier.session"},
    ],
}

STANZA = """
[sources."tickets.v1"]
schema = "tickets.v1.avsc"
kind = "records"
subject = "reporter.id"
record_id = "ticket_id"
event_time = "opened_at"
status = "status"

[outputs."tickets.anonymized.v1"]
source = "tickets.v1"
purpose = "analytics"
consent = ["analytics"]
region = "EU"

[retention."tickets-closed"]
source = "tickets.v1"
trigger = "order_event"
on = ["closed"]
after = "30d"
action = "delete"
"""

NAME = "Maren Oyelaran-Vasquez"
EMAIL = "maren.ov@example.net"
PHONE = "+44 7700 900123"
AGENT_EMAIL = "sam.agent@acme.example"
IP = "198.51.100.77"
SECRETS = (NAME, "Oyelaran", EMAIL, PHONE, AGENT_EMAIL, IP, "51.50722", "-0.12750")

TICKET: dict[str, Any] = {
    "ticket_id": "T-1",
    "status": "opened",
    "opened_at": "2026-11-18T08:26:40Z",
    "reporter": {"id": "cust-4711", "name": NAME, "contact": {"email": EMAIL, "phones": [PHONE, "+1 555 0100"]}},
    "messages": [
        {"author": NAME, "body": f"Hi, I am {NAME}; write to {EMAIL} or call {PHONE}.",
         "attachments": [{"filename": "receipt.pdf", "uploader_ip": IP},
                         {"filename": "photo.jpg", "uploader_ip": None}]},
        {"author": None, "body": "No personal data here.", "attachments": []},
    ],
    "custom": {"callback": {"label": "Call back on", "value": f"phone {PHONE} after six"},
               "plan": {"label": "Plan", "value": None}},
    "device": {"agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
               "geo": {"lat": 51.50722, "lon": -0.12750}},
    "assignee": {"team": "billing", "agent_email": AGENT_EMAIL},
    "session": "sess-9f2c",
}


def ticket(**changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(TICKET)
    event.update(changes)
    return event
