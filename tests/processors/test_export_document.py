"""The export document (processors/exports.py): assembled from privacy.exports.v1 parts, and a
portability document's tables as RFC 4180 CSV."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from processors.errors import LetheError
from processors.exports import assemble, csv_text, tables
from processors.records import export_part

STATE = {"request_id": "req-1", "type": "portability", "subject": "cust-8841", "channel": "api",
         "received_at": "2026-11-20T10:00:00Z", "accepted_at": "2026-11-20T10:00:01Z",
         "due_at": "2026-12-18T10:00:00Z", "status": "completed", "completed_at": "2026-11-20T10:00:03Z",
         "stores": ["shop-db", "crm"], "acks": {"c|shop-db": "applied"}, "commands": {"c": "orders"}}
ORDER = {"table": "orders", "order_id": "o-1", "customer_name": "Ada Lovelace", "notes": "ring twice"}
CHOICE = {"occurred_at": "2026-11-01T00:00:00Z", "purpose": "marketing", "granted": True, "source": "api",
          "policy_version": "2026-09-01"}


def part(source: str, family: str | None, content: Any, chunk: int = 0, chunks: int = 1,
         request_id: str = "req-1") -> dict[str, Any]:
    return export_part(request_id, "cust-8841", source, family, 0.0, json.dumps(content), chunk, chunks)


@pytest.mark.parametrize(("parts", "lethe", "stores", "count"), [
    ([], None, {}, 0),
    ([part("lethe", None, {"consent_choices": [CHOICE]})], {"consent_choices": [CHOICE]}, {}, 1),
    # another request's parts are not this one's
    ([part("shop-db", "orders", [ORDER], request_id="req-2")], None, {}, 0),
    # rows of each store and family, chunks in order whatever order they came in
    ([part("shop-db", "orders", [{**ORDER, "order_id": "o-2"}], 1, 2), part("crm", "orders", []),
      part("shop-db", "orders", [ORDER], 0, 2)],
     None, {"crm": {"orders": []}, "shop-db": {"orders": [ORDER, {**ORDER, "order_id": "o-2"}]}}, 3),
    # a retried command's part again replaces the first
    ([part("shop-db", "orders", [ORDER]), part("shop-db", "orders", [{**ORDER, "notes": None}])],
     None, {"shop-db": {"orders": [{**ORDER, "notes": None}]}}, 1),
    # an access part's pending deadlines come in chunks: one list
    ([part("lethe", None, {"consent": None, "pending_deadlines": [1]}, 0, 2),
      part("lethe", None, {"pending_deadlines": [2]}, 1, 2)], {"consent": None, "pending_deadlines": [1, 2]}, {}, 2),
])
def test_assemble(parts: list[dict[str, Any]], lethe: Any, stores: dict[str, Any], count: int) -> None:
    document, parts_in = assemble(STATE, parts, "2026-11-20T10:00:05+00:00")
    assert list(document) == ["format", "request", "generated_at", "lethe", "stores"]
    assert document["format"] == "lethe.export.v2" and document["generated_at"] == "2026-11-20T10:00:05+00:00"
    assert document["request"] == {k: STATE[k] for k in ("request_id", "type", "subject", "channel", "received_at",
                                                         "accepted_at", "due_at", "status", "completed_at", "stores")}
    assert (document["lethe"], document["stores"], parts_in) == (lethe, stores, count)


def test_tables_are_named_after_store_and_table() -> None:
    document = {"lethe": {"consent_choices": [CHOICE]}, "stores": {
        "shop-db": {"orders": [ORDER, {**ORDER, "order_id": "o-2", "late": 1}],
                    "logs": [{"table": "public.logs", "event_id": "e-1"}]},
        "crm": {"orders": [{"table": "orders", "order_id": "o-1"}]}}}
    assert tables(document) == {
        "lethe.consent_choices.csv": (["occurred_at", "purpose", "granted", "source", "policy_version"], [CHOICE]),
        "shop-db.orders.csv": (["order_id", "customer_name", "notes", "late"],
                               [{k: v for k, v in ORDER.items() if k != "table"},
                                {"order_id": "o-2", "customer_name": "Ada Lovelace", "notes": "ring twice",
                                 "late": 1}]),
        "shop-db.public.logs.csv": (["event_id"], [{"event_id": "e-1"}]),
        "crm.orders.csv": (["order_id"], [{"order_id": "o-1"}]),
    }


def test_no_choices_still_give_the_consent_table_its_header() -> None:
    assert tables({"lethe": {"consent_choices": []}, "stores": {}}) == {
        "lethe.consent_choices.csv": (["occurred_at", "purpose", "granted", "source", "policy_version"], [])}


@pytest.mark.parametrize(("store", "table"), [("../x", "orders"), ("shop-db", "../../etc/passwd"), ("shop-db", ".x"),
                                              ("shop/db", "orders"), ("", "orders")])
def test_a_name_that_could_leave_the_directory_is_refused(store: str, table: str) -> None:
    with pytest.raises(LetheError, match="not names to name a file after"):
        tables({"lethe": None, "stores": {store: {"orders": [{"table": table, "order_id": "o-1"}]}}})


@pytest.mark.parametrize(("value", "cell"), [
    (None, ""), ("", ""), (True, "true"), (False, "false"), (3, "3"), (2.5, "2.5"),
    ("a,b", "a,b"), ('say "hi"', 'say "hi"'), ("two\nlines", "two\nlines"), ("Zoë 東京", "Zoë 東京"),
    ({"b": 1, "a": [1, "x"]}, '{"a": [1, "x"], "b": 1}'),
])
def test_csv_cells_read_back(value: Any, cell: str) -> None:
    text = csv_text(["id", "value"], [{"id": "o-1", "value": value}, {"id": "o-2"}])
    assert list(csv.reader(io.StringIO(text, newline=""))) == [["id", "value"], ["o-1", cell], ["o-2", ""]]


def test_csv_is_rfc_4180() -> None:
    text = csv_text(["a", "b"], [{"a": 'x "y"', "b": "1,2"}, {"a": "line\nbreak", "b": None}])
    assert text == 'a,b\r\n"x ""y""","1,2"\r\n"line\nbreak",\r\n'
