"""The approval-rules editor in Slack: the rules as the App Home shows them to finance admins, and its modals.

Rules are edited in the policy file's own shape (``ledger.policy``): each modal reads and writes one part of it, and
the ledger validates the whole before saving, so Slack can never store what the file would refuse.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DatePickerElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    OverflowMenuElement,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    UserMultiSelectElement,
    UserSelectElement,
)
from slack_sdk.models.views import View

from bot.blocks.fields import SECTION_TEXT_LIMIT, clip, escape
from bot.blocks.i18n import Locale, day, moment, money, t
from bot.blocks.request_modal import input_value
from bot.ids import ActionId, CallbackId
from ledger.errors import InvalidSubmission, InvalidValue
from ledger.policy import GROUP_ID, USER_ID
from ledger.read_models import DelegationView, RuleVersionView
from ledger.rules import RuleChange, Rules
from ledger.validation import parse_brl_amount

STEP_SLOTS = 3  # steps a rule can have in the editor (the file allows more; they are kept as they are)
MAX_RULES_SHOWN = 15
MAX_DELEGATIONS_SHOWN = 5


def _approvers(refs: list[str]) -> str:
    return ", ".join(f"<@{r}>" if USER_ID.match(r) else f"<!subteam^{r}>" for r in refs) or "—"


def _steps_text(steps: list[dict[str, Any]]) -> str:
    return " → ".join(f"{escape(str(s.get('name', '')))}: {_approvers(list(s.get('approvers', [])))}" for s in steps)


def _conditions(rule: dict[str, Any], locale: Locale) -> str:
    parts = []
    if rule.get("min_amount") is not None:
        parts.append(t(locale, "rules.from", amount=money(Decimal(str(rule["min_amount"])), locale)))
    if rule.get("max_amount") is not None:
        parts.append(t(locale, "rules.below", amount=money(Decimal(str(rule["max_amount"])), locale)))
    if rule.get("categories"):
        parts.append(t(locale, "rules.categories", names=escape(", ".join(rule["categories"]))))
    if rule.get("cost_centers"):
        parts.append(t(locale, "rules.cost_centers", names=escape(", ".join(rule["cost_centers"]))))
    return " · ".join(parts) or t(locale, "rules.any")


def menu_value(op: str, index: int) -> str:
    return json.dumps({"op": op, "i": index})


def build_rules_section(
    rules: Rules, delegations: list[DelegationView], *, locale: Locale, tz: ZoneInfo
) -> list[Block]:
    """The rules in force, each with its menu (edit, move, delete), then the default step, times and delegations."""
    source = rules.source
    origin = (
        t(locale, "rules.changed", actor=rules.changed_by, when=moment(rules.changed_at, locale, tz))
        if rules.changed_by and rules.changed_at
        else t(locale, "rules.from_file")
    )
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=f"*{t(locale, 'rules.title')}*\n{origin}"))]
    rule_list: list[dict[str, Any]] = source.get("rules", [])
    for index, rule in enumerate(rule_list[:MAX_RULES_SHOWN]):
        options = [Option(value=menu_value("edit", index), text=t(locale, "rules.menu.edit"))]
        if index > 0:
            options.append(Option(value=menu_value("up", index), text=t(locale, "rules.menu.up")))
        if index < len(rule_list) - 1:
            options.append(Option(value=menu_value("down", index), text=t(locale, "rules.menu.down")))
        options.append(Option(value=menu_value("delete", index), text=t(locale, "rules.menu.delete")))
        title = f"*{index + 1}. {escape(str(rule.get('name', '')))}*"
        line = f"{title} — {_conditions(rule, locale)}\n{_steps_text(rule.get('steps', []))}"
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text=clip(line, SECTION_TEXT_LIMIT)),
                accessory=OverflowMenuElement(action_id=ActionId.RULES_MENU.value, options=options),
            )
        )
    if len(rule_list) > MAX_RULES_SHOWN:
        more = t(locale, "home.list_more", count=len(rule_list) - MAX_RULES_SHOWN)
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=more)]))
    default_steps = (source.get("default") or {}).get("steps", [])
    fallback = _approvers(list(source.get("fallback", [])))
    blocks.append(
        SectionBlock(
            text=MarkdownTextObject(
                text=clip(
                    t(locale, "rules.default", steps=_steps_text(default_steps), fallback=fallback), SECTION_TEXT_LIMIT
                )
            )
        )
    )
    times = t(locale, "rules.times", remind=rules.remind_after_hours, escalate=rules.escalate_after_hours)
    lines = [times]
    for delegation in delegations[:MAX_DELEGATIONS_SHOWN]:
        lines.append(
            t(
                locale,
                "rules.delegation",
                approver=delegation.approver_id,
                delegate=delegation.delegate_id,
                start=day(delegation.starts_on, locale),
                end=day(delegation.ends_on, locale),
            )
        )
    blocks.append(SectionBlock(text=MarkdownTextObject(text=clip("\n".join(lines), SECTION_TEXT_LIMIT))))
    buttons = [
        ButtonElement(action_id=ActionId.RULES_ADD.value, text=t(locale, "rules.add"), value="add"),
        ButtonElement(action_id=ActionId.RULES_DEFAULT.value, text=t(locale, "rules.edit_default"), value="default"),
        ButtonElement(action_id=ActionId.RULES_TIMES.value, text=t(locale, "rules.edit_times"), value="times"),
        ButtonElement(action_id=ActionId.RULES_DELEGATE.value, text=t(locale, "rules.delegate"), value="delegate"),
        ButtonElement(action_id=ActionId.RULES_HISTORY.value, text=t(locale, "rules.history"), value="history"),
    ]
    if delegations:
        cancel = [
            Option(value=str(d.id), text=clip(t(locale, "rules.cancel_delegation", day=day(d.starts_on, locale)), 75))
            for d in delegations[:MAX_DELEGATIONS_SHOWN]
        ]
        blocks.append(
            ActionsBlock(
                elements=[*buttons, OverflowMenuElement(action_id=ActionId.RULES_UNDELEGATE.value, options=cancel)]
            )
        )
    else:
        blocks.append(ActionsBlock(elements=buttons))
    return blocks


def _meta(version_id: int | None, **extra: Any) -> str:
    return json.dumps({"v": version_id, **extra})


def parse_meta(view: dict[str, Any]) -> dict[str, Any]:
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


def _text(
    block_id: str,
    label: str,
    *,
    initial: str | None,
    optional: bool = True,
    multiline: bool = False,
    hint: str | None = None,
    max_length: int = 200,
) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=label,
        optional=optional,
        hint=hint,
        element=PlainTextInputElement(
            action_id=ActionId.FIELD.value, initial_value=initial or None, multiline=multiline, max_length=max_length
        ),
    )


def _step_blocks(steps: list[dict[str, Any]], locale: Locale) -> list[Block]:
    blocks: list[Block] = []
    for slot in range(STEP_SLOTS):
        step = steps[slot] if slot < len(steps) else {}
        refs = [str(r) for r in step.get("approvers", [])]
        users = [r for r in refs if USER_ID.match(r)]
        groups = [r for r in refs if GROUP_ID.match(r)]
        blocks += [
            _text(
                f"step{slot}_name", t(locale, "rules.step_name", n=slot + 1), initial=step.get("name"), max_length=100
            ),
            InputBlock(
                block_id=f"step{slot}_users",
                label=t(locale, "rules.step_users", n=slot + 1),
                optional=True,
                element=UserMultiSelectElement(action_id=ActionId.FIELD.value, initial_users=users or None),
            ),
            _text(
                f"step{slot}_groups",
                t(locale, "rules.step_groups", n=slot + 1),
                initial=", ".join(groups),
                hint=t(locale, "rules.step_groups.hint"),
            ),
        ]
    return blocks


def build_rule_modal(rule: dict[str, Any] | None, *, index: int | None, version_id: int | None, locale: Locale) -> View:
    """Add (``index`` None) or edit one rule: name, amount range, categories, cost centers, up to 3 steps."""
    rule = rule or {}
    blocks: list[Block] = [
        ContextBlock(elements=[MarkdownTextObject(text=t(locale, "rules.modal.intro"))]),
        _text("name", t(locale, "rules.name"), initial=rule.get("name"), optional=False, max_length=100),
        _text("min_amount", t(locale, "rules.min_amount"), initial=_amount_text(rule.get("min_amount")), max_length=30),
        _text("max_amount", t(locale, "rules.max_amount"), initial=_amount_text(rule.get("max_amount")), max_length=30),
        _text(
            "categories",
            t(locale, "rules.field.categories"),
            initial="\n".join(rule.get("categories", [])),
            multiline=True,
            hint=t(locale, "rules.one_per_line"),
            max_length=2000,
        ),
        _text(
            "cost_centers",
            t(locale, "rules.field.cost_centers"),
            initial="\n".join(rule.get("cost_centers", [])),
            multiline=True,
            hint=t(locale, "rules.one_per_line"),
            max_length=2000,
        ),
        *_step_blocks(rule.get("steps", []), locale),
    ]
    return View(
        type="modal",
        callback_id=CallbackId.RULE_MODAL.value,
        title=PlainTextObject(text=t(locale, "rules.modal.title")),
        submit=PlainTextObject(text=t(locale, "edit.save")),
        close=PlainTextObject(text=t(locale, "modal.cancel")),
        private_metadata=_meta(version_id, i=index),
        blocks=blocks,
    )


def build_default_modal(source: dict[str, Any], *, version_id: int | None, locale: Locale) -> View:
    """The default steps (when no rule matches) and the fallback approvers."""
    fallback = [str(r) for r in source.get("fallback", [])]
    blocks: list[Block] = [
        ContextBlock(elements=[MarkdownTextObject(text=t(locale, "rules.default.intro"))]),
        *_step_blocks((source.get("default") or {}).get("steps", []), locale),
        InputBlock(
            block_id="fallback_users",
            label=t(locale, "rules.fallback"),
            optional=True,
            hint=t(locale, "rules.fallback.hint"),
            element=UserMultiSelectElement(
                action_id=ActionId.FIELD.value, initial_users=[r for r in fallback if USER_ID.match(r)] or None
            ),
        ),
    ]
    return View(
        type="modal",
        callback_id=CallbackId.DEFAULT_MODAL.value,
        title=PlainTextObject(text=t(locale, "rules.default.title")),
        submit=PlainTextObject(text=t(locale, "edit.save")),
        close=PlainTextObject(text=t(locale, "modal.cancel")),
        private_metadata=_meta(version_id),
        blocks=blocks,
    )


def build_times_modal(rules: Rules, *, locale: Locale) -> View:
    return View(
        type="modal",
        callback_id=CallbackId.TIMES_MODAL.value,
        title=PlainTextObject(text=t(locale, "rules.times.title")),
        submit=PlainTextObject(text=t(locale, "edit.save")),
        close=PlainTextObject(text=t(locale, "modal.cancel")),
        private_metadata=_meta(rules.version_id),
        blocks=[
            _text(
                "remind", t(locale, "rules.remind"), initial=str(rules.remind_after_hours), optional=False, max_length=4
            ),
            _text(
                "escalate",
                t(locale, "rules.escalate"),
                initial=str(rules.escalate_after_hours),
                optional=False,
                max_length=4,
            ),
        ],
    )


def build_delegation_modal(*, locale: Locale, today: date) -> View:
    return View(
        type="modal",
        callback_id=CallbackId.DELEGATION_MODAL.value,
        title=PlainTextObject(text=t(locale, "rules.delegate")),
        submit=PlainTextObject(text=t(locale, "edit.save")),
        close=PlainTextObject(text=t(locale, "modal.cancel")),
        blocks=[
            InputBlock(
                block_id="approver",
                label=t(locale, "rules.away"),
                element=UserSelectElement(action_id=ActionId.FIELD.value),
            ),
            InputBlock(
                block_id="delegate",
                label=t(locale, "rules.delegate_to"),
                element=UserSelectElement(action_id=ActionId.FIELD.value),
            ),
            InputBlock(
                block_id="starts_on",
                label=t(locale, "rules.starts_on"),
                element=DatePickerElement(action_id=ActionId.FIELD.value, initial_date=today.isoformat()),
            ),
            InputBlock(
                block_id="ends_on",
                label=t(locale, "rules.ends_on"),
                element=DatePickerElement(action_id=ActionId.FIELD.value),
            ),
        ],
    )


def describe_change(summary: str, locale: Locale) -> str:
    """A stored change in the reader's language (older versions stored a sentence: shown as it is)."""
    change = RuleChange.decode(summary)
    if isinstance(change, str):
        return escape(change)
    params = {"name": escape(change.name or ""), "position": change.position}
    return t(locale, f"rules.summary.{change.kind}", **params, remind=change.remind, escalate=change.escalate)


