"""Builders for the rules tests: a request context with defaults, and one-rule sets."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from thrifty.rules import Directive, RuleContext, RuleSet

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a Wednesday

BASE = RuleContext(
    path="/v1/chat/completions",
    requested_model="auto",
    org_id="acme",
    team_id="eng",
    user_id="ana",
    key_id="key-1",
    tags=("batch",),
    metadata={"app": "search", "tier": 2},
    task_type="code",
    complexity=0.5,
    input_tokens=1_000,
    estimated_cost=Decimal("0.0042"),
    budget_percent={"team": Decimal("42"), "organization": Decimal("10")},
    priority="normal",
    now=NOW,
)


def context(**changes: Any) -> RuleContext:
    return replace(BASE, **changes)


def rule(*conditions: dict[str, Any], name: str = "r", **extra: Any) -> dict[str, Any]:
    then = extra.pop("then", [{"type": "route-to", "model": "gpt-4o"}])
    return {"name": name, "when": list(conditions), "then": then, **extra}


def evaluate(condition: dict[str, Any], ctx: RuleContext | None = None) -> Directive:
    return RuleSet.parse([rule(condition)]).evaluate(ctx or BASE)


def holds(condition: dict[str, Any], **changes: Any) -> bool:
    return evaluate(condition, context(**changes)).matched == ("r",)


def failure(condition: dict[str, Any], **changes: Any) -> str | None:
    return evaluate(condition, context(**changes)).trace[0].failed
