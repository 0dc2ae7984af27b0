"""What Aprova needs to know about Slack people: their language, and who is in a user group."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.i18n import Locale, pick_locale
from ledger.ports import Clock

log = logging.getLogger(__name__)


class LocaleCache:
    """Each user's locale from ``users.info``, cached so a busy day does not spend Slack's rate limit."""

    def __init__(self, clock: Clock, default: Locale, ttl: timedelta = timedelta(hours=6)) -> None:
        self._clock, self._default, self._ttl = clock, default, ttl
        self._cache: dict[str, tuple[Locale, datetime]] = {}

    async def get(self, client: AsyncWebClient, user_id: str) -> Locale:
        cached = self._cache.get(user_id)
        now = self._clock.now()
        if cached is not None and now - cached[1] < self._ttl:
            return cached[0]
        try:
            response = await client.users_info(user=user_id, include_locale=True)
            locale = pick_locale(response["user"].get("locale"), self._default)
        except (SlackApiError, KeyError, TypeError) as exc:
            log.warning("users.info failed for %s, using %s: %s", user_id, self._default, exc)
            return self._default
        self._cache[user_id] = (locale, now)
        return locale


class SlackDirectory:
    """``ledger.ports.Directory`` backed by Slack user groups."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def group_members(self, group_id: str) -> list[str]:
        try:
            response = await self._client.usergroups_users_list(usergroup=group_id)
        except SlackApiError as exc:
            log.error("cannot list user group %s: %s", group_id, exc.response.get("error"))
            return []
        users: list[Any] = response.get("users") or []
        return [str(user) for user in users]
