"""Usage summed per hour and per day, rolled up from the usage records.

Cost analysis reads these sums, never the records, so its cost does not grow with the number
of requests. A settlement only inserts its usage record (``rolled_up`` 0); every process rolls
pending records up every few seconds, and each cost-analysis read first catches up, so a read
sees every settled request. A batch's sums and the marks on its records commit together:
each record is counted exactly once.

Three sums: ``usage_rollups`` (every attribution at once, for filtered and combined views),
``usage_tag_rollups`` (per tag) and ``usage_cube`` (per scope — everything, an organisation,
a team, a user — and per single dimension: what the common one-dimension views read, a few
hundred rows a day whatever the traffic).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, func, select, update

from thrifty.storage.schema import (
    prompt_prefixes,
    prompt_texts,
    usage_cube,
    usage_records,
    usage_rollups,
    usage_tag_rollups,
)
from thrifty.storage.sql import Sql, read_time, stored_time

GRAINS = ("hour", "day")
ADJUSTMENT = "adjustment"  # the status of a usage record that posts a ledger adjustment
SUMS = ("requests", "ok_requests", "input_tokens", "cached_input_tokens", "output_tokens")
_ALL_SUMS = (*SUMS, "cost_nano")
#: The attributions of ``usage_rollups`` (``usage_tag_rollups`` has tag, org, team, user, model).
DIMENSIONS = ("org_id", "team_id", "user_id", "key_id", "model", "provider", "task_type")
TAG_DIMENSIONS = ("tag", "org_id", "team_id", "user_id", "model")


def _upsert(table: str, dimensions: Sequence[str]) -> Sql:
    keys = ("grain", "bucket", *dimensions)
    columns = (*keys, *_ALL_SUMS)
    updates = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in _ALL_SUMS)
    return Sql(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES"  # noqa: S608 (fixed names)
        f" ({', '.join(':' + c for c in columns)})"
        f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
    )


_ADD = _upsert("usage_rollups", DIMENSIONS)
_ADD_TAGS = _upsert("usage_tag_rollups", TAG_DIMENSIONS)


def bucket_start(at: datetime, grain: str) -> datetime:
    """The start of the UTC hour or day holding ``at``."""
    at = at.astimezone(UTC)
    if grain == "hour":
        return at.replace(minute=0, second=0, microsecond=0)
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class UsageFacts:
    """What one usage record adds to the sums."""

    at: datetime
    org_id: str | None
    team_id: str | None
    user_id: str | None
    key_id: str | None
    model: str | None
    provider: str | None
    task_type: str | None
    tags: tuple[str, ...]
    ok: bool
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    cost_nano: int
    counted: bool = True  # False: a ledger adjustment, spend but not a request

    def sums(self) -> dict[str, int]:
        return {
            "requests": int(self.counted),
            "ok_requests": int(self.ok),
            "input_tokens": self.input_tokens,
            "cached_input_tokens": self.cached_input_tokens,
            "output_tokens": self.output_tokens,
            "cost_nano": self.cost_nano,
        }


#: The cube: per scope (everything, an organisation, a team, a user) and per dimension, the
#: sums of each value — what a one-dimension view of one scope reads.
CUBE_DIMENSIONS = ("total", "team_id", "user_id", "key_id", "model", "provider", "task_type", "tag")
_ADD_CUBE = _upsert("usage_cube", ("scope_type", "scope_id", "dimension", "value"))
_Totals = dict[tuple[Any, ...], dict[str, int]]


def _cube_keys(facts: UsageFacts) -> list[tuple[str, str, str, str]]:
    """(scope type, scope id, dimension, value) of every cube row one record adds to."""
    scopes = [("all", "")]
    for scope_type, value in (("org", facts.org_id), ("team", facts.team_id),
                              ("user", facts.user_id)):  # fmt: skip
        if value:
            scopes.append((scope_type, value))
    keys = []
    for scope_type, scope_id in scopes:
        for dimension in CUBE_DIMENSIONS:
            if dimension == "team_id" and scope_type in ("team", "user"):
                continue
            if dimension == "user_id" and scope_type == "user":
                continue
            if dimension == "tag":
                keys += [(scope_type, scope_id, "tag", t) for t in dict.fromkeys(facts.tags)]
            else:
                value = "" if dimension == "total" else getattr(facts, dimension) or ""
                keys.append((scope_type, scope_id, dimension, value))
    return keys


def _accumulate(totals: _Totals, key: tuple[Any, ...], facts: UsageFacts) -> None:
    into = totals.get(key)
    if into is None:
        into = totals[key] = dict.fromkeys(_ALL_SUMS, 0)
    for name, value in facts.sums().items():
        into[name] += value


def add_all(conn: Connection, batch: Sequence[UsageFacts]) -> None:
    """Add usage records to every sum: the wide tables and the cube, per hour and per day."""
    wide: _Totals = {}
    tagged: _Totals = {}
    cube: _Totals = {}
    for facts in batch:
        for grain in GRAINS:
            start = bucket_start(facts.at, grain)
            _accumulate(wide, (grain, start, *(getattr(facts, d) or "" for d in DIMENSIONS)), facts)
            shared = (facts.org_id or "", facts.team_id or "", facts.user_id or "",
                      facts.model or "")  # fmt: skip
            for tag in dict.fromkeys(facts.tags):
                _accumulate(tagged, (grain, start, tag, *shared), facts)
            for key in _cube_keys(facts):
                _accumulate(cube, (grain, start, *key), facts)
    _insert(conn, _ADD, ("grain", "bucket", *DIMENSIONS), wide)
    _insert(conn, _ADD_TAGS, ("grain", "bucket", *TAG_DIMENSIONS), tagged)
    _insert(conn, _ADD_CUBE, ("grain", "bucket", "scope_type", "scope_id", "dimension", "value"),
            cube)  # fmt: skip


def add(conn: Connection, facts: UsageFacts) -> None:
    """Add one usage record to its sums (tests and imports; the gateway's records are rolled
    up by :func:`roll_up`)."""
    add_all(conn, [facts])


def has_pending(conn: Connection) -> bool:
    query = select(usage_records.c.id).where(usage_records.c.rolled_up == 0).limit(1)
    return conn.execute(query).first() is not None


def roll_up(conn: Connection, limit: int = 5_000, *, skip_locked: bool = False) -> int:
    """Add up to ``limit`` usage records not yet in the sums, and mark them: exactly once, in
    one transaction. On PostgreSQL the records are locked first; ``skip_locked`` (the
    background roll-up) passes over those another process is rolling up, the default (a read
    catching up) waits for them, so that what it reads next includes them."""
    query = (
        select(usage_records)
        .where(usage_records.c.rolled_up == 0)
        .order_by(usage_records.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=skip_locked)
    rows = conn.execute(query).all()
    if not rows:
        return 0
    add_all(conn, [facts_of_record(dict(row._mapping)) for row in rows])
    ids = [row.id for row in rows]
    conn.execute(update(usage_records).where(usage_records.c.id.in_(ids)).values(rolled_up=1))
    return len(rows)


def rebuild(conn: Connection, batch: int = 5_000) -> int:
    """Recompute every sum from the usage records; returns the number of records read."""
    for table in (usage_rollups, usage_tag_rollups, usage_cube):
        conn.execute(table.delete())
    conn.execute(update(usage_records).values(rolled_up=0))
    read = 0
    while True:
        done = roll_up(conn, batch)
        if not done:
            return read
        read += done


def _insert(conn: Connection, sql: Sql, keys: Sequence[str], totals: _Totals) -> None:
    rows = []
    stored: dict[datetime, Any] = {}
    for key, sums in totals.items():
        row = dict(zip(keys, key, strict=True))
        bucket = row["bucket"]
        if bucket not in stored:
            stored[bucket] = stored_time(conn, bucket)
        row["bucket"] = stored[bucket]
        row.update(sums)
        rows.append(row)
    for start in range(0, len(rows), 1_000):
        sql(conn, rows[start : start + 1_000])


def facts_of_record(record: Mapping[str, Any]) -> UsageFacts:
    """The facts of a stored usage record (a row of ``usage_records``)."""
    tags = record["tags"]
    if isinstance(tags, str):
        tags = json.loads(tags)
    at = read_time(record["created_at"])
    assert at is not None
    return UsageFacts(
        at=at,
        org_id=record["org_id"],
        team_id=record["team_id"],
        user_id=record["user_id"],
        key_id=record["key_id"],
        model=record["model"],
        provider=record["provider"],
        task_type=record.get("task_type"),
        tags=tuple(str(t) for t in tags or ()),
        ok=record["status"] == "ok",
        input_tokens=int(record["input_tokens"]),
        cached_input_tokens=int(record["cached_input_tokens"]),
        output_tokens=int(record["output_tokens"]),
        cost_nano=int(record["cost_nano"]),
        counted=record["status"] != ADJUSTMENT,
    )


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scope:
    """Which sums a reader may see and asked for: attribution filters ("" matches none)."""

    org_id: str | None = None
    team_id: str | None = None
    user_id: str | None = None
    key_id: str | None = None
    model: str | None = None
    provider: str | None = None
    task_type: str | None = None
    tag: str | None = None


#: The attributions a decision or preamble sum carries, as ``Scope`` names them.
PRINCIPAL_AND_MODEL = ("org_id", "team_id", "user_id", "key_id", "model")


def scope_conditions(table: Any, scope: Scope, names: Sequence[str]) -> list[Any]:
    """``table.c[name] == value`` for each of ``names`` that ``scope`` filters on."""
    found = []
    for name in names:
        value = getattr(scope, name)
        if value is not None:
            found.append(table.c[name] == value)
    return found


def _sums_row(row: Any, bucket: datetime | None = None) -> dict[str, Any]:
    """A row of sums as a dict: ``bucket`` read as an aware time (or given), sums as ints."""
    data = dict(row._mapping)
    data["bucket"] = read_time(data["bucket"]) if bucket is None else bucket
    for name in _ALL_SUMS:
        data[name] = int(data[name] or 0)
    return data


def read(
    conn: Connection,
    grain: str,
    start: datetime,
    end: datetime,
    scope: Scope,
    group_by: Sequence[str],
) -> list[dict[str, Any]]:
    """Sums per bucket of ``grain`` in ``[start, end)`` and per value of each ``group_by``
    attribution (``tag`` reads the tag sums), filtered by ``scope``."""
    tagged = "tag" in group_by or scope.tag is not None
    table = usage_tag_rollups if tagged else usage_rollups
    allowed = TAG_DIMENSIONS if tagged else DIMENSIONS
    for name in group_by:
        if name not in allowed:
            raise ValueError(f"cannot group tag sums by {name}")
    keys = [table.c.bucket, *(table.c[name] for name in group_by)]
    conditions = [
        table.c.grain == grain,
        table.c.bucket >= start.astimezone(UTC),
        table.c.bucket < end.astimezone(UTC),
    ]
    for name in (*DIMENSIONS, "tag"):
        value = getattr(scope, name)
        if value is not None:
            if name not in allowed:
                raise ValueError(f"cannot filter tag sums by {name}")
            conditions.append(table.c[name] == value)
    query = (
        select(*keys, *(func.sum(table.c[name]).label(name) for name in _ALL_SUMS))
        .where(and_(*conditions))
        .group_by(*keys)
        .order_by(table.c.bucket)
    )
    return [_sums_row(row) for row in conn.execute(query)]


def cube_scope(scope: Scope) -> tuple[str, str] | None:
    """The cube's scope for ``scope`` — the most specific of its user, team and organisation,
    or everything — or None when ``scope`` filters on something the cube does not split by
    (a key, model, provider, task type or tag)."""
    if any(getattr(scope, name) is not None for name in
           ("key_id", "model", "provider", "task_type", "tag")):  # fmt: skip
        return None
    for scope_type, value in (("user", scope.user_id), ("team", scope.team_id),
                              ("org", scope.org_id)):  # fmt: skip
        if value is not None:
            return scope_type, value
    return "all", ""


def cube_has(scope_type: str, dimension: str) -> bool:
    """Whether the cube keeps ``dimension`` for scopes of ``scope_type``."""
    if dimension == "team_id":
        return scope_type in ("all", "org")
    if dimension == "user_id":
        return scope_type != "user"
    return dimension in CUBE_DIMENSIONS


def read_cube(
    conn: Connection,
    grain: str,
    start: datetime,
    end: datetime,
    scope: tuple[str, str],
    dimensions: Sequence[str],
    *,
    per_bucket: bool = True,
) -> list[dict[str, Any]]:
    """The cube's rows of one scope in ``[start, end)``: ``bucket``, ``dimension``, ``value``
    and the sums, for each of ``dimensions`` ("total" for the scope's own totals); without
    ``per_bucket``, one row per dimension and value, summed by the database (``bucket`` is
    then ``start``)."""
    table = usage_cube
    conditions = (
        table.c.grain == grain,
        table.c.scope_type == scope[0],
        table.c.scope_id == scope[1],
        table.c.dimension.in_(list(dimensions)),
        table.c.bucket >= start.astimezone(UTC),
        table.c.bucket < end.astimezone(UTC),
    )
    if per_bucket:
        columns = [table.c.bucket, table.c.dimension, table.c.value]
        query = select(*columns, *(table.c[name] for name in _ALL_SUMS)).where(*conditions)
    else:
        sums = (func.sum(table.c[name]).label(name) for name in _ALL_SUMS)
        query = (
            select(table.c.dimension, table.c.value, *sums)
            .where(*conditions)
            .group_by(table.c.dimension, table.c.value)
        )
    return [_sums_row(row, None if per_bucket else start) for row in conn.execute(query)]


def catch_up(conn: Connection, batches: int = 20, *, skip_locked: bool = False) -> int:
    """Roll up what is pending (at most ``batches`` batches); returns the records added."""
    done = 0
    for _ in range(batches):
        added = roll_up(conn, skip_locked=skip_locked)
        done += added
        if not added:
            break
    return done


# --- request preambles -----------------------------------------------------------------------

_ADD_PREAMBLE = Sql(
    "INSERT INTO prompt_prefixes (day, fingerprint, org_id, team_id, user_id, key_id, model,"
    " tokens, requests, input_tokens, cached_input_tokens) VALUES (:day, :fingerprint, :org_id,"
    " :team_id, :user_id, :key_id, :model, :tokens, 1, :input_tokens, :cached_input_tokens)"
    " ON CONFLICT (day, fingerprint, org_id, team_id, user_id, key_id, model) DO UPDATE SET"
    " requests = prompt_prefixes.requests + 1,"
    " input_tokens = prompt_prefixes.input_tokens + excluded.input_tokens,"
    " cached_input_tokens = prompt_prefixes.cached_input_tokens + excluded.cached_input_tokens,"
    " tokens = excluded.tokens"
)
_KEEP_TEXT = Sql(
    "INSERT INTO prompt_texts (fingerprint, excerpt, text, truncated, first_seen) VALUES"
    " (:fingerprint, :excerpt, :text, :truncated, :now) ON CONFLICT (fingerprint) DO NOTHING"
)


@dataclass(frozen=True, slots=True)
class PreambleUse:
    """One request's use of a preamble (``analytics.prefixes.Preamble``)."""

    at: datetime
    fingerprint: str
    tokens: int
    org_id: str | None
    team_id: str | None
    user_id: str | None
    key_id: str | None
    model: str
    input_tokens: int
    cached_input_tokens: int
    text: str | None = None  # kept once per fingerprint, when given
    excerpt: str = ""
    truncated: bool = False


def add_preamble(conn: Connection, use: PreambleUse) -> None:
    _ADD_PREAMBLE(
        conn,
        {
            "day": stored_time(conn, bucket_start(use.at, "day")),
            "fingerprint": use.fingerprint,
            "org_id": use.org_id or "",
            "team_id": use.team_id or "",
            "user_id": use.user_id or "",
            "key_id": use.key_id or "",
            "model": use.model,
            "tokens": use.tokens,
            "input_tokens": use.input_tokens,
            "cached_input_tokens": use.cached_input_tokens,
        },
    )
    if use.text is not None:
        _KEEP_TEXT(
            conn,
            {
                "fingerprint": use.fingerprint,
                "excerpt": use.excerpt[:200],
                "text": use.text,
                "truncated": int(use.truncated),
                "now": stored_time(conn, use.at),
            },
        )


def read_preambles(
    conn: Connection, start: datetime, end: datetime, scope: Scope, *, min_requests: int = 1
) -> list[dict[str, Any]]:
    """Per preamble and model in ``[start, end)``: requests, its tokens, the input tokens of
    the requests that used it (and how many were read from a cache), its excerpt and text."""
    table = prompt_prefixes
    conditions = [
        table.c.day >= bucket_start(start, "day"),
        table.c.day < end.astimezone(UTC),
        *scope_conditions(table, scope, PRINCIPAL_AND_MODEL),
    ]
    requests = func.sum(table.c.requests)
    joined = table.outerjoin(prompt_texts, prompt_texts.c.fingerprint == table.c.fingerprint)
    query = (
        select(
            table.c.fingerprint,
            table.c.model,
            func.max(table.c.tokens).label("tokens"),
            requests.label("requests"),
            func.sum(table.c.input_tokens).label("input_tokens"),
            func.sum(table.c.cached_input_tokens).label("cached_input_tokens"),
            prompt_texts.c.excerpt,
            prompt_texts.c.text,
            prompt_texts.c.truncated,
        )
        .select_from(joined)
        .where(and_(*conditions))
        .group_by(
            table.c.fingerprint, table.c.model, prompt_texts.c.excerpt, prompt_texts.c.text,
            prompt_texts.c.truncated,
        )
        .having(requests >= min_requests)
        .order_by(requests.desc())
    )  # fmt: skip
    return [dict(row._mapping) for row in conn.execute(query)]
