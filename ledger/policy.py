"""Who approves what: ordered steps chosen by the first matching rule of a TOML policy file.

Example (see ``approval-policy.example.toml``)::

    fallback = ["U0CFO"]                       # when a step is left with nobody but the requester

    [[rules]]
    name = "Acima de R$ 10 mil"
    min_amount = "10000.00"                    # inclusive
    max_amount = "1000000.00"                  # exclusive (optional)
    categories = ["Marketing e Publicidade"]   # optional; any of them
    cost_centers = ["Comercial"]               # optional; any of them
    steps = [{ name = "Gestor", approvers = ["U0GESTOR"] },
             { name = "Diretoria", approvers = ["S0DIRETORIA"] }]   # S… is a Slack user group

    [default]
    steps = [{ name = "Financeiro", approvers = ["U0FIN1", "U0FIN2"] }]

A rule's conditions (amount range, categories, cost centers) are classes of ``ledger.conditions``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from ledger.conditions import CONDITIONS, Condition
from ledger.domain import PlannedStep
from ledger.errors import NoApprover, PolicyError
from ledger.ports import Directory

USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
GROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")

C = TypeVar("C", bound=Condition)


@dataclass(frozen=True, slots=True)
class StepRule:
    name: str
    approvers: tuple[str, ...]  # user ids and user group ids, in order

    def dump(self) -> dict[str, Any]:
        return {"name": self.name, "approvers": list(self.approvers)}


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    steps: tuple[StepRule, ...]
    conditions: tuple[Condition, ...] = ()  # all must hold; none: any request

    def matches(self, amount: Decimal, category: str, cost_center: str | None) -> bool:
        return all(c.matches(amount, category, cost_center) for c in self.conditions)

    def condition(self, kind: type[C]) -> C | None:
        """The rule's condition of that kind, if it names one."""
        return next((c for c in self.conditions if isinstance(c, kind)), None)

    def dump(self) -> dict[str, Any]:
        """The rule as the policy file writes it."""
        raw: dict[str, Any] = {"name": self.name}
        for condition in self.conditions:
            raw |= condition.dump()
        return raw | {"steps": [step.dump() for step in self.steps]}


@dataclass(frozen=True, slots=True)
class Policy:
    rules: tuple[Rule, ...]
    default: tuple[StepRule, ...]
    fallback: tuple[str, ...] = ()

    def rule_for(self, amount: Decimal, category: str, cost_center: str | None) -> Rule:
        for rule in self.rules:
            if rule.matches(amount, category, cost_center):
                return rule
        return Rule(name="default", steps=self.default)

    def with_rule(self, rule: Rule, *, at: int | None = None) -> Policy:
        """The policy with ``rule`` in place of the rule at index ``at``, or added last."""
        rules = list(self.rules)
        if at is None:
            rules.append(rule)
        else:
            rules[at] = rule
        return replace(self, rules=tuple(rules))

    def without_rule(self, index: int) -> Policy:
        """The policy without the rule at ``index``."""
        return replace(self, rules=self.rules[:index] + self.rules[index + 1 :])

    def with_rule_moved(self, index: int, to: int) -> Policy:
        """The policy with the rule at ``index`` moved to index ``to``, the others keeping their order."""
        rules = list(self.rules)
        rules.insert(to, rules.pop(index))
        return replace(self, rules=tuple(rules))

    def dump(self) -> dict[str, Any]:
        """The policy in the file's shape (what a saved version stores); ``parse_policy`` reads it back."""
        return {
            "fallback": list(self.fallback),
            "rules": [rule.dump() for rule in self.rules],
            "default": {"steps": [step.dump() for step in self.default]},
        }

    async def plan(
        self,
        *,
        amount: Decimal,
        category: str,
        cost_center: str | None,
        requester_id: str,
        directory: Directory,
        delegates: Mapping[str, str] | None = None,
    ) -> list[PlannedStep]:
        """The steps for a request, approvers resolved, the requester removed from every step.

        Segregation of duties: a person holds at most one step, the first that names them (directly, through a
        group or as a delegate), so nobody can approve a request twice. A step left empty goes to the fallback
        approvers not already holding a step; with nobody left at all, it is NoApprover.
        ``delegates`` maps an approver who is away to who decides instead.
        """
        delegates = delegates or {}
        planned: list[PlannedStep] = []
        holding: set[str] = {requester_id}
        for step in self.rule_for(amount, category, cost_center).steps:
            # Someone away hands their approvals to their delegate for the time being.
            resolved = [delegates.get(p, p) for p in await _resolve(step.approvers, directory)]
            people = [p for p in dict.fromkeys(resolved) if p not in holding]
            if not people:
                people = [p for p in await _resolve(self.fallback, directory) if p not in holding]
            if not people:
                raise NoApprover(
                    f"step {step.name!r} has no approver who is neither the requester nor on another step",
                    step=step.name,
                )
            holding.update(people)
            planned.append(PlannedStep(name=step.name, approvers=tuple(people)))
        return planned

    async def fallback_approvers(self, directory: Directory) -> list[str]:
        """The fallback approvers as user ids, groups expanded (escalation adds them to a waiting step)."""
        return await _resolve(self.fallback, directory)


