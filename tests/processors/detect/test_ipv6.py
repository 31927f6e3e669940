from detect_cases import rule_tests

from processors.detect.ipv6 import Ipv6Rule

RULE = Ipv6Rule()

VALID = [
    ("src 2001:0db8:85a3:0000:0000:8a2e:0370:7334 dst", "2001:0db8:85a3:0000:0000:8a2e:0370:7334"),
    ("src 2001:db8::1 dst", "2001:db8::1"),
    ("loopback ::1", "::1"),
    ("mapped ::ffff:1.2.3.4 here", "::ffff:1.2.3.4"),
    ("link fe80::1%eth0", "fe80::1"),
    ("[2001:db8::1]:8080", "2001:db8::1"),
    ("connect 2001:db8::1: refused", "2001:db8::1"),
    ("prefix fe80:: only", "fe80::"),
    ("FE80::DEAD:BEEF", "FE80::DEAD:BEEF"),
    ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
]

INVALID = [
    "at 12:30:45",
    "mac 00:1A:2B:3C:4D:5E",
    "std::vector<int>",
    "a :: b",
    "2001:db8::1::2",
    "1:2:3:4:5:6:7:8:9",
    "12345::1",
    "::ffff:999.1.1.1",
    "gggg::1",
    "ratio 3:2",
]


test_finds, test_ignores = rule_tests(RULE, VALID, INVALID)
