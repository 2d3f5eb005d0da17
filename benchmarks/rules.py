"""Time ``RuleSet.evaluate`` for 50 rules of mixed condition types, in process.

Run by hand: ``.venv/bin/python benchmarks/rules.py``. Three cases: no rule matches (every
rule fails, so every trace carries a description), every rule matches (every action merges),
and a mix; the baseline, 150 trivial tests in the same loop, is the interpreter's floor on this
machine. Each figure is the median of five runs of process CPU time (the machine is shared,
so wall-clock time would count other processes' turns).
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from thrifty.rules import RuleContext, RuleSet


def _rule(i: int, *, matching: bool) -> dict[str, Any]:
    kind = i % 6
    miss = not matching and (i % 2 == 0 or kind != 4)
    conditions: list[dict[str, Any]] = [{"type": "request", "path": "/v1/*"}]
    if kind == 0:
        conditions.append({"type": "budget", "scope": "team", "percent_used": {"gte": 70}})
    elif kind == 1:
        conditions.append({"type": "principal", "team": ["eng", "ops"]})
    elif kind == 2:
        conditions.append({"type": "tags", "any": ["batch", "nightly"], "none": ["vip"]})
    elif kind == 3:
        conditions.append(
            {"type": "task", "task_type": ["code", "math"], "complexity": {"lt": 0.9}}
        )
    elif kind == 4:
        conditions.append(
            {"type": "time", "between": ["18:00", "08:00"], "timezone": "Europe/Paris"}
        )
    else:
        conditions.append({"type": "tokens", "input_tokens": {"gte": 100, "lt": 100_000}})
    if miss:
        conditions.append({"type": "priority", "in": ["critical"]})
    actions: list[dict[str, Any]] = [
        {"type": "select-model", "strategy": "cheapest", "cost_limit": "0.50"},
        {"type": "tag", "tags": [f"rule-{i % 5}"]},
    ]
    return {"name": f"rule-{i}", "priority": i % 7, "when": conditions, "then": actions}


CONTEXT = RuleContext(
    path="/v1/chat/completions",
    requested_model="auto",
    org_id="acme",
    team_id="eng",
    user_id="u1",
    key_id="k1",
    tags=("batch",),
    metadata={"app": "search"},
    task_type="code",
    complexity=0.4,
    input_tokens=1_200,
    estimated_cost=Decimal("0.0042"),
    budget_percent={"team": Decimal("82.5"), "organization": Decimal("40")},
    priority="normal",
    now=datetime(2026, 3, 4, 22, 30, tzinfo=UTC),
)


def _time(rules: RuleSet, rounds: int = 20_000) -> float:
    """Median microseconds per evaluation over five runs."""
    runs = []
    for _ in range(5):
        start = time.process_time()
        for _ in range(rounds):
            rules.evaluate(CONTEXT)
        runs.append((time.process_time() - start) / rounds * 1e6)
    return statistics.median(runs)


def _baseline(rounds: int = 20_000) -> float:
    """The interpreter's floor in the same run: 50 rules of three trivial tests each."""
    member = frozenset({"/v1/chat/completions"}).__contains__
    tests = (lambda ctx: member(ctx.path),) * 3
    rules = [tests] * 50

    def loop() -> int:
        held = 0
        for checks in rules:
            for check in checks:
                if not check(CONTEXT):
                    break
            else:
                held += 1
        return held

    runs = []
    for _ in range(5):
        start = time.process_time()
        for _ in range(rounds):
            loop()
        runs.append((time.process_time() - start) / rounds * 1e6)
    return statistics.median(runs)


def main() -> None:
    none = RuleSet.parse([_rule(i, matching=False) for i in range(50)])
    every = RuleSet.parse([_rule(i, matching=True) for i in range(50)])
    mixed = RuleSet.parse([_rule(i, matching=i % 3 == 0) for i in range(50)])
    for label, rules in (("no rule matches", none), ("all match", every), ("mixed", mixed)):
        directive = rules.evaluate(CONTEXT)
        print(f"50 rules, {label:16} ({len(directive.matched):2} matched): {_time(rules):6.1f} µs")
    print(f"baseline: 150 trivial tests in a loop          {_baseline():6.1f} µs")


if __name__ == "__main__":
    main()
