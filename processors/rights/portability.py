"""portability (policy section 5): the subject's data in a structured, machine-readable form. The
export parts are JSON documents already, so it is carried out exactly as ``access``."""

from __future__ import annotations

from processors.rights.access import accept, retry
from processors.rights.effects import RequestType

TYPE = RequestType(accept, retry=retry, export=True)
