"""Realistic Slack request bodies (slash command, view_submission, block_actions, events), correctly signed.

What Slack would send Aprova when people use it: the tests and the no-credentials demo (``python -m bot demo``)
drive the real app with these, over HTTP, next to ``bot.dev.localslack``.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

__all__ = [
    "SIGNING_SECRET",
    "TEAM_ID",
    "block_actions",
    "block_suggestion",
    "event_callback",
    "sign",
    "slash_command",
    "state_values",
    "view_input_action",
    "view_submission",
]

TEAM_ID = "T0001"
SIGNING_SECRET = "test-signing-secret"


def sign(body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body) or ""
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}


def slash_command(command: str, *, user_id: str, trigger_id: str, text: str = "", channel_id: str = "C0GERAL") -> str:
    return urlencode(
        {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "team_domain": "padaria",
            "channel_id": channel_id,
            "channel_name": "geral",
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": "A0001",
            "is_enterprise_install": "false",
            "response_url": "https://hooks.slack.invalid/commands/T0001/1/abc",
            "trigger_id": trigger_id,
        }
    )


def _user(user_id: str) -> dict[str, Any]:
    return {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": TEAM_ID}


def state_values(view: dict[str, Any], answers: dict[str, Any]) -> dict[str, Any]:
    """What Slack sends in ``view.state.values`` for ``view`` after a person typed ``answers``.

    Inputs not answered keep their initial value, as in Slack. For selects, answer with the option value.
    """
    values: dict[str, Any] = {}
    for block in view.get("blocks", []):
        if block.get("type") != "input":
            continue
        element = block["element"]
        block_id, action_id, kind = block["block_id"], element["action_id"], element["type"]
        answer = answers.get(block_id)
        if kind == "plain_text_input":
            state = {"type": kind, "value": answer if answer is not None else element.get("initial_value")}
        elif kind == "datepicker":
            state = {"type": kind, "selected_date": answer if answer is not None else element.get("initial_date")}
        elif kind in ("static_select", "external_select"):
            option = element.get("initial_option")
            if answer is not None:
                option = next(
                    (o for o in element.get("options", []) if o["value"] == answer),
                    {"text": {"type": "plain_text", "text": str(answer)}, "value": answer},
                )
            state = {"type": kind, "selected_option": option}
        elif kind == "multi_users_select":
            users = answer if answer is not None else element.get("initial_users", [])
            state = {"type": kind, "selected_users": list(users or [])}
        elif kind == "users_select":
            state = {"type": kind, "selected_user": answer if answer is not None else element.get("initial_user")}
        elif kind == "file_input":
            state = {"type": kind, "files": list(answer or [])}
        elif kind == "checkboxes":
            chosen = answer if isinstance(answer, list) else element.get("initial_options", [])
            picked = [o for o in element.get("options", []) if o["value"] in chosen or o in chosen]
            state = {"type": kind, "selected_options": picked}
        else:
            raise ValueError(f"unsupported input element {kind}")
        values[block_id] = {action_id: state}
    return values


def _interaction(kind: str, user_id: str, **fields: Any) -> str:
    """An interaction payload as Slack posts it: the common envelope around ``fields``."""
    payload = {
        "type": kind,
        "team": {"id": TEAM_ID, "domain": "padaria"},
        "user": _user(user_id),
        "api_app_id": "A0001",
        "token": "legacy-verification-token",
        **fields,
        "is_enterprise_install": False,
    }
    return urlencode({"payload": json.dumps(payload)})


def view_submission(view: dict[str, Any], *, user_id: str, answers: dict[str, Any]) -> str:
    submitted = dict(view, state={"values": state_values(view, answers)}, team_id=TEAM_ID, app_id="A0001")
    trigger = f"{int(time.time())}.1.trigger"
    return _interaction("view_submission", user_id, trigger_id=trigger, view=submitted, response_urls=[])


def block_actions(
    message: dict[str, Any], *, action_id: str, user_id: str, trigger_id: str, value: str | None = None
) -> str:
    """A click on the button ``action_id`` of a posted ``message`` (as stored by LocalSlack)."""
    for block in message.get("blocks") or []:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("action_id") == action_id:
                button, block_id = element, block.get("block_id", "")
                break
        else:
            continue
        break
    else:
        raise AssertionError(f"no button {action_id} in message {message.get('ts')}")
    click = {
        "type": "button",
        "action_id": action_id,
        "block_id": block_id,
        "text": button["text"],
        "value": value if value is not None else button.get("value"),
        "action_ts": f"{time.time():.6f}",
    }
    return _interaction(
        "block_actions",
        user_id,
        container={"type": "message", "message_ts": message["ts"], "channel_id": message["channel"]},
        trigger_id=trigger_id,
        channel={"id": message["channel"], "name": "directmessage"},
        message={"type": "message", "ts": message["ts"], "text": message.get("text"), "blocks": message["blocks"]},
        response_url="https://hooks.slack.invalid/actions/T0001/1/abc",
        actions=[click],
    )


def view_input_action(view: dict[str, Any], *, block_id: str, user_id: str, answers: dict[str, Any]) -> str:
    """What Slack sends when a person types in an input with ``dispatch_action`` (``answers`` typed so far)."""
    element = next(b for b in view["blocks"] if b.get("block_id") == block_id)["element"]
    action = {
        "type": element["type"],
        "action_id": element["action_id"],
        "block_id": block_id,
        "value": answers.get(block_id),
        "action_ts": f"{time.time():.6f}",
    }
    return _interaction(
        "block_actions",
        user_id,
        container={"type": "view", "view_id": view["id"]},
        trigger_id=f"{int(time.time())}.1.trigger",
        view=dict(view, state={"values": state_values(view, answers)}),
        actions=[action],
    )


def event_callback(event: dict[str, Any], *, event_id: str) -> str:
    return json.dumps(
        {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "api_app_id": "A0001",
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM_ID, "user_id": "UBOT", "is_bot": True}],
        }
    )


def block_suggestion(view: dict[str, Any], *, block_id: str, user_id: str, value: str) -> str:
    """What Slack sends when someone types ``value`` in the external select of ``block_id``."""
    block = next(b for b in view["blocks"] if b.get("block_id") == block_id)
    return _interaction(
        "block_suggestion",
        user_id,
        container={"type": "view", "view_id": view["id"]},
        action_id=block["element"]["action_id"],
        block_id=block_id,
        value=value,
        view=view,
    )
