"""Field classifiers for ``lethe discover``: one rule per file, run in this order on every field.

Each returns :class:`Evidence` (a category, or None for "not personal", with a weight and a
reason); ``processors.discover.decide`` combines them. A new rule is one file and one line here.
"""

from __future__ import annotations

from processors.discover.classify.address import AddressClassifier
from processors.discover.classify.base import Classifier, Evidence, Field
from processors.discover.classify.birth import BirthClassifier
from processors.discover.classify.browsing import BrowsingClassifier
from processors.discover.classify.click import ClickClassifier
from processors.discover.classify.contents import ContentsClassifier
from processors.discover.classify.coordinates import CoordinatesClassifier
from processors.discover.classify.customer import CustomerClassifier
from processors.discover.classify.device import DeviceClassifier
from processors.discover.classify.email import EmailClassifier
from processors.discover.classify.free_text import FreeTextClassifier
from processors.discover.classify.ip import IpClassifier
from processors.discover.classify.logistics import LogisticsClassifier
from processors.discover.classify.not_personal import NotPersonalClassifier
from processors.discover.classify.order import OrderClassifier
from processors.discover.classify.payment import PaymentClassifier
from processors.discover.classify.person_name import PersonNameClassifier
from processors.discover.classify.phone import PhoneClassifier
from processors.discover.classify.prefixed_id import PrefixedIdClassifier
from processors.discover.classify.profile import ProfileClassifier
from processors.discover.classify.session import SessionClassifier
from processors.discover.classify.user_agent import UserAgentClassifier

__all__ = ["CLASSIFIERS", "Classifier", "Evidence", "Field", "evidence_for"]

CLASSIFIERS: tuple[Classifier, ...] = (
    EmailClassifier(),
    PhoneClassifier(),
    PersonNameClassifier(),
    AddressClassifier(),
    BirthClassifier(),
    IpClassifier(),
    UserAgentClassifier(),
    CoordinatesClassifier(),
    SessionClassifier(),
    CustomerClassifier(),
    OrderClassifier(),
    PaymentClassifier(),
    LogisticsClassifier(),
    BrowsingClassifier(),
    ClickClassifier(),
    DeviceClassifier(),
    ProfileClassifier(),
    PrefixedIdClassifier(),
    FreeTextClassifier(),
    ContentsClassifier(),
    NotPersonalClassifier(),
)


def evidence_for(field: Field) -> list[Evidence]:
    return [evidence for rule in CLASSIFIERS for evidence in rule.classify(field)]
