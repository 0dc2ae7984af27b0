from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import anyio
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.dev.localslack import LocalSlack, SlackCall

pytestmark = pytest.mark.anyio

SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}


def modal(title: str = "Pedido", **extra: object) -> dict[str, object]:
    return {"type": "modal", "title": {"type": "plain_text", "text": title}, "blocks": [SECTION], **extra}


@pytest.fixture
async def slack(anyio_backend: str) -> AsyncIterator[LocalSlack]:
    async with LocalSlack() as server:
        yield server


@pytest.fixture
def client(slack: LocalSlack) -> AsyncWebClient:
    return AsyncWebClient(token=slack.bot_token, base_url=slack.api_url, retry_handlers=[])


async def test_api_url_points_at_bound_port(slack: LocalSlack) -> None:
    assert slack.api_url.startswith("http://127.0.0.1:")
    assert slack.api_url.endswith("/api/")
    assert not slack.api_url.endswith(":0/api/")


async def test_auth_test(client: AsyncWebClient) -> None:
    response = await client.auth_test()
    assert response.data == {
        "ok": True,
        "url": "https://local-slack.slack.com/",
        "team": "Local Slack",
        "user": "aprova",
        "team_id": "T0001",
        "user_id": "UBOT",
        "bot_id": "B0001",
        "is_enterprise_install": False,
    }


async def test_wrong_token_is_invalid_auth(slack: LocalSlack) -> None:
    intruder = AsyncWebClient(token="xoxb-wrong", base_url=slack.api_url, retry_handlers=[])
    with pytest.raises(SlackApiError) as caught:
        await intruder.chat_postMessage(channel="C1", text="hi")
    assert caught.value.response["error"] == "invalid_auth"
    assert slack.messages() == []


async def test_unknown_method(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as caught:
        await client.api_call("pins.add", params={"channel": "C1"})
    assert caught.value.response["error"] == "unknown_method"


async def test_form_body_with_token_field_and_json_strings(slack: LocalSlack) -> None:
    form = {"token": slack.bot_token, "channel": "C1", "text": "hi", "blocks": json.dumps([SECTION])}
    async with aiohttp.ClientSession() as session, session.post(f"{slack.api_url}chat.postMessage", data=form) as resp:
        body = await resp.json()
    assert body["ok"] is True
    assert body["message"]["blocks"] == [SECTION]
    assert slack.calls == [SlackCall("chat.postMessage", {"channel": "C1", "text": "hi", "blocks": [SECTION]})]


async def test_post_message_and_thread(slack: LocalSlack, client: AsyncWebClient) -> None:
    parent = await client.chat_postMessage(channel="C1", text="pedido", blocks=[SECTION])
    assert parent["channel"] == "C1"
    assert parent["message"] == {
        "type": "message",
        "text": "pedido",
        "user": "UBOT",
        "bot_id": "B0001",
        "app_id": "A0001",
        "team": "T0001",
        "ts": parent["ts"],
        "blocks": [SECTION],
    }
    reply = await client.chat_postMessage(channel="C1", text="aprovado", thread_ts=parent["ts"])
    assert reply["message"]["thread_ts"] == parent["ts"]
    assert float(reply["ts"]) > float(parent["ts"])
    assert len(reply["ts"].split(".")[1]) == 6

    assert [m["text"] for m in slack.messages("C1")] == ["pedido", "aprovado"]
    assert slack.thread("C1", parent["ts"]) == [
        {
            "channel": "C1",
            "ts": reply["ts"],
            "text": "aprovado",
            "blocks": None,
            "thread_ts": parent["ts"],
            "user": "UBOT",
        }
    ]
    assert slack.messages("C2") == []


async def test_post_message_to_user_lands_in_dm(slack: LocalSlack, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="U123", text="oi")
    opened = await client.conversations_open(users="U123")
    assert posted["channel"] == opened["channel"]["id"] == slack.dm_channel("U123")
    assert posted["channel"].startswith("D")
    assert opened["already_open"] is True
    again = await client.conversations_open(users=["U123"])
    assert again["channel"]["id"] == posted["channel"]
    other = await client.conversations_open(users="U999")
    assert other["channel"]["id"] != posted["channel"]


async def test_post_message_validation(client: AsyncWebClient) -> None:
    # Raw api_call because chat_postMessage itself warns about a missing text.
    with pytest.raises(SlackApiError) as caught:
        await client.api_call("chat.postMessage", json={"channel": "C1"})
    assert caught.value.response["error"] == "no_text"
    with pytest.raises(SlackApiError) as caught:
        await client.api_call("chat.postMessage", json={"text": "hi"})
    assert caught.value.response["error"] == "channel_not_found"
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="C1", text="x", blocks=[SECTION] * 51)
    assert caught.value.response["error"] == "invalid_blocks"


