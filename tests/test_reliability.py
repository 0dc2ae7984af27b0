"""The reliability suite: Aprova under replays, malformed and oversized input, outages, a busy database, and people
trying what they may not. Each case checks that nothing was lost or done twice and that the person was told.

(Signatures, concurrent clicks, killed workers, refused refreshes and the posting faults have their own files:
``bot/test_slack_edges.py``, ``bot/test_flows_end_to_end.py``, ``bot/test_posting.py``, ``contaazul/test_tokens.py``.)
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sqlite3
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.blocks.fields import StepRef
from bot.blocks.request_modal import parse_request_modal
from bot.dev import slack_payloads as payloads
from bot.ids import RequestField
from bot.logs import MaskDocuments, log_handler
from ledger import flows
from ledger.contaazul.crypto import TokenCipher
from ledger.contaazul.sandbox.documents import make_cnpj
from ledger.crm.generic import parse_generic
from ledger.crm.hubspot import parse_hubspot
from ledger.crm.pipedrive import PipedriveDeal, parse_pipedrive
from ledger.crm.source import Ignored
from ledger.domain import RequestStatus
from ledger.errors import InvalidSubmission, WebhookRefused
from ledger.models import AuditEvent, ContaAzulConnection, OAuthState, PaymentRequest, Posting
from ledger.outbox import PostingStatus
from ledger.receivables import HubSpotFields, PipedriveFields, WonDeal
from tests.harness import CFO, ENCRYPTION_KEY, MANAGER, OUTSIDER, REQUESTER, VALID_ANSWERS, Aprova, running_aprova

pytestmark = pytest.mark.anyio

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=30,
)


async def stored(aprova: Aprova) -> int:
    async with aprova.deps.session_factory() as session:
        return int(await session.scalar(select(func.count()).select_from(PaymentRequest)) or 0)


# --------------------------------------------------------------------------------------------------- replays


async def test_a_replayed_click_decides_once(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        await aprova.file_request()
        message = aprova.approval_messages(MANAGER)[-1]
        body = payloads.block_actions(message, action_id="payment-approve", user_id=MANAGER, trigger_id="1.2.3")
        signed = payloads.sign(body)  # the very same signed request, sent again inside the 5-minute window
        answers = await asyncio.gather(*(aprova.send_form(body, headers=signed) for _ in range(5)))
        await aprova.settle()
        assert [a.status_code for a in answers] == [200] * 5
        request = await flows.get_request(session_factory, request_id=1)
        assert request.status == RequestStatus.APPROVED and request.version == 2
        decisions = [e for e in await flows.audit_trail(session_factory, request_id=1) if e.action == "approved"]
        assert len(decisions) == 1


# --------------------------------------------------------------------------------------------------- bad input


MALFORMED = [
    ("application/x-www-form-urlencoded", "payload=not-json"),
    ("application/x-www-form-urlencoded", "payload=" + json.dumps({"type": "block_actions"})),
    ("application/x-www-form-urlencoded", "payload=" + json.dumps({"type": "view_submission", "view": {}})),
    (
        "application/x-www-form-urlencoded",
        "payload=" + json.dumps({"type": "block_actions", "actions": [{}], "user": {}}),
    ),
    ("application/x-www-form-urlencoded", "command=%2Fpagamento"),
    ("application/x-www-form-urlencoded", "payload=" + json.dumps([1, 2, 3])),
    ("application/json", json.dumps({"type": "event_callback", "event": "nope"})),
    ("application/json", "{" * 5000),
    (
        "application/x-www-form-urlencoded",
        "payload="
        + json.dumps(
            {
                "type": "view_submission",
                "user": {"id": REQUESTER},
                "view": {
                    "callback_id": "payment-request",
                    "id": "V1",
                    "state": {"values": {"amount": {"value": {"value": "1" * 5000}}}},
                },
            }
        ),
    ),
]


@pytest.mark.parametrize(("content_type", "body"), MALFORMED)
async def test_malformed_slack_payloads_never_fail_the_server_nor_store_anything(
    session_factory, clock, content_type, body
):
    async with running_aprova(session_factory, clock) as aprova:
        response = await aprova.send(body, content_type=content_type)
        await aprova.settle()
        assert response.status_code < 500, response.text
        assert await stored(aprova) == 0


async def test_an_oversized_body_is_refused_before_anyone_reads_it(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        body = "payload=" + "x" * (3 * 1024 * 1024)
        response = await aprova.send(body, content_type="application/x-www-form-urlencoded")
        assert response.status_code == 413 and await stored(aprova) == 0


def form_values() -> st.SearchStrategy[dict[str, Any]]:
    """``state.values`` as a hostile client could shape it: the modal's block ids with anything inside."""
    blocks = st.sampled_from([*(f.value for f in RequestField), "other"])
    element = st.dictionaries(
        st.sampled_from(["value", "selected_date", "selected_option", "files", "type"]),
        JSON | st.fixed_dictionaries({"value": st.text(max_size=60)}),
        max_size=3,
    )
    return st.dictionaries(blocks, st.dictionaries(st.text(max_size=8), element | JSON, max_size=2), max_size=14)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=form_values())
