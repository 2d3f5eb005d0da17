"""``/api/v1/reconciliation`` against a real ledger: planted discrepancies found with their
sizes, stored reports, and adjustments posted once as audited ledger entries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from thrifty.budgets.model import BudgetSpec, Scope, ScopeType
from thrifty.budgets.periods import Period, PeriodKind
from thrifty.settings import Settings
from thrifty.storage import budgets_repo, ledger, postings
from thrifty.storage.database import Database
from thrifty.storage.schema import ledger_entries

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
USD = 1_000_000_000
ENG = Scope(ScopeType.TEAM, "eng")

# The ledger: gpt-4o $1.00 on the 17th and $2.00 on the 18th, gpt-4o-mini $0.50 on the 18th.
SPEND = [
    ("a", 17, "gpt-4o", "1.00", 100_000, 10_000),
    ("b", 18, "gpt-4o", "2.00", 200_000, 20_000),
    ("c", 18, "gpt-4o-mini", "0.50", 1_000_000, 100_000),
]

# The invoice: the 17th a tenth of a cent high (within the tolerance), the 18th $0.75 high, the
# 19th billed but not in the ledger, gpt-4o-mini not billed at all.
INVOICE = """date,model,account,input_tokens,cached_input_tokens,output_tokens,requests,cost_usd
2026-11-17,gpt-4o-2024-08-06,proj_eng,100000,0,10000,3,1.001
2026-11-18,gpt-4o-2024-08-06,proj_eng,200000,0,20000,5,2.75
2026-11-19,gpt-4o-2024-08-06,proj_eng,,,,,0.40
"""


def _seed(url: str) -> None:
    database = Database(url)
    spec = BudgetSpec(
        id="eng-monthly",
        scope=ENG,
        limit_nano=100 * USD,
        period=Period(PeriodKind.MONTHLY, date(2026, 1, 1)),
        thresholds=(),
    )
    database.write(lambda c: budgets_repo.insert_budget(c, spec, "eng", NOW))
    for rid, day, model, cost, tokens_in, tokens_out in SPEND:
        at = datetime(2026, 11, day, 10, tzinfo=UTC)
        charge = ledger.Charge(rid, (ENG,), 0, NOW, team_id="eng", org_id="acme", model=model)
        usage = ledger.Usage(
            model=model, provider="openai", input_tokens=tokens_in, output_tokens=tokens_out
        )
        nano = int(Decimal(cost) * USD)
        database.write(
            lambda c, ch=charge, n=nano, u=usage, t=at: postings.post_usage(
                c, ch, n, u, used_at=t, now=t
            )
        )
    database.close()


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    from thrifty.app import create_app

    with TestClient(create_app(settings, clock=lambda: NOW), raise_server_exceptions=False) as c:
        c.headers["Authorization"] = "Bearer test-admin-key"
        c.post("/api/v1/orgs", json={"id": "acme", "name": "Acme"})
        c.post("/api/v1/teams", json={"id": "eng", "org_id": "acme", "name": "Eng"})
        _seed(settings.database_url)
        yield c


def reconcile(api: TestClient, invoice: str = INVOICE, **options: Any) -> dict[str, Any]:
    body = {
        "invoice": invoice,
        "account_by": "team",
        "accounts": {"proj_eng": "eng"},
        "provider": "openai",
        **options,
    }
    response = api.post("/api/v1/reconciliation", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def found(report: dict[str, Any]) -> list[tuple[str, str, str, str | None]]:
    return [(d["kind"], d["day"], d["model"], d["delta_usd"]) for d in report["discrepancies"]]


def spend(api: TestClient) -> Decimal:
    return Decimal(api.get("/api/v1/budgets/eng-monthly/status").json()["currentSpend"])


def test_planted_discrepancies_and_adjustments(api: TestClient, settings: Settings) -> None:
    report = reconcile(api)
    assert report["layout"] == "generic" and report["by_account"] is True
    assert found(report) == [
        ("cost_mismatch", "2026-11-18", "gpt-4o", "0.75"),
        ("missing_in_invoice", "2026-11-18", "gpt-4o-mini", "-0.50"),
        ("missing_in_ledger", "2026-11-19", "gpt-4o", "0.40"),
    ]
    assert report["totals"]["delta"]["cost_usd"] == "0.651"
    assert [a["amount"] for a in report["adjustments"]] == ["0.75", "-0.50", "0.40"]
    assert not any(a["posted"] for a in report["adjustments"])
    stored = api.get(f"/api/v1/reconciliation/{report['id']}")
    assert stored.status_code == 200 and stored.json() == report
    listed = api.get("/api/v1/reconciliation").json()["reconciliations"]
    assert [r["id"] for r in listed] == [report["id"]]
    assert spend(api) == Decimal("3.50")

    posted = api.post(f"/api/v1/reconciliation/{report['id']}/adjustments")
    assert posted.status_code == 200, posted.text
    assert all(a["posted"] for a in posted.json()["adjustments"])
    assert spend(api) == Decimal("4.15")  # 3.50 + 0.75 − 0.50 + 0.40
    again = api.post(f"/api/v1/reconciliation/{report['id']}/adjustments")
    assert again.status_code == 200 and spend(api) == Decimal("4.15")  # once only
    database = Database(settings.database_url)
    entries = database.read(
        lambda c: c.execute(
            select(func.count())
            .select_from(ledger_entries)
            .where(ledger_entries.c.kind == "adjustment")
        ).scalar()
    )
    database.close()
    assert entries == 3
    audit = api.get("/api/v1/audit", params={"action": "ledger.adjusted"}).json()["entries"]
    assert len(audit) == 3 and audit[0]["details"]["reconciliation_id"] == report["id"]
    # Matched again, the ledger now agrees on every cost.
    after = reconcile(api)
    assert [d for d in after["discrepancies"] if "cost" in d["differing"]] == []
    requests = api.get(
        "/api/v1/cost-analysis/summary",
        params={"start": "2026-11-01T00:00:00Z", "end": "2026-11-20T00:00:00Z"},
    ).json()
    assert requests["requests"] == 3  # adjustments are spend, not requests


def test_match_by_day_and_model_only(api: TestClient) -> None:
    report = reconcile(api, account_by=None, accounts={})
    assert report["by_account"] is False
    assert [d["kind"] for d in report["discrepancies"]] == [
        "cost_mismatch",
        "missing_in_invoice",
        "missing_in_ledger",
    ]


def test_openai_usage_export_is_priced_from_tokens(api: TestClient) -> None:
    start = int(datetime(2026, 11, 17, tzinfo=UTC).timestamp())
    invoice = (
        "start_time,end_time,project_id,num_model_requests,model,input_tokens,"
        "output_tokens,input_cached_tokens\n"
        f"{start},{start + 86400},proj_eng,3,gpt-4o-2024-08-06,100000,10000,0\n"
        f"{start + 86400},{start + 172800},proj_eng,5,gpt-4o-2024-08-06,400000,20000,0\n"
    )
    report = reconcile(api, invoice=invoice, post_adjustments=True)
    assert report["layout"] == "openai" and report["cost_source"] == "priced"
    # The 18th: 200k more input tokens billed than recorded; gpt-4o-mini not billed.
    kinds = {(d["kind"], d["day"], d["model"]) for d in report["discrepancies"]}
    assert ("tokens_mismatch", "2026-11-18", "gpt-4o") in kinds or (
        "cost_mismatch",
        "2026-11-18",
        "gpt-4o",
    ) in kinds
    assert ("missing_in_invoice", "2026-11-18", "gpt-4o-mini") in kinds
    # Priced, not billed, costs are not posted as adjustments unless billed.
    assert all(a["kind"] == "missing_in_invoice" for a in report["adjustments"])


def test_bad_invoices_name_the_problem(api: TestClient) -> None:
    bad = api.post("/api/v1/reconciliation", json={"invoice": "when,what\n1,2\n"})
    assert bad.status_code == 400 and "layout" in bad.json()["error"]["message"]
    cell = api.post(
        "/api/v1/reconciliation", json={"invoice": "date,model,cost_usd\n2026-11-17,gpt-4o,abc\n"}
    )
    assert cell.status_code == 400 and 'row 1, column "cost_usd"' in cell.json()["error"]["message"]
    unknown = api.post("/api/v1/reconciliation", json={"invoice": INVOICE, "account_by": "desk"})
    assert unknown.status_code == 422 and unknown.json()["error"]["param"] == "account_by"
    assert api.get("/api/v1/reconciliation/nope").status_code == 404
    keyless = api.post(
        "/api/v1/reconciliation",
        json={"invoice": INVOICE},
        headers={"Authorization": "Bearer nope"},
    )
    assert keyless.status_code == 401


def test_the_cli_reconciles_and_posts(
    database_url: str, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from thrifty.cli import main

    database = Database(database_url)
    database.migrate()
    database.close()
    _seed(database_url)
    invoice = tmp_path / "invoice.csv"
    invoice.write_text(INVOICE)
    args = [
        "reconcile",
        "--invoice",
        str(invoice),
        "--database-url",
        database_url,
        "--account-by",
        "team",
        "--account",
        "proj_eng=eng",
        "--provider",
        "openai",
    ]
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "3 discrepancies" in table and "cost_mismatch" in table and "-0.50" in table
    assert main([*args, "--post-adjustments", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [a["posted"] for a in report["adjustments"]] == [True, True, True]
    assert main([*args, "--format", "json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert [d for d in again["discrepancies"] if "cost" in d["differing"]] == []
    assert (
        main(["reconcile", "--invoice", str(tmp_path / "none.csv"), "--database-url", database_url])
        != 0
    )
    assert "cannot read" in capsys.readouterr().err


def test_token_only_lines_are_priced_as_of_their_day(api: TestClient) -> None:
    dated = api.post(
        "/api/v1/models/gpt-4o/prices",
        json={
            "input_per_mtok": "100",
            "output_per_mtok": "10",
            "effective_from": "2026-11-18T00:00:00Z",
        },
    )
    assert dated.status_code == 201, dated.text
    invoice = (
        "date,model,input_tokens,output_tokens\n"
        "2026-11-17,gpt-4o,100000,10000\n2026-11-18,gpt-4o,100000,10000\n"
    )
    report = reconcile(api, invoice=invoice, account_by=None, accounts={})
    costs = {
        (d["day"], d["model"]): d["invoice"]["cost_usd"]
        for d in report["discrepancies"]
        if d["invoice"] is not None
    }
    # Both days differ from the ledger; what matters is each day's price: the 17th at the
    # demo's $2.50/M input (0.25 + 0.10 output), the 18th at the new $100/M (10.00 + 0.10).
    assert costs[("2026-11-17", "gpt-4o")] == "0.35"
    assert costs[("2026-11-18", "gpt-4o")] == "10.10"
