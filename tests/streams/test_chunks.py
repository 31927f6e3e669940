"""Export parts are split into chunks under the size limit, in order, nothing lost (pure)."""

from __future__ import annotations

import json

from processors.chunks import chunked


def test_chunks_stay_under_the_limit_and_keep_every_item_in_order() -> None:
    rows = [{"n": n, "text": "x" * (n % 50)} for n in range(2000)]
    pieces = chunked(rows, lambda row: len(json.dumps(row)), limit=4096)
    assert len(pieces) > 10
    assert [row for piece in pieces for row in piece] == rows
    assert all(sum(len(json.dumps(r)) for r in piece) <= 4096 for piece in pieces)


def test_an_item_larger_than_the_limit_gets_a_chunk_of_its_own() -> None:
    assert chunked(["a", "b" * 10, "c"], len, limit=5) == [["a"], ["b" * 10], ["c"]]


def test_nothing_is_one_empty_chunk() -> None:
    assert chunked([], len) == [[]]
