"""The proposed schema: types, nullability, nested records, arrays, maps; it loads through Lethe's
own schema loading, validates every sampled record, and its stanza compiles into a plan."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from processors.discover.propose import discover
from processors.discover.schema import build_schema
from processors.discover.stanza import output_fields, output_topic, policy_text, source_stanza
from processors.plan import compile_plan
from processors.policy import OutputPolicy, Policy
from processors.schemas import _load_one
from processors.validate import compile_validator


def ticket(n: int) -> dict[str, Any]:
    record: dict[str, Any] = {
        "ticketId": f"T-{n:06d}",
        "erstellt_am": f"2026-10-{n % 28 + 1:02d}T10:00:00+02:00",
        "kunde": {"kundennummer": n % 7 + 1000, "vorname": ["Lena", "Jonas", "Ana"][n % 3],
                  "nachname": ["Berg", "Vogel"][n % 2], "e_mail": f"kunde{n}@post.example"},
        "nachrichten": [{"text": f"Hallo, mein Paket {n} ist nicht angekommen, bitte rufen Sie mich an",
                         "gesendet": f"2026-10-01T10:{n % 60:02d}:00Z"}],
        "tags": ["versand", "dringend"][: n % 3],
        "zaehler": {f"agent-{n % 50}": n % 5},
        "prioritaet": ["hoch", "niedrig"][n % 2],
        "geo": {"lat": 52.5 + n / 1000, "lon": 13.4},
    }
    if n % 4:
        record["kommentar"] = None
    if n % 5 == 0:
        record["wert"] = 12 if n % 2 else 12.5
    return record


RECORDS = [ticket(n) for n in range(200)]


def types_by_name(schema: dict[str, Any]) -> dict[str, Any]:
    return {field["name"]: field["type"] for field in schema["fields"]}


def test_types_nullability_records_arrays_maps() -> None:
    schema = build_schema(discover(RECORDS, "support-tickets.v1"))
    types = types_by_name(schema)
    assert types["ticketId"] == "string"
    assert types["kunde"]["type"] == "record"
    assert types_by_name(types["kunde"])["kundennummer"] == "int"
    assert types["nachrichten"]["type"] == "array" and types["nachrichten"]["items"]["type"] == "record"
    assert types["tags"] == {"type": "array", "items": "string"}
    assert types["zaehler"] == {"type": "map", "values": "int"}   # keys differ from record to record
    assert types["kommentar"] == ["null", "string"]              # missing or null
    assert types["wert"] == ["null", "double"]                   # ints and floats
    assert [field["name"] for field in schema["fields"]][:3] == ["ticketId", "erstellt_am", "kunde"]


def test_the_schema_loads_as_lethe_loads_schemas_and_validates_its_sample(tmp_path: Path) -> None:
    schema = build_schema(discover(RECORDS, "support-tickets.v1"))
    path = tmp_path / "support-tickets.v1.avsc"
    path.write_text(json.dumps(schema))
    loaded = _load_one("support-tickets.v1", path)
    validate = compile_validator(loaded.raw)
    for record in RECORDS:
        validate(record)


def test_categories_on_a_german_ticket() -> None:
    result = discover(RECORDS, "support-tickets.v1")
    category = {report.path: report.decision.category for report in result.fields}
    assert category["kunde.kundennummer"] == "identifier.customer"
    assert category["kunde.vorname"] == category["kunde.nachname"] == "identity.name"
    assert category["kunde.e_mail"] == "contact.email"
    assert category["nachrichten[].text"] == "free_text"
    assert category["nachrichten"] is None           # an array of records: its personal fields are tagged
    assert category["geo.lat"] == "location.precise"
    assert category["prioritaet"] is None
    # a numeric customer id cannot be Lethe's (string) subject: the report says so
    assert "subject" not in result.source and any("is a number" in note for note in result.notes)


def test_the_proposed_output_compiles_into_a_plan_with_the_default_policy(default_policy: Policy) -> None:
    result = discover(RECORDS, "support-tickets.v1")
    schema = build_schema(result)
    fields = output_fields(schema, default_policy.categories)
    assert fields["kunde.kundennummer"][0] == "drop"   # a pseudonym needs a string
    assert "nachrichten" not in fields and "nachrichten[].text" not in fields   # the default strategy applies
    output = OutputPolicy(output_topic("support-tickets.v1"), "support-tickets.v1", "analytics",
                          fields={path: strategy for path, (strategy, _) in fields.items()})
    plan = compile_plan(schema, output, default_policy)
    assert {op.dotted for op in plan.ops} >= {"kunde.e_mail", "nachrichten[].text", "geo.lat"}
    assert "nachrichten" not in {op.dotted for op in plan.ops}
    text = policy_text(result, schema, "support-tickets.v1.avsc", default_policy.categories)
    assert '[sources."support-tickets.v1"]' in text and '[outputs."support-tickets.anonymized.v1"]' in text


def test_the_source_stanza_names_the_schema_and_paths() -> None:
    result = discover(RECORDS, "support-tickets.v1")
    stanza = source_stanza(result, "support-tickets.v1.avsc")
    assert stanza.startswith('[sources."support-tickets.v1"]\nschema = "support-tickets.v1.avsc"\n')
    assert 'event_time = "erstellt_am"' in stanza and 'kind = "events"' in stanza


def test_an_unrecognised_string_is_tagged_conservatively_and_marked_for_review() -> None:
    records = [{"event_id": f"e{n}", "zorblax": f"q{n * 7919 % 1000:03d}x"} for n in range(50)]
    result = discover(records, "odd.v1")
    report = next(field for field in result.fields if field.path == "zorblax")
    assert report.decision.category == "account.profile" and report.decision.review
    assert [field.path for field in result.review] == ["zorblax"]
    field = next(f for f in build_schema(result)["fields"] if f["name"] == "zorblax")
    assert field["category"] == "account.profile" and "review" in field


def test_no_value_reaches_the_report_or_the_stanza() -> None:
    from processors.discover.report import report_text

    result = discover(RECORDS, "support-tickets.v1")
    text = report_text(result) + policy_text(result, build_schema(result), "x.avsc", {})
    for value in ("Lena", "Berg", "kunde1@post.example", "Paket 1 ist", "agent-1"):
        assert value not in text


def test_keys_that_are_values_never_become_field_names() -> None:
    records = [{"event_id": f"e{n}", "opens": {f"ana{n}@mail.example": 1}, "by_ip": {f"203.0.113.{n}": n}}
               for n in range(30)]
    schema = build_schema(discover(records, "mails.v1"))
    text = json.dumps(schema)
    assert "@mail.example" not in text and "203.0.113" not in text
    types = types_by_name(schema)
    assert types["opens"]["type"] == "map" and types["by_ip"]["type"] == "map"


def test_a_record_nested_too_deep_is_recognised_without_recursion() -> None:
    from processors.discover.infer import too_deep

    deep: dict[str, Any] = {}
    inner = deep
    for _ in range(10_000):
        inner["x"] = {}
        inner = inner["x"]
    assert too_deep(deep) and not too_deep(RECORDS[0])


def test_the_policy_text_is_toml_whose_output_loads_with_the_default_policy(default_policy_path: Path) -> None:
    import tomllib

    from processors.policy import parse_policy

    result = discover(RECORDS, "support-tickets.v1")
    schema = build_schema(result)
    default = tomllib.loads(default_policy_path.read_text())
    proposal = tomllib.loads(policy_text(result, schema, "support-tickets.v1.avsc", default["categories"]))
    assert proposal["sources"]["support-tickets.v1"]["schema"] == "support-tickets.v1.avsc"
    default["outputs"].update(proposal["outputs"])
    default["sources"].update(proposal["sources"])
    policy = parse_policy(default)
    output = policy.outputs["support-tickets.anonymized.v1"]
    assert output.source == "support-tickets.v1"
    assert policy.sources["support-tickets.v1"].family == "support-tickets"
    compile_plan(schema, output, policy)


def _random_value(rng: Any, depth: int) -> Any:
    keys = ["id", "name", "email", "", "a b", "x-y", "1st", "é", "items", "tags", "value", "geo", "lat", "@x"]
    roll = rng.random()
    if depth > 3 or roll < 0.3:
        return rng.choice([None, True, 1, 2**40, 1.5, "s", "a@b.example", "2026-01-01T00:00:00Z", "", "x" * 10])
    if roll < 0.6:
        return {rng.choice(keys): _random_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))}
    return [_random_value(rng, depth + 1) for _ in range(rng.randrange(0, 3))]


def test_any_json_gives_a_schema_that_loads_and_validates_its_sample(tmp_path: Path,
                                                                    default_policy: Policy) -> None:
    """... and whose proposed output compiles: every strategy it names applies to its field's type,
    at any depth (the plan refuses any other), and anonymizes the sample."""
    import random

    rng = random.Random(0)
    for case in range(200):
        records = [{rng.choice(["id", "a", "b", "items", "n"]): _random_value(rng, 0) for _ in range(3)}
                   for _ in range(rng.randrange(1, 20))]
        schema = build_schema(discover(records, "fuzz.v1"))
        path = tmp_path / f"fuzz{case}.avsc"
        path.write_text(json.dumps(schema))
        validate = compile_validator(_load_one("fuzz.v1", path).raw)
        fields = {path: strategy for path, (strategy, _) in output_fields(schema, default_policy.categories).items()}
        plan = compile_plan(schema, OutputPolicy("fuzz.anonymized.v1", "fuzz.v1", "analytics", fields=fields),
                            default_policy)
        for record in records:
            plan.apply(validate(record), b"k" * 32)


@pytest.mark.parametrize(("name", "first", "step", "hinted"), [
    ("ts", 1_764_650_000, 37, True),                  # epoch seconds
    ("createdAtMs", 1_764_650_000_000, 37_001, True),   # epoch milliseconds
    ("amount", 1_764_650_000, 37, False),             # a big number not named like a time
    ("ts", 5, 1, False),                              # named like a time, not a time
])
def test_epoch_numbers_are_named_but_not_proposed_as_event_time(name: str, first: int, step: int,
                                                                hinted: bool) -> None:
    """Lethe's source checks take only an RFC 3339 string as event time: an epoch number is pointed out."""
    result = discover([{"event_id": f"e{n}", name: first + n * step} for n in range(60)], "epochs.v1")
    assert "event_time" not in result.source
    [note] = [note for note in result.notes if "event_time" in note]
    assert (f"{name} holds epoch numbers" in note) == hinted
