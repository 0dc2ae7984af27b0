"""The sandbox's aiohttp application: every route module behind one middleware that injects faults, checks the
bearer token and the rate limits, and logs each request."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.typedefs import Handler

from .control_routes import ControlRoutes
from .entry_routes import EntryRoutes
from .lookup_routes import LookupRoutes
from .oauth_routes import OAuthRoutes
from .people_routes import PeopleRoutes
from .route_helpers import ConnectionDropped, error_response
from .state import SandboxState
from .validation import ApiError


class SandboxApp:
    """Builds the aiohttp application over a SandboxState."""

    def __init__(self, state: SandboxState, *, auto_consent: bool = False) -> None:
        self.state = state
        self.auto_consent = auto_consent

    def build(self) -> web.Application:
        """The aiohttp application."""

        @web.middleware
        async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            return await self._handle(request, handler)

        app = web.Application(middlewares=[middleware])
        # Routes match in registration order: /v1/pessoas/conta-conectada (a lookup) before /v1/pessoas/{id}.
        OAuthRoutes(self.state, auto_consent=self.auto_consent).add_to(app.router)
        LookupRoutes(self.state).add_to(app.router)
        PeopleRoutes(self.state).add_to(app.router)
        EntryRoutes(self.state).add_to(app.router)
        ControlRoutes(self.state).add_to(app.router)
        return app

    # --- middleware -------------------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if path.startswith("/_sandbox/"):
            try:
                return await handler(request)
            except ApiError as exc:
                return error_response(exc)
        state = self.state
        try:
            await state.faults.wait_if_held(path)
            slow = state.faults.take("slow", path)
            if slow is not None:
                await asyncio.sleep(slow.seconds)  # emulated latency (real time, by design)
            if state.faults.take("drop", path) is not None:
                raise ConnectionDropped
            fail = state.faults.take("fail", path)
            if fail is not None:
                retry = fail.retry_after if fail.retry_after is not None else (1 if fail.status == 429 else None)
                if fail.status == 429 and not state.retry_after_on_429:
                    retry = None
                message = "Limite de requisições excedido." if fail.status == 429 else "Ocorreu um erro inesperado."
                response: web.StreamResponse = error_response(ApiError(fail.status, message, retry_after=retry))
            else:
                response = await self._dispatch(request, handler)
        except ConnectionDropped:
            state.log_request(request.method, path, 0, request.query_string)
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)  # never delivered: the transport is gone
        state.log_request(request.method, path, response.status, request.query_string)
        return response

    async def _dispatch(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            if request.path.startswith("/v1/"):
                company_id = self._authenticate(request)
                retry = self.state.check_rate_limit(company_id)
                if retry is not None:
                    message = f"Limite de requisições excedido. Tente novamente em {retry} segundo(s)."
                    raise ApiError(429, message, retry_after=retry if self.state.retry_after_on_429 else None)
                self.state.resolve_protocols()
            return await handler(request)
        except ApiError as exc:
            return error_response(exc)
        except web.HTTPException as exc:
            # Router errors (404 unknown path, 405 e.g. POST /v1/categorias) as JSON like the API's other errors.
            return error_response(ApiError(exc.status, exc.reason))

    def _authenticate(self, request: web.Request) -> str:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "Token de acesso ausente.", error="invalid_token")
        company_id, reason = self.state.check_access_token(token.strip())
        if company_id is None:
            raise ApiError(401, reason, error="invalid_token")
        return company_id
