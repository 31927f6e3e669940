"""The policy file: a valid one loads; every malformed entry fails with a PolicyError naming it."""

from __future__ import annotations

import copy
import dataclasses
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from processors.errors import LetheError, PolicyError
from processors.policy import CATEGORIES, Options, OutputPolicy, load_policy, parse_policy
from processors.schemas import SchemaCatalog
from processors.sources import check_sources
from processors.strategies import STRATEGIES

ORDERS_OUT = "orders.anonymized.v1"
LOGS_OUT = "logs.anonymized.v1"

Edit = Callable[[dict[str, Any]], None]


@pytest.fixture(scope="module")
def base(default_policy_path: Path) -> dict[str, Any]:
    return tomllib.loads(default_policy_path.read_text(encoding="utf-8"))


def set_(*path: str, value: Any) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target.setdefault(key, {})
        target[path[-1]] = value
    return edit


def del_(*path: str) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return edit


# --- a valid policy --------------------------------------------------------------------------------

def test_default_policy_loads(default_policy_path: Path) -> None:
    policy = load_policy(default_policy_path)
    assert policy.version == "2026-11-01"
    assert policy.path == str(default_policy_path)
    assert policy.options == Options()
    assert set(policy.categories) == set(CATEGORIES)
    assert set(policy.categories.values()) <= set(STRATEGIES)
    assert set(policy.outputs) == {ORDERS_OUT, LOGS_OUT, "partners.parcelco.v1", "partners.paynow.v1"}
    assert set(policy.partners) == {"parcelco", "paynow"}
    orders = policy.outputs[ORDERS_OUT]
    assert (orders.source, orders.purpose) == ("orders.v1", "analytics")
    assert orders.fields == {"order_id": "pseudonym", "shipping_address.postcode": "generalize",
                             "tracking_number": "mask", "customer.date_of_birth": "generalize"}
    assert [o.topic for o in policy.outputs_for("logs.v1")] == [LOGS_OUT]
    assert [o.topic for o in policy.outputs_for("orders.v1")] == [ORDERS_OUT, "partners.parcelco.v1",
                                                                  "partners.paynow.v1"]
    assert policy.outputs_for("consent.v1") == []


def test_minimal_policy_uses_default_options() -> None:
    data = {
        "version": "1",
        "categories": dict.fromkeys(CATEGORIES, "drop"),
        "outputs": {"o": {"source": "orders.v1", "purpose": "p"}},
    }
    policy = parse_policy(data)
    assert policy.options == Options()
    assert policy.outputs["o"].categories == {}
    assert policy.outputs["o"].fields == {}
    assert policy.path == "<memory>"


def test_options_are_read(base: dict[str, Any]) -> None:
    data = copy.deepcopy(base)
    data["options"] = {"ipv4_prefix": 16, "mask_char": "#", "timestamp_unit": "day", "context_min_length": 1,
                       "url_keep_params": ["page", "ref"]}
    options = parse_policy(data).options
    assert (options.ipv4_prefix, options.mask_char, options.timestamp_unit) == (16, "#", "day")
    assert options.url_keep_params == ("page", "ref")
    assert options.ipv6_prefix == Options().ipv6_prefix
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.ipv4_prefix = 8  # type: ignore[misc]


@pytest.mark.parametrize(("path", "category", "expected", "entry"), [
    ("order_id", "transaction.order", "pseudonym", 'outputs."orders.anonymized.v1".fields."order_id"'),
    ("customer.email", "contact.email", "mask", 'outputs."orders.anonymized.v1".categories."contact.email"'),
    ("customer.name", "identity.name", "drop", 'categories."identity.name"'),
], ids=["field-override", "category-override", "default"])
def test_strategy_for_precedence(path: str, category: str, expected: str, entry: str) -> None:
    output = OutputPolicy(ORDERS_OUT, "orders.v1", "analytics", categories={"contact.email": "mask"},
                          fields={"order_id": "pseudonym"})
    defaults = dict.fromkeys(CATEGORIES, "drop")
    assert output.strategy_for(category, path, defaults) == (expected, entry)


