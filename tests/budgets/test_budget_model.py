from __future__ import annotations

from decimal import Decimal

import pytest
from budget_builders import MONTHLY, NOW, USD, spec, state

from thrifty.budgets.model import (
    BudgetSpec,
    BudgetState,
    Mode,
    Priority,
    Scope,
    ScopeType,
    applies_to,
    parse_mode,
    parse_priority,
)
from thrifty.budgets.thresholds import Action, Threshold
from thrifty.errors import InvalidInput


def test_scope_parses_and_prints() -> None:
    scope = Scope.parse("team:eng")
    assert scope == Scope(ScopeType.TEAM, "eng")
    assert str(scope) == "team:eng"
    assert Scope.parse("Organization: acme") == Scope(ScopeType.ORGANIZATION, "acme")


@pytest.mark.parametrize("text", ["team", "galaxy:x", "team:", "team: ", 5])
def test_bad_scopes_are_refused(text: object) -> None:
    with pytest.raises(InvalidInput):
        Scope.parse(text)


def test_priority_and_mode_parsing() -> None:
    assert parse_priority(None) is Priority.NORMAL
    assert parse_priority(" Non_Essential ") is Priority.NON_ESSENTIAL
    assert parse_mode("soft") is Mode.SOFT
    with pytest.raises(InvalidInput, match="critical, normal, non-essential") as caught:
        parse_priority("urgent")
    assert caught.value.field == "priority"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"id": ""}, "id"),
        ({"limit_nano": -1}, "limit"),
        ({"limit_nano": True}, "limit"),
        ({"models": frozenset()}, "models"),
        ({"models": frozenset({""})}, "models"),
        (
            {
                "thresholds": (
                    Threshold(Decimal(90), (Action.BLOCK,)),
                    Threshold(Decimal(50), (Action.NOTIFY,)),
                )
            },
            "thresholds",
        ),
    ],
)
def test_budget_spec_validation(changes: dict[str, object], field: str) -> None:
    values: dict[str, object] = {
        "id": "b1",
        "scope": Scope(ScopeType.USER, "ann"),
        "limit_nano": USD,
        "period": MONTHLY,
    }
    values.update(changes)
    with pytest.raises(InvalidInput) as caught:
        BudgetSpec(**values)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_applies_to() -> None:
    assert applies_to(spec(), "anything")
    scoped = spec(models=frozenset({"gpt-4o"}))
    assert applies_to(scoped, "gpt-4o")
    assert not applies_to(scoped, "gpt-4o-mini")


def test_state_amounts() -> None:
    current = state(spec(limit=100), posted=10, held=5, extension=20, carried=7)
    assert current.used_nano == 15
    assert current.limit_nano == 127
    with pytest.raises(InvalidInput):
        BudgetState(current.spec, current.window, NOW, posted_nano=-1)
    with pytest.raises(ValueError, match="aware"):
        BudgetState(current.spec, current.window, NOW.replace(tzinfo=None))
