"""Retention (policy section 3.1), by concern: the policy's rules (``rules``), the deadlines they set
(``timers``) and legal holds (``holds``). Time utilities are in processors/time.py; the commands and
audit records a fired timer yields are built in processors/records.py.
"""

from processors.retention.holds import HOLD_ACTIONS, Hold, Holds
from processors.retention.rules import (
    ACTIONS,
    ORDER_EVENTS,
    TRIGGERS,
    RetentionRule,
    parse_duration,
    parse_retention,
)
from processors.retention.timers import FAMILIES, RECORD_KEYS, RetentionPlan, Timer, command_id
from processors.time import iso, parse_event_time, parse_time

__all__ = [
    "ACTIONS", "FAMILIES", "HOLD_ACTIONS", "ORDER_EVENTS", "RECORD_KEYS", "TRIGGERS", "Hold", "Holds",
    "RetentionPlan", "RetentionRule", "Timer", "command_id", "iso", "parse_duration", "parse_event_time",
    "parse_retention", "parse_time",
]