# --- every malformed entry ------------------------------------------------------------------------

INVALID: list[tuple[str, Edit, str]] = [
    # id, edit of the default policy, fragment the message must contain
    ("unknown-top-level-key", set_("retnetion", value={"days": 30}), "unknown top-level key(s): retnetion"),
    ("missing-version", del_("version"), "'version'"),
    ("empty-version", set_("version", value=""), "'version'"),
    ("version-not-a-string", set_("version", value=20261101), "'version'"),
    ("unknown-category", set_("categories", "identity.shoe_size", value="drop"),
     'categories."identity.shoe_size": unknown data category'),
    ("unknown-strategy", set_("categories", "contact.email", value="shred"),
     "categories.\"contact.email\" = 'shred': unknown strategy"),
    ("strategy-not-a-string", set_("categories", "contact.email", value=1),
     'categories."contact.email" = 1: unknown strategy'),
    ("strategy-wrong-case", set_("categories", "contact.email", value="Drop"),
     'categories."contact.email"'),
    ("categories-not-a-table", set_("categories", value="drop"), "[categories]"),
    ("unknown-option", set_("options", "k_anonymity", value=5), "[options] may only set"),
    ("options-not-a-table", set_("options", value=24), "[options] may only set"),
    ("option-int-as-string", set_("options", "ipv4_prefix", value="24"), "options.ipv4_prefix must be an integer"),
    ("option-int-as-float", set_("options", "coordinate_decimals", value=1.0),
     "options.coordinate_decimals must be an integer"),
    ("option-int-as-bool", set_("options", "mask_keep_last", value=True), "options.mask_keep_last must be an integer"),
    ("option-str-as-int", set_("options", "timestamp_unit", value=3600), "options.timestamp_unit must be a string"),
    ("option-char-as-int", set_("options", "mask_char", value=0), "options.mask_char must be a string"),
    ("ipv4-prefix-too-big", set_("options", "ipv4_prefix", value=33), "options.ipv4_prefix"),
    ("ipv4-prefix-negative", set_("options", "ipv4_prefix", value=-1), "options.ipv4_prefix"),
    ("ipv6-prefix-too-big", set_("options", "ipv6_prefix", value=129), "options.ipv6_prefix"),
    ("coordinate-decimals-too-precise", set_("options", "coordinate_decimals", value=5),
     "options.coordinate_decimals"),
    ("coordinate-decimals-negative", set_("options", "coordinate_decimals", value=-1), "options.coordinate_decimals"),
    ("timestamp-unit-unknown", set_("options", "timestamp_unit", value="week"), "options.timestamp_unit"),
    ("mask-keep-last-negative", set_("options", "mask_keep_last", value=-1), "options.mask_keep_last"),
    ("mask-char-empty", set_("options", "mask_char", value=""), "options.mask_char"),
    ("mask-char-two", set_("options", "mask_char", value="**"), "options.mask_char"),
    ("postcode-keep-negative", set_("options", "postcode_keep", value=-1), "options.postcode_keep"),
    ("context-min-length-zero", set_("options", "context_min_length", value=0), "options.context_min_length"),
    ("no-outputs", del_("outputs"), "[outputs]"),
    ("empty-outputs", set_("outputs", value={}), "[outputs]"),
    ("output-not-a-table", set_("outputs", ORDERS_OUT, value="orders.v1"),
     'outputs."orders.anonymized.v1" must be a table'),
    ("output-unknown-key", set_("outputs", ORDERS_OUT, "retention", value="30d"),
     'outputs."orders.anonymized.v1": unknown key(s) retention'),
    ("output-missing-source", del_("outputs", ORDERS_OUT, "source"),
     "outputs.\"orders.anonymized.v1\" needs 'source'"),
    ("output-missing-purpose", del_("outputs", LOGS_OUT, "purpose"),
     "outputs.\"logs.anonymized.v1\" needs 'source'"),
    ("output-source-not-a-string", set_("outputs", ORDERS_OUT, "source", value=["orders.v1"]),
     'outputs."orders.anonymized.v1"'),
    ("output-unknown-category", set_("outputs", ORDERS_OUT, "categories", "contact.fax", value="drop"),
     'outputs."orders.anonymized.v1".categories."contact.fax": unknown data category'),
    ("output-category-unknown-strategy", set_("outputs", ORDERS_OUT, "categories", "contact.email", value="hash"),
     "outputs.\"orders.anonymized.v1\".categories.\"contact.email\" = 'hash': unknown strategy"),
    ("output-field-unknown-strategy", set_("outputs", LOGS_OUT, "fields", "ip", value="truncate"),
     "outputs.\"logs.anonymized.v1\".fields.\"ip\" = 'truncate': unknown strategy"),
    # regression: these two used to escape as AttributeError
    ("output-categories-not-a-table", set_("outputs", ORDERS_OUT, "categories", value="drop"),
     'outputs."orders.anonymized.v1".categories and outputs."orders.anonymized.v1".fields must be tables'),
    ("output-fields-not-a-table", set_("outputs", ORDERS_OUT, "fields", value=3),
     'outputs."orders.anonymized.v1".fields must be tables'),
    ("url-keep-params-not-a-list", set_("options", "url_keep_params", value="page"),
     "options.url_keep_params must be a list of strings"),
    ("url-keep-params-not-strings", set_("options", "url_keep_params", value=["page", 2]),
     "options.url_keep_params must be a list of strings"),
]


