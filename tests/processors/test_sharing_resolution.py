"""The sharing ledger's resolution (processors/sharing.py): when an entry a batch creates or changes is
written, and which held-back entries fall due. Tables of cases, no I/O."""

from __future__ import annotations

import pytest

from processors.errors import PolicyError
from processors.sharing import HeldBack, Key, Sharing, parse_sharing, write_now

HOUR = 3600.0
T0 = 1_795_253_400.0   # 2026-11-21 09:30 UTC

WRITE_NOW = [
    # case, created, terms changed, written at, now, resolution, written with the batch
    ("a new entry: always, before the partner gets the record", True, False, T0, T0, HOUR, True),
    ("a new entry under a long resolution too", True, False, T0, T0 + 1, 365 * 24 * HOUR, True),
    ("count and last time moved within the resolution: held back", False, False, T0, T0 + 10, HOUR, False),
    ("one second short of the resolution: held back", False, False, T0, T0 + HOUR - 1, HOUR, False),
    ("exactly the resolution since the last write: written", False, False, T0, T0 + HOUR, HOUR, True),
    ("long after the last write: written", False, False, T0, T0 + 30 * HOUR, HOUR, True),
    ("the partner's terms changed (a new policy): written at once", False, True, T0, T0 + 10, HOUR, True),
    ("a short resolution", False, False, T0, T0 + 2, 1.0, True),
]


@pytest.mark.parametrize(("case", "created", "terms_changed", "written_at", "now", "resolution", "expected"),
                         WRITE_NOW, ids=[c[0] for c in WRITE_NOW])
def test_write_now(case: str, created: bool, terms_changed: bool, written_at: float, now: float,
                   resolution: float, expected: bool) -> None:
    assert write_now(created, terms_changed, written_at, now, resolution) is expected


A: Key = ("c1", "parcelco", "identity.name")
B: Key = ("c1", "parcelco", "contact.address")
C: Key = ("c2", "paynow", "transaction.payment")

# steps: ("hold", partition, key, written at) | ("written", key) | ("due", now, taken) | ("of", partitions, taken)
HELD_BACK: list[tuple[str, list[tuple[object, ...]]]] = [
    ("nothing held, nothing due", [("due", T0 + 10 * HOUR, [])]),
    ("held: due one resolution after its last write, not before",
     [("hold", 0, A, T0), ("due", T0 + HOUR - 1, []), ("due", T0 + HOUR, [(0, A)]), ("due", T0 + 2 * HOUR, [])]),
    ("held again and again within the resolution: still due once, at the first time",
     [("hold", 0, A, T0), ("hold", 0, A, T0), ("hold", 0, A, T0), ("due", T0 + HOUR, [(0, A)]),
      ("due", T0 + 3 * HOUR, [])]),
    ("written with a batch meanwhile: nothing is due",
     [("hold", 0, A, T0), ("written", A), ("due", T0 + HOUR, [])]),
    ("written, then held again after a later write: due after that write only",
     [("hold", 0, A, T0), ("written", A), ("hold", 0, A, T0 + 100), ("due", T0 + HOUR, []),
      ("due", T0 + HOUR + 100, [(0, A)])]),
    ("entries fall due in the order of their last writes",
     [("hold", 1, B, T0 + 50), ("hold", 0, A, T0), ("hold", 2, C, T0 + 200),
      ("due", T0 + HOUR + 60, [(0, A), (1, B)]), ("due", T0 + HOUR + 200, [(2, C)])]),
    ("a revoked partition's entries are taken whatever their time, the others stay",
     [("hold", 0, A, T0), ("hold", 0, B, T0), ("hold", 1, C, T0), ("of", {0}, [(0, A), (0, B)]),
      ("due", T0 + HOUR, [(1, C)])]),
    ("a clean stop takes every partition's entries once",
     [("hold", 0, A, T0), ("hold", 1, C, T0 + 5), ("of", {0, 1}, [(0, A), (1, C)]), ("of", {0, 1}, []),
      ("due", T0 + 2 * HOUR, [])]),
]


@pytest.mark.parametrize(("case", "steps"), HELD_BACK, ids=[c[0] for c in HELD_BACK])
def test_held_back(case: str, steps: list[tuple[object, ...]]) -> None:
    held = HeldBack(HOUR)
    for step in steps:
        match step:
            case ("hold", int(partition), tuple(key), float(written_at)):
                held.hold(partition, key, written_at)
            case ("written", tuple(key)):
                held.written(key)
            case ("due", float(now), list(taken)):
                assert sorted(held.due(now)) == sorted(taken), step
            case ("of", set(partitions), list(taken)):
                assert sorted(held.of_partitions(partitions)) == sorted(taken), step
            case _:
                raise AssertionError(f"unknown step {step!r}")
    assert len(held) == len(held.held)


@pytest.mark.parametrize(("raw", "expected"), [
    ({}, Sharing(3600.0)),
    ({"resolution": "15m"}, Sharing(900.0)),
    ({"resolution": "1d"}, Sharing(86400.0)),
    ({"resolution": "1s"}, Sharing(1.0)),
])
def test_parse_sharing(raw: dict[str, object], expected: Sharing) -> None:
    assert parse_sharing(raw, "p.toml") == expected


@pytest.mark.parametrize(("raw", "message"), [
    ({"resolution": "0s"}, "sharing.resolution = '0s': must be longer than zero"),
    ({"resolution": "hourly"}, "sharing.resolution = 'hourly': not a duration"),
    ({"resolution": 60}, "sharing.resolution = 60: not a duration"),
    ({"granularity": "1h"}, "[sharing]: unknown key(s) granularity"),
    ("1h", "[sharing] must be a table"),
])
def test_parse_sharing_mistakes(raw: object, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_sharing(raw, "p.toml")
    assert str(caught.value).startswith("policy p.toml: ") and message in str(caught.value)
