"""generalize: a coarser value chosen by the field's schema format."""

from __future__ import annotations

from typing import Any

import pytest

from processors.policy import Options
from processors.strategies import STRATEGIES, FieldInfo, RecordContext
from processors.strategies.generalize import Generalize, generalize_ip, user_agent_family

IP = FieldInfo(("ip",), "string", "network.ip", "ip")
LAT = FieldInfo(("geo", "lat"), "double", "location.precise", "latitude")
LON = FieldInfo(("geo", "lon"), "float", "location.precise", "longitude")
TIMESTAMP = FieldInfo(("occurred_at",), "string", "behavior.browsing", "timestamp")
AGENT = FieldInfo(("user_agent",), "string", "device.info", "user_agent")
POSTCODE = FieldInfo(("shipping_address", "postcode"), "string", "contact.address", "postcode")
BIRTH = FieldInfo(("customer", "date_of_birth"), "string", "identity.dob", "date")

UNSUPPORTED = [
    (FieldInfo(("customer", "name"), "string", "identity.name"), "customer.name has format None"),
    (FieldInfo(("url",), "string", "behavior.browsing", "url"), "url has format 'url'"),
    (FieldInfo(("customer_id",), "string", "identifier.customer", "subject"), "customer_id has format 'subject'"),
    (FieldInfo(("geo", "lat"), "string", "location.precise", "latitude"), "format latitude does not fit type string"),
    (FieldInfo(("geo", "lon"), "int", "location.precise", "longitude"), "format longitude does not fit type int"),
    (FieldInfo(("ip",), "double", "network.ip", "ip"), "format ip does not fit type double of ip"),
    (FieldInfo(("geo", "lat"), "enum", "location.precise", "latitude"), "format latitude does not fit type enum"),
    # regression: string formats on non-string fields used to compile and then crash on every record
    (FieldInfo(("occurred_at",), "long", "behavior.browsing", "timestamp"), "format timestamp does not fit type long"),
    (FieldInfo(("ip",), "int", "network.ip", "ip"), "format ip does not fit type int"),
    (FieldInfo(("user_agent",), "boolean", "device.info", "user_agent"), "format user_agent does not fit type boolean"),
    (FieldInfo(("pc",), "enum", "contact.address", "postcode"), "format postcode does not fit type enum"),
    (FieldInfo(("dob",), "long", "identity.dob", "date"), "format date does not fit type long"),
]


def apply(info: FieldInfo, value: Any, **options: Any) -> Any:
    return Generalize().compile(info, Options(**options))(value, RecordContext(b"k"))


def test_registered() -> None:
    assert isinstance(STRATEGIES["generalize"], Generalize)


@pytest.mark.parametrize("info", [IP, LAT, LON, TIMESTAMP, AGENT, POSTCODE, BIRTH], ids=lambda info: str(info.format))
def test_applies_to_formatted_fields(info: FieldInfo) -> None:
    assert Generalize().unsupported(info) is None


@pytest.mark.parametrize(("info", "reason"), UNSUPPORTED,
                         ids=lambda v: f"{v.dotted}:{v.avro_type}" if isinstance(v, FieldInfo) else "")
def test_refuses_fields_without_a_fitting_format(info: FieldInfo, reason: str) -> None:
    problem = Generalize().unsupported(info)
    assert problem is not None
    assert reason in problem


IPS = [
    # value, ipv4 prefix, ipv6 prefix, expected
    ("203.0.113.57", 24, 48, "203.0.113.0"),
    ("198.51.100.255", 24, 48, "198.51.100.0"),
    ("203.0.113.57", 16, 48, "203.0.0.0"),
    ("203.0.113.57", 32, 48, "203.0.113.57"),
    ("203.0.113.57", 0, 48, "0.0.0.0"),
    ("203.0.113.57", 20, 48, "203.0.112.0"),
    (" 203.0.113.57 ", 24, 48, "203.0.113.0"),
    ("2001:db8:85a3:1234:5678:8a2e:370:7334", 24, 48, "2001:db8:85a3::"),
    ("2001:db8:85a3:1234:5678:8a2e:370:7334", 24, 64, "2001:db8:85a3:1234::"),
    ("2001:DB8::1", 24, 32, "2001:db8::"),
    ("::1", 24, 0, "::"),
    ("not an ip", 24, 48, None),
    ("256.1.1.1", 24, 48, None),
    ("1.2.3", 24, 48, None),
    ("1.2.3.4.5", 24, 48, None),
    ("1.2.3.4/24", 24, 48, None),
    ("", 24, 48, None),
    ("zofia.kowalczyk@leak.example", 24, 48, None),
    # regression: the /24 fast path used to crash on "²" and to accept what ipaddress rejects
    ("1.2.3.²", 24, 48, None),
    ("01.02.03.04", 24, 48, None),
    ("01.02.03.04", 16, 48, None),
    ("١٩٢.168.1.1", 24, 48, None),
    ("١٩٢.168.1.1", 16, 48, None),
    ("0.0.0.0", 24, 48, "0.0.0.0"),
    ("10.0.0.255", 24, 48, "10.0.0.0"),
]


