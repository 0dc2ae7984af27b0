"""Slack side effects after a flow: the tracking message, approvers' messages, thread replies.

A failed Slack call is logged and audited, never raised: the decision is already stored, and one
unreachable DM must not hide the outcome from everyone else.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.fields import is_person
from bot.blocks.i18n import Locale, t
from bot.blocks.request_messages import (
    build_approval_message,
    build_cancel_reply,
    build_decision_reply,
    build_edit_reply,
    build_escalation_message,
    build_escalation_reply,
    build_reminder_message,
    build_reminder_reply,
    build_tracking_message,
)
from bot.deps import Deps
from ledger import flows
from ledger.domain import Attachment, RequestKind
from ledger.flows import Decided, Edited
from ledger.read_models import RequestView, StepView

log = logging.getLogger(__name__)

DOWNLOAD_TIMEOUT = httpx.Timeout(20.0, connect=5.0)
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024  # Slack's own limit for a file input


class Notifier:
    def __init__(self, client: AsyncWebClient, deps: Deps) -> None:
        self.client, self.deps = client, deps
        self._files: dict[str, bytes] = {}  # attachments fetched once per notification, shared with each approver

    async def request_submitted(self, request: RequestView) -> None:
        """Post the tracking message, then ask the first step's approvers."""
        locale = await self.tracking_locale(request)
        channel = self.tracking_channel(request)
        text, blocks = build_tracking_message(request, locale=locale, tz=self.deps.settings.timezone)
        posted = await self._call(request, "chat_postMessage", channel=channel, text=text, blocks=blocks)
        if posted is not None:
            await flows.record_tracking_message(
                self.deps.session_factory, request_id=request.id, channel=posted["channel"], ts=posted["ts"]
            )
        if request.steps:  # a receivable may need no approval
            await self._ask_approvers(request, request.steps[0])

    def tracking_channel(self, request: RequestView) -> str:
        """Payments: the requests channel, else the requester's DM. Receivables: the finance channel first."""
        settings = self.deps.settings
        if request.kind == RequestKind.RECEIVABLE:
            choices = [settings.finance_channel, settings.requests_channel, *settings.finance_admins]
        else:
            choices = [settings.requests_channel]
        choices.append(request.requester_id if is_person(request.requester_id) else None)
        return next((c for c in choices if c), "")

    async def request_decided(self, decided: Decided) -> None:
        request = decided.request
        await self._refresh_approval_messages(request, decided.step)
        await self.refresh_tracking(request)
        locale = await self.tracking_locale(request)
        await self.reply_in_thread(request, build_decision_reply(decided, locale=locale))
        if decided.next_step is not None:
            await self._ask_approvers(request, decided.next_step)

    async def request_cancelled(self, request: RequestView) -> None:
        for step in request.steps:
            if step.messages:
                await self._refresh_approval_messages(request, step)
        await self.refresh_tracking(request)
        await self.reply_in_thread(request, build_cancel_reply(request, locale=await self.tracking_locale(request)))

    async def request_edited(self, edited: Edited) -> None:
        """Retire the replaced approval messages, show the new values, say what changed, ask anew if it restarted."""
        request = edited.request
        locale = await self.tracking_locale(request)
        for channel, ts in edited.retired:
            text = t(locale, "approval.retired", reference=request.reference)
            await self._call(request, "chat_update", channel=channel, ts=ts, text=text, blocks=[])
        await self.refresh_tracking(request)
        await self.reply_in_thread(request, build_edit_reply(edited, locale=locale))
        open_step = request.steps[request.current_step or 0] if request.steps else None
        if open_step is None:
            return
        if edited.restarted:
            await self._ask_approvers(request, open_step)
        else:
            await self._refresh_approval_messages(request, open_step)

    async def remind(self, request: RequestView, step: StepView, *, hours: int) -> None:
        """Nudge every approver of the open step once.

        The nudge is a reply in the thread of the approver's own approval message, also shown in the DM: the
        buttons stay in that one message, which the decision later updates. Someone whose approval message
        never arrived gets it now, reminder line on top, and it is recorded like the first one.
        """
        sent = {message.approver_id: message for message in step.messages}
        tz = self.deps.settings.timezone
        for approver in step.approvers:
            locale = await self.deps.people.get(self.client, approver)
            message = sent.get(approver)
            if message is None:
                text, blocks = build_reminder_message(request, step, hours=hours, locale=locale, tz=tz)
                await self._send_approval(request, step, approver, text, blocks)
                continue
            await self._call(
                request,
                "chat_postMessage",
                channel=message.channel,
                thread_ts=message.ts,
                reply_broadcast=True,
                text=build_reminder_reply(request, hours=hours, locale=locale),
            )

    async def escalated(self, request: RequestView, step: StepView, added: list[str], *, hours: int) -> None:
        """Ask the approvers just added to the step, and say so on the tracking message and in its thread."""
        tz = self.deps.settings.timezone
        for approver in added:
            locale = await self.deps.people.get(self.client, approver)
            text, blocks = build_escalation_message(request, step, hours=hours, locale=locale, tz=tz)
            await self._send_approval(request, step, approver, text, blocks)
        await self.refresh_tracking(request)
        locale = await self.tracking_locale(request)
        await self.reply_in_thread(request, build_escalation_reply(step, added, hours=hours, locale=locale))

    async def _ask_approvers(self, request: RequestView, step: StepView) -> None:
        for approver in step.approvers:
            locale = await self.deps.people.get(self.client, approver)
            text, blocks = build_approval_message(request, step, locale=locale, tz=self.deps.settings.timezone)
            await self._send_approval(request, step, approver, text, blocks)

    async def _send_approval(
        self, request: RequestView, step: StepView, approver: str, text: str, blocks: list[Block]
    ) -> None:
        """DM an approval message with buttons, and remember it so the decision can update it."""
        posted = await self._call(request, "chat_postMessage", channel=approver, text=text, blocks=blocks)
        if posted is not None:
            await flows.record_approval_message(
                self.deps.session_factory,
                step_id=step.id,
                approver_id=approver,
                channel=posted["channel"],
                ts=posted["ts"],
            )
            await self._share_attachments(request, channel=posted["channel"], thread_ts=posted["ts"])

    async def _share_attachments(self, request: RequestView, *, channel: str, thread_ts: str) -> None:
        """A copy of each attached file in the thread of the approver's message: a file uploaded in a modal is
        the uploader's alone, so a link would not open for the approver."""
        uploads = []
        for attachment in request.attachments:
            content = await self._download(request, attachment)
            if content is not None:
                uploads.append({"content": content, "filename": attachment.name, "title": attachment.name})
        if uploads:
            await self._call(request, "files_upload_v2", channel=channel, thread_ts=thread_ts, file_uploads=uploads)

    async def _download(self, request: RequestView, attachment: Attachment) -> bytes | None:
        url, file_id = attachment.download_url, attachment.file_id
        if file_id in self._files:
            return self._files[file_id]
        if not url:
            return None
        settings = self.deps.settings
        content = await fetch_slack_file(
            url,
            token=settings.slack_bot_token or "",
            origin=settings.slack_files_origin,
            what=f"attachment {file_id} of {request.reference}",
        )
        if content is not None:
            self._files[file_id] = content
        return content

    async def _refresh_approval_messages(self, request: RequestView, step: StepView) -> None:
        for message in step.messages:
            locale = await self.deps.people.get(self.client, message.approver_id)
            text, blocks = build_approval_message(request, step, locale=locale, tz=self.deps.settings.timezone)
            await self._call(request, "chat_update", channel=message.channel, ts=message.ts, text=text, blocks=blocks)

    async def refresh_tracking(self, request: RequestView) -> None:
        if not (request.tracking_channel and request.tracking_ts):
            return
        locale = await self.tracking_locale(request)
        text, blocks = build_tracking_message(request, locale=locale, tz=self.deps.settings.timezone)
        await self._call(
            request, "chat_update", channel=request.tracking_channel, ts=request.tracking_ts, text=text, blocks=blocks
        )

    async def reply_in_thread(self, request: RequestView, text: str) -> None:
        if request.tracking_channel and request.tracking_ts:
            await self._call(
                request, "chat_postMessage", channel=request.tracking_channel, thread_ts=request.tracking_ts, text=text
            )

    async def tracking_locale(self, request: RequestView) -> Locale:
        """A shared channel reads the team's language; a DM reads its reader's."""
        channel = self.tracking_channel(request)
        if not channel or channel[:1] in ("C", "G"):
            return self.deps.default_locale
        return await self.deps.people.get(self.client, channel)

    async def _call(self, request: RequestView, method: str, **kwargs: Any) -> Any:
        try:
            return await getattr(self.client, method)(**kwargs)
        except SlackApiError as exc:
            error = exc.response.get("error")
            log.error("slack %s failed for %s: %s", method, request.reference, error)
            await flows.audit(
                self.deps.session_factory,
                clock=self.deps.clock,
                team_id=request.team_id,
                actor_id=None,
                action="slack_call_failed",
                request_id=request.id,
                method=method,
                error=str(error),
            )
            return None


