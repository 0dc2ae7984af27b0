"""What the sandbox's route modules share: query-string parsing, paging, JSON answers, and answering a create."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterable
from typing import Any, TypeVar

from aiohttp import web
from multidict import MultiMapping

from .models import JSON
from .state import SandboxState
from .validation import ApiError, bad, iso_date

T = TypeVar("T")
PAGE_SIZES = (10, 20, 50, 100, 200, 500, 1000)


class ConnectionDropped(Exception):
    """Raised to close the connection without any response."""


# --- query parameters ----------------------------------------------------------------------------------------------


def list_param(q: MultiMapping[str], name: str, *, split: bool = True) -> list[str]:
    """Every value of a list parameter."""
    # Array serialisation is unspecified: accept repeated keys, `name[]`, and comma-separated values.
    values = list(q.getall(name, [])) + list(q.getall(f"{name}[]", []))
    out: list[str] = []
    for value in values:
        out.extend(v.strip() for v in (value.split(",") if split else [value]))
    return [v for v in out if v]


def bool_param(q: MultiMapping[str], name: str, *, required: bool = False) -> bool | None:
    """A "true"/"false" parameter (None when absent and optional)."""
    value = q.get(name)
    if value is None:
        if required:
            raise bad(f"O parâmetro '{name}' é obrigatório.")
        return None
    if value.lower() not in ("true", "false"):
        raise bad(f"O valor '{value}' fornecido no parâmetro '{name}' não é um booleano válido.")
    return value.lower() == "true"


def paging(q: MultiMapping[str], *, required: bool) -> tuple[int, int]:
    """(pagina, tamanho_pagina), checked like the API (sizes from PAGE_SIZES only)."""
    raw_page, raw_size = q.get("pagina"), q.get("tamanho_pagina")
    if required:
        for name, raw in (("pagina", raw_page), ("tamanho_pagina", raw_size)):
            if raw is None:
                raise bad(f"O parâmetro '{name}' é obrigatório.")
    try:
        page = int(raw_page) if raw_page is not None else 1
    except ValueError as exc:
        raise bad(f"O valor '{raw_page}' fornecido no parâmetro 'pagina' é inválido.") from exc
    if page < 1:
        raise bad("pagina: O valor deve ser maior ou igual a 1.")
    try:
        size = int(raw_size) if raw_size is not None else 10
    except ValueError as exc:
        raise bad(f"O valor '{raw_size}' fornecido no parâmetro 'tamanho_pagina' é inválido.") from exc
    if size not in PAGE_SIZES:
        allowed = ", ".join(str(s) for s in PAGE_SIZES)
        raise bad(f"tamanho_pagina: Valor '{raw_size}' inválido. Valores permitidos: {allowed}.")
    return page, size


def page_of(items: list[T], page: int, size: int) -> list[T]:
    """The items on one page (pages start at 1)."""
    return items[(page - 1) * size : page * size]


def date_param(q: MultiMapping[str], name: str, *, required: bool) -> str | None:
    """A YYYY-MM-DD parameter."""
    value = q.get(name)
    if value is None:
        if required:
            raise bad(f"O parâmetro '{name}' é obrigatório.")
        return None
    return iso_date(value, name)


def amount_param(q: MultiMapping[str], name: str) -> float | None:
    """An amount parameter with at most two decimals."""
    value = q.get(name)
    if value is None:
        return None
    if not re.fullmatch(r"[0-9]+(\.[0-9]{1,2})?", value):
        raise bad(f"O valor '{value}' fornecido no parâmetro '{name}' é inválido.")
    return float(value)


def enum_param(value: str | None, name: str, allowed: Iterable[str]) -> str | None:
    """`value` unless it is not one of `allowed`."""
    allowed = list(allowed)
    if value is not None and value not in allowed:
        raise bad(
            f"O valor '{value}' fornecido no parâmetro '{name}' é inválido. Valores aceitos: {', '.join(allowed)}."
        )
    return value


# --- bodies and answers --------------------------------------------------------------------------------------------


async def json_body(request: web.Request) -> Any:
    """The request body parsed as JSON (400 when it is not)."""
    try:
        return await request.json(loads=json.loads)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise bad("O corpo da requisição não é um JSON válido.") from exc


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON answer with accents kept as they are."""
    return web.json_response(data, status=status, headers=headers, dumps=lambda o: json.dumps(o, ensure_ascii=False))


def error_response(exc: ApiError) -> web.Response:
    """The API's JSON error answer, with Retry-After or WWW-Authenticate where they apply."""
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    if exc.status == 401:
        headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    return json_response(exc.body(), exc.status, headers)


def totals(flags: Iterable[bool]) -> JSON:
    """The `totais` object of a list answer: how many are active, inactive and in all."""
    values = list(flags)
    active = sum(1 for v in values if v)
    return {"ativo": active, "inativo": len(values) - active, "todos": len(values)}


async def answer_created(state: SandboxState, response: web.Response) -> web.Response:
    """The answer to a create, unless a create_then_fail fault is queued."""
    # "create_then_fail": the entity is already persisted; the client just never learns it.
    mode = state.faults.take_create_failure()
    if mode == "hang":
        # Hold the answer (real time, like slow_next) so a client process can die waiting for it.
        await asyncio.sleep(state.faults.hang_seconds)
        raise ConnectionDropped
    if mode == "drop":
        raise ConnectionDropped
    if mode == "error":
        return error_response(ApiError(500, "Ocorreu um erro inesperado no servidor. Tente novamente mais tarde."))
    return response
