"""A request's audit trail as people read it: the History modal and the lines of the audit export."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, MarkdownTextObject, PlainTextObject, SectionBlock
from slack_sdk.models.views import View

from bot.blocks.fields import SECTION_TEXT_LIMIT, clip, escape, request_fields
from bot.blocks.i18n import Locale, moment, t
from bot.blocks.request_messages import describe_changes
from ledger.read_models import AuditEntry, RequestView

MAX_EVENTS = 80  # a modal holds 100 blocks; the header and fields take the rest


def describe_event(event: AuditEntry, *, locale: Locale, mention: bool = True) -> str:
    """One event in plain words: who did what (Slack mentions in Slack, ids in a file)."""
    detail = event.detail or {}
    actor = event.actor_id or ""
    who = (f"<@{actor}>" if mention else actor) if actor else t(locale, "history.system")
    params = {
        "who": who,
        "step": escape(str(detail.get("step") or "")),
        "reason": escape(str(detail.get("reason") or "")),
        "id": escape(str(detail.get("contaazul_id") or "")),
        "attempt": detail.get("attempt") or "",
        "detail": escape(str(detail.get("detail") or ""))[:300],
        "code": escape(str(detail.get("code") or "")),
        "added": ", ".join((f"<@{u}>" if mention else u) for u in detail.get("added") or []),
        "source": escape(str(detail.get("source") or "")),
    }
    changes = detail.get("changes")
    if isinstance(changes, dict):
        params["changes"] = describe_changes({k: (str(v[0]), str(v[1])) for k, v in changes.items()}, locale=locale)
    key = f"history.{event.action}"
    if event.action == "approved" and not detail.get("step"):
        key = "history.approved_direct"
    text = t(locale, key, **params)
    return text if text != key else t(locale, "history.other", action=escape(event.action), who=who)


def build_history_modal(request: RequestView, events: list[AuditEntry], *, locale: Locale, tz: ZoneInfo) -> View:
    """The request's fields and every audit event, oldest first (the latest ones when there are very many)."""
    shown = events[-MAX_EVENTS:]
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=clip(t(locale, "history.header", reference=request.reference), 150))),
        *request_fields(request, locale),
    ]
    if len(events) > len(shown):
        blocks.append(
            ContextBlock(
                elements=[MarkdownTextObject(text=t(locale, "history.earlier", count=len(events) - len(shown)))]
            )
        )
    for event in shown:
        line = f"*{moment(event.created_at, locale, tz)}* · {describe_event(event, locale=locale)}"
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(line, SECTION_TEXT_LIMIT))))
    return View(
        type="modal",
        title=PlainTextObject(text=t(locale, "history.title")),
        close=PlainTextObject(text=t(locale, "modal.close")),
        blocks=blocks,
    )
