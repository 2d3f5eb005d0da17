"""``/alerts``: the alert history of the budgets the key sees (filtered by budget and kind, paged
by ``before_id``), the alert channels with a form to add one, and the recent delivery log.

A channel's secret is shown once, on the page that answers its creation (rendered directly, never
carried through a redirect). Who may manage a channel is the API's rule (``may_decide_on``); a
refusal is shown in the form's error area.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from thrifty.budgets.model import ScopeType
from thrifty.budgets.money import format_nano
from thrifty.budgets.principal import Role
from thrifty.notify.events import EVENT_TYPES, KINDS, EventView, summary
from thrifty.ui.api import ApiError, DashboardApi
from thrifty.ui.approvals import may_decide_on, scope_of
from thrifty.ui.charts import cause_text
from thrifty.ui.forms import Form, field_errors, read_form
from thrifty.ui.pages import ViewerDep, api_for, page_router
from thrifty.ui.render import redirect, render
from thrifty.ui.session import Viewer

router = page_router()
PAGE_SIZE = 50
DELIVERIES_SHOWN = 25
SCOPE_TYPES = tuple(t.value for t in ScopeType)
#: API parameter → the channel form's field (longest prefix first, as ``field_errors`` reads).
CHANNEL_FIELDS = {
    "name": "name",
    "kind": "kind",
    "url": "url",
    "scope.id": "scope_id",
    "scope": "scope_type",
    "events": "events",
    "enabled": "enabled",
}


def crossed(event: dict[str, Any]) -> str:
    """What the event's threshold says: a percentage for thresholds, else ``—``."""
    threshold = str(event.get("threshold") or "")
    if event["kind"] in ("threshold", "exhausted"):
        try:
            return f"{Decimal(threshold).normalize():f}%"
        except InvalidOperation:
            return threshold or "—"
    return "—"


def root_cause(payload: dict[str, Any]) -> str | None:
    """An anomaly alert's root cause in words, with its figures (``charts.cause_text``)."""
    cause = payload.get("rootCause")
    if not isinstance(cause, dict):
        return None
    return cause_text(cause, payload.get("metric"), figures=True)


def describe(event: dict[str, Any], budgets: dict[str, dict[str, Any]]) -> str:
    """One line a person can read: the channels' summary, with an anomaly's root cause and an
    overrun's figures (its payload has no totals)."""
    payload = event.get("payload") or {}
    budget = budgets.get(event.get("budget_id") or "", {})
    view = EventView(
        id=int(event["id"]),
        kind=event["kind"],
        budget_id=event.get("budget_id"),
        budget_name=budget.get("name"),
        scope=scope_of(budget.get("scope")),
        payload=payload,
        created_at=datetime.fromisoformat(event["created_at"]),
    )
    if event["kind"] == "exhausted" and isinstance(payload.get("actual_nano"), int):
        held, name = payload.get("held_nano"), view.budget_name or view.budget_id
        return (
            f"request {payload.get('request_id')} cost ${format_nano(payload['actual_nano'])}"
            f" against ${format_nano(held) if isinstance(held, int) else '?'} held, taking "
            f"budget {name!r} past its limit"
        )
    text = summary(view)
    if event["kind"] == "anomaly" and (cause := root_cause(payload)):
        text += f"; root cause: {cause}"
    return text


def channel_body(form: Form) -> dict[str, Any]:
    """The ``POST /alert-channels`` body of the channel form (every kind ticked, or none: all)."""
    events = form.all("events")
    body: dict[str, Any] = {
        "name": form.get("name"),
        "kind": form.get("kind"),
        "url": form.get("url"),
        "enabled": form.get("enabled") == "true",
        "events": None if not events or set(events) == set(KINDS) else events,
    }
    if form.get("scope_type"):
        body["scope"] = {"type": form.get("scope_type"), "id": form.get("scope_id")}
    return body


def channel_errors(error: ApiError) -> dict[str, str]:
    found = field_errors(error, CHANNEL_FIELDS)
    return {CHANNEL_FIELDS.get(k, k): v for k, v in found.items()}


def default_channel(viewer: Viewer) -> dict[str, Any]:
    """The create form's first values: the viewer's own unit as the scope."""
    principal = viewer.principal
    scope_type, scope_id = "", ""
    if principal.role is Role.ORG_ADMIN:
        scope_type, scope_id = "organization", principal.org_id or ""
    elif not principal.is_admin:
        scope_type, scope_id = "team", principal.team_id or ""
    return {
        "name": "",
        "kind": "webhook",
        "url": "",
        "scope_type": scope_type,
        "scope_id": scope_id,
        "events": list(KINDS),
        "enabled": True,
    }


