"""A secret value: never shown by repr or str, only by ``reveal()`` (keys, passwords)."""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T", bytes, str)


class Secret(Generic[T]):
    __slots__ = ("_value",)

    def __init__(self, value: T) -> None:
        self._value: T = value

    def reveal(self) -> T:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__
