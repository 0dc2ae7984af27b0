"""``POST /crm/{generic,pipedrive,hubspot}``: won deals from a CRM become receivables, once per deal.

Each delivery is authenticated first (its CRM's scheme, see ``ledger.crm``): a bad or stale signature gets 401 and
nothing is stored or logged beyond the reason. A replayed signature, or a deal seen before, changes nothing and
answers 200, so the CRM stops retrying. A deal that cannot become a receivable gets 422 saying why.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from aiohttp import web
from slack_bolt.async_app import AsyncApp

from bot.deps import Deps
from bot.notifier import Notifier
from bot.people import SlackDirectory
from ledger import crm, flows
from ledger.crm import Ignored, PipedriveDeal
from ledger.errors import InvalidSubmission, PolicyError, WebhookRefused
from ledger.receivables import ReceivableRules, WonDeal, plan_receivable, record_receivable

log = logging.getLogger(__name__)

DEAL_WEBHOOK_PATH = "/crm/{source}"
SOURCES = ("generic", "pipedrive", "hubspot")
PIPEDRIVE_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def register(web_app: web.Application, deps: Deps, bolt_app: AsyncApp) -> None:
    async def handle(request: web.Request) -> web.Response:
        return await handle_deal_webhook(request, deps, bolt_app)

    web_app.router.add_post(DEAL_WEBHOOK_PATH, handle)


def _answer(http_status: int, **body: Any) -> web.Response:
    return web.json_response(body, status=http_status)


async def handle_deal_webhook(request: web.Request, deps: Deps, bolt_app: AsyncApp) -> web.Response:
    source = request.match_info["source"]
    settings = deps.settings
    if source not in SOURCES or not _configured(deps, source):
        return _answer(404, error=f"the {source} deal webhook is not configured")
    rules = deps.receivables
    if rules is None:
        return _answer(404, error=f"receivables are not configured ({settings.receivables_file} is missing)")
    if deps.contaazul is None:
        return _answer(503, error="Conta Azul is not configured in this Aprova; try again later")
    if request.content_length is not None and request.content_length > crm.MAX_BODY_BYTES:
        return _answer(413, error="body larger than 256 KiB")
    body = await request.read()
    try:
        replay_key = _authenticate(source, request, body, deps)
        if replay_key and not await flows.claim_delivery(deps.session_factory, key=replay_key, clock=deps.clock):
            log.info("%s deal webhook: replayed delivery ignored", source)
            return _answer(200, status="duplicate")
        deal = await _read_deal(source, crm.load_json(body), rules, deps)
    except WebhookRefused as exc:
        level = logging.WARNING if exc.status == 401 else logging.INFO
        log.log(level, "%s deal webhook refused (%s): %s", source, exc.status, exc)
        return _answer(exc.status, error=str(exc))
    if isinstance(deal, Ignored):
        log.info("%s deal webhook ignored: %s", source, deal.reason)
        return _answer(200, status="ignored", reason=deal.reason)
    return await _record(deal, rules, deps, bolt_app)


def _configured(deps: Deps, source: str) -> bool:
    settings = deps.settings
    if source == "generic":
        return bool(settings.webhook_secrets)
    if source == "pipedrive":
        return bool(settings.pipedrive_webhook_user and settings.pipedrive_webhook_password)
    return bool(settings.hubspot_client_secrets)


def _authenticate(source: str, request: web.Request, body: bytes, deps: Deps) -> str | None:
    """Check the sender; returns a key that repeats only when the same signed request is replayed."""
    settings, now = deps.settings, deps.clock.now()
    if source == "generic":
        return "crm:generic:" + crm.verify_generic(settings.webhook_secrets, request.headers, body, now)[3:67]
    if source == "hubspot":
        uri = crm.hubspot_uri(settings.public_base_url, request.path_qs)
        signature = crm.verify_hubspot(
            settings.hubspot_client_secrets, method=request.method, uri=uri, headers=request.headers, body=body, now=now
        )
        return "crm:hubspot:" + signature[:88]
    crm.verify_basic_auth(
        settings.pipedrive_webhook_user or "", settings.pipedrive_webhook_password or "", request.headers
    )
    return None  # Basic credentials repeat on every delivery; the deal id is what makes it once


async def _read_deal(source: str, data: Any, rules: ReceivableRules, deps: Deps) -> WonDeal | Ignored:
    tz = deps.settings.timezone
    if source == "generic":
        return crm.parse_generic(data, tz=tz)
    if source == "hubspot":
        return crm.parse_hubspot(data, rules.hubspot, tz=tz)
    parsed = crm.parse_pipedrive(data, rules.pipedrive, tz=tz)
    if not isinstance(parsed, PipedriveDeal):
        return parsed
    settings = deps.settings
    if not (settings.pipedrive_api_url and settings.pipedrive_api_token):
        raise WebhookRefused(
            422, "the deal names its customer by id only: set PIPEDRIVE_API_URL and PIPEDRIVE_API_TOKEN to read it"
        )
    async with httpx.AsyncClient(timeout=PIPEDRIVE_TIMEOUT) as http:
        return await crm.fetch_pipedrive_parties(
            http,
            api_url=settings.pipedrive_api_url,
            token=settings.pipedrive_api_token,
            pending=parsed,
            fields=rules.pipedrive,
        )


async def _record(deal: WonDeal, rules: ReceivableRules, deps: Deps, bolt_app: AsyncApp) -> web.Response:
    try:
        planned = plan_receivable(deal, rules)
    except InvalidSubmission as exc:
        log.info("%s deal %s refused: %s", deal.source, deal.deal_id, sorted(exc.errors))
        return _answer(422, error="the deal cannot become a receivable", fields=exc.errors)
    team_id = await team_of(deps, bolt_app)
    steps = []
    if rules.require_approval:
        draft = planned.draft
        try:
            steps = await deps.ledger.plan(
                team_id, draft=draft, requester_id="", directory=SlackDirectory(bolt_app.client)
            )
        except PolicyError as exc:
            log.error("no approver for the receivable of %s deal %s: %s", deal.source, deal.deal_id, exc)
            return _answer(503, error="the approval policy names no approver for this receivable")
    submitted = await record_receivable(
        deps.session_factory,
        clock=deps.clock,
        team_id=team_id,
        requester_id="",
        planned=planned,
        steps=steps,
        on_final_approval=deps.ledger.on_final_approval,
    )
    request = submitted.request
    if not submitted.created:
        log.info("%s deal %s delivered again: already %s", deal.source, deal.deal_id, request.reference)
        return _answer(200, status="duplicate", reference=request.reference)
    log.info("%s deal %s is receivable %s", deal.source, deal.deal_id, request.reference)
    await Notifier(bolt_app.client, deps).request_submitted(request)
    deps.wake_poster()
    return _answer(202, status="accepted", reference=request.reference)


async def team_of(deps: Deps, bolt_app: AsyncApp) -> str:
    """The Slack workspace this Aprova serves (a deal carries none): asked of Slack once, then remembered."""
    if deps.team_id is None:
        answer = await bolt_app.client.auth_test()
        deps.team_id = str(answer["team_id"])
    return deps.team_id