@pytest.mark.parametrize(("case", "edit", "fragment"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_policy(base: dict[str, Any], case: str, edit: Edit, fragment: str) -> None:
    data = copy.deepcopy(base)
    edit(data)
    with pytest.raises(PolicyError) as caught:
        parse_policy(data, "test.toml")
    message = str(caught.value)
    assert message.startswith("policy test.toml: ")
    assert fragment in message


def test_policy_error_is_a_lethe_error() -> None:
    assert issubclass(PolicyError, LetheError)


def test_unknown_strategy_lists_the_known_ones(base: dict[str, Any]) -> None:
    data = copy.deepcopy(base)
    data["categories"]["free_text"] = "scrub"
    with pytest.raises(PolicyError) as caught:
        parse_policy(data)
    for name in STRATEGIES:
        assert name in str(caught.value)


def test_a_missing_default_is_named_where_a_source_carries_it(base: dict[str, Any], catalog: SchemaCatalog) -> None:
    """[categories] may leave a category out; an output whose source carries it stops start-up."""
    data = copy.deepcopy(base)
    del data["categories"]["contact.phone"]
    policy = parse_policy(data)   # the policy alone is fine ...
    with pytest.raises(PolicyError) as caught:
        check_sources(policy, catalog)   # ... but orders.v1 carries contact.phone (customer.phone)
    message = str(caught.value)
    assert 'outputs."orders.anonymized.v1"' in message and "contact.phone" in message
    assert "orders.v1" in message and "customer.phone" in message and "rule:" in message


# --- the file -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "fragment"), [
    ('version = "1"\n[categories\n', "is not valid TOML"),
    ('version = "1"\nversion = "2"\n', "is not valid TOML"),
    ('version = 1 2\n', "is not valid TOML"),
], ids=["unclosed-table", "duplicate-key", "bad-value"])
def test_invalid_toml(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert fragment in str(caught.value)
    assert str(path) in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert f"cannot read policy file {path}" in str(caught.value)


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError):
        load_policy(tmp_path)


def test_non_utf8_file(tmp_path: Path) -> None:
    # regression: this used to escape as UnicodeDecodeError
    path = tmp_path / "policy.toml"
    path.write_bytes(b'version = "2026-11-01\xff"\n')
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert f"policy file {path} is not UTF-8" in str(caught.value)


def test_errors_in_a_file_name_the_file(tmp_path: Path, default_policy_path: Path) -> None:
    path = tmp_path / "policy.toml"
    text = default_policy_path.read_text(encoding="utf-8").replace('"contact.email" = "drop"',
                                                                    '"contact.email" = "shred"')
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert str(caught.value).startswith(f"policy {path}: categories.\"contact.email\" = 'shred'")
