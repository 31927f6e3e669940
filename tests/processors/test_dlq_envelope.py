"""The sealed dead letter (processors/dlq.py): it opens with its key only, and not once tampered with."""

from __future__ import annotations

import pytest

from processors.dlq import (
    DEPLOYMENT,
    SUBJECT,
    Keyring,
    NotAnEnvelope,
    Selection,
    Unsealable,
    deployment_key,
    kind_of,
    letter_key,
    seal,
    subject_key,
    unseal,
)
from processors.pseudonym import derive_subject_key, new_subject_secret

MASTER = bytes(range(32))
HEADERS = {"source_topic": b"orders.v1", "source_partition": b"2", "source_offset": b"41", "rule": b"enum",
           "failed_at": b"2026-12-01T10:00:00+00:00"}
ORIGINAL = b'{"customer_id": "cust-7", "email": "ada.lovelace@example.org"}'


@pytest.mark.parametrize(("key", "value"), [(b"cust-7", ORIGINAL), (None, ORIGINAL), (b"cust-7", None),
                                            (b"", b""), (None, None), (b"k" * 300, bytes(range(256)) * 50)])
def test_a_sealed_dead_letter_opens_to_its_original_key_and_value(key: bytes | None, value: bytes | None) -> None:
    aes = subject_key(MASTER, new_subject_secret())
    envelope = seal(aes, SUBJECT, key, HEADERS, key, value)
    assert kind_of(envelope) == SUBJECT
    assert unseal([aes], envelope, key, HEADERS) == (key, value)
    if value:
        assert value not in envelope


def test_it_does_not_open_with_another_subjects_secret_a_new_secret_or_the_deployment_key() -> None:
    secret = new_subject_secret()
    envelope = seal(subject_key(MASTER, secret), SUBJECT, b"cust-7", HEADERS, b"cust-7", ORIGINAL)
    others = [subject_key(MASTER, new_subject_secret()), deployment_key(MASTER),
              subject_key(bytes(32), secret),            # the right secret under another master key
              derive_subject_key(MASTER, secret)]        # the subject's pseudonym key is another key
    with pytest.raises(Unsealable):
        unseal(others, envelope, b"cust-7", HEADERS)
    assert unseal([*others, subject_key(MASTER, secret)], envelope, b"cust-7", HEADERS)[1] == ORIGINAL


def test_the_deployment_key_opens_what_it_sealed() -> None:
    envelope = seal(deployment_key(MASTER), DEPLOYMENT, None, HEADERS, None, ORIGINAL)
    assert kind_of(envelope) == DEPLOYMENT
    assert unseal([deployment_key(MASTER)], envelope, None, HEADERS) == (None, ORIGINAL)
    assert deployment_key(MASTER) != deployment_key(bytes(32))


def test_a_subjects_letter_key_is_its_own_and_names_no_one() -> None:
    secret = new_subject_secret()
    key = letter_key(secret)
    assert key == letter_key(secret) and len(key) == 32 and int(key, 16) >= 0   # stable: one partition per subject
    assert key not in {letter_key(new_subject_secret()) for _ in range(50)}
    assert b"cust-7" not in key and secret.hex().encode() not in key


SECRET_A, SECRET_B = bytes(range(32)), bytes(range(32, 64))   # fixed: xdist workers collect the same ids


def sealed_for(secret: bytes, dlq_key: bytes) -> bytes:
    return seal(subject_key(MASTER, secret), SUBJECT, dlq_key, HEADERS, b"cust-a", ORIGINAL)


@pytest.mark.parametrize(("held", "dlq_key", "secret", "opens"), [
    ({"cust-a": [SECRET_A]}, letter_key(SECRET_A), SECRET_A, True),        # keyed by its letter key
    ({"cust-a": [SECRET_A]}, b"cust-a", SECRET_A, True),                   # keyed by the id (before letter_key)
    ({"cust-a": [SECRET_B, SECRET_A]}, letter_key(SECRET_A), SECRET_A, True),   # held in two partitions
    ({"cust-b": [SECRET_B]}, letter_key(SECRET_A), SECRET_A, False),       # erased: its secret is gone
    ({}, b"cust-a", SECRET_A, False),
    ({"cust-a": [SECRET_B]}, letter_key(SECRET_A), SECRET_A, False),       # a new secret after the erasure
], ids=["letter-key", "id-key", "two-partitions", "erased", "nothing-held", "new-secret"])
def test_the_keyring_finds_a_dead_letters_secret_by_its_key(held: dict[str, list[bytes]], dlq_key: bytes,
                                                              secret: bytes, opens: bool) -> None:
    opened = Keyring(MASTER, held).open(sealed_for(secret, dlq_key), dlq_key, HEADERS)
    assert (opened.sealed_with, opened.readable) == ("subject", opens)
    assert (opened.key, opened.value) == ((b"cust-a", ORIGINAL) if opens else (None, None))


def tampered(envelope: bytes, at: int) -> bytes:
    return envelope[:at] + bytes([envelope[at] ^ 1]) + envelope[at + 1:]


@pytest.mark.parametrize("at", [14, 20, -1])   # the ciphertext, its middle, the tag
def test_a_flipped_bit_does_not_open(at: int) -> None:
    aes = subject_key(MASTER, new_subject_secret())
    envelope = seal(aes, SUBJECT, b"cust-7", HEADERS, b"cust-7", ORIGINAL)
    with pytest.raises(Unsealable):
        unseal([aes], tampered(envelope, at % len(envelope)), b"cust-7", HEADERS)


@pytest.mark.parametrize(("key", "headers"), [
    (b"cust-8", HEADERS),                                   # moved to another subject's key
    (b"cust-7", {**HEADERS, "source_offset": b"42"}),        # onto another dead letter's headers
    (b"cust-7", {**HEADERS, "source_topic": b"logs.v1"}),
])
def test_an_envelope_moved_to_other_headers_or_key_does_not_open(key: bytes, headers: dict[str, bytes]) -> None:
    aes = subject_key(MASTER, new_subject_secret())
    envelope = seal(aes, SUBJECT, b"cust-7", HEADERS, b"cust-7", ORIGINAL)
    with pytest.raises(Unsealable):
        unseal([aes], envelope, key, headers)


def test_the_kind_byte_is_bound_too() -> None:
    aes = deployment_key(MASTER)
    envelope = seal(aes, DEPLOYMENT, None, HEADERS, None, ORIGINAL)
    with pytest.raises(Unsealable):
        unseal([aes], envelope[:1] + SUBJECT + envelope[2:], None, HEADERS)


@pytest.mark.parametrize("value", [None, b"", ORIGINAL, b"\x02s" + bytes(40), b"\x01x" + bytes(40), b"\x01s"])
def test_what_is_not_an_envelope_says_so(value: bytes | None) -> None:
    with pytest.raises(NotAnEnvelope):
        kind_of(value)


@pytest.mark.parametrize(("selection", "takes"), [
    (Selection(), True),
    (Selection(rule="enum"), True),
    (Selection(rule="type"), False),
    (Selection(since=1764583200.0), True),          # 2025-12-01T10:00Z: before it failed
    (Selection(since=1796122800.0), False),         # 2026-12-01T11:00Z: after it failed
    (Selection(rule="enum", since=0.0), True),
])
def test_a_selection_by_rule_and_failure_time(selection: Selection, takes: bool) -> None:
    assert selection.takes(HEADERS) is takes


def test_a_dead_letter_without_a_readable_time_is_not_taken_by_since() -> None:
    assert not Selection(since=0.0).takes({**HEADERS, "failed_at": b"yesterday"})
