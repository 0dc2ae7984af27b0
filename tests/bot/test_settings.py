"""Settings from the environment, and ``python -m bot check`` telling people what is missing or wrong."""

from __future__ import annotations

import inspect
import re
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import bot.__main__
import bot.settings
from bot.settings import Settings, SettingsError

POLICY = '[default]\nsteps = [{ name = "Financeiro", approvers = ["U0FIN"] }]\n'

# Every variable Settings.from_env reads, so a developer's own environment cannot leak into these tests.
VARIABLES = sorted(set(re.findall(r'get\("([A-Z0-9_]+)"\)', inspect.getsource(bot.settings))))


def test_defaults():
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.database_url == "sqlite:///aprova.db"
    assert settings.slack_api_url == "https://slack.com/api/"
    assert (settings.port, settings.host) == (3000, "0.0.0.0")
    assert settings.payment_commands == ("/pagamento", "/payment")
    assert settings.default_locale == "pt_BR"
    assert settings.timezone == ZoneInfo("America/Sao_Paulo")
    assert settings.policy_file == Path("approval-policy.toml")
    assert settings.finance_admins == ()
    assert settings.slack_bot_token is None and settings.slack_app_token is None
    assert not settings.contaazul_api_url_set
    # Conta Azul's docs have said 10/s and 600/min, and 20/s and 500/min: the stricter of each.
    assert (settings.contaazul_rate_per_second, settings.contaazul_rate_per_minute) == (10, 500)


def test_blank_values_count_as_unset():
    assert Settings.from_env({name: "  " for name in VARIABLES}) == Settings()


def test_values_are_read_and_normalised():
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://aprova@db/aprova",
            "SLACK_API_URL": "http://localhost:4000/api",
            "PORT": "8080",
            "APROVA_PAYMENT_COMMANDS": "/pagar, /pay ,",
            "APROVA_FINANCE_ADMINS": "U0FIN1, U0FIN2",
            "APROVA_TIMEZONE": "America/Manaus",
            "APROVA_DEFAULT_LOCALE": "en",
            "APROVA_POLICY_FILE": "/etc/aprova/policy.toml",
            "APROVA_PUBLIC_URL": "https://aprova.example.com/",
            "CONTAAZUL_API_URL": "http://localhost:5000/",
            "LOG_LEVEL": "debug",
            "APROVA_READYZ_TOKEN": " ops-token ",
        }
    )
    assert settings.readyz_token == "ops-token"
    assert settings.slack_files_origin == "http://localhost:4000/"  # a stand-in serves its own files
    assert settings.database_url == "postgresql://aprova@db/aprova"
    assert settings.slack_api_url == "http://localhost:4000/api/"  # trailing slash added
    assert settings.port == 8080
    assert settings.payment_commands == ("/pagar", "/pay")
    assert settings.finance_admins == ("U0FIN1", "U0FIN2")
    assert settings.timezone == ZoneInfo("America/Manaus")
    assert settings.default_locale == "en"
    assert settings.policy_file == Path("/etc/aprova/policy.toml")
    assert settings.public_url == "https://aprova.example.com"
    assert (settings.contaazul_api_url, settings.contaazul_api_url_set) == ("http://localhost:5000", True)
    assert settings.log_level == "DEBUG"
    assert Settings.from_env({"SLACK_API_URL": "http://x/api/"}).slack_api_url == "http://x/api/"


def test_job_timing_and_create_route_are_read():
    settings = Settings.from_env(
        {
            "APROVA_REMIND_AFTER_HOURS": "8",
            "APROVA_ESCALATE_AFTER_HOURS": "30",
            "APROVA_DIGEST_HOUR": "0",
            "CONTAAZUL_CREATE_ROUTE": "ASYNC",
            "PORT": "0",
            "CONTAAZUL_RATE_PER_SECOND": "5",
            "CONTAAZUL_RATE_PER_MINUTE": "300",
        }
    )
    assert (settings.contaazul_rate_per_second, settings.contaazul_rate_per_minute) == (5, 300)
    assert (settings.remind_after, settings.escalate_after) == (timedelta(hours=8), timedelta(hours=30))
    assert (settings.digest_hour, settings.contaazul_create_route, settings.port) == (0, "async", 0)


