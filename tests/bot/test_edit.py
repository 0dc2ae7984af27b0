"""Editing a request through the real app: prefilled modal, what restarts approval, stale buttons, who may edit."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from ledger import flows
from ledger.domain import RequestStatus, StepStatus
from tests.harness import (
    DIRECTOR_EN,
    DIRECTOR_PT,
    MANAGER,
    OUTSIDER,
    REQUESTER,
    VALID_ANSWERS,
    Aprova,
    boleto_for,
    running_aprova,
    with_matching_boleto,
)

pytestmark = pytest.mark.anyio

APPROVE, REJECT, EDIT = "payment-approve", "payment-reject", "payment-edit"


async def open_edit(aprova: Aprova, tracking: dict[str, Any], user_id: str = REQUESTER) -> dict[str, Any] | None:
    before = len(aprova.slack.calls_to("views.open"))
    await aprova.click(aprova.message(tracking["channel"], tracking["ts"]), EDIT, user_id=user_id)
    await aprova.settle()
    if len(aprova.slack.calls_to("views.open")) == before:
        return None
    return aprova.latest_view("payment-edit")


def initial(view: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        element = block["element"]
        values[block["block_id"]] = (
            element.get("initial_value")
            or element.get("initial_date")
            or (element.get("initial_option") or {}).get("value")
        )
    return values


async def save(aprova: Aprova, view: dict[str, Any], **changes: Any) -> Any:
    response = await aprova.submit(view, **with_matching_boleto(VALID_ANSWERS | changes, changes))
    await aprova.settle()
    return response


async def test_edit_opens_prefilled_and_a_material_change_restarts_approval(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        # R$ 15.000: two steps (manager, then the directors' group).
        tracking = await aprova.file_request(amount="R$ 15.000,00")
        [first] = aprova.approval_messages(MANAGER)
        await aprova.click(first, APPROVE, user_id=MANAGER)
        await aprova.settle()
        assert aprova.approval_messages(DIRECTOR_EN)

        view = await open_edit(aprova, tracking)
        assert view is not None
        shown = initial(view)
        assert shown["amount"] == "15.000,00" and shown["due_date"] == "2026-12-10"
        assert shown["vendor_document"] == "11.222.333/0001-81" and shown["payment_method"] == "boleto"
        assert "recomeça a aprovação" in json.dumps(view["blocks"], ensure_ascii=False)

        response = await save(aprova, view, amount="R$ 15.500,00", due_date="2026-12-15")
        assert response.text == ""
        request = await flows.get_request(session_factory, request_id=1)
        assert (request.status, request.amount, request.current_step) == (RequestStatus.PENDING, 15500, 0)
        assert [s.status for s in request.steps] == [StepStatus.OPEN, StepStatus.WAITING]
        # The manager's earlier approval no longer counts: asked again, old messages retired.
        assert "não vale mais" in aprova.message(first["channel"], first["ts"])["text"]
        for director in (DIRECTOR_EN, DIRECTOR_PT):
            retired = aprova.approval_messages(director)[-1]
            assert APPROVE not in json.dumps(retired["blocks"])
        fresh = aprova.approval_messages(MANAGER)[-1]
        assert fresh["ts"] != first["ts"] and "R$ 15.500,00" in json.dumps(fresh["blocks"], ensure_ascii=False)
        reply = aprova.thread(tracking)[-1]["text"]
        old_code, new_code = boleto_for("15.000,00", "2026-12-10"), boleto_for("15.500,00", "2026-12-15")
        assert reply == (
            "<@U0REQ> ✏️ Pedido alterado: Valor (R$): R$ 15.000,00 → R$ 15.500,00; Vencimento: 10/12/2026 → 15/12/2026;"
            f" Boleto/PIX: {old_code} → {new_code}. A aprovação recomeçou: *Gestor* aguarda <@U0MGR>."
        )

        # The manager's old button decides nothing now.
        await aprova.click(first, APPROVE, user_id=MANAGER)
        await aprova.settle()
        assert "foi alterado pelo solicitante" in aprova.slack.ephemerals(MANAGER)[-1]["text"]
        assert (await flows.get_request(session_factory, request_id=1)).steps[0].status == StepStatus.OPEN
        await aprova.click(fresh, APPROVE, user_id=MANAGER)
        await aprova.settle()
        assert (await flows.get_request(session_factory, request_id=1)).current_step == 1

        [edited] = [e for e in await flows.audit_trail(session_factory, request_id=1) if e.action == "edited"]
        assert edited.detail == {
            "changes": {
                "amount": ["15000.00", "15500.00"],
                "due_date": ["2026-12-10", "2026-12-15"],
                "payment_code": [old_code, new_code],
            },
            "restarted": True,
            "fingerprint": (await flows.get_request(session_factory, request_id=1)).terms_digest,
        }


async def test_a_minor_change_keeps_the_approvals_given(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        tracking = await aprova.file_request(amount="R$ 15.000,00")
        await aprova.click(aprova.approval_messages(MANAGER)[-1], APPROVE, user_id=MANAGER)
        await aprova.settle()
        view = await open_edit(aprova, tracking)
        assert view is not None
        await save(aprova, view, amount="R$ 15.000,00", notes="Entregar na porta dos fundos.")
        request = await flows.get_request(session_factory, request_id=1)
        assert request.current_step == 1 and request.steps[0].status == StepStatus.APPROVED
        assert aprova.thread(tracking)[-1]["text"] == "<@U0REQ> ✏️ Pedido alterado: Observações."
        # The directors' message shows the new notes, buttons still there.
        message = aprova.approval_messages(DIRECTOR_PT)[-1]
        assert "porta dos fundos" in json.dumps(message["blocks"], ensure_ascii=False) and APPROVE in json.dumps(
            message["blocks"]
        )


async def test_a_rejected_request_is_fixed_and_goes_back_to_approval(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        tracking = await aprova.file_request()
        await aprova.click(aprova.approval_messages(MANAGER)[-1], REJECT, user_id=MANAGER)
        await aprova.settle()
        await aprova.submit(aprova.latest_view("payment-reject"), user_id=MANAGER, reason="Falta a NF")
        await aprova.settle()
        assert (await flows.get_request(session_factory, request_id=1)).status == RequestStatus.REJECTED
        view = await open_edit(aprova, tracking)
        assert view is not None
        await save(aprova, view, invoice_number="NF 4522")
        request = await flows.get_request(session_factory, request_id=1)
        assert (request.status, request.invoice_number, request.decided_by) == (RequestStatus.PENDING, "4522", None)
        assert APPROVE in json.dumps(aprova.approval_messages(MANAGER)[-1]["blocks"])


async def test_only_the_requester_edits_and_only_while_it_can_change(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        tracking = await aprova.file_request()
        assert await open_edit(aprova, tracking, user_id=OUTSIDER) is None
        assert "Só quem fez o pedido PAG-2026-000001" in aprova.slack.ephemerals(OUTSIDER)[-1]["text"]
        view = await open_edit(aprova, tracking)
        assert view is not None
        # Approved while the modal was open: the save is refused and says so.
        await aprova.click(aprova.approval_messages(MANAGER)[-1], APPROVE, user_id=MANAGER)
        await aprova.settle()
        response = await save(aprova, view, amount="R$ 1,00")
        assert response.json()["response_action"] == "update"
        assert "já foi aprovado" in json.dumps(response.json()["view"], ensure_ascii=False)
        assert (await flows.get_request(session_factory, request_id=1)).amount == VALID_AMOUNT
        # And the button is gone from the approved request's tracking message.
        assert EDIT not in json.dumps(aprova.message(tracking["channel"], tracking["ts"])["blocks"])


VALID_AMOUNT = Decimal("1234.56")
