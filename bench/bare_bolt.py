"""The floor: a Bolt app whose listeners only ack, in its own process like Aprova (``python -m bench.bare_bolt``).

The same stack as Aprova (aiohttp, Bolt, signature checks, slack_sdk) and the same Slack stand-in, configured from the
same variables (``SLACK_BOT_TOKEN``, ``SLACK_SIGNING_SECRET``, ``SLACK_API_URL``, ``HOST``, ``PORT``: 0 for any free
port). It prints ``listening on http://HOST:PORT/slack/events`` once it serves.

With ``--then-call-slack APPROVER`` each listener, after its ack, makes the one Slack call an end-to-end figure ends
on: a submission's description to the approver's DM, a click's ``chat.update`` of the clicked message, a Home tab
``views.publish``. That is the floor of those figures: Bolt, one Web API call, nothing of Aprova.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.ids import ActionId, CallbackId, RequestField


def build_app(*, then_call_slack: str | None) -> AsyncApp:
    """Listeners for what the benchmark sends: the payment command, the request modal, Approve, the Home tab."""
    app = AsyncApp(
        client=AsyncWebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"]),
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
    )

    @app.command("/pagamento")
    async def command(ack: AsyncAck) -> None:
        await ack()

    @app.view(CallbackId.REQUEST_MODAL.value)
    async def submission(ack: AsyncAck, view: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        if then_call_slack:
            typed = next(iter(view["state"]["values"][RequestField.DESCRIPTION.value].values()))
            await client.chat_postMessage(channel=then_call_slack, text=str(typed.get("value")))

    @app.action(ActionId.APPROVE.value)
    async def click(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        if then_call_slack:
            container = body["container"]
            await client.chat_update(channel=container["channel_id"], ts=container["message_ts"], text="ok")

    @app.event("app_home_opened")
    async def home(event: dict[str, Any], client: AsyncWebClient) -> None:
        if then_call_slack:
            await client.views_publish(user_id=event["user"], view={"type": "home", "blocks": []})

    return app


async def serve(app: AsyncApp, host: str, port: int) -> None:
    async def events(request: web.Request) -> web.StreamResponse:
        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    web_app = web.Application()
    web_app.router.add_post("/slack/events", events)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    print(f"listening on http://{host}:{runner.addresses[0][1]}/slack/events", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bare_bolt")
    parser.add_argument("--then-call-slack", metavar="APPROVER", help="after each ack, the one Slack call")
    args = parser.parse_args()
    app = build_app(then_call_slack=args.then_call_slack)
    asyncio.run(serve(app, os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "0"))))


if __name__ == "__main__":
    main()
