"""The approval policy: loading and validating the TOML file, choosing a rule, planning the steps."""

from __future__ import annotations

import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from ledger.conditions import AmountRange
from ledger.domain import PlannedStep
from ledger.errors import NoApprover, PolicyError
from ledger.policy import Policy, load_policy

pytestmark = pytest.mark.anyio

POLICY = """\
fallback = ["U0CFO"]

[[rules]]
name = "Grandes"
min_amount = "10000.00"
max_amount = 1000000.10
steps = [{ name = "Gestor", approvers = ["U0GESTOR"] }, { name = "Diretoria", approvers = ["S0DIRETORIA"] }]

[[rules]]
name = "Marketing"
min_amount = 500
categories = ["Marketing e Publicidade", "Eventos"]
steps = [{ name = "Marketing", approvers = ["U0MKT"] }]

[[rules]]
name = "Produção"
cost_centers = ["Produção"]
steps = [{ name = "Fábrica", approvers = ["W0FABRICA"] }]

[default]
steps = [{ name = "Financeiro", approvers = ["U0FIN1", "U0FIN2"] }]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def policy(tmp_path: Path) -> Policy:
    return load_policy(write(tmp_path, POLICY))


class FakeDirectory:
    def __init__(self, groups: dict[str, list[str]]) -> None:
        self.groups = groups

    async def group_members(self, group_id: str) -> list[str]:
        return self.groups.get(group_id, [])


# --------------------------------------------------------------------------- loading


def test_valid_file_loads_with_exact_decimal_amounts(policy: Policy):
    grandes, marketing, producao = policy.rules
    assert grandes.name == "Grandes"
    amounts = grandes.condition(AmountRange)
    assert amounts is not None and amounts.min_amount == Decimal("10000.00")
    # A TOML float is read as an exact Decimal, never through binary floating point.
    assert amounts.max_amount == Decimal("1000000.10")
    assert str(amounts.max_amount) == "1000000.10"
    assert marketing.condition(AmountRange) == AmountRange(min_amount=Decimal(500))
    assert [(s.name, s.approvers) for s in grandes.steps] == [
        ("Gestor", ("U0GESTOR",)),
        ("Diretoria", ("S0DIRETORIA",)),
    ]
    assert producao.steps[0].approvers == ("W0FABRICA",)
    assert [s.name for s in policy.default] == ["Financeiro"]
    assert policy.fallback == ("U0CFO",)


def test_rules_are_optional_and_fallback_too(tmp_path: Path):
    policy = load_policy(write(tmp_path, '[default]\nsteps = [{ name = "F", approvers = ["U0FIN"] }]\n'))
    assert policy.rules == ()
    assert policy.fallback == ()
    assert policy.rule_for(Decimal("1"), "x", None).name == "default"


@pytest.mark.parametrize(
    ("amount", "category", "cost_center", "rule"),
    [
        ("10000.00", "Aluguel", None, "Grandes"),  # min is inclusive
        ("9999.99", "Aluguel", None, "default"),
        ("1000000.09", "Aluguel", None, "Grandes"),
        ("1000000.10", "Aluguel", None, "default"),  # max is exclusive
        ("20000.00", "Marketing e Publicidade", None, "Grandes"),  # first matching rule wins
        ("500.00", "Marketing e Publicidade", None, "Marketing"),
        ("499.99", "Marketing e Publicidade", None, "default"),
        ("600.00", "  MARKETING E PUBLICIDADE ", None, "Marketing"),
        ("600.00", "eventos", None, "Marketing"),
        ("600.00", "Aluguel", None, "default"),
        ("10.00", "Matéria-Prima", "PRODUCAO", "Produção"),
        ("10.00", "Matéria-Prima", "produção", "Produção"),
        ("10.00", "Matéria-Prima", "Produção e Logística", "default"),
        ("10.00", "Matéria-Prima", None, "default"),
    ],
)
def test_first_matching_rule_wins(policy: Policy, amount, category, cost_center, rule):
    assert policy.rule_for(Decimal(amount), category, cost_center).name == rule


def test_category_rule_matches_accents_and_case(tmp_path: Path):
    policy = load_policy(
        write(
            tmp_path,
            """\
            [[rules]]
            name = "Insumos"
            categories = ["Matéria-Prima"]
            steps = [{ name = "Compras", approvers = ["U0COMPRAS"] }]
            [default]
            steps = [{ name = "F", approvers = ["U0FIN"] }]
            """,
        )
    )
    for typed in ("Matéria-Prima", "materia-prima", "MATÉRIA-PRIMA", "Mate\u0301ria-Prima"):
        assert policy.rule_for(Decimal("1"), typed, None).name == "Insumos"
    assert policy.rule_for(Decimal("1"), "Matéria Prima", None).name == "default"


# --------------------------------------------------------------------------- planning


async def test_plan_resolves_groups_and_deduplicates(policy: Policy):
    directory = FakeDirectory({"S0DIRETORIA": ["U0DIR1", "U0GESTOR", "U0DIR1", "U0DIR2"]})
    steps = await policy.plan(
        amount=Decimal("50000"), category="Aluguel", cost_center=None, requester_id="U0REQ", directory=directory
    )
    # The manager holds the first step, so the group's step goes to the other directors (one person, one step).
    assert steps == [
        PlannedStep(name="Gestor", approvers=("U0GESTOR",)),
        PlannedStep(name="Diretoria", approvers=("U0DIR1", "U0DIR2")),
    ]


async def test_plan_removes_the_requester_from_every_step(policy: Policy):
    directory = FakeDirectory({"S0DIRETORIA": ["U0GESTOR", "U0DIR1"]})
    steps = await policy.plan(
        amount=Decimal("50000"), category="Aluguel", cost_center=None, requester_id="U0GESTOR", directory=directory
    )
    # The manager files a big request: their own step goes to the fallback, and they vanish from the group step.
    assert steps == [
        PlannedStep(name="Gestor", approvers=("U0CFO",)),
        PlannedStep(name="Diretoria", approvers=("U0DIR1",)),
    ]


async def test_plan_falls_back_when_a_group_is_empty(policy: Policy):
    steps = await policy.plan(
        amount=Decimal("50000"), category="Aluguel", cost_center=None, requester_id="U0REQ", directory=FakeDirectory({})
    )
    assert steps[1] == PlannedStep(name="Diretoria", approvers=("U0CFO",))


async def test_plan_fallback_may_be_a_group_and_excludes_the_requester(tmp_path: Path):
    policy = load_policy(
        write(
            tmp_path,
            """\
            fallback = ["S0FINANCE"]
            [default]
            steps = [{ name = "Dono", approvers = ["U0OWNER"] }]
            """,
        )
    )
    directory = FakeDirectory({"S0FINANCE": ["U0OWNER", "U0FIN1", "U0FIN2"]})
    steps = await policy.plan(
        amount=Decimal("10"), category="x", cost_center=None, requester_id="U0OWNER", directory=directory
    )
    assert steps == [PlannedStep(name="Dono", approvers=("U0FIN1", "U0FIN2"))]


async def test_plan_with_nobody_left_is_no_approver(tmp_path: Path):
    policy = load_policy(
        write(
            tmp_path,
            """\
            fallback = ["U0OWNER"]
            [default]
            steps = [{ name = "Dono", approvers = ["U0OWNER"] }]
            """,
        )
    )
    with pytest.raises(NoApprover, match="'Dono' has no approver who is neither the requester") as caught:
        await policy.plan(
            amount=Decimal("10"), category="x", cost_center=None, requester_id="U0OWNER", directory=FakeDirectory({})
        )
    assert caught.value.params == {"step": "Dono"}


# --------------------------------------------------------------------------- validation

DEFAULT = '[default]\nsteps = [{ name = "F", approvers = ["U0FIN"] }]\n'
RULE = '[[rules]]\nname = "R"\nsteps = [{ name = "S", approvers = ["U0X"] }]\n'


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        pytest.param('fallback = ["U0CFO"]\n', ["a [default] table with steps is required"], id="missing-default"),
        pytest.param("approvers = []\n" + DEFAULT, ["unknown keys ['approvers']"], id="unknown-top-level-key"),
        pytest.param(
            RULE.replace('name = "R"', 'name = "R"\nmin_valor = 1') + DEFAULT,
            ["rules[0]: unknown keys ['min_valor']"],
            id="unknown-rule-key",
        ),
        pytest.param(
            # A key written after [default] belongs to it in TOML: a misplaced fallback must not vanish.
            DEFAULT + 'fallback = ["U0CFO"]\n',
            ["default: unknown keys ['fallback']"],
            id="unknown-default-key",
        ),
        pytest.param(
            '[default]\nsteps = [{ name = "F", approvers = ["bob"] }]\n',
            ["default.steps[0]", "'bob' is not a Slack user id"],
            id="bad-approver-id",
        ),
        pytest.param('fallback = ["U0CFO", "cfo"]\n' + DEFAULT, ["fallback", "'cfo'"], id="bad-fallback-id"),
        pytest.param(
            DEFAULT.replace('"U0FIN"', '"U0FIN", 7'),
            ["default.steps[0]", "7 is not a Slack user id"],
            id="approver-not-a-string",
        ),
        pytest.param(
            '[default]\nsteps = [{ name = "F", approvers = [] }]\n',
            ["default.steps[0].approvers must be a non-empty list"],
            id="no-approvers",
        ),
        pytest.param(
            RULE.replace('name = "R"', 'name = "R"\nmin_amount = "5000"\nmax_amount = 5000') + DEFAULT,
            ["rules[0]: min_amount must be less than max_amount"],
            id="min-equals-max",
        ),
        pytest.param(
            RULE.replace('name = "R"', 'name = "R"\nmin_amount = 10.5\nmax_amount = "1"') + DEFAULT,
            ["rules[0]: min_amount must be less than max_amount"],
            id="min-above-max",
        ),
        pytest.param(
            RULE.replace('name = "R"', 'name = "R"\nmin_amount = -1') + DEFAULT,
            ["rules[0].min_amount must be zero or more"],
            id="negative-number",
        ),
        pytest.param(
            RULE.replace('name = "R"', 'name = "R"\nmax_amount = "-0.01"') + DEFAULT,
            ["rules[0].max_amount must be zero or more"],
            id="negative-string",
        ),
        pytest.param(
            RULE.replace('name = "R"', 'name = "R"\nmin_amount = "dez mil"') + DEFAULT,
            ["rules[0].min_amount", "'dez mil' is not a number"],
            id="amount-not-a-number",
        ),
        pytest.param(
            RULE.replace('name = "R"', 'name = "R"\nmin_amount = true') + DEFAULT,
            ["rules[0].min_amount must be a number"],
            id="amount-boolean",
        ),
        pytest.param(
            '[[rules]]\nname = "R"\nsteps = []\n' + DEFAULT,
            ["rules[0].steps must be a non-empty list"],
            id="empty-steps",
        ),
        pytest.param("[default]\nsteps = []\n", ["default.steps must be a non-empty list"], id="empty-default-steps"),
        pytest.param(
            RULE + RULE.replace('name = "R"', "") + DEFAULT, ["rules[1].name is required"], id="rule-without-name"
        ),
        pytest.param(
            RULE.replace('name = "R"', 'name = "R"\ncategories = "Aluguel"') + DEFAULT,
            ["rules[0].categories must be a list of names"],
            id="categories-not-a-list",
        ),
        pytest.param(
            '[default]\nsteps = [{ name = "F", approvers = ["U0FIN"], when = 1 }]\n',
            ["default.steps[0] must be a table with name and approvers"],
            id="unknown-step-key",
        ),
        pytest.param("[default\nsteps = 1\n", ["is not valid TOML"], id="not-toml"),
    ],
)
def test_invalid_policy_names_where(tmp_path: Path, text: str, fragments: list[str]):
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    message = str(caught.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message


def test_missing_file_is_named(tmp_path: Path):
    path = tmp_path / "nowhere.toml"
    with pytest.raises(PolicyError, match="approval policy file not found") as caught:
        load_policy(path)
    assert str(path) in str(caught.value)
