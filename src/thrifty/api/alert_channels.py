"""Alert channels and deliveries: ``/api/v1/alert-channels[/{id}]`` and
``/api/v1/alert-deliveries[/{id}/redeliver]``, audited.

A channel sends the alert events of one scope (and what lies inside it) or, with no scope,
of everything (the admin key only) to a generic webhook, signed with the channel's secret, or
to a Slack-compatible incoming webhook. Whoever may manage a scope's budgets (the admin key,
an organisation admin inside its organisation, a team admin for its users) may manage its
channels; whoever may see a scope sees its channels and their deliveries. The secret is shown
once, when the channel is created.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from thrifty.api.auth import Caller, CallerDep
from thrifty.api.budget_schemas import Identifier, ScopeBody
from thrifty.api.budgets import check_scope_exists, may_decide
from thrifty.api.responses import FastJSONResponse
from thrifty.budgets.model import Scope, parse_scope_type
from thrifty.errors import InvalidInput, NotFound
from thrifty.notify.events import KINDS
from thrifty.storage import channels_repo
from thrifty.storage.audit_repo import record_audit
from thrifty.storage.channels_repo import Channel, Delivery
from thrifty.storage.overrides_repo import new_id

router = APIRouter(prefix="/api/v1", tags=["alerts"])
ChannelId = Annotated[str, Path(min_length=1, max_length=64)]
Url = Annotated[str, Field(min_length=8, max_length=2000, pattern=r"^https?://")]
EventKinds = Annotated[list[Literal[KINDS]], Field(min_length=1, max_length=len(KINDS))]  # type: ignore[valid-type]
Secret = Annotated[str, Field(min_length=16, max_length=128)]


class ChannelBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Identifier | None = None
    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: Literal["webhook", "slack"]
    url: Url
    scope: ScopeBody | None = None
    events: EventKinds | None = None
    secret: Secret | None = None
    enabled: bool = True


class ChannelPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    url: Url | None = None
    events: EventKinds | None = None
    enabled: bool | None = None


def channel_json(channel: Channel) -> dict[str, Any]:
    scope = channel.scope
    return {
        "id": channel.id,
        "name": channel.name,
        "kind": channel.kind,
        "url": channel.url,
        "scope": None if scope is None else {"type": scope.type.value, "id": scope.id},
        "events": None if channel.events is None else sorted(channel.events),
        "enabled": channel.enabled,
        "signed": channel.secret is not None,
        "created_by": channel.created_by,
        "created_at": channel.created_at.isoformat(),
        "updated_at": channel.updated_at.isoformat(),
    }


def delivery_json(delivery: Delivery) -> dict[str, Any]:
    def time(value: Any) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "id": delivery.id,
        "channel_id": delivery.channel_id,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": time(delivery.next_attempt_at) if delivery.status == "pending" else None,
        "last_attempt_at": time(delivery.last_attempt_at),
        "last_status": delivery.last_status,
        "last_error": delivery.last_error,
        "created_at": time(delivery.created_at),
        "delivered_at": time(delivery.delivered_at),
    }


def _sees(caller: Caller, channel: Channel) -> bool:
    if channel.scope is None:
        return caller.principal.is_admin
    return caller.sees(channel.scope.type, channel.scope.id)


def _check_manages(caller: Caller, scope: Scope | None, *, field: str = "scope") -> None:
    if caller.principal.is_admin:
        return
    if scope is None:
        raise caller.denied(
            "may not manage channels of every scope (the admin key may)", field=field
        )
    if not may_decide(caller, scope):
        raise caller.denied(f"may not manage the alerts of {scope}", field=field)


def _visible(caller: Caller, conn: Connection, channel_id: str) -> Channel:
    channel = channels_repo.get_channel(conn, channel_id)
    if not _sees(caller, channel):  # as if it did not exist
        raise NotFound(f"alert channel {channel_id!r} does not exist", field="channel_id")
    return channel


def _audit(conn: Connection, caller: Caller, action: str, channel_id: str, details: Any) -> None:
    record_audit(conn, actor=caller.principal.actor, action=action, target_type="alert_channel",
                 target_id=channel_id, details=details, at=caller.state.now())  # fmt: skip


@router.post("/alert-channels", status_code=201, summary="Create an alert channel")
def create_channel(body: ChannelBody, caller: CallerDep) -> FastJSONResponse:
    scope = None
    if body.scope is not None:
        scope = Scope(parse_scope_type(body.scope.type, field="scope.type"), body.scope.id)
    _check_manages(caller, scope)
    if body.kind == "slack" and body.secret is not None:
        raise InvalidInput("a Slack webhook is not signed: its URL is the secret", field="secret")
    secret = None if body.kind == "slack" else (body.secret or "whsec_" + secrets.token_hex(24))
    now = caller.state.now()
    channel = Channel(
        id=body.id or new_id("ch"), name=body.name, kind=body.kind, url=body.url, secret=secret,
        scope=scope, events=None if body.events is None else frozenset(body.events),
        enabled=body.enabled, created_by=caller.principal.actor, created_at=now, updated_at=now,
    )  # fmt: skip

    def write(conn: Connection) -> Channel:
        if scope is not None:
            check_scope_exists(conn, scope)
        created = channels_repo.insert_channel(conn, channel)
        _audit(conn, caller, "alert_channel.created", created.id, channel_json(created))
        return created

    created = caller.state.database.write(write)
    return FastJSONResponse(channel_json(created) | {"secret": secret}, status_code=201)


@router.get("/alert-channels", summary="List the alert channels the key may see")
def list_channels(caller: CallerDep) -> FastJSONResponse:
    channels = caller.state.database.read(channels_repo.list_channels)
    shown = [channel_json(c) for c in channels if _sees(caller, c)]
    return FastJSONResponse({"channels": shown})


@router.get("/alert-channels/{channel_id}", summary="One alert channel")
def get_channel(channel_id: ChannelId, caller: CallerDep) -> FastJSONResponse:
    channel = caller.state.database.read(lambda conn: _visible(caller, conn, channel_id))
    return FastJSONResponse(channel_json(channel))


@router.patch("/alert-channels/{channel_id}", summary="Change an alert channel")
def update_channel(
    channel_id: ChannelId, body: ChannelPatch, caller: CallerDep
) -> FastJSONResponse:
    changes = body.model_dump(exclude_unset=True)  # "events": null sends every kind again

    def write(conn: Connection) -> Channel:
        current = _visible(caller, conn, channel_id)
        _check_manages(caller, current.scope)
        updated = channels_repo.update_channel(conn, channel_id, changes, caller.state.now())
        _audit(conn, caller, "alert_channel.updated", channel_id,
               {"before": channel_json(current), "after": channel_json(updated)})  # fmt: skip
        return updated

    return FastJSONResponse(channel_json(caller.state.database.write(write)))


@router.delete("/alert-channels/{channel_id}", status_code=204, summary="Delete an alert channel")
def delete_channel(channel_id: ChannelId, caller: CallerDep) -> Response:
    def write(conn: Connection) -> None:
        current = _visible(caller, conn, channel_id)
        _check_manages(caller, current.scope)
        channels_repo.delete_channel(conn, channel_id)
        _audit(conn, caller, "alert_channel.deleted", channel_id, channel_json(current))

    caller.state.database.write(write)
    return Response(status_code=204)


@router.get("/alert-deliveries", summary="The delivery log of alert channels, newest first")
def list_deliveries(
    caller: CallerDep,
    channel_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    status: Literal["pending", "delivered", "failed"] | None = None,
    event_id: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(ge=1)] = None,
) -> FastJSONResponse:
    def read(conn: Connection) -> list[Delivery]:
        if channel_id is not None:
            ids = [_visible(caller, conn, channel_id).id]
        else:
            ids = [c.id for c in channels_repo.list_channels(conn) if _sees(caller, c)]
        return channels_repo.list_deliveries(
            conn, channel_ids=ids, status=status, event_id=event_id, limit=limit,
            before_id=before_id,
        )  # fmt: skip

    found = caller.state.database.read(read)
    next_before = found[-1].id if len(found) == limit else None
    return FastJSONResponse(
        {"deliveries": [delivery_json(d) for d in found], "next_before_id": next_before}
    )


@router.post(
    "/alert-deliveries/{delivery_id}/redeliver",
    summary="Send a delivery again (queued at once, in its channel's order)",
)
def redeliver(delivery_id: Annotated[int, Path(ge=1)], caller: CallerDep) -> FastJSONResponse:
    def write(conn: Connection) -> Delivery:
        delivery = channels_repo.get_delivery(conn, delivery_id)
        channel = _visible(caller, conn, delivery.channel_id)
        _check_manages(caller, channel.scope, field="delivery_id")
        again = channels_repo.redeliver(conn, delivery_id, caller.state.now())
        _audit(conn, caller, "alert_delivery.redelivered", channel.id,
               {"delivery_id": delivery_id, "event_id": delivery.event_id,
                "previous_status": delivery.status})  # fmt: skip
        return again

    return FastJSONResponse(delivery_json(caller.state.database.write(write)))
