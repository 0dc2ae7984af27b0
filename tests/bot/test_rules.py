"""Approval rules edited in Slack by finance admins, through the real app: the Home tab, its menus and modals."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.blocks.rules import (
    CONDITION_EDITORS,
    build_rule_modal,
    build_rules_section,
    describe_change,
    keep_fallback_groups,
    keep_hidden_steps,
    parse_rule_modal,
)
from bot.dev import slack_payloads as payloads
from bot.scheduler import send_reminders
from ledger import flows, rules
from ledger.conditions import CONDITIONS, AmountRange, Categories, CostCenters
from ledger.models import AuditEvent
from ledger.policy import Policy, Rule, StepRule
from tests.bot.test_home import act_in_home, buttons, home_of, open_home, shown
from tests.harness import CFO, DIRECTOR_EN, DIRECTOR_PT, MANAGER, OUTSIDER, Aprova, running_aprova

pytestmark = pytest.mark.anyio


async def press(aprova: Aprova, user_id: str, action_id: str, view: dict[str, Any] | None = None) -> None:
    view = view or home_of(aprova, user_id)
    button = next(b for b in buttons(view) if b["action_id"] == action_id)
    await act_in_home(aprova, user_id, {"type": "button", "action_id": action_id, "value": button.get("value")}, view)


def menu_of(view: dict[str, Any], rule_name: str) -> list[dict[str, Any]]:
    for block in view["blocks"]:
        accessory = block.get("accessory") or {}
        if accessory.get("action_id") == "rules-menu" and rule_name in block["text"]["text"]:
            return list(accessory["options"])
    raise AssertionError(f"no menu for rule {rule_name}")


async def choose(aprova: Aprova, user_id: str, rule_name: str, op: str) -> None:
    view = home_of(aprova, user_id)
    [option] = [o for o in menu_of(view, rule_name) if json.loads(o["value"])["op"] == op]
    await act_in_home(aprova, user_id, {"type": "overflow", "action_id": "rules-menu", "selected_option": option}, view)


# --------------------------------------------------------------------------- the editor's modals, pure

TZ = ZoneInfo("America/Sao_Paulo")
EVERY_CONDITION = Rule(
    name="Eventos grandes",
    steps=(StepRule("Gestor", ("U0MGR",)), StepRule("Diretoria", ("U0DIR1", "S0DIRETORIA"))),
    conditions=(
        AmountRange(Decimal("10000.00"), Decimal("50000.00")),
        Categories(("Encomendas e Eventos", "Marketing e Publicidade")),
        CostCenters(("Comercial",)),
    ),
)


def submitted(modal: dict[str, Any]) -> dict[str, Any]:
    """``view.state.values`` of a rule modal submitted as it opened: every field as filled in."""
    values: dict[str, Any] = {}
    for block in modal["blocks"]:
        element = block.get("element") or {}
        if element.get("type") == "multi_users_select":
            values[block["block_id"]] = {
                "field": {"type": element["type"], "selected_users": element.get("initial_users", [])}
            }
        elif element.get("type") == "plain_text_input":
            values[block["block_id"]] = {"field": {"type": element["type"], "value": element.get("initial_value")}}
    return values


def test_every_condition_has_an_editor():
    assert set(CONDITION_EDITORS) == set(CONDITIONS)


@pytest.mark.parametrize("locale", ["pt_BR", "en"])
@pytest.mark.parametrize("kind", CONDITIONS)
def test_each_condition_reads_back_from_its_fields_as_shown(locale, kind):
    only = Rule(name="Só uma", steps=EVERY_CONDITION.steps, conditions=(EVERY_CONDITION.condition(kind),))
    for rule in (only, EVERY_CONDITION):
        modal = build_rule_modal(rule, index=0, version_id=None, locale=locale).to_dict()
        assert parse_rule_modal(submitted(modal)) == rule


def test_each_condition_is_summed_up_in_the_home_tab():
    policy = Policy(rules=(EVERY_CONDITION,), default=(StepRule("Financeiro", ("U0FIN",)),))
    [_, section, *_] = build_rules_section(rules.Rules(policy, 4, 48, None), [], locale="en", tz=TZ)
    assert section.to_dict()["text"]["text"].startswith(
        "*1. Eventos grandes* — from R$10,000.00 · below R$50,000.00 · "
        "categories: Encomendas e Eventos, Marketing e Publicidade · cost centers: Comercial\n"
        "Gestor: <@U0MGR> → Diretoria: <@U0DIR1>, <!subteam^S0DIRETORIA>"
    )


def test_steps_the_modal_does_not_show_are_kept():
    many = StepRule("Terceira", ("U0C",)), StepRule("Quarta", ("U0D",)), StepRule("Quinta", ("U0E",))
    edited = Rule(name="Longa", steps=EVERY_CONDITION.steps + many)
    modal = build_rule_modal(edited, index=0, version_id=None, locale="pt_BR").to_dict()
    as_shown = parse_rule_modal(submitted(modal))
    assert as_shown.steps == edited.steps[:3]
    assert keep_hidden_steps(as_shown, edited) == edited


def test_fallback_groups_the_default_modal_does_not_show_are_kept():
    policy = Policy(rules=(), default=EVERY_CONDITION.steps, fallback=("U0CFO", "S0FINANCE", "W0OLD"))
    assert keep_fallback_groups(("U0NEW",), policy) == ("U0NEW", "S0FINANCE")


# --------------------------------------------------------------------------- through the app

MARKETING = {
    "name": "Marketing",
    "categories": "Marketing e Publicidade",
    "step0_name": "Marketing",
    "step0_users": [DIRECTOR_PT],
}


async def test_an_admin_adds_moves_and_deletes_rules_and_requests_follow(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        home = await open_home(aprova, CFO)
        text = shown(home)
        assert "*Regras de aprovação*\\nDo arquivo de política" in text
        assert (
            "*1. Alto valor* — a partir de R$ 10.000,00\\nGestor: <@U0MGR> → Diretoria: <!subteam^S0DIRETORIA>" in text
        )

        await press(aprova, CFO, "rules-add")
        modal = aprova.latest_view("rules-rule")
        # Field by field checks first: a step with nobody, a range the wrong way round.
        refused = await aprova.submit(
            modal, user_id=CFO, **(MARKETING | {"step0_users": [], "min_amount": "10.000,00", "max_amount": "5000"})
        )
        assert set(refused.json()["errors"]) == {"step0_users"}
        refused = await aprova.submit(
            modal, user_id=CFO, **(MARKETING | {"min_amount": "10.000,00", "max_amount": "5000"})
        )
        assert "min_amount must be less than max_amount" in refused.json()["errors"]["max_amount"]
        assert await rules.rules_history(session_factory, team_id=payloads.TEAM_ID) == []

        assert (await aprova.submit(modal, user_id=CFO, **MARKETING)).text == ""
        await aprova.settle()
        text = shown(home_of(aprova, CFO))
        assert "Alteradas por <@U0CFO>" in text and "*2. Marketing* — categorias: Marketing e Publicidade" in text

        # A Marketing request now goes to Diretor PT; others as before.
        await aprova.file_request(category="Marketing e Publicidade", invoice_number="NF 1")
        await aprova.file_request(invoice_number="NF 2")
        assert [
            r.steps[0].approvers for r in [await flows.get_request(session_factory, request_id=i) for i in (1, 2)]
        ] == [
            (DIRECTOR_PT,),
            (MANAGER,),
        ]

        await choose(aprova, CFO, "Marketing", "up")
        assert "*1. Marketing*" in shown(home_of(aprova, CFO))
        await choose(aprova, CFO, "Alto valor", "delete")
        text = shown(home_of(aprova, CFO))
        assert "Alto valor" not in text and "*1. Marketing*" in text

        await press(aprova, CFO, "rules-history")
        [history_view] = [
            v for v in aprova.slack.views.values() if v.get("title", {}).get("text") == "Histórico das regras"
        ]
        history = json.dumps(history_view["blocks"], ensure_ascii=False)
        for summary in (
            "Regra “Alto valor” excluída",
            "Regra “Marketing” movida para a posição 1",
            "Regra “Marketing” criada",
        ):
            assert summary in history
        versions = await rules.rules_history(session_factory, team_id=payloads.TEAM_ID)
        assert [v.changed_by for v in versions] == [CFO, CFO, CFO]
        # Stored as data, worded for each reader; audited with the save itself.
        assert rules.RuleChange.decode(versions[0].summary) == rules.RuleChange("deleted", name="Alto valor")
        assert describe_change(versions[0].summary, "en") == "Rule “Alto valor” deleted"
        async with session_factory() as session:
            audited = list(await session.scalars(select(AuditEvent).where(AuditEvent.action == "rules_changed")))
        assert [a.detail["change"]["kind"] for a in audited] == ["added", "moved", "deleted"]


async def test_two_admins_editing_at_once_never_overwrite_each_other(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        await open_home(aprova, CFO)
        await press(aprova, CFO, "rules-add")
        first = aprova.latest_view("rules-rule")
        await press(aprova, CFO, "rules-add")
        second = [v for v in aprova.slack.views.values() if v.get("callback_id") == "rules-rule"][-1]
        assert (await aprova.submit(first, user_id=CFO, **MARKETING)).text == ""
        late = await aprova.submit(second, user_id=CFO, **(MARKETING | {"name": "Outra"}))
        assert "Outra pessoa alterou as regras" in late.json()["errors"]["name"]
        assert len(await rules.rules_history(session_factory, team_id=payloads.TEAM_ID)) == 1


async def test_a_menu_on_a_stale_home_tab_is_refused_never_applied_to_another_rule(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        await open_home(aprova, CFO)
        await press(aprova, CFO, "rules-add")
        assert (await aprova.submit(aprova.latest_view("rules-rule"), user_id=CFO, **MARKETING)).text == ""
        await aprova.settle()
        stale = home_of(aprova, CFO)  # 1. Alto valor, 2. Marketing — say, left open in another window
        await choose(aprova, CFO, "Marketing", "up")  # now 1. Marketing, 2. Alto valor
        saved = await rules.rules_history(session_factory, team_id=payloads.TEAM_ID)

        for op in ("delete", "edit", "down"):
            [option] = [o for o in menu_of(stale, "Alto valor") if json.loads(o["value"])["op"] == op]
            opened = len(aprova.slack.calls_to("views.open"))
            await act_in_home(
                aprova, CFO, {"type": "overflow", "action_id": "rules-menu", "selected_option": option}, stale
            )
            await aprova.settle()
            told = aprova.slack.messages(aprova.slack.dm_channel(CFO))[-1]["text"]
            assert told.startswith("Outra pessoa alterou as regras"), told
            assert len(aprova.slack.calls_to("views.open")) == opened  # no modal for whatever rule is there now
        assert await rules.rules_history(session_factory, team_id=payloads.TEAM_ID) == saved
        text = shown(home_of(aprova, CFO))  # republished as the rules are now
        assert "*1. Marketing*" in text and "*2. Alto valor*" in text

        # A menu from before the menus carried their version (an older Aprova) is just as stale.
        old_style = {"text": {"type": "plain_text", "text": "Excluir"}, "value": json.dumps({"op": "delete", "i": 0})}
        await act_in_home(
            aprova, CFO, {"type": "overflow", "action_id": "rules-menu", "selected_option": old_style}, stale
        )
        await aprova.settle()
        assert await rules.rules_history(session_factory, team_id=payloads.TEAM_ID) == saved

        # The fresh tab works.
        await choose(aprova, CFO, "Alto valor", "delete")
        assert "Alto valor" not in shown(home_of(aprova, CFO))


async def test_default_step_fallback_and_reminder_times(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        await open_home(aprova, CFO)
        await press(aprova, CFO, "rules-edit-default")
        modal = aprova.latest_view("rules-default")
        saved = await aprova.submit(
            modal, user_id=CFO, step0_name="Controladoria", step0_users=[DIRECTOR_EN], fallback_users=[CFO]
        )
        assert saved.text == ""
        await aprova.settle()
        await press(aprova, CFO, "rules-edit-times")
        times = aprova.latest_view("rules-times")
        refused = await aprova.submit(times, user_id=CFO, remind="5", escalate="3")
        assert "escalate_after_hours must be more than remind_after_hours" in refused.json()["errors"]["escalate"]
        assert (await aprova.submit(times, user_id=CFO, remind="2", escalate="6")).text == ""
        await aprova.settle()
        assert "⏰ Lembrete após 2 h · escalada após 6 h" in shown(home_of(aprova, CFO))

        await aprova.file_request()
        request = await flows.get_request(session_factory, request_id=1)
        assert (request.steps[0].name, request.steps[0].approvers) == ("Controladoria", (DIRECTOR_EN,))
        clock.advance(timedelta(hours=2, minutes=1))  # the new times apply to the jobs
        assert await send_reminders(aprova.deps, aprova.poster.client) == 1  # type: ignore[union-attr]


async def test_an_absence_hands_approvals_to_the_delegate_until_cancelled(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        await open_home(aprova, CFO)
        await press(aprova, CFO, "rules-delegate")
        modal = aprova.latest_view("rules-delegation")
        refused = await aprova.submit(modal, user_id=CFO, approver=MANAGER, delegate=MANAGER, ends_on="2026-11-30")
        assert "cannot delegate to themselves" in refused.json()["errors"]["delegate"]
        refused = await aprova.submit(modal, user_id=CFO, approver=MANAGER, delegate=DIRECTOR_EN, ends_on="2026-11-20")
        assert "ends before it starts" in refused.json()["errors"]["ends_on"]
        saved = await aprova.submit(modal, user_id=CFO, approver=MANAGER, delegate=DIRECTOR_EN, ends_on="2026-11-30")
        assert saved.text == ""
        await aprova.settle()
        assert "🏖️ <@U0MGR> ausente de 25/11/2026 a 30/11/2026: decide <@U0DIR1>" in shown(home_of(aprova, CFO))

        await aprova.file_request(invoice_number="NF 10")
        assert (await flows.get_request(session_factory, request_id=1)).steps[0].approvers == (DIRECTOR_EN,)
        assert aprova.approval_messages(DIRECTOR_EN) and not aprova.approval_messages(MANAGER)

        view = home_of(aprova, CFO)
        undelegate = next(
            b["elements"][-1]
            for b in view["blocks"]
            if b["type"] == "actions" and b["elements"][-1]["type"] == "overflow"
        )
        option = undelegate["options"][0]
        await act_in_home(
            aprova, CFO, {"type": "overflow", "action_id": "rules-undelegate", "selected_option": option}, view
        )
        await aprova.file_request(invoice_number="NF 11")
        assert (await flows.get_request(session_factory, request_id=2)).steps[0].approvers == (MANAGER,)


async def test_only_finance_admins_change_rules(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        admin_home = await open_home(aprova, CFO)
        for action_id in ("rules-add", "rules-edit-default", "rules-edit-times", "rules-delegate", "rules-history"):
            await press(aprova, OUTSIDER, action_id, view=admin_home)
            assert aprova.slack.messages(aprova.slack.dm_channel(OUTSIDER))[-1]["text"] == (
                "Só os administradores do financeiro podem mudar as regras de aprovação."
            )
        [option] = [o for o in menu_of(admin_home, "Alto valor") if json.loads(o["value"])["op"] == "delete"]
        await act_in_home(
            aprova, OUTSIDER, {"type": "overflow", "action_id": "rules-menu", "selected_option": option}, admin_home
        )
        # A modal opened by an admin, submitted by someone else (a replayed payload): refused too.
        await press(aprova, CFO, "rules-add")
        modal = aprova.latest_view("rules-rule")
        refused = await aprova.submit(modal, user_id=OUTSIDER, **MARKETING)
        assert (
            refused.json()["errors"]["name"]
            == "Só os administradores do financeiro podem mudar as regras de aprovação."
        )
        assert await rules.rules_history(session_factory, team_id=payloads.TEAM_ID) == []
        assert "Alto valor" in shown(await open_home(aprova, CFO))
