"""Files attached in the request modal: kept with the request, shown and copied to each approver, audited."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

from bot.notifier import MAX_ATTACHMENT_BYTES
from bot.settings import Settings
from ledger import flows
from ledger.domain import Attachment
from tests.harness import DIRECTOR_EN, DIRECTOR_PT, MANAGER, REQUESTER, running_aprova

pytestmark = pytest.mark.anyio

PDF = b"%PDF-1.4\n% NF-e 4521 Moinho Anaconda\n"


async def test_attached_invoice_reaches_every_approver_and_the_audit_trail(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        invoice = aprova.slack.add_user_file(REQUESTER, "nf-4521.pdf", PDF)
        await aprova.file_request(amount="R$ 15.000,00", attachments=[invoice])
        request = await flows.get_request(session_factory, request_id=1)
        assert request.attachments == (
            Attachment(
                file_id=invoice["id"],
                name="nf-4521.pdf",
                permalink=invoice["permalink"],
                download_url=invoice["url_private_download"],
            ),
        )
        [message] = aprova.approval_messages(MANAGER)
        shown = json.dumps(message["blocks"], ensure_ascii=False)
        assert f"📎 *Anexos (NF, boleto)*: <{invoice['permalink']}|nf-4521.pdf>" in shown
        copies = [u for u in aprova.slack.uploads.values() if u.thread_ts == message["ts"]]
        assert [(c.filename, c.content, c.channels) for c in copies] == [("nf-4521.pdf", PDF, [message["channel"]])]

        # The next step's approvers get their own copy.
        await aprova.click(message, "payment-approve", user_id=MANAGER)
        await aprova.settle()
        for director in (DIRECTOR_EN, DIRECTOR_PT):
            [asked] = aprova.approval_messages(director)
            assert [u.content for u in aprova.slack.uploads.values() if u.thread_ts == asked["ts"]] == [PDF]

        [submitted] = [e for e in await flows.audit_trail(session_factory, request_id=1) if e.action == "submitted"]
        assert submitted.detail["attachments"] == [{"name": "nf-4521.pdf", "permalink": invoice["permalink"]}]


async def test_a_file_that_cannot_be_fetched_never_blocks_the_request(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        invoice = aprova.slack.add_user_file(REQUESTER, "boleto.pdf", PDF)
        gone = invoice | {"url_private_download": invoice["url_private_download"].replace(invoice["id"], "F0GONE")}
        await aprova.file_request(attachments=[gone])
        [message] = aprova.approval_messages(MANAGER)
        assert "boleto.pdf" in json.dumps(message["blocks"]) and "payment-approve" in json.dumps(message["blocks"])
        assert not [u for u in aprova.slack.uploads.values() if u.thread_ts == message["ts"]]


@asynccontextmanager
async def file_thief() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    """A loopback server that would gladly serve any file, recording each request (and its headers) it gets."""
    seen: list[dict[str, str]] = []

    async def serve(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        return web.Response(body=PDF)

    app = web.Application()
    app.router.add_get("/{tail:.*}", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", seen
    finally:
        await runner.cleanup()


async def test_the_bot_token_goes_only_to_slacks_file_host_and_no_redirect_is_followed(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova, file_thief() as (elsewhere, seen):
        invoice = aprova.slack.add_user_file(REQUESTER, "nf.pdf", PDF)
        moved = aprova.slack.add_user_file(REQUESTER, "boleto.pdf", PDF)
        aprova.slack.redirect_download(moved["id"], f"{elsewhere}/files/boleto.pdf")
        planted = invoice | {"id": "F0PLANTED", "url_private_download": f"{elsewhere}/files-pri/T0-F0/nf.pdf"}
        malformed = invoice | {"id": "F0BROKEN", "url_private_download": "http://[::1"}
        await aprova.file_request(attachments=[planted, moved, malformed])
        [message] = aprova.approval_messages(MANAGER)
        assert "payment-approve" in json.dumps(message["blocks"])  # the request goes on, files linked
        assert not [u for u in aprova.slack.uploads.values() if u.thread_ts == message["ts"]]
        assert seen == []  # neither the planted URL nor the redirect was fetched: no token, no request at all


async def test_a_file_over_the_cap_is_not_copied(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        huge = aprova.slack.add_user_file(REQUESTER, "scan.pdf", b"%PDF" + b"0" * MAX_ATTACHMENT_BYTES)
        small = aprova.slack.add_user_file(REQUESTER, "nf.pdf", PDF)
        await aprova.file_request(attachments=[huge, small])
        [message] = aprova.approval_messages(MANAGER)
        copies = [u for u in aprova.slack.uploads.values() if u.thread_ts == message["ts"]]
        assert [(c.filename, c.content) for c in copies] == [("nf.pdf", PDF)]


def test_slack_files_are_fetched_from_files_slack_com_unless_slack_is_a_stand_in():
    assert Settings().slack_files_origin == "https://files.slack.com/"
    assert Settings(slack_api_url="https://acme.enterprise.slack.com/api/").slack_files_origin == (
        "https://files.slack.com/"
    )
    assert Settings(slack_api_url="http://127.0.0.1:8080/api/").slack_files_origin == "http://127.0.0.1:8080/"
