"""Recommendations and workload benchmarks on a planted record (the demo's models and prices)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from starlette.testclient import TestClient

from thrifty.budgets.model import BudgetSpec, Scope, ScopeType
from thrifty.budgets.periods import Period, PeriodKind
from thrifty.pricing.catalog import CatalogRef, TokenUsage, cost_of, resolve_price
from thrifty.settings import Settings
from thrifty.storage import budgets_repo, ledger, rollups, selection_repo
from thrifty.storage.database import Database
from thrifty.storage.ledger import Charge, Usage
from thrifty.storage.selection_repo import DecisionRecord

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
USD = 1_000_000_000
RANGE = {"start": "2026-11-01T00:00:00Z", "end": "2026-11-20T12:00:00Z"}
PARAGRAPH = "Classify the ticket as billing, bug or question. Reply with the label only. "
PREAMBLE = "system: " + (PARAGRAPH * 30 + "\n\n") * 2  # the same block twice: a rewrite's saving


def _gpt4o_nano(usage: TokenUsage) -> int:
    price = resolve_price("gpt-4o", (), CatalogRef.parse("openai/gpt-4o"), NOW).price
    return int(cost_of(price, usage) * USD)


def _spend(db: Database, rid: str, at: datetime, nano: int, team: str, key: str, task: str,
           scopes: tuple[Scope, ...] = ()) -> None:  # fmt: skip
    charge = Charge(rid, scopes, nano, at + timedelta(minutes=5), model="gpt-4o", user_id="ann",
                    team_id=team, org_id="acme", key_id=key)  # fmt: skip
    db.write(lambda c: ledger.reserve(c, charge, at))
    usage = Usage(model="gpt-4o", provider="sim", input_tokens=1000, output_tokens=200,
                  task_type=task)  # fmt: skip
    db.write(lambda c: ledger.settle(c, rid, nano, usage, at))


def _seed(url: str) -> None:
    db = Database(url)
    ops = BudgetSpec(
        # 0.13 USD: 20 days at 0.0045 fit, the month's 30 do not.
        id="ops-monthly", scope=Scope(ScopeType.TEAM, "ops"), limit_nano=130_000_000,
        period=Period(PeriodKind.MONTHLY, date(2026, 1, 1)), thresholds=(),
    )  # fmt: skip
    db.write(lambda c: budgets_repo.insert_budget(c, ops, "ops-monthly", NOW - timedelta(days=40)))
    nano = _gpt4o_nano(TokenUsage(1000, 200))
    for day in range(20):
        at = datetime(2026, 11, 1, 9, tzinfo=UTC) + timedelta(days=day)
        for i in range(2):
            _spend(db, f"c{day}-{i}", at + timedelta(minutes=i), nano, "eng", "k-ann",
                   "classification")  # fmt: skip
        _spend(db, f"o{day}", at, nano, "ops", "k-ops", "chat", (ops.scope,))
    for i in range(50):
        use = rollups.PreambleUse(
            at=datetime(2026, 11, 10, tzinfo=UTC) + timedelta(hours=i), fingerprint="fp1",
            tokens=1500, org_id="acme", team_id="eng", user_id="ann", key_id="k-ann",
            model="gpt-4o", input_tokens=1600, cached_input_tokens=0, text=PREAMBLE,
            excerpt=PARAGRAPH[:60],
        )  # fmt: skip
        db.write(lambda c, u=use: rollups.add_preamble(c, u))
    profile = {"taskType": "classification", "needs": ["vision"], "inputTokens": 1000,
               "maxTokens": None, "predictedOutputTokens": 200}  # fmt: skip
    record = DecisionRecord("dec_1", "c0-0", "auto", "gpt-4o", "cost-aware", "classification",
                            "k-ann", "ann", "eng", "acme", 1,
                            explain=lambda: {"profile": profile})  # fmt: skip
    db.write(
        lambda c: selection_repo.record_decision(c, record, datetime(2026, 11, 1, 9, tzinfo=UTC))
    )
    db.close()


@pytest.fixture
def api(settings: Settings, database_url: str) -> Iterator[TestClient]:
    from thrifty.app import create_app

    with TestClient(create_app(settings, clock=lambda: NOW), raise_server_exceptions=False) as c:
        c.headers["Authorization"] = "Bearer test-admin-key"
        c.post("/api/v1/orgs", json={"id": "acme", "name": "Acme"})
        for team in ("eng", "ops"):
            c.post("/api/v1/teams", json={"id": team, "org_id": "acme", "name": team})
        _seed(database_url)
        yield c


def _by_kind(body: dict) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for item in body["recommendations"]:
        found.setdefault(item["kind"], []).append(item)
    return found


def test_recommendations_are_concrete_ranked_and_priced(api: TestClient) -> None:
    response = api.get("/api/v1/cost/recommendations", params=RANGE)
    assert response.status_code == 200, response.text
    body = response.json()
    kinds = _by_kind(body)
    switches = {item["evidence"]["taskType"]: item for item in kinds["switch-model"]}
    assert set(switches) == {"classification", "chat"}
    switch = switches["classification"]
    # classification on gpt-4o (0.90): haiku (0.86 ≥ 95% of 0.90) is the cheapest that keeps
    # the bar; gpt-4o-mini (0.85) and llama (0.78) do not, and llama has no vision besides.
    assert switch["evidence"]["from"] == "gpt-4o" and switch["evidence"]["to"] == "claude-haiku-4-5"
    assert switch["confidence"] == "low"  # no feedback behind either quality
    assert Decimal(switch["estimatedMonthlySavings"]) > 0
    (caching,) = kinds["prompt-caching"]
    assert caching["evidence"] == {"fingerprint": "fp1", "model": "gpt-4o", "tokens": 1500,
                                   "requests": 50}  # fmt: skip
    (shorten,) = kinds["shorten-prompt"]
    assert shorten["evidence"]["tokensSaved"] > 500
    assert "remove_duplicates" in " ".join(shorten["evidence"]["rewrites"])
    (risk,) = kinds["budget-at-risk"]
    assert risk["evidence"]["budgetId"] == "ops-monthly" and risk["estimatedMonthlySavings"] is None
    keys = {item["evidence"]["keyId"] for item in kinds["key-without-budget"]}
    assert keys == {"k-ann"}  # k-ops's team has a budget
    savings = [Decimal(r["estimatedMonthlySavings"]) for r in body["recommendations"]
               if r["estimatedMonthlySavings"] is not None]  # fmt: skip
    assert savings == sorted(savings, reverse=True)
    assert [r["rank"] for r in body["recommendations"]] == list(
        range(1, len(body["recommendations"]) + 1)
    )
    assert Decimal(body["estimatedMonthlySavings"]) == sum(savings)


def test_benchmarks_reprice_the_workload_on_every_model(api: TestClient) -> None:
    body = api.get("/api/v1/cost/benchmarks", params={**RANGE, "teamId": "eng"}).json()
    assert body["requests"] == 40
    assert body["needs"] == {"known": True, "capabilities": ["vision"], "maxContextTokens": 1200}
    models = {m["model"]: m for m in body["models"]}
    assert Decimal(models["gpt-4o"]["cost"]) == Decimal(body["actualCost"])
    assert Decimal(models["gpt-4o"]["difference"]) == 0
    assert models["llama-3.1-8b-instant"]["eligible"] is False
    assert models["llama-3.1-8b-instant"]["reason"] == "no vision support"
    eligible = [m for m in body["models"] if m["eligible"]]
    cheaper = [m for m in eligible if Decimal(m["cost"]) < Decimal(body["actualCost"])]
    assert Decimal(body["percentile"]) == round(Decimal(100 * len(cheaper)) / len(eligible), 1)
    costs = [Decimal(m["cost"]) for m in eligible]
    assert costs == sorted(costs)
    wide = api.get("/api/v1/cost/benchmarks", params={**RANGE, "catalog": "true", "limit": 5000})
    assert len(wide.json()["models"]) > 1000
    assert any(m["source"] == "catalog" for m in wide.json()["models"])


def test_a_key_sees_its_own_recommendations_only(api: TestClient) -> None:
    api.post("/api/v1/users", json={"id": "bob", "team_id": "ops", "name": "Bob"})
    secret = api.post("/api/v1/keys", json={"user_id": "bob", "name": "b"}).json()["secret"]
    body = api.get(
        "/api/v1/cost/recommendations", params=RANGE, headers={"Authorization": f"Bearer {secret}"}
    ).json()
    # Bob spent nothing; he sees his team's budget at risk, and nothing of team eng.
    assert [r["kind"] for r in body["recommendations"]] == ["budget-at-risk"]
