from __future__ import annotations

from typing import Any

from processors.policy import Options
from processors.strategies.base import FieldInfo, RecordContext, Strategy, Transform


class Drop(Strategy):
    """Remove the value: the anonymized field is null."""

    name = "drop"

    def compile(self, info: FieldInfo, options: Options) -> Transform:
        def drop(value: Any, ctx: RecordContext) -> Any:
            return None
        return drop