async def alerts_page(
    request: Request,
    viewer: Viewer,
    *,
    status_code: int = 200,
    filters: dict[str, str | None] | None = None,
    **extra: Any,
) -> HTMLResponse:
    """The whole page; ``extra`` carries a form's outcome (errors, kept values, a new secret)."""
    filters = filters or {}
    async with api_for(request, viewer) as api:
        alerts, listed, channels, deliveries = await api.gather(
            api.get("/alerts", limit=PAGE_SIZE, **filters),
            api.get("/budgets"),
            api.optional(api.get("/alert-channels"), {"channels": []}),
            api.optional(api.get("/alert-deliveries", limit=DELIVERIES_SHOWN), {"deliveries": []}),
        )
    budgets = {b["id"]: b for b in listed["budgets"]}
    events = [
        e | {"crossed": crossed(e), "summary": describe(e, budgets)} for e in alerts["alerts"]
    ]
    rows = [
        c | {"manages": may_decide_on(request, viewer, c["scope"])} for c in channels["channels"]
    ]
    names = {c["id"]: c["name"] for c in rows}
    managed = {c["id"] for c in rows if c["manages"]}
    context: dict[str, Any] = {
        "errors": {},
        "channel": default_channel(viewer),
        "created": None,
        "action_error": None,
    }
    role = viewer.principal.role
    adds_channels = viewer.is_admin or role in (Role.ORG_ADMIN, Role.TEAM_ADMIN)
    return render(
        request,
        viewer,
        "alerts.html",
        status_code=status_code,
        title="Alerts",
        events=events,
        next_before_id=alerts.get("next_before_id"),
        filters=filters,
        budgets=sorted(budgets.values(), key=lambda b: b["id"]),
        kinds=EVENT_TYPES,
        channels=rows,
        channel_names=names,
        managed=managed,
        deliveries=deliveries["deliveries"],
        scope_types=SCOPE_TYPES,
        adds_channels=adds_channels,
        **(context | extra),
    )


@router.get("/alerts", response_class=HTMLResponse)
async def alerts(
    request: Request,
    viewer: ViewerDep,
    budget_id: str | None = None,
    kind: str | None = None,
    before_id: str | None = None,
) -> HTMLResponse:
    filters = {"budget_id": budget_id, "kind": kind, "before_id": before_id}
    return await alerts_page(request, viewer, filters={k: v for k, v in filters.items() if v})


@router.post("/alerts/channels", response_class=HTMLResponse)
async def create_channel(request: Request, viewer: ViewerDep) -> HTMLResponse:
    form = await read_form(request, viewer)
    kept = {
        "name": form.get("name"),
        "kind": form.get("kind"),
        "url": form.get("url"),
        "scope_type": form.get("scope_type"),
        "scope_id": form.get("scope_id"),
        "events": form.all("events"),
        "enabled": form.get("enabled") == "true",
    }
    try:
        async with api_for(request, viewer) as api:
            created = await api.post("/alert-channels", channel_body(form))
    except ApiError as refused:
        return await alerts_page(
            request,
            viewer,
            status_code=refused.status,
            channel=kept,
            errors=channel_errors(refused),
        )
    return await alerts_page(request, viewer, status_code=201, created=created)


async def _act(
    request: Request,
    viewer: Viewer,
    call: Callable[[DashboardApi], Awaitable[Any]],
    *,
    section: str,
    notice: str,
) -> Response:
    """Run one list action (toggle, delete, redeliver) of a read form; a refusal is shown in
    that section's error area."""
    try:
        async with api_for(request, viewer) as api:
            await call(api)
    except ApiError as refused:
        failed = {"section": section, "message": refused.message}
        return await alerts_page(request, viewer, status_code=refused.status, action_error=failed)
    return redirect(f"/alerts#{section}", notice)


@router.post("/alerts/channels/{channel_id}/enabled")
async def toggle_channel(request: Request, viewer: ViewerDep, channel_id: str) -> Response:
    enabled = (await read_form(request, viewer)).get("enabled") == "true"
    path = f"/alert-channels/{quote(channel_id, safe='')}"
    return await _act(
        request,
        viewer,
        lambda api: api.patch(path, {"enabled": enabled}),
        section="channels",
        notice=f"Channel {channel_id} {'enabled' if enabled else 'disabled'}.",
    )


@router.post("/alerts/channels/{channel_id}/delete")
async def delete_channel(request: Request, viewer: ViewerDep, channel_id: str) -> Response:
    await read_form(request, viewer)
    path = f"/alert-channels/{quote(channel_id, safe='')}"
    return await _act(
        request,
        viewer,
        lambda api: api.delete(path),
        section="channels",
        notice=f"Channel {channel_id} deleted.",
    )


@router.post("/alerts/deliveries/{delivery_id}/redeliver")
async def redeliver(request: Request, viewer: ViewerDep, delivery_id: str) -> Response:
    await read_form(request, viewer)
    path = f"/alert-deliveries/{quote(delivery_id, safe='')}/redeliver"
    return await _act(
        request,
        viewer,
        lambda api: api.post(path),
        section="deliveries",
        notice=f"Delivery {delivery_id} queued again.",
    )
