"""Keyed pseudonyms: deterministic, separated by domain, subject and master key; fixed length."""

from __future__ import annotations

import hashlib
import re

import pytest

from processors.pseudonym import (
    SECRET_BYTES,
    anonymous_key,
    derive_subject_key,
    new_subject_secret,
    partner_reference,
    pseudonym,
)

MASTER = b"m" * 32
OTHER_MASTER = b"n" * 32
SECRET = bytes(range(32))
OTHER_SECRET = bytes(range(1, 33))
HEX20 = re.compile(r"[0-9a-f]{20}")


def test_new_secret_is_random_and_full_length() -> None:
    secrets = {new_subject_secret() for _ in range(100)}
    assert len(secrets) == 100
    assert {len(s) for s in secrets} == {SECRET_BYTES} == {32}


def test_subject_key_is_deterministic() -> None:
    assert derive_subject_key(MASTER, SECRET) == derive_subject_key(MASTER, SECRET)
    assert len(derive_subject_key(MASTER, SECRET)) == 32


@pytest.mark.parametrize(("master", "secret"), [(OTHER_MASTER, SECRET), (MASTER, OTHER_SECRET)],
                         ids=["other-master-key", "other-secret"])
def test_subject_key_needs_both_master_and_secret(master: bytes, secret: bytes) -> None:
    assert derive_subject_key(master, secret) != derive_subject_key(MASTER, SECRET)


def test_subject_key_is_not_the_inputs() -> None:
    key = derive_subject_key(MASTER, SECRET)
    assert key not in (MASTER, SECRET)


def test_anonymous_key_is_deterministic_per_master_and_not_a_subject_key() -> None:
    assert anonymous_key(MASTER) == anonymous_key(MASTER)
    assert anonymous_key(MASTER) != anonymous_key(OTHER_MASTER)
    assert len(anonymous_key(MASTER)) == 32
    # the anonymous key is the subject key of the 18-byte "secret" b"lethe.anonymous.v1"; real secrets are
    # 32 bytes, so no subject can share it
    assert anonymous_key(MASTER) == derive_subject_key(MASTER, b"lethe.anonymous.v1")
    assert all(anonymous_key(MASTER) != derive_subject_key(MASTER, new_subject_secret()) for _ in range(100))


@pytest.mark.parametrize("value", ["cust-8841", "", "Zofia Kowalczyk", "ünïcødé ✓", "x" * 100_000])
def test_pseudonym_is_20_hex_digits_and_deterministic(value: str) -> None:
    key = derive_subject_key(MASTER, SECRET)
    first = pseudonym(key, b"subject", value)
    assert HEX20.fullmatch(first)
    assert pseudonym(key, b"subject", value) == first


@pytest.mark.parametrize(("domain", "other"), [
    (b"subject", b"order_id"),
    (b"order_id", b"session_id"),
    (b"order_id", b"order_ic"),
    (b"", b"subject"),
], ids=lambda d: d.decode() or "empty")
def test_domains_are_separated(domain: bytes, other: bytes) -> None:
    key = derive_subject_key(MASTER, SECRET)
    assert pseudonym(key, domain, "same") != pseudonym(key, other, "same")


def test_keys_are_separated() -> None:
    one, two = derive_subject_key(MASTER, SECRET), derive_subject_key(MASTER, OTHER_SECRET)
    assert pseudonym(one, b"subject", "cust-1") != pseudonym(two, b"subject", "cust-1")
    assert pseudonym(one, b"subject", "cust-1") != pseudonym(anonymous_key(MASTER), b"subject", "cust-1")


def test_values_are_separated() -> None:
    key = derive_subject_key(MASTER, SECRET)
    values = [f"cust-{i}" for i in range(1000)]
    assert len({pseudonym(key, b"subject", v) for v in values}) == len(values)


def test_domain_may_be_16_bytes_but_no_more() -> None:
    key = derive_subject_key(MASTER, SECRET)
    assert HEX20.fullmatch(pseudonym(key, b"x" * 16, "v"))
    with pytest.raises(ValueError):
        pseudonym(key, b"x" * 17, "v")


def test_known_answer() -> None:
    # pins the derivation: changing it would re-key every pseudonym already published
    key = derive_subject_key(MASTER, SECRET)
    spec = hashlib.blake2b(SECRET, key=MASTER, digest_size=32, person=b"lethe.subject.v1").digest()
    assert key == spec
    assert pseudonym(key, b"subject", "cust-8841") == "d57fdc940fa21d1bf72b"


@pytest.mark.parametrize(("master", "partner", "subject"), [
    (OTHER_MASTER, "parcelco", "cust-1"),   # another deployment
    (MASTER, "paynow", "cust-1"),           # another partner: two partners cannot join on it
    (MASTER, "parcelco", "cust-2"),         # another subject
    (MASTER, "parcelc", "ocust-1"),         # the partner/subject boundary is not ambiguous
], ids=["master-key", "partner", "subject", "boundary"])
def test_a_partner_reference_differs_with_each_input(master: bytes, partner: str, subject: str) -> None:
    assert partner_reference(master, partner, subject) != partner_reference(MASTER, "parcelco", "cust-1")


def test_a_partner_reference_is_stable_and_reveals_nothing() -> None:
    reference = partner_reference(MASTER, "parcelco", "cust-1")
    assert reference == partner_reference(MASTER, "parcelco", "cust-1")
    assert re.fullmatch(r"[0-9a-f]{32}", reference) and "cust" not in reference