def test_fuzzed_modal_state_is_a_draft_or_field_errors(values):
    from datetime import date

    try:
        draft = parse_request_modal(values, today=date(2026, 11, 25))
    except InvalidSubmission as exc:
        assert exc.errors and all(isinstance(code, str) for code in exc.errors.values())
    else:
        assert draft.amount > 0 and draft.due_date >= date(2026, 11, 25)


@settings(max_examples=300, deadline=None)
@given(value=st.text(max_size=80) | JSON.map(json.dumps))
def test_fuzzed_button_values_decode_or_are_refused(value):
    try:
        ref = StepRef.decode(value)
    except ValueError:
        return
    assert isinstance(ref.request_id, int)


@settings(max_examples=300, deadline=None)
@given(data=JSON)
def test_fuzzed_crm_payloads_become_a_deal_or_a_clear_answer(data):
    for parse in (
        lambda d: parse_generic(d),
        lambda d: parse_pipedrive(d, PipedriveFields(document_field="doc")),
        lambda d: parse_hubspot(d, HubSpotFields()),
    ):
        try:
            outcome = parse(data)
        except WebhookRefused as exc:
            assert 400 <= exc.status < 600 and str(exc)
        else:
            assert isinstance(outcome, WonDeal | Ignored | PipedriveDeal)


# --------------------------------------------------------------------------------------------------- outages


async def test_conta_azul_down_for_minutes_then_back_posts_everything_once(session_factory, clock):
    async with running_aprova(session_factory, clock, contaazul=True, auto_consent=True) as aprova:
        sandbox = aprova.sandbox
        assert sandbox is not None
        await aprova.connect_contaazul()
        sandbox.fail_next(10_000, 503, path_prefix="/v1/")  # Conta Azul answers nothing useful
        await aprova.file_request()
        await aprova.click(aprova.approval_messages(MANAGER)[-1], "payment-approve", user_id=MANAGER)
        await aprova.settle()
        started = clock.now()
        while clock.now() - started < timedelta(minutes=8):
            await aprova.post()
            # Approvals go on being accepted meanwhile.
            if clock.now() - started > timedelta(minutes=3) and await stored(aprova) == 1:
                await aprova.file_request(amount="R$ 77,00", invoice_number="NF 77")
                await aprova.click(aprova.approval_messages(MANAGER)[-1], "payment-approve", user_id=MANAGER)
                await aprova.settle()
            async with session_factory() as session:
                due = await session.scalar(
                    select(func.min(Posting.next_attempt_at)).where(Posting.status == PostingStatus.PENDING.value)
                )
            clock.set(max(clock.now() + timedelta(seconds=5), due or clock.now()))
        async with session_factory() as session:
            statuses = list(await session.scalars(select(PaymentRequest.status).order_by(PaymentRequest.id)))
        assert statuses == [RequestStatus.POSTING, RequestStatus.POSTING] and sandbox.state.events == {}
        assert not [m for m in aprova.slack.messages() if "Não consegui lançar" in m["text"]]  # nobody bothered yet

        sandbox.clear_faults()  # back
        for _ in range(10):
            async with session_factory() as session:
                due = await session.scalar(
                    select(func.min(Posting.next_attempt_at)).where(Posting.status == PostingStatus.PENDING.value)
                )
            if due is None:
                break
            clock.set(max(clock.now(), due))
            await aprova.post()
        async with session_factory() as session:
            statuses = list(await session.scalars(select(PaymentRequest.status).order_by(PaymentRequest.id)))
        assert statuses == [RequestStatus.POSTED, RequestStatus.POSTED]
        assert sorted(e.referencia_externa for e in sandbox.state.events.values()) == [
            "PAG-2026-000001",
            "PAG-2026-000002",
        ]


async def test_a_busy_sqlite_database_delays_but_never_loses_or_doubles_a_request(session_factory, clock, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's single-writer lock")
    async with running_aprova(session_factory, clock) as aprova:
        view = await aprova.open_modal()
        body = payloads.view_submission(view, user_id=REQUESTER, answers=VALID_ANSWERS)
        # Someone else holds the write lock for 4 s: longer than Slack waits (3 s), shorter than our busy timeout.
        holder = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=1)
        holder.execute("BEGIN IMMEDIATE")
        loop = asyncio.get_running_loop()
        release = loop.call_later(4, holder.rollback)
        try:
            first = await aprova.send_form(body)
        finally:
            await asyncio.sleep(4.2)
            release.cancel()
            holder.close()
        await aprova.settle()
        # Slack got no answer in time (it keeps the form open and shows an error); the listener went on and stored
        # the request once the lock was free. Submitting again finds it: one request, one tracking message.
        assert first.status_code in (200, 404)
        again = await aprova.send_form(payloads.view_submission(view, user_id=REQUESTER, answers=VALID_ANSWERS))
        await aprova.settle()
        assert again.status_code == 200
        assert await stored(aprova) == 1 and len(aprova.tracking_messages()) == 1