def build_rules_history_modal(versions: list[RuleVersionView], *, locale: Locale, tz: ZoneInfo) -> View:
    lines = [
        f"*{moment(v.changed_at, locale, tz)}* · <@{v.changed_by}> · {describe_change(v.summary, locale)}"
        for v in versions
    ] or [t(locale, "home.none")]
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=clip(line, SECTION_TEXT_LIMIT))) for line in lines[:90]
    ]
    return View(
        type="modal",
        title=PlainTextObject(text=t(locale, "rules.history")),
        close=PlainTextObject(text=t(locale, "modal.close")),
        blocks=blocks,
    )


# --------------------------------------------------------------------------- parsing


def _amount_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").replace(";", "\n").splitlines() if line.strip()]


def _users(values: dict[str, Any], block_id: str) -> list[str]:
    block = values.get(block_id) or {}
    element: Any = next(iter(block.values()), None) if isinstance(block, dict) else None
    users = element.get("selected_users") if isinstance(element, dict) else None
    return [str(u) for u in users] if isinstance(users, list) else []


def _user(values: dict[str, Any], block_id: str) -> str | None:
    block = values.get(block_id) or {}
    element: Any = next(iter(block.values()), None) if isinstance(block, dict) else None
    user = element.get("selected_user") if isinstance(element, dict) else None
    return str(user) if user else None


