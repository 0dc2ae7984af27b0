"""Block Kit builders and parsers: every surface within Slack's limits, in both locales, with extreme data."""

from __future__ import annotations

import ast
import json
import re
import string
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import MarkdownTextObject, SectionBlock

from bot.blocks import i18n
from bot.blocks.fields import StepRef
from bot.blocks.home import build_home
from bot.blocks.i18n import MESSAGES, Locale
from bot.blocks.notices import explain
from bot.blocks.reject_modal import build_notice_modal, build_reject_modal, parse_reject_modal
from bot.blocks.request_messages import (
    build_approval_message,
    build_cancel_reply,
    build_decision_reply,
    build_escalation_message,
    build_reminder_message,
    build_tracking_message,
)
from bot.blocks.request_modal import build_request_modal, field_errors, parse_request_modal
from bot.blocks.wire import as_json
from ledger import validation
from ledger.domain import PaymentMethod, RequestStatus, StepStatus
from ledger.errors import InvalidSubmission, LedgerError, NotAllowed, PolicyError, RequestNotFound, StaleDecision
from ledger.flows import Decided
from ledger.instruments import bank_barcode, barcode_to_line, br_code
from ledger.models import ApprovalStep, PaymentRequest
from ledger.read_models import RequestView

LOCALES: list[Locale] = ["pt_BR", "en"]
TZ = ZoneInfo("America/Sao_Paulo")
TODAY = date(2026, 11, 25)
CREATED = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
DECIDED = datetime(2026, 11, 26, 13, 30, tzinfo=UTC)
REQUESTER = "U0REQ"
BLOCKS_DIR = Path(__file__).resolve().parents[2] / "bot" / "blocks"

# Text people type, meant to break mrkdwn: mentions, broadcasts, links and entities.
HOSTILE = "<@U123> <!channel> <https://evil.example|clique> a&b <#C1> > citação &amp; &lt;"


