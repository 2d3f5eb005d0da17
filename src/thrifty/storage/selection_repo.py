"""Stored decisions (the explainer's record), quality feedback, and API-managed rules."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

import orjson
from sqlalchemy import Connection, delete, func, insert, or_, select, update

from thrifty.analytics.savings import DecidedCall
from thrifty.budgets.money import from_nano
from thrifty.errors import NotFound
from thrifty.pricing.catalog import TokenUsage
from thrifty.storage import rollups
from thrifty.storage.cache import bump_version
from thrifty.storage.rollups import Scope
from thrifty.storage.schema import decisions, feedback, model_quality, stored_rules, usage_records
from thrifty.storage.sql import Sql, read_json, stored_json, stored_time

#: Cache names bumped when quality aggregates or stored rules change.
QUALITY = "model_quality"
RULES = "rules"
_RULES_ROW = "stored"

_INSERT_DECISION = Sql(
    "INSERT INTO decisions (id, request_id, created_at, requested_model, model, strategy,"
    " task_type, key_id, user_id, team_id, org_id, estimated_cost_nano, body) VALUES (:id,"
    " :request_id, :created_at, :requested_model, :model, :strategy, :task_type, :key_id,"
    " :user_id, :team_id, :org_id, :estimated_cost_nano, :body) ON CONFLICT (request_id) DO NOTHING"
)


@dataclass(frozen=True)
class DecisionRecord:
    """One live decision as the gateway stores it. The explanation (``body``) is built when
    first read, so a request reaches its upstream before its decision is put into words."""

    id: str
    request_id: str
    requested_model: str | None
    model: str | None
    strategy: str
    task_type: str
    key_id: str | None
    user_id: str | None
    team_id: str | None
    org_id: str | None
    estimated_cost_nano: int | None
    explain: Callable[[], Mapping[str, Any]] = field(repr=False, compare=False)

    @cached_property
    def body(self) -> Mapping[str, Any]:
        """The stored explanation (the explainer's JSON)."""
        return self.explain()


def new_decision_id() -> str:
    return "dec_" + uuid.uuid4().hex


def record_decision(conn: Connection, record: DecisionRecord, now: datetime) -> None:
    """Store a decision once per request (a retried write changes nothing)."""
    _INSERT_DECISION(
        conn,
        {
            "id": record.id,
            "request_id": record.request_id,
            "created_at": stored_time(conn, now),
            "requested_model": record.requested_model,
            "model": record.model,
            "strategy": record.strategy,
            "task_type": record.task_type,
            "key_id": record.key_id,
            "user_id": record.user_id,
            "team_id": record.team_id,
            "org_id": record.org_id,
            "estimated_cost_nano": record.estimated_cost_nano,
            "body": stored_json(record.body),
        },
    )


def _row_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "requestId": row.request_id,
        "createdAt": row.created_at.isoformat(),
        "requestedModel": row.requested_model,
        "selectedModel": row.model,
        "strategy": row.strategy,
        "taskType": row.task_type,
        "keyId": row.key_id,
        "userId": row.user_id,
        "teamId": row.team_id,
        "orgId": row.org_id,
        **dict(row.body),
    }


def get_decision(conn: Connection, decision_id: str) -> dict[str, Any]:
    row = conn.execute(select(decisions).where(decisions.c.id == decision_id)).first()
    if row is None:
        raise NotFound(f"no decision {decision_id!r}", field="id")
    return _row_json(row)


def decision_for_request(conn: Connection, request_id: str) -> dict[str, Any]:
    row = conn.execute(select(decisions).where(decisions.c.request_id == request_id)).first()
    if row is None:
        raise NotFound(f"no decision for request {request_id!r}", field="requestId")
    return _row_json(row)


@dataclass(frozen=True, slots=True)
class Visibility:
    """Which decisions a caller may read: everything (all None) or those of its scopes."""

    org_id: str | None = None
    team_id: str | None = None
    user_id: str | None = None


