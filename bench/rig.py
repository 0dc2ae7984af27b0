"""The production shape, on one machine: the Slack stand-in in its own process, Aprova as ``python -m bot`` (HTTP mode)
in one or two more, the bare Bolt floor in its own, and the load generator here."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import httpx

from bench import interactions as people
from bench.load import load_client, send
from bench.processes import SLACK_EVENTS_URL, STANDIN_API_URL, Child, Children
from bench.standin import StandIn
from bot.dev import slack_payloads as payloads
from bot.ids import CallbackId
from ledger import db

BOT_TOKEN = "xoxb-local"
POLICY_FILE = "approval-policy.toml"
TIMEZONE = ZoneInfo("America/Sao_Paulo")  # Aprova's default, whose "today" the modal's dates are checked against
POLICY = f"""\
[default]
steps = [{{ name = "Financeiro", approvers = ["{people.APPROVER}"] }}]
"""


@dataclass(frozen=True)
class Options:
    """How big each measurement is: the full run, or ``--quick`` (a few seconds each, to keep the benchmark alive)."""

    quick: bool
    count: int  # interactions per rate
    clicks: int
    home_pending: int  # pending requests seeded before the Home tab is opened
    home_opens: int  # opens per person
    settle: float  # seconds without a new Slack call after which the app has finished what a phase started
    give_up: float  # seconds without a new Slack call after which a missing message is not coming

    @classmethod
    def make(cls, *, quick: bool, count: int | None = None, home_pending: int | None = None) -> Options:
        if quick:
            return cls(True, count or 10, count or 20, home_pending or 100, 2, 0.3, 4.0)
        return cls(False, count or 300, count or 300, home_pending or 10_000, 20, 0.5, 5.0)


@dataclass
class Rig:
    options: Options
    children: Children
    standin: StandIn
    bare: Child  # listeners that only ack: the floor of ack latency
    bare_calling: Child  # the same, then the one Slack call an end-to-end figure ends on
    load: aiohttp.ClientSession
    workdir: Path

    def aprova_env(self, database_url: str) -> dict[str, str]:
        """Aprova's settings, as an operator would set them (anything else in our environment blanked)."""
        blank = ("SLACK_APP_TOKEN", "CONTAAZUL_CLIENT_ID", "CONTAAZUL_CLIENT_SECRET", "APROVA_ENCRYPTION_KEY")
        return {name: "" for name in blank} | {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": payloads.SIGNING_SECRET,
            "SLACK_API_URL": self.standin.api_url,
            "DATABASE_URL": database_url,
            "HOST": "127.0.0.1",
            "PORT": "0",
            "APROVA_POLICY_FILE": str(self.workdir / POLICY_FILE),
            "APROVA_RECEIVABLES_FILE": str(self.workdir / "no-receivables.toml"),
            "APROVA_REQUESTS_CHANNEL": people.REQUESTS_CHANNEL,
            "APROVA_FINANCE_ADMINS": people.FINANCE_ADMIN,
            # The stand-in has no per-channel limit, and every request here goes to one channel and one approver:
            # unpaced, the figures show what the app can do, not Slack's one message a second per channel.
            "APROVA_SLACK_CHANNEL_BURST": "1000000",
            "LOG_LEVEL": "INFO",
        }

    async def migrate(self, database_url: str) -> None:
        """What ``python -m bot migrate`` does: once, before several instances start on one database."""
        await asyncio.to_thread(db.upgrade, database_url)

    async def start_aprova(self, name: str, database_url: str) -> Child:
        """``python -m bot``, serving once healthy, its first Slack round trips done."""
        aprova = await self.children.serve(
            name, ["-m", "bot"], env=self.aprova_env(database_url), ready=SLACK_EVENTS_URL, timeout=120
        )
        await self.children.wait_healthy(aprova)
        await self.modal(aprova)  # Bolt's auth.test and the requester's profile, as on any running instance
        return aprova

    async def modal(self, aprova: Child) -> dict[str, Any]:
        """The request modal ``/pagamento`` opens, as the stand-in received it."""
        since = await self.standin.mark()
        sent = await send(self.load, slack_events(aprova), people.payment_command())
        if sent.status != 200:
            raise RuntimeError(f"/pagamento answered {sent.status}: {sent.answer}")
        await self.standin.wait(since, lambda calls: any(c.method == "views.open" for c in calls), settle=0.1)
        return (await self.standin.views(CallbackId.REQUEST_MODAL.value))[-1]

    async def submissions(self, aprova: Child) -> people.Submissions:
        return people.Submissions(await self.modal(aprova), datetime.now(TIMEZONE).date())


def slack_events(child: Child) -> str:
    return f"{child.url}/slack/events"


@asynccontextmanager
async def started(options: Options, workdir: Path) -> AsyncIterator[Rig]:
    """The stand-in with the people in the workspace, and the two bare Bolt apps; all stopped on the way out."""
    (workdir / POLICY_FILE).write_text(POLICY)
    async with AsyncExitStack() as stack:
        children = await stack.enter_async_context(Children(workdir))
        standin_process = await children.serve(
            "slack-standin", ["-m", "bot.dev.localslack", "--port", "0"], env={}, ready=STANDIN_API_URL
        )
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=30))
        standin = StandIn(standin_process.url, http)
        profiles: dict[str, dict[str, Any]] = {
            people.REQUESTER: {"real_name": "Ana Souza"},
            people.APPROVER: {"real_name": "Bruno Lima"},
            people.BYSTANDER: {"real_name": "Eva Dias"},
            people.FINANCE_ADMIN: {"real_name": "Fábio Prado", "is_admin": True},
        }
        for user_id, profile in profiles.items():
            await standin.add_user(user_id, locale="pt-BR", **profile)
        bolt_env = {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": payloads.SIGNING_SECRET,
            "SLACK_API_URL": standin.api_url,
            "HOST": "127.0.0.1",
            "PORT": "0",
        }
        bare, bare_calling = await asyncio.gather(
            children.serve("bare-bolt", ["-m", "bench.bare_bolt"], env=bolt_env, ready=SLACK_EVENTS_URL),
            children.serve(
                "bare-bolt-calling",
                ["-m", "bench.bare_bolt", "--then-call-slack", people.APPROVER],
                env=bolt_env,
                ready=SLACK_EVENTS_URL,
            ),
        )
        load = await stack.enter_async_context(load_client())
        yield Rig(options, children, standin, bare, bare_calling, load, workdir)