def parse_steps(values: dict[str, Any], errors: dict[str, str]) -> list[dict[str, Any]]:
    """The filled step slots, in order: a slot with a name needs someone, and someone needs a name."""
    steps = []
    for slot in range(STEP_SLOTS):
        name = " ".join((input_value(values, f"step{slot}_name") or "").split())
        groups = [
            g.strip()
            for g in (input_value(values, f"step{slot}_groups") or "").replace(";", ",").split(",")
            if g.strip()
        ]
        approvers = _users(values, f"step{slot}_users") + groups
        if not name and not approvers:
            continue
        if not name:
            errors[f"step{slot}_name"] = "required"
        elif not approvers:
            errors[f"step{slot}_users"] = "rules_no_approver"
        bad = [g for g in groups if not GROUP_ID.match(g)]
        if bad:
            errors[f"step{slot}_groups"] = "rules_bad_group"
        steps.append({"name": name, "approvers": approvers})
    if not steps and not errors:
        errors["step0_name"] = "rules_no_steps"
    return steps


def parse_rule_modal(values: dict[str, Any]) -> dict[str, Any]:
    """The rule as the policy file would have it.

    Raises:
        InvalidSubmission: Field errors (the ledger then checks the whole policy).
    """
    errors: dict[str, str] = {}
    name = " ".join((input_value(values, "name") or "").split())
    if not name:
        errors["name"] = "required"
    rule: dict[str, Any] = {"name": name}
    for key in ("min_amount", "max_amount"):
        raw = (input_value(values, key) or "").strip()
        if raw:
            try:
                rule[key] = str(parse_brl_amount(raw))  # 10.000,00 · 10000.00 · R$ 10.000,00
            except InvalidValue as exc:
                errors[key] = exc.code
    for key in ("categories", "cost_centers"):
        names = _lines(input_value(values, key))
        if names:
            rule[key] = names
    rule["steps"] = parse_steps(values, errors)
    if errors:
        raise InvalidSubmission(errors)
    return rule


