"""Finance admins edit the approval rules from the App Home: rules, the default step, reminder times, absences.

Every button and every modal checks the person is a finance admin; every save is a new version (who, when, what)
validated by the ledger, and a save based on an outdated version is refused rather than overwriting someone else's.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.i18n import Locale, t
from bot.blocks.request_modal import field_errors
from bot.blocks.rules import (
    build_default_modal,
    build_delegation_modal,
    build_rule_modal,
    build_rules_history_modal,
    build_times_modal,
    keep_fallback_groups,
    keep_hidden_steps,
    parse_default_modal,
    parse_delegation_modal,
    parse_meta,
    parse_rule_modal,
    parse_times_modal,
)
from bot.deps import Deps
from bot.handlers.common import deps_of, is_finance_admin, team_of
from bot.handlers.home import publish_home
from bot.ids import ActionId, CallbackId
from bot.settings import Settings
from ledger import flows, rules
from ledger.errors import InvalidSubmission, PolicyError, StaleDecision
from ledger.policy import Policy
from ledger.rules import RuleChange, Rules

log = logging.getLogger(__name__)


async def _refuse_non_admin(client: AsyncWebClient, deps: Deps, user_id: str) -> bool:
    """True (and the person told, in their DM) when they may not change the rules."""
    if await is_finance_admin(client, deps, user_id):
        return False
    log.info("refused a rules change to non-admin %s", user_id)
    locale = await deps.people.get(client, user_id)
    await client.chat_postMessage(channel=user_id, text=t(locale, "rules.not_admin"))
    return True


async def _save(
    deps: Deps,
    current: Rules,
    *,
    team_id: str,
    user_id: str,
    based_on: int | None,
    policy: Policy,
    change: RuleChange,
    times: tuple[int, int] | None = None,
) -> None:
    """Store a version made from ``current`` (raising PolicyError or StaleDecision for the caller to show).

    ``current`` gives the reminder times a rules-only change keeps; a save on an outdated version is refused.
    """
    remind, escalate = times or (current.remind_after_hours, current.escalate_after_hours)
    await rules.save_rules(
        deps.session_factory,
        clock=deps.clock,
        team_id=team_id,
        actor_id=user_id,
        based_on=based_on,
        policy=policy,
        remind_after_hours=remind,
        escalate_after_hours=escalate,
        change=change,
    )
    log.info("approval rules of %s changed by %s: %s", team_id, user_id, change.kind)


def _save_errors(exc: Exception, locale: Locale, *, field: str) -> dict[str, str]:
    """A refused save, shown under the field it concerns."""
    if isinstance(exc, StaleDecision):
        return {field: t(locale, "rules.stale")}
    target = exc.params.get("field", field) if isinstance(exc, PolicyError) else field
    return {str(target): t(locale, "rules.invalid", error=str(exc))}


@dataclass(frozen=True, slots=True)
class _Editor:
    """The finance admin submitting an editor modal."""

    deps: Deps
    user_id: str
    team_id: str
    locale: Locale


async def _admin_submitting(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext, *, field: str
) -> _Editor | None:
    """Who submits an editor modal; None, the modal told why, for a non-admin."""
    deps, user_id = deps_of(context), body["user"]["id"]
    locale = await deps.people.get(client, user_id)
    if not await is_finance_admin(client, deps, user_id):
        await ack(response_action="errors", errors={field: t(locale, "rules.not_admin")})
        return None
    return _Editor(deps, user_id, team_of(body, context), locale)


async def _save_from_modal(
    ack: AsyncAck,
    client: AsyncWebClient,
    editor: _Editor,
    current: Rules,
    *,
    view: dict[str, Any],
    policy: Policy,
    change: RuleChange,
    field: str,
    times: tuple[int, int] | None = None,
) -> None:
    """Save on the version the modal was opened on: close it, or show the refusal under ``field``."""
    deps, user_id, team_id = editor.deps, editor.user_id, editor.team_id
    try:
        await _save(
            deps,
            current,
            team_id=team_id,
            user_id=user_id,
            based_on=parse_meta(view).get("v"),
            policy=policy,
            change=change,
            times=times,
        )
    except (PolicyError, StaleDecision) as exc:
        await ack(response_action="errors", errors=_save_errors(exc, editor.locale, field=field))
        return
    await ack()
    await publish_home(client, deps, user_id=user_id, team_id=team_id)


async def handle_rules_menu(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """A rule's menu in the Home tab: edit (a modal), move up or down, delete (saved at once)."""
    await ack()
    deps, user_id, team_id = deps_of(context), body["user"]["id"], team_of(body, context)
    if await _refuse_non_admin(client, deps, user_id):
        return
    try:
        chosen = json.loads((action.get("selected_option") or {}).get("value") or "{}")
        op, index = str(chosen["op"]), int(chosen["i"])
    except (ValueError, KeyError, TypeError):
        log.warning("ignoring a rules menu choice with an unknown value")
        return
    current = await deps.rules_for(team_id)
    rule_list = current.policy.rules
    if not 0 <= index < len(rule_list):
        await publish_home(client, deps, user_id=user_id, team_id=team_id)  # the tab was outdated
        return
    locale = await deps.people.get(client, user_id)
    name = rule_list[index].name
    if op == "edit":
        view = build_rule_modal(rule_list[index], index=index, version_id=current.version_id, locale=locale)
        await client.views_open(trigger_id=body["trigger_id"], view=view)
        return
    if op == "delete":
        policy = current.policy.without_rule(index)
        change = RuleChange("deleted", name=name)
    elif op in ("up", "down"):
        target = index - 1 if op == "up" else index + 1
        if not 0 <= target < len(rule_list):
            return
        policy = current.policy.with_rule_moved(index, target)
        change = RuleChange("moved", name=name, position=target + 1)
    else:
        return
    try:
        await _save(
            deps, current, team_id=team_id, user_id=user_id, based_on=current.version_id, policy=policy, change=change
        )
    except (PolicyError, StaleDecision) as exc:
        text = (
            t(locale, "rules.stale") if isinstance(exc, StaleDecision) else t(locale, "rules.invalid", error=str(exc))
        )
        await client.chat_postMessage(channel=user_id, text=text)
        return
    await publish_home(client, deps, user_id=user_id, team_id=team_id)


