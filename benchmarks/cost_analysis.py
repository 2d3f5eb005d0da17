"""Cost analysis on a million usage records: the rollup reads against a scan of the records.

A SQLite database gets ``--records`` usage records over 90 days (5 teams, 50 users, 100 keys,
8 models, 6 task types, some tags; every key uses every model and task type, the worst case
for the sums' size), and their hour and day sums by ``rollups.rebuild`` (the roll-up the
gateway runs every few seconds, over every record). Then, in process through the
ASGI app (no network), each endpoint is timed (median and p99 of ``--rounds`` calls), beside
the baseline of the same summary computed by scanning the records (what the API would cost
without the sums).

    python benchmarks/cost_analysis.py [--records 1000000] [--rounds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine, insert, text

from thrifty.settings import Settings
from thrifty.storage import rollups
from thrifty.storage.database import Database
from thrifty.storage.schema import usage_records

MODELS = ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "claude-haiku-4-5", "gemini-2.0-flash",
          "llama-3.1-8b-instant", "claude-opus-4-1", "o3-mini"]  # fmt: skip
TASKS = ["chat", "code", "summarisation", "extraction", "classification", "translation"]
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def seed(url: str, records: int) -> None:
    rng = random.Random(0)
    engine = create_engine(url)
    started = time.perf_counter()
    batch = []
    with engine.begin() as conn:
        # Records are written as requests settle, so ids follow time: seconds in order.
        seconds = sorted(rng.randrange(90 * 86_400) for _ in range(records))
        for i, offset in enumerate(seconds):
            key = rng.randrange(100)
            at = NOW - timedelta(days=90) + timedelta(seconds=offset)
            batch.append(
                {
                    "request_id": f"r{i}", "key_id": f"k{key}", "user_id": f"u{key // 2}",
                    "team_id": f"t{key // 20}", "org_id": "acme",
                    "tags": ["batch"] if key % 7 == 0 else [], "metadata": {},
                    "model": MODELS[rng.randrange(len(MODELS))], "provider": "sim",
                    "input_tokens": rng.randrange(100, 4000), "cached_input_tokens": 0,
                    "output_tokens": rng.randrange(10, 800), "reasoning_tokens": 0,
                    "cost_nano": rng.randrange(10_000, 50_000_000), "estimated": 0,
                    "status": "ok" if rng.random() > 0.02 else "upstream_error",
                    "latency_ms": 300, "ttft_ms": None, "created_at": at,
                    "task_type": TASKS[rng.randrange(len(TASKS))],
                }
            )  # fmt: skip
            if len(batch) == 20_000:
                conn.execute(insert(usage_records), batch)
                batch = []
        if batch:
            conn.execute(insert(usage_records), batch)
    print(f"seeded {records:,} usage records in {time.perf_counter() - started:.0f} s")
    database = Database(url)
    started = time.perf_counter()
    database.write(rollups.rebuild)
    counts = database.read(
        lambda c: c.execute(
            text(
                "SELECT 'wide ' || grain, count(*) FROM usage_rollups GROUP BY grain UNION ALL"
                " SELECT 'cube ' || grain, count(*) FROM usage_cube GROUP BY grain"
            )
        ).all()
    )
    database.close()
    print(f"rollups rebuilt in {time.perf_counter() - started:.0f} s: {dict(counts)} rows")
    engine.dispose()


def scan_baseline(url: str, rounds: int) -> list[float]:
    """The summary's totals and top teams computed from the records (30 days)."""
    engine = create_engine(url)
    start = (NOW - timedelta(days=30)).strftime("%Y-%m-%d %H:%M:%S.%f")
    sql = text(
        "SELECT team_id, count(*), sum(cost_nano), sum(input_tokens), sum(output_tokens)"
        " FROM usage_records WHERE created_at >= :start GROUP BY team_id"
    )
    times = []
    with engine.connect() as conn:
        for _ in range(rounds):
            began = time.perf_counter()
            conn.execute(sql, {"start": start}).all()
            times.append((time.perf_counter() - began) * 1000)
    engine.dispose()
    return times


async def endpoints(url: str, rounds: int) -> dict[str, list[float]]:
    from thrifty.app import create_app

    app = create_app(Settings(database_url=url, admin_key="bench"), clock=lambda: NOW)
    month = {"start": (NOW - timedelta(days=30)).isoformat(), "end": NOW.isoformat()}
    quarter = {"start": (NOW - timedelta(days=89)).isoformat(), "end": NOW.isoformat()}
    week = {"start": (NOW - timedelta(days=7)).isoformat(), "end": NOW.isoformat()}
    calls = {
        "summary, 30 days": ("/api/v1/cost-analysis/summary", month),
        "by-model, 30 days": ("/api/v1/cost-analysis/by-model", month),
        "by team, 30 days, one team": ("/api/v1/cost-analysis/by/user", {**month, "teamId": "t1"}),
        "trends by day, 90 days, by team": (
            "/api/v1/cost-analysis/trends", {**quarter, "groupBy": "team"}),
        "trends by hour, 7 days": ("/api/v1/cost-analysis/trends", {**week, "granularity": "hour"}),
        "by tag, 30 days": ("/api/v1/cost-analysis/by/tag", month),
    }  # fmt: skip
    found: dict[str, list[float]] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": "Bearer bench"}
        client = httpx.AsyncClient(transport=transport, base_url="http://x", headers=headers)
        async with client as c:
            for name, (path, params) in calls.items():
                times = []
                for _ in range(rounds + 2):
                    began = time.perf_counter()
                    response = await c.get(path, params=params)
                    times.append((time.perf_counter() - began) * 1000)
                    assert response.status_code == 200, response.text
                found[name] = times[2:]
    return found


def _line(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return f"  {name:<40} p50 {statistics.median(times):8.2f} ms   p99 {p99:8.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        database = Database(url)
        database.migrate()
        database.close()
        seed(url, args.records)
        baseline = scan_baseline(url, max(5, args.rounds // 3))
        print(f"baseline: the 30-day summary by scanning {args.records:,} records")
        print(_line("scan of usage_records", baseline))
        print("the endpoints (in process, reading the sums):")
        for name, times in asyncio.run(endpoints(url, args.rounds)).items():
            ratio = statistics.median(baseline) / statistics.median(times)
            print(_line(name, times) + f"   {ratio:5.1f}x faster than the scan")


if __name__ == "__main__":
    main()
