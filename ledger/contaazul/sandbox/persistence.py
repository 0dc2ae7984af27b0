"""The standalone sandbox's state file: what survives a restart, written atomically after every change."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import asdict, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .models import JSON, AccessToken, CostCenter, Event, Installment, Person, Protocol, RefreshToken

if TYPE_CHECKING:
    from .state import SandboxState

# The state attributes that are stored, with the record type each holds.
PERSISTED: dict[str, type[Any]] = {
    "people": Person,
    "cost_centers": CostCenter,
    "events": Event,
    "installments": Installment,
    "protocols": Protocol,
    "access_tokens": AccessToken,
    "refresh_tokens": RefreshToken,
}


def snapshot(state: SandboxState) -> JSON:
    """Everything worth surviving a restart (seeded reference data is rebuilt, not stored)."""
    data: JSON = {name: [asdict(v) for v in getattr(state, name).values()] for name in PERSISTED}
    data["counters"] = {
        "next_legacy_id": state.next_legacy_id,
        "refresh_count": state.refresh_count,
        "refresh_success_count": state.refresh_success_count,
        "token_issue_count": state.token_issue_count,
    }
    return data


def save(state: SandboxState, path: str) -> None:
    """Write the snapshot atomically (temp file + rename)."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".sandbox-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(snapshot(state), fh, default=_encode, ensure_ascii=False)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def load(state: SandboxState, path: str) -> None:
    """Restore a snapshot written by `save`."""
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh, object_hook=_decode)
    for name, cls in PERSISTED.items():
        known = {f.name for f in fields(cls)}
        records = [cls(**{k: v for k, v in raw.items() if k in known}) for raw in data.get(name, [])]
        key = "token" if name in ("access_tokens", "refresh_tokens") else "id"
        getattr(state, name).clear()
        getattr(state, name).update({getattr(r, key): r for r in records})
    counters = data.get("counters", {})
    state.next_legacy_id = int(counters.get("next_legacy_id", state.next_legacy_id))
    state.refresh_count = int(counters.get("refresh_count", 0))
    state.refresh_success_count = int(counters.get("refresh_success_count", 0))
    state.token_issue_count = int(counters.get("token_issue_count", 0))


def _encode(obj: object) -> JSON:
    if isinstance(obj, datetime):
        return {"__dt__": obj.isoformat()}
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def _decode(obj: JSON) -> Any:
    if set(obj) == {"__dt__"}:
        return datetime.fromisoformat(obj["__dt__"])
    return obj