def _visible(query: Any, seen: Visibility) -> Any:
    if seen.org_id is not None:
        query = query.where(decisions.c.org_id == seen.org_id)
    if seen.team_id is not None:
        query = query.where(decisions.c.team_id == seen.team_id)
    if seen.user_id is not None:
        query = query.where(decisions.c.user_id == seen.user_id)
    return query


def recent_decisions(
    conn: Connection, seen: Visibility, *, limit: int, model: str | None = None
) -> list[dict[str, Any]]:
    query = _visible(select(decisions), seen)
    if model is not None:
        query = query.where(decisions.c.model == model)
    query = query.order_by(decisions.c.created_at.desc(), decisions.c.id).limit(limit)
    return [_row_json(row) for row in conn.execute(query)]


def decision_stats(conn: Connection, seen: Visibility, since: datetime, *, sample: int) -> Any:
    """Wins per model since ``since``, and the reasons others lost over the latest ``sample``."""
    wins_query = _visible(
        select(decisions.c.model, func.count().label("n")).where(decisions.c.created_at >= since),
        seen,
    ).group_by(decisions.c.model)
    wins = {row.model: int(row.n) for row in conn.execute(wins_query)}
    bodies = (
        _visible(select(decisions.c.body).where(decisions.c.created_at >= since), seen)
        .order_by(decisions.c.created_at.desc())
        .limit(sample)
    )
    return wins, [row.body for row in conn.execute(bodies)]


# --- feedback --------------------------------------------------------------------------------


def _answer(conn: Connection, request_id: str) -> Any:
    """The usage record of the attempt that answered ``request_id`` (fallback attempts are
    ``<request id>/<n>``): the latest successful one; NotFound when none answered."""
    row = conn.execute(
        select(usage_records.c.model, usage_records.c.user_id, usage_records.c.team_id)
        .where(
            or_(
                usage_records.c.request_id == request_id,
                usage_records.c.request_id.startswith(request_id + "/", autoescape=True),
            ),
            usage_records.c.status == "ok",
        )
        .order_by(usage_records.c.id.desc())
        .limit(1)
    ).first()
    if row is None or row.model is None:
        raise NotFound(f"no answered request {request_id!r}", field="request_id")
    return row


def usage_owner(conn: Connection, request_id: str) -> dict[str, Any]:
    """Whose answered request this is (its user and team), or NotFound."""
    row = _answer(conn, request_id)
    return {"userId": row.user_id, "teamId": row.team_id}


def record_feedback(
    conn: Connection,
    request_id: str,
    score: Decimal,
    *,
    key_id: str | None,
    comment: str | None,
    now: datetime,
) -> dict[str, Any]:
    """Store the score of one answered request and fold it into the model's quality record.

    The model is the one that answered (its usage record); the task type the decision's. A
    second score for the same request replaces the first (the aggregate moves by the change)."""
    usage = _answer(conn, request_id)
    task = (
        conn.execute(
            select(decisions.c.task_type).where(decisions.c.request_id == request_id)
        ).scalar()
        or "default"
    )
    previous = conn.execute(
        select(feedback.c.score).where(feedback.c.request_id == request_id)
    ).scalar()
    if previous is None:
        conn.execute(
            insert(feedback).values(
                request_id=request_id, model=usage.model, task_type=task, score=score,
                key_id=key_id, comment=comment, created_at=now,
            )
        )  # fmt: skip
        _add_quality(conn, usage.model, task, 1, score, now)
    else:
        conn.execute(
            update(feedback)
            .where(feedback.c.request_id == request_id)
            .values(score=score, comment=comment, key_id=key_id, created_at=now)
        )
        _add_quality(conn, usage.model, task, 0, score - previous, now)
    bump_version(conn, QUALITY)
    return {"requestId": request_id, "model": usage.model, "taskType": task, "score": str(score)}


