"""``/approvals``: the override queue (approve or deny each pending override), recent decisions,
a form to request an override, and each visible budget's emergency extensions.

Any key that sees a budget may request an override on it; the admin key and the budget's org or
team admins decide overrides and add or end extensions. The page offers the controls by the
API's own rule (``thrifty.api.budgets.may_decide``) but the API's answer is what counts: a
refusal is shown next to the form that caused it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from thrifty.api.auth import Caller
from thrifty.api.budgets import may_decide
from thrifty.api.state import app_state
from thrifty.budgets.model import Scope, ScopeType
from thrifty.ui.api import ApiError
from thrifty.ui.charts import parse_time
from thrifty.ui.forms import GENERAL, Form, field_errors, read_form
from thrifty.ui.pages import ViewerDep, api_for, page_router
from thrifty.ui.render import redirect, render, usd, when
from thrifty.ui.session import Viewer

router = page_router()
MAX_BUDGETS = 200  # budgets whose extensions one page lists
RECENT = 30  # decided overrides shown
REQUEST_FIELDS = ("budget_id", "amount", "models", "reason", "expires_at", "requested_by")
EXTENSION_FIELDS = ("amount", "reason", "expires_at", "starts_at")
LOCAL_MINUTE = "%Y-%m-%dT%H:%M"  # a datetime-local input's value


def scope_of(value: Any) -> Scope | None:
    """An API scope object (``{"type": "team", "id": "eng"}``) as a ``Scope``; None if it is not
    one (no scope: every scope)."""
    if not isinstance(value, dict):
        return None
    try:
        return Scope(ScopeType(str(value.get("type"))), str(value.get("id")))
    except ValueError:
        return None


def may_decide_on(request: Request, viewer: Viewer, scope: Any) -> bool:
    """Whether the viewer owns ``scope`` (an API scope object; None: every scope) for overrides,
    extensions and alert channels, by the API's own rule. Only a hint for which controls to
    show: the API decides."""
    if viewer.is_admin:
        return True
    owned = scope_of(scope)
    return owned is not None and may_decide(Caller(app_state(request), viewer.principal), owned)


def utc_instant(local: str) -> str | None:
    """A datetime-local value (``2026-11-21T12:00``), read as UTC, as an ISO instant; None when
    empty. Anything else is passed on as typed, for the API to refuse by name."""
    if not local:
        return None
    try:
        moment = datetime.fromisoformat(local)
    except ValueError:
        return local
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def override_state(override: dict[str, Any], now: datetime) -> str:
    """``pending``, ``approved`` or ``denied`` as stored; ``expired`` for a pending or approved
    override past its ``expires_at``."""
    status = str(override["status"])
    if status != "denied" and parse_time(override["expires_at"]) <= now:
        return "expired" if status == "pending" else "approved, expired"
    return status


def extension_state(extension: dict[str, Any], now: datetime) -> str:
    if extension["active"]:
        return "in force"
    return "scheduled" if parse_time(extension["starts_at"]) > now else "ended"


def _errors(
    error: ApiError, fields: tuple[str, ...], id_of: Callable[[str], str]
) -> dict[str, str]:
    """The API's error keyed by the element id of the field it names (or ``_form``)."""
    return {k if k == GENERAL else id_of(k): v for k, v in field_errors(error, fields).items()}


async def approvals_page(
    request: Request,
    viewer: Viewer,
    *,
    status_code: int = 200,
    failed: tuple[str, dict[str, str]] | None = None,
    kept: tuple[str, dict[str, str]] | None = None,
) -> HTMLResponse:
    """The page; ``failed`` is (form key, errors by element id) of a refused form and ``kept``
    (form key, values) what its user typed."""
    now = app_state(request).now()
    async with api_for(request, viewer) as api:
        listed, pending, recent = await api.gather(
            api.get("/budgets"),
            api.get("/overrides", status="pending"),
            api.get("/overrides", limit=RECENT),
        )
        budgets = listed["budgets"][:MAX_BUDGETS]
        extensions = await api.gather(
            *(
                api.optional(
                    api.get(f"/budgets/{quote(b['id'], safe='')}/extensions"), {"extensions": []}
                )
                for b in budgets
            )
        )
    by_id = {b["id"]: b for b in budgets}

    def decides(budget_id: str) -> bool:
        return may_decide_on(request, viewer, by_id.get(budget_id, {}).get("scope"))

    queue = [
        o | {"state": "pending", "decides": decides(o["budget_id"])}
        for o in pending["overrides"]
        if override_state(o, now) == "pending"  # one that expired waiting is listed as decided
    ]
    decided = [o | {"state": override_state(o, now)} for o in recent["overrides"]]
    decided = [o for o in decided if o["state"] != "pending"]
    owned = [
        b
        | {
            "decides": decides(b["id"]),
            "extensions": [e | {"state": extension_state(e, now)} for e in x["extensions"]],
        }
        for b, x in zip(budgets, extensions, strict=True)
    ]
    tomorrow = (now + timedelta(days=1)).astimezone(UTC).strftime(LOCAL_MINUTE)
    errors_by_form = {failed[0]: failed[1]} if failed else {}
    kept_by_form = {kept[0]: kept[1]} if kept else {}
    shown = {"request"} | {f"extension-{b['id']}" for b in budgets}
    shown |= {f"{verb}-{o['id']}" for o in queue for verb in ("approve", "deny")}
    # A refusal of a form no longer on the page (an override decided meanwhile) heads the page.
    page_error = " ".join(failed[1].values()) if failed and failed[0] not in shown else None
    return render(
        request,
        viewer,
        "approvals.html",
        status_code=status_code,
        title="Approvals",
        queue=queue,
        decided=decided,
        budgets=owned,
        tomorrow=tomorrow,
        errors_by_form=errors_by_form,
        kept=kept_by_form,
        page_error=page_error,
    )


