from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.testclient import TestClient
from ui_support import ADMIN_KEY, Seeded, csrf_of

import thrifty.config


def test_pages_need_a_session(app_client: TestClient) -> None:
    app_client.headers.pop("Authorization")
    response = app_client.get("/?x=1")
    assert response.status_code == 303
    assert response.headers["location"] == "/signin?next=%2F%3Fx%3D1"
    # An API key in the Authorization header is not a dashboard session.
    response = app_client.get("/", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert response.status_code == 303


def test_sign_in_errors_name_the_field(app_client: TestClient) -> None:
    app_client.headers.pop("Authorization")
    page = app_client.get("/signin")
    assert page.status_code == 200 and 'for="key"' in page.text
    wrong = app_client.post("/signin", data={"key": "thr_nope"})
    assert wrong.status_code == 401
    assert 'id="key-error"' in wrong.text and "invalid API key" in wrong.text
    assert 'aria-invalid="true"' in wrong.text
    empty = app_client.post("/signin", data={"key": ""})
    assert empty.status_code == 400 and "enter an API key" in empty.text
    forged = app_client.post(
        "/signin", data={"key": ADMIN_KEY}, headers={"Origin": "https://evil.example"}
    )
    assert forged.status_code == 403 and "thrifty_session" not in app_client.cookies


def test_sign_in_goes_back_only_to_local_paths(app_client: TestClient) -> None:
    app_client.headers.pop("Authorization")
    for target, expected in (("/analytics", "/analytics"), ("//evil.example", "/"),
                             ("/\t/evil.example", "/"), ("/\\evil.example", "/"),
                             ("https://evil.example", "/")):  # fmt: skip
        response = app_client.post("/signin", data={"key": ADMIN_KEY, "next": target})
        assert response.headers["location"] == expected


def test_overview_shows_budgets_spend_and_top_spenders(admin_pages: TestClient) -> None:
    page = admin_pages.get("/")
    assert page.status_code == 200, page.text
    html = page.text
    assert html.count('data-testid="budget-card"') == 3  # the org and its two teams
    assert "$39.75" in html and "$1,000.00" in html  # the org: 12.50 + 20 + 7.25
    assert "$32.50" in html and "$100.00" in html  # eng
    assert "1 more budget(s)" in html  # alice's own, on the Budgets page
    assert "Top spenders" in html and "eng" in html
    assert 'aria-current="page"' in html and "admin key" in html


def test_a_member_sees_only_its_chain(seeded: Seeded, key_pages: Any) -> None:
    html = key_pages("bob").get("/").text
    assert "ops-monthly" in html and "acme-monthly" in html
    assert "eng-monthly" not in html and "alice-monthly" not in html
    assert f"key {seeded.key_ids['bob']}" in html


def test_sign_out_ends_the_session(admin_pages: TestClient) -> None:
    token = csrf_of(admin_pages.get("/").text)
    refused = admin_pages.post("/signout", data={"csrf": "0" * 64})
    assert refused.status_code == 403 and "CSRF" in refused.text
    assert admin_pages.post("/signout", data={"csrf": token}).status_code == 303
    assert admin_pages.get("/").status_code == 303


def test_revoking_the_key_ends_its_sessions(seeded: Seeded, key_pages: Any) -> None:
    pages = key_pages("alice")
    assert pages.get("/").status_code == 200
    revoked = seeded.api.post(f"/api/v1/keys/{seeded.key_ids['alice']}/revoke")
    assert revoked.status_code == 200, revoked.text
    assert pages.get("/").status_code == 303


def test_the_dashboard_can_be_turned_off(tmp_path: Path, database_url: str) -> None:
    from thrifty.app import create_app
    from thrifty.settings import Settings

    demo = (Path(thrifty.config.__file__).parent / "demo.yaml").read_text("utf-8")
    config = tmp_path / "thrifty.yaml"
    config.write_text(demo + "\ndashboard:\n  enabled: false\n", "utf-8")
    settings = Settings(database_url=database_url, admin_key=ADMIN_KEY, config=str(config))
    with TestClient(create_app(settings), follow_redirects=False) as client:
        assert client.get("/").status_code == 404
        assert client.get("/signin").status_code == 404
        assert client.get("/healthz").status_code == 200
