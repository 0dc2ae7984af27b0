"""The monthly-close export: two CSV files an accountant opens straight in a spreadsheet.

Brazilian spreadsheets read ``;`` as the separator and ``,`` as the decimal mark, so amounts are ``1234,56`` (a
number, no thousands dots) and dates ``dd/mm/aaaa``; the UTF-8 byte-order mark makes Excel read the accents right.

Every text cell is written as text: one that a spreadsheet would read as a formula (starting with ``= + - @``, a tab
or a carriage return — a vendor named ``=HYPERLINK(…)``) gets a leading ``'``, as OWASP advises against CSV
injection. Amounts and counts are typed, so they stay numbers.
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.blocks.fields import is_person
from bot.blocks.history import describe_event
from bot.blocks.i18n import Locale, t
from ledger.read_models import AuditEntry, RequestView
from ledger.validation import parse_document

REQUEST_COLUMNS = (
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
    "Parcelas",
    "Forma de pagamento",
    "NF",
    "Status",
    "Aprovadores",
    "ID Conta Azul",
    "Lançado em",
)
AUDIT_COLUMNS = ("Referência", "Quando", "Quem", "Evento")
_MONTH = re.compile(r"^(?:(\d{4})-(\d{1,2})|(\d{1,2})/(\d{4}))$")
# What makes Excel, LibreOffice or Google Sheets evaluate a cell instead of showing it (OWASP, "CSV Injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

Cell = str | Decimal | int


def parse_month(text: str, *, today: date) -> date | None:
    """``2026-11`` or ``11/2026`` → 1 Nov 2026; nothing → last month (the one being closed); junk → None."""
    text = text.strip()
    if not text:
        return date(today.year - (today.month == 1), (today.month - 2) % 12 + 1, 1)
    match = _MONTH.match(text)
    if not match:
        return None
    year, month = (match.group(1), match.group(2)) if match.group(1) else (match.group(4), match.group(3))
    if not 1 <= int(month) <= 12:
        return None
    return date(int(year), int(month), 1)


def _cell(value: Cell) -> str:
    """A typed cell as the spreadsheet should read it: numbers as numbers, any text as text."""
    if isinstance(value, Decimal):
        return f"{value:.2f}".replace(".", ",")
    if isinstance(value, int):
        return str(value)
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def _day(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def _document(value: str | None) -> str:
    if not value:
        return ""
    try:
        return parse_document(value).formatted
    except ValueError:
        return value


def _write(header: tuple[str, ...], rows: list[list[Cell]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows([_cell(value) for value in row] for row in rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _who(user_id: str, names: Mapping[str, str], request: RequestView, locale: Locale) -> str:
    if is_person(user_id):
        return names.get(user_id, user_id)
    return t(locale, f"source.{request.source}")


def build_requests_csv(requests: list[RequestView], *, names: Mapping[str, str], locale: Locale, tz: ZoneInfo) -> bytes:
    """One row per request of the month, with who approved each step."""
    rows: list[list[Cell]] = []
    for request in requests:
        approvers = "; ".join(
            f"{step.name}: {names.get(step.decided_by, step.decided_by)}"
            for step in request.steps
            if step.decided_by and step.status == "approved"
        )
        posted_at = request.posted_at.astimezone(tz).strftime("%d/%m/%Y %H:%M") if request.posted_at else ""
        rows.append(
            [
                request.reference,
                t(locale, f"export.kind.{request.kind}"),
                _who(request.requester_id, names, request, locale),
                request.vendor_name,
                _document(request.vendor_document),
                request.category,
                request.cost_center or "",
                _day(request.competence_date),
                _day(request.due_date),
                request.amount,
                request.installments or 1,
                t(locale, f"method.{request.payment_method}"),
                request.invoice_number or "",
                t(locale, f"export.status.{request.status}"),
                approvers,
                request.contaazul_id or "",
                posted_at,
            ]
        )
    return _write(REQUEST_COLUMNS, rows)


def build_audit_csv(
    requests: list[RequestView],
    trails: Mapping[int, list[AuditEntry]],
    *,
    names: Mapping[str, str],
    locale: Locale,
    tz: ZoneInfo,
) -> bytes:
    """Every audit event of those requests: the trace from submission to the Conta Azul entry."""
    rows: list[list[Cell]] = []
    for request in requests:
        for event in trails.get(request.id, []):
            actor = event.actor_id or ""
            rows.append(
                [
                    request.reference,
                    event.created_at.astimezone(tz).strftime("%d/%m/%Y %H:%M:%S"),
                    names.get(actor, actor) if actor else t(locale, "history.system"),
                    html.unescape(describe_event(event, locale=locale, mention=False).replace("*", "")),
                ]
            )
    return _write(AUDIT_COLUMNS, rows)
