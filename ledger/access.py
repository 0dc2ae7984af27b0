"""Who may do what with a request: one home for each rule, so the button shown, the click and the change agree.

Deciding a step is checked inside the decision's own transaction (``ledger.flows``), on the row it changes.
"""

from __future__ import annotations

from ledger.domain import RequestKind, RequestStatus
from ledger.errors import NotAllowed, StaleDecision
from ledger.models import PaymentRequest
from ledger.read_models import RequestView

EDITABLE_STATUSES = (RequestStatus.PENDING, RequestStatus.REJECTED)


def is_editable(request: RequestView) -> bool:
    """Whether the request can still be edited by its requester: a pending or rejected payment request."""
    return request.kind == RequestKind.PAYABLE and request.status in EDITABLE_STATUSES


def check_may_edit(request: PaymentRequest | RequestView, actor_id: str) -> None:
    """Raise unless ``actor_id`` may edit ``request`` now (as the click saw it, or the row the edit changes).

    Raises:
        NotAllowed: ``not_the_requester`` (a receivable, from a CRM or an admin, has no requester to edit it).
        StaleDecision: It was decided, posted or cancelled since.
    """
    if actor_id != request.requester_id or request.kind != RequestKind.PAYABLE:
        raise NotAllowed("not_the_requester", request_id=request.id)
    if request.status not in EDITABLE_STATUSES:
        raise StaleDecision("not editable", status=request.status, actor_id=request.decided_by, at=request.decided_at)


def may_see(request: RequestView, user_id: str, *, is_finance_admin: bool) -> bool:
    """Whether ``user_id`` may see the request's history: its requester, anyone asked to approve it, and the finance
    admins (who is one is the caller's to say: Slack knows the workspace admins)."""
    return is_finance_admin or user_id == request.requester_id or any(user_id in s.approvers for s in request.steps)
