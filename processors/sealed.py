"""Authenticated encryption of Lethe's sealed records (dead letters, export parts): AES-256-GCM from
``cryptography``, a random 96-bit nonce per record, laid out as ``header | nonce | ciphertext+tag``.
The header (version and kind bytes, each user's own) is clear; the associated data binds the
envelope to where it belongs. Pure: keys come in as bytes."""

from __future__ import annotations

import os
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
TAG_BYTES = 16


def seal(aes_key: bytes, header: bytes, plain: bytes, associated: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return header + nonce + AESGCM(aes_key).encrypt(nonce, plain, associated)


def unseal(aes_keys: Iterable[bytes], header_bytes: int, value: bytes, associated: bytes) -> bytes | None:
    """The plain text, opened with the first of ``aes_keys`` that fits; None if none does."""
    nonce, sealed = value[header_bytes:header_bytes + NONCE_BYTES], value[header_bytes + NONCE_BYTES:]
    for aes_key in aes_keys:
        try:
            return AESGCM(aes_key).decrypt(nonce, sealed, associated)
        except InvalidTag:
            continue
    return None
