"""Won deals become receivables: the mapping rules (a TOML file) and the draft a deal turns into.

Example (see ``receivables.example.toml``)::

    require_approval = false        # true: the approval policy decides first, with the same buttons as payments
    due_days = 30                   # due date = won date + due_days, unless the deal carries its own
    payment_method = "boleto"       # boleto | pix | transfer | card | other
    category = "Vendas de Produtos" # revenue category, exact name in Conta Azul (it cannot be created)
    cost_center = "Comercial"       # optional; created in Conta Azul when missing

    [[rules]]                       # the first matching rule wins; what it leaves out comes from above
    pipelines = ["Serviços"]        # the deal's pipeline (name or id), any of these
    products = ["Consultoria"]      # any of the deal's products
    category = "Receita de Serviços"
    due_days = 15

    [pipedrive]                     # API keys of Pipedrive custom fields that carry these values
    document_field = "9f1c…"        # the customer's CNPJ/CPF (on the deal or its organization)

    [hubspot]                       # property names in the workflow webhook's body
    customer_name = "company_name"
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ledger.domain import PaymentMethod, PlannedStep, RequestDraft, RequestKind
from ledger.errors import InvalidSubmission, InvalidValue, PolicyError
from ledger.flows import FinalApprovalHook, Submitted, submit_request
from ledger.names import name_key
from ledger.policy import read_toml_file
from ledger.ports import Clock
from ledger.validation import amount_problem, parse_document

MAX_INSTALLMENTS = 60
SOURCES = ("generic", "pipedrive", "hubspot", "manual")


@dataclass(frozen=True, slots=True)
class WonDeal:
    """A deal a CRM marked won, in our terms. Money is ``Decimal`` BRL; ``deal_id`` is the CRM's own id."""

    source: str  # generic | pipedrive | hubspot
    deal_id: str
    title: str
    amount: Decimal
    won_on: date
    customer_name: str
    customer_document: str | None = None  # as the CRM had it; validated when planned
    customer_email: str | None = None
    pipeline: str | None = None
    products: tuple[str, ...] = ()
    due_date: date | None = None
    installments: int | None = None

    @property
    def submission_key(self) -> str:
        """The same deal, however often delivered, is stored once."""
        return f"crm:{self.source}:{self.deal_id}"[:64]


@dataclass(frozen=True, slots=True)
class ReceivableRule:
    pipelines: frozenset[str] = frozenset()  # name keys
    products: frozenset[str] = frozenset()
    category: str | None = None
    cost_center: str | None = None
    due_days: int | None = None
    payment_method: PaymentMethod | None = None

    def matches(self, deal: WonDeal) -> bool:
        if self.pipelines and name_key(deal.pipeline or "") not in self.pipelines:
            return False
        return not self.products or any(name_key(p) in self.products for p in deal.products)


@dataclass(frozen=True, slots=True)
class PipedriveFields:
    """API keys of custom fields (a Pipedrive custom field's key is a 40-character hash)."""

    document_field: str | None = None
    email_field: str | None = None
    due_date_field: str | None = None
    installments_field: str | None = None


@dataclass(frozen=True, slots=True)
class HubSpotFields:
    """Names of the properties a HubSpot workflow webhook sends."""

    customer_name: str = "company_name"
    document: str = "cnpj"
    email: str = "email"
    due_date: str = "data_vencimento"
    installments: str = "parcelas"
    won_stages: tuple[str, ...] = ("closedwon",)


@dataclass(frozen=True, slots=True)
class ReceivableRules:
    category: str
    require_approval: bool = False
    due_days: int = 30
    payment_method: PaymentMethod = PaymentMethod.BOLETO
    cost_center: str | None = None
    rules: tuple[ReceivableRule, ...] = ()
    pipedrive: PipedriveFields = field(default_factory=PipedriveFields)
    hubspot: HubSpotFields = field(default_factory=HubSpotFields)


@dataclass(frozen=True, slots=True)
class ReceivableDraft:
    """What a won deal (or an admin's modal) becomes: the request's fields plus the customer's e-mail."""

    draft: RequestDraft
    email: str | None
    installments: int
    source: str
    submission_key: str


