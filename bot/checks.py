"""What ``python -m bot check`` verifies, and ``python -m bot`` before it serves: one finding per problem, each
naming what to change and how.

Checks run in the order a new installation meets them: the settings and files (no I/O beyond reading them), the
database, the encryption key against the stored tokens, then Slack (the tokens, the policy's people and groups) and
Conta Azul (each connected company). A finding is *blocking* when Aprova cannot work as configured; a peer that
did not answer just now is not blocking (``python -m bot`` starts anyway and keeps trying).
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import sqlite3
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.settings import Settings
from bot.socket_mode import TRANSIENT as SLACK_TRANSIENT
from bot.socket_mode import UNREACHABLE as SLACK_UNREACHABLE
from bot.socket_mode import slack_error
from bot.wiring import build_contaazul
from ledger import db
from ledger.clock import SystemClock
from ledger.contaazul.connector import has_connections, stored_connections
from ledger.contaazul.crypto import GENERATE_KEY_HINT, TokenCipher
from ledger.errors import GatewayError, PolicyError
from ledger.policy import GROUP_ID, Policy, load_policy
from ledger.receivables import ReceivableRules, load_receivable_rules

POLICY_EXAMPLE = "approval-policy.example.toml"
# The ids approval-policy.example.toml ships with: a policy that still names them was copied and not filled in.
EXAMPLE_APPROVERS = frozenset(
    {"U0000000CFO", "U0000000GES", "S00000DIRET", "U0000000MKT", "U0000000FIN", "U000000FIN2"}
)
MIGRATE = "run `make migrate` (or `python -m bot migrate`)"
SLACK_TIMEOUT_SECONDS = 10


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: ``subject`` is the variable or file to change, ``fix`` what to do."""

    subject: str
    problem: str
    fix: str
    blocking: bool = True  # False: something outside did not answer now; Aprova starts anyway and keeps trying

    def __str__(self) -> str:
        return f"{self.subject}: {self.problem} → {self.fix}"


@dataclass
class Configuration:
    """The files the settings point at, read, and what is wrong with the settings and files."""

    policy: Policy | None = None
    receivables: ReceivableRules | None = None
    findings: list[Finding] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)  # what was verified, for the person running check

    @property
    def blocking(self) -> list[Finding]:
        return [f for f in self.findings if f.blocking]


# --------------------------------------------------------------------------- settings and files (no I/O)

PLACEHOLDER_FIXES = {
    "SLACK_BOT_TOKEN": "copy the Bot User OAuth Token (xoxb-…) from your Slack app's OAuth & Permissions page",
    "SLACK_SIGNING_SECRET": "copy the Signing Secret from your Slack app's Basic Information page (HTTP mode), "
    "or leave it empty in Socket Mode",
    "SLACK_APP_TOKEN": "generate an App-Level Token with connections:write (Basic Information → App-Level Tokens)",
    "APROVA_PUBLIC_URL": "set the https:// address where Conta Azul and Slack reach this Aprova, or leave it empty "
    "when it runs on this machine (Socket Mode)",
    "CONTAAZUL_CLIENT_ID": "copy the client id of your application at the Conta Azul developer portal",
    "CONTAAZUL_CLIENT_SECRET": "copy the client secret of your application at the Conta Azul developer portal",
    "APROVA_ENCRYPTION_KEY": f"generate one with {GENERATE_KEY_HINT}",
    "APROVA_WEBHOOK_SECRET": "set a long random secret (shared with your CRM), or leave it empty",
    "PIPEDRIVE_API_URL": "set https://yourcompany.pipedrive.com, or leave it empty",
    "PIPEDRIVE_API_TOKEN": "copy a Pipedrive API token, or leave it empty",
    "HUBSPOT_CLIENT_SECRET": "copy your HubSpot app's client secret, or leave it empty",
}


def _settings_values(settings: Settings) -> Iterator[tuple[str, str | None]]:
    """Every free-text setting a person pastes, by variable."""
    yield "SLACK_BOT_TOKEN", settings.slack_bot_token
    yield "SLACK_SIGNING_SECRET", settings.slack_signing_secret
    yield "SLACK_APP_TOKEN", settings.slack_app_token
    yield "APROVA_PUBLIC_URL", settings.public_url
    yield "CONTAAZUL_CLIENT_ID", settings.contaazul_client_id
    yield "CONTAAZUL_CLIENT_SECRET", settings.contaazul_client_secret
    yield "APROVA_ENCRYPTION_KEY", settings.encryption_key
    yield "APROVA_WEBHOOK_SECRET", ",".join(settings.webhook_secrets) or None
    yield "PIPEDRIVE_API_URL", settings.pipedrive_api_url
    yield "PIPEDRIVE_API_TOKEN", settings.pipedrive_api_token
    yield "HUBSPOT_CLIENT_SECRET", ",".join(settings.hubspot_client_secrets) or None


