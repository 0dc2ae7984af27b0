"""Won deals as receivables, without Slack or HTTP: CRM payloads, signatures, the rules file, installments."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from ledger.crm import SOURCES
from ledger.crm.fields import MAX_BODY_BYTES, load_json
from ledger.crm.generic import parse_generic, sign_generic, verify_generic
from ledger.crm.hubspot import hubspot_uri, parse_hubspot, sign_hubspot, verify_hubspot
from ledger.crm.pipedrive import PipedriveDeal, parse_pipedrive, verify_basic_auth
from ledger.crm.source import CrmSource, Ignored
from ledger.domain import PaymentMethod
from ledger.errors import InvalidSubmission, PolicyError, WebhookRefused
from ledger.receivables import (
    HubSpotFields,
    PipedriveFields,
    WonDeal,
    load_receivable_rules,
    parse_receivable_rules,
    plan_receivable,
    split_installments,
)

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]


def test_the_example_file_is_valid_and_documents_every_key():
    rules = load_receivable_rules(REPO / "receivables.example.toml")
    assert rules is not None
    assert (rules.category, rules.cost_center, rules.due_days, rules.require_approval) == (
        "Vendas de Produtos",
        "Comercial",
        30,
        False,
    )
    assert [r.category for r in rules.rules] == ["Encomendas e Eventos", "Prestação de Serviços"]
    assert rules.rules[1].payment_method is PaymentMethod.PIX
    assert load_receivable_rules(REPO / "no-such-file.toml") is None


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({}, "category (the default revenue category"),
        ({"category": "X", "colour": 1}, "unknown keys ['colour']"),
        ({"category": "X", "require_approval": "yes"}, "require_approval must be true or false"),
        ({"category": "X", "due_days": -1}, "due_days must be a whole number"),
        ({"category": "X", "payment_method": "cash"}, "payment_method must be one of boleto"),
        ({"category": "X", "rules": [{"category": "Y"}]}, "rules[0] must match on pipelines or products"),
        ({"category": "X", "rules": [{"pipelines": ["A"], "due": 3}]}, "rules[0]: unknown keys ['due']"),
        ({"category": "X", "pipedrive": {"cnpj": "abc"}}, "pipedrive: unknown keys ['cnpj']"),
        ({"category": "X", "hubspot": {"won_stages": []}}, "hubspot.won_stages must be a non-empty list"),
    ],
)
def test_bad_rules_are_named(raw, fragment):
    with pytest.raises(PolicyError) as caught:
        parse_receivable_rules(raw)
    assert fragment in str(caught.value)


def test_an_invalid_toml_file_is_reported_with_its_path(tmp_path):
    path = tmp_path / "receivables.toml"
    path.write_text("category = ", encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_receivable_rules(path)
    assert str(path) in str(caught.value) and "not valid TOML" in str(caught.value)


def deal(**overrides) -> WonDeal:
    base = WonDeal(
        source="generic",
        deal_id="D-1",
        title="Evento",
        amount=Decimal("100.00"),
        won_on=date(2026, 11, 24),
        customer_name="Cliente",
    )
    return base.__class__(**{**{f: getattr(base, f) for f in base.__dataclass_fields__}, **overrides})


def test_the_first_matching_rule_wins_and_the_rest_comes_from_the_defaults():
    rules = parse_receivable_rules(
        {
            "category": "Vendas de Produtos",
            "cost_center": "Comercial",
            "rules": [
                {"pipelines": ["Eventos"], "category": "Encomendas e Eventos", "due_days": 15},
                {"products": ["consultoria"], "category": "Prestação de Serviços", "cost_center": "Serviços"},
            ],
        }
    )
    assert plan_receivable(deal(pipeline="EVENTOS"), rules).draft.category == "Encomendas e Eventos"
    planned = plan_receivable(deal(products=("Consultoria",)), rules)
    assert (planned.draft.category, planned.draft.cost_center, planned.draft.due_date) == (
        "Prestação de Serviços",
        "Serviços",
        date(2026, 12, 24),
    )
    own_due = plan_receivable(deal(due_date=date(2027, 1, 10)), rules)
    assert own_due.draft.due_date == date(2027, 1, 10) and own_due.submission_key == "crm:generic:D-1"


def test_a_deal_is_validated_like_a_form():
    rules = parse_receivable_rules({"category": "X"})
    with pytest.raises(InvalidSubmission) as caught:
        plan_receivable(deal(amount=Decimal("0"), customer_document="123", installments=0), rules)
    assert caught.value.errors == {
        "amount": "amount_not_positive",
        "customer_document": "document_invalid_length",
        "installments": "installments_range",
    }
    planned = plan_receivable(deal(customer_document="11.222.333/0001-81", customer_email="not-an-email"), rules)
    assert (planned.draft.vendor_document, planned.email) == ("11222333000181", None)


@pytest.mark.parametrize(
    ("total", "count", "expected"),
    [
        ("100.00", 1, ["100.00"]),
        ("100.00", 3, ["33.33", "33.33", "33.34"]),
        ("0.05", 2, ["0.02", "0.03"]),
        ("1234.56", 12, ["102.88"] * 11 + ["102.88"]),
    ],
)
def test_installments_sum_exactly_to_the_total(total, count, expected):
    parts = split_installments(Decimal(total), date(2026, 1, 31), count)
    assert [str(a) for _, a in parts] == expected and sum(a for _, a in parts) == Decimal(total)


def test_monthly_due_dates_keep_the_day_or_the_month_end():
    parts = split_installments(Decimal("40.00"), date(2026, 1, 31), 4)
    assert [d for d, _ in parts] == [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30)]


# --------------------------------------------------------------------------- signatures


def test_the_registry_holds_each_crm_under_its_webhook_name():
    assert sorted(SOURCES) == ["generic", "hubspot", "pipedrive"]
    for name, source in SOURCES.items():
        assert isinstance(source, CrmSource) and source.name == name


def test_generic_signature_accepts_any_listed_secret_within_five_minutes():
    body = b'{"deal_id": "1"}'
    timestamp = int(NOW.timestamp()) - 299
    signature = sign_generic("old", timestamp, body)
    headers = {"X-Aprova-Timestamp": str(timestamp), "X-Aprova-Signature": signature}
    assert verify_generic(["new", "old"], headers, body, NOW) == signature
    with pytest.raises(WebhookRefused) as caught:
        verify_generic(["new"], headers, body, NOW)
    assert caught.value.status == 401
    stale = {
        "X-Aprova-Timestamp": str(timestamp - 2),
        "X-Aprova-Signature": sign_generic("old", timestamp - 2, body),
    }
    with pytest.raises(WebhookRefused, match="stale"):
        verify_generic(["old"], stale, body, NOW)
    with pytest.raises(WebhookRefused, match="stale"):
        verify_generic(["old"], headers | {"X-Aprova-Timestamp": "soon"}, body, NOW)


def test_hubspot_signature_covers_method_uri_body_and_timestamp():
    body, uri = b'{"objectId": 1}', "https://aprova.example.com/crm/hubspot?portal=1"
    timestamp = int(NOW.timestamp() * 1000)
    signature = sign_hubspot("secret", "POST", uri, body, timestamp)
    headers = {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": str(timestamp)}
    assert verify_hubspot(["secret"], method="POST", uri=uri, headers=headers, body=body, now=NOW) == signature
    for changed in ({"method": "PUT"}, {"uri": uri + "&x=1"}, {"body": body + b" "}):
        arguments = {"method": "POST", "uri": uri, "body": body} | changed
        with pytest.raises(WebhookRefused):
            verify_hubspot(["secret"], headers=headers, now=NOW, **arguments)  # type: ignore[arg-type]
    assert base64.b64decode(signature)  # base64 of the HMAC, as HubSpot sends it


def test_hubspot_uri_decodes_the_characters_hubspot_decodes():
    uri = hubspot_uri("https://aprova.example.com/", "/crm/hubspot?next=%2Fa%3Ab%40c&q=a%20b")
    assert uri == "https://aprova.example.com/crm/hubspot?next=/a:b@c&q=a%20b"


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        ("Basic " + base64.b64encode(b"aprova:s3cret").decode(), True),
        ("Basic " + base64.b64encode(b"aprova:wrong").decode(), False),
        ("Basic " + base64.b64encode(b"other:s3cret").decode(), False),
        ("Basic not-base64!", False),
        ("Bearer abc", False),
        ("", False),
    ],
)
def test_pipedrive_basic_credentials(header, ok):
    headers = {"Authorization": header} if header else {}
    if ok:
        verify_basic_auth("aprova", "s3cret", headers)
    else:
        with pytest.raises(WebhookRefused) as caught:
            verify_basic_auth("aprova", "s3cret", headers)
        assert caught.value.status == 401


# --------------------------------------------------------------------------- payloads


def test_json_numbers_stay_exact_and_junk_is_refused():
    assert load_json(b'{"value": 0.1}') == {"value": Decimal("0.1")}
    for junk, status in ((b"\xff", 400), (b"{", 400), (b" " * (MAX_BODY_BYTES + 1), 413)):
        with pytest.raises(WebhookRefused) as caught:
            load_json(junk)
        assert caught.value.status == status


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-24", date(2026, 11, 24)),
        ("2026-11-25T01:30:00Z", date(2026, 11, 24)),  # still the 24th in São Paulo
        ("2026-11-25 12:00:00", date(2026, 11, 25)),  # Pipedrive v1, UTC
        (1795618800, date(2026, 11, 25)),  # Unix seconds
        ("1795446000000", date(2026, 11, 23)),  # HubSpot milliseconds
    ],
)
def test_dates_in_every_shape_crms_send(value, expected):
    data = {"deal_id": "1", "value": "1.00", "won_at": value, "customer": {"name": "C"}}
    assert parse_generic(data).won_on == expected


def pipedrive(previous, *, action="change", status="won", **deal):
    body = {"id": 1, "title": "T", "value": 10, "currency": "BRL", "status": status, "org_name": "Org"}
    body |= {"won_time": "2026-11-25T13:00:00Z"} | deal
    return {"meta": {"action": action, "entity": "deal"}, "data": body, "previous": previous}


@pytest.mark.parametrize(
    ("payload", "outcome"),
    [
        (pipedrive({"status": "open"}), WonDeal),
        (pipedrive({"status": "lost"}), WonDeal),
        (pipedrive(None, action="create"), WonDeal),
        (pipedrive({"title": "x"}), Ignored),  # already won, something else changed
        (pipedrive({"status": "won"}), Ignored),
        (pipedrive({"status": "won"}, status="open"), Ignored),
        (pipedrive({"status": "open"}, org_name=None, org_id=3), PipedriveDeal),
        ({"meta": {"action": "change", "entity": "person"}, "data": {}, "previous": {}}, Ignored),
    ],
)
def test_only_the_change_that_wins_a_pipedrive_deal_counts(payload, outcome):
    assert isinstance(parse_pipedrive(payload, PipedriveFields()), outcome)


def test_pipedrive_custom_fields_in_v1_and_v2_shapes():
    fields = PipedriveFields(document_field="doc", installments_field="n", due_date_field="due")
    v2 = pipedrive(
        {"status": "open"}, custom_fields={"doc": {"value": "11.222.333/0001-81"}, "n": 3, "due": "2027-01-05"}
    )
    parsed = parse_pipedrive(v2, fields)
    assert isinstance(parsed, WonDeal)
    assert (parsed.customer_document, parsed.installments, parsed.due_date) == (
        "11.222.333/0001-81",
        3,
        date(2027, 1, 5),
    )
    v1 = {
        "meta": {"action": "updated", "object": "deal", "timestamp": 1795618800},
        "current": {"id": 5, "value": 7, "status": "won", "person_name": "Rita", "doc": "529.982.247-25"},
        "previous": {"status": "open"},
    }
    parsed = parse_pipedrive(v1, fields)
    assert isinstance(parsed, WonDeal) and (parsed.customer_name, parsed.customer_document) == (
        "Rita",
        "529.982.247-25",
    )
    with pytest.raises(WebhookRefused, match="only deals in BRL"):
        parse_pipedrive(pipedrive({"status": "open"}, currency="EUR"), fields)


def test_hubspot_properties_in_both_body_shapes_with_configured_names():
    fields = HubSpotFields(customer_name="razao_social", won_stages=("ganho",))
    wrapped = {
        "objectId": 9,
        "properties": {
            "razao_social": {"value": "Alfa"},
            "amount": {"value": "5"},
            "closedate": {"value": "2026-11-20"},
            "dealstage": {"value": "ganho"},
        },
    }
    flat = {"hs_object_id": "9", "razao_social": "Alfa", "amount": 5, "closedate": "2026-11-20"}
    for body in (wrapped, flat):
        parsed = parse_hubspot(body, fields)
        assert isinstance(parsed, WonDeal)
        assert (parsed.deal_id, parsed.customer_name, parsed.amount) == ("9", "Alfa", Decimal("5"))
    with pytest.raises(WebhookRefused, match="razao_social is required"):
        parse_hubspot({"objectId": 9, "amount": "5", "closedate": "2026-11-20"}, fields)
