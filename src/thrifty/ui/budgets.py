"""``/budgets``: every visible budget in the organisation → team → user tree, with its usage,
and (for the admin key, which the API's budget changes need) the forms that create, edit
and delete budgets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from thrifty.api.state import app_state
from thrifty.ui.api import ApiError, DashboardApi
from thrifty.ui.budget_form import (
    ACTIONS,
    FIELD_NAMES,
    MODES,
    PERIODS,
    SCOPE_TYPES,
    TIMEZONES,
    BudgetForm,
    blank_form,
    budget_body,
    form_of_budget,
    form_of_post,
    threshold_row_of,
)
from thrifty.ui.forms import field_errors, read_form
from thrifty.ui.overview import budget_statuses
from thrifty.ui.pages import ViewerDep, api_for, page_router
from thrifty.ui.render import redirect, render
from thrifty.ui.session import Viewer

router = page_router()
TREE_SCOPES = ("organization", "team", "user")
#: API refusals that the form shows next to its fields (others become the error page).
FORM_STATUSES = frozenset({400, 409, 422})


@dataclass
class Node:
    """One organisation, team or user of the tree, with its own budgets and its children."""

    kind: str  # organization | team | user
    id: str
    name: str
    budgets: list[dict[str, Any]] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)
    users_without_budgets: int = 0  # users below a team left out of the tree


@dataclass
class Tree:
    roots: list[Node]
    others: list[dict[str, Any]]  # key and tag budgets, and any whose scope is not in the tree


def build_tree(
    orgs: list[dict[str, Any]],
    teams: list[dict[str, Any]],
    users: list[dict[str, Any]],
    budgets: list[dict[str, Any]],
) -> Tree:
    """The visible hierarchy with each budget on its scope's node. A team whose organisation
    (or a user whose team) the key cannot see becomes a root; users without budgets of their
    own are counted on their team rather than listed."""
    nodes: dict[tuple[str, str], Node] = {}
    for kind, rows in (("organization", orgs), ("team", teams), ("user", users)):
        for row in rows:
            nodes[(kind, row["id"])] = Node(kind, row["id"], row.get("name") or row["id"])
    others = []
    for budget in budgets:
        node = nodes.get((budget["scope"]["type"], budget["scope"]["id"]))
        if node is None:
            others.append(budget)
        else:
            node.budgets.append(budget)
    roots = [nodes[("organization", org["id"])] for org in orgs]
    for team in teams:
        parent = nodes.get(("organization", team.get("org_id") or ""))
        (parent.children if parent else roots).append(nodes[("team", team["id"])])
    for user in users:
        node, parent = nodes[("user", user["id"])], nodes.get(("team", user.get("team_id") or ""))
        if parent is None:
            roots.append(node)
        elif node.budgets:
            parent.children.append(node)
        else:
            parent.users_without_budgets += 1
    return Tree(roots, others)


@router.get("/budgets", response_class=HTMLResponse)
async def budgets_page(request: Request, viewer: ViewerDep) -> HTMLResponse:
    async with api_for(request, viewer) as api:
        orgs, teams, users, budgets = await api.gather(
            api.get("/orgs"), api.get("/teams"), api.get("/users"), budget_statuses(api)
        )
    tree = build_tree(orgs["orgs"], teams["teams"], users["users"], budgets)
    return render(request, viewer, "budgets.html", title="Budgets", tree=tree,
                  total=len(budgets), can_edit=viewer.is_admin)  # fmt: skip


def _api_path(budget_id: str) -> str:
    return f"/budgets/{quote(budget_id, safe='')}"


def _require_admin(viewer: Viewer) -> None:
    """Only the admin key may create, replace or delete budgets (the API's rule); other keys
    get the error page instead of a form whose every submission the API would refuse."""
    if not viewer.is_admin:
        raise ApiError(403, "creating, editing and deleting budgets needs the admin key",
                       None, "permission_error")  # fmt: skip


async def _scope_choices(api: DashboardApi) -> list[tuple[str, str, str]]:
    """(scope type, id, name) of each organisation, team and user, for the scope id list."""
    orgs, teams, users = await api.gather(api.get("/orgs"), api.get("/teams"), api.get("/users"))
    groups = (("organization", orgs["orgs"]), ("team", teams["teams"]), ("user", users["users"]))
    return [
        (kind, row["id"], row.get("name") or row["id"]) for kind, rows in groups for row in rows
    ]


def _form_page(
    request: Request,
    viewer: Viewer,
    values: BudgetForm,
    choices: list[tuple[str, str, str]],
    *,
    budget_id: str | None = None,
    error: ApiError | None = None,
) -> HTMLResponse:
    errors = field_errors(error, FIELD_NAMES) if error else {}
    title = f"Edit budget {values.name or budget_id}" if budget_id else "New budget"
    return render(
        request, viewer, "budgets_form.html", status_code=error.status if error else 200,
        title=title, values=values, errors=errors, budget_id=budget_id, choices=choices,
        bad_threshold=threshold_row_of(error.param) if error else None,
        scope_types=SCOPE_TYPES, periods=PERIODS, modes=MODES, actions=ACTIONS,
        timezones=TIMEZONES,
    )  # fmt: skip


@router.get("/budgets/new", response_class=HTMLResponse)
async def new_budget_page(request: Request, viewer: ViewerDep) -> HTMLResponse:
    _require_admin(viewer)
    async with api_for(request, viewer) as api:
        choices = await _scope_choices(api)
    values = blank_form(app_state(request).now().date())
    return _form_page(request, viewer, values, choices)


@router.post("/budgets/new", response_class=HTMLResponse)
async def create_budget(request: Request, viewer: ViewerDep) -> Response:
    values = form_of_post(await read_form(request, viewer))
    async with api_for(request, viewer) as api:
        try:
            created = await api.post("/budgets", budget_body(values))
        except ApiError as refused:
            if refused.status not in FORM_STATUSES:
                raise
            return _form_page(request, viewer, values, await _scope_choices(api), error=refused)
    return redirect(f"/budgets#budget-{created['id']}", f"Budget {created['name']} created.")


@router.get("/budgets/{budget_id}/edit", response_class=HTMLResponse)
async def edit_budget_page(request: Request, viewer: ViewerDep, budget_id: str) -> HTMLResponse:
    _require_admin(viewer)
    async with api_for(request, viewer) as api:
        budget, choices = await api.gather(api.get(_api_path(budget_id)), _scope_choices(api))
    return _form_page(request, viewer, form_of_budget(budget), choices, budget_id=budget_id)


@router.post("/budgets/{budget_id}/edit", response_class=HTMLResponse)
async def replace_budget(request: Request, viewer: ViewerDep, budget_id: str) -> Response:
    values = form_of_post(await read_form(request, viewer))
    values.id = budget_id  # the path names the budget; the form cannot change it
    body = budget_body(values) | {"id": budget_id}
    async with api_for(request, viewer) as api:
        try:
            saved = await api.put(_api_path(budget_id), body)
        except ApiError as refused:
            if refused.status not in FORM_STATUSES:
                raise
            choices = await _scope_choices(api)
            return _form_page(request, viewer, values, choices, budget_id=budget_id,
                              error=refused)  # fmt: skip
    return redirect(f"/budgets#budget-{budget_id}", f"Budget {saved['name']} saved.")


@router.post("/budgets/{budget_id}/delete")
async def delete_budget(request: Request, viewer: ViewerDep, budget_id: str) -> Response:
    await read_form(request, viewer)
    async with api_for(request, viewer) as api:
        await api.delete(_api_path(budget_id))
    return redirect("/budgets", f"Budget {budget_id} deleted.")
