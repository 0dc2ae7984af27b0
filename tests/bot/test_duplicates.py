"""Duplicate detection at submission, through the real app: in Aprova's own requests and among Conta Azul's payables."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.blocks.fields import describe_duplicates
from ledger import flows
from ledger.contaazul.models import EntryDraft
from ledger.contaazul.sandbox.seed import ACCOUNT_IDS, ACCOUNT_ITAU, CATEGORY_IDS, PERSON_IDS
from ledger.duplicates import PossibleDuplicate, decode_duplicates
from ledger.models import PaymentRequest
from tests.harness import MANAGER, REQUESTER, VALID_ANSWERS, Aprova, running_aprova, with_matching_boleto

pytestmark = pytest.mark.anyio

WARNING = "⚠️ *Possível duplicata:*"


async def count(aprova: Aprova) -> int:
    async with aprova.deps.session_factory() as session:
        return int(await session.scalar(select(func.count()).select_from(PaymentRequest)) or 0)


def text_of(view: dict[str, Any]) -> str:
    return json.dumps(view["blocks"], ensure_ascii=False)


async def submit_twice(aprova: Aprova, **answers: Any) -> dict[str, Any]:
    """File one request, then open a new modal and submit the same payment; returns the modal Aprova showed."""
    await aprova.file_request()
    view = await aprova.open_modal()
    response = await aprova.submit(view, **with_matching_boleto(VALID_ANSWERS | answers, answers))
    assert response.status_code == 200
    answer = response.json()
    assert answer["response_action"] == "update"
    return dict(answer["view"], id=view["id"])


async def test_same_vendor_amount_and_due_date_warns_then_confirmed_goes_on_flagged(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        warned = await submit_twice(aprova, description="Farinha — lote 2")
        assert await count(aprova) == 1  # nothing stored until the person confirms
        assert WARNING in text_of(warned) and "PAG-2026-000001" in text_of(warned)
        # Every field still shows what was typed.
        initial = {b["block_id"]: b["element"] for b in warned["blocks"] if b["type"] == "input"}
        assert initial["description"]["initial_value"] == "Farinha — lote 2"
        assert initial["due_date"]["initial_date"] == "2026-12-10"
        assert initial["payment_method"]["initial_option"]["value"] == "boleto"

        # Submitting again without ticking the box warns again; ticking it stores the request, flagged.
        again = await aprova.submit(warned, **(VALID_ANSWERS | {"description": "Farinha — lote 2"}))
        assert again.json()["response_action"] == "update" and await count(aprova) == 1
        confirmed = await aprova.submit(
            warned, **(VALID_ANSWERS | {"description": "Farinha — lote 2", "duplicate_confirm": ["yes"]})
        )
        assert confirmed.text == "" and await count(aprova) == 2
        await aprova.settle()
        request = await flows.get_request(session_factory, request_id=2)
        assert decode_duplicates(request.possible_duplicates) == [PossibleDuplicate(reference="PAG-2026-000001")]
        flag = "⚠️ *Possível duplicata* de PAG-2026-000001 — o solicitante confirmou que é outro pagamento."
        assert flag in text_of(aprova.approval_messages(MANAGER)[-1])  # the approver sees it
        [submitted] = [e for e in await flows.audit_trail(session_factory, request_id=2) if e.action == "submitted"]
        assert decode_duplicates(submitted.detail["possible_duplicates"]) == [
            PossibleDuplicate(reference="PAG-2026-000001")
        ]


async def test_same_invoice_number_from_the_same_vendor_warns(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        warned = await submit_twice(aprova, amount="R$ 99,90", due_date="2026-12-20", vendor_document="")
        assert "PAG-2026-000001" in text_of(warned)


async def test_different_payments_and_ended_requests_do_not_warn(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        tracking = await aprova.file_request()
        # Same vendor, another amount and NF: a different payment.
        await aprova.file_request(amount="R$ 10,00", invoice_number="NF 9999")
        assert await count(aprova) == 2
        await aprova.click(tracking, "payment-cancel", user_id=REQUESTER)
        await aprova.settle()
        # The first one was cancelled: filing it again is no duplicate of it, but the second one has another NF.
        await aprova.file_request()
        assert await count(aprova) == 3
        assert (await flows.get_request(session_factory, request_id=3)).possible_duplicates is None


async def test_an_open_payable_in_conta_azul_warns(session_factory, clock):
    async with running_aprova(session_factory, clock, contaazul=True, auto_consent=True) as aprova:
        await aprova.connect_contaazul()
        # Somebody typed this bill into Conta Azul by hand already.
        await aprova.books.client("T0001").create_payable(
            EntryDraft(
                description="Boleto moinho novembro",
                amount=Decimal("1234.56"),
                competence_date=clock.today(),
                due_date=clock.today().replace(month=12, day=10),
                person_id=PERSON_IDS["Moinho Anaconda Ltda"],
                account_id=ACCOUNT_IDS[ACCOUNT_ITAU],
                category_id=CATEGORY_IDS["Matéria-Prima"],
                cost_center_id=None,
                payment_method="BOLETO_BANCARIO",
                external_reference="MANUAL-1",
            )
        )
        view = await aprova.open_modal()
        answer = (await aprova.submit(view, **VALID_ANSWERS)).json()
        assert answer["response_action"] == "update"
        warning = "no Conta Azul: Boleto moinho novembro [MANUAL-1] (R$ 1.234,56, vencimento 10/12/2026)"
        assert warning in text_of(answer["view"])
        assert await count(aprova) == 0

        # Confirmed, the flag is stored as data: the English approver reads it in English.
        confirmed = dict(answer["view"], id=view["id"])
        response = await aprova.submit(confirmed, **(VALID_ANSWERS | {"duplicate_confirm": ["yes"]}))
        assert response.text == ""
        await aprova.settle()
        [stored] = decode_duplicates((await flows.get_request(session_factory, request_id=1)).possible_duplicates)
        assert (stored.amount, stored.due) == (Decimal("1234.56"), date(2026, 12, 10))
        assert describe_duplicates([stored], "en") == (
            "in Conta Azul: Boleto moinho novembro [MANUAL-1] (R$1,234.56, due Dec 10, 2026)"
        )


async def test_a_slow_conta_azul_never_holds_the_submission(session_factory, clock):
    async with running_aprova(session_factory, clock, contaazul=True, auto_consent=True) as aprova:
        await aprova.connect_contaazul()
        assert aprova.sandbox is not None
        aprova.sandbox.slow_next(1, seconds=3, path_prefix="/v1/financeiro/eventos-financeiros/contas-a-pagar/buscar")
        view = await aprova.open_modal()
        response = await aprova.submit(view, **VALID_ANSWERS)
        assert response.text == "" and await count(aprova) == 1  # checked what it could in time, then went on
