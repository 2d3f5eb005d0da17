"""The dashboard end to end, in Debian's headless Chromium driven by Playwright, against a
real gateway on 127.0.0.1 (both databases).

One scenario, as a budget owner would go: sign in; create a budget with thresholds; send
traffic through the gateway with the OpenAI SDK until a threshold is crossed; see the alert;
request an override and approve it; find a request's decision and read its explanation; see
the analytics and forecast charts drawn with data. Then every page again at a phone's width,
and the keyboard path through the layout. Each page is saved as a screenshot (see
``browser.py``); a failing step saves the page it failed on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from browser import LAPTOP, PHONE, artifacts_dir, chromium, chromium_path, served
from seed import NOW, Clock, World, build

from thrifty.settings import Settings

pytestmark = pytest.mark.slow
ADMIN_KEY = "e2e-admin-key"
PAGES = ("/", "/budgets", "/alerts", "/approvals", "/analytics", "/decisions", "/models",
         "/rules", "/recommendations")  # fmt: skip
LONG_PROMPT = "Summarise the quarterly infrastructure review for the leadership team. " * 60


@pytest.fixture
def world(database_url: str, request: pytest.FixtureRequest) -> Iterator[tuple[str, World, Path]]:
    chromium_path()  # skip (or fail in CI) before starting anything
    clock = Clock(NOW)
    settings = Settings(database_url=database_url, admin_key=ADMIN_KEY)
    with (
        served(settings, clock) as url,
        httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30
        ) as admin,
    ):
        yield url, build(admin, clock), artifacts_dir(request.node.callspec.id)


class Screens:
    """Saves numbered screenshots of the pages a test walks through."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.count = folder, 0

    def save(self, page: Any, name: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


def sign_in(page: Any, url: str, key: str) -> None:
    page.goto(f"{url}/")
    assert "/signin" in page.url
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/")


def budget_percent(admin: httpx.Client, budget_id: str) -> Decimal:
    status = admin.get(f"/api/v1/budgets/{budget_id}/status").json()
    return Decimal(status["percentUsed"])


def create_budget(page: Any, url: str, screens: Screens) -> None:
    page.goto(f"{url}/budgets")
    page.get_by_test_id("budget-new").click()
    page.locator("#id").fill("dev-monthly")
    page.locator("#name").fill("Dev's monthly")
    page.locator("#scope_type").select_option("user")
    page.locator("#scope_id").fill("dev")
    page.locator("#limit").fill("0.40")
    page.locator("#start_date").fill("2026-11-01")
    # Thresholds: 25% notify (replacing the first default row), keep the rest as they are.
    page.locator("#threshold-0-percent").fill("25")
    screens.save(page, "budget-form")
    page.get_by_test_id("budget-save").click()
    page.wait_for_url(re.compile(r".*/budgets(#budget-dev-monthly)?$"))
    assert "created" in page.locator(".notice").inner_text()
    row = page.locator('[data-testid="budget-row"][data-budget="dev-monthly"]')
    assert row.is_visible()
    screens.save(page, "budgets")


def send_traffic(url: str, world: World, until_percent: int) -> list[str]:
    """Chat completions through the gateway as ``dev`` until its budget passes the mark."""
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=world.keys["dev"], max_retries=0)
    request_ids = []
    try:
        for _ in range(40):
            raw = client.chat.completions.with_raw_response.create(
                model="claude-sonnet-4-5", max_tokens=200,
                messages=[{"role": "user", "content": LONG_PROMPT}],
            )  # fmt: skip
            assert raw.parse().choices[0].message.content
            request_ids.append(raw.headers["x-thrifty-request-id"])
            if budget_percent(world.admin, "dev-monthly") >= until_percent:
                return request_ids
    finally:
        client.close()
    raise AssertionError(f"the budget never reached {until_percent}%")


def selected_request(url: str, world: World) -> str:
    """One request that asks the gateway to choose (``auto``): its decision has candidates."""
    with openai.OpenAI(base_url=f"{url}/v1", api_key=world.keys["dev"], max_retries=0) as client:
        raw = client.chat.completions.with_raw_response.create(
            model="auto", max_tokens=100,
            messages=[{"role": "user", "content": "Classify the sentiment: 'the build is green'"}],
        )  # fmt: skip
        return str(raw.headers["x-thrifty-request-id"])


def see_alert(page: Any, url: str, screens: Screens) -> None:
    page.goto(f"{url}/alerts?budget_id=dev-monthly")
    rows = page.locator('tr[data-testid="alert-row"][data-kind="threshold"]')
    rows.first.wait_for()
    assert "25%" in rows.first.inner_text()
    screens.save(page, "alerts")


