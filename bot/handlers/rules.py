"""Finance admins edit the approval rules from the App Home: rules, the default step, reminder times, absences.

Every button and every modal checks the person is a finance admin; every save is a new version (who, when, what)
validated by the ledger, and a save based on an outdated version is refused rather than overwriting someone else's.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.i18n import Locale, t
from bot.blocks.rules import (
    MenuChoice,
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
from bot.errors import Listener, Listeners
from bot.home_tab import publish_home
from bot.ids import ActionId, CallbackId
from bot.middleware import Actor, Middleware, require_finance_admin, tell
from bot.settings import Settings
from ledger import Policy, PolicyError, RuleChange, Rules, StaleDecision, check_times

log = logging.getLogger(__name__)


def _refusal(exc: PolicyError | StaleDecision, locale: Locale) -> str:
    return t(locale, "rules.stale") if isinstance(exc, StaleDecision) else t(locale, "rules.invalid", error=str(exc))


def _save_errors(exc: PolicyError | StaleDecision, locale: Locale, *, field: str) -> dict[str, str]:
    """A refused save, shown under the field it concerns."""
    target = exc.params.get("field", field) if isinstance(exc, PolicyError) else field
    return {str(target): _refusal(exc, locale)}


async def _save_from_modal(
    ack: AsyncAck,
    client: AsyncWebClient,
    deps: Deps,
    actor: Actor,
    *,
    view: dict[str, Any],
    policy: Policy,
    change: RuleChange,
    field: str,
    times: tuple[int, int] | None = None,
) -> None:
    """Save on the version the modal was opened on: close it, or show the refusal under ``field``."""
    try:
        await deps.ledger.save_rules(
            actor.team_id,
            actor_id=actor.user_id,
            based_on=parse_meta(view).get("v"),
            policy=policy,
            times=times,
            change=change,
        )
    except (PolicyError, StaleDecision) as exc:
        await ack(response_action="errors", errors=_save_errors(exc, actor.locale, field=field))
        return
    await ack()
    log.info("approval rules of %s changed by %s: %s", actor.team_id, actor.user_id, change.kind)
    await publish_home(client, deps, actor)


async def handle_rules_menu(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], actor: Actor, deps: Deps, client: AsyncWebClient
) -> None:
    """A rule's menu in the Home tab: edit (a modal), move up or down, delete (saved at once)."""
    await ack()
    current = await deps.ledger.rules(actor.team_id)
    try:
        choice = MenuChoice.decode((action.get("selected_option") or {}).get("value") or "")
    except ValueError:
        choice = None  # a Home tab drawn by an older Aprova: as stale as any
    rule = choice.rule_in(current) if choice is not None else None
    if choice is None or rule is None:
        # The tab was drawn from rules that have changed since: its positions may name other rules now.
        await tell(client, actor, t(actor.locale, "rules.stale"))
        await publish_home(client, deps, actor)
        return
    op, index, rule_list, name = choice.op, choice.index, current.policy.rules, rule.name
    if op == "edit":
        view = build_rule_modal(rule, index=index, version_id=current.version_id, locale=actor.locale)
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
        await deps.ledger.save_rules(
            actor.team_id, actor_id=actor.user_id, based_on=current.version_id, policy=policy, change=change
        )
    except (PolicyError, StaleDecision) as exc:
        await tell(client, actor, _refusal(exc, actor.locale))
        return
    log.info("approval rules of %s changed by %s: %s", actor.team_id, actor.user_id, change.kind)
    await publish_home(client, deps, actor)


async def handle_rule_submission(
    ack: AsyncAck, view: dict[str, Any], actor: Actor, deps: Deps, client: AsyncWebClient
) -> None:
    rule = parse_rule_modal(view["state"]["values"])
    current = await deps.ledger.rules(actor.team_id)
    index = parse_meta(view).get("i")
    if isinstance(index, int) and 0 <= index < len(current.policy.rules):
        rule = keep_hidden_steps(rule, current.policy.rules[index])
        policy, change = current.policy.with_rule(rule, at=index), RuleChange("edited", name=rule.name)
    else:
        policy, change = current.policy.with_rule(rule), RuleChange("added", name=rule.name)
    await _save_from_modal(ack, client, deps, actor, view=view, policy=policy, change=change, field="name")