def fill(text: str, length: int) -> str:
    return (text * (length // len(text) + 1))[:length]


def approver_ids(step: int, count: int) -> list[str]:
    return [f"U0S{step}A{i:02d}" for i in range(count)]


def make_request(
    status: RequestStatus = RequestStatus.PENDING,
    *,
    extreme: bool = False,
    request_id: int = 42,
    number: int = 1,
) -> RequestView:
    """A request as the ledger would hand it over, read from a row built in memory; ``extreme`` fills every field
    to its limit."""
    n_steps, per_step = (5, 10) if extreme else (2, 2)
    reason = fill(HOSTILE, 1000) if extreme else "Falta a NF <urgente>"
    request = PaymentRequest(
        id=request_id,
        reference=f"PAG-2026-{number:06d}",
        kind="payable",  # as the database would hold it (the column default applies on insert)
        team_id="T0TEAM",
        requester_id=REQUESTER,
        submission_key=f"key-{number}",
        description=fill(HOSTILE, 300) if extreme else "Farinha de trigo — novembro",
        vendor_name=fill(HOSTILE, 200) if extreme else "Moinho <Boa> Safra & Filhos",
        vendor_document="11222333000181",
        amount=Decimal("999999999999.99") if extreme else Decimal("1234.56"),
        competence_date=date(2026, 11, 1),
        due_date=date(2026, 12, 10),
        category=fill(HOSTILE, 200) if extreme else "Matéria-Prima",
        cost_center=fill(HOSTILE, 200) if extreme else None,
        payment_method=PaymentMethod.BOLETO.value if extreme else PaymentMethod.PIX.value,
        payment_code=fill("0123456789", 120) if extreme else "financeiro@boasafra.com.br",
        invoice_number=fill("9", 20) if extreme else "1234-1",
        notes=fill("<@U123> &<> <!here>\n", 2000) if extreme else None,  # escapes to far over 3000 characters
        status=status.value,
        version=3,
        approval_round=1,
        current_step=None,
        created_at=CREATED,
        updated_at=CREATED,
        steps=[
            ApprovalStep(
                id=request_id * 10 + i,
                position=i,
                name=fill(f"Etapa {i} " + HOSTILE, 100) if extreme else ("Gestor", "Diretoria")[i],
                approvers=approver_ids(i, per_step),
                status=StepStatus.WAITING.value,
            )
            for i in range(n_steps)
        ],
    )
    # Walk the steps as the flows would have: every step before the last is approved; the last is open,
    # rejected or closed, unless the whole request was approved.
    steps = request.steps
    ended_early = status in (RequestStatus.PENDING, RequestStatus.REJECTED, RequestStatus.CANCELLED)
    open_at = n_steps - 1 if ended_early else n_steps
    for step in steps[:open_at]:
        step.status, step.decided_by, step.decided_at = StepStatus.APPROVED.value, step.approvers[-1], DECIDED
    if status is RequestStatus.PENDING:
        steps[open_at].status, request.current_step = StepStatus.OPEN.value, open_at
    elif status is RequestStatus.REJECTED:
        last = steps[open_at]
        last.status, last.decided_by, last.decided_at, last.reason = "rejected", last.approvers[0], DECIDED, reason
        request.decided_by, request.decided_at, request.decision_reason = last.decided_by, DECIDED, reason
    elif status is RequestStatus.CANCELLED:
        steps[open_at].status = StepStatus.CLOSED.value
        request.decided_by, request.decided_at = REQUESTER, DECIDED
    else:
        request.decided_by, request.decided_at = steps[-1].decided_by, DECIDED
    return RequestView.from_row(request)


# --------------------------------------------------------------------------- limits


def _text(obj: dict[str, Any] | None) -> str:
    return "" if obj is None else obj["text"]


def assert_within_slack_limits(surface: dict[str, Any], kind: str) -> None:
    """Slack's documented limits for a message (``{"text", "blocks"}``), a modal or a home view."""
    blocks = surface["blocks"]
    assert 0 < len(blocks) <= (50 if kind == "message" else 100)
    if kind == "message":
        assert 0 < len(surface["text"]) <= 40_000
    if kind == "modal":
        assert len(_text(surface["title"])) <= 24
        assert len(_text(surface.get("submit"))) <= 24
        assert len(_text(surface.get("close"))) <= 24
        assert len(surface.get("private_metadata", "")) <= 3000
        assert len(surface.get("callback_id", "")) <= 255
    block_ids = [b["block_id"] for b in blocks if "block_id" in b]
    assert len(block_ids) == len(set(block_ids)), block_ids
    for block in blocks:
        assert len(block.get("block_id", "")) <= 255
        kind_of_block = block["type"]
        if kind_of_block == "section":
            assert "text" in block or "fields" in block
            assert len(_text(block.get("text"))) <= 3000
            assert len(block.get("fields", [])) <= 10
            assert all(0 < len(f["text"]) <= 2000 for f in block.get("fields", []))
        elif kind_of_block == "header":
            assert 0 < len(_text(block["text"])) <= 150
        elif kind_of_block == "context":
            assert 0 < len(block["elements"]) <= 10
            assert all(len(e.get("text", "")) <= 3000 for e in block["elements"])
        elif kind_of_block == "actions":
            assert 0 < len(block["elements"]) <= 25
            action_ids = [e["action_id"] for e in block["elements"]]
            assert len(action_ids) == len(set(action_ids))
            for element in block["elements"]:
                assert_element_within_limits(element)
        elif kind_of_block == "input":
            assert 0 < len(_text(block["label"])) <= 2000
            assert len(_text(block.get("hint"))) <= 2000
            assert_element_within_limits(block["element"])
        else:
            assert kind_of_block == "divider", kind_of_block


def assert_element_within_limits(element: dict[str, Any]) -> None:
    assert 0 < len(element["action_id"]) <= 255
    assert len(_text(element.get("placeholder"))) <= 150
    if element["type"] == "button":
        assert 0 < len(_text(element["text"])) <= 75
        assert len(element.get("value", "")) <= 2000
        if "confirm" in element:
            confirm = element["confirm"]
            assert len(_text(confirm["title"])) <= 100
            assert len(_text(confirm["text"])) <= 300
            assert len(_text(confirm["confirm"])) <= 30 and len(_text(confirm["deny"])) <= 30
    elif element["type"] == "static_select":
        assert 0 < len(element["options"]) <= 100
        for option in element["options"]:
            assert len(_text(option["text"])) <= 75 and len(option["value"]) <= 150
    elif element["type"] == "plain_text_input":
        assert 0 < element.get("max_length", 3000) <= 3000


def message(built: tuple[str, list[Any]]) -> dict[str, Any]:
    text, blocks = built
    return {"text": text, "blocks": [b.to_dict() for b in blocks]}


def rendered(surface: dict[str, Any] | str) -> str:
    return surface if isinstance(surface, str) else json.dumps(surface, ensure_ascii=False)


def assert_no_raw_markup_from_users(surface: dict[str, Any] | str) -> None:
    """The only ``<…>`` left are the mentions we wrote ourselves; typed text arrives escaped."""
    out = rendered(surface)
    ours = re.sub(r"<@U0[A-Z0-9]+>", "", out)
    assert "<" not in ours and ">" not in ours, re.findall(r".{0,30}[<>].{0,30}", ours)[:3]


def assert_no_untranslated_keys(surface: dict[str, Any] | str) -> None:
    out = rendered(surface)
    leaked = [key for key in MESSAGES if re.search(rf"(?<![\w.]){re.escape(key)}(?![\w.])", out)]
    assert not leaked, leaked
    assert not re.search(r"\{[a-z_]+\}", out)


def every_message(locale: Locale, *, extreme: bool) -> list[tuple[str, dict[str, Any]]]:
    surfaces = []
    for status in RequestStatus:
        request = make_request(status, extreme=extreme)
        surfaces.append((f"tracking-{status}", message(build_tracking_message(request, locale=locale, tz=TZ))))
        for step in request.steps:
            built = build_approval_message(request, step, locale=locale, tz=TZ)
            surfaces.append((f"approval-{status}-{step.position}-{step.status}", message(built)))
    return surfaces


@pytest.mark.parametrize("extreme", [False, True], ids=["realistic", "extreme"])
@pytest.mark.parametrize("locale", LOCALES)
def test_messages_go_out_as_slack_sdk_writes_them(locale, extreme):
    """What the notifier sends (``as_json``) is what slack_sdk's ``to_dict()`` makes of every message and view."""
    surfaces: list[list[Any]] = []
    for status in RequestStatus:
        request = make_request(status, extreme=extreme)
        surfaces.append(build_tracking_message(request, locale=locale, tz=TZ)[1])
        for step in request.steps:
            surfaces.append(build_approval_message(request, step, locale=locale, tz=TZ)[1])
            surfaces.append(build_reminder_message(request, step, hours=24, locale=locale, tz=TZ)[1])
            surfaces.append(build_escalation_message(request, step, hours=48, locale=locale, tz=TZ)[1])
    many = [make_request(status, extreme=extreme, request_id=i + 1) for i, status in enumerate(RequestStatus)]
    views = [
        build_home(mine=many, waiting=many, command="/pagamento", locale=locale, tz=TZ),
        build_request_modal(locale=locale, today=date(2026, 11, 26), live=False),
        build_reject_modal(many[0], 0, locale=locale),
    ]
    surfaces += [view.blocks for view in views]
    for blocks in surfaces:
        assert as_json(blocks) == [block.to_dict() for block in blocks]
    assert as_json([{"type": "divider"}]) == [{"type": "divider"}]  # a block already written as JSON


def test_slack_limits_are_caught_before_sending_as_slack_sdk_catches_them():
    too_long = [SectionBlock(text=MarkdownTextObject(text="x" * 3001))]
    with pytest.raises(SlackObjectFormationError) as by_sdk:
        too_long[0].to_dict()
    with pytest.raises(SlackObjectFormationError) as by_us:
        as_json(too_long)
    assert str(by_us.value) == str(by_sdk.value)


@pytest.mark.parametrize("extreme", [False, True], ids=["realistic", "extreme"])
@pytest.mark.parametrize("locale", LOCALES)
def test_every_message_fits_slack(locale, extreme):
    for name, surface in every_message(locale, extreme=extreme):
        try:
            assert_within_slack_limits(surface, "message")
            assert_no_raw_markup_from_users(surface)
            assert_no_untranslated_keys(surface)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from exc


@pytest.mark.parametrize("extreme", [False, True], ids=["realistic", "extreme"])
@pytest.mark.parametrize("locale", LOCALES)
def test_message_shapes(locale, extreme):
    pending = make_request(RequestStatus.PENDING, extreme=extreme)
    assert pending.current_step is not None
    open_step = pending.steps[pending.current_step]
    text, blocks = build_approval_message(pending, open_step, locale=locale, tz=TZ)
    [actions] = [b.to_dict() for b in blocks if b.to_dict()["type"] == "actions"]
    approve, reject = actions["elements"]
    assert (approve["action_id"], reject["action_id"]) == ("payment-approve", "payment-reject")
    assert StepRef.decode(approve["value"]) == StepRef(42, open_step.position, 1) == StepRef.decode(reject["value"])
    # A decided step shows who decided and no buttons.
    decided_step = pending.steps[0]
    text, blocks = build_approval_message(pending, decided_step, locale=locale, tz=TZ)
    assert not [b for b in blocks if b.to_dict()["type"] == "actions"]
    assert f"<@{decided_step.decided_by}>" in rendered(message((text, blocks)))
    # The tracking message offers History always, Cancel only while pending, and names who is awaited.
    tracking = message(build_tracking_message(pending, locale=locale, tz=TZ))
    history, edit, cancel = [e for b in tracking["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert edit["action_id"] == "payment-edit" and StepRef.decode(edit["value"]) == StepRef(42)
    assert cancel["action_id"] == "payment-cancel" and StepRef.decode(cancel["value"]) == StepRef(42)
    assert history["action_id"] == "request-history" and StepRef.decode(history["value"]) == StepRef(42)
    assert all(f"<@{a}>" in rendered(tracking) for a in open_step.approvers)
    for status in set(RequestStatus) - {RequestStatus.PENDING}:
        done = message(build_tracking_message(make_request(status, extreme=extreme), locale=locale, tz=TZ))
        buttons = [e["action_id"] for b in done["blocks"] if b["type"] == "actions" for e in b["elements"]]
        assert (
            buttons == ["request-history", "payment-edit"] if status == RequestStatus.REJECTED else ["request-history"]
        )
        assert i18n.t(locale, f"status.{status}") in done["text"]


@pytest.mark.parametrize("locale", LOCALES)
def test_rejected_and_cancelled_tracking_say_why(locale):
    rejected = message(build_tracking_message(make_request(RequestStatus.REJECTED), locale=locale, tz=TZ))
    assert i18n.t(locale, "outcome.reason", reason="Falta a NF &lt;urgente&gt;") in rendered(rejected)
    cancelled = make_request(RequestStatus.CANCELLED)
    closed_step = cancelled.steps[-1]
    _, blocks = build_approval_message(cancelled, closed_step, locale=locale, tz=TZ)
    expected = i18n.t(locale, "outcome.cancelled", when=i18n.moment(DECIDED, locale, TZ))
    assert expected in rendered(message(("x", blocks)))


@pytest.mark.parametrize(
    ("locale", "amount", "due", "moment"),
    [
        ("pt_BR", "R$ 1.234,56", "10/12/2026", "25/11/2026 12:00"),
        ("en", "R$1,234.56", "Dec 10, 2026", "Nov 25, 2026 12:00 PM"),
    ],
)
def test_money_and_dates_are_formatted_per_locale(locale, amount, due, moment):
    request = make_request(RequestStatus.PENDING)
    for surface in (
        message(build_approval_message(request, request.steps[1], locale=locale, tz=TZ)),
        message(build_tracking_message(request, locale=locale, tz=TZ)),
    ):
        out = rendered(surface)
        assert amount in out and due in out and moment in out
        assert "11.222.333/0001-81" in out
    home = build_home(mine=[request], waiting=[], command="/pagamento", locale=locale, tz=TZ).to_dict()
    assert amount in rendered(home) and due in rendered(home)
    assert amount in build_reject_modal(request, 1, locale=locale).to_dict()["blocks"][0]["text"]["text"]


@pytest.mark.parametrize("locale", LOCALES)
def test_huge_amount_is_formatted_in_full(locale):
    request = make_request(RequestStatus.PENDING, extreme=True)
    expected = {"pt_BR": "R$ 999.999.999.999,99", "en": "R$999,999,999,999.99"}[locale]
    assert expected in message(build_tracking_message(request, locale=locale, tz=TZ))["blocks"][0]["text"]["text"]


@pytest.mark.parametrize("extreme", [False, True], ids=["realistic", "extreme"])
@pytest.mark.parametrize("locale", LOCALES)
def test_thread_replies_escape_user_text(locale, extreme):
    for status in (RequestStatus.PENDING, RequestStatus.APPROVED, RequestStatus.REJECTED):
        request = make_request(status, extreme=extreme)
        step = request.steps[-1] if status is not RequestStatus.PENDING else request.steps[0]
        next_step = request.steps[1] if status is RequestStatus.PENDING else None
        reply = build_decision_reply(request, Decided(request, step, next_step).note, locale=locale)
        assert 0 < len(reply) <= 3000
        assert f"<@{REQUESTER}>" in reply and f"<@{step.decided_by}>" in reply
        assert_no_raw_markup_from_users(reply)
        assert_no_untranslated_keys(reply)
    reply = build_cancel_reply(make_request(RequestStatus.CANCELLED), locale=locale)
    assert f"<@{REQUESTER}>" in reply


@pytest.mark.parametrize("locale", LOCALES)
def test_request_modal_fits_slack(locale):
    view = build_request_modal(locale=locale, today=TODAY, private_metadata=fill("x", 3000)).to_dict()
    assert_within_slack_limits(view, "modal")
    assert_no_untranslated_keys(view)
    assert view["callback_id"] == "payment-request"
    inputs = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    assert list(inputs) == [
        "description",
        "vendor_name",
        "vendor_document",
        "amount",
        "competence_date",
        "due_date",
        "category",
        "cost_center",
        "payment_method",
        "payment_code",
        "invoice_number",
        "notes",
        "attachments",
    ]
    assert all(b["element"]["action_id"] == "value" for k, b in inputs.items() if k != "payment_code")
    # The code is read as soon as it is pasted, to show what it says and fill the amount and due date.
    code = inputs["payment_code"]
    assert code["dispatch_action"] and code["element"]["action_id"] == "payment-code"
    assert code["element"]["max_length"] == 512  # a PIX copy-and-paste code is often 150–400 characters
    assert inputs["amount"]["optional"] and inputs["due_date"]["optional"]  # the code may supply them
    assert inputs["attachments"]["element"]["type"] == "file_input" and inputs["attachments"]["optional"]
    assert inputs["competence_date"]["element"]["initial_date"] == "2026-11-25"
    methods = [o["value"] for o in inputs["payment_method"]["element"]["options"]]
    assert methods == [m.value for m in PaymentMethod]


@pytest.mark.parametrize("extreme", [False, True], ids=["realistic", "extreme"])
@pytest.mark.parametrize("locale", LOCALES)
def test_reject_modal_fits_slack(locale, extreme):
    view = build_reject_modal(make_request(extreme=extreme), 1, locale=locale).to_dict()
    assert_within_slack_limits(view, "modal")
    assert_no_raw_markup_from_users(view)
    assert_no_untranslated_keys(view)
    assert StepRef.decode(view["private_metadata"]) == StepRef(42, 1)


def test_reject_modal_parser():
    def values(text: str | None) -> dict[str, Any]:
        return {"reason": {"value": {"type": "plain_text_input", "value": text}}}

    assert parse_reject_modal(values("  Sem nota fiscal \n")) == "Sem nota fiscal"
    for blank in (None, "", "   \n"):
        with pytest.raises(InvalidSubmission) as caught:
            parse_reject_modal(values(blank))
        assert caught.value.errors == {"reason": "reason_required"}
    with pytest.raises(InvalidSubmission) as caught:
        parse_reject_modal(values("x" * 1001))
    assert caught.value.errors == {"reason": "too_long"}


def notices(locale: Locale) -> list[str]:
    request = make_request()
    errors: list[LedgerError] = [
        NotAllowed("not_an_approver", step="Gestor"),
        NotAllowed("own_request"),
        NotAllowed("not_the_requester"),
        StaleDecision(scope="step", status="approved", actor_id="U0MGR", at=DECIDED, step="Gestor"),
        StaleDecision(scope="request", status="rejected", actor_id="U0MGR", at=DECIDED),
        StaleDecision(scope="request", status="cancelled", actor_id=REQUESTER, at=DECIDED),
        StaleDecision(scope="request", status="posted", actor_id=None, at=None),
        RequestNotFound(),
        PolicyError(step="Diretoria"),
        LedgerError(),
    ]
    return [explain(e, request=request, locale=locale, tz=TZ) for e in errors] + [
        explain(RequestNotFound(), request=None, locale=locale, tz=TZ)
    ]


@pytest.mark.parametrize("locale", LOCALES)
def test_notice_modals_fit_slack(locale):
    for text in notices(locale):
        view = build_notice_modal(text, locale=locale).to_dict()
        assert_within_slack_limits(view, "modal")
        assert_no_untranslated_keys(view)
    stale = notices(locale)[3]
    assert "<@U0MGR>" in stale and "PAG-2026-000001" in stale
    assert {"pt_BR": "26/11/2026 10:30", "en": "Nov 26, 2026 10:30 AM"}[locale] in stale


@pytest.mark.parametrize("locale", LOCALES)
def test_home_view_fits_slack(locale):
    empty = build_home(mine=[], waiting=[], command="/pagamento", locale=locale, tz=TZ).to_dict()
    assert_within_slack_limits(empty, "home")
    assert rendered(empty).count(i18n.t(locale, "home.none")) == 2
    statuses = list(RequestStatus)
    many = [
        make_request(statuses[i % len(statuses)], extreme=i % 2 == 0, request_id=i + 1, number=i + 1) for i in range(50)
    ]
    for extreme_mix in (many, many[::-1]):
        view = build_home(mine=extreme_mix, waiting=extreme_mix, command="/pagamento", locale=locale, tz=TZ).to_dict()
        assert view["type"] == "home"
        assert_within_slack_limits(view, "home")
        assert_no_raw_markup_from_users(view)
        assert_no_untranslated_keys(view)
        assert i18n.t(locale, "home.none") not in rendered(view)


# --------------------------------------------------------------------------- the request modal parser

VALID = {
    "description": "  Farinha   de trigo —\nnovembro ",
    "vendor_name": "Moinho Boa Safra Ltda",
    "vendor_document": "11.222.333/0001-81",
    "amount": "R$ 1.234,56",
    "competence_date": "2026-11-01",
    "due_date": "2026-11-25",
    "category": "Matéria-Prima",
    "cost_center": "Produção",
    "payment_method": "boleto",
    "payment_code": "23793.81284 60000.000004 00000.406843 3 16410000123456",  # R$ 1.234,56, due 25/11/2026
    "invoice_number": "NF-e nº 1234-1",
    "notes": "  Entregar na doca 2.\nFalar com a Ana.  ",
}


def state(answers: Mapping[str, str | None], *, selects: tuple[str, ...] = ()) -> dict[str, Any]:
    """``view.state.values`` as Slack sends it: typed values, picked dates, selected options."""
    values: dict[str, Any] = {}
    for block_id, answer in answers.items():
        element: dict[str, Any]
        if block_id.endswith("_date"):
            element = {"type": "datepicker", "selected_date": answer}
        elif block_id == "payment_method" or block_id in selects:
            option = None if answer is None else {"text": {"type": "plain_text", "text": answer}, "value": answer}
            element = {"type": "static_select", "selected_option": option}
        else:
            element = {"type": "plain_text_input", "value": answer}
        values[block_id] = {"value": element}
    return values


def parse(**overrides: str | None) -> Any:
    return parse_request_modal(state({**VALID, **overrides}), today=TODAY)


def errors_of(answers: Mapping[str, str | None], **kwargs: Any) -> dict[str, str]:
    with pytest.raises(InvalidSubmission) as caught:
        parse_request_modal(state(answers, **kwargs), today=TODAY)
    return caught.value.errors


def test_valid_answers_make_a_draft():
    draft = parse()
    assert draft.description == "Farinha de trigo — novembro"
    assert draft.vendor_name == "Moinho Boa Safra Ltda"
    assert draft.vendor_document == "11222333000181"
    assert draft.amount == Decimal("1234.56") and isinstance(draft.amount, Decimal)
    assert (draft.competence_date, draft.due_date) == (date(2026, 11, 1), date(2026, 11, 25))  # due today is fine
    assert (draft.category, draft.cost_center) == ("Matéria-Prima", "Produção")
    assert draft.payment_method is PaymentMethod.BOLETO
    assert draft.payment_code == "23793812846000000000400000406843316410000123456"
    assert draft.invoice_number == "1234-1"
    assert draft.notes == "Entregar na doca 2.\nFalar com a Ana."


@pytest.mark.parametrize(
    ("typed", "normalised"),
    [
        (" Financeiro@BoaSafra.com.BR ", "financeiro@boasafra.com.br"),
        ("(11) 91234-5678", "+5511912345678"),
        ("529.982.247-25", "52998224725"),
        ("11.222.333/0001-81", "11222333000181"),
    ],
)
def test_pix_key_is_normalised(typed, normalised):
    assert parse(payment_method="pix", payment_code=typed).payment_code == normalised


def test_optional_fields_may_be_left_empty():
    draft = parse(vendor_document=None, cost_center="  ", payment_code=None, invoice_number="", notes=None)
    assert (draft.vendor_document, draft.cost_center, draft.payment_code, draft.invoice_number, draft.notes) == (
        None,
        None,
        None,
        None,
        None,
    )


def test_other_methods_keep_the_payment_details_as_typed():
    draft = parse(payment_method="transfer", payment_code="Itaú ag 0001 cc 12345-6")
    assert draft.payment_code == "Itaú ag 0001 cc 12345-6"


def test_category_from_a_select_reads_like_typed_text():
    selected = parse_request_modal(state(VALID, selects=("category", "cost_center", "vendor_name")), today=TODAY)
    assert selected == parse()


def test_every_bad_field_is_reported_at_once():
    answers = {
        "description": "   ",
        "vendor_name": None,
        "vendor_document": "529.982.247-24",
        "amount": "abc",
        "competence_date": None,
        "due_date": "2026-11-24",
        "category": "",
        "cost_center": "x" * 201,
        "payment_method": "boleto",
        "payment_code": "23793.38128 60000.000004 00000.000406 1 84340000010001",
        "invoice_number": "NF abc",
        "notes": "x" * 2001,
    }
    assert errors_of(answers) == {
        "description": "required",
        "vendor_name": "required",
        "vendor_document": "document_invalid_check_digits",
        "amount": "amount_invalid",
        "competence_date": "required",
        "due_date": "due_date_in_past",
        "category": "required",
        "cost_center": "too_long",
        "payment_code": "boleto_invalid_check_digits",
        "invoice_number": "invoice_number_invalid",
        "notes": "too_long",
    }


def test_missing_blocks_count_as_empty():
    assert errors_of({}) == {
        "description": "required",
        "vendor_name": "required",
        "amount": "required",
        "competence_date": "required",
        "due_date": "required",
        "category": "required",
        "payment_method": "method_invalid",
    }


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("amount", "0", "amount_not_positive"),
        ("amount", "0,00", "amount_not_positive"),
        ("amount", "-5", "amount_not_positive"),
        ("amount", "1,234", "amount_too_many_decimals"),
        ("amount", "abc", "amount_invalid"),
        ("amount", "1234567890123", "amount_too_large"),
        ("description", "x" * 301, "too_long"),
        ("vendor_name", "x" * 201, "too_long"),
        ("vendor_document", "123", "document_invalid_length"),
        ("vendor_document", "11.222.333/0001-82", "document_invalid_check_digits"),
        ("competence_date", "2026-02-30", "date_invalid"),
        ("due_date", "amanhã", "date_invalid"),
        ("due_date", "2026-11-24", "due_date_in_past"),
        ("payment_code", "1234", "boleto_invalid_length"),
        ("invoice_number", "0", "invoice_number_invalid"),
        ("invoice_number", "1" * 21, "invoice_number_invalid"),
        ("payment_method", "cheque", "method_invalid"),
        ("payment_method", None, "method_invalid"),
    ],
)
def test_each_bad_field_has_its_code(field, value, code):
    # Without a boleto, whose amount and due date would be compared too (see the tests below).
    base = VALID if field in ("payment_code", "payment_method") else {**VALID, "payment_code": None}
    assert errors_of({**base, field: value}) == {field: code}


def test_bad_pix_key_with_pix():
    assert errors_of({**VALID, "payment_method": "pix", "payment_code": "chave errada"}) == {
        "payment_code": "pix_key_invalid"
    }


def test_field_errors_are_translated():
    for locale in LOCALES:
        error = InvalidSubmission({"amount": "amount_invalid", "due_date": "due_date_in_past"})
        assert field_errors(error, locale) == {
            "amount": MESSAGES["error.amount_invalid"][locale],
            "due_date": MESSAGES["error.due_date_in_past"][locale],
        }


# --------------------------------------------------------------------------- boleto and PIX codes in the modal

BIG_BOLETO = barcode_to_line(bank_barcode(bank="237", amount=Decimal("99999.99"), due_date=date(2026, 12, 10)))
BR_CODE = br_code(
    key="financeiro@boasafra.com.br",
    receiver_name="MOINHO BOA SAFRA",
    city="CURITIBA",
    amount=Decimal("1234.56"),
    txid="NF12341",
)


def test_a_boleto_for_another_amount_is_refused_with_both_values():
    with pytest.raises(InvalidSubmission) as caught:
        parse(amount="R$ 100,00", due_date="2026-12-10", payment_code=BIG_BOLETO)
    assert caught.value.errors == {"amount": "amount_differs_from_code"}
    assert field_errors(caught.value, "pt_BR") == {
        "amount": "O boleto/PIX é de R$ 99.999,99, mas o valor informado é R$ 100,00. "
        "Corrija um dos dois (ou deixe o valor em branco)."
    }
    assert field_errors(caught.value, "en")["amount"].startswith("The boleto/PIX code is for R$99,999.99, but")


def test_a_boleto_due_another_day_is_refused_with_both_dates():
    with pytest.raises(InvalidSubmission) as caught:
        parse(amount="99.999,99", due_date="2026-12-11", payment_code=BIG_BOLETO)
    assert caught.value.errors == {"due_date": "due_date_differs_from_code"}
    assert "10/12/2026" in field_errors(caught.value, "pt_BR")["due_date"]
    assert "11/12/2026" in field_errors(caught.value, "pt_BR")["due_date"]


def test_an_empty_amount_and_due_date_come_from_the_boleto():
    draft = parse(amount=None, due_date=None, payment_code=BIG_BOLETO)
    assert (draft.amount, draft.due_date) == (Decimal("99999.99"), date(2026, 12, 10))


def test_a_scanned_barcode_is_kept_as_the_line():
    barcode = bank_barcode(bank="237", amount=Decimal("1234.56"), due_date=date(2026, 11, 25))
    assert parse(payment_code=barcode).payment_code == barcode_to_line(barcode)


def test_a_pix_copy_and_paste_code_is_checked_like_a_boleto():
    draft = parse(payment_method="pix", payment_code=BR_CODE, amount=None)
    assert (draft.payment_code, draft.amount) == (BR_CODE, Decimal("1234.56"))
    assert errors_of({**VALID, "payment_method": "pix", "payment_code": BR_CODE, "amount": "1.234,55"}) == {
        "amount": "amount_differs_from_code"
    }
    assert errors_of({**VALID, "payment_method": "pix", "payment_code": BR_CODE[:-1] + "0"}) == {
        "payment_code": "pix_code_crc"
    }


def test_a_code_under_another_method_is_refused_so_it_is_never_left_unchecked():
    assert errors_of({**VALID, "payment_method": "transfer"}) == {"payment_code": "payment_code_is_boleto"}
    assert errors_of({**VALID, "payment_method": "other", "payment_code": BR_CODE}) == {
        "payment_code": "payment_code_is_pix"
    }


def test_no_amount_anywhere_is_required():
    no_amount = barcode_to_line(bank_barcode(bank="237", amount=None, due_date=date(2026, 12, 10)))
    assert errors_of({**VALID, "amount": None, "due_date": None, "payment_code": no_amount}) == {"amount": "required"}


# --------------------------------------------------------------------------- StepRef


@pytest.mark.parametrize("ref", [StepRef(1), StepRef(42, 0), StepRef(2**40, 4), StepRef(7, 1, 99)])
def test_step_ref_round_trip(ref):
    encoded = ref.encode()
    assert len(encoded) <= 2000
    assert StepRef.decode(encoded) == ref


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "abc",
        "null",
        "[]",
        "42",
        '"r"',
        "{}",
        '{"s": 1}',
        '{"r": "1"}',
        '{"r": 1.5}',
        '{"r": 1, "s": "0"}',
        "x" * 5000,
    ],
)
def test_step_ref_rejects_garbage(garbage):
    with pytest.raises(ValueError, match="not a request reference"):
        StepRef.decode(garbage)