def override_and_approve(page: Any, url: str, world: World, screens: Screens) -> None:
    page.goto(f"{url}/approvals")
    form = page.get_by_test_id("request-override-form")
    form.locator("#request-budget_id").select_option("dev-monthly")
    form.locator("#request-amount").fill("1.50")
    form.locator("#request-reason").fill("release crunch: the load tests need more")
    form.get_by_test_id("request-override-submit").click()
    pending = world.admin.get("/api/v1/overrides", params={"status": "pending"}).json()
    (override,) = pending["overrides"]
    row = page.locator(f'article[data-testid="override-row"][data-override="{override["id"]}"]')
    row.wait_for()
    screens.save(page, "approvals-queue")
    row.locator(f"#approve-reason-{override['id']}").fill("approved for the release week")
    row.get_by_test_id("approve-override").click()
    decided = page.locator(f'tr[data-testid="decided-row"][data-override="{override["id"]}"]')
    decided.wait_for()
    assert decided.get_attribute("data-state") == "approved"
    body = world.admin.get(f"/api/v1/overrides/{override['id']}").json()
    assert body["status"] == "approved" and body["decided_by"] == "admin"
    screens.save(page, "approvals-approved")


def explain(page: Any, url: str, request_id: str, screens: Screens) -> None:
    page.goto(f"{url}/decisions")
    page.locator('input[name="request_id"]').fill(request_id)
    page.locator('input[name="request_id"]').press("Enter")
    box = page.get_by_test_id("explanation")
    box.wait_for()
    assert request_id in page.content()
    candidates = page.get_by_test_id("candidate")
    assert candidates.count() >= 3
    assert page.locator("tr.winner").count() == 1
    screens.save(page, "decision")


def charts_drawn(page: Any, *ids: str) -> None:
    for chart_id in ids:
        canvas = page.locator(f"canvas#{chart_id}")
        canvas.wait_for()
        page.wait_for_selector(f"canvas#{chart_id}[data-rendered='true']")
        assert int(canvas.get_attribute("data-points") or 0) > 0, chart_id
        painted = page.evaluate(
            """(id) => { const c = document.getElementById(id);
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
                return n; }""",
            chart_id,
        )
        assert painted > 1000, f"{chart_id} looks blank ({painted} painted pixels)"


def analytics(page: Any, url: str, screens: Screens) -> None:
    page.goto(f"{url}/analytics?groupBy=model")
    charts_drawn(page, "spend-chart", "cpr-chart", "forecast-chart")
    assert page.get_by_test_id("anomaly-row").count() >= 1
    screens.save(page, "analytics")


def unlabelled_fields(page: Any) -> list[str]:
    return list(
        page.evaluate(
            """() => [...document.querySelectorAll('input, select, textarea')]
                .filter(e => e.type !== 'hidden' && e.offsetParent !== null)
                .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
                .map(e => e.name || e.id)"""
        )
    )


def every_page(page: Any, url: str, screens: Screens, width: str) -> None:
    for path in PAGES:
        page.goto(f"{url}{path}")
        assert page.locator("h1").count() == 1, path
        assert not unlabelled_fields(page), (path, unlabelled_fields(page))
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{path} is wider than the {width} screen by {overflow}px"
        screens.save(page, f"{width}-{path.strip('/').replace('/', '-') or 'overview'}")


def keyboard(page: Any, url: str) -> None:
    page.goto(f"{url}/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.goto(f"{url}/")
    names = []
    for _ in range(12):
        page.keyboard.press("Tab")
        names.append(page.evaluate("document.activeElement.textContent.trim()"))
    assert {"Overview", "Budgets", "Alerts", "Analytics"} <= set(names)


def test_a_budget_owner_walks_through_the_dashboard(world: tuple[str, World, Path]) -> None:
    url, seeded, folder = world
    screens = Screens(folder)
    with chromium() as browser:
        context = browser.new_context(viewport=LAPTOP)
        page = context.new_page()
        page.set_default_timeout(15_000)
        try:
            sign_in(page, url, ADMIN_KEY)
            screens.save(page, "overview")
            create_budget(page, url, screens)
            send_traffic(url, seeded, until_percent=25)
            see_alert(page, url, screens)
            override_and_approve(page, url, seeded, screens)
            explain(page, url, selected_request(url, seeded), screens)
            analytics(page, url, screens)
            every_page(page, url, screens, "laptop")
            keyboard(page, url)
            phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
            small = phone.new_page()
            small.set_default_timeout(15_000)
            sign_in(small, url, ADMIN_KEY)
            every_page(small, url, screens, "phone")
            phone.close()
        except Exception:
            screens.save(page, "failed")
            raise
        finally:
            context.close()
