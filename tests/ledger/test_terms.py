"""The approval fingerprint: one definition, classified columns, a digest that only the terms move."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from ledger.models import PaymentRequest
from ledger.terms import MATERIAL_FIELDS, NON_MATERIAL_FIELDS, ApprovalTerms, short_digest

TERMS = ApprovalTerms(
    kind="payable",
    vendor_name="Moinho Anaconda Ltda",
    vendor_document="11222333000181",
    amount=Decimal("1234.56"),
    competence_date=date(2026, 11, 1),
    due_date=date(2026, 12, 10),
    category="Matéria-Prima",
    cost_center="Produção",
    payment_method="pix",
    payment_code="financeiro@moinho.com.br",
    invoice_number="4521",
    installments=1,
    financial_account_id="acc-1",
)


def test_every_request_column_is_either_material_or_says_why_not():
    """A new column must be classified here before it can land: what moves money restarts approval."""
    columns = {attribute.key for attribute in PaymentRequest.__mapper__.column_attrs}
    assert set(MATERIAL_FIELDS).isdisjoint(NON_MATERIAL_FIELDS)
    assert set(MATERIAL_FIELDS) | set(NON_MATERIAL_FIELDS) == columns


def test_the_digest_is_pinned():
    """Changing the definition changes every in-flight request's fingerprint: it needs a migration that
    re-records them (as 0006 did), so a change here must be deliberate."""
    assert TERMS.digest() == TERMS.digest()
    assert (
        TERMS.canonical()
        == (
            '{"amount":"1234.56","category":"Matéria-Prima","competence_date":"2026-11-01","cost_center":"Produção",'
            '"due_date":"2026-12-10","financial_account_id":"acc-1","installments":1,"invoice_number":"4521",'
            '"kind":"payable","payment_code":"financeiro@moinho.com.br","payment_method":"pix",'
            '"v":1,"vendor_document":"11222333000181","vendor_name":"Moinho Anaconda Ltda"}'
        ).encode()
    )
    assert short_digest(TERMS.digest()) == f"{TERMS.digest()[:4].upper()}-{TERMS.digest()[4:8].upper()}"
    assert short_digest(None) == "—"


def test_terms_read_from_a_request_or_a_mapping_alike():
    values = {name: getattr(TERMS, name) for name in MATERIAL_FIELDS}
    assert ApprovalTerms.of(values) == TERMS
    request = PaymentRequest(**values)
    assert ApprovalTerms.of(request) == TERMS
    assert ApprovalTerms.of(values | {"installments": None}).installments == 1


@given(
    field=st.sampled_from(MATERIAL_FIELDS),
    text=st.text(min_size=1, max_size=20),
    cents=st.integers(min_value=1, max_value=10**12),
    days=st.integers(min_value=1, max_value=3000),
)
def test_any_change_of_any_term_changes_the_digest(field, text, cents, days):
    current = getattr(TERMS, field)
    if isinstance(current, Decimal):
        changed: object = Decimal(cents) / 100
    elif isinstance(current, date):
        changed = date.fromordinal(current.toordinal() + days)
    elif isinstance(current, int):
        changed = current + days
    else:
        changed = text
    if changed == current:
        return
    assert replace(TERMS, **{field: changed}).digest() != TERMS.digest()


def test_amounts_are_compared_as_money():
    assert replace(TERMS, amount=Decimal("1234.560")).digest() == TERMS.digest()
    assert replace(TERMS, amount=Decimal("1234.57")).digest() != TERMS.digest()
