"""``cost-data``: usage and cost records from systems outside the gateway (another proxy, a
batch job, a provider's usage export), attributed to a key, user, team, organisation or tags
and counted against their budgets like gateway traffic.

Each record is posted once, by the sender and the record's own ``id`` (request id
``ext:<sender>:<record id>``), so a record sent again in a later event is not counted twice.
A record without ``cost`` is priced from its tokens at its model's price in force when it ran.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from thrifty.budgets.model import Priority
from thrifty.budgets.money import format_nano, settlement_nano
from thrifty.budgets.principal import DirectoryFacts, chain_scopes, charged_principal
from thrifty.errors import InvalidInput, ThriftyError
from thrifty.pricing.catalog import TokenUsage, cost_of
from thrifty.routing.registry import ModelRegistry
from thrifty.storage import ledger, postings

Id = Annotated[str, Field(min_length=1, max_length=200)]
EntityId = Annotated[str, Field(min_length=1, max_length=64)]
Tokens = Annotated[int, Field(ge=0, le=10**12)]
FUTURE_SLACK = timedelta(minutes=5)  # clocks differ; usage from the future does not exist


class CostRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Annotated[str, Field(min_length=1, max_length=60)]
    timestamp: AwareDatetime
    model: Id
    provider: Id | None = None
    input_tokens: Tokens = 0
    cached_input_tokens: Tokens = 0
    output_tokens: Tokens = 0
    reasoning_tokens: Tokens = 0
    cost: Annotated[Decimal, Field(ge=0, le=1_000_000, allow_inf_nan=False)] | None = None
    key_id: EntityId | None = None
    user_id: EntityId | None = None
    team_id: EntityId | None = None
    org_id: EntityId | None = None
    tags: Annotated[list[Id], Field(max_length=50)] = Field(default_factory=list)
    task_type: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    status: Literal["ok", "error"] = "ok"
    metadata: dict[str, Any] = Field(default_factory=dict)


class CostDataBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Id
    source: Id | None = None
    records: Annotated[list[CostRecord], Field(min_length=1)]


def _cost_nano(registry: ModelRegistry, record: CostRecord, field: str) -> tuple[int, bool]:
    """The record's cost and whether it was priced here (not reported)."""
    if record.cost is not None:
        return settlement_nano(record.cost), False
    if record.model not in registry:
        raise InvalidInput(
            f"no cost, and {record.model!r} is not a registered model to price it from its tokens",
            field=f"{field}.cost",
        )
    try:
        price = registry.price_of(record.model, record.timestamp).price
    except ThriftyError as error:
        raise InvalidInput(error.message, field=f"{field}.cost") from error
    tokens = TokenUsage(record.input_tokens, record.output_tokens,
                        cached_input_tokens=record.cached_input_tokens)  # fmt: skip
    return settlement_nano(cost_of(price, tokens)), True


def post_costs(
    conn: Connection,
    body: CostDataBody,
    *,
    sender_id: str,
    registry: ModelRegistry,
    facts: DirectoryFacts,
    now: datetime,
) -> dict[str, Any]:
    """Post every record (all or none: one transaction); returns what was counted."""
    posted = replayed = 0
    total = 0
    for i, record in enumerate(body.records):
        field = f"records.{i}"
        if record.timestamp > now + FUTURE_SLACK:
            raise InvalidInput("timestamp is in the future", field=f"{field}.timestamp")
        if record.cached_input_tokens > record.input_tokens:
            raise InvalidInput("cached_input_tokens is part of input_tokens, so at most that many",
                               field=f"{field}.cached_input_tokens")  # fmt: skip
        principal = charged_principal(
            facts, key_id=record.key_id, user_id=record.user_id, team_id=record.team_id,
            org_id=record.org_id, tags=record.tags, field=field,
        )  # fmt: skip
        cost, priced = _cost_nano(registry, record, field)
        charge = ledger.Charge(
            request_id=f"ext:{sender_id}:{record.id}", scopes=chain_scopes(principal),
            amount_nano=0, expires_at=now, model=record.model, priority=Priority.NORMAL,
            key_id=principal.key_id, user_id=principal.user_id, team_id=principal.team_id,
            org_id=principal.org_id, tags=principal.tags,
        )  # fmt: skip
        metadata = {**record.metadata, "source": body.source or sender_id, "event_id": body.id}
        usage = ledger.Usage(
            model=record.model, provider=record.provider, input_tokens=record.input_tokens,
            cached_input_tokens=record.cached_input_tokens, output_tokens=record.output_tokens,
            reasoning_tokens=record.reasoning_tokens, estimated=priced, status=record.status,
            metadata=metadata, task_type=record.task_type,
        )  # fmt: skip
        try:
            result = postings.post_usage(conn, charge, cost, usage, used_at=record.timestamp,
                                         now=now)  # fmt: skip
        except ThriftyError as error:  # a record id posted before with another cost
            raise type(error)(error.message, field=f"{field}.id") from error
        replayed += result.replayed
        posted += not result.replayed
        total += 0 if result.replayed else cost
    return {"records": len(body.records), "posted": posted, "already_posted": replayed,
            "cost": format_nano(total)}  # fmt: skip
