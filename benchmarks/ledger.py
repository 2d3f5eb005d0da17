"""Ledger benchmark: holds + settles per second, and budget status latency over 1M usage rows.

1. Throughput (in process, 8 threads, one hard budget chain of 3 budgets): a full cycle is a
   hold on every budget of the chain and its settlement with a usage record, two write
   transactions. Baseline in the same run: two bare one-row UPDATE transactions per cycle.
2. ``GET /api/v1/budgets/{id}/status`` on a real ``thrifty serve`` whose database holds
   1,000,000 usage records, against ``GET /healthz`` as baseline. Status reads one balance
   row per budget, so the record count must not matter.

    python benchmarks/ledger.py [--postgres URL] [--records 1000000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import create_engine, insert, text

from _harness import ADMIN_KEY, build_request, drive, thrifty_server
from thrifty.budgets.model import BudgetSpec, Scope, ScopeType
from thrifty.budgets.periods import Period, PeriodKind
from thrifty.storage import budgets_repo, ledger
from thrifty.storage.database import Database, normalize_url
from thrifty.storage.schema import usage_records

CHAIN = (
    Scope(ScopeType.USER, "ann"),
    Scope(ScopeType.TEAM, "eng"),
    Scope(ScopeType.ORGANIZATION, "acme"),
)
USD = 1_000_000_000


def _seed_budgets(database: Database, now: datetime) -> None:
    def write(conn):
        for i, scope in enumerate(CHAIN):
            spec = BudgetSpec(
                id=f"b{i}",
                scope=scope,
                limit_nano=10**6 * USD,
                period=Period(PeriodKind.MONTHLY, date(2026, 1, 1)),
            )
            budgets_repo.insert_budget(conn, spec, f"budget {scope}", now)

    database.write(write)


def _seed_directory(conn, now: datetime) -> None:  # type: ignore[no-untyped-def]
    from thrifty.budgets.principal import Role
    from thrifty.storage import directory_repo

    directory_repo.insert_org(conn, org_id="acme", name="Acme", actor="bench", now=now)
    directory_repo.insert_team(
        conn, team_id="eng", org_id="acme", name="Eng", actor="bench", now=now
    )
    directory_repo.insert_user(
        conn,
        user_id="ann",
        team_id="eng",
        name="Ann",
        email=None,
        role=Role.MEMBER,
        actor="bench",
        now=now,
    )


def _timed(threads: int, seconds: float, cycle) -> float:  # type: ignore[no-untyped-def]
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def run(index: int) -> None:
        n = 0
        while time.monotonic() < stop:
            cycle(index, n)
            n += 1
        counts[index] = n

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / seconds


def throughput(url: str, seconds: float, threads: int = 8) -> None:
    database = Database(url)
    database.migrate()
    now = datetime.now(UTC)
    _seed_budgets(database, now)
    database.write(
        lambda c: c.execute(
            text("CREATE TABLE IF NOT EXISTS bench_counter (id INT PRIMARY KEY, n BIGINT)")
        )
    )
    database.write(lambda c: c.execute(text("INSERT INTO bench_counter VALUES (1, 0)")))
    run_id = uuid.uuid4().hex[:8]

    def baseline(index: int, n: int) -> None:
        for _ in range(2):
            database.write(
                lambda c: c.execute(text("UPDATE bench_counter SET n = n + 1 WHERE id = 1"))
            )

    def cycle(index: int, n: int) -> None:
        request_id = f"{run_id}-{index}-{n}"
        charge = ledger.Charge(
            request_id, CHAIN, 5_000_000, now + timedelta(minutes=5), user_id="ann"
        )
        moment = datetime.now(UTC)
        result = database.write(lambda c: ledger.reserve(c, charge, moment))
        assert result.ok, result.refusal
        usage = ledger.Usage(model="gpt-4o", input_tokens=1000, output_tokens=200)
        database.write(lambda c: ledger.settle(c, request_id, 3_000_000, usage, moment))

    base = _timed(threads, seconds, baseline)
    rate = _timed(threads, seconds, cycle)
    name = "PostgreSQL" if "postgres" in url else "SQLite"
    print(
        f"{name:<10} hold+settle cycles {rate:8.0f}/s   baseline (2 one-row updates) {base:8.0f}/s"
        f"   ratio {rate / base:.2f}"
    )
    database.close()


def seed_usage(url: str, records: int, now: datetime) -> None:
    engine = create_engine(normalize_url(url))
    batch = 20_000
    started = time.perf_counter()
    with engine.begin() as conn:
        for start in range(0, records, batch):
            rows = [
                {
                    "request_id": f"seed-{i}",
                    "user_id": "ann",
                    "team_id": "eng",
                    "org_id": "acme",
                    "tags": [],
                    "metadata": {},
                    "model": "gpt-4o-mini",
                    "provider": "simulated",
                    "input_tokens": 500,
                    "cached_input_tokens": 0,
                    "output_tokens": 100,
                    "reasoning_tokens": 0,
                    "cost_nano": 135_000,
                    "estimated": 0,
                    "status": "ok",
                    "created_at": now - timedelta(seconds=i),
                    "rolled_up": 1,  # history already in the cost sums: no backlog to roll up
                }
                for i in range(start, min(records, start + batch))
            ]
            conn.execute(insert(usage_records), rows)
    engine.dispose()
    print(f"seeded {records:,} usage records in {time.perf_counter() - started:.0f} s")


async def status_latency(url: str, records: int, requests: int) -> None:
    database = Database(url)
    database.migrate()
    now = datetime.now(UTC)
    database.write(lambda c: _seed_directory(c, now))
    _seed_budgets(database, now)
    charge = ledger.Charge("warm", CHAIN, USD, now + timedelta(minutes=5), user_id="ann")
    database.write(lambda c: ledger.reserve(c, charge, now))
    database.write(lambda c: ledger.settle(c, "warm", USD // 2, None, now))
    database.close()
    seed_usage(url, records, now)
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with thrifty_server(database_url=url) as base:
        health = build_request(base, "GET", "/healthz")
        status = build_request(base, "GET", "/api/v1/budgets/b1/status", headers=headers)
        scope = build_request(base, "GET", "/api/v1/budgets/status/team/eng", headers=headers)
        capacity = {}
        for name, raw in (
            ("baseline GET /healthz", health),
            ("GET /budgets/b1/status", status),
            ("GET /budgets/status/team/eng", scope),
        ):
            for concurrency in (1, 16):
                result = await drive(name, base, raw, concurrency=concurrency, requests=requests)
                capacity[name] = result.throughput
                print("  " + result.line())
        rate = capacity["GET /budgets/b1/status"] / 2
        for name, raw in (("baseline GET /healthz", health), ("GET /budgets/b1/status", status)):
            result = await drive(
                f"{name} @{rate:.0f}/s", base, raw, concurrency=32, requests=requests, rate=rate
            )
            print("  " + result.line())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", default=os.environ.get("THRIFTY_TEST_POSTGRES_URL"))
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        urls = [f"sqlite:///{tmp}/ledger.db"]
        if args.postgres:
            urls.append(_fresh_postgres(args.postgres))
        print("throughput (8 threads, in process):")
        for url in urls:
            throughput(url, args.seconds)
        print(f"status latency with {args.records:,} usage records:")
        for i in range(len(urls)):
            fresh = f"sqlite:///{tmp}/status.db" if i == 0 else _fresh_postgres(args.postgres)
            print("SQLite" if i == 0 else "PostgreSQL")
            asyncio.run(status_latency(fresh, args.records, args.requests))


def _fresh_postgres(url: str) -> str:
    from sqlalchemy.engine import make_url

    name = f"thrifty_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(normalize_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(normalize_url(url)).set(database=name).render_as_string(hide_password=False)


if __name__ == "__main__":
    main()
