"""500 concurrent requests through two gateway worker processes against one hard budget: the
budget is never exceeded and the ledger equals the sum of the usage records to the nano-USD."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from decimal import Decimal

import httpx
import pytest
from gateway_support import provision
from sqlalchemy import func, select

from live_server import free_port
from thrifty.storage import balances, budgets_repo
from thrifty.storage.database import Database
from thrifty.storage.schema import holds, usage_records

ADMIN = "concurrency-admin-key"
REQUESTS = 500
LIMIT = "0.004"  # USD: roughly a third of the requests' worst cases fit at once


async def _blast(base: str, key: str) -> list[int]:
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Give me one word."}],
        "max_tokens": 40,
    }
    limits = httpx.Limits(max_connections=REQUESTS, max_keepalive_connections=REQUESTS)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120, headers=headers) as c:
        responses = await asyncio.gather(
            *(c.post("/v1/chat/completions", json=body) for _ in range(REQUESTS))
        )
    return [r.status_code for r in responses]


@pytest.mark.slow
def test_two_workers_never_overshoot_a_hard_budget(database_url: str) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("THRIFTY_")}
    env |= {"THRIFTY_ADMIN_KEY": ADMIN, "THRIFTY_DATABASE_URL": database_url}
    command = [sys.executable, "-m", "thrifty.cli", "serve", "--port", str(port), "--workers", "2"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "gateway did not start"
            time.sleep(0.1)
        admin = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ADMIN}"})
        key = provision(admin)
        budget = {
            "name": "eng",
            "scope": {"type": "team", "id": "eng"},
            "limit": LIMIT,
            "period": "monthly",
            "start_date": "2026-01-01",
            "mode": "hard",
        }
        created = admin.post("/api/v1/budgets", json=budget)
        assert created.status_code == 201, created.text
        budget_id = created.json()["id"]
        time.sleep(1.2)  # both workers see the new key
        statuses = asyncio.run(_blast(base, key))
        admin.close()
    finally:
        process.terminate()
        process.wait(timeout=30)

    assert set(statuses) <= {200, 402}, set(statuses)
    assert statuses.count(200) > 10 and statuses.count(402) > 10

    database = Database(database_url)
    try:
        spec = database.read(lambda c: budgets_repo.get_budget(c, budget_id)).spec
        state = database.read(lambda c: balances.budget_states(c, [spec], _now()))[0]
        usage_total = database.read(
            lambda c: c.execute(
                select(func.coalesce(func.sum(usage_records.c.cost_nano), 0))
            ).scalar()
        )
        ok_records = database.read(
            lambda c: c.execute(
                select(func.count())
                .select_from(usage_records)
                .where(usage_records.c.status == "ok")
            ).scalar()
        )
        open_holds = database.read(
            lambda c: c.execute(
                select(func.count()).select_from(holds).where(holds.c.status == "held")
            ).scalar()
        )
        entries = database.read(
            lambda c: balances.spend_from_entries(c, budget_id, state.window.index)
        )
    finally:
        database.close()
    assert ok_records == statuses.count(200)  # one record per answered call, none per refusal
    assert open_holds == 0 and state.held_nano == 0
    assert state.posted_nano == usage_total == entries
    assert Decimal(state.posted_nano) <= Decimal(LIMIT) * 1_000_000_000


def _now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.now(UTC)
