from __future__ import annotations

from typing import Any

from processors.policy import Options
from processors.strategies.base import FieldInfo, RecordContext, Strategy, Transform


class Mask(Strategy):
    """Replace all but the last ``mask_keep_last`` characters; short values are masked whole.

    A value is shown in part only when at least three times as many characters are hidden as
    shown, so the visible tail can never be most of the value.
    """

    name = "mask"

    def unsupported(self, info: FieldInfo) -> str | None:
        return None if info.avro_type == "string" else f"needs a string field, {info.dotted} is {info.avro_type}"

    def compile(self, info: FieldInfo, options: Options) -> Transform:
        keep, char = options.mask_keep_last, options.mask_char

        def mask(value: Any, ctx: RecordContext) -> Any:
            n = len(value)
            if keep == 0 or n < 4 * keep:
                return char * n
            return char * (n - keep) + value[-keep:]
        return mask