async def test_chat_update(slack: LocalSlack, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="C1", text="pendente", blocks=[SECTION])
    updated = await client.chat_update(channel="C1", ts=posted["ts"], text="aprovado")
    assert updated["ts"] == posted["ts"]
    assert updated["text"] == "aprovado"
    assert updated["message"]["blocks"] == [SECTION]  # omitted blocks are kept
    await client.chat_update(channel="C1", ts=posted["ts"], text="aprovado", blocks=[])
    [message] = slack.messages("C1")
    assert message["text"] == "aprovado"
    assert message["blocks"] is None

    with pytest.raises(SlackApiError) as caught:
        await client.chat_update(channel="C1", ts="1.000001", text="x")
    assert caught.value.response["error"] == "message_not_found"


async def test_post_ephemeral(slack: LocalSlack, client: AsyncWebClient) -> None:
    response = await client.chat_postEphemeral(channel="C1", user="U1", text="só você vê")
    assert response.data == {"ok": True, "message_ts": response["message_ts"]}
    await client.chat_postEphemeral(channel="C1", user="U2", text="outro")
    assert [e["text"] for e in slack.ephemerals("U1")] == ["só você vê"]
    assert len(slack.ephemerals()) == 2


async def test_users_info(slack: LocalSlack, client: AsyncWebClient) -> None:
    slack.add_user("U1", name="ana", real_name="Ana Lima", locale="en-US", is_admin=True)
    without_locale = await client.users_info(user="U1")
    assert "locale" not in without_locale["user"]
    user = (await client.users_info(user="U1", include_locale=True))["user"]
    assert user["id"] == "U1"
    assert user["team_id"] == "T0001"
    assert user["name"] == "ana"
    assert user["real_name"] == "Ana Lima"
    assert user["tz"] == "America/Sao_Paulo"
    assert user["locale"] == "en-US"
    assert (user["is_admin"], user["is_owner"]) == (True, False)
    assert user["profile"]["real_name"] == "Ana Lima"

    with pytest.raises(SlackApiError) as caught:
        await client.users_info(user="U404")
    assert caught.value.response["error"] == "user_not_found"


async def test_usergroups_users_list(slack: LocalSlack, client: AsyncWebClient) -> None:
    slack.add_usergroup("S1", ["U1", "U2"])
    response = await client.usergroups_users_list(usergroup="S1")
    assert response.data == {"ok": True, "users": ["U1", "U2"]}
    with pytest.raises(SlackApiError) as caught:
        await client.usergroups_users_list(usergroup="S404")
    assert caught.value.response["error"] == "no_such_subteam"


async def test_views_open_uses_trigger_once(slack: LocalSlack, client: AsyncWebClient) -> None:
    trigger_id = slack.new_trigger_id()
    opened = await client.views_open(trigger_id=trigger_id, view=modal(callback_id="pedido", private_metadata="42"))
    view = opened["view"]
    assert view["id"].startswith("V")
    assert view["type"] == "modal"
    assert view["callback_id"] == "pedido"
    assert view["private_metadata"] == "42"
    assert view["blocks"] == [SECTION]
    assert view["state"] == {"values": {}}
    assert view["hash"]
    assert slack.views[view["id"]] == view

    with pytest.raises(SlackApiError) as caught:
        await client.views_open(trigger_id=trigger_id, view=modal())
    assert caught.value.response["error"] == "exchanged_trigger_id"

    # Trigger ids the server never issued (e.g. from canned payloads) work once too.
    await client.views_open(trigger_id="123.456.abc", view=modal())


