"""The approval-rules editor in Slack: the rules as the App Home shows them to finance admins, and its modals.

Rules are edited as ``ledger.policy`` values: each modal shows and reads back one part of the policy, each kind of
condition through its editor in ``CONDITION_EDITORS``, and the ledger validates the whole before saving, so Slack can
never store what the file would refuse.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any, Generic, Protocol, TypeVar
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
from ledger.conditions import CONDITIONS, AmountRange, Categories, Condition, CostCenters, Names
from ledger.errors import InvalidSubmission, InvalidValue
from ledger.policy import GROUP_ID, USER_ID, Policy, Rule, StepRule
from ledger.read_models import DelegationView, RuleVersionView
from ledger.rules import RuleChange, Rules
from ledger.validation import parse_brl_amount

STEP_SLOTS = 3  # steps a rule can have in the editor (the file allows more; they are kept as they are)
MAX_RULES_SHOWN = 15
MAX_DELEGATIONS_SHOWN = 5


def _approvers(refs: Sequence[str]) -> str:
    return ", ".join(f"<@{r}>" if USER_ID.match(r) else f"<!subteam^{r}>" for r in refs) or "—"


def _steps_text(steps: Sequence[StepRule]) -> str:
    return " → ".join(f"{escape(s.name)}: {_approvers(s.approvers)}" for s in steps)


def _conditions(rule: Rule, locale: Locale) -> str:
    parts = [part for c in rule.conditions for part in CONDITION_EDITORS[type(c)].summary(c, locale)]
    return " · ".join(parts) or t(locale, "rules.any")


def rule_tag(name: str) -> str:
    """A rule's identity, short enough for a menu option's value (Slack allows 150 characters; names may be long)."""
    return hashlib.sha256(name.encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class MenuChoice:
    """What a rule's menu option carries: the operation, and which rule of which version of the rules it was drawn
    on — so a choice made on a Home tab the rules have since moved past is refused, never applied to another rule."""

    op: str  # edit | up | down | delete
    index: int
    rule: str  # rule_tag of the rule's name
    version_id: int | None  # None: the rules still came from the policy file

    def encode(self) -> str:
        return json.dumps({"op": self.op, "i": self.index, "n": self.rule, "v": self.version_id})

    @classmethod
    def decode(cls, value: str) -> MenuChoice:
        """Raises ValueError for anything this version did not write (a Home tab drawn before an upgrade too)."""
        try:
            data = json.loads(value)
            op, index, rule, version_id = data["op"], data["i"], data["n"], data["v"]
        except (TypeError, ValueError, KeyError) as exc:
            raise ValueError(f"not a rules menu choice: {value[:80]!r}") from exc
        if not (isinstance(op, str) and isinstance(index, int) and isinstance(rule, str)):
            raise ValueError(f"not a rules menu choice: {value[:80]!r}")
        if version_id is not None and not isinstance(version_id, int):
            raise ValueError(f"not a rules menu choice: {value[:80]!r}")
        return cls(op, index, rule, version_id)

    def rule_in(self, rules: Rules) -> Rule | None:
        """The rule the choice was made on, while the rules are still the version its menu was drawn from."""
        if self.version_id != rules.version_id or not 0 <= self.index < len(rules.policy.rules):
            return None
        rule = rules.policy.rules[self.index]
        return rule if rule_tag(rule.name) == self.rule else None


def build_rules_section(
    rules: Rules, delegations: list[DelegationView], *, locale: Locale, tz: ZoneInfo
) -> list[Block]:
    """The rules in force, each with its menu (edit, move, delete), then the default step, times and delegations."""
    policy = rules.policy
    origin = (
        t(locale, "rules.changed", actor=rules.changed_by, when=moment(rules.changed_at, locale, tz))
        if rules.changed_by and rules.changed_at
        else t(locale, "rules.from_file")
    )
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=f"*{t(locale, 'rules.title')}*\n{origin}"))]
    rule_list = policy.rules
    for index, rule in enumerate(rule_list[:MAX_RULES_SHOWN]):
        ops = ["edit", *(["up"] if index > 0 else []), *(["down"] if index < len(rule_list) - 1 else []), "delete"]
        options = [
            Option(
                value=MenuChoice(op, index, rule_tag(rule.name), rules.version_id).encode(),
                text=t(locale, f"rules.menu.{op}"),
            )
            for op in ops
        ]
        title = f"*{index + 1}. {escape(rule.name)}*"
        line = f"{title} — {_conditions(rule, locale)}\n{_steps_text(rule.steps)}"
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text=clip(line, SECTION_TEXT_LIMIT)),
                accessory=OverflowMenuElement(action_id=ActionId.RULES_MENU.value, options=options),
            )
        )
    if len(rule_list) > MAX_RULES_SHOWN:
        more = t(locale, "home.list_more", count=len(rule_list) - MAX_RULES_SHOWN)
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=more)]))
    fallback = _approvers(policy.fallback)
    blocks.append(
        SectionBlock(
            text=MarkdownTextObject(
                text=clip(
                    t(locale, "rules.default", steps=_steps_text(policy.default), fallback=fallback), SECTION_TEXT_LIMIT
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


# --------------------------------------------------------------------------- condition editors

C = TypeVar("C", bound=Condition)
N = TypeVar("N", bound=Names)


class ConditionEditor(Protocol[C]):
    """How the rules editor shows one kind of condition, asks for it and reads it back (one per ``CONDITIONS``)."""

    def summary(self, condition: C, locale: Locale) -> list[str]:
        """Its parts of the rule's line in the Home tab."""
        ...

    def inputs(self, condition: C | None, locale: Locale) -> list[Block]:
        """Its fields in the rule modal, filled in from ``condition``."""
        ...

    def parse(self, values: dict[str, Any], errors: dict[str, str]) -> C | None:
        """The condition its fields give (None: left blank); a field's error code goes into ``errors``."""
        ...


