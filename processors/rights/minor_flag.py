"""minor_flag (policy section 8): the subject's records are held back from every output at once,
hold or not (quarantine deletes nothing), and its data is erased as for ``erase``."""

from __future__ import annotations

from processors.rights.base import Request, request_audit
from processors.rights.effects import Effects, RequestType, SubjectView, received
from processors.rights.erase import erase_unless_held, resume, retry


def accept(request: Request, view: SubjectView) -> Effects:
    state, audits = received(request, view)
    state["outputs"] = ["*"]
    audits.append(request_audit(state, "quarantine", view.now, "quarantine", {"outputs": "all"}))
    return erase_unless_held(request, state, audits, view)


TYPE = RequestType(accept, retry=retry, resume=resume, gate="quarantine", erasure=True)
