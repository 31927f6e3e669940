"""IP addresses: by name (``ip``, ``client_ip``, ``remote_addr``) and by values that parse as IPs."""

from __future__ import annotations

from typing import ClassVar

from processors.discover.classify.base import Classifier, Evidence, Field

NAMES = ("ip", "ipaddress", "ipv4", "ipv6", "remoteaddr", "remoteaddress", "clientip", "forwarded",
         "xforwardedfor", "sourceip", "hostaddress", "ipadresse", "direccionip")


class IpClassifier(Classifier):
    name: ClassVar[str] = "ip"

    def classify(self, field: Field) -> list[Evidence]:
        if field.kind not in ("string", "null", "array"):
            return []
        share = field.share("ip")
        fmt = "ip" if share == 1.0 and field.kind == "string" else None
        token = field.named(*NAMES) or ("addr" if field.named_exactly("remoteaddr", "addr") else None)
        out: list[Evidence] = []
        if token:
            out.append(Evidence("network.ip", 0.9, f"name has '{token}'", format=fmt))
        if share >= 0.8:
            out.append(Evidence("network.ip", 0.6 + 0.35 * share, f"{share:.0%} of values are IP addresses",
                                format=fmt))
        return out
