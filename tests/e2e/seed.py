"""What the dashboard's browser test runs on: a directory, budgets and four weeks of spend,
made through the admin API of a real server whose clock the test moves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
HISTORY_DAYS = 28
SPIKE_DAY = 3  # days before NOW: ten times the usual spend


class Clock:
    """The server's clock, moved by the seeding (the server runs in this process)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    admin: httpx.Client
    keys: dict[str, str]  # user → API key secret


def _ok(response: httpx.Response, status: int = 201) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def build(admin: httpx.Client, clock: Any) -> World:
    _ok(admin.post("/api/v1/orgs", json={"id": "acme", "name": "Acme"}))
    for team, name in (("eng", "Engineering"), ("ops", "Operations")):
        _ok(admin.post("/api/v1/teams", json={"id": team, "org_id": "acme", "name": name}))
    keys = {}
    for user, team, role in (("ann", "eng", "team_admin"), ("dev", "eng", "member"),
                             ("olga", "ops", "member")):  # fmt: skip
        _ok(admin.post("/api/v1/users", json={"id": user, "team_id": team, "name": user.title(),
                                              "role": role}))  # fmt: skip
        keys[user] = _ok(admin.post("/api/v1/keys", json={"user_id": user, "name": user}))["secret"]
    since = {"period": "monthly", "start_date": "2026-10-01"}
    for budget_id, scope, limit in (
        ("acme-monthly", {"type": "organization", "id": "acme"}, "500"),
        ("eng-monthly", {"type": "team", "id": "eng"}, "120"),
        ("ops-monthly", {"type": "team", "id": "ops"}, "60"),
    ):
        body = {"id": budget_id, "name": budget_id, "scope": scope, "limit": limit, **since}
        _ok(admin.post("/api/v1/budgets", json=body))
    models = ("gpt-4o", "claude-haiku-4-5", "gpt-4o-mini")
    for day in range(HISTORY_DAYS, 0, -1):
        for hour, (user, tokens) in enumerate((("ann", 300_000), ("olga", 150_000))):
            clock.now = NOW.replace(hour=9 + hour) - timedelta(days=day)
            scaled = (
                tokens * 10 if day == SPIKE_DAY and user == "ann" else tokens * (4 + day % 4) // 4
            )
            usage = {"model": models[(day + hour) % len(models)], "task_type": "summarisation",
                     "input_tokens": scaled, "output_tokens": scaled // 8}  # fmt: skip
            request_id = f"history-{day}-{user}"
            body = {"request_id": request_id, "amount": "50", "principal": {"user_id": user},
                    "model": usage["model"]}  # fmt: skip
            _ok(admin.post("/api/v1/ledger/holds", json=body))
            # No actual cost: the server prices the tokens at the model's price then.
            _ok(admin.post(f"/api/v1/ledger/holds/{request_id}/settle", json={"usage": usage}), 200)
    clock.now = NOW
    return World(admin, keys)
