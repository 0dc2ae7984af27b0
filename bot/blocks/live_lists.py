"""Options for the request modal's live lists (external selects fed by Conta Azul)."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Option

from bot.blocks.fields import clip
from bot.blocks.i18n import Locale, t
from ledger.contaazul.models import Category, CostCenter, Person
from ledger.names import name_key

MAX_OPTIONS = 100  # Slack shows at most 100 options
MAX_VALUE = 150  # Slack's limit for an option value; the value is the exact name, so longer names are left out


def _matching(names: Sequence[str], typed: str) -> list[str]:
    wanted = name_key(typed)
    return [n for n in names if len(n) <= MAX_VALUE and (not wanted or wanted in name_key(n))]


def category_options(categories: Sequence[Category], typed: str) -> list[Option]:
    """Existing categories only: a request can never carry a category Conta Azul does not have."""
    parents = {c.id: c.name for c in categories}
    by_name = {c.name: c for c in categories}
    names = sorted(_matching(list(by_name), typed), key=name_key)[:MAX_OPTIONS]

    def label(name: str) -> str:
        parent = parents.get(by_name[name].parent_id or "")
        return clip(f"{parent} › {name}" if parent else name, 75)

    return [Option(value=name, text=label(name)) for name in names]


def cost_center_options(cost_centers: Sequence[CostCenter], typed: str, *, locale: Locale) -> list[Option]:
    """Active cost centers matching what was typed, plus "create" when the typed name is new."""
    names = sorted(_matching([c.name for c in cost_centers if c.active], typed), key=name_key)
    return _with_new(names, typed, "options.new_cost_center", locale)


def vendor_options(
    people: Sequence[Person], typed: str, *, locale: Locale, new_key: str = "options.new_vendor"
) -> list[Option]:
    """Suppliers (or customers) matching what was typed, plus "new …" when the typed name is not one of them."""
    names = sorted(dict.fromkeys(_matching([p.name for p in people], typed)), key=name_key)
    return _with_new(names, typed, new_key, locale)


def _with_new(names: list[str], typed: str, label_key: str, locale: Locale) -> list[Option]:
    options = [Option(value=n, text=clip(n, 75)) for n in names[: MAX_OPTIONS - 1]]
    cleaned = " ".join(typed.split())
    if cleaned and len(cleaned) <= MAX_VALUE and name_key(cleaned) not in {name_key(n) for n in names}:
        options.insert(0, Option(value=cleaned, text=clip(t(locale, label_key, name=cleaned), 75)))
    return options
