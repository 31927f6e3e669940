"""Generalize a value to a coarser one, by the field's ``format`` schema attribute.

* ``ip``: the network address of the /ipv4_prefix or /ipv6_prefix network;
* ``latitude`` / ``longitude``: rounded to ``coordinate_decimals`` places;
* ``timestamp``: truncated to ``timestamp_unit`` (offset kept);
* ``user_agent``: reduced to "<browser family> / <OS family>";
* ``postcode``: the first ``postcode_keep`` characters;
* ``date`` (``YYYY-MM-DD``, e.g. a date of birth): the year (a string).

A value that cannot be parsed (an IP that is not one) is dropped rather than passed through.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from typing import Any

from processors.policy import Options
from processors.strategies.base import FieldInfo, RecordContext, Strategy, Transform
from processors.time import parse_date

FORMATS = ("ip", "latitude", "longitude", "timestamp", "user_agent", "postcode", "date")

# order matters: Edge and Opera also say Chrome, Chrome also says Safari
_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"),
             ("CriOS/", "Chrome"), ("Safari/", "Safari"), ("curl/", "curl"), ("bot", "Bot"))
_SYSTEMS = (("Windows", "Windows"), ("iPhone", "iOS"), ("iPad", "iOS"), ("Android", "Android"),
            ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"))
_TRUNCATE = {
    "second": {"microsecond": 0},
    "minute": {"second": 0, "microsecond": 0},
    "hour": {"minute": 0, "second": 0, "microsecond": 0},
    "day": {"hour": 0, "minute": 0, "second": 0, "microsecond": 0},
}


def user_agent_family(agent: str) -> str:
    browser = next((name for needle, name in _BROWSERS if needle in agent), "Other")
    system = next((name for needle, name in _SYSTEMS if needle in agent), "Other")
    return f"{browser} / {system}"


_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"   # 0-255, no leading zero
_DOTTED_QUAD = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}")


def generalize_ip(value: str, v4_prefix: int, v6_prefix: int) -> str | None:
    if v4_prefix == 24:
        # plain ASCII dotted quads only; anything unusual takes the strict ipaddress path
        quad = _DOTTED_QUAD.fullmatch(value)
        if quad is not None:
            return f"{quad[1]}.{quad[2]}.{quad[3]}.0"
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    prefix = v4_prefix if address.version == 4 else v6_prefix
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


class Generalize(Strategy):
    name = "generalize"

    def unsupported(self, info: FieldInfo) -> str | None:
        if info.format not in FORMATS:
            return (f"needs a field whose schema 'format' is one of {', '.join(FORMATS)}; "
                    f"{info.dotted} has format {info.format!r}")
        wanted = ("double", "float") if info.format in ("latitude", "longitude") else ("string",)
        if info.avro_type not in wanted:
            return (f"format {info.format} does not fit type {info.avro_type} of {info.dotted}; "
                    f"it needs {' or '.join(wanted)}")
        return None

    def compile(self, info: FieldInfo, options: Options) -> Transform:
        fmt = info.format
        if fmt == "ip":
            v4, v6 = options.ipv4_prefix, options.ipv6_prefix

            def ip(value: Any, ctx: RecordContext) -> Any:
                return generalize_ip(value, v4, v6)
            return ip
        if fmt in ("latitude", "longitude"):
            places = options.coordinate_decimals

            def coordinate(value: Any, ctx: RecordContext) -> Any:
                return round(value, places)
            return coordinate
        if fmt == "timestamp":
            fields = _TRUNCATE[options.timestamp_unit]

            def timestamp(value: Any, ctx: RecordContext) -> Any:
                try:
                    return datetime.fromisoformat(value).replace(**fields).isoformat()  # type: ignore[arg-type]
                except ValueError:
                    return None
            return timestamp
        if fmt == "date":
            def year(value: Any, ctx: RecordContext) -> Any:
                return value[:4] if parse_date(value) is not None else None
            return year
        if fmt == "user_agent":
            def agent(value: Any, ctx: RecordContext) -> Any:
                return user_agent_family(value)
            return agent
        keep = options.postcode_keep

        def postcode(value: Any, ctx: RecordContext) -> Any:
            compact = value.replace(" ", "")
            return compact[:keep] if len(compact) > keep else ""
        return postcode
