"""Decision time of model selection: analysis + 50 steering rules + selection over 100 models.

Two figures, each beside a baseline measured in the same run:

* in process — the pure steps of one decision (analyse the request, cost and score every
  candidate, evaluate the rules, select); baseline: counting the prompt's tokens once, the
  least any priced decision must do;
* over HTTP — ``POST /api/v1/models/select`` on a real ``thrifty serve`` with the same 100
  models and 50 rules, at 32 concurrent clients; baseline: ``GET /healthz``.

    python benchmarks/selection.py [--rounds 3000] [--requests 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from _harness import ADMIN_KEY, build_request, drive, thrifty_server
from thrifty.budgets.policy import restrictions_for
from thrifty.config.loader import config_price_point, parse_config, to_profile
from thrifty.pricing.estimate import PricedRequest
from thrifty.pricing.tokens import count_chat
from thrifty.routing.analysis import analyse
from thrifty.routing.candidates import build_candidates
from thrifty.routing.registry import ModelRegistry
from thrifty.routing.selection import select_model
from thrifty.routing.strategy import Strategy
from thrifty.rules import RuleContext, RuleSet

FAMILIES = ["gpt-4o", "gpt-4", "claude-3-5-sonnet", "gemini-1.5-pro", "llama-3.1-70b"]
PROMPT = (
    "Our checkout service times out under load. Here is the handler:\n```python\n"
    "async def checkout(cart):\n    total = sum(item.price for item in cart.items)\n"
    "    await payments.charge(cart.user, total)\n    return {'ok': True}\n```\n"
    "Explain the likely causes and suggest a fix with retries and idempotency keys, "
    "step by step, in about 300 words."
)


def models(count: int = 100) -> list[dict[str, Any]]:
    found = []
    for i in range(count):
        family = FAMILIES[i % len(FAMILIES)]
        price = Decimal(1 + i * 7 % 97) / 10
        found.append(
            {
                "id": f"{family}-v{i}",
                "provider": "sim",
                "upstream_model": f"{family}-v{i}",
                "price": {"input_per_mtok": price, "output_per_mtok": price * 4},
                "context_window": 32_000 * (1 + i % 4),
                "capabilities": ["tools", "json"] if i % 3 else ["json"],
                "quality": {
                    "default": 0.5 + (i * 37 % 50) / 100,
                    "code": 0.4 + (i * 13 % 60) / 100,
                },
                "fallbacks": [f"{FAMILIES[(i + 1) % len(FAMILIES)]}-v{(i + 1) % count}"],
            }
        )
    return found


def rules(count: int = 50) -> list[dict[str, Any]]:
    """Mixed conditions; most do not match the benchmark request, a few do."""
    kinds = [
        {"type": "budget", "scope": "team", "percent_used": {"gte": 70}},
        {"type": "principal", "team": ["ops", "data"]},
        {"type": "tags", "any": ["batch", "nightly"]},
        {"type": "task", "task_type": ["math", "translation"]},
        {"type": "tokens", "input_tokens": {"gt": 50_000}},
        {"type": "metadata", "key": "project", "equals": "atlas"},
        {"type": "time", "between": ["01:00", "02:00"]},
        {"type": "cost", "estimated_cost": {"gt": 5}},
    ]
    found = []
    for i in range(count):
        when = [{"type": "request", "path": "/v1/*"}, kinds[i % len(kinds)]]
        then: list[dict[str, Any]] = [{"type": "tag", "tags": [f"r{i}"]}]
        if i % 10 == 9:  # these match: a code task of the benchmark's principal
            when = [{"type": "task", "task_type": "code"}]
            then = [{"type": "select-model", "strategy": "cost-aware", "quality_requirement":
                     "high", "cost_limit": Decimal("0.5")}]  # fmt: skip
        found.append({"name": f"rule-{i}", "priority": i % 7, "when": when, "then": then})
    return found


def config_text() -> str:
    data = {"providers": [{"name": "sim", "kind": "simulated"}], "models": models(),
            "rules": rules()}  # fmt: skip
    return json.dumps(data, default=str, indent=1)  # JSON is YAML; amounts as exact strings


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def in_process(rounds: int) -> tuple[list[float], list[float], str]:
    config = parse_config(config_text(), "benchmark")
    provider = config.providers[0]
    profiles = [to_profile(m, provider) for m in config.models]
    prices = {m.id: [p] for m in config.models if (p := config_price_point(m)) is not None}
    registry = ModelRegistry.build(profiles, prices)
    rule_set = RuleSet.parse(config.rules)
    now = datetime.now(UTC)
    decision_times, baseline_times = [], []
    chosen = ""
    for i in range(rounds):
        # A distinct prompt each round: the tokenizer remembers texts it has counted.
        messages = [{"role": "user", "content": f"{PROMPT} (ticket {i})"}]
        start = time.perf_counter()
        count_chat([{"role": "user", "content": f"{PROMPT} (baseline {i})"}], "gpt-4o")
        baseline_times.append((time.perf_counter() - start) * 1000)

        start = time.perf_counter()
        profile = analyse(messages)
        priced = PricedRequest(messages, None, None, None, profile.task_type.value)
        candidates = build_candidates(profile, priced, registry, registry.profiles, now)
        directive = rule_set.evaluate(
            RuleContext(
                path="/v1/chat/completions", requested_model="auto", org_id="acme",
                team_id="eng", user_id="ann", key_id="k1", tags=(), metadata={},
                task_type=profile.task_type.value, complexity=profile.complexity,
                input_tokens=profile.input_tokens,
                estimated_cost=max(c.estimated_cost for c in candidates),
                budget_percent={"team": Decimal(42)}, priority="normal", now=now,
            )
        )  # fmt: skip
        restrictions = restrictions_for((), now=now)
        decision = select_model(
            candidates, strategy=directive.strategy or Strategy.COST_AWARE,
            quality_requirement=directive.quality_requirement or 0.95,
            cost_limit=directive.cost_limit, restrictions=restrictions,
        )  # fmt: skip
        decision_times.append((time.perf_counter() - start) * 1000)
        chosen = f"{decision.model} (task {profile.task_type}, rules {list(directive.matched)})"
    return decision_times, baseline_times, chosen


def _line(name: str, values: list[float]) -> str:
    return (
        f"  {name:<44} p50 {statistics.median(values):6.3f} ms   "
        f"p99 {percentile(values, 99):6.3f} ms"
    )


async def over_http(requests: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yaml"
        path.write_text(config_text())
        with thrifty_server(config=str(path)) as base:
            headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
            health = build_request(base, "GET", "/healthz")
            select = [
                build_request(
                    base, "POST", "/api/v1/models/select",
                    {"request": {"model": "auto", "messages": [
                        {"role": "user", "content": f"{PROMPT} (ticket {i})"}]}},
                    headers,
                )
                for i in range(requests + 200)
            ]  # fmt: skip
            capacity = {}
            print("over HTTP, closed loop, 32 clients:")
            for name, raw in (("baseline GET /healthz", health),
                              ("POST /api/v1/models/select", select)):  # fmt: skip
                result = await drive(name, base, raw, concurrency=32, requests=requests)
                capacity[name] = result.throughput
                print("  " + result.line())
            rate = capacity["POST /api/v1/models/select"] / 2
            print(f"over HTTP, open loop at half the select capacity ({rate:.0f}/s), 32 clients:")
            for name, raw in (("baseline GET /healthz", health),
                              ("POST /api/v1/models/select", select)):  # fmt: skip
                result = await drive(
                    f"{name} @{rate:.0f}/s", base, raw, concurrency=32, requests=requests,
                    rate=rate,
                )  # fmt: skip
                print("  " + result.line())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3000)
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    tokens = count_chat([{"role": "user", "content": PROMPT}], "gpt-4o").tokens
    print(f"100 models (5 tokenizer families), 50 rules, a {tokens}-token code request")
    decision, baseline, chosen = in_process(args.rounds)
    print("in process:")
    print(_line("baseline: count the prompt's tokens once", baseline))
    print(_line("decision: analyse + rules + 100 candidates", decision))
    print(f"  ratio of medians: {statistics.median(decision) / statistics.median(baseline):.1f}x")
    print(f"  chosen: {chosen}")
    asyncio.run(over_http(args.requests))


if __name__ == "__main__":
    main()