def plan_receivable(deal: WonDeal, rules: ReceivableRules) -> ReceivableDraft:
    """Map a won deal onto a receivable with the first matching rule.

    Raises:
        InvalidSubmission: The deal cannot become a receivable (no amount, a bad CNPJ/CPF…), keyed by field.
    """
    errors: dict[str, str] = {}
    if problem := amount_problem(deal.amount):
        errors["amount"] = problem
    document = None
    if deal.customer_document and deal.customer_document.strip():
        try:
            document = parse_document(deal.customer_document).value
        except InvalidValue as exc:
            errors["customer_document"] = exc.code
    if not deal.customer_name.strip():
        errors["customer_name"] = "required"
    installments = deal.installments if deal.installments is not None else 1
    if not 1 <= installments <= MAX_INSTALLMENTS:
        errors["installments"] = "installments_range"
    elif "amount" not in errors and not installments_fit(deal.amount, installments):
        errors["installments"] = "installments_too_small"
    if errors:
        raise InvalidSubmission(errors)
    rule = next((r for r in rules.rules if r.matches(deal)), ReceivableRule())
    due_days = rule.due_days if rule.due_days is not None else rules.due_days
    due = deal.due_date or deal.won_on + timedelta(days=due_days)
    if due < deal.won_on:
        due = deal.won_on
    draft = RequestDraft(
        description=(deal.title.strip() or deal.customer_name)[:300],
        vendor_name=deal.customer_name.strip()[:200],
        vendor_document=document,
        amount=deal.amount,
        competence_date=deal.won_on,
        due_date=due,
        category=rule.category or rules.category,
        cost_center=rule.cost_center if rule.cost_center is not None else rules.cost_center,
        payment_method=rule.payment_method or rules.payment_method,
        notes=f"{_SOURCE_NAMES.get(deal.source, deal.source)}: negócio {deal.deal_id}"[:500],
    )
    email = deal.customer_email.strip()[:100] if deal.customer_email and "@" in deal.customer_email else None
    return ReceivableDraft(
        draft=draft, email=email, installments=installments, source=deal.source, submission_key=deal.submission_key
    )


async def record_receivable(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    clock: Clock,
    team_id: str,
    requester_id: str,
    planned: ReceivableDraft,
    steps: list[PlannedStep],
    on_final_approval: FinalApprovalHook | None,
    delivery_key: str | None = None,
) -> Submitted:
    """Store a receivable once per submission key: pending when it has steps, else approved and queued for posting
    in the same transaction, with the webhook's replay key when it has one. ``requester_id`` is empty for a CRM
    deal (nobody to mention)."""
    return await submit_request(
        session_factory,
        clock=clock,
        team_id=team_id,
        requester_id=requester_id,
        submission_key=planned.submission_key,
        draft=planned.draft,
        steps=steps,
        kind=RequestKind.RECEIVABLE,
        source=planned.source,
        counterparty_email=planned.email,
        installments=planned.installments,
        on_final_approval=on_final_approval,
        delivery_key=delivery_key,
    )


_SOURCE_NAMES = {"generic": "CRM", "pipedrive": "Pipedrive", "hubspot": "HubSpot", "manual": "Aprova"}


def installments_fit(total: Decimal, count: int) -> bool:
    """Whether ``total`` splits into ``count`` installments of at least R$ 0,01 each (none may be zero)."""
    return total >= Decimal("0.01") * count


def split_installments(total: Decimal, first_due: date, count: int) -> list[tuple[date, Decimal]]:
    """``count`` monthly installments from ``first_due`` that sum exactly to ``total`` (cents on the last one)."""
    if count <= 1:
        return [(first_due, total)]
    share = (total / count).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    amounts = [share] * (count - 1) + [total - share * (count - 1)]
    return [(_add_months(first_due, i), amount) for i, amount in enumerate(amounts)]


def _add_months(start: date, months: int) -> date:
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


# --------------------------------------------------------------------------- the rules file


def load_receivable_rules(path: Path) -> ReceivableRules | None:
    """The rules, or None when the file does not exist (deal webhooks are then off).

    Raises:
        PolicyError: The file is not valid; the message names the key.
    """
    try:
        raw = read_toml_file(path, "receivables file")
    except FileNotFoundError:
        return None
    try:
        return parse_receivable_rules(raw)
    except PolicyError as exc:
        raise PolicyError(f"receivables file {path}: {exc}") from None


_TOP_KEYS = {
    "require_approval",
    "due_days",
    "payment_method",
    "category",
    "cost_center",
    "rules",
    "pipedrive",
    "hubspot",
}