class _AmountRangeEditor:
    def summary(self, condition: AmountRange, locale: Locale) -> list[str]:
        parts = []
        if condition.min_amount is not None:
            parts.append(t(locale, "rules.from", amount=money(condition.min_amount, locale)))
        if condition.max_amount is not None:
            parts.append(t(locale, "rules.below", amount=money(condition.max_amount, locale)))
        return parts

    def inputs(self, condition: AmountRange | None, locale: Locale) -> list[Block]:
        bounds = condition or AmountRange()
        return [
            _text(key, t(locale, f"rules.{key}"), initial=None if value is None else str(value), max_length=30)
            for key, value in (("min_amount", bounds.min_amount), ("max_amount", bounds.max_amount))
        ]

    def parse(self, values: dict[str, Any], errors: dict[str, str]) -> AmountRange | None:
        bounds: dict[str, Decimal] = {}
        for key in AmountRange.KEYS:
            raw = (input_value(values, key) or "").strip()
            if raw:
                try:
                    bounds[key] = parse_brl_amount(raw)  # 10.000,00 · 10000.00 · R$ 10.000,00
                except InvalidValue as exc:
                    errors[key] = exc.code
        return AmountRange(**bounds) if bounds else None


@dataclass(frozen=True, slots=True)
class _NamesEditor(Generic[N]):
    """Names one per line; the words are ``rules.<key>`` (Home tab) and ``rules.field.<key>`` (the field's label)."""

    kind: type[N]

    def summary(self, condition: N, locale: Locale) -> list[str]:
        return [t(locale, f"rules.{self.kind.KEYS[0]}", names=escape(", ".join(condition.names)))]

    def inputs(self, condition: N | None, locale: Locale) -> list[Block]:
        key = self.kind.KEYS[0]
        return [
            _text(
                key,
                t(locale, f"rules.field.{key}"),
                initial="\n".join(condition.names if condition else ()),
                multiline=True,
                hint=t(locale, "rules.one_per_line"),
                max_length=2000,
            )
        ]

    def parse(self, values: dict[str, Any], errors: dict[str, str]) -> N | None:
        names = _lines(input_value(values, self.kind.KEYS[0]))
        return self.kind(tuple(names)) if names else None


