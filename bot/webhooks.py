"""``POST /crm/{generic,pipedrive,hubspot}``: won deals from a CRM become receivables, once per deal.

Each delivery is authenticated first (its CRM's scheme, see ``ledger.crm``): a bad or stale signature gets 401 and
nothing is stored or logged beyond the reason. A replayed signature, or a deal seen before, changes nothing and
answers 200, so the CRM stops retrying. A deal that cannot become a receivable gets 422 naming the field. A signed
delivery's replay key is claimed in the transaction that stores its receivable, so one refused with 503 (no approver
right now, or anything unexpected) is taken when the CRM sends it again. No delivery is ever answered 500.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from slack_bolt.async_app import AsyncApp

from bot.deps import Deps
from bot.people import SlackDirectory
from ledger import flows
from ledger.crm import SOURCES
from ledger.crm.fields import MAX_BODY_BYTES, load_json
from ledger.crm.source import Delivery, Ignored
from ledger.errors import InvalidSubmission, NoApprover, WebhookRefused
from ledger.receivables import ReceivableRules, WonDeal, plan_receivable, record_receivable

log = logging.getLogger(__name__)

DEAL_WEBHOOK_PATH = "/crm/{source}"


def register(web_app: web.Application, deps: Deps, bolt_app: AsyncApp) -> None:
    async def handle(request: web.Request) -> web.Response:
        try:
            return await handle_deal_webhook(request, deps, bolt_app)
        except Exception:  # a bug or an outage: the CRM retries a 503, and nothing was claimed or stored
            log.exception("%s deal webhook failed", request.match_info["source"])
            return _answer(503, error="the deal could not be taken right now; try again later")

    web_app.router.add_post(DEAL_WEBHOOK_PATH, handle)


def _answer(http_status: int, **body: Any) -> web.Response:
    return web.json_response(body, status=http_status)


def _refusal(exc: WebhookRefused) -> web.Response:
    field = exc.params.get("field")
    if field is None:
        return _answer(exc.status, error=str(exc))
    return _answer(exc.status, error=str(exc), fields={field: str(exc)})


async def handle_deal_webhook(request: web.Request, deps: Deps, bolt_app: AsyncApp) -> web.Response:
    name = request.match_info["source"]
    settings = deps.settings
    source = SOURCES.get(name)
    if source is None or not source.configured(settings):
        return _answer(404, error=f"the {name} deal webhook is not configured")
    rules = deps.receivables
    if rules is None:
        return _answer(404, error=f"receivables are not configured ({settings.receivables_file} is missing)")
    if deps.contaazul is None:
        return _answer(503, error="Conta Azul is not configured in this Aprova; try again later")
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return _answer(413, error="body larger than 256 KiB")
    body = await request.read()
    delivery = Delivery(method=request.method, path_qs=request.path_qs, headers=request.headers, body=body)
    try:
        replay_key = source.authenticate(delivery, settings, now=deps.clock.now())
        if replay_key and await flows.delivery_seen(deps.session_factory, key=replay_key):
            log.info("%s deal webhook: replayed delivery ignored", name)
            return _answer(200, status="duplicate")
        deal = await source.read(load_json(body), rules, settings)
    except WebhookRefused as exc:
        level = logging.WARNING if exc.status == 401 else logging.INFO
        log.log(level, "%s deal webhook refused (%s): %s", name, exc.status, exc)
        return _refusal(exc)
    if isinstance(deal, Ignored):
        log.info("%s deal webhook ignored: %s", name, deal.reason)
        return _answer(200, status="ignored", reason=deal.reason)
    return await _record(deal, rules, deps, bolt_app, replay_key=replay_key)


async def _record(
    deal: WonDeal, rules: ReceivableRules, deps: Deps, bolt_app: AsyncApp, *, replay_key: str | None
) -> web.Response:
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
        except NoApprover as exc:
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
        delivery_key=replay_key,
    )
    request = submitted.request
    if not submitted.created:
        log.info("%s deal %s delivered again: already %s", deal.source, deal.deal_id, request.reference)
        return _answer(200, status="duplicate", reference=request.reference)
    log.info("%s deal %s is receivable %s", deal.source, deal.deal_id, request.reference)
    deps.wake_deliveries()
    deps.wake_poster()
    return _answer(202, status="accepted", reference=request.reference)


async def team_of(deps: Deps, bolt_app: AsyncApp) -> str:
    """The Slack workspace this Aprova serves (a deal carries none): asked of Slack once, then remembered."""
    if deps.team_id is None:
        answer = await bolt_app.client.auth_test()
        deps.team_id = str(answer["team_id"])
    return deps.team_id
