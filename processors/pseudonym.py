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