def parse_receivable_rules(raw: dict[str, Any]) -> ReceivableRules:
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise PolicyError(f"unknown keys {sorted(unknown)} (expected {', '.join(sorted(_TOP_KEYS))})")
    category = _name(raw.get("category"), "category")
    if category is None:
        raise PolicyError("category (the default revenue category, exactly as in Conta Azul) is required")
    approval = raw.get("require_approval", False)
    if not isinstance(approval, bool):
        raise PolicyError("require_approval must be true or false")
    rules_raw = raw.get("rules", [])
    if not isinstance(rules_raw, list):
        raise PolicyError("rules must be an array of tables ([[rules]])")
    return ReceivableRules(
        category=category,
        require_approval=approval,
        due_days=_days(raw.get("due_days"), "due_days") or 30,
        payment_method=_method(raw.get("payment_method"), "payment_method") or PaymentMethod.BOLETO,
        cost_center=_name(raw.get("cost_center"), "cost_center"),
        rules=tuple(_rule(r, f"rules[{i}]") for i, r in enumerate(rules_raw)),
        pipedrive=_pipedrive(raw.get("pipedrive", {})),
        hubspot=_hubspot(raw.get("hubspot", {})),
    )


def _rule(raw: Any, where: str) -> ReceivableRule:
    if not isinstance(raw, dict):
        raise PolicyError(f"{where} must be a table")
    keys = {"pipelines", "products", "category", "cost_center", "due_days", "payment_method"}
    unknown = set(raw) - keys
    if unknown:
        raise PolicyError(f"{where}: unknown keys {sorted(unknown)}")
    pipelines, products = (
        _names(raw.get("pipelines", []), f"{where}.pipelines"),
        _names(raw.get("products", []), f"{where}.products"),
    )
    if not pipelines and not products:
        raise PolicyError(f"{where} must match on pipelines or products")
    return ReceivableRule(
        pipelines=pipelines,
        products=products,
        category=_name(raw.get("category"), f"{where}.category"),
        cost_center=_name(raw.get("cost_center"), f"{where}.cost_center"),
        due_days=_days(raw.get("due_days"), f"{where}.due_days"),
        payment_method=_method(raw.get("payment_method"), f"{where}.payment_method"),
    )


def _pipedrive(raw: Any) -> PipedriveFields:
    if not isinstance(raw, dict):
        raise PolicyError("[pipedrive] must be a table")
    keys = {"document_field", "email_field", "due_date_field", "installments_field"}
    unknown = set(raw) - keys
    if unknown:
        raise PolicyError(f"pipedrive: unknown keys {sorted(unknown)} (expected {', '.join(sorted(keys))})")
    return PipedriveFields(**{k: _name(v, f"pipedrive.{k}") for k, v in raw.items()})


def _hubspot(raw: Any) -> HubSpotFields:
    if not isinstance(raw, dict):
        raise PolicyError("[hubspot] must be a table")
    keys = {"customer_name", "document", "email", "due_date", "installments", "won_stages"}
    unknown = set(raw) - keys
    if unknown:
        raise PolicyError(f"hubspot: unknown keys {sorted(unknown)} (expected {', '.join(sorted(keys))})")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "won_stages":
            if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
                raise PolicyError("hubspot.won_stages must be a non-empty list of deal stage ids")
            values[key] = tuple(value)
        else:
            name = _name(value, f"hubspot.{key}")
            if name is None:
                raise PolicyError(f"hubspot.{key} must be a property name")
            values[key] = name
    return HubSpotFields(**values)


def _name(raw: Any, where: str) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw.strip():
        raise PolicyError(f"{where} must be a non-empty string")
    return raw.strip()


def _names(raw: Any, where: str) -> frozenset[str]:
    if not isinstance(raw, list) or not all(isinstance(n, str | int) and str(n).strip() for n in raw):
        raise PolicyError(f"{where} must be a list of names")
    return frozenset(name_key(str(n)) for n in raw)


def _days(raw: Any, where: str) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= 3650:
        raise PolicyError(f"{where} must be a whole number of days from 0 to 3650")
    return raw


def _method(raw: Any, where: str) -> PaymentMethod | None:
    if raw is None:
        return None
    try:
        return PaymentMethod(raw)
    except ValueError:
        allowed = ", ".join(m.value for m in PaymentMethod)
        raise PolicyError(f"{where} must be one of {allowed} (got {raw!r})") from None