def is_placeholder(value: str) -> bool:
    """A value left as the examples write it: ``xoxb-...``, ``…``, an example.com address."""
    host = urlsplit(value).hostname or ""
    return "..." in value or "…" in value or host == "example.com" or host.endswith((".example.com", ".example.org"))


def placeholder_findings(settings: Settings) -> list[Finding]:
    return [
        Finding(name, "still the example value from .env.example", PLACEHOLDER_FIXES[name])
        for name, value in _settings_values(settings)
        if value is not None and is_placeholder(value)
    ]


def slack_credential_findings(settings: Settings) -> list[Finding]:
    findings = []
    if not settings.slack_bot_token:
        findings.append(
            Finding(
                "SLACK_BOT_TOKEN",
                "not set",
                "create the Slack app from manifest.yml (README, “Set up for your workspace”), install it to the "
                "workspace and copy its Bot User OAuth Token (xoxb-…)",
            )
        )
    if not settings.slack_app_token and not settings.slack_signing_secret:
        findings.append(
            Finding(
                "SLACK_APP_TOKEN",
                "neither it nor SLACK_SIGNING_SECRET is set, so Slack cannot reach Aprova",
                "Socket Mode (the manifest's default): an App-Level Token (xapp-…) with connections:write; "
                "HTTP mode: SLACK_SIGNING_SECRET from Basic Information",
            )
        )
    return findings


def encryption_key_findings(settings: Settings) -> list[Finding]:
    """The key's own problems, found without the database."""
    if not settings.encryption_key:
        if not settings.contaazul_configured:
            return []
        return [
            Finding(
                "APROVA_ENCRYPTION_KEY",
                "not set, but Conta Azul is configured: Aprova keeps its tokens encrypted and needs the key",
                f"generate one with {GENERATE_KEY_HINT} and keep it safe (losing it means connecting Conta Azul "
                "again; to rotate, put the new key first: APROVA_ENCRYPTION_KEY=new,old)",
            )
        ]
    try:
        TokenCipher(settings.encryption_key)
    except ValueError as exc:  # the message names the bad key's position, never the key
        problem, _, fix = str(exc).partition("; ")
        return [Finding("APROVA_ENCRYPTION_KEY", problem, fix or f"generate one with {GENERATE_KEY_HINT}")]
    return []


def policy_approvers(policy: Policy) -> dict[str, str]:
    """Every user or group id the policy names, with where (for the message)."""
    named: dict[str, str] = {}
    for rule in policy.rules:
        for step in rule.steps:
            for approver in step.approvers:
                named.setdefault(approver, f"rule “{rule.name}”, step {step.name}")
    for step in policy.default:
        for approver in step.approvers:
            named.setdefault(approver, f"default step {step.name}")
    for approver in policy.fallback:
        named.setdefault(approver, "fallback")
    return named


def read_files(settings: Settings, configuration: Configuration) -> None:
    """The approval policy and the receivables rules, read and validated."""
    path = settings.policy_file
    if not path.exists():
        configuration.findings.append(
            Finding(
                "APROVA_POLICY_FILE",
                f"approval policy file not found: {path}",
                f"copy the example, then put your approvers' Slack ids in it: cp {POLICY_EXAMPLE} {path}",
            )
        )
    else:
        try:
            configuration.policy = load_policy(path)
        except PolicyError as exc:
            configuration.findings.append(Finding("APROVA_POLICY_FILE", str(exc), f"correct {path}"))
    if configuration.policy is not None:
        examples = sorted(set(policy_approvers(configuration.policy)) & EXAMPLE_APPROVERS)
        if examples:
            configuration.findings.append(
                Finding(
                    "APROVA_POLICY_FILE",
                    f"{path} still names the example's approvers ({', '.join(examples)})",
                    "put your people's member ids (Slack profile → ⋮ → Copy member ID) and user group ids (S…) "
                    "in their place",
                )
            )
        else:
            configuration.passed.append(f"approval policy {path}: {len(configuration.policy.rules)} rule(s)")
    try:
        configuration.receivables = load_receivable_rules(settings.receivables_file)
    except PolicyError as exc:
        configuration.findings.append(
            Finding("APROVA_RECEIVABLES_FILE", str(exc), f"correct {settings.receivables_file}")
        )
    else:
        if configuration.receivables is None:
            configuration.passed.append("no receivables file: the deal webhooks are off")
        else:
            configuration.passed.append(f"receivables rules {settings.receivables_file}")


