"""Block Kit objects as the JSON Slack reads: what slack_sdk's ``to_dict()`` returns, its validators run, for a
third of the CPU.

``JsonObject.to_dict()`` looks up, for every object, which of its class's methods are validators (sorting every
name of the class and of the instance), then walks each nested result a second time. For the two messages a
submission sends, that was a tenth of the CPU Aprova spent on the submission. Here the validators are looked up
once per class and each object is walked once; the rest is slack_sdk's own rules (attributes with a value, empty
lists left out but where Block Kit allows them, a class's own ``to_dict()`` where it has one). Tests compare the two
for every message Aprova builds.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from slack_sdk.models.basic_objects import EMPTY_ALLOWED_TYPE_AND_PROPERTY_LIST, JsonObject

_EMPTY_ALLOWED = {(allowed["type"], allowed["property"]) for allowed in EMPTY_ALLOWED_TYPE_AND_PROPERTY_LIST}


def as_json(blocks: Sequence[Any]) -> list[Any]:
    """``[block.to_dict() for block in blocks]``, dicts already converted left as they are."""
    return [_json(block) for block in blocks]


@cache
def _validators(cls: type) -> tuple[str, ...]:
    """The class's validator methods (``@JsonValidator``), in the order slack_sdk runs them."""
    return tuple(sorted(name for name in dir(cls) if not name.startswith("__") and _is_validator(getattr(cls, name))))


def _is_validator(value: object) -> bool:
    return callable(value) and hasattr(value, "validator")


def _json(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_json(item) for item in value]
    if isinstance(value, JsonObject) and type(value).to_dict is JsonObject.to_dict:
        for name in _validators(type(value)):
            getattr(value, name)()  # raises SlackObjectFormationError, as to_dict() would
        kind = getattr(value, "type", None)
        shown = {}
        for key in sorted(value.attributes):
            item = getattr(value, key, None)
            if item is None or (hasattr(item, "__len__") and not len(item) and (kind, key) not in _EMPTY_ALLOWED):
                continue
            shown[key] = _json(item)
        return shown
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):  # a class with a to_dict() of its own (Option, ConfirmObject…)
        return {key: _json(item) for key, item in to_dict().items()}
    return value