@pytest.mark.parametrize(
    ("environ", "fragments"),
    [
        ({"PORT": "http"}, ["PORT", "'http'"]),
        ({"PORT": "65536"}, ["PORT", "'65536'"]),
        ({"PORT": "70000"}, ["PORT", "'70000'"]),
        ({"PORT": "-1"}, ["PORT"]),
        ({"APROVA_TIMEZONE": "Brasil/Sao_Paulo"}, ["APROVA_TIMEZONE", "'Brasil/Sao_Paulo'", "time zone"]),
        ({"APROVA_TIMEZONE": "../../etc/passwd"}, ["APROVA_TIMEZONE"]),
        ({"APROVA_DEFAULT_LOCALE": "pt-BR"}, ["APROVA_DEFAULT_LOCALE", "pt_BR or en"]),
        ({"APROVA_PAYMENT_COMMANDS": "/pagamento,payment"}, ["APROVA_PAYMENT_COMMANDS", "slash commands"]),
        ({"CONTAAZUL_CREATE_ROUTE": "fast"}, ["CONTAAZUL_CREATE_ROUTE", "sync or async", "'fast'"]),
        ({"APROVA_REMIND_AFTER_HOURS": "0"}, ["APROVA_REMIND_AFTER_HOURS", "at least 1"]),
        ({"APROVA_REMIND_AFTER_HOURS": "12h"}, ["APROVA_REMIND_AFTER_HOURS", "'12h'"]),
        ({"APROVA_REMIND_AFTER_HOURS": "72"}, ["APROVA_ESCALATE_AFTER_HOURS (72) must be more than"]),
        ({"APROVA_DIGEST_HOUR": "24"}, ["APROVA_DIGEST_HOUR", "from 0 to 23"]),
        ({"CONTAAZUL_RATE_PER_SECOND": "0"}, ["CONTAAZUL_RATE_PER_SECOND", "from 1 to 100"]),
        ({"LOG_FORMAT": "xml"}, ["LOG_FORMAT", "json or text"]),
        ({"CONTAAZUL_TIMEOUT_SECONDS": "0"}, ["CONTAAZUL_TIMEOUT_SECONDS", "from 1 to 120"]),
        (
            {"CONTAAZUL_TIMEOUT_SECONDS": "30", "APROVA_POSTING_LEASE_SECONDS": "60"},
            ["APROVA_POSTING_LEASE_SECONDS (60) must be at least 3 × CONTAAZUL_TIMEOUT_SECONDS (30)"],
        ),
    ],
)
def test_bad_values_are_named(environ, fragments):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(environ)
    for fragment in fragments:
        assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("environ", "missing"),
    [
        ({}, ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (Socket Mode)"]),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, ["SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (Socket Mode)"]),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}, []),  # HTTP mode
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"}, []),  # Socket Mode needs no signing secret
        ({"SLACK_APP_TOKEN": "xapp-1"}, ["SLACK_BOT_TOKEN"]),
    ],
)
def test_missing_for_slack(environ, missing):
    assert Settings.from_env(environ).missing_for_slack() == missing


def test_variables_are_found_in_the_source():
    assert {"SLACK_BOT_TOKEN", "PORT", "APROVA_TIMEZONE", "APROVA_POLICY_FILE", "DATABASE_URL"} <= set(VARIABLES)


# --------------------------------------------------------------------------- python -m bot check


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A clean environment with a valid policy file, run from an empty folder (no .env)."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY, encoding="utf-8")
    monkeypatch.setenv("APROVA_POLICY_FILE", str(policy))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'never-created.db'}")
    return monkeypatch


def test_check_names_missing_slack_credentials(environment, capsys, tmp_path):
    assert bot.__main__.main(["check"]) == 1
    err = capsys.readouterr().err
    assert "✗ SLACK_BOT_TOKEN: not set → create the Slack app from manifest.yml" in err
    assert "✗ SLACK_APP_TOKEN: neither it nor SLACK_SIGNING_SECRET is set" in err
    assert "✗ DATABASE_URL: the SQLite file" in err and "does not exist yet → run `make migrate`" in err
    assert not (tmp_path / "never-created.db").exists()  # check creates no database


def test_check_names_the_one_missing_credential(environment, capsys):
    environment.setenv("SLACK_SIGNING_SECRET", "secret")
    assert bot.__main__.main(["check"]) == 1
    err = capsys.readouterr().err
    assert "SLACK_BOT_TOKEN" in err and "SLACK_SIGNING_SECRET" not in err


def test_check_reports_a_broken_policy(environment, capsys, tmp_path):
    environment.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    environment.setenv("SLACK_APP_TOKEN", "xapp-1")
    broken = tmp_path / "broken.toml"
    broken.write_text('[default]\nsteps = [{ name = "Financeiro", approvers = ["bob"] }]\n', encoding="utf-8")
    environment.setenv("APROVA_POLICY_FILE", str(broken))
    assert bot.__main__.main(["check"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("✗ APROVA_POLICY_FILE: approval policy")
    assert str(broken) in err and "default.steps[0]" in err and "'bob'" in err


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"\xff\xfe[default]", "is not UTF-8 text (byte 0): save it as UTF-8"),
        (None, "is a folder, not a file: point it at the .toml file"),
    ],
)
def test_check_explains_a_policy_file_it_cannot_read(environment, capsys, tmp_path, content, problem):
    path = tmp_path / "unreadable.toml"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    environment.setenv("APROVA_POLICY_FILE", str(path))
    assert bot.__main__.main(["check"]) == 1
    assert f"✗ APROVA_POLICY_FILE: approval policy {path} {problem}" in capsys.readouterr().err