def read_configuration(settings: Settings) -> Configuration:
    """Everything checked without touching the database or the network."""
    configuration = Configuration()
    configuration.findings += placeholder_findings(settings)
    placeholders = {f.subject for f in configuration.findings}
    configuration.findings += [f for f in slack_credential_findings(settings) if f.subject not in placeholders]
    configuration.findings += [f for f in encryption_key_findings(settings) if f.subject not in placeholders]
    read_files(settings, configuration)
    return configuration


# --------------------------------------------------------------------------- database


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error and what it wraps (SQLAlchemy's ``orig``, the driver's ``__cause__``), outermost first."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending += [getattr(current, "orig", None), current.__cause__, current.__context__]


def explain_database_error(error: BaseException, url: str) -> Finding | None:
    """The operator's words for a database that cannot be reached or opened; None for anything else (a bug)."""
    try:
        parsed = db.normalise_url(url)
    except ValueError:
        return None
    if parsed.get_backend_name() == "sqlite":
        return _explain_sqlite(error, parsed)
    return _explain_postgres(error, parsed)


@contextmanager
def database_problems(settings: Settings, found: list[Finding]) -> Iterator[None]:
    """Turns a database error the environment caused into a finding in ``found``; anything else (a bug) raises."""
    try:
        yield
    except Exception as exc:
        finding = explain_database_error(exc, settings.database_url)
        if finding is None:
            raise
        found.append(finding)


def _explain_sqlite(error: BaseException, parsed: URL) -> Finding | None:
    path = parsed.database or ""
    for cause in _causes(error):
        if not isinstance(cause, sqlite3.Error):
            continue
        message = str(cause)
        if "unable to open database file" in message:
            return Finding(
                "DATABASE_URL",
                f"cannot create or open the SQLite file {path}: its folder does not exist or is not writable",
                "create the folder (and let this user write to it), or point DATABASE_URL at another file",
            )
        if "readonly database" in message:
            return Finding(
                "DATABASE_URL", f"the SQLite file {path} is read-only", "let this user write to the file and its folder"
            )
        if "not a database" in message:
            return Finding(
                "DATABASE_URL", f"{path} is not a SQLite database", "point DATABASE_URL at Aprova's database file"
            )
    return None


def _explain_postgres(error: BaseException, parsed: URL) -> Finding | None:
    where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
    name = parsed.database or ""
    for cause in _causes(error):
        if isinstance(cause, asyncpg.InvalidCatalogNameError):
            return Finding(
                "DATABASE_URL",
                f'PostgreSQL at {where} has no database "{name}"',
                f"create it (createdb {name}, or CREATE DATABASE {name}) or correct its name in DATABASE_URL",
            )
        if isinstance(cause, asyncpg.InvalidAuthorizationSpecificationError | asyncpg.InvalidPasswordError):
            ssl_hint = " (the server requires SSL: add ?sslmode=require)" if "no encryption" in str(cause) else ""
            return Finding(
                "DATABASE_URL",
                f"PostgreSQL at {where} refused user {parsed.username or '(none)'}{ssl_hint}: {cause}",
                "correct the user and password in DATABASE_URL, or grant them access",
            )
        if isinstance(cause, socket.gaierror):
            return Finding(
                "DATABASE_URL", f"the database host {parsed.host} is unknown", "correct the host in DATABASE_URL"
            )
        if isinstance(cause, ConnectionRefusedError) or (
            isinstance(cause, OSError) and cause.errno in (errno.ECONNREFUSED, errno.EHOSTUNREACH)
        ):
            return Finding(
                "DATABASE_URL",
                f"nothing answers at {where}",
                "start PostgreSQL, or correct the host and port in DATABASE_URL",
            )
        if isinstance(cause, TimeoutError):
            return Finding(
                "DATABASE_URL", f"PostgreSQL at {where} did not answer in time", "check the host, port and firewall"
            )
        if isinstance(cause, ConnectionError) and "SSL" in str(cause):
            return Finding(
                "DATABASE_URL",
                f"PostgreSQL at {where} does not offer SSL, but DATABASE_URL asks for it (sslmode)",
                "remove ?sslmode=… from DATABASE_URL, or enable SSL on the server",
            )
        if isinstance(cause, ssl.SSLError) or "certificate" in str(cause):
            return Finding(
                "DATABASE_URL",
                f"the SSL connection to {where} failed: {cause}",
                "use ?sslmode=require (encrypted, no certificate check), or install the server's CA certificate",
            )
    return None