@pytest.mark.parametrize(("value", "v4", "v6", "expected"), IPS, ids=[f"{c[0]!r}/{c[1]}/{c[2]}" for c in IPS])
def test_ip(value: str, v4: int, v6: int, expected: str | None) -> None:
    assert generalize_ip(value, v4, v6) == expected
    assert apply(IP, value, ipv4_prefix=v4, ipv6_prefix=v6) == expected


@pytest.mark.parametrize("value", ["01.02.03.04", "١٩٢.168.1.1", "1.2.3.²", "203.0.113.57", "0.0.0.0"])
def test_ip_fast_path_agrees_with_ipaddress(value: str) -> None:
    assert (generalize_ip(value, 24, 48) is None) == (generalize_ip(value, 16, 48) is None)


COORDINATES = [
    # value, decimals, expected
    (51.523767, 1, 51.5),
    (-0.158555, 1, -0.2),
    (51.523767, 0, 52.0),
    (51.523767, 2, 51.52),
    (51.523767, 4, 51.5238),
    (0.0, 1, 0.0),
]


@pytest.mark.parametrize(("value", "decimals", "expected"), COORDINATES)
@pytest.mark.parametrize("info", [LAT, LON], ids=["lat", "lon"])
def test_coordinates(info: FieldInfo, value: float, decimals: int, expected: float) -> None:
    assert apply(info, value, coordinate_decimals=decimals) == expected


TIMESTAMPS = [
    # value, unit, expected
    ("2026-11-20T14:03:22.512Z", "hour", "2026-11-20T14:00:00+00:00"),
    ("2026-11-20T14:03:22.512Z", "minute", "2026-11-20T14:03:00+00:00"),
    ("2026-11-20T14:03:22.512Z", "second", "2026-11-20T14:03:22+00:00"),
    ("2026-11-20T14:03:22.512Z", "day", "2026-11-20T00:00:00+00:00"),
    ("2026-11-20T23:59:59+05:30", "hour", "2026-11-20T23:00:00+05:30"),
    ("2026-11-20T23:59:59-08:00", "day", "2026-11-20T00:00:00-08:00"),
    ("not a time", "hour", None),
]


@pytest.mark.parametrize(("value", "unit", "expected"), TIMESTAMPS, ids=[f"{c[0]}-{c[1]}" for c in TIMESTAMPS])
def test_timestamp(value: str, unit: str, expected: str | None) -> None:
    assert apply(TIMESTAMP, value, timestamp_unit=unit) == expected


AGENTS = [
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
     "Safari/537.36", "Chrome / Windows"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
     "Safari/537.36 Edg/124.0.2478.51", "Edge / Windows"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
     "Safari/537.36 OPR/109.0.0.0", "Opera / Windows"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.4 Mobile/15E148 Safari/604.1", "Safari / iOS"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1", "Chrome / iOS"),
    ("Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
     "Mobile/15E148 Safari/604.1", "Safari / iOS"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
     "Safari/605.1.15", "Safari / macOS"),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0", "Firefox / Linux"),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile "
     "Safari/537.36", "Chrome / Android"),
    ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
     "Safari/537.36", "Chrome / ChromeOS"),
    ("curl/8.4.0", "curl / Other"),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Bot / Other"),
    ("", "Other / Other"),
    ("zofia.kowalczyk@leak.example custom client", "Other / Other"),
]


@pytest.mark.parametrize(("agent", "expected"), AGENTS, ids=[c[1] + f"-{i}" for i, c in enumerate(AGENTS)])
def test_user_agent(agent: str, expected: str) -> None:
    assert user_agent_family(agent) == expected
    assert apply(AGENT, agent) == expected


POSTCODES = [
    # value, keep, expected
    ("NW1 6XE", 2, "NW"),
    ("10115", 2, "10"),
    ("D02 X285", 2, "D0"),
    ("75011", 3, "750"),
    ("SW1A 1AA", 4, "SW1A"),
    ("AB", 2, ""),
    ("A", 2, ""),
    ("", 2, ""),
    ("NW1 6XE", 0, ""),
]


@pytest.mark.parametrize(("value", "keep", "expected"), POSTCODES, ids=[f"{c[0]!r}-keep{c[1]}" for c in POSTCODES])
def test_postcode(value: str, keep: int, expected: str) -> None:
    assert apply(POSTCODE, value, postcode_keep=keep) == expected


DATES = [
    # value, expected: the year, or dropped when the value is not a YYYY-MM-DD date
    ("1988-04-17", "1988"),
    ("2008-02-29", "2008"),
    ("2007-02-29", None),     # no such day
    ("1988-13-01", None),
    ("17.04.1988", None),
    ("1988-4-17", None),
    ("19880417", None),
    ("1988-04-17T00:00:00Z", None),
    ("", None),
    ("\u0661\u0669\u0668\u0668-04-17", None),   # Arabic-Indic digits are not a date here
]


@pytest.mark.parametrize(("value", "expected"), DATES, ids=[repr(c[0]) for c in DATES])
def test_date_keeps_the_year(value: str, expected: str | None) -> None:
    assert apply(BIRTH, value) == expected