def parse_default_modal(values: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    errors: dict[str, str] = {}
    steps = parse_steps(values, errors)
    if errors:
        raise InvalidSubmission(errors)
    return steps, _users(values, "fallback_users")


def parse_times_modal(values: dict[str, Any]) -> tuple[int, int]:
    errors: dict[str, str] = {}
    found = []
    for key in ("remind", "escalate"):
        raw = (input_value(values, key) or "").strip()
        if not raw.isdigit():
            errors[key] = "rules_hours"
        found.append(int(raw) if raw.isdigit() else 0)
    if errors:
        raise InvalidSubmission(errors)
    return found[0], found[1]


def parse_delegation_modal(values: dict[str, Any]) -> tuple[str, str, date, date]:
    errors: dict[str, str] = {}
    approver, delegate = _user(values, "approver"), _user(values, "delegate")
    if not approver:
        errors["approver"] = "required"
    if not delegate:
        errors["delegate"] = "required"
    dates = []
    for key in ("starts_on", "ends_on"):
        raw = input_value(values, key)
        try:
            dates.append(date.fromisoformat(raw or ""))
        except ValueError:
            errors[key] = "date_invalid"
    if errors:
        raise InvalidSubmission(errors)
    assert approver and delegate
    return approver, delegate, dates[0], dates[1]
