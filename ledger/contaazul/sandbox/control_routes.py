"""The sandbox's own control routes (/_sandbox/...): debug counters, and faults and settings tests can turn."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .faults import CREATE_FAIL_MODES, FaultRule
from .models import JSON
from .route_helpers import json_body, json_response
from .state import SandboxState
from .validation import PERFIS, TIPOS_PESSOA, bad


@dataclass
class ControlRoutes:
    """GET /_sandbox/state and POST /_sandbox/faults (not part of the Conta Azul API)."""

    state: SandboxState

    def add_to(self, router: web.UrlDispatcher) -> None:
        """Register the routes."""
        router.add_post("/_sandbox/faults", self.control_faults)
        router.add_get("/_sandbox/state", self.control_state)

    async def control_state(self, request: web.Request) -> web.Response:
        """GET /_sandbox/state: debug counters."""
        self.state.resolve_protocols()
        return json_response(state_counts(self.state))

    async def control_faults(self, request: web.Request) -> web.Response:
        """POST /_sandbox/faults: one action object or a list of them (see `apply_control`)."""
        body = await json_body(request)
        actions = body if isinstance(body, list) else [body]
        for action in actions:
            apply_control(self.state, action)
        return json_response({"ok": True, "faults": self.state.faults.summary()})


def state_counts(state: SandboxState) -> JSON:
    """Debug counters for GET /_sandbox/state."""
    by_status: dict[str, int] = {"PENDING": 0, "SUCCESS": 0, "ERROR": 0}
    for p in state.protocols.values():
        by_status[p.status] = by_status.get(p.status, 0) + 1
    return {
        "company": state.company.razao_social,
        "entries": len(state.events),
        "payables": sum(1 for e in state.events.values() if e.tipo == "DESPESA"),
        "receivables": sum(1 for e in state.events.values() if e.tipo == "RECEITA"),
        "installments": len(state.installments),
        "people": len(state.people),
        "cost_centers": len(state.cost_centers),
        "categories": len(state.categories),
        "financial_accounts": len(state.accounts),
        "protocols": by_status,
        "requests": len(state.request_log),
        "api_requests": len(state.api_calls()),
        "refresh_count": state.refresh_count,
        "refresh_success_count": state.refresh_success_count,
        "revocation_count": state.revocation_count,
        "active_access_tokens": sum(1 for t in state.access_tokens.values() if t.expires_at > state.now()),
        "refresh_tokens": len(state.refresh_tokens),
        "faults": state.faults.summary(),
        "settings": {
            "cost_center_list_key": state.cost_center_list_key,
            "protocol_key_style": state.protocol_key_style,
            "protocol_delay_seconds": state.protocol_delay_seconds,
            "rate_limit_per_second": state.rate_limit_per_second,
            "rate_limit_per_minute": state.rate_limit_per_minute,
            "revoke_endpoint": state.revoke_endpoint,
            "sync_route_missing": state.sync_route_missing,
            "protocol_endpoint_missing": state.protocol_endpoint_missing,
            "pessoas_default_tipos_pessoa": state.pessoas_default_tipos_pessoa,
            "retry_after_on_429": state.retry_after_on_429,
            "async_rejects_malformed": state.async_rejects_malformed,
            "created_answer_without_id": state.created_answer_without_id,
            "counterparty_ignored": state.counterparty_ignored,
        },
    }


_SETTINGS: dict[str, Callable[[Any], bool]] = {
    "rate_limit_per_second": lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 0),
    "rate_limit_per_minute": lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 0),
    "cost_center_list_key": lambda v: v in ("items", "itens"),
    "protocol_key_style": lambda v: v in ("new", "old"),
    "protocol_delay_seconds": lambda v: isinstance(v, int | float) and not isinstance(v, bool) and v >= 0,
    "access_token_ttl": lambda v: isinstance(v, int) and not isinstance(v, bool) and v > 0,
    "require_permite_apenas_filhos": lambda v: isinstance(v, bool),
    "pessoas_default_tipo_perfil": lambda v: v is None or v in PERFIS,
    "leaf_categories_only": lambda v: isinstance(v, bool),
    "revoke_endpoint": lambda v: v in ("available", "absent", "failing"),
    "sync_route_missing": lambda v: v is None or (v in (404, 405) and not isinstance(v, bool)),
    "protocol_endpoint_missing": lambda v: isinstance(v, bool),
    "pessoas_default_tipos_pessoa": lambda v: v is None or v in TIPOS_PESSOA,
    "retry_after_on_429": lambda v: isinstance(v, bool),
    "async_rejects_malformed": lambda v: isinstance(v, bool),
    "created_answer_without_id": lambda v: isinstance(v, bool),
    "counterparty_ignored": lambda v: isinstance(v, bool),
}


def _count(action: JSON) -> int:
    n = action.get("n", 1)
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise bad("'n' deve ser um inteiro >= 0.")
    return n


def _prefix(action: JSON) -> str | None:
    prefix = action.get("path_prefix")
    if prefix is not None and not isinstance(prefix, str):
        raise bad("'path_prefix' deve ser texto ou null.")
    return prefix


def apply_control(state: SandboxState, action: Any) -> None:
    """Apply one control action, e.g. {"action": "fail_next", "n": 2, "status": 503, "path_prefix": "/v1/pessoas"}.

    Actions: fail_next(n, status, retry_after, path_prefix), slow_next(n, seconds, path_prefix),
    drop_next(n, path_prefix), hold(path_prefix) until release_held,
    create_then_fail_next(n, mode="error"|"drop"|"hang", seconds for "hang"),
    protocols_stay_pending(value), protocols_error_next(n), discard_protocols_next(n), expire_all_access_tokens,
    revoke_refresh_tokens, clear_faults, configure(<setting>=<value>...).
    """
    if not isinstance(action, dict) or not isinstance(action.get("action"), str):
        raise bad('Cada ação deve ser um objeto com a chave "action".')
    name = action["action"]
    faults = state.faults
    if name == "fail_next":
        status = action.get("status", 500)
        if not isinstance(status, int) or not 400 <= status <= 599:
            raise bad("'status' deve ser um código HTTP 4xx/5xx.")
        retry = action.get("retry_after")
        if retry is not None and (not isinstance(retry, int) or retry < 0):
            raise bad("'retry_after' deve ser um inteiro >= 0.")
        faults.add(FaultRule("fail", _count(action), _prefix(action), status=status, retry_after=retry))
    elif name == "slow_next":
        seconds = action.get("seconds")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            raise bad("'seconds' deve ser um número >= 0.")
        faults.add(FaultRule("slow", _count(action), _prefix(action), seconds=float(seconds)))
    elif name == "drop_next":
        faults.add(FaultRule("drop", _count(action), _prefix(action)))
    elif name == "hold":
        prefix = _prefix(action)
        if not prefix:
            raise bad("'path_prefix' é obrigatório para 'hold'.")
        faults.hold(prefix)
    elif name == "release_held":
        faults.release_held()
    elif name == "create_then_fail_next":
        mode = action.get("mode", "error")
        if mode not in CREATE_FAIL_MODES:
            raise bad("'mode' deve ser 'error', 'drop' ou 'hang'.")
        seconds = action.get("seconds")
        if seconds is not None:
            if mode != "hang" or not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
                raise bad("'seconds' só vale para mode='hang' e deve ser um número >= 0.")
            faults.hang_seconds = float(seconds)
        faults.create_then_fail.extend([mode] * _count(action))
    elif name == "protocols_stay_pending":
        value = action.get("value", True)
        if not isinstance(value, bool):
            raise bad("'value' deve ser booleano.")
        faults.protocols_stay_pending = value
    elif name == "protocols_error_next":
        faults.protocols_error_remaining += _count(action)
    elif name == "discard_protocols_next":
        faults.protocols_discard_remaining += _count(action)
    elif name == "expire_all_access_tokens":
        state.expire_all_access_tokens()
    elif name == "revoke_refresh_tokens":
        state.revoke_refresh_tokens()
    elif name == "clear_faults":
        faults.clear()
    elif name == "configure":
        for key, value in action.items():
            if key == "action":
                continue
            check = _SETTINGS.get(key)
            if check is None or not check(value):
                raise bad(f"Configuração inválida: {key}={value!r}.")
            setattr(state, key, value)
    else:
        raise bad(f"Ação desconhecida: {name}.")
