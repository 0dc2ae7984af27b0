"""``/pagamento``: open the request modal, then validate and store what was submitted."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.fields import StepRef, describe_duplicates
from bot.blocks.i18n import t
from bot.blocks.request_modal import (
    build_request_modal,
    duplicate_confirmed,
    fill_from_code,
    input_value,
    parse_request_modal,
    prefill,
    request_state,
)
from bot.deps import Deps
from bot.errors import Listeners
from bot.ids import ActionId, CallbackId, RequestField
from bot.middleware import Actor, with_request_ref
from bot.month_export import export_month
from bot.people import SlackDirectory
from bot.settings import Settings
from ledger import (
    NotAllowed,
    PaymentMethod,
    PossibleDuplicate,
    check_may_edit,
    decode_duplicates,
    detect_payment_method,
    encode_duplicates,
    read_payment_code,
)

log = logging.getLogger(__name__)


async def handle_payment_command(
    ack: AsyncAck, body: dict[str, Any], actor: Actor, deps: Deps, client: AsyncWebClient
) -> None:
    """Open the modal right away: the trigger id is only good for 3 seconds. ``export <month>`` exports instead."""
    await ack()
    words = (body.get("text") or "").split(maxsplit=1)
    if words and words[0].lower() in ("export", "exportar"):
        if not actor.is_admin:
            raise NotAllowed("not_an_admin", task="export")
        command = body.get("command") or deps.settings.payment_commands[0]
        await export_month(client, deps, actor, command=command, text=words[1] if len(words) > 1 else "")
        return
    modal = build_request_modal(locale=actor.locale, today=deps.clock.today(), live=await _live(deps, actor.team_id))
    await client.views_open(trigger_id=body["trigger_id"], view=modal)


async def handle_request_submission(
    ack: AsyncAck, view: dict[str, Any], actor: Actor, deps: Deps, client: AsyncWebClient
) -> None:
    """Validate every field, plan the approval steps and store the request before closing the modal.

    A refusal (a field, nobody to approve) is answered in the modal by the error handler."""
    values = view["state"]["values"]
    draft = parse_request_modal(values, today=deps.clock.today())
    confirmed = duplicate_confirmed(values)
    screened = await deps.ledger.screen(
        actor.team_id,
        draft=draft,
        requester_id=actor.user_id,
        directory=SlackDirectory(client),
        look_for_duplicates=not confirmed,
    )
    if duplicates := screened.duplicates:
        found = ", ".join(d.reference or "conta azul" for d in duplicates)
        log.info("possible duplicate submitted by %s: %s", actor.user_id, found)
        live = any(b.get("element", {}).get("type") == "external_select" for b in view.get("blocks", []))
        modal = build_request_modal(
            locale=actor.locale,
            today=deps.clock.today(),
            live=live,
            private_metadata=json.dumps({"duplicates": encode_duplicates(duplicates)})[:3000],
            duplicate_warning=t(actor.locale, "duplicate.warning", found=describe_duplicates(duplicates, actor.locale)),
        )
        await ack(response_action="update", view=prefill(modal.to_dict(), values))
        return
    submitted = await deps.ledger.submit(
        actor.team_id,
        requester_id=actor.user_id,
        submission_key=view["id"],
        draft=draft,
        steps=screened.steps,
        possible_duplicates=_carried_duplicates(view) if confirmed else [],
        lease=deps.delivery_lease(),
    )
    await ack()
    if submitted.created:
        log.info("request %s submitted by %s", submitted.request.reference, actor.user_id)
        deps.deliver(submitted)


async def handle_edit_click(
    ack: AsyncAck, body: dict[str, Any], ref: StepRef, actor: Actor, deps: Deps, client: AsyncWebClient
) -> None:
    """The requester's Edit button: open the modal with the request as it is (the trigger id lasts 3 s)."""
    await ack()
    request = await deps.ledger.request(ref.request_id)
    check_may_edit(request, actor.user_id)
    modal = build_request_modal(
        locale=actor.locale,
        today=deps.clock.today(),
        live=await _live(deps, request.team_id),
        editing=True,
        private_metadata=json.dumps({"r": request.id, "v": request.version}),
    )
    view = prefill(modal.to_dict(), request_state(request, actor.locale))
    await client.views_open(trigger_id=body["trigger_id"], view=view)


async def handle_edit_submission(
    ack: AsyncAck, view: dict[str, Any], actor: Actor, deps: Deps, client: AsyncWebClient
) -> None:
    """Validate like a new request, then change it (restarting approval when what approvers weighed changed)."""
    try:
        meta = json.loads(view.get("private_metadata") or "")
        request_id, version = int(meta["r"]), int(meta["v"])
    except (ValueError, KeyError, TypeError):
        await ack(response_action="clear")
        return
    draft = parse_request_modal(view["state"]["values"], today=deps.clock.today())
    steps = await deps.ledger.plan(
        actor.team_id, draft=draft, requester_id=actor.user_id, directory=SlackDirectory(client)
    )
    edited = await deps.ledger.edit(
        request_id, actor_id=actor.user_id, expected_version=version, draft=draft, steps=steps
    )
    await ack()
    if edited.changes:
        log.info("request %s edited by %s (restarted: %s)", edited.request.reference, actor.user_id, edited.restarted)
        deps.wake_deliveries()


async def handle_payment_code_typed(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], actor: Actor, deps: Deps, client: AsyncWebClient
) -> None:
    """A boleto or PIX code pasted in the modal: show what it says and fill the amount and due date left empty.

    A code that does not decode changes nothing here: the submission names the problem under the field.
    """
    await ack()
    view = body.get("view") or {}
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
    updated = fill_from_code(view, instrument, method, locale=actor.locale)
    try:
        await client.views_update(view_id=view["id"], hash=view.get("hash"), view=updated)
    except SlackApiError as exc:  # hash_conflict: the person kept typing, and the next keystroke tries again
        log.info("modal not filled from the payment code: %s", exc.response.get("error"))


async def _live(deps: Deps, team_id: str) -> bool:
    """Whether the modal's lists come from Conta Azul (connected and usable) or are typed freely."""
    if deps.contaazul is None:
        return False
    connection = await deps.contaazul.connection(team_id)
    return connection is not None and not connection.needs_reconnect


def _carried_duplicates(view: dict[str, Any]) -> list[PossibleDuplicate]:
    """What the warning named, carried in the modal's metadata to the confirmed submission."""
    try:
        carried = json.loads(view.get("private_metadata") or "{}").get("duplicates")
    except (ValueError, AttributeError):
        return []
    return decode_duplicates(carried) if isinstance(carried, str) else []


def register(app: Listeners, settings: Settings) -> None:
    for command in settings.payment_commands:
        app.command(command)(handle_payment_command)
    app.view(CallbackId.REQUEST_MODAL.value)(handle_request_submission)
    app.action(ActionId.EDIT.value, middleware=[with_request_ref()])(handle_edit_click)
    app.view(CallbackId.EDIT_MODAL.value)(handle_edit_submission)
    app.action(ActionId.PAYMENT_CODE.value)(handle_payment_code_typed)
