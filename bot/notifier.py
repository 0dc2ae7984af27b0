"""The Slack messages that tell people what happened: the tracking message, approvers' messages, thread replies.

Two ways to run. Sending a notification event (``tell``, from ``bot.deliveries``): every message has a key, is
remembered once sent, and a failure that may pass (rate limit, Slack unavailable, a dropped connection) stops the
event with ``RetryLater`` — the next attempt sends only what is missing, and looks for a post whose answer was lost
(by the key in its metadata) instead of posting it twice. A failure that will not pass (the channel is gone…) is
audited, told to finance, and the event goes on. Direct (no event): a failed call is logged and audited, never
raised.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any, Protocol

import aiohttp
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
from bot.blocks.wire import as_json
from bot.deps import Deps
from ledger import flows
from ledger.domain import Attachment, RequestKind, RequestStatus, StepStatus
from ledger.editing import Edited
from ledger.flows import DecisionNote
from ledger.notifications import NotificationEvent, NotificationView
from ledger.read_models import RequestView, StepView

log = logging.getLogger(__name__)

DOWNLOAD_TIMEOUT = httpx.Timeout(20.0, connect=5.0)
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024  # Slack's own limit for a file input


class RetryLater(Exception):
    """Stop sending this event now; it is tried again ``after`` seconds from now (Retry-After, or a backoff)."""

    def __init__(self, after: float, reason: str) -> None:
        super().__init__(reason)
        self.after, self.reason = after, reason


# Slack errors that no retry will fix: the message is given up (audited, finance told), the event goes on.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "user_not_found",
        "user_disabled",
        "account_inactive",
        "cannot_dm_bot",
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
        "restricted_action",
        "msg_too_long",
        "no_text",
        "invalid_blocks",
        "invalid_blocks_format",
        "invalid_arguments",
        "thread_not_found",
    }
)
METADATA_EVENT = "aprova_message"


class Delivery(Protocol):
    """One notification event being sent (``bot.deliveries``): what is sent already, and what to remember with it
    when the event settles."""

    notification: NotificationView

    def remember(self, key: str, value: dict[str, Any]) -> None: ...

    def remember_tracking(self, request_id: int, channel: str, ts: str) -> None: ...

    def remember_approval_message(self, step_id: int, approver_id: str, channel: str, ts: str) -> None: ...

    def pace(self, channel: str) -> None:
        """Raise RetryLater when ``channel`` has had its share of messages for now."""
        ...


class Notifier:
    def __init__(self, client: AsyncWebClient, deps: Deps, delivery: Delivery | None = None) -> None:
        self.client, self.deps, self.delivery = client, deps, delivery
        self._files: dict[str, bytes] = {}  # attachments fetched once per notification, shared with each approver
        self._deferred: RetryLater | None = None

    async def tell(self, event: NotificationEvent, request: RequestView, payload: dict[str, Any]) -> None:
        """Send the messages of one notification event, as the request is now.

        Raises:
            RetryLater: Some message must wait (rate limit, pacing, Slack unavailable); the ones that need not
                were sent.
        """
        self._deferred = None
        await self._tell(event, request, payload)
        if self._deferred is not None:
            raise self._deferred

    async def _apart(self, send: Awaitable[Any]) -> None:
        """Send messages that do not depend on one another apart: one that must wait (a rate-limited channel, a
        paced one) does not hold the others — the approver's DM does not wait for the requests channel. The event
        is tried again for what waited, after the longest wait asked."""
        try:
            await send
        except RetryLater as later:
            if self._deferred is None or later.after > self._deferred.after:
                self._deferred = later

    async def _tell(self, event: NotificationEvent, request: RequestView, payload: dict[str, Any]) -> None:
        if event is NotificationEvent.SUBMITTED:
            await self.request_submitted(request)
        elif event is NotificationEvent.DECIDED:
            await self.request_decided(request, DecisionNote(**payload))
        elif event is NotificationEvent.CANCELLED:
            await self.request_cancelled(request)
        elif event is NotificationEvent.EDITED:
            retired = [(str(c), str(ts)) for c, ts in payload.get("retired", [])]
            changes = {name: (str(old), str(new)) for name, (old, new) in payload.get("changes", {}).items()}
            await self.request_edited(Edited(request, changes, bool(payload.get("restarted")), retired))
        elif event is NotificationEvent.REMINDED:
            await self.remind(request, request.steps[int(payload["step"])], hours=int(payload["hours"]))
        elif event is NotificationEvent.ESCALATED:
            step = request.steps[int(payload["step"])]
            await self.escalated(request, step, list(payload["added"]), hours=int(payload["hours"]))
        elif event is NotificationEvent.TRACKING:
            await self.refresh_tracking(request)

    async def request_submitted(self, request: RequestView) -> None:
        """Post the tracking message, and ask the first step's approvers."""
        await self._apart(self.refresh_tracking(request))
        if request.steps and request.status == RequestStatus.PENDING:  # a receivable may need no approval
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

    async def request_decided(self, request: RequestView, decision: DecisionNote) -> None:
        step = request.steps[decision.step_position]
        await self._refresh_approval_messages(request, step)
        await self._apart(self.refresh_tracking(request))
        locale = await self.tracking_locale(request)
        await self._apart(self.reply_in_thread(request, build_decision_reply(request, decision, locale=locale)))
        if decision.next_position is not None and request.status == RequestStatus.PENDING:
            await self._ask_approvers(request, request.steps[decision.next_position])

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
            await self._call(
                request, f"retire:{channel}:{ts}", "chat_update", channel=channel, ts=ts, text=text, blocks=[]
            )
        await self.refresh_tracking(request)
        await self.reply_in_thread(request, build_edit_reply(edited, locale=locale))
        open_step = request.steps[request.current_step or 0] if request.steps else None
        if open_step is None or request.status != RequestStatus.PENDING:
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
        if step.status != StepStatus.OPEN or request.status != RequestStatus.PENDING:
            return  # decided since: nothing to nudge
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
                f"remind:{approver}",
                "chat_postMessage",
                channel=message.channel,
                thread_ts=message.ts,
                reply_broadcast=True,
                text=build_reminder_reply(request, hours=hours, locale=locale),
            )

    async def escalated(self, request: RequestView, step: StepView, added: list[str], *, hours: int) -> None:
        """Ask the approvers just added to the step, and say so on the tracking message and in its thread."""
        tz = self.deps.settings.timezone
        sent = {message.approver_id for message in step.messages}
        if step.status == StepStatus.OPEN and request.status == RequestStatus.PENDING:
            for approver in added:
                if approver in sent:
                    continue
                locale = await self.deps.people.get(self.client, approver)
                text, blocks = build_escalation_message(request, step, hours=hours, locale=locale, tz=tz)
                await self._send_approval(request, step, approver, text, blocks)
        await self.refresh_tracking(request)
        locale = await self.tracking_locale(request)
        await self.reply_in_thread(request, build_escalation_reply(step, added, hours=hours, locale=locale))

    async def _ask_approvers(self, request: RequestView, step: StepView) -> None:
        sent = {message.approver_id for message in step.messages}
        for approver in step.approvers:
            if approver in sent:  # asked already (a retry of this event, or an earlier one)
                continue
            locale = await self.deps.people.get(self.client, approver)
            text, blocks = build_approval_message(request, step, locale=locale, tz=self.deps.settings.timezone)
            await self._apart(self._send_approval(request, step, approver, text, blocks))

    async def _send_approval(
        self, request: RequestView, step: StepView, approver: str, text: str, blocks: list[Block]
    ) -> None:
        """DM an approval message with buttons, and remember it so the decision can update it."""
        key = f"ask:{step.id}:{approver}"
        posted = await self._call(request, key, "chat_postMessage", channel=approver, text=text, blocks=blocks)
        if posted is not None:
            channel, ts = str(posted["channel"]), str(posted["ts"])
            if self.delivery is not None:
                self.delivery.remember_approval_message(step.id, approver, channel, ts)
            else:
                await flows.record_approval_message(
                    self.deps.session_factory, step_id=step.id, approver_id=approver, channel=channel, ts=ts
                )
            await self._share_attachments(request, key, channel=posted["channel"], thread_ts=posted["ts"])

    async def _share_attachments(self, request: RequestView, key: str, *, channel: str, thread_ts: str) -> None:
        """A copy of each attached file in the thread of the approver's message: a file uploaded in a modal is
        the uploader's alone, so a link would not open for the approver."""
        uploads = []
        for attachment in request.attachments:
            content = await self._download(request, attachment)
            if content is not None:
                uploads.append({"content": content, "filename": attachment.name, "title": attachment.name})
        if uploads:
            await self._call(
                request, f"files:{key}", "files_upload_v2", channel=channel, thread_ts=thread_ts, file_uploads=uploads
            )

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
            update = self._call(
                request,
                f"refresh:{message.channel}:{message.ts}",
                "chat_update",
                channel=message.channel,
                ts=message.ts,
                text=text,
                blocks=blocks,
            )
            await self._apart(update)

    async def refresh_tracking(self, request: RequestView) -> None:
        """Draw the tracking message as the request is now: posted the first time, updated after."""
        locale = await self.tracking_locale(request)
        text, blocks = build_tracking_message(request, locale=locale, tz=self.deps.settings.timezone)
        if request.tracking_channel and request.tracking_ts:
            await self._call(
                request,
                "tracking",
                "chat_update",
                channel=request.tracking_channel,
                ts=request.tracking_ts,
                text=text,
                blocks=blocks,
            )
            return
        channel = self.tracking_channel(request)
        if not channel:
            return
        posted = await self._call(request, "tracking", "chat_postMessage", channel=channel, text=text, blocks=blocks)
        if posted is not None:
            channel, ts = str(posted["channel"]), str(posted["ts"])
            if self.delivery is not None:
                self.delivery.remember_tracking(request.id, channel, ts)
            else:
                await flows.record_tracking_message(
                    self.deps.session_factory, request_id=request.id, channel=channel, ts=ts
                )

    async def reply_in_thread(self, request: RequestView, text: str) -> None:
        if request.tracking_channel and request.tracking_ts:
            await self._call(
                request,
                "thread",
                "chat_postMessage",
                channel=request.tracking_channel,
                thread_ts=request.tracking_ts,
                text=text,
            )

    async def tracking_locale(self, request: RequestView) -> Locale:
        """A shared channel reads the team's language; a DM reads its reader's."""
        channel = self.tracking_channel(request)
        if not channel or channel[:1] in ("C", "G"):
            return self.deps.default_locale
        return await self.deps.people.get(self.client, channel)

    async def _call(self, request: RequestView, key: str, method: str, **kwargs: Any) -> Any:
        if "blocks" in kwargs:
            kwargs["blocks"] = as_json(kwargs["blocks"])
        if self.delivery is None:
            return await self._call_directly(request, method, **kwargs)
        return await self._deliver(self.delivery, request, key, method, **kwargs)

    async def _call_directly(self, request: RequestView, method: str, **kwargs: Any) -> Any:
        try:
            return await getattr(self.client, method)(**kwargs)
        except SlackApiError as exc:
            error = str(exc.response.get("error"))
            log.error("slack %s failed for %s: %s", method, request.reference, error)
            await self._audit_failure(request, method, kwargs.get("channel"), error)
            return None

    async def _deliver(self, delivery: Delivery, request: RequestView, key: str, method: str, **kwargs: Any) -> Any:
        """One message of an event, exactly once: remembered when sent, looked for when its answer was lost (or
        when the worker of an earlier attempt stopped before it settled)."""
        done = delivery.notification.progress.get(key)
        if done is not None and ("ts" in done or "failed" in done):
            return done if "ts" in done else None
        channel = str(kwargs.get("channel") or "")
        posting = method in ("chat_postMessage", "files_upload_v2")
        sending = done.get("sending") if done is not None else None
        if posting and (sending is not None or delivery.notification.resumed):
            since = float(sending) if sending is not None else delivery.notification.created_at.timestamp()
            found = await self._find_sent(delivery, key, channel, kwargs.get("thread_ts"), since)
            if found is not None:
                delivery.remember(key, found)
                return found
        if method == "chat_postMessage":  # Slack's one-message-a-second-per-channel limit is on posting
            delivery.pace(channel)
            kwargs["metadata"] = {"event_type": METADATA_EVENT, "event_payload": {"key": _metadata_key(delivery, key)}}
        # If the answer is lost, the next attempt looks for the message first.
        maybe_sent = {"sending": self.deps.clock.now().timestamp(), "channel": channel}
        try:
            response = await getattr(self.client, method)(**kwargs)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or exc.response.status_code)
            if exc.response.status_code == 429 or error == "ratelimited":
                after = float(exc.response.headers.get("Retry-After", 1) or 1)
                raise RetryLater(after, f"{method} rate limited") from None  # refused: nothing was posted
            if error in PERMANENT_ERRORS:
                log.error("slack %s refused for %s for good: %s", method, request.reference, error)
                delivery.remember(key, {"failed": error})
                await self._audit_failure(request, method, channel, error)
                await self._tell_finance_undelivered(request, channel, error)
                return None
            if posting and exc.response.status_code >= 500:
                delivery.remember(key, maybe_sent)  # Slack may have posted it before failing
            raise RetryLater(0, f"{method}: {error}") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            if posting:
                delivery.remember(key, maybe_sent)
            raise RetryLater(0, f"{method}: {type(exc).__name__}") from None
        if not posting:
            return response  # an update says the same the next time: nothing to remember
        sent = {"channel": str(response.get("channel") or channel), "ts": str(response.get("ts") or "")}
        if method == "files_upload_v2":
            sent = {"channel": channel, "ts": "files"}
        delivery.remember(key, sent)
        return response

    async def _find_sent(
        self, delivery: Delivery, key: str, channel: str, thread_ts: str | None, since: float
    ) -> dict[str, str] | None:
        """The message an earlier attempt posted without hearing back, by the key in its metadata."""
        wanted = _metadata_key(delivery, key)
        try:
            if channel[:1] in ("U", "W"):  # a DM: history wants the conversation's id
                channel = (await self.client.conversations_open(users=channel))["channel"]["id"]
            if thread_ts:
                page = await self.client.conversations_replies(
                    channel=channel, ts=thread_ts, include_all_metadata=True, limit=200
                )
            else:
                page = await self.client.conversations_history(
                    channel=channel, oldest=f"{since - 60:.6f}", include_all_metadata=True, limit=200
                )
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            # Without history access the message cannot be confirmed: send again (twice is better than never).
            log.warning("could not look for an unconfirmed message in %s: %s", channel, type(exc).__name__)
            return None
        for message in page.get("messages") or []:
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if payload.get("key") == wanted:
                return {"channel": channel, "ts": str(message["ts"])}
        return None

    async def _audit_failure(self, request: RequestView, method: str, channel: Any, error: str) -> None:
        await flows.audit(
            self.deps.session_factory,
            clock=self.deps.clock,
            team_id=request.team_id,
            actor_id=None,
            action="slack_call_failed",
            request_id=request.id,
            method=method,
            channel=str(channel or ""),
            error=error,
        )

    async def _tell_finance_undelivered(self, request: RequestView, channel: str, error: str) -> None:
        """A message Slack will never take: the finance team hears of it (once, from the event that failed)."""
        settings = self.deps.settings
        targets = [settings.finance_channel] if settings.finance_channel else list(settings.finance_admins)
        for target in targets:
            if target == channel:
                continue
            is_channel = target == settings.finance_channel
            locale = self.deps.default_locale if is_channel else await self.deps.people.get(self.client, target)
            text = t(locale, "delivery.failed", reference=request.reference, target=channel, error=error)
            try:
                await self.client.chat_postMessage(channel=target, text=text)
            except SlackApiError as exc:
                log.error("could not tell %s about an undelivered message: %s", target, exc.response.get("error"))


def _metadata_key(delivery: Delivery, key: str) -> str:
    return f"{delivery.notification.id}:{key}"


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
