"""Alert delivery and inbound webhook benchmark, on a real ``thrifty serve`` (SQLite).

1. Delivery: 50 budgets on one team, each with thresholds at every 10%; one spend crosses all
   of them, recording 500 alert events at once. A signed-webhook channel of the organisation
   sends them to a local receiver (stdlib HTTP server). Figures: deliveries per second from the
   first event to the last receipt, and the latency from each event's record to its receipt.
   Baseline in the same run: the same 500 bodies POSTed straight to the receiver, one after
   another, from this process.
2. Inbound ``cost-data`` (a fresh server; a user, team and organisation budget): signed events
   of 100 records each, posted sequentially; records per second. Baseline: the same records as
   hold + settle pairs on ``/api/v1/ledger/holds``.

    python benchmarks/alerts.py [--budgets 50] [--events 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from _harness import ADMIN_KEY, thrifty_server
from thrifty.notify.signing import signed_headers

CONFIG = "alerts:\n  send_interval_seconds: 0.1\n"


class Receiver:
    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.times.setdefault(
                        self.headers.get("X-Thrifty-Event-Id", ""), time.time()
                    )
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _provision(admin: httpx.Client) -> str:
    for path, body in (
        ("/api/v1/orgs", {"id": "acme", "name": "Acme"}),
        ("/api/v1/teams", {"id": "eng", "org_id": "acme", "name": "Eng"}),
        ("/api/v1/users", {"id": "ann", "team_id": "eng", "name": "Ann"}),
    ):
        admin.post(path, json=body).raise_for_status()
    key = admin.post("/api/v1/keys", json={"user_id": "ann", "name": "bench"})
    key.raise_for_status()
    return str(key.json()["secret"])


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def delivery(base: str, admin: httpx.Client, key: str, budgets: int) -> None:
    receiver = Receiver()
    try:
        made = admin.post(
            "/api/v1/alert-channels",
            json={
                "name": "bench",
                "kind": "webhook",
                "url": receiver.url,
                "scope": {"type": "organization", "id": "acme"},
            },
        )
        made.raise_for_status()
        thresholds = [{"percent": p, "actions": ["notify"]} for p in range(10, 101, 10)]
        for i in range(budgets):
            admin.post(
                "/api/v1/budgets",
                json={
                    "id": f"b{i}",
                    "name": f"b{i}",
                    "scope": {"type": "team", "id": "eng"},
                    "limit": "1",
                    "period": "monthly",
                    "start_date": "2026-01-01",
                    "mode": "soft",
                    "thresholds": thresholds,
                },
            ).raise_for_status()
        agent = {"Authorization": f"Bearer {key}"}
        admin.post(
            "/api/v1/ledger/holds", headers=agent, json={"request_id": "all", "amount": "1.5"}
        ).raise_for_status()
        expected = budgets * 10
        deadline = time.time() + 300
        while len(receiver.times) < expected and time.time() < deadline:
            time.sleep(0.05)
        events, before = [], None
        while True:
            page = admin.get(
                "/api/v1/alerts",
                params={"limit": 1000, **({"before_id": before} if before else {})},
            ).json()
            events += page["alerts"]
            before = page["next_before_id"]
            if not before:
                break
        created = {
            f"evt_{e['id']}": datetime.fromisoformat(e["created_at"]).timestamp() for e in events
        }
        latencies = [receiver.times[k] - created[k] for k in created if k in receiver.times]
        span = max(receiver.times.values()) - min(created.values())
        rate = len(receiver.times) / span
        print(
            f"delivery: {len(receiver.times)}/{expected} events received, "
            f"{rate:.0f} deliveries/s (first event to last receipt)"
        )
        print(
            f"  event to receipt: p50 {statistics.median(latencies) * 1000:.0f} ms, "
            f"p99 {_percentile(latencies, 0.99) * 1000:.0f} ms "
            f"(polling every 0.1 s; one channel is sent in order, one at a time)"
        )
        body = json.dumps({"id": "evt_0", "type": "budget.threshold_crossed", "data": {}}).encode()
        with httpx.Client() as direct:
            start = time.perf_counter()
            for i in range(expected):
                headers = {
                    "X-Thrifty-Event-Id": f"direct_{i}",
                    "Content-Type": "application/json",
                    **signed_headers("s" * 32, body, datetime.now(UTC)),
                }
                direct.post(receiver.url, content=body, headers=headers)
            direct_rate = expected / (time.perf_counter() - start)
        print(
            f"  baseline, the same POSTs straight from one client: {direct_rate:.0f}/s; "
            f"ratio {rate / direct_rate:.2f}"
        )
    finally:
        receiver.close()


def inbound(base: str, admin: httpx.Client, key: str, events: int) -> None:
    for scope_type, scope_id in (("user", "ann"), ("team", "eng"), ("organization", "acme")):
        budget = {
            "id": f"{scope_type}-{scope_id}",
            "name": scope_id,
            "scope": {"type": scope_type, "id": scope_id},
            "limit": "1000000",
            "period": "monthly",
            "start_date": "2026-01-01",
            "mode": "hard",
        }
        admin.post("/api/v1/budgets", json=budget).raise_for_status()
    made = admin.post("/api/v1/webhook-senders", json={"id": "bench", "name": "bench"})
    made.raise_for_status()
    secret = made.json()["secret"]
    at = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    per_event = 100
    with httpx.Client(base_url=base, timeout=60) as client:
        start = time.perf_counter()
        for e in range(events):
            records = [
                {
                    "id": f"e{e}r{i}",
                    "timestamp": at,
                    "model": "gpt-4o",
                    "user_id": "ann",
                    "cost": "0.001",
                    "input_tokens": 100,
                    "output_tokens": 10,
                }
                for i in range(per_event)
            ]
            raw = json.dumps({"id": f"evt{e}", "records": records}).encode()
            headers = {
                "X-Thrifty-Sender": "bench",
                "Content-Type": "application/json",
                **signed_headers(secret, raw, datetime.now(UTC)),
            }
            client.post(
                "/api/v1/webhooks/cost-data", content=raw, headers=headers
            ).raise_for_status()
        inbound_rate = events * per_event / (time.perf_counter() - start)
        agent = {"Authorization": f"Bearer {key}"}
        count = min(500, events * per_event)
        start = time.perf_counter()
        for i in range(count):
            client.post(
                "/api/v1/ledger/holds",
                headers=agent,
                json={"request_id": f"h{i}", "amount": "0.001"},
            ).raise_for_status()
            client.post(
                f"/api/v1/ledger/holds/h{i}/settle", headers=agent, json={"actual_cost": "0.001"}
            ).raise_for_status()
        hold_rate = count / (time.perf_counter() - start)
    print(
        f"cost-data: {inbound_rate:.0f} records/s in events of {per_event} "
        f"({events} events, sequential)"
    )
    print(
        f"  baseline, hold + settle per record over the API: {hold_rate:.0f} records/s; "
        f"ratio {inbound_rate / hold_rate:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=int, default=50)
    parser.add_argument("--events", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "thrifty.yaml"
        config.write_text(CONFIG)  # no models: every record and hold names its cost
        with (
            thrifty_server(config=str(config)) as base,
            httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=60
            ) as admin,
        ):
            delivery(base, admin, _provision(admin), args.budgets)
        with (
            thrifty_server(config=str(config)) as base,
            httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=60
            ) as admin,
        ):  # a fresh database: a chain of three budgets (user, team, organisation)
            inbound(base, admin, _provision(admin), args.events)


if __name__ == "__main__":
    main()