CONDITION_EDITORS: Mapping[type[Condition], ConditionEditor[Any]] = {
    AmountRange: _AmountRangeEditor(),
    Categories: _NamesEditor(Categories),
    CostCenters: _NamesEditor(CostCenters),
}


def _step_blocks(steps: Sequence[StepRule], locale: Locale) -> list[Block]:
    blocks: list[Block] = []
    for slot in range(STEP_SLOTS):
        step = steps[slot] if slot < len(steps) else None
        refs = step.approvers if step else ()
        users = [r for r in refs if USER_ID.match(r)]
        groups = [r for r in refs if GROUP_ID.match(r)]
        blocks += [
            _text(
                f"step{slot}_name",
                t(locale, "rules.step_name", n=slot + 1),
                initial=step.name if step else None,
                max_length=100,
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


def build_rule_modal(rule: Rule | None, *, index: int | None, version_id: int | None, locale: Locale) -> View:
    """Add (``index`` None) or edit one rule: name, its conditions (each kind's fields), up to 3 steps."""
    blocks: list[Block] = [
        ContextBlock(elements=[MarkdownTextObject(text=t(locale, "rules.modal.intro"))]),
        _text("name", t(locale, "rules.name"), initial=rule.name if rule else None, optional=False, max_length=100),
    ]
    for kind in CONDITIONS:
        blocks += CONDITION_EDITORS[kind].inputs(rule.condition(kind) if rule else None, locale)
    blocks += _step_blocks(rule.steps if rule else (), locale)
    return View(
        type="modal",
        callback_id=CallbackId.RULE_MODAL.value,
        title=PlainTextObject(text=t(locale, "rules.modal.title")),
        submit=PlainTextObject(text=t(locale, "edit.save")),
        close=PlainTextObject(text=t(locale, "modal.cancel")),
        private_metadata=_meta(version_id, i=index),
        blocks=blocks,
    )


def build_default_modal(policy: Policy, *, version_id: int | None, locale: Locale) -> View:
    """The default steps (when no rule matches) and the fallback approvers."""
    fallback = policy.fallback
    blocks: list[Block] = [
        ContextBlock(elements=[MarkdownTextObject(text=t(locale, "rules.default.intro"))]),
        *_step_blocks(policy.default, locale),
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


def parse_steps(values: dict[str, Any], errors: dict[str, str]) -> tuple[StepRule, ...]:
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
        steps.append(StepRule(name=name, approvers=tuple(approvers)))
    if not steps and not errors:
        errors["step0_name"] = "rules_no_steps"
    return tuple(steps)


def parse_rule_modal(values: dict[str, Any]) -> Rule:
    """The rule as submitted, its steps those the modal shows (``keep_hidden_steps`` adds the others).

    Raises:
        InvalidSubmission: Field errors (the ledger then checks the whole policy).
    """
    errors: dict[str, str] = {}
    name = " ".join((input_value(values, "name") or "").split())
    if not name:
        errors["name"] = "required"
    conditions = tuple(c for kind in CONDITIONS if (c := CONDITION_EDITORS[kind].parse(values, errors)) is not None)
    steps = parse_steps(values, errors)
    if errors:
        raise InvalidSubmission(errors)
    return Rule(name=name, steps=steps, conditions=conditions)


def keep_hidden_steps(rule: Rule, edited: Rule) -> Rule:
    """The submitted ``rule`` with the steps of the ``edited`` one the modal does not show (past its slots)."""
    return replace(rule, steps=rule.steps + edited.steps[STEP_SLOTS:])


def parse_default_modal(values: dict[str, Any]) -> tuple[tuple[StepRule, ...], tuple[str, ...]]:
    """The default steps and the fallback people picked (``keep_fallback_groups`` adds the groups)."""
    errors: dict[str, str] = {}
    steps = parse_steps(values, errors)
    if errors:
        raise InvalidSubmission(errors)
    return steps, tuple(_users(values, "fallback_users"))


def keep_fallback_groups(people: tuple[str, ...], policy: Policy) -> tuple[str, ...]:
    """The fallback picked in the default modal, which picks people only: the policy's fallback groups stay."""
    return people + tuple(r for r in policy.fallback if GROUP_ID.match(r))


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
