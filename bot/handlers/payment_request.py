"""``/pagamento``: open the request modal, then validate and store what was submitted."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.fields import StepRef
from bot.blocks.i18n import Locale, day, money, t
from bot.blocks.notices import explain
from bot.blocks.reject_modal import build_notice_modal
from bot.blocks.request_modal import (
    build_request_modal,
    duplicate_confirmed,
    field_errors,
    fill_from_code,
    input_value,
    parse_request_modal,
    prefill,
    request_state,
)
from bot.deps import Deps
from bot.handlers.common import deps_of, explain_error, team_of, tell
from bot.handlers.history import export_month
from bot.ids import ActionId, CallbackId, RequestField
from bot.notifier import Notifier
from bot.people import SlackDirectory
from bot.settings import Settings
from ledger import flows, queries
from ledger.access import check_may_edit
from ledger.domain import PaymentMethod, RequestDraft
from ledger.errors import (
    GatewayError,
    InvalidSubmission,
    LedgerError,
    PolicyError,
    RequestNotFound,
)
from ledger.names import name_key
from ledger.payment_code import detect_payment_method, read_payment_code

log = logging.getLogger(__name__)

BOOKS_CHECK_SECONDS = 1.5


async def handle_payment_command(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """Open the modal right away: the trigger id is only good for 3 seconds. ``export <month>`` exports instead."""
    await ack()
    deps = deps_of(context)
    words = (body.get("text") or "").split(maxsplit=1)
    if words and words[0].lower() in ("export", "exportar"):
        await export_month(client, deps, body, words[1] if len(words) > 1 else "")
        return
    locale = await deps.people.get(client, body["user_id"])
    live = False
    if deps.contaazul is not None:
        connection = await deps.contaazul.connection(team_of(body, context))
        live = connection is not None and not connection.needs_reconnect
    await client.views_open(
        trigger_id=body["trigger_id"], view=build_request_modal(locale=locale, today=deps.clock.today(), live=live)
    )


async def handle_request_submission(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """Validate every field, plan the approval steps and store the request before closing the modal."""
    deps = deps_of(context)
    user_id = body["user"]["id"]
    locale = await deps.people.get(client, user_id)
    values = view["state"]["values"]
    try:
        draft = parse_request_modal(values, today=deps.clock.today())
    except InvalidSubmission as exc:
        await ack(response_action="errors", errors=field_errors(exc, locale))
        return
    team_id = team_of(body, context)
    if duplicate_confirmed(values):
        duplicates = _carried_duplicates(view)
    else:
        duplicates = await queries.find_duplicates(
            deps.session_factory, team_id=team_id, draft=draft, today=deps.clock.today()
        )
        duplicates += await _duplicates_in_books(deps, team_id, draft, locale)
        if duplicates:
            log.info("possible duplicate submitted by %s: %s", user_id, ", ".join(duplicates))
            live = any(b.get("element", {}).get("type") == "external_select" for b in view.get("blocks", []))
            modal = build_request_modal(
                locale=locale,
                today=deps.clock.today(),
                live=live,
                private_metadata=json.dumps({"duplicates": duplicates})[:3000],
                duplicate_warning=t(locale, "duplicate.warning", found=", ".join(duplicates)),
            )
            await ack(response_action="update", view=prefill(modal.to_dict(), values))
            return
    try:
        steps = await deps.plan(team_id, draft=draft, requester_id=user_id, directory=SlackDirectory(client))
    except PolicyError as exc:
        log.error("no approval path for a request by %s: %s", user_id, exc)
        text = explain(exc, request=None, locale=locale, tz=deps.settings.timezone)
        await ack(response_action="update", view=build_notice_modal(text, locale=locale))
        return
    try:
        submitted = await flows.submit_request(
            deps.session_factory,
            clock=deps.clock,
            team_id=team_id,
            requester_id=user_id,
            submission_key=view["id"],
            draft=draft,
            steps=steps,
            possible_duplicates=", ".join(duplicates)[:1000] or None,
        )
    except InvalidSubmission as exc:  # the ledger's own check of the payment code (the parser made it too)
        await ack(response_action="errors", errors=field_errors(exc, locale))
        return
    await ack()
    if submitted.created:
        log.info("request %s submitted by %s", submitted.request.reference, user_id)
        await Notifier(client, deps).request_submitted(submitted.request)


async def handle_edit_click(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """The requester's Edit button: open the modal with the request as it is (the trigger id lasts 3 s)."""
    await ack()
    deps = deps_of(context)
    user_id = body["user"]["id"]
    try:
        request = await flows.get_request(
            deps.session_factory, request_id=StepRef.decode(action.get("value") or "").request_id
        )
    except (ValueError, RequestNotFound):
        log.warning("ignoring an Edit button with an unknown value")
        return
    try:
        check_may_edit(request, user_id)
    except LedgerError as exc:
        await tell(client, deps, body, exc, request_id=request.id)
        return
    locale = await deps.people.get(client, user_id)
    live = False
    if deps.contaazul is not None:
        connection = await deps.contaazul.connection(request.team_id)
        live = connection is not None and not connection.needs_reconnect
    modal = build_request_modal(
        locale=locale,
        today=deps.clock.today(),
        live=live,
        editing=True,
        private_metadata=json.dumps({"r": request.id, "v": request.version}),
    )
    view = prefill(modal.to_dict(), request_state(request, locale))
    await client.views_open(trigger_id=body["trigger_id"], view=view)


