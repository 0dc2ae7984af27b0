"""A loopback stand-in for the two Pipedrive API v2 reads Aprova makes: an organization and a person by id.

Answers like Pipedrive (``{"success": true, "data": {...}}``, 401 without the right ``x-api-token``, 404 for an
unknown id) and records every request, so a test sees what Aprova asked.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from aiohttp import web


class PipedriveStandIn:
    def __init__(self, token: str = "pd-token") -> None:
        self.token = token
        self.organizations: dict[int, dict[str, Any]] = {}
        self.persons: dict[int, dict[str, Any]] = {}
        self.requests: list[str] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> PipedriveStandIn:
        app = web.Application()
        app.router.add_get("/api/v2/organizations/{id}", self._get(self.organizations))
        app.router.add_get("/api/v2/persons/{id}", self._get(self.persons))
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _get(self, table: dict[int, dict[str, Any]]) -> Any:
        async def handle(request: web.Request) -> web.Response:
            self.requests.append(request.path)
            if request.headers.get("x-api-token") != self.token:
                return web.json_response({"success": False, "error": "unauthorized access"}, status=401)
            record = table.get(int(request.match_info["id"]))
            if record is None:
                return web.json_response({"success": False, "error": "not found"}, status=404)
            return web.json_response({"success": True, "data": record})

        return handle
