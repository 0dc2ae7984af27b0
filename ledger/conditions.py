"""What a rule of the approval policy asks of a request: one class per condition, each reading and writing its own
TOML keys.

A rule matches when every condition it names holds. Adding a condition is a class here (``KEYS``, ``matches``,
``load``, ``dump``) listed in ``CONDITIONS``, and its editor in ``bot.blocks.rules``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Protocol, Self

from ledger.errors import PolicyError
from ledger.names import name_key


class Condition(Protocol):
    """One condition of a rule, loaded from and dumped to the rule's TOML table."""

    KEYS: ClassVar[tuple[str, ...]]  # the rule keys it owns

    def matches(self, amount: Decimal, category: str, cost_center: str | None) -> bool:
        """Whether a request with these facts meets the condition."""
        ...

    @classmethod
    def load(cls, raw: Mapping[str, Any], where: str) -> Condition | None:
        """The condition a rule's table sets; None when it sets none of ``KEYS``.

        Raises:
            PolicyError: A key holds something invalid; the message starts with ``where`` (``rules[0]``).
        """
        ...

    def dump(self) -> dict[str, Any]:
        """The rule keys as the policy file writes them (``load`` gives the same condition back)."""
        ...


@dataclass(frozen=True, slots=True)
class AmountRange:
    """The amount is at least ``min_amount`` and below ``max_amount``; either bound may be absent."""

    KEYS: ClassVar[tuple[str, ...]] = ("min_amount", "max_amount")

    min_amount: Decimal | None = None  # inclusive
    max_amount: Decimal | None = None  # exclusive

    def matches(self, amount: Decimal, category: str, cost_center: str | None) -> bool:
        return (self.min_amount is None or amount >= self.min_amount) and (
            self.max_amount is None or amount < self.max_amount
        )

    @classmethod
    def load(cls, raw: Mapping[str, Any], where: str) -> Self | None:
        low = _amount(raw.get("min_amount"), f"{where}.min_amount")
        high = _amount(raw.get("max_amount"), f"{where}.max_amount")
        if low is not None and high is not None and low >= high:
            raise PolicyError(f"{where}: min_amount must be less than max_amount", field="max_amount")
        return None if low is None and high is None else cls(low, high)

    def dump(self) -> dict[str, Any]:
        # A string keeps the digits as written ("10000.00") and stores as JSON, which a Decimal would not.
        bounds = {"min_amount": self.min_amount, "max_amount": self.max_amount}
        return {key: str(value) for key, value in bounds.items() if value is not None}


def _amount(raw: Any, where: str) -> Decimal | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, str | int | Decimal):
        raise PolicyError(f'{where} must be a number or a string like "10000.00"')
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise PolicyError(f"{where}: {raw!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise PolicyError(f"{where} must be zero or more")
    return value


@dataclass(frozen=True, slots=True)
class Names:
    """A fact of the request is any of ``names``, kept as written and compared by ``name_key`` (case and accents
    ignored). Its one key is ``KEYS[0]``."""

    KEYS: ClassVar[tuple[str, ...]]

    names: tuple[str, ...]
    _keys: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_keys", frozenset(name_key(n) for n in self.names))

    def _holds(self, name: str | None) -> bool:
        return name is not None and name_key(name) in self._keys

    @classmethod
    def load(cls, raw: Mapping[str, Any], where: str) -> Self | None:
        key = cls.KEYS[0]
        names = raw.get(key, [])
        if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
            raise PolicyError(f"{where}.{key} must be a list of names")
        return cls(tuple(names)) if names else None

    def dump(self) -> dict[str, Any]:
        return {self.KEYS[0]: list(self.names)}


@dataclass(frozen=True, slots=True)
class Categories(Names):
    """The request's category is one of ``names``."""

    KEYS: ClassVar[tuple[str, ...]] = ("categories",)

    def matches(self, amount: Decimal, category: str, cost_center: str | None) -> bool:
        return self._holds(category)


@dataclass(frozen=True, slots=True)
class CostCenters(Names):
    """The request has a cost center, one of ``names``."""

    KEYS: ClassVar[tuple[str, ...]] = ("cost_centers",)

    def matches(self, amount: Decimal, category: str, cost_center: str | None) -> bool:
        return self._holds(cost_center)


# Every condition a rule may name, in the order the rules editor shows them.
CONDITIONS: tuple[type[Condition], ...] = (AmountRange, Categories, CostCenters)
