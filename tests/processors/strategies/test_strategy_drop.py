"""drop: the value is removed (the anonymized field is null), for any field type."""

from __future__ import annotations

from typing import Any

import pytest

from processors.policy import Options
from processors.strategies import STRATEGIES, FieldInfo, RecordContext
from processors.strategies.drop import Drop

FIELDS = [
    FieldInfo(("customer", "email"), "string", "contact.email"),
    FieldInfo(("total_amount",), "double", "transaction.order"),
    FieldInfo(("payment_status",), "enum", "transaction.payment"),
    FieldInfo(("status_code",), "long", "behavior.browsing"),
    FieldInfo(("geo", "lon"), "double", "location.precise", "longitude"),
    FieldInfo(("device",), "record", "device.info"),
]

VALUES: list[Any] = ["alice@example.com", "", 51.523767, 0, "authorized", False, ["a"], {"k": "v"}]


def test_registered() -> None:
    assert isinstance(STRATEGIES["drop"], Drop)


@pytest.mark.parametrize("info", FIELDS, ids=lambda info: f"{info.dotted}:{info.avro_type}")
def test_applies_to_every_field(info: FieldInfo) -> None:
    assert Drop().unsupported(info) is None


@pytest.mark.parametrize("info", FIELDS, ids=lambda info: f"{info.dotted}:{info.avro_type}")
@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_returns_null(info: FieldInfo, value: Any) -> None:
    ctx = RecordContext(b"k" * 32)
    assert Drop().compile(info, Options())(value, ctx) is None
    assert ctx.found == []