def _database_name(settings: Settings) -> str:
    parsed = db.normalise_url(settings.database_url)
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite file {parsed.database}"
    return f"PostgreSQL database {parsed.database} at {parsed.host or 'localhost'}:{parsed.port or 5432}"


def sqlite_folder_finding(settings: Settings) -> Finding | None:
    """A SQLite file that cannot be created: its folder is missing or not writable (found before trying)."""
    parsed = db.normalise_url(settings.database_url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    path = Path(parsed.database)
    folder = path.parent
    if path.exists() or (folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)):
        return None
    why = "does not exist" if not folder.is_dir() else "is not writable by this user"
    return Finding(
        "DATABASE_URL",
        f"cannot create the SQLite file {path}: its folder {why}",
        "create the folder (and let this user write to it), or point DATABASE_URL at another file",
    )


def sqlite_file_missing(settings: Settings) -> Path | None:
    """The SQLite file DATABASE_URL names when it does not exist yet (opening it would create it)."""
    parsed = db.normalise_url(settings.database_url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    path = Path(parsed.database)
    return None if path.exists() else path


async def schema_finding(settings: Settings, engine: AsyncEngine) -> Finding | None:
    """Whether the database is at the latest migration."""
    latest = set(ScriptDirectory.from_config(db.alembic_config(settings.database_url)).get_heads())
    async with engine.connect() as connection:
        current = set(await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_heads()))
    if current == latest:
        return None
    state = "has no Aprova tables yet" if not current else "is at an older schema"
    return Finding("DATABASE_URL", f"the {_database_name(settings)} {state}", MIGRATE)


# --------------------------------------------------------------------------- the encryption key and stored tokens


async def stored_token_findings(settings: Settings, engine: AsyncEngine) -> list[Finding]:
    """Every stored connection's tokens must be readable with the configured key(s)."""
    session_factory = db.create_session_factory(engine)
    if not settings.encryption_key:
        if not await has_connections(session_factory):
            return []
        return [
            Finding(
                "APROVA_ENCRYPTION_KEY",
                "not set, but the database holds Conta Azul tokens encrypted with a key",
                "set it back to the key they were encrypted with",
            )
        ]
    try:
        cipher = TokenCipher(settings.encryption_key)
    except ValueError:
        return []  # already reported by encryption_key_findings
    return [
        Finding(
            "APROVA_ENCRYPTION_KEY",
            f"cannot decrypt the Conta Azul tokens stored for workspace {c.team_id} ({c.company_name}): "
            "the key was replaced or lost",
            "put back the key they were encrypted with, newest first (APROVA_ENCRYPTION_KEY=new,old); if it is "
            "lost, a finance admin runs /contaazul connect again",
            blocking=False,  # Aprova still runs (approvals, a new connect); the admins are told when it matters
        )
        for c in await stored_connections(session_factory, cipher)
        if not c.readable
    ]


# --------------------------------------------------------------------------- Slack


@dataclass
class SlackFacts:
    """What Slack said about the bot token, for the summary."""

    team: str = ""
    bot: str = ""


def _slack_client(settings: Settings, token: str | None = None) -> AsyncWebClient:
    return AsyncWebClient(
        token=token, base_url=settings.slack_api_url, timeout=SLACK_TIMEOUT_SECONDS, retry_handlers=[]
    )


def _unreachable(settings: Settings, exc: BaseException) -> Finding:
    reason = str(exc) or type(exc).__name__
    return Finding(
        "SLACK_API_URL",
        f"Slack did not answer at {settings.slack_api_url} ({reason})",
        "check this machine's network access (or proxy) to Slack, or correct SLACK_API_URL",
        blocking=False,
    )


async def slack_token_findings(settings: Settings, facts: SlackFacts) -> list[Finding]:
    """The bot token (``auth.test``) and the app token (``apps.connections.open``), as Slack sees them."""
    findings: list[Finding] = []
    if settings.slack_bot_token:
        try:
            answer = await _slack_client(settings, settings.slack_bot_token).auth_test()
            facts.team, facts.bot = str(answer.get("team") or ""), str(answer.get("user") or "")
        except SlackApiError as exc:
            findings.append(_refused("SLACK_BOT_TOKEN", exc, PLACEHOLDER_FIXES["SLACK_BOT_TOKEN"]))
        except SLACK_UNREACHABLE as exc:
            return [_unreachable(settings, exc)]
    if settings.slack_app_token:
        try:
            await _slack_client(settings).apps_connections_open(app_token=settings.slack_app_token)
        except SlackApiError as exc:
            findings.append(_refused("SLACK_APP_TOKEN", exc, PLACEHOLDER_FIXES["SLACK_APP_TOKEN"]))
        except SLACK_UNREACHABLE as exc:
            return [*findings, _unreachable(settings, exc)]
    return findings


