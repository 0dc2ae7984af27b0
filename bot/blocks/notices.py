"""Short replies to one person (ephemeral messages) explaining why something did not happen."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.blocks.i18n import Locale, moment, t
from ledger.clock import BRAZIL
from ledger.errors import LedgerError, NoApprover, NotAllowed, RequestNotFound, StaleDecision, TokensUnreadable
from ledger.read_models import RequestView


def explain(error: LedgerError, *, request: RequestView | None, locale: Locale, tz: ZoneInfo = BRAZIL) -> str:
    """The sentence a person reads when their click or submission was refused."""
    reference = request.reference if request else "—"
    if isinstance(error, RequestNotFound):
        return t(locale, "notice.request_not_found")
    if isinstance(error, NotAllowed) and error.code == "not_an_admin":
        return t(locale, f"notice.not_an_admin.{error.params['task']}")
    if isinstance(error, NotAllowed):
        return t(locale, f"notice.{error.code}", reference=reference, step=error.params.get("step", ""))
    if isinstance(error, StaleDecision) and error.params.get("scope") == "edited":
        return t(locale, "notice.edited_since", reference=reference)
    if isinstance(error, StaleDecision):
        status, actor, at = error.params.get("status"), error.params.get("actor_id"), error.params.get("at")
        if actor and isinstance(at, datetime):
            common = {
                "reference": reference,
                "verb": t(locale, f"verb.{status}"),
                "actor": actor,
                "when": moment(at, locale, tz),
            }
            if error.params.get("scope") == "step":
                return t(locale, "notice.step_already_decided", step=error.params.get("step", ""), **common)
            return t(locale, "notice.already_decided", **common)
        return t(locale, "notice.already_status", reference=reference, status=t(locale, f"status.{status}"))
    if isinstance(error, TokensUnreadable):
        return t(locale, "notice.tokens_unreadable")
    if isinstance(error, NoApprover):
        return t(locale, "notice.no_approver", step=error.params.get("step", "—"))
    return t(locale, "notice.unexpected", error_id=error.code)