def test_check_names_the_example_to_copy_when_the_policy_is_missing(environment, capsys, tmp_path):
    environment.setenv("APROVA_POLICY_FILE", str(tmp_path / "absent.toml"))
    assert bot.__main__.main(["check"]) == 1
    err = capsys.readouterr().err
    assert "approval policy file not found" in err
    assert f"cp approval-policy.example.toml {tmp_path / 'absent.toml'}" in err


def test_check_reports_every_bad_setting_at_once(environment, capsys):
    environment.setenv("PORT", "eighty")
    environment.setenv("LOG_LEVEL", "VERBOSE")
    assert bot.__main__.main(["check"]) == 1
    err = capsys.readouterr().err
    assert "✗ PORT must be a TCP port number" in err
    assert "✗ LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL (got 'VERBOSE')" in err


def test_check_reports_a_bad_receivables_file(environment, capsys, tmp_path):
    environment.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    environment.setenv("SLACK_SIGNING_SECRET", "secret")
    rules = tmp_path / "receivables.toml"
    rules.write_text('category = "Vendas"\ndue_days = "thirty"\n', encoding="utf-8")
    environment.setenv("APROVA_RECEIVABLES_FILE", str(rules))
    assert bot.__main__.main(["check"]) == 1
    assert "✗ APROVA_RECEIVABLES_FILE: receivables file" in capsys.readouterr().err
    rules.write_text('category = "Vendas de Produtos"\n', encoding="utf-8")
    bot.__main__.main(["check"])
    out, err = capsys.readouterr()
    assert f"✓ receivables rules {rules}" in out and "APROVA_RECEIVABLES_FILE" not in err


@pytest.mark.parametrize(
    ("environ", "fragments"),
    [
        ({"DATABASE_URL": "notaurl"}, ["DATABASE_URL must be sqlite:///aprova.db", "not a database address"]),
        ({"DATABASE_URL": "mysql://aprova:s3cret@db/aprova"}, ["DATABASE_URL", "got a mysql:// address"]),
        ({"APROVA_PUBLIC_URL": "aprova.empresa.com.br"}, ["APROVA_PUBLIC_URL must be a web address", "https://"]),
        ({"SLACK_API_URL": "slack.com/api"}, ["SLACK_API_URL must be a web address"]),
        ({"APROVA_FINANCE_ADMINS": "U0FIN1,bob"}, ["APROVA_FINANCE_ADMINS", "'bob' is not one", "Copy member ID"]),
        ({"APROVA_REQUESTS_CHANNEL": "#pedidos"}, ["APROVA_REQUESTS_CHANNEL must be a channel id (C…)", "'#pedidos'"]),
        ({"APROVA_FINANCE_CHANNEL": "financeiro"}, ["APROVA_FINANCE_CHANNEL must be a channel id"]),
        ({"SLACK_BOT_TOKEN": "xoxp-a-user-token"}, ["SLACK_BOT_TOKEN must be the Bot User OAuth Token", "xoxb-"]),
        ({"SLACK_APP_TOKEN": "xoxb-not-an-app-token"}, ["SLACK_APP_TOKEN must be an App-Level Token", "xapp-"]),
        ({"CONTAAZUL_CLIENT_ID": "client"}, ["CONTAAZUL_CLIENT_SECRET is not set, but CONTAAZUL_CLIENT_ID is"]),
        ({"CONTAAZUL_CLIENT_SECRET": "secret"}, ["CONTAAZUL_CLIENT_ID is not set, but CONTAAZUL_CLIENT_SECRET is"]),
        ({"LOG_LEVEL": "verbose"}, ["LOG_LEVEL must be one of"]),
    ],
)
def test_shapes_are_checked(environ, fragments):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(environ)
    for fragment in fragments:
        assert fragment in str(caught.value)
    assert "s3cret" not in str(caught.value) and "xoxp-a-user-token" not in str(caught.value)


def test_every_problem_is_reported_at_once():
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"PORT": "http", "APROVA_DIGEST_HOUR": "24", "DATABASE_URL": "notaurl"})
    assert [p.split(" ")[0] for p in caught.value.problems] == ["APROVA_DIGEST_HOUR", "DATABASE_URL", "PORT"]


def test_env_file_fills_in_what_the_environment_does_not_set(monkeypatch, tmp_path):
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PORT", "8080")
    monkeypatch.setenv("APROVA_DIGEST_HOUR", "")
    monkeypatch.delenv("APROVA_DIGEST_HOUR")  # recorded, so what the .env file sets is undone after the test
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=9999  # ignored: already set\nAPROVA_DIGEST_HOUR=6\n", encoding="utf-8")
    assert bot.settings.load_env_file(env_file)
    settings = Settings.from_env()
    assert (settings.port, settings.digest_hour) == (8080, 6)
    assert not bot.settings.load_env_file(tmp_path / "absent")
    env_file.write_bytes(b"PORT=\xff\n")
    with pytest.raises(SettingsError, match=r"\.env is not UTF-8 text"):
        bot.settings.load_env_file(env_file)
