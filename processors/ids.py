"""The namespace of every id Lethe derives (command ids, audit ids): the same input gives the same id."""

from __future__ import annotations

import uuid

LETHE_NAMESPACE = uuid.UUID("6d1f3c52-8f5e-4b8f-9a57-3d0c2f1e7a10")


def derived_id(name: str) -> str:
    return str(uuid.uuid5(LETHE_NAMESPACE, name))
