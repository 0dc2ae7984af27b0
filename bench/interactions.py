"""What people do in Slack, as the signed request bodies Slack would send: file a request (each with its own marker,
amount and NF, so none is a duplicate of another and each can be followed to the approver's DM), approve one, open
the Home tab."""

from __future__ import annotations

import itertools
import time
from datetime import date, timedelta
from typing import Any

from bench.load import JSON, SlackRequest
from bot.dev import slack_payloads as payloads
from bot.ids import ActionId

TEAM_ID = payloads.TEAM_ID
REQUESTER, APPROVER, BYSTANDER, FINANCE_ADMIN = "U0REQ", "U0MGR", "U0OUT", "U0CFO"
REQUESTS_CHANNEL = "C0PEDIDOS"
VENDOR, VENDOR_DOCUMENT = "Moinho Anaconda Ltda", "11.222.333/0001-81"


def marker(number: int) -> str:
    """What the benchmark looks for in the messages the stand-in receives (see ``bench.standin.MARKER``)."""
    return f"BENCH-{number:07d}"


_submissions = itertools.count(1)  # one numbering for the whole run: no two submissions alike, whatever the database


class Submissions:
    """Valid request modals, each submitted from its own view: a new request every time, never a duplicate."""

    def __init__(self, modal: dict[str, Any], today: date) -> None:
        self.modal, self.today = modal, today

    def make(self, count: int) -> list[tuple[str, SlackRequest]]:
        """``count`` submissions, with the marker each one's messages will carry."""
        made = []
        for number in itertools.islice(_submissions, count):
            answers = {
                "description": f"Insumos {marker(number)}",
                "vendor_name": VENDOR,
                "vendor_document": VENDOR_DOCUMENT,
                "amount": f"{1000 + number // 100},{number % 100:02d}",
                "competence_date": self.today.isoformat(),
                "due_date": (self.today + timedelta(days=10)).isoformat(),
                "category": "Matéria-Prima",
                "cost_center": "Produção",
                "payment_method": "transfer",
                "invoice_number": f"NF {number}",
            }
            view = dict(self.modal, id=f"VBENCH{number:07d}")
            body = payloads.view_submission(view, user_id=REQUESTER, answers=answers)
            made.append((marker(number), SlackRequest(body)))
        return made


_triggers = itertools.count(1)


def trigger_id() -> str:
    return f"{time.time_ns() // 1000}.{next(_triggers)}.bench"


def payment_command(user_id: str = REQUESTER) -> SlackRequest:
    return SlackRequest(payloads.slash_command("/pagamento", user_id=user_id, trigger_id=trigger_id()))


def approve_click(message: dict[str, Any]) -> SlackRequest:
    """The approver's click on Aprovar in ``message`` (their DM as the stand-in stores it)."""
    body = payloads.block_actions(message, action_id=ActionId.APPROVE.value, user_id=APPROVER, trigger_id=trigger_id())
    return SlackRequest(body)


_events = itertools.count(1)


def home_opened(user_id: str) -> SlackRequest:
    event = {"type": "app_home_opened", "user": user_id, "tab": "home", "event_ts": f"{time.time():.6f}"}
    return SlackRequest(payloads.event_callback(event, event_id=f"EvBENCH{next(_events):07d}"), JSON)