async def handle_default_submission(
    ack: AsyncAck, view: dict[str, Any], actor: Actor, deps: Deps, client: AsyncWebClient
) -> None:
    steps, fallback = parse_default_modal(view["state"]["values"])
    current = await deps.ledger.rules(actor.team_id)
    policy = replace(current.policy, default=steps, fallback=keep_fallback_groups(fallback, current.policy))
    await _save_from_modal(
        ack, client, deps, actor, view=view, policy=policy, change=RuleChange("default"), field="step0_name"
    )


async def handle_times_submission(
    ack: AsyncAck, view: dict[str, Any], actor: Actor, deps: Deps, client: AsyncWebClient
) -> None:
    remind, escalate = parse_times_modal(view["state"]["values"])
    try:
        check_times(remind, escalate)
    except PolicyError as exc:
        field = "remind" if exc.params.get("field") == "remind_after_hours" else "escalate"
        await ack(response_action="errors", errors={field: t(actor.locale, "rules.invalid", error=str(exc))})
        return
    current = await deps.ledger.rules(actor.team_id)
    await _save_from_modal(
        ack,
        client,
        deps,
        actor,
        view=view,
        policy=current.policy,
        change=RuleChange("times", remind=remind, escalate=escalate),
        field="remind",
        times=(remind, escalate),
    )


async def handle_delegation_submission(
    ack: AsyncAck, view: dict[str, Any], actor: Actor, deps: Deps, client: AsyncWebClient
) -> None:
    approver, delegate, starts_on, ends_on = parse_delegation_modal(view["state"]["values"])
    try:
        await deps.ledger.add_delegation(
            actor.team_id,
            actor_id=actor.user_id,
            approver_id=approver,
            delegate_id=delegate,
            starts_on=starts_on,
            ends_on=ends_on,
        )
    except PolicyError as exc:
        field = str(exc.params.get("field") or "ends_on")
        await ack(response_action="errors", errors={field: t(actor.locale, "rules.invalid", error=str(exc))})
        return
    await ack()
    await publish_home(client, deps, actor)


async def handle_undelegate(
    ack: AsyncAck, action: dict[str, Any], actor: Actor, deps: Deps, client: AsyncWebClient
) -> None:
    await ack()
    value = (action.get("selected_option") or {}).get("value") or ""
    if value.isdigit():
        await deps.ledger.cancel_delegation(actor.team_id, actor_id=actor.user_id, delegation_id=int(value))
    await publish_home(client, deps, actor)


ModalBuilder = Callable[[Deps, Rules, str, Locale], Awaitable[View]]


def _opener(build: ModalBuilder) -> Listener:
    """A Home-tab button that opens one of the editor's modals."""

    async def handle(ack: AsyncAck, body: dict[str, Any], actor: Actor, deps: Deps, client: AsyncWebClient) -> None:
        await ack()
        view = await build(deps, await deps.ledger.rules(actor.team_id), actor.team_id, actor.locale)
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
    versions = await deps.ledger.rules_history(team_id)
    return build_rules_history_modal(versions, locale=locale, tz=deps.settings.timezone)


def register(app: Listeners, settings: Settings) -> None:
    admins = [require_finance_admin("rules")]

    def modal(field: str) -> list[Middleware]:
        return [require_finance_admin("rules", field=field)]

    app.action(ActionId.RULES_MENU.value, middleware=admins)(handle_rules_menu)
    app.action(ActionId.RULES_ADD.value, middleware=admins)(_opener(_new_rule))
    app.view(CallbackId.RULE_MODAL.value, middleware=modal("name"))(handle_rule_submission)
    app.action(ActionId.RULES_DEFAULT.value, middleware=admins)(_opener(_default))
    app.view(CallbackId.DEFAULT_MODAL.value, middleware=modal("step0_name"))(handle_default_submission)
    app.action(ActionId.RULES_TIMES.value, middleware=admins)(_opener(_times))
    app.view(CallbackId.TIMES_MODAL.value, middleware=modal("remind"))(handle_times_submission)
    app.action(ActionId.RULES_DELEGATE.value, middleware=admins)(_opener(_absence))
    app.view(CallbackId.DELEGATION_MODAL.value, middleware=modal("approver"))(handle_delegation_submission)
    app.action(ActionId.RULES_UNDELEGATE.value, middleware=admins)(handle_undelegate)
    app.action(ActionId.RULES_HISTORY.value, middleware=admins)(_opener(_history))