async def fetch_slack_file(url: str, *, token: str, origin: str, what: str) -> bytes | None:
    """A file's bytes from Slack with the bot token, or None (logged) when it cannot be had safely.

    The token goes only to ``origin`` (Slack's file host; see ``Settings.slack_files_origin``), over one request with
    no redirect followed, and the body is read in chunks up to ``MAX_ATTACHMENT_BYTES``: a larger file is abandoned
    as soon as it says so or passes the cap, never held whole.
    """
    target = _on_origin(url, httpx.URL(origin))
    if target is None:
        log.error("%s is not on Slack's file host %s: not fetched", what, origin)
        return None
    chunks: list[bytes] = []
    received = 0
    try:
        async with (
            httpx.AsyncClient(timeout=DOWNLOAD_TIMEOUT, follow_redirects=False) as http,
            http.stream("GET", target, headers={"Authorization": f"Bearer {token}"}) as response,
        ):
            if response.status_code != 200:
                log.error("could not fetch %s: HTTP %s", what, response.status_code)
                return None
            declared = response.headers.get("Content-Length", "")
            if declared.isascii() and declared.isdigit() and int(declared) > MAX_ATTACHMENT_BYTES:
                log.error("could not fetch %s: %s bytes, more than %s", what, declared, MAX_ATTACHMENT_BYTES)
                return None
            async for chunk in response.aiter_bytes():
                received += len(chunk)
                if received > MAX_ATTACHMENT_BYTES:
                    log.error("could not fetch %s: more than %s bytes", what, MAX_ATTACHMENT_BYTES)
                    return None
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        log.error("could not fetch %s: %s", what, type(exc).__name__)
        return None
    return b"".join(chunks)


