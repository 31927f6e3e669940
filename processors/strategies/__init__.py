"""Anonymization strategies, one per file; register a new one with one line below."""

from processors.strategies.base import FieldInfo, RecordContext, Strategy, Transform
from processors.strategies.derive import Derive
from processors.strategies.drop import Drop
from processors.strategies.generalize import Generalize
from processors.strategies.keep import Keep
from processors.strategies.mask import Mask
from processors.strategies.pseudonymize import Pseudonymize
from processors.strategies.redact import Redact

STRATEGIES: dict[str, Strategy] = {
    s.name: s for s in (Keep(), Drop(), Pseudonymize(), Mask(), Generalize(), Redact(), Derive())
}

__all__ = ["STRATEGIES", "FieldInfo", "RecordContext", "Strategy", "Transform"]
