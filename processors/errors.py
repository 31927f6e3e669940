"""Lethe's errors: one root, one class per kind of failure.

Messages name the topic, the field path and the rule, never a personal value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


class LetheError(Exception):
    """Root of every error Lethe raises on purpose."""


class ConfigError(LetheError):
    """A setting read from the environment is missing or malformed."""


class PolicyError(LetheError):
    """The policy file is unreadable or names something that does not exist."""


class SchemaError(LetheError):
    """A schema file is missing or malformed."""


class RegistryUnavailable(LetheError):
    """The schema registry did not answer (or failed): the batch waits and is retried, nothing is
    dead-lettered. The message names the error type only."""


class PolicyProblems(PolicyError):
    """Several independent problems of one policy, one message each (naming its entry)."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__(self.problems[0] if len(self.problems) == 1 else
                         f"{len(self.problems)} problems:\n" + "\n".join(f"  {p}" for p in self.problems))


class Problems:
    """Collects the error of each independent entry of a policy, so that all are reported at once.

    ``run`` calls a check of one entry and returns its result, or None after recording its
    problems; ``check`` raises them together (:class:`PolicyProblems`) if there are any.
    """

    def __init__(self) -> None:
        self.messages: list[str] = []

    def run(self, check: Callable[..., T], *args: object) -> T | None:
        try:
            return check(*args)
        except PolicyProblems as exc:
            self.messages += exc.problems
        except (PolicyError, SchemaError) as exc:
            self.messages.append(str(exc))
        return None

    def check(self) -> None:
        if self.messages:
            raise PolicyProblems(self.messages)


class InvalidRecord(LetheError):
    """An input record cannot be decoded or does not validate.

    ``rule`` is a short machine-readable name (``type``, ``required``, ``enum``, ``json`` ...),
    ``path`` the dotted field path where it failed (empty for the whole record), and ``reason``
    a human sentence. None of them may contain a value taken from the record.
    """

    def __init__(self, rule: str, reason: str, path: str = "") -> None:
        self.rule = rule
        self.reason = reason
        self.path = path
        super().__init__(f"{path or '<record>'}: {reason} (rule {rule})")

    def at(self, segment: str) -> InvalidRecord:
        """Prefix the field path with an enclosing field name or index."""
        if not self.path:
            self.path = segment
        elif self.path.startswith("["):
            self.path = segment + self.path
        else:
            self.path = f"{segment}.{self.path}"
        self.args = (f"{self.path}: {self.reason} (rule {self.rule})",)
        return self
