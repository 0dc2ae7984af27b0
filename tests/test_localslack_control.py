"""LocalSlack driven from another process: random rate limiting, call arrival times and outcomes, the ``/_local/``
routes, and ``python -m bot.dev.localslack`` on its own."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.dev.localslack import LocalSlack

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def slack(anyio_backend: str) -> AsyncIterator[LocalSlack]:
    async with LocalSlack() as server:
        yield server


@pytest.fixture
def client(slack: LocalSlack) -> AsyncWebClient:
    return AsyncWebClient(token=slack.bot_token, base_url=slack.api_url, retry_handlers=[])


@pytest.fixture
async def control(slack: LocalSlack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=slack.api_url.removesuffix("api/") + "_local/") as http:
        yield http


async def outcomes(client: AsyncWebClient, count: int) -> list[str]:
    """Post ``count`` messages; each one's outcome: "ok", or the status and Retry-After of a refusal."""
    found = []
    for number in range(count):
        try:
            await client.chat_postMessage(channel="C1", text=f"m{number}")
            found.append("ok")
        except SlackApiError as exc:
            found.append(f"{exc.response.status_code} {exc.response['error']} {exc.response.headers['Retry-After']}")
    return found


async def test_random_rate_limit_refuses_about_the_fraction_asked_with_retry_after(
    slack: LocalSlack, client: AsyncWebClient
) -> None:
    slack.rate_limit_randomly(0.1, retry_after=1, seed=3)
    seen = await outcomes(client, 200)
    refused = [o for o in seen if o != "ok"]
    assert set(refused) == {"429 ratelimited 1"}
    assert 8 <= len(refused) <= 35
    assert len(slack.messages()) == seen.count("ok")  # a refused call changes nothing

    slack.rate_limit_randomly(0)
    assert await outcomes(client, 20) == ["ok"] * 20


async def test_random_rate_limit_is_repeatable_and_can_spare_methods(slack: LocalSlack, client: AsyncWebClient) -> None:
    slack.rate_limit_randomly(0.5, seed=9, methods={"chat.postMessage"})
    first = await outcomes(client, 30)
    await client.auth_test()  # spared: never refused
    slack.rate_limit_randomly(0.5, seed=9, methods={"chat.postMessage"})
    assert await outcomes(client, 30) == first
    assert "ok" in first and any(o.startswith("429") for o in first)

    with pytest.raises(ValueError):
        slack.rate_limit_randomly(1.5)


async def test_calls_record_their_arrival_and_outcome(slack: LocalSlack, client: AsyncWebClient) -> None:
    before = time.time()
    await client.chat_postMessage(channel="C1", text="ok")
    slack.fail_next("chat.postMessage")
    with pytest.raises(SlackApiError):
        await client.chat_postMessage(channel="C1", text="limited")
    with pytest.raises(SlackApiError):
        await client.chat_update(channel="C1", ts="1.000000", text="nothing there")
    posted, limited, missing = slack.calls
    assert before <= posted.at <= limited.at <= missing.at <= time.time()
    assert (posted.error, limited.error, missing.error) == (None, "ratelimited", "message_not_found")


async def test_control_routes_read_calls_from_an_index_on(
    slack: LocalSlack, client: AsyncWebClient, control: httpx.AsyncClient
) -> None:
    await client.chat_postMessage(channel="C1", text="um")
    await client.auth_test()
    first = (await control.get("calls")).json()
    assert [c["method"] for c in first["calls"]] == ["chat.postMessage", "auth.test"]
    assert first["calls"][0] | {"at": 0} == {
        "index": 0,
        "method": "chat.postMessage",
        "at": 0,
        "error": None,
        "args": {"channel": "C1", "text": "um"},
    }
    assert first["next"] == 2

    await client.chat_postMessage(channel="C1", text="dois")
    later = (await control.get("calls", params={"after": first["next"], "method": "chat.postMessage"})).json()
    assert [(c["index"], c["args"]["text"]) for c in later["calls"]] == [(2, "dois")]
    assert later["next"] == 3
    assert (await control.get("calls", params={"after": "-1"})).status_code == 400


async def test_control_routes_set_up_people_and_faults(
    slack: LocalSlack, client: AsyncWebClient, control: httpx.AsyncClient
) -> None:
    added = await control.post("users", json={"user_id": "U1", "real_name": "Ana Souza", "is_admin": True})
    assert added.status_code == 200
    user = (await client.users_info(user="U1"))["user"]
    assert (user["real_name"], user["is_admin"]) == ("Ana Souza", True)
    assert (await control.post("usergroups", json={"group_id": "S1", "members": ["U1"]})).status_code == 200
    assert (await client.usergroups_users_list(usergroup="S1"))["users"] == ["U1"]

    assert (await control.post("fail_next", json={"method": "auth.test", "error": "fatal_error"})).status_code == 200
    with pytest.raises(SlackApiError, match="fatal_error"):
        await client.auth_test()

    assert (await control.post("rate_limit", json={"fraction": 1, "retry_after": 2})).status_code == 200
    assert await outcomes(client, 2) == ["429 ratelimited 2"] * 2
    assert (await control.post("rate_limit", json={"fraction": 0})).status_code == 200
    assert await outcomes(client, 1) == ["ok"]

    for path, body in [
        ("users", {"real_name": "nobody"}),
        ("users", {"user_id": "U2", "password": "x"}),
        ("usergroups", {"group_id": "S2"}),
        ("fail_next", {"error": "fatal_error"}),
        ("rate_limit", {"fraction": 2}),
        ("rate_limit", ["not", "an", "object"]),
    ]:
        assert (await control.post(path, json=body)).status_code == 400, (path, body)
    assert (await control.post("users", content=b"{not json")).status_code == 400


async def test_control_routes_show_messages_views_and_dm_channels(
    slack: LocalSlack, client: AsyncWebClient, control: httpx.AsyncClient
) -> None:
    await client.chat_postMessage(channel="U1", text="no DM")
    dm = (await control.get("dm/U1")).json()["channel"]
    assert dm == slack.dm_channel("U1")
    [message] = (await control.get("messages", params={"channel": dm})).json()["messages"]
    assert message["text"] == "no DM"
    view = {"type": "modal", "callback_id": "pedido", "title": {"type": "plain_text", "text": "Pedido"}, "blocks": []}
    await client.views_open(trigger_id=slack.new_trigger_id(), view=view)
    [opened] = (await control.get("views", params={"callback_id": "pedido"})).json()["views"]
    assert opened["id"] in slack.views
    assert (await control.get("views", params={"callback_id": "other"})).json()["views"] == []


async def test_the_stand_in_runs_on_its_own_until_terminated(anyio_backend: str, tmp_path: Path) -> None:
    output = tmp_path / "out.txt"
    with output.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.dev.localslack", "--port", "0", "--team-id", "T9", cwd=ROOT, stdout=sink
        )
    try:
        for _ in range(600):
            found = re.search(r"SLACK_API_URL=(\S+) SLACK_BOT_TOKEN=(\S+)", output.read_text())
            if found or process.returncode is not None:
                break
            await asyncio.sleep(0.05)
        assert found, output.read_text()
        client = AsyncWebClient(token=found.group(2), base_url=found.group(1), retry_handlers=[])
        assert (await client.auth_test())["team_id"] == "T9"
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
