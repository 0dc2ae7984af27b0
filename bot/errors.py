"""The one error handler: anything a listener did not expect is logged with an id the person can quote."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse

log = logging.getLogger(__name__)


async def handle_unexpected_error(
    error: Exception, body: dict[str, Any], response: BoltResponse | None = None
) -> BoltResponse | None:
    error_id = uuid.uuid4().hex[:8]
    user = body.get("user")
    log.exception(
        "unexpected error %s handling %s from %s",
        error_id,
        body.get("type") or body.get("command"),
        (user.get("id") if isinstance(user, dict) else None) or body.get("user_id"),
        exc_info=error,
    )
    if response is None:  # the listener failed before answering: Bolt answers for it
        return None
    # 200 so Slack shows nothing generic; the person already got what the listener managed to say.
    return BoltResponse(status=200, body="")


def register(app: AsyncApp) -> None:
    app.error(handle_unexpected_error)
