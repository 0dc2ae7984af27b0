"""Rule conditions: each one's TOML keys read and written back, and what it matches; the policy as values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ledger.conditions import CONDITIONS, AmountRange, Categories, CostCenters
from ledger.errors import PolicyError
from ledger.policy import Policy, Rule, StepRule, parse_policy

STEP = StepRule(name="Financeiro", approvers=("U0FIN",))


@pytest.mark.parametrize(
    ("raw", "condition", "dumped"),
    [
        ({"min_amount": "10000.00"}, AmountRange(min_amount=Decimal("10000.00")), {"min_amount": "10000.00"}),
        ({"max_amount": 500}, AmountRange(max_amount=Decimal(500)), {"max_amount": "500"}),
        (
            # A TOML float arrives as a Decimal; written back as a string, its digits kept.
            {"min_amount": Decimal("0.10"), "max_amount": "1000000.10"},
            AmountRange(Decimal("0.10"), Decimal("1000000.10")),
            {"min_amount": "0.10", "max_amount": "1000000.10"},
        ),
        ({"categories": ["Matéria-Prima", "Eventos"]}, Categories(("Matéria-Prima", "Eventos")), None),
        ({"cost_centers": [" Produção "]}, CostCenters((" Produção ",)), None),
    ],
)
def test_a_condition_loads_its_keys_and_dumps_them_as_written(raw: dict[str, Any], condition: Any, dumped: Any):
    kind = type(condition)
    loaded = kind.load({"name": "R", **raw, "steps": []}, "rules[0]")
    assert loaded == condition
    assert loaded.dump() == (dumped or raw)
    assert kind.load(loaded.dump(), "rules[0]") == condition
    assert set(loaded.dump()) <= set(kind.KEYS)


@pytest.mark.parametrize("kind", CONDITIONS)
def test_a_rule_without_a_conditions_keys_has_none_of_it(kind: Any):
    assert kind.load({"name": "R", "steps": []}, "rules[0]") is None


def test_empty_name_lists_set_no_condition():
    assert Categories.load({"categories": []}, "rules[0]") is None
    assert CostCenters.load({"cost_centers": []}, "rules[0]") is None


@pytest.mark.parametrize(
    ("kind", "raw", "message", "params"),
    [
        (
            AmountRange,
            {"min_amount": "5000", "max_amount": 5000},
            "rules[2]: min_amount must be less than max_amount",
            {"field": "max_amount"},
        ),
        (AmountRange, {"max_amount": "-0.01"}, "rules[2].max_amount must be zero or more", {}),
        (AmountRange, {"min_amount": "dez mil"}, "rules[2].min_amount: 'dez mil' is not a number", {}),
        (AmountRange, {"min_amount": True}, 'rules[2].min_amount must be a number or a string like "10000.00"', {}),
        (Categories, {"categories": "Aluguel"}, "rules[2].categories must be a list of names", {}),
        (CostCenters, {"cost_centers": ["Produção", " "]}, "rules[2].cost_centers must be a list of names", {}),
    ],
)
def test_a_condition_refuses_bad_values_saying_where(kind: Any, raw: dict[str, Any], message: str, params: Any):
    with pytest.raises(PolicyError) as caught:
        kind.load(raw, "rules[2]")
    assert str(caught.value) == message
    assert caught.value.params == params


@pytest.mark.parametrize(
    ("amount", "expected"),
    [("999.99", False), ("1000.00", True), ("4999.99", True), ("5000.00", False), ("5000.01", False)],
)
def test_an_amount_range_includes_its_minimum_and_excludes_its_maximum(amount: str, expected: bool):
    assert AmountRange(Decimal(1000), Decimal(5000)).matches(Decimal(amount), "x", None) is expected
    assert AmountRange(min_amount=Decimal(1000)).matches(Decimal(amount), "x", None) is (Decimal(amount) >= 1000)
    assert AmountRange(max_amount=Decimal(5000)).matches(Decimal(amount), "x", None) is (Decimal(amount) < 5000)


def test_name_conditions_ignore_case_and_accents_and_look_at_their_own_fact():
    categories = Categories(("Matéria-Prima", "Eventos"))
    assert categories.matches(Decimal(1), "MATERIA-PRIMA", None)
    assert categories.matches(Decimal(1), " eventos ", "Produção")
    assert not categories.matches(Decimal(1), "Aluguel", "Matéria-Prima")
    centers = CostCenters(("Produção",))
    assert centers.matches(Decimal(1), "Aluguel", "producao")
    assert not centers.matches(Decimal(1), "Produção", None)  # no cost center: not in the list
    assert not centers.matches(Decimal(1), "Aluguel", "Produção e Logística")


def test_a_rule_matches_when_all_its_conditions_do():
    rule = Rule(
        name="R",
        steps=(STEP,),
        conditions=(AmountRange(min_amount=Decimal(100)), Categories(("Eventos",)), CostCenters(("Comercial",))),
    )
    assert rule.matches(Decimal(100), "Eventos", "Comercial")
    assert not rule.matches(Decimal("99.99"), "Eventos", "Comercial")
    assert not rule.matches(Decimal(100), "Aluguel", "Comercial")
    assert not rule.matches(Decimal(100), "Eventos", None)
    assert Rule(name="Any", steps=(STEP,)).matches(Decimal(0), "x", None)
    assert rule.condition(Categories) == Categories(("Eventos",))
    assert Rule(name="Any", steps=(STEP,)).condition(AmountRange) is None


def test_condition_keys_never_overlap():
    keys = [key for kind in CONDITIONS for key in kind.KEYS]
    assert len(keys) == len(set(keys))
    assert not {"name", "steps"} & set(keys)


RAW = {
    "fallback": ["U0CFO", "S0FIN"],
    "rules": [
        {
            "name": "Grandes",
            "min_amount": "10000.00",
            "max_amount": "1000000.10",
            "steps": [{"name": "Gestor", "approvers": ["U0MGR"]}, {"name": "Diretoria", "approvers": ["S0DIR"]}],
        },
        {
            "name": "Marketing",
            "categories": ["Marketing e Publicidade"],
            "cost_centers": ["Comercial"],
            "steps": [{"name": "Marketing", "approvers": ["U0MKT"]}],
        },
        {"name": "Outros", "steps": [{"name": "F", "approvers": ["W0F"]}]},
    ],
    "default": {"steps": [{"name": "Financeiro", "approvers": ["U0FIN"]}]},
}


def test_a_policy_dumps_to_what_it_was_read_from():
    policy = parse_policy(RAW)
    assert policy.dump() == RAW
    assert parse_policy(policy.dump()) == policy


def test_rules_are_added_replaced_moved_and_removed_as_values():
    policy = parse_policy(RAW)
    new = Rule(name="Novo", steps=(STEP,), conditions=(Categories(("Eventos",)),))

    def names(p: Policy) -> list[str]:
        return [r.name for r in p.rules]

    assert names(policy.with_rule(new)) == ["Grandes", "Marketing", "Outros", "Novo"]
    assert names(policy.with_rule(new, at=1)) == ["Grandes", "Novo", "Outros"]
    assert names(policy.with_rule_moved(2, 1)) == ["Grandes", "Outros", "Marketing"]
    assert names(policy.with_rule_moved(0, 1)) == ["Marketing", "Grandes", "Outros"]
    assert names(policy.without_rule(0)) == ["Marketing", "Outros"]
    assert names(policy) == ["Grandes", "Marketing", "Outros"]  # never changed in place
    edited = policy.with_rule(new, at=1)
    assert (edited.default, edited.fallback) == (policy.default, policy.fallback)
    assert parse_policy(edited.dump()) == edited


def test_versions_stored_before_still_load_and_dump_to_the_same_rules():
    stored = {
        "rules": [{"name": " Grandes ", "min_amount": 10000, "categories": [], "steps": RAW["rules"][0]["steps"]}],
        "default": RAW["default"],
    }
    policy = parse_policy(stored)
    assert policy.rules[0].conditions == (AmountRange(min_amount=Decimal(10000)),)
    assert policy.dump()["rules"][0] == {"name": "Grandes", "min_amount": "10000", "steps": RAW["rules"][0]["steps"]}
    assert parse_policy(policy.dump()) == policy
