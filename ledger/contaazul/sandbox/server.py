"""The `Sandbox`: a local Conta Azul (OAuth + API v2) served over real HTTP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from types import TracebackType

from aiohttp import web

from .app import SandboxApp
from .control_routes import apply_control
from .faults import CREATE_FAIL_MODES, FaultRule
from .oauth import TokenGrant
from .state import SandboxState


class Sandbox:
    """Local stand-in for auth.contaazul.com and api-v2.contaazul.com (one server serves both).

    Usage: `async with Sandbox(clock=clock) as sb: ...` then point the client at `sb.auth_url` / `sb.api_url`.
    """

    def __init__(
        self,
        client_id: str = "aprova-local",
        client_secret: str = "local-secret",
        redirect_uris: list[str] | None = None,
        clock: Callable[[], datetime] | None = None,
        auto_consent: bool = False,
        state_file: str | None = None,
    ) -> None:
        self.state = SandboxState(
            client_id=client_id,
            client_secret=client_secret,
            redirect_uris=redirect_uris,
            clock=clock,
            state_file=state_file,
        )
        self.auto_consent = auto_consent
        self._app = SandboxApp(self.state, auto_consent=auto_consent)
        self._runner: web.AppRunner | None = None
        self._host = "127.0.0.1"
        self._port: int | None = None

    # --- lifecycle ----------------------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> Sandbox:
        """Bind and serve (port 0 = pick a free port)."""
        if self._runner is not None:
            raise RuntimeError("sandbox already started")
        self._app.auto_consent = self.auto_consent
        # A short shutdown grace: slow_next handlers may still be sleeping for clients that gave up.
        runner = web.AppRunner(self._app.build(), shutdown_timeout=0.5, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._host = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
        self._port = int(runner.addresses[0][1])
        self.state.issuer = self.base_url
        return self

    async def stop(self) -> None:
        """Stop serving (idempotent)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Sandbox:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # --- addresses ----------------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port."""
        if self._port is None:
            raise RuntimeError("sandbox not started")
        return self._port

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT."""
        return f"http://{self._host}:{self.port}"

    @property
    def auth_url(self) -> str:
        """Stand-in for https://auth.contaazul.com (same server as the API)."""
        return self.base_url

    @property
    def api_url(self) -> str:
        """Stand-in for https://api-v2.contaazul.com."""
        return self.base_url

    @property
    def authorize_url(self) -> str:
        """The browser authorize endpoint."""
        return f"{self.base_url}/oauth2/authorize"

    @property
    def token_url(self) -> str:
        """The token endpoint."""
        return f"{self.base_url}/oauth2/token"

    # --- shortcuts for tests ------------------------------------------------------------------------------------

    def issue_tokens(self) -> TokenGrant:
        """Mint a token pair for the configured client without the browser flow."""
        return self.state.issue_tokens()

    # --- fault injection ----------------------------------------------------------------------------------------

    def fail_next(
        self, n: int = 1, status: int = 500, *, retry_after: int | None = None, path_prefix: str | None = None
    ) -> None:
        """Answer the next n matching requests with `status` (429 carries Retry-After, default 1)."""
        if not 400 <= status <= 599:
            raise ValueError("status must be 4xx/5xx")
        self.state.faults.add(FaultRule("fail", n, path_prefix, status=status, retry_after=retry_after))

    def slow_next(self, n: int = 1, seconds: float = 1.0, *, path_prefix: str | None = None) -> None:
        """Delay the next n matching requests by `seconds` (real time) before handling them."""
        self.state.faults.add(FaultRule("slow", n, path_prefix, seconds=seconds))

    def hold(self, *, path_prefix: str) -> None:
        """Leave requests to ``path_prefix`` unanswered until ``release_held()`` (e.g. a token endpoint that takes
        longer than anything else in a test); ``until_held()`` waits for one to arrive."""
        self.state.faults.hold(path_prefix)

    async def until_held(self) -> None:
        """Return once a held request is waiting."""
        await self.state.faults.until_held()

    def release_held(self) -> None:
        """Answer the held requests; nothing is held any more."""
        self.state.faults.release_held()

    def drop_next(self, n: int = 1, *, path_prefix: str | None = None) -> None:
        """Close the connection of the next n matching requests without answering."""
        self.state.faults.add(FaultRule("drop", n, path_prefix))

    def create_then_fail_next(self, n: int = 1, mode: str = "error", *, seconds: float | None = None) -> None:
        """Next n successful creates persist their entity, then answer 500 ("error"), drop the connection ("drop"),
        or hold the answer for `seconds` of real time (default 60) and then drop it ("hang": the caller may die
        waiting)."""
        if mode not in CREATE_FAIL_MODES:
            raise ValueError("mode must be 'error', 'drop' or 'hang'")
        if seconds is not None:
            if mode != "hang" or seconds < 0:
                raise ValueError("seconds applies to mode='hang' and must be >= 0")
            self.state.faults.hang_seconds = float(seconds)
        self.state.faults.create_then_fail.extend([mode] * n)

    def protocols_stay_pending(self, value: bool = True) -> None:
        """While True, no async protocol leaves PENDING (the live API's silent discard)."""
        self.state.faults.protocols_stay_pending = value

    def protocols_error_next(self, n: int = 1) -> None:
        """The next n accepted async protocols end in ERROR (nothing created)."""
        self.state.faults.protocols_error_remaining += n

    def discard_protocols_next(self, n: int = 1) -> None:
        """The next n accepted async protocols are silently dropped: PENDING forever, nothing created (as the live
        API does with, e.g., an invalid category id)."""
        self.state.faults.protocols_discard_remaining += n

    def expire_all_access_tokens(self) -> None:
        """Every access token issued so far now gets 401."""
        self.state.expire_all_access_tokens()

    def revoke_refresh_tokens(self) -> None:
        """Every refresh token issued so far now gets invalid_grant."""
        self.state.revoke_refresh_tokens()

    def clear_faults(self) -> None:
        """Drop every pending fault."""
        self.state.faults.clear()

    def control(self, action: dict[str, object]) -> None:
        """Apply a control action in the same JSON shape as POST /_sandbox/faults."""
        apply_control(self.state, action)