def _refused(variable: str, exc: SlackApiError, fix: str) -> Finding:
    error = slack_error(exc)
    transient = error in SLACK_TRANSIENT or exc.response.status_code >= 500
    if not isinstance(exc.response.data, dict):
        return Finding(
            "SLACK_API_URL",
            f"{exc.response.api_url} answered {error}, not like Slack's Web API",
            "leave SLACK_API_URL unset (https://slack.com/api/) or correct it",
            blocking=not transient,
        )
    return Finding(variable, f"Slack refuses it ({error})", fix, blocking=not transient)


async def slack_people_findings(settings: Settings, policy: Policy | None) -> list[Finding]:
    """Every finance admin and every person and group the policy names must exist in the workspace."""
    client = _slack_client(settings, settings.slack_bot_token)
    named = policy_approvers(policy) if policy is not None else {}
    wanted = {approver: f"{settings.policy_file} ({where})" for approver, where in named.items()}
    wanted |= {admin: "APROVA_FINANCE_ADMINS" for admin in settings.finance_admins}
    wanted = {k: v for k, v in wanted.items() if k not in EXAMPLE_APPROVERS}  # reported as placeholders already

    async def look_up(slack_id: str, where: str) -> Finding | None:
        subject = "APROVA_FINANCE_ADMINS" if where == "APROVA_FINANCE_ADMINS" else "APROVA_POLICY_FILE"
        try:
            if GROUP_ID.match(slack_id):
                await client.usergroups_users_list(usergroup=slack_id)
                return None
            user = (await client.users_info(user=slack_id))["user"]
        except SlackApiError as exc:
            error = slack_error(exc)
            if error in ("user_not_found", "no_such_subteam", "subteam_not_found"):
                kind = "user group" if GROUP_ID.match(slack_id) else "person"
                return Finding(
                    subject,
                    f"{slack_id} ({where}) is not a {kind} of this Slack workspace",
                    "copy the id again (a profile's ⋮ → Copy member ID; a group's page for S…)",
                )
            if error == "missing_scope":
                return Finding(
                    "SLACK_BOT_TOKEN",
                    f"the app may not read {slack_id} (missing_scope)",
                    "add the scopes of manifest.yml (users:read, usergroups:read) and reinstall the app",
                )
            return Finding(subject, f"Slack could not say who {slack_id} is ({error})", "run the check again later")
        except SLACK_UNREACHABLE as exc:
            return _unreachable(settings, exc)
        if user.get("deleted"):
            return Finding(subject, f"{slack_id} ({where}) is deactivated in Slack", "name someone else")
        return None

    found = await asyncio.gather(*(look_up(slack_id, where) for slack_id, where in sorted(wanted.items())))
    unreachable = [f for f in found if f is not None and f.subject == "SLACK_API_URL"]
    return unreachable[:1] or [f for f in found if f is not None]


# --------------------------------------------------------------------------- Conta Azul


async def contaazul_company_findings(settings: Settings, engine: AsyncEngine, passed: list[str]) -> list[Finding]:
    """Each connected company answers (its tokens work), found through the same client that posts."""
    if not settings.contaazul_configured or not settings.encryption_key:
        return []
    session_factory = db.create_session_factory(engine)
    books = build_contaazul(settings, SystemClock(settings.timezone), session_factory)
    if books is None:
        return []
    findings = []
    try:
        connections = [c for c in await stored_connections(session_factory, books.cipher) if c.readable]
        if not connections:
            passed.append("Conta Azul configured; not connected yet: a finance admin runs /contaazul connect")
        for connection in connections:
            try:
                company = await books.client(connection.team_id).connected_company()
            except GatewayError as exc:
                findings.append(contaazul_finding(connection.team_id, exc))
            else:
                passed.append(f"Conta Azul: workspace {connection.team_id} posts to {company.name}")
    finally:
        await books.aclose()
    return findings


def contaazul_finding(team_id: str, exc: GatewayError) -> Finding:
    if exc.code in ("needs_reconnect", "code_invalid", "refresh_invalid"):
        return Finding(
            "Conta Azul",
            f"workspace {team_id}: Conta Azul refused the stored authorization ({exc.code})",
            "a finance admin runs /contaazul connect again",
        )
    status = f"HTTP {exc.status}" if exc.status else exc.code
    return Finding(
        "CONTAAZUL_API_URL",
        f"workspace {team_id}: Conta Azul did not answer as expected ({status})",
        "check CONTAAZUL_API_URL and this machine's access to it, then run the check again",
        blocking=exc.code != "unavailable",
    )
