"""``/alerts``: the alert history with its filters, channels (the secret shown once), the
delivery log with redelivery, and refusals shown in the page's error areas."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient
from ui_support import Seeded, csrf_of, ok, spend

from receiver import Receiver, receiver
from thrifty.ui.alerts import describe

ALERT_ROW = re.compile(
    r'<tr data-testid="alert-row" data-kind="(\w+)" data-alert="\d+">(.*?)</tr>', re.S
)
SECRET = re.compile(r'data-testid="channel-secret">(whsec_[0-9a-f]+)<')


def alert_rows(html: str) -> list[tuple[str, str]]:
    return [(kind, re.sub(r"\s+", " ", body)) for kind, body in ALERT_ROW.findall(html)]


def channel_row(html: str, channel_id: str) -> str:
    found = re.search(
        rf'<tr data-testid="channel-row" data-channel="{channel_id}">(.*?)</tr>', html, re.S
    )
    assert found, f"no row of channel {channel_id}"
    return found.group(1)


def wait_for(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)
    return value


def new_channel(seeded: Seeded, url: str = "http://127.0.0.1:9/hook", **body: Any) -> Any:
    body = {"name": "finops", "kind": "webhook", "url": url} | body
    return ok(seeded.api.post("/api/v1/alert-channels", json=body), 201)


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as listening:
        yield listening


def test_a_crossed_threshold_shows_in_the_history(seeded: Seeded, admin_pages: TestClient) -> None:
    before = alert_rows(admin_pages.get("/alerts?budget_id=eng-monthly").text)
    assert before == []  # eng is at 32.5%
    spend(seeded.api, "cross-eng", "carol", "20")  # eng: 52.50 of 100
    page = admin_pages.get("/alerts")
    assert page.status_code == 200, page.text
    crossed = [body for kind, body in alert_rows(page.text) if "eng-monthly" in body]
    assert len(crossed) == 1 and "50%" in crossed[0]
    assert "crossed 50%: $52.50 of $100.00 used" in crossed[0]
    assert [kind for kind, body in alert_rows(page.text) if "eng-monthly" in body] == ["threshold"]


def test_the_filters_narrow_the_history(seeded: Seeded, admin_pages: TestClient) -> None:
    spend(seeded.api, "cross-eng", "carol", "20")
    everything = alert_rows(admin_pages.get("/alerts").text)
    assert {"eng-monthly", "alice-monthly"} <= {
        b for _, row in everything for b in re.findall(r"<td>([a-z-]+)</td>", row)
    }
    eng = alert_rows(admin_pages.get("/alerts?budget_id=eng-monthly").text)
    assert eng and all("eng-monthly" in body and "alice-monthly" not in body for _, body in eng)
    alice = alert_rows(admin_pages.get("/alerts?budget_id=alice-monthly&kind=threshold").text)
    assert sorted(p for _, b in alice for p in re.findall(r"crossed (\d+)%", b)) == ["50", "70"]
    assert {kind for kind, _ in alice} == {"threshold"}
    none = admin_pages.get("/alerts?kind=exhausted")
    assert alert_rows(none.text) == [] and "match these filters" in none.text
    # Paging: before the newest event, the newest is gone.
    newest = ok(seeded.api.get("/api/v1/alerts?limit=1"))["alerts"][0]["id"]
    older = admin_pages.get(f"/alerts?before_id={newest}").text
    assert f'data-alert="{newest}"' not in older and 'data-testid="newest-alerts"' in older


def test_a_member_sees_only_the_alerts_of_its_chain(seeded: Seeded, key_pages: Any) -> None:
    spend(seeded.api, "cross-eng", "carol", "20")
    html = key_pages("bob").get("/alerts").text
    assert "eng-monthly" not in html and "alice-monthly" not in html
    assert 'data-testid="channel-form"' not in html  # a member manages no channel
    assert 'data-testid="channel-form"' in key_pages("alice").get("/alerts").text


def test_a_new_channel_shows_its_secret_once(seeded: Seeded, admin_pages: TestClient) -> None:
    csrf = csrf_of(admin_pages.get("/alerts").text)
    form = {
        "csrf": csrf,
        "name": "finops",
        "kind": "webhook",
        "url": "http://127.0.0.1:9/hook",
        "scope_type": "organization",
        "scope_id": "acme",
        "events": ["threshold", "exhausted"],
        "enabled": "true",
    }
    created = admin_pages.post("/alerts/channels", data=form)
    assert created.status_code == 201, created.text
    found = SECRET.search(created.text)
    assert found and "shown <strong>this once</strong>" in created.text
    assert "thrifty_notice" not in created.headers.get("set-cookie", "")
    (channel,) = ok(seeded.api.get("/api/v1/alert-channels"))["channels"]
    assert channel["events"] == ["exhausted", "threshold"] and channel["enabled"]
    assert channel["scope"] == {"type": "organization", "id": "acme"} and channel["signed"]
    later = admin_pages.get("/alerts").text
    assert found.group(1) not in later
    row = channel_row(later, channel["id"])
    assert "finops" in row and "exhausted, threshold" in row and "enabled" in row


def test_a_slack_channel_hides_its_url(seeded: Seeded, admin_pages: TestClient) -> None:
    url = "https://hooks.slack.example/services/T000/B000/XXXXSECRET"
    channel = new_channel(seeded, url=url, kind="slack", scope={"type": "team", "id": "eng"})
    html = admin_pages.get("/alerts").text
    assert "XXXXSECRET" not in html and "https://hooks.slack.example/…" in channel_row(
        html, channel["id"]
    )


def test_channel_form_errors_are_named(seeded: Seeded, admin_pages: TestClient) -> None:
    csrf = csrf_of(admin_pages.get("/alerts").text)
    base = {"csrf": csrf, "name": "x", "kind": "webhook", "url": "http://127.0.0.1:9/hook"}
    bad_url = admin_pages.post("/alerts/channels", data=base | {"url": "ftp://nowhere"})
    assert bad_url.status_code in (400, 422) and 'id="url-error"' in bad_url.text
    assert 'value="ftp://nowhere"' in bad_url.text  # the user's value is kept
    no_id = admin_pages.post("/alerts/channels", data=base | {"scope_type": "team"})
    assert no_id.status_code in (400, 422) and 'id="scope_id-error"' in no_id.text
    missing = admin_pages.post(
        "/alerts/channels", data=base | {"scope_type": "team", "scope_id": "nope"}
    )
    assert missing.status_code == 400 and 'id="scope_id-error"' in missing.text
    assert "team &#39;nope&#39; does not exist" in missing.text
    assert ok(seeded.api.get("/api/v1/alert-channels"))["channels"] == []


def test_a_channel_is_disabled_enabled_and_deleted(seeded: Seeded, admin_pages: TestClient) -> None:
    channel = new_channel(seeded, scope={"type": "team", "id": "eng"})
    path = f"/api/v1/alert-channels/{channel['id']}"
    csrf = csrf_of(admin_pages.get("/alerts").text)
    off = admin_pages.post(
        f"/alerts/channels/{channel['id']}/enabled", data={"csrf": csrf, "enabled": "false"}
    )
    assert off.status_code == 303 and off.headers["location"] == "/alerts#channels"
    assert ok(seeded.api.get(path))["enabled"] is False
    page = admin_pages.get("/alerts").text
    assert "disabled" in channel_row(page, channel["id"]) and "disabled." in page  # the notice
    on = admin_pages.post(
        f"/alerts/channels/{channel['id']}/enabled", data={"csrf": csrf, "enabled": "true"}
    )
    assert on.status_code == 303 and ok(seeded.api.get(path))["enabled"] is True
    gone = admin_pages.post(f"/alerts/channels/{channel['id']}/delete", data={"csrf": csrf})
    assert gone.status_code == 303
    assert seeded.api.get(path).status_code == 404
    assert f'data-channel="{channel["id"]}"' not in admin_pages.get("/alerts").text


def test_refusals_show_in_the_error_areas(seeded: Seeded, key_pages: Any) -> None:
    alice = key_pages("alice")  # team admin of eng: not of the organisation
    csrf = csrf_of(alice.get("/alerts").text)
    form = {
        "csrf": csrf,
        "name": "org",
        "kind": "webhook",
        "url": "http://127.0.0.1:9/hook",
        "scope_type": "organization",
        "scope_id": "acme",
        "enabled": "true",
    }
    refused = alice.post("/alerts/channels", data=form)
    assert refused.status_code == 403 and 'id="scope_type-error"' in refused.text
    assert "may not manage the alerts of organization:acme" in refused.text
    mine = alice.post("/alerts/channels", data=form | {"scope_type": "team", "scope_id": "eng"})
    assert mine.status_code == 201, mine.text
    # bob sees the ops channel but may not change it: no buttons, and the API refuses.
    ops = new_channel(seeded, scope={"type": "team", "id": "ops"})
    bob = key_pages("bob")
    page = bob.get("/alerts").text
    assert 'data-testid="toggle-channel"' not in channel_row(page, ops["id"])
    toggled = bob.post(
        f"/alerts/channels/{ops['id']}/enabled", data={"csrf": csrf_of(page), "enabled": "false"}
    )
    assert toggled.status_code == 403 and 'data-testid="channels-error"' in toggled.text
    assert ok(seeded.api.get(f"/api/v1/alert-channels/{ops['id']}"))["enabled"] is True


def test_deliveries_are_listed_and_sent_again(
    seeded: Seeded, admin_pages: TestClient, hook: Receiver
) -> None:
    channel = new_channel(
        seeded, url=f"{hook.url}/thrifty", scope={"type": "team", "id": "eng"}, events=["threshold"]
    )
    spend(seeded.api, "cross-eng", "carol", "20")
    wait_for(lambda: hook.at("/thrifty"))
    deliveries = wait_for(
        lambda: [
            d
            for d in ok(seeded.api.get("/api/v1/alert-deliveries"))["deliveries"]
            if d["status"] == "delivered"
        ]
    )
    delivery = deliveries[0]
    assert delivery["channel_id"] == channel["id"]
    page = admin_pages.get("/alerts").text
    row = re.search(rf'data-delivery="{delivery["id"]}">(.*?)</tr>', page, re.S)
    assert row and "finops" in row.group(1) and "delivered" in row.group(1)
    again = admin_pages.post(
        f"/alerts/deliveries/{delivery['id']}/redeliver", data={"csrf": csrf_of(page)}
    )
    assert again.status_code == 303 and again.headers["location"] == "/alerts#deliveries"
    wait_for(lambda: len(hook.at("/thrifty")) >= 2)


def test_posts_without_csrf_are_refused(seeded: Seeded, admin_pages: TestClient) -> None:
    form = {"name": "x", "kind": "webhook", "url": "http://127.0.0.1:9/hook"}
    assert admin_pages.post("/alerts/channels", data=form).status_code == 403
    assert ok(seeded.api.get("/api/v1/alert-channels"))["channels"] == []
    channel = new_channel(seeded)
    refused = admin_pages.post(f"/alerts/channels/{channel['id']}/delete", data={"csrf": "0" * 64})
    assert refused.status_code == 403 and "CSRF" in refused.text
    assert seeded.api.get(f"/api/v1/alert-channels/{channel['id']}").status_code == 200


def test_summaries_say_what_happened() -> None:
    budgets = {"eng-monthly": {"name": "Engineering", "scope": {"type": "team", "id": "eng"}}}

    def event(kind: str, payload: dict[str, Any], budget: str | None = "eng-monthly") -> Any:
        return {
            "id": 7,
            "kind": kind,
            "budget_id": budget,
            "threshold": "x",
            "payload": payload,
            "created_at": "2026-11-20T12:00:00+00:00",
        }

    cause = {
        "dimension": "user",
        "value": "alice",
        "actual": "4.20",
        "expected": "0.10",
        "shareOfChange": "0.95",
    }
    anomaly = describe(
        event(
            "anomaly",
            {
                "metric": "cost",
                "model": "gpt-4o",
                "value": "4.5",
                "expected": "0.3",
                "rootCause": cause,
            },
        ),
        budgets,
    )
    assert anomaly.endswith(
        "root cause: user alice: $4.20 against $0.10 expected (95% of the change)"
    )
    external = describe(
        event(
            "external", {"title": "Bill spike", "message": "check it", "source": "finance"}, None
        ),
        budgets,
    )
    assert external == "[finance] Bill spike: check it"
    overrun = describe(
        event(
            "exhausted",
            {"request_id": "r1", "held_nano": 1_000_000_000, "actual_nano": 2_500_000_000},
        ),
        budgets,
    )
    assert (
        overrun
        == "request r1 cost $2.50 against $1.00 held, taking budget 'Engineering' past its limit"
    )
