"""Inbound webhooks and their senders.

``POST /api/v1/webhooks/{cost-data|budget-alert|model-cost-update}`` take no API key: the
sender names itself in ``X-Thrifty-Sender`` and signs the raw body as Thrifty signs what it
sends (``notify.signing``: HMAC-SHA256 of ``"<timestamp>.<body>"`` under the sender's secret,
``X-Thrifty-Signature: sha256=<hex>``, ``X-Thrifty-Timestamp`` in Unix seconds). A missing,
unknown or revoked sender, a bad signature, or a timestamp further than
``webhooks.tolerance_seconds`` from the clock is a 401 that changes nothing. The body's ``id``
is the sender's event id: an event is applied once, in one transaction with the record of its
id, and a delivery of an id seen before is answered 200 with what the first one did and
``"duplicate": true``.

Senders are managed with the admin key: ``/api/v1/webhook-senders[/{sender_id}]``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Connection

from thrifty.api.budget_schemas import Identifier
from thrifty.api.responses import FastJSONResponse
from thrifty.api.state import AppState, app_state, require_admin
from thrifty.errors import AuthenticationFailed, InvalidInput, NotFound, PermissionDenied
from thrifty.ingest.alerts import BudgetAlertBody, record_alert
from thrifty.ingest.costs import CostDataBody, post_costs
from thrifty.ingest.prices import PriceUpdateBody, add_prices
from thrifty.notify.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from thrifty.storage import senders_repo
from thrifty.storage.audit_repo import record_audit
from thrifty.storage.overrides_repo import new_id
from thrifty.storage.senders_repo import KINDS, Sender

Admin = Annotated[AppState, Depends(require_admin)]
router = APIRouter(prefix="/api/v1", tags=["webhooks"])
SENDER_HEADER = "X-Thrifty-Sender"
SenderId = Annotated[str, Path(min_length=1, max_length=64)]
Kind = Literal["cost-data", "budget-alert", "model-cost-update"]


class SenderBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Identifier | None = None
    name: Annotated[str, Field(min_length=1, max_length=200)]
    kinds: Annotated[list[Kind], Field(min_length=1, max_length=3)] | None = None
    secret: Annotated[str, Field(min_length=32, max_length=128)] | None = None


def sender_json(sender: Sender) -> dict[str, Any]:
    return {
        "id": sender.id,
        "name": sender.name,
        "kinds": sorted(sender.kinds),
        "created_by": sender.created_by,
        "created_at": sender.created_at.isoformat(),
        "revoked_at": None if sender.revoked_at is None else sender.revoked_at.isoformat(),
    }


@router.post("/webhook-senders", status_code=201, summary="Register an inbound webhook sender")
def create_sender(body: SenderBody, state: Admin) -> FastJSONResponse:
    now = state.now()
    secret = body.secret or "whsec_" + secrets.token_hex(24)
    sender = Sender(body.id or new_id("snd"), body.name, secret,
                    frozenset(body.kinds or KINDS), "admin", now, None)  # fmt: skip

    def write(conn: Connection) -> Sender:
        created = senders_repo.insert_sender(conn, sender)
        record_audit(conn, actor="admin", action="webhook_sender.created",
                     target_type="webhook_sender", target_id=created.id,
                     details=sender_json(created), at=now)  # fmt: skip
        return created

    created = state.database.write(write)
    return FastJSONResponse(sender_json(created) | {"secret": secret}, status_code=201)


@router.get("/webhook-senders", summary="List inbound webhook senders (never their secrets)")
def list_senders(state: Admin) -> FastJSONResponse:
    senders = state.database.read(senders_repo.list_senders)
    return FastJSONResponse({"senders": [sender_json(s) for s in senders]})


@router.delete(
    "/webhook-senders/{sender_id}", status_code=204, summary="Revoke an inbound webhook sender"
)
def revoke_sender(sender_id: SenderId, state: Admin) -> Response:
    now = state.now()

    def write(conn: Connection) -> None:
        revoked = senders_repo.revoke_sender(conn, sender_id, now)
        record_audit(conn, actor="admin", action="webhook_sender.revoked",
                     target_type="webhook_sender", target_id=sender_id,
                     details=sender_json(revoked), at=now)  # fmt: skip

    state.database.write(write)
    return Response(status_code=204)


# --- the inbound webhooks ---------------------------------------------------------------------


async def _verified(request: Request, state: AppState, kind: str) -> tuple[Sender, bytes]:
    sender_id = request.headers.get(SENDER_HEADER)
    if not sender_id:
        raise AuthenticationFailed(f"name the sender in {SENDER_HEADER}", field=SENDER_HEADER)
    body = await request.body()
    try:
        sender = await state.database.aread(lambda c: senders_repo.get_sender(c, sender_id))
    except NotFound:
        sender = None
    if sender is None or sender.revoked_at is not None:
        raise AuthenticationFailed(f"unknown or revoked sender {sender_id!r}", field=SENDER_HEADER)
    verify(sender.secret, body, timestamp=request.headers.get(TIMESTAMP_HEADER),
           signed=request.headers.get(SIGNATURE_HEADER), now=state.now(),
           tolerance_s=state.config.config.webhooks.tolerance_seconds)  # fmt: skip
    if kind not in sender.kinds:
        raise PermissionDenied(
            f"sender {sender.id!r} may not send {kind} events", field=SENDER_HEADER
        )
    return sender, body


def _parse(model: type[BaseModel], body: bytes) -> Any:
    try:
        return model.model_validate_json(body)
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_url=False)]
        ) from None


async def _apply(
    request: Request, kind: str, model: type[BaseModel],
    apply: Callable[[Connection, Any, Sender, AppState], dict[str, Any]],
) -> FastJSONResponse:  # fmt: skip
    state = app_state(request)
    sender, raw = await _verified(request, state, kind)
    body = _parse(model, raw)
    event_id: str = body.id
    now = state.now()

    def write(conn: Connection) -> tuple[dict[str, Any], bool]:
        seen = senders_repo.claim_event(conn, sender.id, event_id, kind, now)
        if seen is not None:
            return seen, True
        result = {"event_id": event_id, "kind": kind, **apply(conn, body, sender, state)}
        senders_repo.store_result(conn, sender.id, event_id, result)
        return result, False

    result, duplicate = await state.database.awrite(write)
    if kind == "model-cost-update" and not duplicate:
        await anyio.to_thread.run_sync(state.registry.refresh)  # this process prices at once
    return FastJSONResponse(
        result | {"duplicate": duplicate}, status_code=200 if duplicate else 202
    )


@router.post(
    "/webhooks/cost-data", status_code=202,
    summary="Usage and cost records from outside the gateway, counted against budgets",
)  # fmt: skip
async def cost_data(request: Request) -> FastJSONResponse:
    def apply(
        conn: Connection, body: CostDataBody, sender: Sender, state: AppState
    ) -> dict[str, Any]:
        limit = state.config.config.webhooks.max_records
        if len(body.records) > limit:
            raise InvalidInput(f"at most {limit} records per event", field="records")
        return post_costs(conn, body, sender_id=sender.id, registry=state.registry.get(),
                          facts=state.directory.get().facts, now=state.now())  # fmt: skip

    return await _apply(request, "cost-data", CostDataBody, apply)


@router.post(
    "/webhooks/budget-alert", status_code=202,
    summary="An alert raised elsewhere: shown and forwarded to alert channels",
)  # fmt: skip
async def budget_alert(request: Request) -> FastJSONResponse:
    def apply(
        conn: Connection, body: BudgetAlertBody, sender: Sender, state: AppState
    ) -> dict[str, Any]:
        return record_alert(conn, body, sender_id=sender.id, now=state.now())

    return await _apply(request, "budget-alert", BudgetAlertBody, apply)


@router.post(
    "/webhooks/model-cost-update", status_code=202,
    summary="New model prices, each with its effective date",
)  # fmt: skip
async def model_cost_update(request: Request) -> FastJSONResponse:
    def apply(
        conn: Connection, body: PriceUpdateBody, sender: Sender, state: AppState
    ) -> dict[str, Any]:
        return add_prices(conn, body, registry=state.registry.get(), now=state.now())

    return await _apply(request, "model-cost-update", PriceUpdateBody, apply)
