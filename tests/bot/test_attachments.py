"""Files attached in the request modal: kept with the request, shown and copied to each approver, audited."""

from __future__ import annotations

import json

import pytest

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