def _on_origin(url: str, origin: httpx.URL) -> httpx.URL | None:
    """``url`` when it is on exactly ``origin`` (scheme, host and port, no user info), else None."""
    try:
        target = httpx.URL(url)
    except httpx.InvalidURL:
        return None
    same = (target.scheme, target.host, target.port) == (origin.scheme, origin.host, origin.port)
    return target if same and not target.userinfo else None


async def alert_needs_reconnect(client: AsyncWebClient, deps: Deps, team_id: str) -> None:
    """Tell the finance admins (and the finance channel) once that Conta Azul must be connected again."""
    if deps.contaazul is None or not await deps.contaazul.tokens.claim_reconnect_alert(team_id):
        return
    log.warning("conta azul connection of team %s needs reconnecting; alerting admins", team_id)
    targets = list(deps.settings.finance_admins)
    if deps.settings.finance_channel:
        targets.append(deps.settings.finance_channel)
    for target in targets:
        locale = (
            deps.default_locale if target == deps.settings.finance_channel else await deps.people.get(client, target)
        )
        try:
            await client.chat_postMessage(channel=target, text=t(locale, "ca.reconnect_alert"))
        except SlackApiError as exc:
            log.error("could not alert %s about the conta azul connection: %s", target, exc.response.get("error"))
