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
        }
    )
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
    """A clean environment with a valid policy file."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY, encoding="utf-8")
    monkeypatch.setenv("APROVA_POLICY_FILE", str(policy))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'never-created.db'}")
    return monkeypatch


def test_check_names_missing_slack_credentials(environment, capsys, tmp_path):
    assert bot.__main__.main(["check"]) == 2
    err = capsys.readouterr().err
    assert "SLACK_BOT_TOKEN" in err
    assert "SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (Socket Mode)" in err
    assert "manifest.yml" in err
    assert not (tmp_path / "never-created.db").exists()  # check touches no database


def test_check_names_the_one_missing_credential(environment, capsys):
    environment.setenv("SLACK_SIGNING_SECRET", "secret")
    assert bot.__main__.main(["check"]) == 2
    err = capsys.readouterr().err
    assert "SLACK_BOT_TOKEN" in err and "SLACK_SIGNING_SECRET" not in err


def test_check_reports_a_broken_policy(environment, capsys, tmp_path):
    environment.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    environment.setenv("SLACK_APP_TOKEN", "xapp-1")
    broken = tmp_path / "broken.toml"
    broken.write_text('[default]\nsteps = [{ name = "Financeiro", approvers = ["bob"] }]\n', encoding="utf-8")
    environment.setenv("APROVA_POLICY_FILE", str(broken))
    assert bot.__main__.main(["check"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Approval policy error:")
    assert str(broken) in err and "default.steps[0]" in err and "'bob'" in err


def test_check_reports_a_missing_policy(environment, capsys, tmp_path):
    environment.setenv("APROVA_POLICY_FILE", str(tmp_path / "absent.toml"))
    assert bot.__main__.main(["check"]) == 2
    assert "approval policy file not found" in capsys.readouterr().err


def test_check_reports_a_bad_setting(environment, capsys):
    environment.setenv("PORT", "eighty")
    assert bot.__main__.main(["check"]) == 2
    assert "Configuration error: PORT must be a TCP port number" in capsys.readouterr().err


def test_check_passes_when_all_is_set(environment, capsys):
    environment.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    environment.setenv("SLACK_SIGNING_SECRET", "secret")
    assert bot.__main__.main(["check"]) == 0
    out, err = capsys.readouterr()
    assert "Configuration and approval policy are valid; no receivables file (deal webhooks off)." in out
    assert err == ""


def test_check_reports_a_bad_receivables_file(environment, capsys, tmp_path):
    environment.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    environment.setenv("SLACK_SIGNING_SECRET", "secret")
    rules = tmp_path / "receivables.toml"
    rules.write_text('category = "Vendas"\ndue_days = "thirty"\n', encoding="utf-8")
    environment.setenv("APROVA_RECEIVABLES_FILE", str(rules))
    assert bot.__main__.main(["check"]) == 2
    assert "Receivables error: receivables file" in capsys.readouterr().err
    rules.write_text('category = "Vendas de Produtos"\n', encoding="utf-8")
    assert bot.__main__.main(["check"]) == 0
    assert f"{rules} is valid" in capsys.readouterr().out
