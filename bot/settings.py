"""Every setting Aprova reads, from the environment, in one place."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import load_dotenv
from sqlalchemy.exc import ArgumentError

from ledger.db import normalise_url

# Aprova's own pages of the Conta Azul authorization (the callback is registered at Conta Azul).
OAUTH_PATH = "/contaazul/oauth"
OAUTH_START_PATH = f"{OAUTH_PATH}/start"
OAUTH_CALLBACK_PATH = f"{OAUTH_PATH}/callback"

T = TypeVar("T")


class SettingsError(ValueError):
    """Settings are missing or malformed; each problem names its variable and how to fix it."""

    def __init__(self, problems: str | list[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


ENV_FILE = Path(".env")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
SLACK_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
MEMBER_ID_HELP = "in Slack, open the person's profile → ⋮ → Copy member ID"
CHANNEL_ID_HELP = "open the channel's details in Slack: its id (C…) is at the bottom of the About tab"


def load_env_file(path: Path = ENV_FILE) -> bool:
    """Read ``.env`` into the process environment when there is one; a variable already set keeps its value.

    Every command (``python -m bot``, ``check``, ``migrate``, ``demo``) reads it the same way, before the settings.
    """
    if not path.is_file():
        return False
    try:
        return load_dotenv(path, override=False, encoding="utf-8")
    except UnicodeDecodeError:
        raise SettingsError(f"{path} is not UTF-8 text: save it as UTF-8 (or start again from .env.example)") from None


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def _whole_number(text: str | None, name: str, default: int, *, lowest: int, highest: int | None = None) -> int:
    """An integer setting within bounds, or a SettingsError naming the variable and what it accepts."""
    if text is None:
        return default
    accepted = f"from {lowest} to {highest}" if highest is not None else f"of at least {lowest}"
    if not text.isdigit() or int(text) < lowest or (highest is not None and int(text) > highest):
        raise SettingsError(f"{name} must be a whole number {accepted} (got {text!r})")
    return int(text)


def web_address_problem(name: str, value: str | None) -> str | None:
    """What is wrong with a setting that must be an http(s) address, or None."""
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return (
            f"{name} must be a web address starting with https:// (or http://), "
            f"e.g. https://aprova.suaempresa.com.br (got {value!r})"
        )
    return None


def database_url_problem(value: str) -> str | None:
    """What is wrong with DATABASE_URL's shape (never echoing it: it may carry a password), or None."""
    try:
        normalise_url(value)
    except (ArgumentError, ValueError):
        scheme = value.split(":", 1)[0] if "://" in value else None
        got = f"a {scheme}:// address" if scheme else "something that is not a database address"
        return (
            f"DATABASE_URL must be sqlite:///aprova.db (a file) or postgresql://user:password@host:5432/database; "
            f"got {got}"
        )
    return None


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = "sqlite:///aprova.db"
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str = "https://slack.com/api/"
    port: int = 3000
    host: str = "0.0.0.0"
    payment_commands: tuple[str, ...] = ("/pagamento", "/payment")
    requests_channel: str | None = None  # tracking messages go here; else to the requester's DM
    policy_file: Path = Path("approval-policy.toml")
    default_locale: str = "pt_BR"
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("America/Sao_Paulo"))
    finance_admins: tuple[str, ...] = ()
    finance_channel: str | None = None
    public_url: str | None = None  # where Conta Azul redirects back to, e.g. https://aprova.example.com
    contaazul_client_id: str | None = None
    contaazul_client_secret: str | None = None
    contaazul_auth_url: str = "https://auth.contaazul.com"
    contaazul_api_url: str = "https://api-v2.contaazul.com"
    contaazul_api_url_set: bool = False  # the demo starts the bundled sandbox only when this is False
    contaazul_create_route: str = "sync"  # "sync" (201 with the id) or "async" (202 and a protocol to follow)
    # This instance's share of Conta Azul's per-company limits: the stricter figures its docs have given.
    contaazul_rate_per_second: int = 10
    contaazul_rate_per_minute: int = 500
    contaazul_timeout_seconds: int = 20  # the longest one Conta Azul call may take
    # How long a posting worker holds a payable; it must outlast a create call, or two instances could post it.
    posting_lease_seconds: int = 300
    # Messages sent to one Slack channel at once before pacing to Slack's ~1 a second per channel.
    slack_channel_burst: int = 4
    encryption_key: str | None = None
    log_level: str = "INFO"
    log_format: str = "json"  # one JSON object per line; "text" for a terminal
    receivables_file: Path = Path("receivables.toml")  # won-deal mapping rules; deal webhooks are off without it
    webhook_secrets: tuple[str, ...] = ()  # APROVA_WEBHOOK_SECRET: signs the generic deal webhook (newest first)
    pipedrive_webhook_user: str | None = None
    pipedrive_webhook_password: str | None = None
    pipedrive_api_url: str | None = None  # e.g. https://empresa.pipedrive.com, to read a v2 deal's organization
    pipedrive_api_token: str | None = None
    hubspot_client_secrets: tuple[str, ...] = ()  # the HubSpot app's client secret(s), for v3 signatures
    remind_after_hours: int = 24  # an open step's approvers get one reminder after this long
    escalate_after_hours: int = 72  # then the policy's fallback approvers are added to the step
    digest_hour: int = 8  # local hour (APROVA_TIMEZONE) of the daily digest in the finance channel
    readyz_token: str | None = None  # APROVA_READYZ_TOKEN: only a caller with it sees /readyz's details

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings in ``environ`` (the process environment by default).

        Raises:
            SettingsError: Every malformed setting at once, one problem per line.
        """
        env = os.environ if environ is None else environ
        defaults = cls()
        problems: list[str] = []

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        def checked(read: Callable[[], T], fallback: T) -> T:
            """``read()``, or ``fallback`` with its problem noted, so every problem is reported in one go."""
            try:
                return read()
            except SettingsError as exc:
                problems.extend(exc.problems)
                return fallback

        def require(condition: bool, problem: str) -> None:
            if not condition:
                problems.append(problem)

        def port() -> int:
            text = get("PORT") or "3000"
            if not text.isdigit() or not 0 <= int(text) < 65536:  # 0: any free port (logged at start)
                raise SettingsError(f"PORT must be a TCP port number, got {text!r}")
            return int(text)

        def timezone() -> ZoneInfo:
            name = get("APROVA_TIMEZONE") or "America/Sao_Paulo"
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                raise SettingsError(f"APROVA_TIMEZONE {name!r} is not a known time zone") from None

        locale = get("APROVA_DEFAULT_LOCALE") or "pt_BR"
        require(locale in ("pt_BR", "en"), "APROVA_DEFAULT_LOCALE must be pt_BR or en")
        commands = _split(get("APROVA_PAYMENT_COMMANDS")) or defaults.payment_commands
        require(
            all(c.startswith("/") for c in commands),
            "APROVA_PAYMENT_COMMANDS must be slash commands, e.g. /pagamento,/payment",
        )
        api_url = get("SLACK_API_URL") or defaults.slack_api_url
        remind_after = checked(
            lambda: _whole_number(get("APROVA_REMIND_AFTER_HOURS"), "APROVA_REMIND_AFTER_HOURS", 24, lowest=1), 24
        )
        escalate_after = checked(
            lambda: _whole_number(get("APROVA_ESCALATE_AFTER_HOURS"), "APROVA_ESCALATE_AFTER_HOURS", 72, lowest=1), 72
        )
        require(
            escalate_after > remind_after,
            f"APROVA_ESCALATE_AFTER_HOURS ({escalate_after}) must be more than "
            f"APROVA_REMIND_AFTER_HOURS ({remind_after}): approvers are reminded first, then the step escalates",
        )
        log_format = (get("LOG_FORMAT") or defaults.log_format).lower()
        require(log_format in ("json", "text"), f"LOG_FORMAT must be json or text (got {log_format!r})")
        log_level = (get("LOG_LEVEL") or defaults.log_level).upper()
        require(log_level in LOG_LEVELS, f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)} (got {log_level!r})")
        route = (get("CONTAAZUL_CREATE_ROUTE") or defaults.contaazul_create_route).lower()
        require(route in ("sync", "async"), f"CONTAAZUL_CREATE_ROUTE must be sync or async (got {route!r})")
        per_second = checked(
            lambda: _whole_number(
                get("CONTAAZUL_RATE_PER_SECOND"),
                "CONTAAZUL_RATE_PER_SECOND",
                defaults.contaazul_rate_per_second,
                lowest=1,
                highest=100,
            ),
            defaults.contaazul_rate_per_second,
        )
        per_minute = checked(
            lambda: _whole_number(
                get("CONTAAZUL_RATE_PER_MINUTE"),
                "CONTAAZUL_RATE_PER_MINUTE",
                defaults.contaazul_rate_per_minute,
                lowest=1,
                highest=6000,
            ),
            defaults.contaazul_rate_per_minute,
        )
        digest_hour = checked(
            lambda: _whole_number(get("APROVA_DIGEST_HOUR"), "APROVA_DIGEST_HOUR", 8, lowest=0, highest=23), 8
        )
        timeout = checked(
            lambda: _whole_number(
                get("CONTAAZUL_TIMEOUT_SECONDS"), "CONTAAZUL_TIMEOUT_SECONDS", 20, lowest=1, highest=120
            ),
            20,
        )
        burst = checked(
            lambda: _whole_number(get("APROVA_SLACK_CHANNEL_BURST"), "APROVA_SLACK_CHANNEL_BURST", 4, lowest=1), 4
        )
        lease = checked(
            lambda: _whole_number(get("APROVA_POSTING_LEASE_SECONDS"), "APROVA_POSTING_LEASE_SECONDS", 300, lowest=3),
            300,
        )
        require(
            lease >= 3 * timeout,
            f"APROVA_POSTING_LEASE_SECONDS ({lease}) must be at least 3 × CONTAAZUL_TIMEOUT_SECONDS ({timeout}): "
            "a posting's lease must outlast its create call, or another instance could post it again",
        )
        database_url = get("DATABASE_URL") or defaults.database_url
        problems.extend(filter(None, [database_url_problem(database_url)]))
        for name in (
            "SLACK_API_URL",
            "APROVA_PUBLIC_URL",
            "CONTAAZUL_AUTH_URL",
            "CONTAAZUL_API_URL",
            "PIPEDRIVE_API_URL",
        ):
            problems.extend(filter(None, [web_address_problem(name, get(name))]))
        bot_token, app_token = get("SLACK_BOT_TOKEN"), get("SLACK_APP_TOKEN")
        # A token is a secret: say what it should start with, never what it is.
        require(
            bot_token is None or bot_token.startswith("xoxb-"),
            "SLACK_BOT_TOKEN must be the Bot User OAuth Token, which starts with xoxb- "
            "(Slack app settings → OAuth & Permissions)",
        )
        require(
            app_token is None or app_token.startswith("xapp-"),
            "SLACK_APP_TOKEN must be an App-Level Token, which starts with xapp- "
            "(Slack app settings → Basic Information → App-Level Tokens, scope connections:write)",
        )
        finance_admins = _split(get("APROVA_FINANCE_ADMINS"))
        not_members = [admin for admin in finance_admins if not SLACK_USER_ID.match(admin)]
        require(
            not not_members,
            f"APROVA_FINANCE_ADMINS must list Slack member ids (U…), comma separated; "
            f"{', '.join(map(repr, not_members))} {'is not one' if len(not_members) == 1 else 'are not'}: "
            f"{MEMBER_ID_HELP}",
        )
        for name in ("APROVA_REQUESTS_CHANNEL", "APROVA_FINANCE_CHANNEL"):
            channel = get(name)
            require(
                channel is None or bool(SLACK_CHANNEL_ID.match(channel)),
                f"{name} must be a channel id (C…), not a name ({channel!r}): {CHANNEL_ID_HELP}",
            )
        client_id, client_secret = get("CONTAAZUL_CLIENT_ID"), get("CONTAAZUL_CLIENT_SECRET")
        if bool(client_id) != bool(client_secret):
            missing = "CONTAAZUL_CLIENT_SECRET" if client_id else "CONTAAZUL_CLIENT_ID"
            problems.append(
                f"{missing} is not set, but {'CONTAAZUL_CLIENT_ID' if client_id else 'CONTAAZUL_CLIENT_SECRET'} is: "
                "set both (from your application at the Conta Azul developer portal), or neither to run without "
                "Conta Azul"
            )
        settings = cls(
            database_url=database_url,
            slack_bot_token=bot_token,
            slack_signing_secret=get("SLACK_SIGNING_SECRET"),
            slack_app_token=app_token,
            slack_api_url=api_url if api_url.endswith("/") else api_url + "/",
            port=checked(port, defaults.port),
            host=get("HOST") or defaults.host,
            payment_commands=commands,
            requests_channel=get("APROVA_REQUESTS_CHANNEL"),
            policy_file=Path(get("APROVA_POLICY_FILE") or defaults.policy_file),
            default_locale=locale,
            timezone=checked(timezone, defaults.timezone),
            finance_admins=finance_admins,
            finance_channel=get("APROVA_FINANCE_CHANNEL"),
            public_url=(get("APROVA_PUBLIC_URL") or "").rstrip("/") or None,
            contaazul_client_id=client_id,
            contaazul_client_secret=client_secret,
            contaazul_auth_url=(get("CONTAAZUL_AUTH_URL") or defaults.contaazul_auth_url).rstrip("/"),
            contaazul_api_url=(get("CONTAAZUL_API_URL") or defaults.contaazul_api_url).rstrip("/"),
            contaazul_api_url_set=get("CONTAAZUL_API_URL") is not None,
            contaazul_create_route=route,
            contaazul_rate_per_second=per_second,
            contaazul_rate_per_minute=per_minute,
            contaazul_timeout_seconds=timeout,
            posting_lease_seconds=lease,
            slack_channel_burst=burst,
            encryption_key=get("APROVA_ENCRYPTION_KEY"),
            log_level=log_level,
            log_format=log_format,
            receivables_file=Path(get("APROVA_RECEIVABLES_FILE") or defaults.receivables_file),
            webhook_secrets=_split(get("APROVA_WEBHOOK_SECRET")),
            pipedrive_webhook_user=get("PIPEDRIVE_WEBHOOK_USER"),
            pipedrive_webhook_password=get("PIPEDRIVE_WEBHOOK_PASSWORD"),
            pipedrive_api_url=(get("PIPEDRIVE_API_URL") or "").rstrip("/") or None,
            pipedrive_api_token=get("PIPEDRIVE_API_TOKEN"),
            hubspot_client_secrets=_split(get("HUBSPOT_CLIENT_SECRET")),
            remind_after_hours=remind_after,
            escalate_after_hours=escalate_after,
            digest_hour=digest_hour,
            readyz_token=get("APROVA_READYZ_TOKEN"),
        )
        if problems:
            raise SettingsError(problems)
        return settings

    @property
    def slack_files_origin(self) -> str:
        """The only place the bot token goes to fetch a file: ``https://files.slack.com/`` for Slack itself; a
        Slack-compatible server at ``SLACK_API_URL`` (the local stand-in) serves its files itself."""
        api = urlsplit(self.slack_api_url)
        host = api.hostname or ""
        if host == "slack.com" or host.endswith(".slack.com"):
            return "https://files.slack.com/"
        return f"{api.scheme}://{api.netloc}/"

    @property
    def public_base_url(self) -> str:
        """Aprova's address as the outside world calls it (HubSpot signs the URI it called)."""
        return self.public_url or f"http://localhost:{self.port}"

    @property
    def remind_after(self) -> timedelta:
        return timedelta(hours=self.remind_after_hours)

    @property
    def escalate_after(self) -> timedelta:
        return timedelta(hours=self.escalate_after_hours)

    @property
    def posting_lease(self) -> timedelta:
        return timedelta(seconds=self.posting_lease_seconds)

    @property
    def contaazul_timeout(self) -> timedelta:
        return timedelta(seconds=self.contaazul_timeout_seconds)

    @property
    def contaazul_configured(self) -> bool:
        return bool(self.contaazul_client_id and self.contaazul_client_secret)

    @property
    def oauth_redirect_uri(self) -> str:
        """Register exactly this URL as the redirect URI of the Conta Azul app."""
        return f"{self.public_base_url}{OAUTH_CALLBACK_PATH}"

    @property
    def oauth_start_url(self) -> str:
        """The link ``/contaazul connect`` hands out (with its state): it binds the admin's browser to the flow."""
        return f"{self.public_base_url}{OAUTH_START_PATH}"

    @property
    def cookies_secure(self) -> bool:
        """Cookies marked Secure when the public URL is https (a browser drops them on plain http)."""
        return self.public_base_url.startswith("https://")

    def missing_for_slack(self) -> list[str]:
        """Variables still needed to talk to Slack (Socket Mode needs the app token, not the signing secret)."""
        missing = [] if self.slack_bot_token else ["SLACK_BOT_TOKEN"]
        if not self.slack_app_token and not self.slack_signing_secret:
            missing.append("SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (Socket Mode)")
        return missing