# --------------------------------------------------------------------------- the message catalogue


def _string_constants(node: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def parser_error_codes() -> set[str]:
    """Codes the modal parsers write: ``errors[...] = "code"`` and ``InvalidSubmission({...: "code"})``."""
    codes: set[str] = set()
    for path in BLOCKS_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Subscript)
                and (
                    (isinstance(t.value, ast.Name) and t.value.id == "errors")
                    or (isinstance(t.value, ast.Attribute) and t.value.attr == "errors")  # form.errors[...]
                )
                for t in node.targets
            ):
                codes |= _string_constants(node.value)
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "InvalidSubmission":
                for arg in node.args:
                    if isinstance(arg, ast.Dict):
                        codes |= {
                            v.value for v in arg.values if isinstance(v, ast.Constant) and isinstance(v.value, str)
                        }
    return codes


def validation_error_codes() -> set[str]:
    documented = set(re.findall(r"``([a-z][a-z0-9_]*)``", (validation.__doc__ or "").partition("Codes:")[2]))
    raised = set()
    for node in ast.walk(ast.parse(Path(validation.__file__).read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "InvalidValue" and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant):
                raised.add(first.value)
    assert raised <= documented, f"codes raised but not listed in ledger/validation.py: {raised - documented}"
    return documented


def test_every_error_code_is_translated():
    parser_codes = parser_error_codes()
    assert {"required", "too_long", "date_invalid", "due_date_in_past", "method_invalid", "reason_required"} <= (
        parser_codes
    )
    codes = parser_codes | validation_error_codes()
    missing = sorted(code for code in codes if f"error.{code}" not in MESSAGES)
    assert not missing, missing


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_every_message_has_both_locales_with_the_same_placeholders():
    for key, entry in MESSAGES.items():
        assert set(entry) == {"pt_BR", "en"}, key
        assert entry["pt_BR"].strip() and entry["en"].strip(), key
        assert placeholders(entry["pt_BR"]) == placeholders(entry["en"]), key
