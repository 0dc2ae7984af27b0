"""What Aprova needs to know about Slack people: their language, and who is in a user group."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.i18n import Locale, pick_locale
from ledger.ports import Clock

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Profile:
    locale: Locale
    is_workspace_admin: bool  # a Slack workspace admin or owner
    name: str = ""  # the display name people know them by (exports); empty when unknown


class People:
    """Each user's language and admin flags from ``users.info``, cached to spare Slack's rate limit."""

    def __init__(self, clock: Clock, default: Locale, ttl: timedelta = timedelta(hours=6)) -> None:
        self._clock, self._default, self._ttl = clock, default, ttl
        self._cache: dict[str, tuple[Profile, datetime]] = {}

    async def profile(self, client: AsyncWebClient, user_id: str) -> Profile:
        cached = self._cache.get(user_id)
        now = self._clock.now()
        if cached is not None and now - cached[1] < self._ttl:
            return cached[0]
        try:
            user = (await client.users_info(user=user_id, include_locale=True))["user"]
            profile = Profile(
                locale=pick_locale(user.get("locale"), self._default),
                is_workspace_admin=bool(user.get("is_admin") or user.get("is_owner")),
                name=str(
                    user.get("real_name") or (user.get("profile") or {}).get("real_name") or user.get("name") or ""
                ),
            )
        except (SlackApiError, KeyError, TypeError) as exc:
            log.warning("users.info failed for %s, using defaults: %s", user_id, exc)
            return Profile(locale=self._default, is_workspace_admin=False)
        self._cache[user_id] = (profile, now)
        return profile

    async def get(self, client: AsyncWebClient, user_id: str) -> Locale:
        """The user's locale."""
        return (await self.profile(client, user_id)).locale

    async def name(self, client: AsyncWebClient, user_id: str) -> str:
        """The user's name, or their id when Slack does not say."""
        return (await self.profile(client, user_id)).name or user_id


GONE_GROUP_ERRORS = frozenset({"no_such_subteam", "subteam_not_found", "invalid_usergroup"})


class SlackDirectory:
    """``ledger.ports.Directory`` backed by Slack user groups."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def group_members(self, group_id: str) -> list[str]:
        try:
            response = await self._client.usergroups_users_list(usergroup=group_id)
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error not in GONE_GROUP_ERRORS:
                # Slack busy or failing: the request must not be planned as if the group were empty (its step would
                # fall to the fallback approvers); the submission fails and the person tries again.
                raise
            log.error("user group %s is gone: %s", group_id, error)
            return []
        users: list[Any] = response.get("users") or []
        return [str(user) for user in users]