# --------------------------------------------------------------------------------------------------- permissions


async def admin_state(aprova: Aprova) -> tuple[int, int, list[str]]:
    async with aprova.deps.session_factory() as session:
        connections = int(await session.scalar(select(func.count()).select_from(ContaAzulConnection)) or 0)
        events = int(await session.scalar(select(func.count()).select_from(AuditEvent)) or 0)
        statuses = list(await session.scalars(select(PaymentRequest.status).order_by(PaymentRequest.id)))
    return connections, events, statuses


async def test_every_admin_only_action_is_refused_to_a_non_admin(session_factory, clock):
    async with running_aprova(session_factory, clock, contaazul=True, auto_consent=True) as aprova:
        await aprova.file_request()
        await aprova.click(aprova.approval_messages(MANAGER)[-1], "payment-approve", user_id=MANAGER)
        await aprova.settle()
        [failed] = await aprova.post()  # not connected yet: a failed posting with its Retry
        assert failed.outcome == "failed"
        notice = [
            m
            for m in aprova.slack.messages(aprova.slack.dm_channel(CFO))
            if "posting-retry" in json.dumps(m.get("blocks"))
        ][-1]
        await aprova.connect_contaazul()
        before = await admin_state(aprova)

        async def command(name: str, text: str) -> None:
            trigger = aprova.slack.new_trigger_id()
            await aprova.send_form(payloads.slash_command(name, user_id=OUTSIDER, trigger_id=trigger, text=text))
            await aprova.settle()

        for text in ("connect", "status", "account", "disconnect", "receivable"):
            await command("/contaazul", text)
        await command("/pagamento", "export 2026-11")
        await aprova.click(notice, "posting-retry", user_id=OUTSIDER)
        await aprova.settle()
        for action_id in ("rules-add", "rules-edit-default", "rules-edit-times", "rules-delegate", "rules-history"):
            payload = {
                "type": "block_actions",
                "team": {"id": payloads.TEAM_ID},
                "user": {"id": OUTSIDER, "team_id": payloads.TEAM_ID},
                "api_app_id": "A0001",
                "trigger_id": aprova.slack.new_trigger_id(),
                "view": {"type": "home", "id": "V0HOME"},
                "container": {"type": "view", "view_id": "V0HOME"},
                "actions": [
                    {"type": "button", "action_id": action_id, "block_id": "b", "value": "x", "action_ts": "1"}
                ],
            }
            await aprova.send_form(urlencode({"payload": json.dumps(payload)}))
            await aprova.settle()

        told = [m["text"] for m in aprova.slack.ephemerals(OUTSIDER)]
        told += [m["text"] for m in aprova.slack.messages(aprova.slack.dm_channel(OUTSIDER))]
        assert sum("administradores do financeiro" in text for text in told) == 5 + 1 + 1 + 5
        assert (
            aprova.slack.uploads == {}
            and [
                v
                for v in aprova.slack.views.values()
                if v.get("callback_id") in ("contaazul-account", "contaazul-receivable", "rules-rule")
            ]
            == []
        )
        assert await admin_state(aprova) == before  # nothing connected, disconnected, retried or exported
        assert before[2] == [RequestStatus.POST_FAILED]


# --------------------------------------------------------------------------------------------------- logs