async def handle_rule_submission(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    if (who := await _admin_submitting(ack, body, client, context, field="name")) is None:
        return
    deps, team_id, locale = who.deps, who.team_id, who.locale
    try:
        rule = parse_rule_modal(view["state"]["values"])
    except InvalidSubmission as exc:
        await ack(response_action="errors", errors=field_errors(exc, locale))
        return
    current = await deps.rules_for(team_id)
    index = parse_meta(view).get("i")
    if isinstance(index, int) and 0 <= index < len(current.policy.rules):
        rule = keep_hidden_steps(rule, current.policy.rules[index])
        policy, change = current.policy.with_rule(rule, at=index), RuleChange("edited", name=rule.name)
    else:
        policy, change = current.policy.with_rule(rule), RuleChange("added", name=rule.name)
    await _save_from_modal(
        ack,
        client,
        who,
        current,
        view=view,
        policy=policy,
        change=change,
        field="name",
    )


async def handle_default_submission(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    if (who := await _admin_submitting(ack, body, client, context, field="step0_name")) is None:
        return
    deps, team_id, locale = who.deps, who.team_id, who.locale
    try:
        steps, fallback = parse_default_modal(view["state"]["values"])
    except InvalidSubmission as exc:
        await ack(response_action="errors", errors=field_errors(exc, locale))
        return
    current = await deps.rules_for(team_id)
    policy = replace(current.policy, default=steps, fallback=keep_fallback_groups(fallback, current.policy))
    change = RuleChange("default")
    await _save_from_modal(
        ack,
        client,
        who,
        current,
        view=view,
        policy=policy,
        change=change,
        field="step0_name",
    )


async def handle_times_submission(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    if (who := await _admin_submitting(ack, body, client, context, field="remind")) is None:
        return
    deps, team_id, locale = who.deps, who.team_id, who.locale
    try:
        remind, escalate = parse_times_modal(view["state"]["values"])
        rules.check_times(remind, escalate)
    except InvalidSubmission as exc:
        await ack(response_action="errors", errors=field_errors(exc, locale))
        return
    except PolicyError as exc:
        field = "remind" if exc.params.get("field") == "remind_after_hours" else "escalate"
        await ack(response_action="errors", errors={field: t(locale, "rules.invalid", error=str(exc))})
        return
    current = await deps.rules_for(team_id)
    await _save_from_modal(
        ack,
        client,
        who,
        current,
        view=view,
        policy=current.policy,
        change=RuleChange("times", remind=remind, escalate=escalate),
        field="remind",
        times=(remind, escalate),
    )


async def handle_delegation_submission(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    if (who := await _admin_submitting(ack, body, client, context, field="approver")) is None:
        return
    deps, user_id, team_id, locale = who.deps, who.user_id, who.team_id, who.locale
    try:
        approver, delegate, starts_on, ends_on = parse_delegation_modal(view["state"]["values"])
        await rules.add_delegation(
            deps.session_factory,
            clock=deps.clock,
            team_id=team_id,
            actor_id=user_id,
            approver_id=approver,
            delegate_id=delegate,
            starts_on=starts_on,
            ends_on=ends_on,
        )
    except InvalidSubmission as exc:
        await ack(response_action="errors", errors=field_errors(exc, locale))
        return
    except PolicyError as exc:
        field = str(exc.params.get("field") or "ends_on")
        await ack(response_action="errors", errors={field: t(locale, "rules.invalid", error=str(exc))})
        return
    await ack()
    await flows.audit(
        deps.session_factory,
        clock=deps.clock,
        team_id=team_id,
        actor_id=user_id,
        action="delegation_added",
        approver=approver,
        delegate=delegate,
        starts_on=starts_on.isoformat(),
        ends_on=ends_on.isoformat(),
    )
    await publish_home(client, deps, user_id=user_id, team_id=team_id)


async def handle_undelegate(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    deps, user_id, team_id = deps_of(context), body["user"]["id"], team_of(body, context)
    if await _refuse_non_admin(client, deps, user_id):
        return
    value = (action.get("selected_option") or {}).get("value") or ""
    if value.isdigit() and await rules.cancel_delegation(
        deps.session_factory, clock=deps.clock, team_id=team_id, delegation_id=int(value)
    ):
        await flows.audit(
            deps.session_factory,
            clock=deps.clock,
            team_id=team_id,
            actor_id=user_id,
            action="delegation_cancelled",
            id=int(value),
        )
    await publish_home(client, deps, user_id=user_id, team_id=team_id)


ModalBuilder = Callable[[Deps, Rules, str, Locale], Awaitable[View]]


def _opener(build: ModalBuilder) -> Callable[..., Awaitable[None]]:
    """A Home-tab button that opens one of the editor's modals, for finance admins only."""

    async def handle(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext) -> None:
        await ack()
        deps, user_id = deps_of(context), body["user"]["id"]
        if await _refuse_non_admin(client, deps, user_id):
            return
        team_id = team_of(body, context)
        view = await build(deps, await deps.rules_for(team_id), team_id, await deps.people.get(client, user_id))
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    return handle


async def _new_rule(deps: Deps, current: Rules, team_id: str, locale: Locale) -> View:
    return build_rule_modal(None, index=None, version_id=current.version_id, locale=locale)


async def _default(deps: Deps, current: Rules, team_id: str, locale: Locale) -> View:
    return build_default_modal(current.policy, version_id=current.version_id, locale=locale)


async def _times(deps: Deps, current: Rules, team_id: str, locale: Locale) -> View:
    return build_times_modal(current, locale=locale)


async def _absence(deps: Deps, current: Rules, team_id: str, locale: Locale) -> View:
    return build_delegation_modal(locale=locale, today=deps.clock.today())


async def _history(deps: Deps, current: Rules, team_id: str, locale: Locale) -> View:
    versions = await rules.rules_history(deps.session_factory, team_id=team_id)
    return build_rules_history_modal(versions, locale=locale, tz=deps.settings.timezone)


def register(app: AsyncApp, settings: Settings) -> None:
    app.action(ActionId.RULES_MENU.value)(handle_rules_menu)
    app.action(ActionId.RULES_ADD.value)(_opener(_new_rule))
    app.view(CallbackId.RULE_MODAL.value)(handle_rule_submission)
    app.action(ActionId.RULES_DEFAULT.value)(_opener(_default))
    app.view(CallbackId.DEFAULT_MODAL.value)(handle_default_submission)
    app.action(ActionId.RULES_TIMES.value)(_opener(_times))
    app.view(CallbackId.TIMES_MODAL.value)(handle_times_submission)
    app.action(ActionId.RULES_DELEGATE.value)(_opener(_absence))
    app.view(CallbackId.DELEGATION_MODAL.value)(handle_delegation_submission)
    app.action(ActionId.RULES_UNDELEGATE.value)(handle_undelegate)
    app.action(ActionId.RULES_HISTORY.value)(_opener(_history))