async def handle_edit_submission(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """Validate like a new request, then change it (restarting approval when what approvers weighed changed)."""
    deps = deps_of(context)
    user_id = body["user"]["id"]
    locale = await deps.people.get(client, user_id)
    try:
        meta = json.loads(view.get("private_metadata") or "")
        request_id, version = int(meta["r"]), int(meta["v"])
    except (ValueError, KeyError, TypeError):
        await ack(response_action="clear")
        return
    try:
        draft = parse_request_modal(view["state"]["values"], today=deps.clock.today())
    except InvalidSubmission as exc:
        await ack(response_action="errors", errors=field_errors(exc, locale))
        return
    try:
        steps = await deps.plan(
            team_of(body, context), draft=draft, requester_id=user_id, directory=SlackDirectory(client)
        )
        edited = await flows.edit_request(
            deps.session_factory,
            clock=deps.clock,
            request_id=request_id,
            actor_id=user_id,
            expected_version=version,
            draft=draft,
            steps=steps,
        )
    except InvalidSubmission as exc:
        await ack(response_action="errors", errors=field_errors(exc, locale))
        return
    except LedgerError as exc:
        text = await explain_error(client, deps, exc, user_id=user_id, request_id=request_id)
        await ack(response_action="update", view=build_notice_modal(text, locale=locale))
        return
    await ack()
    if not edited.changes:
        return
    log.info("request %s edited by %s (approval restarted: %s)", edited.request.reference, user_id, edited.restarted)
    await Notifier(client, deps).request_edited(edited)


async def handle_payment_code_typed(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """A boleto or PIX code pasted in the modal: show what it says and fill the amount and due date left empty.

    A code that does not decode changes nothing here: the submission names the problem under the field.
    """
    await ack()
    deps, view = deps_of(context), body.get("view") or {}
    text = str(action.get("value") or "")
    values = (view.get("state") or {}).get("values") or {}
    chosen = input_value(values, RequestField.PAYMENT_METHOD) or PaymentMethod.BOLETO.value
    try:
        method = detect_payment_method(text) or PaymentMethod(chosen)
        instrument = read_payment_code(method, text, today=deps.clock.today())
    except ValueError:  # InvalidValue included: a code still being typed, or a method Slack never offered
        return
    if instrument.kind in ("text", "pix_key"):  # nothing to fill in; a key is shown to approvers decoded
        return
    locale = await deps.people.get(client, body["user"]["id"])
    updated = fill_from_code(view, instrument, method, locale=locale)
    try:
        await client.views_update(view_id=view["id"], hash=view.get("hash"), view=updated)
    except SlackApiError as exc:  # hash_conflict: the person kept typing, and the next keystroke tries again
        log.info("modal not filled from the payment code: %s", exc.response.get("error"))


def _carried_duplicates(view: dict[str, Any]) -> list[str]:
    """What the warning named, carried in the modal's metadata to the confirmed submission."""
    try:
        found = json.loads(view.get("private_metadata") or "{}").get("duplicates", [])
    except (ValueError, AttributeError):
        return []
    return [str(item) for item in found][:20] if isinstance(found, list) else []


async def _duplicates_in_books(deps: Deps, team_id: str, draft: RequestDraft, locale: Locale) -> list[str]:
    """Open payables in Conta Azul due the same day, for the same amount and vendor (within a short budget:
    Slack waits 3 seconds for this answer, and a slow Conta Azul must not lose the request)."""
    if deps.contaazul is None or await deps.contaazul.connection(team_id) is None:
        return []
    try:
        entries = await asyncio.wait_for(
            deps.contaazul.client(team_id).search_entries("payable", draft.due_date, draft.due_date),
            BOOKS_CHECK_SECONDS,
        )
    except (TimeoutError, GatewayError) as exc:
        log.info("skipped the duplicate check in conta azul: %s", type(exc).__name__)
        return []
    vendor = name_key(draft.vendor_name)
    return [
        t(
            locale,
            "duplicate.in_books",
            description=e.description[:60],
            amount=money(draft.amount, locale),
            due=day(draft.due_date, locale),
        )
        for e in entries
        if e.total == draft.amount and e.person_name and name_key(e.person_name) == vendor and e.status != "QUITADO"
    ]


def register(app: AsyncApp, settings: Settings) -> None:
    for command in settings.payment_commands:
        app.command(command)(handle_payment_command)
    app.view(CallbackId.REQUEST_MODAL.value)(handle_request_submission)
    app.action(ActionId.EDIT.value)(handle_edit_click)
    app.view(CallbackId.EDIT_MODAL.value)(handle_edit_submission)
    app.action(ActionId.PAYMENT_CODE.value)(handle_payment_code_typed)
