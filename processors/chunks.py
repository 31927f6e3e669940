"""Splitting a list of records into pieces under a size limit (export parts, store exports)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

CHUNK_BYTES = 256 * 1024


def chunked(items: list[Any], size_of: Callable[[Any], int], limit: int = CHUNK_BYTES) -> list[list[Any]]:
    """``items`` in consecutive chunks of at most ``limit`` bytes each (at least one chunk, maybe empty)."""
    chunks: list[list[Any]] = [[]]
    size = 0
    for item in items:
        item_size = size_of(item)
        if chunks[-1] and size + item_size > limit:
            chunks.append([])
            size = 0
        chunks[-1].append(item)
        size += item_size
    return chunks
