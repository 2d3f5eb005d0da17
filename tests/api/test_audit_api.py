from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert
from starlette.testclient import TestClient
from test_budgets_api import (  # noqa: F401
    BUDGET,
    NOW,
    Clock,
    Keys,
    api,
    budgets_of_every_scope,
    clock,
    create,
    database_of,
    keys,
)

from thrifty.storage.schema import alert_events


def test_audit_lists_budget_actions_with_filters_and_pages(
    api: TestClient,  # noqa: F811
    clock: Clock,  # noqa: F811
) -> None:
    create(api)
    clock.now = NOW + timedelta(hours=1)
    create(api, id="tagged", scope={"type": "tag", "id": "batch"})
    clock.now = NOW + timedelta(hours=2)
    tagged = {**BUDGET, "id": "tagged", "scope": {"type": "tag", "id": "batch"}, "limit": "5"}
    assert api.put("/api/v1/budgets/tagged", json=tagged).status_code == 200
    assert api.delete("/api/v1/budgets/tagged").status_code == 204

    everything = api.get("/api/v1/audit").json()
    actions = [(e["action"], e["target_id"]) for e in everything["entries"]]
    assert actions == [
        ("budget.deleted", "tagged"),
        ("budget.updated", "tagged"),
        ("budget.created", "tagged"),
        ("budget.created", "eng-monthly"),
    ]
    assert everything["entries"][1]["details"]["changes"] == {"limit": {"from": "100", "to": "5"}}
    created = everything["entries"][3]
    assert created["actor"] == "admin" and created["target_type"] == "budget"
    assert created["at"] == NOW.isoformat() and created["details"]["limit"] == "100"
    assert everything["next_before_id"] is None

    def ids(**params: object) -> list[str]:
        response = api.get("/api/v1/audit", params=params)
        assert response.status_code == 200, response.text
        return [f"{e['action']} {e['target_id']}" for e in response.json()["entries"]]

    assert ids(target_id="tagged", action="budget.created") == ["budget.created tagged"]
    assert ids(since=(NOW + timedelta(minutes=90)).isoformat()) == [
        "budget.deleted tagged",
        "budget.updated tagged",
    ]
    assert ids(until=(NOW + timedelta(minutes=30)).isoformat()) == ["budget.created eng-monthly"]
    assert ids(target_type="key") == []

    first = api.get("/api/v1/audit", params={"limit": 3}).json()
    assert len(first["entries"]) == 3 and first["next_before_id"] is not None
    rest = api.get("/api/v1/audit", params={"before_id": first["next_before_id"]}).json()
    assert [e["target_id"] for e in rest["entries"]] == ["eng-monthly"]


def test_bad_audit_queries_name_the_parameter(api: TestClient) -> None:  # noqa: F811
    cases = [
        ({"limit": 0}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-11-01T00:00:00"}, "since"),  # no time zone
        ({"since": NOW.isoformat(), "until": NOW.isoformat()}, "until"),
        ({"before_id": -1}, "before_id"),
    ]
    for params, name in cases:
        response = api.get("/api/v1/audit", params=params)
        assert 400 <= response.status_code < 500, (params, response.text)
        assert response.json()["error"]["param"].endswith(name), response.text


def test_alerts_newest_first_with_filters(api: TestClient) -> None:  # noqa: F811
    create(api)
    rows = [
        ("eng-monthly", 0, "threshold", "50", NOW),
        ("eng-monthly", 0, "threshold", "70", NOW + timedelta(minutes=1)),
        ("other", 3, "turnover", "", NOW + timedelta(minutes=2)),
        ("eng-monthly", 0, "exhausted", "100", NOW + timedelta(minutes=3)),
    ]
    database_of(api).write(
        lambda conn: conn.execute(
            insert(alert_events),
            [
                {
                    "budget_id": budget,
                    "window_index": window,
                    "kind": kind,
                    "threshold": threshold,
                    "payload": {"percent": threshold},
                    "created_at": at,
                }
                for budget, window, kind, threshold, at in rows
            ],
        )
    )

    def listed(**params: object) -> list[tuple[str, str | None]]:
        response = api.get("/api/v1/alerts", params=params)
        assert response.status_code == 200, response.text
        return [(a["kind"], a["threshold"]) for a in response.json()["alerts"]]

    assert listed() == [
        ("exhausted", "100"),
        ("turnover", None),
        ("threshold", "70"),
        ("threshold", "50"),
    ]
    assert listed(budget_id="other") == [("turnover", None)]
    assert listed(kind="threshold") == [("threshold", "70"), ("threshold", "50")]
    assert listed(since=(NOW + timedelta(minutes=2)).isoformat()) == [
        ("exhausted", "100"),
        ("turnover", None),
    ]
    assert listed(limit=1) == [("exhausted", "100")]
    alert = api.get("/api/v1/alerts", params={"limit": 1}).json()["alerts"][0]
    assert alert["budget_id"] == "eng-monthly" and alert["window_index"] == 0
    assert alert["created_at"] == (NOW + timedelta(minutes=3)).isoformat()
    assert alert["acknowledged_at"] is None and alert["payload"] == {"percent": "100"}
    assert api.get("/api/v1/alerts", params={"limit": 5000}).status_code == 422


def test_api_keys_read_the_audit_and_alerts_of_what_they_see(
    api: TestClient,  # noqa: F811
    keys: Keys,  # noqa: F811
) -> None:
    budgets_of_every_scope(api)
    rows = [
        {
            "budget_id": budget,
            "window_index": 0,
            "kind": "threshold",
            "threshold": "50",
            "payload": {},
            "created_at": NOW,
        }
        for budget in ("eng-monthly", "ops-monthly")
    ]
    database_of(api).write(lambda conn: conn.execute(insert(alert_events), rows))

    def audited(name: str, **params: object) -> set[tuple[str, str]]:
        response = api.get("/api/v1/audit", params=params, headers=keys.of(name))
        assert response.status_code == 200, response.text
        return {(e["target_type"], e["target_id"]) for e in response.json()["entries"]}

    member = audited("member")
    assert ("budget", "eng-monthly") in member and ("user", "member") in member
    assert ("budget", "ops-monthly") not in member and ("team", "ops") not in member
    assert ("user", "ops-member") not in member and ("budget", "batch") not in member
    assert audited("ops_member", target_type="budget") == {
        ("budget", "acme-org"),
        ("budget", "ops-monthly"),
    }
    assert audited("ops_member", target_id="eng-monthly") == set()
    assert ("budget", "batch") not in audited("org_admin")

    first = api.get("/api/v1/audit", params={"limit": 2}, headers=keys.of("member")).json()
    assert len(first["entries"]) == 2
    rest = api.get(
        "/api/v1/audit", params={"before_id": first["next_before_id"]}, headers=keys.of("member")
    ).json()["entries"]
    assert all(e["id"] < first["next_before_id"] for e in rest)
    assert {(e["target_type"], e["target_id"]) for e in [*first["entries"], *rest]} == member

    def alerted(name: str, **params: object) -> list[str]:
        response = api.get("/api/v1/alerts", params=params, headers=keys.of(name))
        return [a["budget_id"] for a in response.json()["alerts"]]

    assert alerted("member") == ["eng-monthly"]
    assert alerted("member", budget_id="ops-monthly") == []
    assert sorted(alerted("org_admin")) == ["eng-monthly", "ops-monthly"]
