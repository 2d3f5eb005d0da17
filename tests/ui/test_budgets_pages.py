from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from starlette.testclient import TestClient
from ui_support import Seeded, csrf_of, ok

from thrifty.ui.budgets import build_tree


class _Page(HTMLParser):
    """What the tests look at: each budget row's chain of tree nodes, and a form's fields
    as a browser would submit them."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[list[str]] = []  # one per open <li>: the tree nodes it holds
        self.chains: dict[str, list[str]] = {}  # budget id → "kind:id" of its tree nodes
        self.fields: list[tuple[str, str]] = []
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "li":
            self.items.append([])
        elif a.get("data-testid") == "tree-node" and self.items:
            self.items[-1].append(f"{a['data-kind']}:{a['data-id']}")
        elif a.get("data-testid") == "budget-row":
            self.chains[a["data-budget"]] = [n for item in self.items for n in item]
        if tag == "input" and "name" in a:
            if a.get("type") not in ("checkbox", "radio") or "checked" in a:
                self.fields.append((a["name"], a.get("value", "on")))
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select and "selected" in a:
            self.fields.append((self._select, a["value"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "li" and self.items:
            self.items.pop()
        elif tag == "select":
            self._select = None


def parsed(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def form_data(html: str, **changes: str | list[str]) -> dict[str, str | list[str]]:
    """The fields of the page's form as submitted, with ``changes`` applied."""
    data: dict[str, str | list[str]] = {}
    for name, value in parsed(html).fields:
        if name in data:
            previous = data[name]
            data[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            data[name] = value
    return data | changes


def new_budget(csrf: str, **changes: str | list[str]) -> dict[str, str | list[str]]:
    base: dict[str, str | list[str]] = {
        "csrf": csrf, "id": "ops-weekly", "name": "Ops weekly", "scope_type": "team",
        "scope_id": "ops", "limit": "25.50", "period": "weekly", "start_date": "2026-11-16",
        "end_date": "", "timezone": "Europe/Berlin", "mode": "soft", "models": "",
        "threshold_0_percent": "60", "threshold_0_actions": ["notify"],
        "threshold_1_percent": "90",
        "threshold_1_actions": ["notify", "prefer-cheaper", "require-approval"],
        "threshold_2_percent": "",
        "threshold_3_percent": "100", "threshold_3_actions": ["notify", "block"],
        "threshold_4_percent": "",
    }  # fmt: skip
    return base | changes


def between(html: str, first: str, marker: str, last: str) -> bool:
    """Whether ``marker`` comes after ``first`` and before ``last`` in ``html``."""
    start = html.index(first)
    return start < html.index(marker, start) < html.index(last, start)


def test_the_tree_nests_organisation_team_and_user(admin_pages: TestClient) -> None:
    page = admin_pages.get("/budgets")
    assert page.status_code == 200, page.text
    html = page.text
    chains = parsed(html).chains
    assert chains == {
        "acme-monthly": ["organization:acme"],
        "eng-monthly": ["organization:acme", "team:eng"],
        "ops-monthly": ["organization:acme", "team:ops"],
        "alice-monthly": ["organization:acme", "team:eng", "user:alice"],
    }
    # Bars, spend against limit, percent and status in text.
    assert 'aria-label="alice-monthly: 81.2% used"' in html  # 32.50 of 40
    assert 'aria-label="acme-monthly: 4.0% used"' in html  # 39.75 of 1000
    assert between(html, 'id="budget-eng-monthly"', "$32.50", "</tr>")
    assert between(html, 'id="budget-eng-monthly"', "$100.00", "</tr>")
    assert between(html, 'id="budget-alice-monthly"', '<span class="badge warn">warning', "</tr>")
    assert between(html, 'id="budget-ops-monthly"', "14.5%", "</tr>")  # 7.25 of 50
    assert 'href="/budgets/eng-monthly/edit"' in html and 'data-testid="budget-new"' in html
    assert "1 user(s) without a budget of their own" in html  # bob, under ops


def test_a_member_sees_its_chain_and_no_edit_controls(seeded: Seeded, key_pages: Any) -> None:
    pages = key_pages("bob")
    html = pages.get("/budgets").text
    chains = parsed(html).chains
    assert chains == {
        "acme-monthly": ["organization:acme"],
        "ops-monthly": ["organization:acme", "team:ops"],
    }
    assert "budget-edit" not in html and "/budgets/new" not in html
    assert "changed with the admin key" in html
    assert pages.get("/budgets/new").status_code == 403
    assert pages.get("/budgets/ops-monthly/edit").status_code == 403
    # The API refuses a member's changes, whatever the form says.
    refused = pages.post("/budgets/ops-monthly/delete", data={"csrf": csrf_of(html)})
    assert refused.status_code == 403, refused.text
    ok(seeded.api.get("/api/v1/budgets/ops-monthly"))


def test_the_new_form_offers_the_default_thresholds(admin_pages: TestClient) -> None:
    page = admin_pages.get("/budgets/new")
    assert page.status_code == 200, page.text
    data = form_data(page.text)
    assert data["start_date"] == "2026-11-01" and data["timezone"] == "UTC"
    assert data["period"] == "monthly" and data["mode"] == "hard"
    assert data["threshold_0_percent"] == "50" and data["threshold_0_actions"] == "notify"
    assert data["threshold_4_percent"] == "100"
    assert data["threshold_4_actions"] == ["notify", "block"]
    assert data["threshold_5_percent"] == data["threshold_7_percent"] == ""  # room for more
    for field in ("name", "id", "scope_type", "scope_id", "limit", "period", "start_date",
                  "end_date", "timezone", "models", "carry_over_cap",
                  "threshold-0-percent", "threshold-0-block"):  # fmt: skip
        assert f'<label for="{field}"' in page.text, field
    assert '<option value="eng">team · Eng</option>' in page.text


def test_creating_a_budget_with_custom_thresholds(seeded: Seeded, admin_pages: TestClient) -> None:
    csrf = csrf_of(admin_pages.get("/budgets/new").text)
    data = new_budget(csrf, carry_over="on", carry_over_cap="10")
    response = admin_pages.post("/budgets/new", data=data)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/budgets#budget-ops-weekly"
    budget = ok(seeded.api.get("/api/v1/budgets/ops-weekly"))
    assert budget["scope"] == {"type": "team", "id": "ops"}
    assert (budget["limit"], budget["period"], budget["mode"]) == ("25.5", "weekly", "soft")
    assert (budget["start_date"], budget["timezone"]) == ("2026-11-16", "Europe/Berlin")
    assert budget["thresholds"] == [
        {"percent": "60", "actions": ["notify"]},
        {"percent": "90", "actions": ["notify", "prefer-cheaper", "require-approval"]},
        {"percent": "100", "actions": ["notify", "block"]},
    ]
    assert budget["carry_over"] == {"enabled": True, "cap": "10"}
    assert budget["models"] is None and budget["end_date"] is None
    listed = admin_pages.get("/budgets").text
    assert "Budget Ops weekly created." in listed
    assert parsed(listed).chains["ops-weekly"] == ["organization:acme", "team:ops"]


def test_a_custom_period_sends_its_end_date(seeded: Seeded, admin_pages: TestClient) -> None:
    csrf = csrf_of(admin_pages.get("/budgets/new").text)
    data = new_budget(csrf, id="", name="Launch", scope_type="tag", scope_id="launch",
                      period="custom", start_date="2026-11-01", end_date="2026-11-30")  # fmt: skip
    response = admin_pages.post("/budgets/new", data=data)
    assert response.status_code == 303, response.text
    budget_id = response.headers["location"].removeprefix("/budgets#budget-")
    budget = ok(seeded.api.get(f"/api/v1/budgets/{budget_id}"))
    assert (budget["period"], budget["end_date"]) == ("custom", "2026-11-30")
    # Tag budgets are listed below the tree.
    html = admin_pages.get("/budgets").text
    assert between(html, 'data-testid="other-budgets"', f'id="budget-{budget_id}"', "</table>")
    assert budget_id not in parsed(html).chains or parsed(html).chains[budget_id] == []


def test_errors_are_shown_next_to_their_field(seeded: Seeded, admin_pages: TestClient) -> None:
    csrf = csrf_of(admin_pages.get("/budgets/new").text)
    bad_limit = admin_pages.post("/budgets/new", data=new_budget(csrf, limit="abc"))
    assert bad_limit.status_code == 400, bad_limit.text
    html = bad_limit.text
    assert between(html, 'id="limit"', 'id="limit-error"', 'id="period"')
    assert 'value="abc"' in html and 'aria-describedby="limit-hint limit-error"' in html
    assert 'value="Ops weekly"' in html and 'value="Europe/Berlin"' in html  # values kept
    kept = form_data(html)
    assert kept["threshold_1_actions"] == ["notify", "prefer-cheaper", "require-approval"]
    assert kept["threshold_2_percent"] == "100" and kept["mode"] == "soft"

    bad_zone = admin_pages.post("/budgets/new", data=new_budget(csrf, timezone="Mars/Base"))
    assert bad_zone.status_code == 400
    assert between(bad_zone.text, 'id="timezone"', 'id="timezone-error"', "<legend>Mode")
    assert "unknown time zone" in bad_zone.text

    data = new_budget(csrf, threshold_1_percent="150")
    bad_percent = admin_pages.post("/budgets/new", data=data)
    assert bad_percent.status_code == 400
    html = bad_percent.text
    assert between(html, "<legend>Thresholds", 'id="thresholds-error"', 'id="threshold-0-percent"')
    assert "at most 100" in html
    assert 'id="threshold-1-percent" name="threshold_1_percent" value="150"' in html
    assert html.count('class="threshold invalid"') == 1
    assert between(html, 'class="threshold invalid"', 'id="threshold-1-percent"', "</fieldset>")

    unknown = admin_pages.post("/budgets/new", data=new_budget(csrf, scope_id="nope"))
    assert unknown.status_code == 400 and 'id="scope-error"' in unknown.text
    assert seeded.api.get("/api/v1/budgets/ops-weekly").status_code == 404

    taken = admin_pages.post("/budgets/new", data=new_budget(csrf, id="eng-monthly"))
    assert taken.status_code == 409 and 'id="id-error"' in taken.text


def test_editing_changes_the_limit_and_mode(seeded: Seeded, admin_pages: TestClient) -> None:
    page = admin_pages.get("/budgets/eng-monthly/edit")
    assert page.status_code == 200, page.text
    assert 'id="id" value="eng-monthly" readonly' in page.text
    before = ok(seeded.api.get("/api/v1/budgets/eng-monthly"))
    data = form_data(page.text, limit="150.00", mode="soft")
    assert "id" not in data  # the id is shown, never submitted
    response = admin_pages.post("/budgets/eng-monthly/edit", data=data)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/budgets#budget-eng-monthly"
    after = ok(seeded.api.get("/api/v1/budgets/eng-monthly"))
    assert (after["limit"], after["mode"]) == ("150", "soft")
    unchanged = ("name", "scope", "period", "start_date", "timezone", "thresholds", "carry_over")
    assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}
    listed = admin_pages.get("/budgets").text
    assert "Budget eng-monthly saved." in listed
    assert between(listed, 'id="budget-eng-monthly"', "$150.00", "</tr>")

    refused = admin_pages.post("/budgets/eng-monthly/edit", data=data | {"limit": "-5"})
    assert refused.status_code == 400 and 'id="limit-error"' in refused.text
    assert 'id="id" value="eng-monthly" readonly' in refused.text