async def test_views_validation(slack: LocalSlack, client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as caught:
        await client.views_open(trigger_id=slack.new_trigger_id(), view=modal(title="x" * 25))
    assert caught.value.response["error"] == "invalid_arguments"
    too_many = {**modal(), "blocks": [SECTION] * 101}
    with pytest.raises(SlackApiError) as caught:
        await client.views_open(trigger_id=slack.new_trigger_id(), view=too_many)
    assert caught.value.response["error"] == "invalid_arguments"
    await client.views_open(trigger_id=slack.new_trigger_id(), view=modal(title="x" * 24))


async def test_views_update_hash_and_push(slack: LocalSlack, client: AsyncWebClient) -> None:
    opened = (await client.views_open(trigger_id=slack.new_trigger_id(), view=modal(external_id="req-1")))["view"]
    updated = await client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal(title="Aprovado"))
    assert updated["view"]["id"] == opened["id"]
    assert updated["view"]["hash"] != opened["hash"]
    assert slack.views[opened["id"]]["title"]["text"] == "Aprovado"

    with pytest.raises(SlackApiError) as caught:
        await client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal())
    assert caught.value.response["error"] == "hash_conflict"

    by_external = await client.views_update(external_id="req-1", view=modal(title="Pago", external_id="req-1"))
    assert by_external["view"]["id"] == opened["id"]

    pushed = await client.views_push(trigger_id=slack.new_trigger_id(), view=modal(title="Detalhes"))
    assert pushed["view"]["id"] != opened["id"]
    assert len(slack.views) == 2


async def test_views_publish(slack: LocalSlack, client: AsyncWebClient) -> None:
    home = {"type": "home", "blocks": [SECTION]}
    first = await client.views_publish(user_id="U1", view=home)
    second = await client.views_publish(user_id="U1", view={**home, "blocks": []})
    assert second["view"]["id"] == first["view"]["id"]
    assert slack.home_views["U1"]["blocks"] == []
    with pytest.raises(SlackApiError) as caught:
        await client.views_publish(user_id="U1", view=modal())
    assert caught.value.response["error"] == "invalid_arguments"


async def test_files_upload_v2(slack: LocalSlack, client: AsyncWebClient) -> None:
    response = await client.files_upload_v2(
        content="id,valor\n1,10.00\n", filename="pedidos.csv", title="Pedidos", channel="C1", initial_comment="segue"
    )
    file = response["file"]
    assert file["name"] == "pedidos.csv"
    assert file["title"] == "Pedidos"
    assert file["size"] == 17
    upload = slack.uploads[file["id"]]
    assert upload.content == b"id,valor\n1,10.00\n"
    assert upload.channels == ["C1"]
    assert upload.initial_comment == "segue"
    assert upload.completed
    assert [c.method for c in slack.calls] == ["files.getUploadURLExternal", "files.completeUploadExternal"]


async def test_reactions_add(slack: LocalSlack, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="C1", text="pedido")
    await client.reactions_add(channel="C1", timestamp=posted["ts"], name="white_check_mark")
    [call] = slack.calls_to("reactions.add")
    assert call.args == {"channel": "C1", "timestamp": posted["ts"], "name": "white_check_mark"}


async def test_fail_next_ratelimited(slack: LocalSlack, client: AsyncWebClient) -> None:
    slack.fail_next("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="C1", text="hi")
    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "7"
    assert caught.value.response["error"] == "ratelimited"
    await client.chat_postMessage(channel="C1", text="hi")
    assert len(slack.calls_to("chat.postMessage")) == 2
    assert len(slack.messages()) == 1


async def test_fail_next_plain_error(slack: LocalSlack, client: AsyncWebClient) -> None:
    slack.fail_next("users.info", error="fatal_error")
    with pytest.raises(SlackApiError) as caught:
        await client.users_info(user="UBOT")
    assert caught.value.response.status_code == 200
    assert caught.value.response["error"] == "fatal_error"


async def test_ratelimit_retry_handler_recovers(slack: LocalSlack) -> None:
    patient = AsyncWebClient(
        token=slack.bot_token, base_url=slack.api_url, retry_handlers=[AsyncRateLimitErrorRetryHandler()]
    )
    slack.fail_next("reactions.add", retry_after=0)
    await patient.reactions_add(channel="C1", timestamp="1.000001", name="eyes")
    assert len(slack.calls_to("reactions.add")) == 2


async def test_wait_for(slack: LocalSlack, client: AsyncWebClient) -> None:
    async def post_later() -> None:
        await anyio.sleep(0.05)
        await client.chat_postMessage(channel="C1", text="um")
        await client.chat_postMessage(channel="C1", text="dois")

    async with anyio.create_task_group() as tg:
        tg.start_soon(post_later)
        calls = await slack.wait_for("chat.postMessage", count=2)
    assert [c.args["text"] for c in calls] == ["um", "dois"]

    with pytest.raises(TimeoutError, match=r"views\.open.*chat\.postMessage x2"):
        await slack.wait_for("views.open", timeout=0.05)

    slack.reset_calls()
    assert slack.calls == []
    assert len(slack.messages()) == 2
