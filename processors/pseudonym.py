"""Keyed pseudonyms, stable per data subject and unlinkable once the subject's secret is gone.

Each subject has a random secret held in Lethe's state (a changelog-backed table). The key that
pseudonymizes that subject's values is derived from the secret *and* the deployment's master key
(from the environment), so neither the state topic alone nor the master key alone yields a
pseudonym. Destroying a subject's secret (crypto-shredding) makes every pseudonym issued for the
subject unlinkable to the subject and to each other's future values.
"""

from __future__ import annotations

import hashlib
import os

SECRET_BYTES = 32
_SUBJECT_PERSON = b"lethe.subject.v1"
_ANONYMOUS = b"lethe.anonymous.v1"
_PARTNER = b"lethe.partner.v1"


def new_subject_secret() -> bytes:
    return os.urandom(SECRET_BYTES)


def derive_subject_key(master_key: bytes, subject_secret: bytes) -> bytes:
    return hashlib.blake2b(subject_secret, key=master_key, digest_size=32, person=_SUBJECT_PERSON).digest()


def anonymous_key(master_key: bytes) -> bytes:
    """Key for records that name no subject (e.g. logs of anonymous sessions)."""
    return hashlib.blake2b(_ANONYMOUS, key=master_key, digest_size=32, person=_SUBJECT_PERSON).digest()


def pseudonym(subject_key: bytes, domain: bytes, value: str) -> str:
    """A 20-hex-digit pseudonym of ``value`` within ``domain`` (at most 16 bytes, e.g. b"order_id")."""
    return hashlib.blake2b(value.encode("utf-8"), key=subject_key, digest_size=10, person=domain).hexdigest()


def partner_reference(master_key: bytes, partner: str, subject: str) -> str:
    """The subject's reference at one partner (docs/sharing.md): a 32-hex-digit keyed hash of the
    partner's name and the subject's id under the deployment's master key.

    A partner receives it in every record (``lethe.subject``) instead of the subject's id, and
    Lethe's erasure and rectification commands to that partner name the subject by it. It is
    stable (a later command still finds the rows, also after the subject's secret is destroyed),
    differs per partner (two partners cannot join their records on it), and only a holder of the
    master key can compute it from a subject's id.
    """
    value = partner.encode("utf-8") + b"\x00" + subject.encode("utf-8")
    return hashlib.blake2b(value, key=master_key, digest_size=16, person=_PARTNER).hexdigest()
