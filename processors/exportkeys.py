"""Export parts sealed per request (docs/rights.md, "Exports"): whoever reads privacy.exports.v1
sees which request a part answers, never its contents.

An access or portability request gets its own X25519 key pair when it is accepted. The private
key is kept in the request's state (the requests changelog, Lethe's own state like the subjects'
secrets) and nowhere else; the public key goes out in the request's export commands, so a store
agent can seal its part but nobody who reads the commands can open one. Each part is sealed to
the public key: an ephemeral X25519 key pair, HKDF-SHA256 of the shared secret to an AES-256-GCM
key (processors/sealed.py), the associated data binding it to its request, source, family and
chunk. ``lethe request export`` opens the parts with the private key; once the key is destroyed
(the export written, its time up, or the subject erased), the topic's copies cannot be opened.

A sealed part's ``document`` is ``PREFIX`` + base64 of ``version | ephemeral public key (32 bytes)
| nonce | ciphertext and tag``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from processors import sealed
from processors.errors import LetheError

PREFIX = "lethe.sealed.v1:"
VERSION = 1
_INFO = b"lethe.exports.v1"
_RAW = serialization.Encoding.Raw


class ExportUnreadable(LetheError):
    """An export part that does not open: its request's key is destroyed, or it was not sealed to it."""


def new_key_pair() -> tuple[str, str]:
    """A request's (private, public) keys, base64."""
    private = X25519PrivateKey.generate()
    private_raw = private.private_bytes(_RAW, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    return _b64(private_raw), _b64(private.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw))


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _aes_key(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=ephemeral + recipient, info=_INFO).derive(shared)


def _bound(part: Mapping[str, Any]) -> bytes:
    return "\x00".join([str(part["request_id"]), str(part["source"]), str(part.get("family") or ""),
                        str(part.get("chunk", 0))]).encode()


def seal_part(public_key: str, part: Mapping[str, Any]) -> dict[str, Any]:
    """``part`` (records.export_part) with its document sealed to the request's ``public_key``."""
    recipient = base64.b64decode(public_key)
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw)
    key = _aes_key(ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient)), ephemeral_public, recipient)
    header = bytes([VERSION]) + ephemeral_public
    envelope = sealed.seal(key, header, str(part["document"]).encode(), _bound(part))
    return {**part, "document": PREFIX + _b64(envelope)}


def is_sealed(part: Mapping[str, Any]) -> bool:
    return str(part.get("document", "")).startswith(PREFIX)


def open_part(private_key: str | None, part: Mapping[str, Any]) -> dict[str, Any]:
    """``part`` with its document opened; :class:`ExportUnreadable` if the key is gone or does not fit."""
    if private_key is None:
        raise ExportUnreadable(f"the export key of request {part['request_id']} is destroyed: its parts cannot "
                               "be read any more (file a new access or portability request)")
    if not is_sealed(part):
        raise ExportUnreadable(f"an export part of request {part['request_id']} from {part['source']} is not "
                               "sealed (written by an older Lethe or not by Lethe): refused")
    envelope = base64.b64decode(str(part["document"])[len(PREFIX):])
    private = X25519PrivateKey.from_private_bytes(base64.b64decode(private_key))
    recipient = private.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw)
    ephemeral_public = envelope[1:33]
    try:
        key = _aes_key(private.exchange(X25519PublicKey.from_public_bytes(ephemeral_public)), ephemeral_public,
                       recipient)
    except ValueError:
        key = b""
    plain = sealed.unseal([key] if key else [], 33, envelope, _bound(part))
    if envelope[:1] != bytes([VERSION]) or plain is None:
        raise ExportUnreadable(f"an export part of request {part['request_id']} from {part['source']} does not "
                               "open with the request's key")
    return {**part, "document": plain.decode()}