def override_body(form: Form) -> dict[str, Any]:
    models = [m for m in form.get("models").replace(",", " ").split() if m]
    return {
        "budget_id": form.get("budget_id"),
        "amount": form.get("amount"),
        "models": models or None,
        "reason": form.get("reason"),
        "expires_at": utc_instant(form.get("expires_at")),
        "requested_by": form.get("requested_by") or None,
    }


@router.get("/approvals", response_class=HTMLResponse)
async def approvals(request: Request, viewer: ViewerDep) -> HTMLResponse:
    return await approvals_page(request, viewer)


@router.post("/approvals/overrides", response_class=HTMLResponse)
async def request_override(request: Request, viewer: ViewerDep) -> Response:
    form = await read_form(request, viewer)
    try:
        async with api_for(request, viewer) as api:
            created = await api.post("/overrides", override_body(form))
    except ApiError as refused:
        errors = _errors(refused, REQUEST_FIELDS, lambda name: f"request-{name}")
        kept = {name: form.get(name) for name in REQUEST_FIELDS}
        return await approvals_page(
            request,
            viewer,
            status_code=refused.status,
            failed=("request", errors),
            kept=("request", kept),
        )
    return redirect("/approvals", f"Override {created['id']} requested: it waits for a decision.")


@router.post("/approvals/overrides/{override_id}/{decision}", response_class=HTMLResponse)
async def decide_override(
    request: Request, viewer: ViewerDep, override_id: str, decision: Literal["approve", "deny"]
) -> Response:
    form = await read_form(request, viewer)
    reason = form.get("reason")
    body = {"reason": reason} if reason or decision == "deny" else {}
    try:
        async with api_for(request, viewer) as api:
            await api.post(f"/overrides/{quote(override_id, safe='')}/{decision}", body)
    except ApiError as refused:
        key = f"{decision}-{override_id}"
        errors = _errors(refused, ("reason",), lambda name: f"{decision}-reason-{override_id}")
        return await approvals_page(
            request,
            viewer,
            status_code=refused.status,
            failed=(key, errors),
            kept=(key, {"reason": reason}),
        )
    verb = "approved" if decision == "approve" else "denied"
    return redirect("/approvals", f"Override {override_id} {verb}.")


@router.post("/approvals/budgets/{budget_id}/extensions", response_class=HTMLResponse)
async def add_extension(request: Request, viewer: ViewerDep, budget_id: str) -> Response:
    form = await read_form(request, viewer)
    body = {
        "amount": form.get("amount"),
        "reason": form.get("reason"),
        "expires_at": utc_instant(form.get("expires_at")),
        "starts_at": utc_instant(form.get("starts_at")),
    }
    try:
        async with api_for(request, viewer) as api:
            added = await api.post(f"/budgets/{quote(budget_id, safe='')}/extensions", body)
    except ApiError as refused:
        key = f"extension-{budget_id}"
        errors = _errors(refused, EXTENSION_FIELDS, lambda name: f"{key}-{name}")
        kept = {name: form.get(name) for name in EXTENSION_FIELDS}
        return await approvals_page(
            request, viewer, status_code=refused.status, failed=(key, errors), kept=(key, kept)
        )
    notice = (
        f"Budget {budget_id} extended by {usd(added['amount'])} until {when(added['expires_at'])}."
    )
    return redirect(f"/approvals#extensions-{budget_id}", notice)


@router.post(
    "/approvals/budgets/{budget_id}/extensions/{extension_id}/end", response_class=HTMLResponse
)
async def end_extension(
    request: Request, viewer: ViewerDep, budget_id: str, extension_id: str
) -> Response:
    await read_form(request, viewer)
    path = f"/budgets/{quote(budget_id, safe='')}/extensions/{quote(extension_id, safe='')}"
    try:
        async with api_for(request, viewer) as api:
            await api.delete(path)
    except ApiError as refused:
        key = f"extension-{budget_id}"
        return await approvals_page(
            request, viewer, status_code=refused.status, failed=(key, {GENERAL: refused.message})
        )
    return redirect(f"/approvals#extensions-{budget_id}", f"Extension {extension_id} ended.")