def _add_quality(
    conn: Connection, model: str, task: str, count: int, delta: Decimal, now: datetime
) -> None:
    row = conn.execute(
        select(model_quality.c.count, model_quality.c.score_sum).where(
            model_quality.c.model == model, model_quality.c.task_type == task
        )
    ).first()
    if row is None:
        conn.execute(
            insert(model_quality).values(
                model=model, task_type=task, count=count, score_sum=delta, updated_at=now
            )
        )
        return
    conn.execute(
        update(model_quality)
        .where(model_quality.c.model == model, model_quality.c.task_type == task)
        .values(count=row.count + count, score_sum=row.score_sum + delta, updated_at=now)
    )


def load_quality(conn: Connection) -> dict[tuple[str, str], tuple[int, Decimal]]:
    """(model, task type) → (feedback count, sum of scores)."""
    rows = conn.execute(
        select(model_quality.c.model, model_quality.c.task_type, model_quality.c.count,
               model_quality.c.score_sum)
    )  # fmt: skip
    return {(r.model, r.task_type): (int(r.count), r.score_sum) for r in rows}


# --- stored rules ----------------------------------------------------------------------------


def load_stored_rules(conn: Connection) -> list[dict[str, Any]]:
    value = conn.execute(
        select(stored_rules.c.rules).where(stored_rules.c.id == _RULES_ROW)
    ).scalar()
    return list(value or [])


def save_stored_rules(conn: Connection, rules: list[dict[str, Any]], now: datetime) -> None:
    conn.execute(delete(stored_rules).where(stored_rules.c.id == _RULES_ROW))
    conn.execute(insert(stored_rules).values(id=_RULES_ROW, rules=rules, updated_at=now))
    bump_version(conn, RULES)


def decision_profiles(
    conn: Connection, scope: rollups.Scope, start: datetime, end: datetime, *, limit: int
) -> list[tuple[str, dict[str, Any]]]:
    """(task type, request profile) of the latest ``limit`` decisions in ``[start, end)`` of a
    scope (its org, team, user, key and model filters)."""
    query = select(decisions.c.task_type, decisions.c.body).where(
        decisions.c.created_at >= start,
        decisions.c.created_at < end,
        *rollups.scope_conditions(decisions, scope, rollups.PRINCIPAL_AND_MODEL),
    )
    query = query.order_by(decisions.c.created_at.desc()).limit(limit)
    found = []
    for row in conn.execute(query):
        body = row.body if isinstance(row.body, dict) else orjson.loads(row.body)
        found.append((row.task_type, dict(body.get("profile") or {})))
    return found


def decided_usage(
    conn: Connection, start: datetime, end: datetime, scope: Scope
) -> Iterator[DecidedCall]:
    """The settled, successful calls decided in ``[start, end)`` within ``scope``'s
    attributions (org, team, user, key, served model, provider, task type)."""
    u = usage_records
    query = (
        select(
            decisions.c.requested_model,
            decisions.c.body,
            u.c.model,
            u.c.input_tokens,
            u.c.cached_input_tokens,
            u.c.output_tokens,
            u.c.cost_nano,
            u.c.created_at,
        )
        .join(u, u.c.request_id == decisions.c.request_id)
        .where(decisions.c.created_at >= start, decisions.c.created_at < end)
        .where(u.c.status == "ok", u.c.model.is_not(None))
    )
    for name, column in (
        ("org_id", u.c.org_id), ("team_id", u.c.team_id), ("user_id", u.c.user_id),
        ("key_id", u.c.key_id), ("model", u.c.model), ("provider", u.c.provider),
        ("task_type", u.c.task_type),
    ):  # fmt: skip
        value = getattr(scope, name)
        if value is not None:
            query = query.where(column == value)
    for row in conn.execute(query):
        body = read_json(row.body) or {}
        yield DecidedCall(
            requested_model=row.requested_model,
            served_model=row.model,
            selected_model=body.get("selectedModel"),
            selected_quality=body.get("quality"),
            alternatives=body.get("alternatives") or (),
            usage=TokenUsage(row.input_tokens, row.output_tokens, row.cached_input_tokens),
            cost=from_nano(row.cost_nano),
            at=row.created_at,
        )