def test_deleting_a_budget(seeded: Seeded, admin_pages: TestClient) -> None:
    page = admin_pages.get("/budgets/alice-monthly/edit").text
    assert 'data-testid="budget-delete"' in page
    response = admin_pages.post("/budgets/alice-monthly/delete", data={"csrf": csrf_of(page)})
    assert response.status_code == 303 and response.headers["location"] == "/budgets"
    assert seeded.api.get("/api/v1/budgets/alice-monthly").status_code == 404
    listed = admin_pages.get("/budgets").text
    assert "Budget alice-monthly deleted." in listed and 'id="budget-alice-monthly"' not in listed
    assert admin_pages.get("/budgets/alice-monthly/edit").status_code == 404


def test_posts_without_the_csrf_token_are_refused(seeded: Seeded, admin_pages: TestClient) -> None:
    created = admin_pages.post("/budgets/new", data=new_budget("0" * 64))
    assert created.status_code == 403 and "CSRF" in created.text
    assert seeded.api.get("/api/v1/budgets/ops-weekly").status_code == 404
    edited = admin_pages.post("/budgets/eng-monthly/edit", data={"limit": "1", "name": "x"})
    assert edited.status_code == 403
    deleted = admin_pages.post("/budgets/eng-monthly/delete", data={})
    assert deleted.status_code == 403
    assert ok(seeded.api.get("/api/v1/budgets/eng-monthly"))["limit"] == "100"


def test_a_team_without_its_organisation_is_a_root() -> None:
    budget = {"id": "b", "scope": {"type": "team", "id": "t"}}
    key_budget = {"id": "k", "scope": {"type": "key", "id": "key_1"}}
    tree = build_tree(
        [], [{"id": "t", "org_id": "hidden", "name": "T"}],
        [{"id": "u", "team_id": "t", "name": "U"}, {"id": "v", "team_id": "gone", "name": "V"}],
        [budget, key_budget],
    )  # fmt: skip
    assert [(n.kind, n.id) for n in tree.roots] == [("team", "t"), ("user", "v")]
    assert tree.roots[0].budgets == [budget] and tree.roots[0].users_without_budgets == 1
    assert tree.others == [key_budget]
