"""docs/rules.md cannot drift: every condition, action, key and name is documented, and its
examples are valid rules that behave as the page says."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from rule_builders import context

from thrifty.config.yamlsource import parse_yaml
from thrifty.routing.strategy import QUALITY_LEVELS, Strategy
from thrifty.routing.tasks import TaskType
from thrifty.rules import Rule, RuleSet
from thrifty.rules.schema import ACTIONS, CONDITIONS
from thrifty.rules.values import DAYS, OPERATORS, PRIORITIES, SCOPES

DOC = (Path(__file__).parents[2] / "docs" / "rules.md").read_text("utf-8")


def _keys(model: type) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "name",
    sorted(
        {
            *CONDITIONS,
            *ACTIONS,
            *(key for model in (*CONDITIONS.values(), *ACTIONS.values()) for key in _keys(model)),
            *_keys(Rule),
            *OPERATORS,
            *SCOPES,
            *PRIORITIES,
            *DAYS,
            *QUALITY_LEVELS,
            *(s.value for s in Strategy),
            *(t.value for t in TaskType),
        }
    ),
)
def test_every_name_is_documented(name: str) -> None:
    assert f"`{name}`" in DOC, f"{name} is missing from docs/rules.md"


def test_quality_levels_are_documented_with_their_shares() -> None:
    for level, share in QUALITY_LEVELS.items():
        assert f"`{level}` ({share})" in DOC


def _examples() -> list[RuleSet]:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC, flags=re.DOTALL)
    assert len(blocks) >= 4
    found = []
    for block in blocks:
        document = parse_yaml(block, "docs/rules.md")
        found.append(
            RuleSet.parse(
                document.data["rules"],
                source="docs/rules.md",
                locate=lambda path, d=document: d.line_of(("rules", *path)),
            )
        )
    return found


def test_examples_are_valid_rules() -> None:
    assert all(len(rules) >= 1 for rules in _examples())


def test_the_merge_example_behaves_as_described() -> None:
    merge = next(r for r in _examples() if [x.name for x in r.rules] == ["budget-guard", "batch"])
    directive = merge.evaluate(context(tags=("batch",), budget_percent={"team": Decimal(80)}))
    assert directive.strategy is Strategy.CHEAPEST
    assert directive.cost_limit == Decimal("0.05")
    assert directive.tags == ("budget-guard", "batch-rule")