async def _resolve(refs: tuple[str, ...], directory: Directory) -> list[str]:
    people: list[str] = []
    for ref in refs:
        members = await directory.group_members(ref) if GROUP_ID.match(ref) else [ref]
        people.extend(m for m in members if m not in people)
    return people


def read_toml_file(path: Path, what: str, **options: Any) -> dict[str, Any]:
    """A TOML file's contents; ``what`` names the file in messages ("approval policy").

    Raises:
        FileNotFoundError: There is no such file (the caller decides what that means).
        PolicyError: It cannot be read (a folder, no permission, not UTF-8) or is not valid TOML.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise
    except IsADirectoryError:
        raise PolicyError(f"{what} {path} is a folder, not a file: point it at the .toml file") from None
    except UnicodeDecodeError as exc:
        raise PolicyError(
            f"{what} {path} is not UTF-8 text (byte {exc.start}): save it as UTF-8 in your editor"
        ) from None
    except OSError as exc:
        raise PolicyError(f"{what} {path} cannot be read: {exc.strerror}") from None
    try:
        return tomllib.loads(text, **options)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{what} {path} is not valid TOML: {exc}") from None


def load_policy(path: str | Path) -> Policy:
    """Read and validate a policy file; every problem is reported with where it is."""
    path = Path(path)
    try:
        raw = read_toml_file(path, "approval policy", parse_float=Decimal)
    except FileNotFoundError:
        raise PolicyError(f"approval policy file not found: {path}") from None
    try:
        return parse_policy(raw)
    except PolicyError as exc:
        raise PolicyError(f"approval policy {path}: {exc}") from None


def parse_policy(raw: dict[str, Any]) -> Policy:
    unknown = set(raw) - {"rules", "default", "fallback"}
    if unknown:
        raise PolicyError(f"unknown keys {sorted(unknown)} (expected rules, default, fallback)")
    default = raw.get("default")
    if not isinstance(default, dict):
        raise PolicyError("a [default] table with steps is required")
    unknown = set(default) - {"steps"}
    if unknown:
        raise PolicyError(f"default: unknown keys {sorted(unknown)} (top-level keys go before [default])")
    rules_raw = raw.get("rules", [])
    if not isinstance(rules_raw, list):
        raise PolicyError("rules must be an array of tables ([[rules]])")
    rules = tuple(_parse_rule(r, f"rules[{i}]") for i, r in enumerate(rules_raw))
    return Policy(
        rules=rules,
        default=_parse_steps(default.get("steps"), "default.steps"),
        fallback=_parse_approvers(raw.get("fallback", []), "fallback", allow_empty=True),
    )


def _parse_rule(raw: Any, where: str) -> Rule:
    if not isinstance(raw, dict):
        raise PolicyError(f"{where} must be a table")
    unknown = set(raw) - {"name", "steps"}.union(*(kind.KEYS for kind in CONDITIONS))
    if unknown:
        raise PolicyError(f"{where}: unknown keys {sorted(unknown)}")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise PolicyError(f"{where}.name is required")
    conditions = tuple(c for kind in CONDITIONS if (c := kind.load(raw, where)) is not None)
    return Rule(name=name.strip(), steps=_parse_steps(raw.get("steps"), f"{where}.steps"), conditions=conditions)


def _parse_steps(raw: Any, where: str) -> tuple[StepRule, ...]:
    if not isinstance(raw, list) or not raw:
        raise PolicyError(f"{where} must be a non-empty list of steps")
    steps = []
    for i, step in enumerate(raw):
        if not isinstance(step, dict) or set(step) - {"name", "approvers"}:
            raise PolicyError(f"{where}[{i}] must be a table with name and approvers")
        name = step.get("name")
        if not isinstance(name, str) or not name.strip():
            raise PolicyError(f"{where}[{i}].name is required")
        steps.append(StepRule(name=name.strip(), approvers=_parse_approvers(step.get("approvers"), f"{where}[{i}]")))
    return tuple(steps)


def _parse_approvers(raw: Any, where: str, *, allow_empty: bool = False) -> tuple[str, ...]:
    if not isinstance(raw, list) or (not raw and not allow_empty):
        raise PolicyError(f"{where}.approvers must be a non-empty list of Slack ids")
    for ref in raw:
        if not isinstance(ref, str) or not (USER_ID.match(ref) or GROUP_ID.match(ref)):
            raise PolicyError(f"{where}: {ref!r} is not a Slack user id (U…/W…) or user group id (S…)")
    return tuple(raw)
