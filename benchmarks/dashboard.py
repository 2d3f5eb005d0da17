"""Dashboard page latency, on a real ``thrifty serve`` (SQLite) with a month of spend.

Seeds one organisation with 10 teams, 50 users and a budget on each (61 budgets), and 30 days
of usage records from the inbound ``cost-data`` webhook (``--records``, spread over the users,
four models and the days). Then, signed in with the admin key, requests each page ``--runs``
times in turn and prints the median and p95 time to the whole HTML answer.

Baseline in the same run: the API calls the overview makes (the budgets with their statuses,
the summary, the per-model split, the alerts and the savings), made directly by an HTTP client
as concurrently as the page makes them in-process. The ratio is what serving them as a page
costs on top: the in-process client and the rendering. A second line makes one status call
per budget instead of ``GET /api/v1/budgets?include=status``.

    .venv/bin/python benchmarks/dashboard.py [--records 20000] [--runs 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from datetime import UTC, datetime, timedelta

import httpx

from _harness import ADMIN_KEY, thrifty_server
from thrifty.notify.signing import signed_headers

PAGES = ("/", "/budgets", "/alerts", "/approvals", "/analytics", "/decisions", "/rules",
         "/recommendations")  # fmt: skip
MODELS = ("gpt-4o", "gpt-4o-mini", "claude-haiku-4-5", "claude-sonnet-4-5")


def seed(base: str, records: int) -> None:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                      timeout=120) as admin:  # fmt: skip
        admin.post("/api/v1/orgs", json={"id": "acme", "name": "Acme"}).raise_for_status()
        month = {"period": "monthly", "start_date": "2026-01-01", "limit": "1000"}
        admin.post("/api/v1/budgets", json={"id": "acme", "name": "acme", **month,
                   "scope": {"type": "organization", "id": "acme"}}).raise_for_status()  # fmt: skip
        for t in range(10):
            team = {"id": f"t{t}", "org_id": "acme", "name": f"team {t}"}
            admin.post("/api/v1/teams", json=team).raise_for_status()
            admin.post("/api/v1/budgets", json={"id": f"t{t}", "name": f"t{t}", **month,
                       "scope": {"type": "team", "id": f"t{t}"}}).raise_for_status()  # fmt: skip
            for u in range(5):
                user = f"u{t}{u}"
                body = {"id": user, "team_id": f"t{t}", "name": user}
                admin.post("/api/v1/users", json=body).raise_for_status()
                admin.post("/api/v1/budgets", json={"id": user, "name": user, **month,
                           "scope": {"type": "user", "id": user}}).raise_for_status()  # fmt: skip
        made = admin.post("/api/v1/webhook-senders", json={"id": "bench", "name": "bench"})
        made.raise_for_status()
        secret = made.json()["secret"]
        now = datetime.now(UTC)
        per_event = 500
        for e in range(0, records, per_event):
            batch = [
                {
                    "id": f"r{i}",
                    "timestamp": (now - timedelta(hours=(i * 7) % 720)).isoformat(),
                    "model": MODELS[i % len(MODELS)],
                    "user_id": f"u{i % 10}{i % 5}",
                    "cost": f"0.{i % 9 + 1:03d}",
                    "input_tokens": 900,
                    "output_tokens": 120,
                }
                for i in range(e, min(records, e + per_event))
            ]
            raw = json.dumps({"id": f"evt{e}", "records": batch}).encode()
            headers = {"X-Thrifty-Sender": "bench", "Content-Type": "application/json",
                       **signed_headers(secret, raw, datetime.now(UTC))}  # fmt: skip
            admin.post(
                "/api/v1/webhooks/cost-data", content=raw, headers=headers
            ).raise_for_status()


def _figures(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered) * 1000, ordered[int(0.95 * (len(ordered) - 1))] * 1000


def pages(base: str, runs: int) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {p: [] for p in PAGES}
    with httpx.Client(base_url=base, timeout=60) as browser:
        signed = browser.post("/signin", data={"key": ADMIN_KEY})
        assert signed.status_code == 303 and "thrifty_session" in browser.cookies, signed.text
        for path in PAGES:  # warm each page once
            assert browser.get(path).status_code == 200, path
        for _ in range(runs):
            for path in PAGES:
                start = time.perf_counter()
                response = browser.get(path)
                found[path].append(time.perf_counter() - start)
                assert response.status_code == 200 and "</html>" in response.text, path
    return found


async def _overview_calls(client: httpx.AsyncClient, start: str, *, one_by_one: bool) -> None:
    if one_by_one:  # a status call per budget, as the overview made them before ?include=status
        listed = (await client.get("/api/v1/budgets")).json()["budgets"]
        await asyncio.gather(*(client.get(f"/api/v1/budgets/{b['id']}/status") for b in listed))
    else:
        await client.get("/api/v1/budgets", params={"include": "status"})
    await asyncio.gather(
        client.get("/api/v1/cost-analysis/summary", params={"start": start, "top": 5}),
        client.get("/api/v1/cost-analysis/by-model", params={"start": start}),
        client.get("/api/v1/alerts", params={"limit": 10}),
        client.get("/api/v1/cost/savings", params={"start": start}),
    )


async def baseline(base: str, runs: int, *, one_by_one: bool = False) -> list[float]:
    start = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    times = []
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with httpx.AsyncClient(base_url=base, timeout=60, headers=headers) as client:
        await _overview_calls(client, start.isoformat(), one_by_one=one_by_one)
        for _ in range(runs):
            began = time.perf_counter()
            await _overview_calls(client, start.isoformat(), one_by_one=one_by_one)
            times.append(time.perf_counter() - began)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with thrifty_server() as base:
        began = time.perf_counter()
        seed(base, args.records)
        print(f"seeded 61 budgets and {args.records} usage records in "
              f"{time.perf_counter() - began:.1f} s")  # fmt: skip
        measured = pages(base, args.runs)
        direct = asyncio.run(baseline(base, args.runs))
        each = asyncio.run(baseline(base, args.runs, one_by_one=True))
    base_p50, base_p95 = _figures(direct)
    print(f"{'page':<18} {'p50 ms':>8} {'p95 ms':>8}")
    for path, times in measured.items():
        p50, p95 = _figures(times)
        print(f"{path:<18} {p50:>8.1f} {p95:>8.1f}")
    over_p50, _ = _figures(measured["/"])
    print(f"{'baseline':<18} {base_p50:>8.1f} {base_p95:>8.1f}   the overview's API calls made "
          f"directly (overview / baseline at p50: {over_p50 / base_p50:.2f})")  # fmt: skip
    each_p50, each_p95 = _figures(each)
    print(f"{'one by one':<18} {each_p50:>8.1f} {each_p95:>8.1f}   the same with one status call "
          f"per budget (the page before ?include=status)")  # fmt: skip


if __name__ == "__main__":
    main()
