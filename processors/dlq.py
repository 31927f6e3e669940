"""Dead letters sealed so that erasure reaches them (docs/dlq.md).

A ``dlq.v1`` record's value is an envelope, never the rejected record in clear::

    version (1 byte, 0x01) | sealed with (1 byte: b"s" subject, b"d" deployment) | nonce (12 bytes)
    | AES-256-GCM ciphertext and tag of: key length (4 bytes, big-endian; 0xFFFFFFFF for no key)
      | original key | original value (absent for a null value: flag byte 0x00, else 0x01 then bytes)

The AES key of a subject's dead letters is derived from the deployment's master key *and* the
subject's secret (the one its pseudonyms are keyed with, :mod:`processors.pseudonym`), with its own
personalization, so that destroying the secret at erasure (crypto-shredding) makes them unreadable.
A dead letter with no key (no subject to name) is sealed with a key derived from the master key
alone. The associated data binds the envelope to its DLQ key and to the source topic, partition and
offset headers: a value moved onto another dead letter's headers does not open.

A subject's dead letter is keyed on dlq.v1 by :func:`letter_key`, a reference derived from the same
secret, never by the subject's id: all of a subject's dead letters share a key (and a partition)
while the secret lives, and once it is destroyed nothing links them to the subject any more. A
dead letter sealed with the deployment key has no key on dlq.v1 (its original key is inside).

Pure: keys and secrets come in as bytes; :mod:`streams.dlq` finds them.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from processors import sealed
from processors.errors import LetheError
from processors.time import parse_time

VERSION = 1
SUBJECT = b"s"       # sealed with a key derived from the subject's secret
DEPLOYMENT = b"d"    # sealed with the deployment's DLQ key (no subject)
NONCE_BYTES = sealed.NONCE_BYTES
_PERSON = b"lethe.dlq.v1"
_KEY_PERSON = b"lethe.dlqkey.v1"
_DEPLOYMENT_INFO = b"deployment"
_NO_KEY = 0xFFFFFFFF
# the headers the associated data binds (processors/records.py dlq_headers writes them)
BOUND_HEADERS = ("source_topic", "source_partition", "source_offset")


class Unsealable(LetheError):
    """A dlq.v1 value that does not open with the key given (erased subject, wrong master key, tampering)."""


class NotAnEnvelope(LetheError):
    """A dlq.v1 value that is not a sealed envelope (written by a Lethe older than sealed dead letters)."""


def subject_key(master_key: bytes, subject_secret: bytes) -> bytes:
    """The AES-256 key of a subject's dead letters: gone once the subject's secret is."""
    return hashlib.blake2b(subject_secret, key=master_key, digest_size=32, person=_PERSON).digest()


def letter_key(subject_secret: bytes) -> bytes:
    """The dlq.v1 key of a subject's dead letters: 32 hex digits that name no one once the secret is gone.

    Derived from the secret alone (a one-way hash with its own personalization), so that whoever may
    read the secrets changelog (``lethe audit``) finds a subject's dead letters without the master
    key; opening them still takes both."""
    return hashlib.blake2b(subject_secret, digest_size=16, person=_KEY_PERSON).hexdigest().encode()


def deployment_key(master_key: bytes) -> bytes:
    """The AES-256 key of dead letters that name no subject."""
    return hashlib.blake2b(_DEPLOYMENT_INFO, key=master_key, digest_size=32, person=_PERSON).digest()


def associated_data(kind: bytes, dlq_key: bytes | None, headers: Mapping[str, bytes]) -> bytes:
    bound = [headers.get(name, b"") for name in BOUND_HEADERS]
    return b"\x00".join([bytes([VERSION]) + kind, dlq_key or b"", *bound])


def _pack(key: bytes | None, value: bytes | None) -> bytes:
    head = struct.pack(">I", _NO_KEY if key is None else len(key)) + (key or b"")
    return head + (b"\x00" if value is None else b"\x01" + value)


def _unpack(plain: bytes) -> tuple[bytes | None, bytes | None]:
    (length,) = struct.unpack_from(">I", plain)
    at = 4 if length == _NO_KEY else 4 + length
    key = None if length == _NO_KEY else plain[4:at]
    return key, (None if plain[at:at + 1] == b"\x00" else plain[at + 1:])


def seal(aes_key: bytes, kind: bytes, dlq_key: bytes | None, headers: Mapping[str, bytes],
         original_key: bytes | None, original_value: bytes | None) -> bytes:
    """The envelope of one dead letter (``kind``: :data:`SUBJECT` or :data:`DEPLOYMENT`)."""
    return sealed.seal(aes_key, bytes([VERSION]) + kind, _pack(original_key, original_value),
                       associated_data(kind, dlq_key, headers))


def kind_of(value: bytes | None) -> bytes:
    """:data:`SUBJECT` or :data:`DEPLOYMENT`; :class:`NotAnEnvelope` if ``value`` is not an envelope."""
    if value is None or len(value) < 2 + NONCE_BYTES + sealed.TAG_BYTES or value[0] != VERSION or value[1:2] not in (
            SUBJECT, DEPLOYMENT):
        raise NotAnEnvelope("not a sealed dead letter (version 1)")
    return value[1:2]


def unseal(aes_keys: Iterable[bytes], value: bytes | None, dlq_key: bytes | None,
           headers: Mapping[str, bytes]) -> tuple[bytes | None, bytes | None]:
    """The original (key, value) of a dead letter, opened with the first of ``aes_keys`` that fits."""
    kind = kind_of(value)
    assert value is not None
    plain = sealed.unseal(aes_keys, 2, value, associated_data(kind, dlq_key, headers))
    if plain is None:
        raise Unsealable("the dead letter does not open with the keys held")
    return _unpack(plain)


@dataclass(frozen=True)
class Selection:
    """Which dead letters ``lethe dlq show|replay`` take: by rule and by the time they failed."""

    rule: str | None = None
    since: float | None = None   # epoch seconds

    def takes(self, headers: Mapping[str, bytes]) -> bool:
        if self.rule is not None and headers.get("rule", b"").decode(errors="replace") != self.rule:
            return False
        if self.since is not None:
            try:
                return parse_time(headers.get("failed_at", b"").decode()) >= self.since
            except (ValueError, UnicodeDecodeError):
                return False
        return True


def replay_id(dlq_topic: str, partition: int, offset: int) -> str:
    """The key of a dead letter's replay marker: each dead letter is replayed once."""
    return f"{dlq_topic}:{partition}:{offset}"


