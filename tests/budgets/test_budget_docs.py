"""docs/budgets.md cannot drift from the code and the defaults file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from thrifty.budgets.model import Priority, ScopeType
from thrifty.budgets.periods import PeriodKind
from thrifty.budgets.status import Status
from thrifty.budgets.thresholds import DEFAULT_REQUEST_LIMITS, DEFAULT_THRESHOLDS, Action

DOC = (Path(__file__).parents[2] / "docs" / "budgets.md").read_text("utf-8")


@pytest.mark.parametrize(
    "name",
    [member.value for enum in (Action, Status, PeriodKind, Priority, ScopeType) for member in enum],
)
def test_every_name_is_documented(name: str) -> None:
    assert f"`{name}`" in DOC, f"{name} is missing from docs/budgets.md"


def test_defaults_table_matches_the_data_file() -> None:
    rows = re.findall(r"^\| (\d+)% \| (`.*`) \|$", DOC, flags=re.MULTILINE)
    documented = {
        int(percent): tuple(re.findall(r"`([^`]+)`", actions)) for percent, actions in rows
    }
    assert documented == {int(t.percent): tuple(t.actions) for t in DEFAULT_THRESHOLDS}


def test_request_limit_shares_are_documented() -> None:
    approval = f"{DEFAULT_REQUEST_LIMITS.approval_above_share * 100:.0f}%"
    cap = f"{DEFAULT_REQUEST_LIMITS.max_cost_share * 100:.0f}%"
    assert f"above {approval} of the budget's remaining headroom" in DOC
    assert f"more than {cap} of the remaining headroom" in DOC
