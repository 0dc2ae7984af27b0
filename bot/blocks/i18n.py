"""Words and formats for people: pt-BR first, English second. Babel formats money and dates."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency

from bot.blocks.catalogue import Locale as Locale  # re-exported: the rest of bot/ imports it from here
from bot.blocks.catalogue import contaazul, home, requests, rules

DATE_FORMATS: dict[Locale, str] = {"pt_BR": "dd/MM/yyyy", "en": "MMM d, yyyy"}
MOMENT_FORMATS: dict[Locale, str] = {"pt_BR": "dd/MM/yyyy HH:mm", "en": "MMM d, yyyy h:mm a"}


def pick_locale(slack_locale: str | None, default: Locale = "pt_BR") -> Locale:
    """Slack's ``users.info`` locale (``en-US``, ``pt-BR``…) to one of ours."""
    if not slack_locale:
        return default
    language = slack_locale.replace("_", "-").split("-")[0].lower()
    if language == "en":
        return "en"
    if language == "pt":
        return "pt_BR"
    return default


# Formatting is pure and Babel's is slow next to the rest of a message: the same values come back in every message
# of a request, so they are formatted once.
@lru_cache(maxsize=8192)
def money(amount: Decimal, locale: Locale) -> str:
    """R$ 1.234,56 (pt-BR) or R$1,234.56 (en), with a regular space so Slack never wraps oddly."""
    return format_currency(amount, "BRL", locale="pt_BR" if locale == "pt_BR" else "en_US").replace("\xa0", " ")


@lru_cache(maxsize=8192)
def day(value: date, locale: Locale) -> str:
    return format_date(value, DATE_FORMATS[locale], locale="pt_BR" if locale == "pt_BR" else "en_US")


@lru_cache(maxsize=8192)
def moment(value: datetime, locale: Locale, tz: ZoneInfo) -> str:
    return format_datetime(
        value, MOMENT_FORMATS[locale], tzinfo=tz, locale="pt_BR" if locale == "pt_BR" else "en_US"
    ).replace("\u202f", " ")


def t(locale: Locale, key: str, **params: object) -> str:
    """The text for ``key`` in ``locale``, with ``{placeholders}`` filled in."""
    entry = MESSAGES.get(key)
    if entry is None:
        return key
    return entry[locale].format(**params) if params else entry[locale]


# The catalogue lives in bot/blocks/catalogue, one module per surface; a key defined twice is a start-up error.
MESSAGES: dict[str, dict[Locale, str]] = {}
for _part in (requests.MESSAGES, contaazul.MESSAGES, home.MESSAGES, rules.MESSAGES):
    if _twice := MESSAGES.keys() & _part.keys():
        raise RuntimeError(f"message keys defined twice: {sorted(_twice)}")
    MESSAGES |= _part
