"""LocalSlack's views: modals (views.open, views.push, views.update) and Home tabs (views.publish)."""

from __future__ import annotations

import copy
import secrets
import time
from typing import Any

from .localslack_workspace import JSONDict, SlackError, Workspace

MAX_VIEW_BLOCKS = 100
MAX_MODAL_TITLE = 24


class Views:
    """The current views by id, each person's Home tab, and the trigger ids already used."""

    def __init__(self, workspace: Workspace) -> None:
        self._workspace = workspace
        self._views: dict[str, JSONDict] = {}
        self._home_view_ids: dict[str, str] = {}
        self._used_triggers: set[str] = set()

    # -- inspection --------------------------------------------------------

    def by_id(self) -> dict[str, JSONDict]:
        """Current views by view id (modals and home tabs)."""
        return dict(self._views)

    def home_by_user(self) -> dict[str, JSONDict]:
        """Latest published home view by user id."""
        return {user: self._views[view_id] for user, view_id in self._home_view_ids.items()}

    # -- methods -----------------------------------------------------------

    def open(self, args: JSONDict) -> JSONDict:
        """views.open (and views.push, which answers the same)."""
        view = _check_view(args.get("view"), ("modal",))
        self._use_trigger(args)
        return {"ok": True, "view": self._store_view(view)}

    def update(self, args: JSONDict) -> JSONDict:
        """views.update, by view_id or external_id."""
        view = _check_view(args.get("view"), ("modal", "home"))
        if args.get("view_id"):
            current = self._views.get(str(args["view_id"]))
        elif args.get("external_id"):
            matches = (v for v in self._views.values() if v["external_id"] == args["external_id"])
            current = next(matches, None)
        else:
            raise SlackError("invalid_arguments", "[ERROR] either view_id or external_id is required")
        if current is None:
            raise SlackError("not_found")
        _check_hash(args, current)
        return {"ok": True, "view": self._store_view(view, previous=current)}

    def publish(self, args: JSONDict) -> JSONDict:
        """views.publish: a person's Home tab."""
        user_id = args.get("user_id")
        if not user_id:
            raise SlackError("invalid_arguments", "[ERROR] missing required field: user_id")
        view = _check_view(args.get("view"), ("home",))
        current_id = self._home_view_ids.get(str(user_id))
        current = self._views[current_id] if current_id else None
        _check_hash(args, current)
        stored = self._store_view(view, previous=current)
        self._home_view_ids[str(user_id)] = stored["id"]
        return {"ok": True, "view": stored}

    # -- helpers -----------------------------------------------------------

    def _store_view(self, view: JSONDict, previous: JSONDict | None = None) -> JSONDict:
        workspace = self._workspace
        view_id = previous["id"] if previous else workspace.new_id("V")
        stored: JSONDict = {
            "blocks": [],
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            "clear_on_close": False,
            "notify_on_close": False,
            **copy.deepcopy(view),
            "id": view_id,
            "team_id": workspace.team_id,
            "state": previous["state"] if previous else {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "root_view_id": previous["root_view_id"] if previous else view_id,
            "previous_view_id": None,
            "app_id": workspace.app_id,
            "app_installed_team_id": workspace.team_id,
            "bot_id": workspace.bot_id,
        }
        if previous and not stored["external_id"]:
            stored["external_id"] = previous["external_id"]
        self._views[view_id] = stored
        return stored

    def _use_trigger(self, args: JSONDict) -> None:
        trigger_id = args.get("trigger_id")
        if not trigger_id:
            raise SlackError("invalid_arguments", "[ERROR] missing required field: trigger_id")
        if trigger_id in self._used_triggers:
            raise SlackError("exchanged_trigger_id")
        self._used_triggers.add(str(trigger_id))


def _check_view(view: Any, allowed_types: tuple[str, ...]) -> JSONDict:
    if not isinstance(view, dict) or view.get("type") not in allowed_types:
        raise SlackError("invalid_arguments", f"[ERROR] view type must be one of {allowed_types} [json-pointer:/view]")
    blocks = view.get("blocks", [])
    if not isinstance(blocks, list) or len(blocks) > MAX_VIEW_BLOCKS:
        detail = f"[ERROR] must be a list of no more than {MAX_VIEW_BLOCKS} items [json-pointer:/view/blocks]"
        raise SlackError("invalid_arguments", detail)
    title = view.get("title") or {}
    if view["type"] == "modal" and len(str(title.get("text", ""))) > MAX_MODAL_TITLE:
        detail = f"[ERROR] must be less than {MAX_MODAL_TITLE + 1} characters [json-pointer:/view/title/text]"
        raise SlackError("invalid_arguments", detail)
    return view


def _check_hash(args: JSONDict, current: JSONDict | None) -> None:
    expected = args.get("hash")
    if expected and current is not None and expected != current["hash"]:
        raise SlackError("hash_conflict")
