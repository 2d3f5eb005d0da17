"""``/analytics``: its charts carry the API's figures, the filters switch them, the forecast
has its bands and budget line, anomalies are marked with their root causes, a refused filter
is shown next to its field, and a member sees only its own spend."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from starlette.testclient import TestClient
from ui_support import ADMIN_KEY, NOW, Seeded, ok, sign_in

MODELS = {"gpt-4o": "1.20", "gpt-4o-mini": "0.30", "claude-haiku-4-5": "0.60"}
STEADY_DAYS = 22
SPIKE_DAY = "2026-11-19"
#: The page's default range and scope, as the API is asked for them.
WINDOW = {"start": "2026-10-22T00:00:00+00:00", "end": "2026-11-21T00:00:00+00:00",
          "orgId": "acme"}  # fmt: skip


def settle(api: TestClient, request_id: str, user_id: str, model: str, amount: str) -> None:
    hold = {"request_id": request_id, "amount": amount, "principal": {"user_id": user_id},
            "model": model}  # fmt: skip
    ok(api.post("/api/v1/ledger/holds", json=hold), 201)
    usage = {"model": model, "input_tokens": 1000, "output_tokens": 200}
    body = {"actual_cost": amount, "usage": usage}
    ok(api.post(f"/api/v1/ledger/holds/{request_id}/settle", json=body))


@pytest.fixture
def history(seeded: Seeded) -> Seeded:
    """Dave (team lab, no budget but the org's) spends steadily on three models for three
    weeks, then $25 on gpt-4o on Nov 19: a spike."""
    api, clock = seeded.api, seeded.clock
    ok(api.post("/api/v1/teams", json={"id": "lab", "org_id": "acme", "name": "Lab"}), 201)
    ok(api.post("/api/v1/users", json={"id": "dave", "team_id": "lab", "name": "Dave",
                                       "role": "member"}), 201)  # fmt: skip
    for day in range(STEADY_DAYS, 1, -1):
        clock.now = NOW.replace(hour=10) - timedelta(days=day)
        for model, base in MODELS.items():
            amount = str(Decimal(base) + Decimal("0.05") * (day % 3))
            settle(api, f"steady-{day}-{model}", "dave", model, amount)
    clock.now = NOW.replace(hour=10) - timedelta(days=1)
    settle(api, "spike", "dave", "gpt-4o", "25")
    clock.now = NOW
    return seeded


def spec_of(html: str, chart: str) -> Any:
    found = re.search(rf'<script type="application/json" id="{chart}-spec">(.*?)</script>', html)
    assert found, f"no {chart} on the page"
    return json.loads(found.group(1))


def datasets(spec: Any) -> dict[str, Any]:
    return {d["label"]: d for d in spec["data"]["datasets"]}


def floats(values: list[str | None]) -> list[float | None]:
    return [None if v is None else float(v) for v in values]


def test_the_charts_carry_the_apis_figures(admin_pages: TestClient, history: Seeded) -> None:
    page = admin_pages.get("/analytics")
    assert page.status_code == 200, page.text
    html = page.text
    for canvas in ("spend-chart", "cpr-chart", "forecast-chart"):
        assert f'<canvas id="{canvas}" data-chart="{canvas}-spec"' in html
    trend = ok(history.api.get("/api/v1/cost-analysis/trends",
                               params=WINDOW | {"groupBy": "model"}))  # fmt: skip
    spend = spec_of(html, "spend-chart")
    assert spend["data"]["labels"] == [p["start"][:10] for p in trend["points"]]
    assert spend["data"]["labels"][::29] == ["2026-10-22", "2026-11-20"]
    bars = datasets(spend)
    assert set(MODELS) <= set(bars)
    for model in MODELS:
        expected = [
            sum((Decimal(g["cost"]) for g in p["groups"] if g["value"] == model), Decimal(0))
            for p in trend["points"]
        ]
        assert bars[model]["data"] == [float(v) for v in expected]
    cpr = spec_of(html, "cpr-chart")
    assert cpr["data"]["datasets"][0]["data"] == floats(
        [p["costPerRequest"] for p in trend["points"]]
    )
    summary = ok(history.api.get("/api/v1/cost-analysis/summary", params=WINDOW))
    assert f'data-testid="total-cost">${Decimal(summary["cost"]):,.2f}<' in html
    assert f'data-testid="total-requests">{summary["requests"]}<' in html
    assert summary["costPer1kTokens"] is not None and 'data-testid="cost-per-1k-tokens">$' in html
    split = ok(history.api.get("/api/v1/cost-analysis/by/model", params=WINDOW))
    assert html.count('data-testid="split-row"') == len(split["groups"]) == 4  # 3 + none
    assert "<figcaption>Spend per day by model" in html
    assert '<th scope="row">2026-11-19</th>' in html  # the figures table


def test_the_grouping_and_granularity_switch_the_series(
    admin_pages: TestClient, history: Seeded
) -> None:
    by_team = admin_pages.get("/analytics", params={"groupBy": "team"})
    assert by_team.status_code == 200, by_team.text
    assert set(datasets(spec_of(by_team.text, "spend-chart"))) == {"lab", "eng", "ops",
                                                                    "Anomalies"}  # fmt: skip
    assert 'value="team" selected' in by_team.text
    weekly = admin_pages.get("/analytics", params={"groupBy": "user", "granularity": "week"})
    spend = spec_of(weekly.text, "spend-chart")
    assert spend["data"]["labels"][-2:] == ["2026-11-09", "2026-11-16"]
    assert {"dave", "alice", "bob"} <= set(datasets(spend))
    hourly = admin_pages.get("/analytics", params={"start": "2026-11-19", "end": "2026-11-19",
                                                   "granularity": "hour"})  # fmt: skip
    labels = spec_of(hourly.text, "spend-chart")["data"]["labels"]
    assert len(labels) == 24 and labels[10] == "2026-11-19T10:00"


def test_the_forecast_has_its_bands_and_the_budget_line(
    admin_pages: TestClient, history: Seeded
) -> None:
    html = admin_pages.get("/analytics").text
    spec = spec_of(html, "forecast-chart")
    found = datasets(spec)
    labels = [d["label"] for d in spec["data"]["datasets"]]
    for band in ("95% interval", "80% interval"):
        assert found[band]["fill"] == "-1"
        assert labels[labels.index(band) - 1] == f"{band}, low"
    # Cumulative over acme-monthly's period (November), against its limit.
    assert spec["data"]["labels"][0] == "2026-11-01" and spec["data"]["labels"][-1] == "2026-11-30"
    assert found["Budget limit"]["data"] == [1000.0] * 30
    answer = ok(history.api.get("/api/v1/cost/forecast", params={
        "scopeType": "organization", "scopeId": "acme", "horizon": 30}))  # fmt: skip
    (budget,) = answer["budgets"]
    assert found["Forecast"]["data"][-1] == pytest.approx(float(budget["projectedTotal"]))
    assert found["80% interval"]["data"][-1] == pytest.approx(float(budget["projectedUpper80"]))
    lows, highs = found["95% interval, low"]["data"], found["95% interval"]["data"]
    assert all(lo <= hi for lo, hi in zip(lows[19:], highs[19:], strict=True))
    assert highs[-1] > lows[-1]  # a band, not a line
    assert found["Actual"]["data"][20:] == [None] * 10  # spend to date: up to Nov 20
    assert 'data-testid="forecast-budget"' in html and "acme-monthly" in html


def test_anomalies_are_marked_with_their_root_causes(
    admin_pages: TestClient, history: Seeded
) -> None:
    html = admin_pages.get("/analytics").text
    answer = ok(history.api.get("/api/v1/cost/anomalies", params=WINDOW | {"granularity": "day"}))
    spike = next(a for a in answer["anomalies"]
                 if a["timestamp"].startswith(SPIKE_DAY) and a["model"] == "gpt-4o")  # fmt: skip
    assert spike["rootCause"]["value"] == "gpt-4o"
    assert html.count('data-testid="anomaly-row"') == len(answer["anomalies"])
    assert "root cause: model gpt-4o (100% of the change)" in html
    spend = spec_of(html, "spend-chart")
    marks = datasets(spend)["Anomalies"]
    day = spend["data"]["labels"].index(SPIKE_DAY)
    assert "root cause: model gpt-4o" in marks["notes"][day]
    assert marks["data"][day] == sum(d["data"][day] for d in spend["data"]["datasets"][:-1])
    quiet = [i for i, note in enumerate(marks["notes"]) if note is None]
    assert quiet and all(marks["data"][i] is None for i in quiet)


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"start": "2026-11-10", "end": "2026-11-01"}, "start", "start must be before end"),
        ({"groupBy": "colour"}, "groupBy", "groupBy must be one of"),
        ({"start": "2026-11-99"}, "start", "valid datetime"),
        ({"granularity": "year"}, "granularity", "&#39;hour&#39;, &#39;day&#39;"),
        ({"horizon": "0"}, "horizon", "greater than or equal to 1"),
        ({"scope": "planet:mars"}, "scope", "scopeType"),
    ],
)
def test_a_refused_filter_is_shown_next_to_its_field(
    admin_pages: TestClient, params: dict[str, str], field: str, message: str
) -> None:
    page = admin_pages.get("/analytics", params=params)
    assert 400 <= page.status_code < 500, page.text
    html = page.text
    error = re.search(rf'<p class="field-error" id="{field}-error" role="alert">(.*?)</p>', html)
    assert error and message in error.group(1), html
    assert f'aria-describedby="{field}-error"' in html
    assert "<canvas" not in html
    for value in params.values():
        assert f'value="{value}"' in html  # the filter as typed, to correct


def test_a_member_sees_only_its_own_spend(seeded: Seeded, key_pages: Any, history: Seeded) -> None:
    pages = key_pages("bob")
    html = pages.get("/analytics").text
    assert 'data-testid="total-cost">$7.25<' in html
    assert 'value="user:bob" selected' in html
    assert "organization:acme" not in html and "team:ops" not in html
    assert html.count('data-testid="split-row"') == 1
    for other in ("gpt-4o", "dave", "alice"):
        assert other not in html
    forecast = datasets(spec_of(html, "forecast-chart"))
    assert "Budget limit" not in forecast and "95% interval" in forecast  # bob has no budget
    refused = pages.get("/analytics", params={"scope": "team:eng"})
    assert refused.status_code == 403
    assert 'id="scope-error"' in refused.text and "may not see team" in refused.text


def test_with_no_budgets_and_no_spend_the_page_says_so(app_client: TestClient) -> None:
    with TestClient(app_client.app, follow_redirects=False) as client:
        html = sign_in(client, ADMIN_KEY).get("/analytics").text
    assert 'value="all" selected' in html  # no budget: everything, and no forecast
    assert "Pick a scope (not everything) for its forecast." in html
    assert 'id="forecast-chart"' not in html and "None found in this range." in html
    spend = spec_of(html, "spend-chart")
    assert len(spend["data"]["labels"]) == 30
    assert [d["label"] for d in spend["data"]["datasets"]] == []  # split by model: no models
    assert 'data-testid="total-cost">$0.00<' in html