@dataclass(frozen=True)
class Opened:
    """A dead letter as ``lethe dlq show|replay`` see it: its original key and value, if readable."""

    sealed_with: str             # "subject", "deployment", or "none" (written before sealing)
    readable: bool
    key: bytes | None = None
    value: bytes | None = None


@dataclass
class Keyring:
    """The keys an operator holds: the master key and the subjects' secrets (from their changelog)."""

    master_key: bytes
    secrets: Mapping[str, list[bytes]]   # subject -> its secrets (one per partition holding it, usually one)

    def __post_init__(self) -> None:
        self._by_letter_key = {letter_key(secret): secret
                               for held in self.secrets.values() for secret in held}

    def open(self, value: bytes | None, dlq_key: bytes | None, headers: Mapping[str, bytes]) -> Opened:
        try:
            kind = kind_of(value)
        except NotAnEnvelope:   # a dead letter of a Lethe that did not seal them: the original itself
            return Opened("none", True, dlq_key, value)
        if kind == DEPLOYMENT:
            keys = [deployment_key(self.master_key)]
        else:
            secret = self._by_letter_key.get(dlq_key or b"")
            # a dead letter written before letter_key was keyed by the subject's id itself
            held = [secret] if secret is not None else self.secrets.get((dlq_key or b"").decode(errors="replace"), [])
            keys = [subject_key(self.master_key, s) for s in held]
        name = "subject" if kind == SUBJECT else "deployment"
        try:
            key, original = unseal(keys, value, dlq_key, headers)
        except Unsealable:
            return Opened(name, False)
        return Opened(name, True, key, original)
