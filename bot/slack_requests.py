"""Slack's HTTP requests turned into Bolt's, with an interaction's form body decoded in C.

A click or a modal submission arrives form-encoded: ``payload=`` and the message or the whole view as
percent-encoded JSON (the request modal: 10 KB, 1 700 escapes). Bolt decodes it with ``urllib.parse.parse_qsl``, a
Python loop per escape that cost more CPU than everything else Bolt does with the request. Percent-encoding is
quoted-printable's ``=XX`` written ``%XX``, so ``binascii.a2b_qp`` decodes a well-formed value in C: every ``%``
followed by two hex digits, and no ``=`` or line break of its own (QP would read those). Anything else — another
field, a malformed escape, a JSON body — is read exactly as Bolt reads it. The raw body, whose signature Bolt checks,
is kept as it came.
"""

from __future__ import annotations

import binascii
import json
import urllib.parse
from typing import Any

from aiohttp import web
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.internals import parse_body

PAYLOAD_FIELD = "payload="


def unquote_plus(value: str) -> str:
    """``urllib.parse.unquote_plus``, in C where the value allows (ASCII, and every ``%`` starting an escape)."""
    if not value.isascii() or "=" in value or "\n" in value or "\r" in value or value.endswith("%"):
        return urllib.parse.unquote_plus(value)
    decoded = binascii.a2b_qp(value.replace("+", " ").replace("%", "=").encode()).decode("utf-8", "replace")
    if "=" in decoded:  # a "%" that starts no escape (a2b_qp keeps it as "="), or an escaped "=": rare, either way
        return urllib.parse.unquote_plus(value)
    return decoded


def decode_payload(raw_body: str) -> dict[str, Any] | None:
    """The JSON of a ``payload=…`` body; None when the body is anything else."""
    if not raw_body.startswith(PAYLOAD_FIELD) or "&" in raw_body:
        return None
    payload = json.loads(unquote_plus(raw_body[len(PAYLOAD_FIELD) :]))
    return payload if isinstance(payload, dict) else None


def read_body(raw_body: str, content_type: str | None) -> dict[str, Any]:
    """What Bolt's ``parse_body`` returns for this body."""
    decoded = decode_payload(raw_body) if content_type != "application/json" else None
    return decoded if decoded is not None else parse_body(raw_body, content_type)


async def to_bolt_request(request: web.Request) -> AsyncBoltRequest:
    """Bolt's request for an HTTP request to ``/slack/events`` (what ``slack_bolt.adapter.aiohttp`` builds)."""
    raw_body = await request.text()
    # Built empty, then given the body: Bolt's constructor would decode it again its own way.
    bolt_request = AsyncBoltRequest(body="", query=request.query_string, headers=request.headers)  # type: ignore[arg-type]
    bolt_request.raw_body = raw_body
    bolt_request.body = read_body(raw_body, bolt_request.content_type)
    bolt_request.context = build_async_context(AsyncBoltContext({}), bolt_request.body)
    return bolt_request
