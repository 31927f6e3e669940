from __future__ import annotations

from typing import Any

from processors.policy import Options
from processors.strategies.base import FieldInfo, RecordContext, Strategy, Transform


class Keep(Strategy):
    """Pass the value through unchanged (it is still tagged)."""

    name = "keep"

    def compile(self, info: FieldInfo, options: Options) -> Transform:
        def keep(value: Any, ctx: RecordContext) -> Any:
            return value
        return keep
