"""Browser user agents: device information, generalized to browser and OS family."""

from __future__ import annotations

from typing import ClassVar

from processors.discover.classify.base import Classifier, Evidence, Field

NAMES = ("useragent", "ua", "agent", "browseragent", "httpuseragent")


class UserAgentClassifier(Classifier):
    name: ClassVar[str] = "user_agent"

    def classify(self, field: Field) -> list[Evidence]:
        if field.kind not in ("string", "null"):
            return []
        share = field.share("user_agent")
        token = field.named(*NAMES)
        if token == "agent" and (field.is_id_name or share < 0.5):
            token = None   # a support agent, an agent id
        out: list[Evidence] = []
        if token:
            out.append(Evidence("device.info", 0.9, f"name has '{token}'", format="user_agent"))
        if share >= 0.6:
            out.append(Evidence("device.info", 0.6 + 0.3 * share, f"{share:.0%} of values are user agents",
                                format="user_agent"))
        return out
