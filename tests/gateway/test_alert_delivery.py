"""Alerts reach a real local webhook receiver: signed, retried after failures, never twice,
in order per channel; Slack channels get a message; the delivery log and manual redelivery."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from gateway_support import ADMIN, Gateway, provision, serve

from receiver import Receiver, receiver
from thrifty.notify.signing import verify
from thrifty.settings import Settings

ALERTS = """
alerts:
  send_interval_seconds: 0.05
  retry_base_seconds: 0.2
  retry_max_seconds: 0.4
  give_up_hours: 0.001
"""


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as listening:
        yield listening


@pytest.fixture
def gateway(database_url: str, tmp_path: Path) -> Iterator[Gateway]:
    config = tmp_path / "thrifty.yaml"
    config.write_text(ALERTS)
    settings = Settings(database_url=database_url, admin_key=ADMIN, config=str(config))
    for url in serve(settings):
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN}"}) as admin:
            gateway = Gateway(url, provision(admin), admin, database_url)
            yield gateway


def wait_for(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def channel(gateway: Gateway, **body: Any) -> dict[str, Any]:
    response = gateway.admin.post("/api/v1/alert-channels", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def spend(gateway: Gateway, key: httpx.Client, request_id: str, usd: str) -> None:
    held = key.post("/api/v1/ledger/holds", json={"request_id": request_id, "amount": usd})
    assert held.status_code == 201, held.text
    settled = key.post(f"/api/v1/ledger/holds/{request_id}/settle", json={"actual_cost": usd})
    assert settled.status_code == 200, settled.text


@pytest.fixture
def key(gateway: Gateway) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=gateway.url, headers={"Authorization": f"Bearer {gateway.key}"}
    ) as client:
        yield client


def test_signed_retried_once_each_in_order(
    gateway: Gateway, hook: Receiver, key: httpx.Client
) -> None:
    hooked = channel(
        gateway,
        name="ops",
        kind="webhook",
        url=f"{hook.url}/ops",
        scope={"type": "organization", "id": "acme"},
    )
    secret = hooked["secret"]
    assert secret.startswith("whsec_") and hooked["signed"] is True
    slack = channel(
        gateway,
        name="chat",
        kind="slack",
        url=f"{hook.url}/slack",
        events=["threshold", "exhausted"],
    )
    assert "secret" in slack and slack["secret"] is None
    hook.fail("/ops", 500, 503)  # the first event is retried twice before it lands
    budget = gateway.budget(
        "team",
        "eng",
        "1.00",
        mode="soft",
        thresholds=[
            {"percent": 50, "actions": ["notify"]},
            {"percent": 80, "actions": ["notify"]},
            {"percent": 100, "actions": ["notify"]},
        ],
    )
    for i in range(12):  # 12 × $0.10: 50% and 80% crossed once each, then exhausted
        spend(gateway, key, f"r{i}", "0.10")
    override = key.post(
        "/api/v1/overrides",
        json={
            "budget_id": budget["id"],
            "amount": "0.50",
            "reason": "launch day",
            "expires_at": "2099-01-01T00:00:00Z",
        },
    )
    assert override.status_code == 201, override.text
    decided = gateway.admin.post(
        f"/api/v1/overrides/{override.json()['id']}/approve", json={"reason": "ok"}
    )
    assert decided.status_code == 200, decided.text

    kinds = [
        "budget.threshold_crossed",
        "budget.threshold_crossed",
        "budget.exhausted",
        "override.requested",
        "override.approved",
    ]
    wait_for(lambda: len({r.headers["X-Thrifty-Event-Id"] for r in hook.at("/ops")}) == 5)
    time.sleep(0.5)  # nothing more arrives: no duplicates
    got = hook.at("/ops")
    assert len(got) == 7  # 5 events, the first one sent 3 times
    for request in got:
        verify(
            secret,
            request.body,
            timestamp=request.headers["X-Thrifty-Timestamp"],
            signed=request.headers["X-Thrifty-Signature"],
            now=_now(),
        )
    delivered = [r for r in got[2:]]
    assert [r.json()["type"] for r in delivered] == kinds
    ids = [int(r.json()["id"].removeprefix("evt_")) for r in delivered]
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert [r.headers["X-Thrifty-Delivery-Attempt"] for r in got[:3]] == ["1", "2", "3"]
    first = delivered[0].json()
    assert first["budget"]["scope"] == {"type": "team", "id": "eng"}
    assert first["data"]["percent"] == "50" and "50%" in first["summary"]

    chat = wait_for(lambda: len(hook.at("/slack")) == 3 and hook.at("/slack"))
    assert [m.json()["text"].split("*")[1] for m in chat] == kinds[:3]
    assert "X-Thrifty-Signature" not in chat[0].headers

    log = gateway.admin.get("/api/v1/alert-deliveries", params={"channel_id": hooked["id"]})
    assert log.status_code == 200, log.text
    rows = log.json()["deliveries"]
    assert [r["status"] for r in rows] == ["delivered"] * 5
    assert rows[-1]["attempts"] == 3 and rows[-1]["last_status"] == 200
    assert [r["event_type"] for r in reversed(rows)] == kinds

    again = gateway.admin.post(f"/api/v1/alert-deliveries/{rows[0]['id']}/redeliver")
    assert again.status_code == 200 and again.json()["status"] == "pending"
    wait_for(lambda: len(hook.at("/ops")) == 8)
    assert hook.at("/ops")[-1].json()["type"] == "override.approved"
    audit = gateway.admin.get("/api/v1/audit", params={"action": "alert_delivery.redelivered"})
    assert audit.status_code == 200 and audit.json()["entries"]
    wait_for(
        lambda: (
            'thrifty_alert_deliveries{status="delivered"} 8.0' in gateway.admin.get("/metrics").text
        )
    )  # 5 to the webhook, 3 to Slack


def test_gives_up_and_moves_on(gateway: Gateway, hook: Receiver, key: httpx.Client) -> None:
    hooked = channel(gateway, name="down", kind="webhook", url=f"{hook.url}/down")
    hook.fail("/down", *([500] * 1000))  # down for longer than the give-up age (3.6 s)
    gateway.budget(
        "team", "eng", "1.00", mode="soft", thresholds=[{"percent": 50, "actions": ["notify"]}]
    )
    spend(gateway, key, "big", "0.60")
    params = {"channel_id": hooked["id"]}
    rows = wait_for(
        lambda: [
            r
            for r in gateway.admin.get("/api/v1/alert-deliveries", params=params).json()[
                "deliveries"
            ]
            if r["status"] == "failed"
        ]
    )
    assert rows[0]["attempts"] >= 3 and rows[0]["last_status"] == 500
    assert "HTTP 500" in rows[0]["last_error"]


def test_channels_follow_scopes_and_rights(gateway: Gateway, key: httpx.Client) -> None:
    denied = key.post(
        "/api/v1/alert-channels",
        json={"name": "x", "kind": "webhook", "url": "http://127.0.0.1:9/x"},
    )
    assert denied.status_code == 403 and denied.json()["error"]["param"] == "scope"
    bad = gateway.admin.post(
        "/api/v1/alert-channels",
        json={"name": "x", "kind": "webhook", "url": "ftp://x", "events": ["nope"]},
    )
    assert bad.status_code == 422 and bad.json()["error"]["param"] == "url"
    events = gateway.admin.post(
        "/api/v1/alert-channels",
        json={"name": "x", "kind": "webhook", "url": "http://127.0.0.1:9/x", "events": ["nope"]},
    )
    assert events.status_code == 422 and events.json()["error"]["param"] == "events.0"
    missing = gateway.admin.post(
        "/api/v1/alert-channels",
        json={
            "name": "x",
            "kind": "webhook",
            "url": "http://127.0.0.1:9/x",
            "scope": {"type": "team", "id": "nope"},
        },
    )
    assert missing.status_code in (400, 404) and missing.json()["error"]["param"] == "scope.id"
    made = channel(
        gateway,
        name="eng",
        kind="webhook",
        url="http://127.0.0.1:9/x",
        scope={"type": "team", "id": "eng"},
    )
    assert key.get("/api/v1/alert-channels").json()["channels"][0]["id"] == made["id"]
    assert "secret" not in key.get(f"/api/v1/alert-channels/{made['id']}").json()
    assert key.delete(f"/api/v1/alert-channels/{made['id']}").status_code == 403
    patched = gateway.admin.patch(f"/api/v1/alert-channels/{made['id']}", json={"enabled": False})
    assert patched.status_code == 200 and patched.json()["enabled"] is False
    assert gateway.admin.delete(f"/api/v1/alert-channels/{made['id']}").status_code == 204
    assert gateway.admin.get(f"/api/v1/alert-channels/{made['id']}").status_code == 404


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)