async def test_logs_of_a_whole_flow_hold_no_secret_and_no_full_document(session_factory, clock, caplog):
    """Every line Aprova's handlers write, JSON and text, at DEBUG: a CPF vendor and a new CNPJ vendor (searched by
    its document, which httpx logs URL-encoded) are posted, and neither document appears whole in any form."""
    caplog.set_level(logging.DEBUG)
    caplog.handler.addFilter(MaskDocuments())
    written = {log_format: io.StringIO() for log_format in ("json", "text")}
    handlers = [log_handler(log_format, stream) for log_format, stream in written.items()]
    root = logging.getLogger()
    for handler in handlers:
        root.addHandler(handler)
    new_cnpj = make_cnpj("778899660001")
    try:
        async with running_aprova(session_factory, clock, contaazul=True, auto_consent=True) as aprova:
            await aprova.connect_contaazul()
            await aprova.file_request(vendor_document="529.982.247-25", vendor_name="José da Silva")
            await aprova.file_request(vendor_document=new_cnpj, vendor_name="Fornecedor Novo Ltda", amount="R$ 77,00")
            for message in aprova.approval_messages(MANAGER):
                await aprova.click(message, "payment-approve", user_id=MANAGER)
            await aprova.settle()
            results = await aprova.post()
            assert [r.outcome for r in results] == ["posted", "posted"], [r.posting.error_detail for r in results]
            assert aprova.sandbox is not None
            secrets = [aprova.slack.bot_token, payloads.SIGNING_SECRET, "sandbox-secret"]
            secrets += [*aprova.sandbox.state.access_tokens, *aprova.sandbox.state.refresh_tokens]
            async with session_factory() as session:  # the PKCE verifiers, which only the token endpoint may see
                states = [row for row in await session.scalars(select(OAuthState)) if row.code_verifier_enc]
            secrets += [TokenCipher(ENCRYPTION_KEY).decrypt(row.code_verifier_enc) for row in states]
            assert len(secrets) >= 6
    finally:
        for handler in handlers:
            root.removeHandler(handler)
    texts = ["\n".join(record.getMessage() for record in caplog.records), *(w.getvalue() for w in written.values())]
    assert "documentos=" in texts[0]  # the vendors were searched by document, and that was logged
    digits = new_cnpj.translate(str.maketrans("", "", "./-"))
    for text in texts:
        assert "PAG-2026-000001" in text  # the events are there, with their reference
        for secret in secrets:
            assert secret not in text
        assert "52998224725" not in text and "529.982.247-25" not in text
        assert digits not in text and new_cnpj not in text and new_cnpj.replace("/", "%2F") not in text
        assert "xoxb-" not in text


# --------------------------------------------------------------------------------------------------- health


OPERATOR = {"Authorization": "Bearer ops-readyz-token"}


async def test_health_and_readiness_report_the_database_and_conta_azul(session_factory, clock):
    async with running_aprova(session_factory, clock, readyz_token="ops-readyz-token") as aprova:
        assert (await aprova.http.get("/healthz")).json() == {"status": "ok"}
        assert (await aprova.http.get("/readyz", headers=OPERATOR)).json() == {
            "status": "ok",
            "database": "ok",
            "contaazul": "not_configured",
        }
    async with running_aprova(
        session_factory, clock, contaazul=True, auto_consent=True, readyz_token="ops-readyz-token"
    ) as aprova:
        assert (await aprova.http.get("/readyz", headers=OPERATOR)).json()["contaazul"] == "not_connected"
        await aprova.connect_contaazul()
        assert (await aprova.http.get("/readyz", headers=OPERATOR)).json()["contaazul"] == {
            payloads.TEAM_ID: "connected"
        }
        # Without the token (or with another), only ready or not: no workspace ids for whoever asks.
        for headers in ({}, {"Authorization": "Bearer guessed"}, {"Authorization": "Bearer ops-readyz-tokén".encode()}):
            anonymous = await aprova.http.get("/readyz", headers=headers)
            assert (anonymous.status_code, anonymous.json()) == (200, {"status": "ok"})
            assert payloads.TEAM_ID not in anonymous.text
        assert aprova.sandbox is not None
        aprova.sandbox.revoke_refresh_tokens()
        aprova.clock.advance(timedelta(hours=2))
        with pytest.raises(Exception):  # noqa: B017 - whichever error the refused refresh surfaces as
            await aprova.books.tokens.access_token(payloads.TEAM_ID)
        ready = await aprova.http.get("/readyz", headers=OPERATOR)
        assert ready.status_code == 200 and ready.json()["contaazul"] == {payloads.TEAM_ID: "needs_reconnect"}


async def test_readiness_fails_when_the_database_is_unreachable(tmp_path, clock):
    from ledger.db import create_engine, create_session_factory

    # A file that is not a database (a disk gone wrong): every connection fails, and is closed, on its first pragma.
    # (A path SQLite cannot open at all leaves aiosqlite's worker thread answering after the loop closed.)
    broken = tmp_path / "aprova.db"
    broken.write_bytes(b"this is not an SQLite database\n" * 64)
    engine = create_engine(f"sqlite:///{broken}")
    try:
        async with running_aprova(create_session_factory(engine), clock, readyz_token="ops-readyz-token") as aprova:
            ready = await aprova.http.get("/readyz")
            assert (ready.status_code, ready.json()) == (503, {"status": "unavailable"})
            told = await aprova.http.get("/readyz", headers=OPERATOR)  # the operator learns why
            assert told.status_code == 503 and told.json()["database"] == "DatabaseError"
            assert (await aprova.http.get("/healthz")).status_code == 200  # alive, just not ready
            aprova.deliveries = None  # nothing can be sent without the database: no draining at the end
    finally:
        await engine.dispose()
