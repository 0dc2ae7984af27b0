"""``/pagamento``: open the request modal, then validate and store what was submitted."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.fields import StepRef, describe_duplicates
from bot.blocks.i18n import t
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
from bot.handlers.common import deps_of, explain_error, team_of, tell
from bot.handlers.history import export_month
from bot.ids import ActionId, CallbackId, RequestField
from bot.notifier import Notifier
from bot.people import SlackDirectory
from bot.settings import Settings
from ledger import flows, queries
from ledger.access import check_may_edit
from ledger.domain import PaymentMethod
from ledger.duplicates import PossibleDuplicate, decode, encode, in_books
from ledger.errors import (
    InvalidSubmission,
    LedgerError,
    PolicyError,
    RequestNotFound,
)
from ledger.payment_code import detect_payment_method, read_payment_code

log = logging.getLogger(__name__)


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
        references = await queries.find_duplicates(
            deps.session_factory, team_id=team_id, draft=draft, today=deps.clock.today()
        )
        duplicates = [PossibleDuplicate(reference=r) for r in references]
        duplicates += await in_books(deps.contaazul, team_id=team_id, draft=draft)
        if duplicates:
            log.info("possible duplicate submitted by %s: %s", user_id, ", ".join(references) or "in conta azul")
            live = any(b.get("element", {}).get("type") == "external_select" for b in view.get("blocks", []))
            modal = build_request_modal(
                locale=locale,
                today=deps.clock.today(),
                live=live,
                private_metadata=json.dumps({"duplicates": encode(duplicates)})[:3000],
                duplicate_warning=t(locale, "duplicate.warning", found=describe_duplicates(duplicates, locale)),
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
            possible_duplicates=encode(duplicates),
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


def _carried_duplicates(view: dict[str, Any]) -> list[PossibleDuplicate]:
    """What the warning named, carried in the modal's metadata to the confirmed submission."""
    try:
        carried = json.loads(view.get("private_metadata") or "{}").get("duplicates")
    except (ValueError, AttributeError):
        return []
    return decode(carried) if isinstance(carried, str) else []


def register(app: AsyncApp, settings: Settings) -> None:
    for command in settings.payment_commands:
        app.command(command)(handle_payment_command)
    app.view(CallbackId.REQUEST_MODAL.value)(handle_request_submission)
    app.action(ActionId.EDIT.value)(handle_edit_click)
    app.view(CallbackId.EDIT_MODAL.value)(handle_edit_submission)
    app.action(ActionId.PAYMENT_CODE.value)(handle_payment_code_typed)
