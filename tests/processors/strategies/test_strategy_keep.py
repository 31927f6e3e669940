"""keep: the value passes through unchanged, for any field type."""

from __future__ import annotations

from typing import Any

import pytest

from processors.policy import Options
from processors.strategies import STRATEGIES, FieldInfo, RecordContext
from processors.strategies.keep import Keep

FIELDS = [
    FieldInfo(("customer", "name"), "string", "identity.name"),
    FieldInfo(("total_amount",), "double", "transaction.order"),
    FieldInfo(("payment_status",), "enum", "transaction.payment"),
    FieldInfo(("status_code",), "int", "behavior.browsing"),
    FieldInfo(("geo", "lat"), "double", "location.precise", "latitude"),
    FieldInfo(("x",), "union", "free_text"),
]

VALUES: list[Any] = ["Alice Example", "", 39.9, 0, "authorized", True, ["a"], {"k": "v"}]


def test_registered() -> None:
    assert isinstance(STRATEGIES["keep"], Keep)


@pytest.mark.parametrize("info", FIELDS, ids=lambda info: f"{info.dotted}:{info.avro_type}")
def test_applies_to_every_field(info: FieldInfo) -> None:
    assert Keep().unsupported(info) is None


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_passes_the_value_through(value: Any) -> None:
    ctx = RecordContext(b"k" * 32)
    transform = Keep().compile(FIELDS[0], Options())
    assert transform(value, ctx) is value
    assert ctx.found == []
