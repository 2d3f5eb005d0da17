"""The two-phase ledger: hold → settle | void | expire, on every budget of a request's chain.

Every operation is one write transaction (``Database.write``). The check and the hold are one
atomic step: the balance rows of the chain's budgets are locked (``FOR UPDATE`` on PostgreSQL,
in budget-id order; on SQLite the ``BEGIN IMMEDIATE`` transaction holds the file's write lock),
read, checked against the pure budget policy, and updated before the lock is released. So
``posted + held ≤ limit`` holds for every hard budget across any number of processes.

Holds expire: an expired hold stops counting at once (the check subtracts expired-but-unswept
holds), and ``sweep_expired`` releases it for good. Settling and voiding are idempotent by
request id. A budget's spend is the sum of its ``ledger_entries``; ``budget_balances`` keeps
that sum (and what is held) per period window, so a status read is one row per budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from thrifty.budgets.fit import fits
from thrifty.budgets.model import BudgetState, Priority, Scope, applies_to
from thrifty.budgets.money import format_nano
from thrifty.budgets.overrides import Override, matching_override
from thrifty.budgets.policy import restrictions_for
from thrifty.errors import Conflict, InvalidInput, NotFound
from thrifty.storage import balances, budgets_repo, overrides_repo
from thrifty.storage.audit_repo import record_audit
from thrifty.storage.sql import Sql, cached, items, read_time, stored_json, stored_time

HELD, SETTLED, VOIDED, EXPIRED = balances.HELD, "settled", "voided", "expired"


def _usd(nano: int) -> str:
    return format_nano(nano)


@dataclass(frozen=True, slots=True)
class Charge:
    """A request to hold ``amount_nano`` on every budget of ``scopes`` until ``expires_at``."""

    request_id: str
    scopes: tuple[Scope, ...]
    amount_nano: int
    expires_at: datetime
    model: str | None = None
    priority: Priority = Priority.NORMAL
    key_id: str | None = None
    user_id: str | None = None
    team_id: str | None = None
    org_id: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a hold was refused: ``budget_exceeded``, ``blocked``, ``approval_required`` or
    ``request_cost_limit``, naming the budget."""

    reason: str
    budget_id: str | None
    message: str


@dataclass(frozen=True, slots=True)
class HoldLine:
    budget_id: str
    window_index: int
    amount_nano: int
    override_id: str | None = None


@dataclass(frozen=True, slots=True)
class HoldResult:
    request_id: str
    amount_nano: int
    expires_at: datetime
    status: str
    lines: tuple[HoldLine, ...] = ()
    refusal: Refusal | None = None
    replayed: bool = False

    @property
    def ok(self) -> bool:
        return self.refusal is None


@dataclass(frozen=True, slots=True)
class Usage:
    """The usage record written when a hold settles (one per request id, ever)."""

    model: str | None = None
    provider: str | None = None
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    estimated: bool = False
    status: str = "ok"
    latency_ms: int | None = None
    ttft_ms: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    task_type: str | None = None


@dataclass(frozen=True, slots=True)
class SettleResult:
    request_id: str
    actual_nano: int
    released_nano: int
    replayed: bool = False
    late: bool = False  # the hold had expired before the settlement arrived


# --- hold, settle, void, expire --------------------------------------------------------------

_HOLD = Sql(
    "SELECT h.request_id, h.amount_nano, h.status, h.expires_at, h.actual_nano, h.model,"
    " h.key_id, h.user_id, h.team_id, h.org_id, h.tags,"
    " l.budget_id, l.window_index, l.amount_nano AS line_amount, l.override_id"
    " FROM holds h LEFT JOIN hold_lines l ON l.request_id = h.request_id"
    " WHERE h.request_id = :request_id ORDER BY l.budget_id"
)
_INSERT_HOLD = Sql(
    "INSERT INTO holds (request_id, amount_nano, status, key_id, user_id, team_id, org_id, tags,"
    " model, priority, created_at, expires_at) VALUES (:request_id, :amount_nano, 'held',"
    " :key_id, :user_id, :team_id, :org_id, :tags, :model, :priority, :now, :expires_at)"
)
_INSERT_LINE = Sql(
    "INSERT INTO hold_lines (request_id, budget_id, window_index, amount_nano, override_id)"
    " VALUES (:request_id, :budget_id, :window_index, :amount_nano, :override_id)"
)
_INSERT_ENTRY = Sql(
    "INSERT INTO ledger_entries (budget_id, window_index, request_id, kind, amount_nano,"
    " created_at) VALUES (:budget_id, :window_index, :request_id, 'usage', :amount_nano, :now)"
)
_INSERT_USAGE = Sql(
    "INSERT INTO usage_records (request_id, key_id, user_id, team_id, org_id, tags, metadata,"
    " model, provider, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens,"
    " cost_nano, estimated, status, latency_ms, ttft_ms, created_at, task_type) VALUES"
    " (:request_id, :key_id, :user_id, :team_id, :org_id, :tags, :metadata, :model, :provider,"
    " :input_tokens, :cached_input_tokens, :output_tokens, :reasoning_tokens, :cost_nano,"
    " :estimated, :status, :latency_ms, :ttft_ms, :now, :task_type)"
)
_CLOSE_HOLD = Sql(
    "UPDATE holds SET status = :status, actual_nano = :actual_nano, closed_at = :now"
    " WHERE request_id = :request_id"
)
_ANY_EXPIRED = Sql(
    "SELECT request_id FROM holds WHERE status = 'held' AND expires_at <= :now LIMIT 1"
)
_EXPIRED = Sql(
    "SELECT request_id FROM holds WHERE status = 'held' AND expires_at <= :now"
    " ORDER BY expires_at LIMIT :limit"
)


@dataclass(frozen=True, slots=True)
class _Hold:
    """A stored hold with its lines."""

    request_id: str
    amount_nano: int
    status: str
    expires_at: datetime
    actual_nano: int | None
    model: str | None
    key_id: str | None
    user_id: str | None
    team_id: str | None
    org_id: str | None
    tags: Any
    lines: tuple[HoldLine, ...]

    @property
    def keys(self) -> list[tuple[str, int]]:
        return [(line.budget_id, line.window_index) for line in self.lines]


def _load_hold(conn: Connection, request_id: str) -> _Hold | None:
    rows = list(_HOLD(conn, {"request_id": request_id}))
    if not rows:
        return None
    first = rows[0]
    lines = tuple(
        HoldLine(r.budget_id, r.window_index, r.line_amount, r.override_id)
        for r in rows
        if r.budget_id is not None
    )
    expires_at = read_time(first.expires_at)
    assert expires_at is not None
    return _Hold(
        first.request_id,
        first.amount_nano,
        first.status,
        expires_at,
        first.actual_nano,
        first.model,
        first.key_id,
        first.user_id,
        first.team_id,
        first.org_id,
        first.tags,
        lines,
    )


def _replay(hold: _Hold, charge: Charge) -> HoldResult:
    if hold.amount_nano != charge.amount_nano:
        raise Conflict(
            f"request {charge.request_id!r} already holds {_usd(hold.amount_nano)} USD; a retry "
            "must carry the same amount",
            field="request_id",
        )
    return HoldResult(
        hold.request_id, hold.amount_nano, hold.expires_at, hold.status, hold.lines, replayed=True
    )


def _refusal(
    charge: Charge, states: Sequence[BudgetState], overrides: Sequence[Override], now: datetime
) -> Refusal | None:
    restrictions = restrictions_for(
        states, priority=charge.priority, overrides=overrides, now=now, model=charge.model
    )
    if restrictions.blocked:
        why = "; ".join(restrictions.reasons)
        return Refusal("blocked", restrictions.blocking_budget, f"blocked by budget: {why}")
    if restrictions.block_non_essential and charge.priority is Priority.NON_ESSENTIAL:
        return Refusal(
            "blocked",
            None,
            "non-essential requests are blocked: " + "; ".join(restrictions.reasons),
        )
    if charge.model is not None and charge.model in restrictions.blocked_models:
        return Refusal("blocked", None, f"model {charge.model!r} is blocked by a budget")
    # A critical request with an approved override is covered by the override's allowance
    # (``fits`` below checks what is left of it) instead of the per-request caps.
    covered = charge.priority is Priority.CRITICAL and bool(restrictions.overrides_used)
    cap = restrictions.max_cost_per_request_nano
    if cap is not None and charge.amount_nano > cap and not covered:
        return Refusal(
            "request_cost_limit",
            None,
            f"request cost {_usd(charge.amount_nano)} USD exceeds the per-request limit "
            f"{_usd(cap)} USD",
        )
    approval = restrictions.require_approval_above_nano
    if approval is not None and charge.amount_nano > approval and not covered:
        return Refusal(
            "approval_required",
            None,
            f"requests above {_usd(approval)} USD need an approved override at this budget level",
        )
    fit = fits(
        states,
        charge.amount_nano,
        model=charge.model,
        priority=charge.priority,
        overrides=overrides,
        now=now,
    )
    if not fit.ok:
        state = next(s for s in states if s.spec.id == fit.failing_budget)
        return Refusal(
            "budget_exceeded",
            fit.failing_budget,
            f"budget {fit.failing_budget!r} ({state.spec.scope}) has "
            f"{_usd(state.limit_nano - state.used_nano)} USD left of {_usd(state.limit_nano)} USD; "
            f"the request needs {_usd(charge.amount_nano)} USD",
        )
    return None


def reserve(conn: Connection, charge: Charge, now: datetime) -> HoldResult:
    """Hold ``charge.amount_nano`` on every budget of the chain, or refuse without a change."""
    if charge.amount_nano < 0:
        raise InvalidInput("amount must not be negative", field="amount")
    if charge.expires_at <= now:
        raise InvalidInput("the hold would expire before it starts", field="ttl_s")
    existing = _load_hold(conn, charge.request_id)
    if existing is not None:
        return _replay(existing, charge)
    specs = budgets_repo.specs_for_scopes(conn, charge.scopes)
    if charge.model is not None:
        specs = [s for s in specs if applies_to(s, charge.model)]
    order = {scope: i for i, scope in enumerate(charge.scopes)}
    specs.sort(key=lambda s: (order.get(s.scope, len(order)), s.id))
    states = balances.lock_states(conn, specs, now)
    budget_ids = [s.spec.id for s in states]
    overrides = balances.active_overrides(conn, budget_ids, now)
    refusal = _refusal(charge, states, overrides, now)
    if refusal is not None:
        return HoldResult(
            charge.request_id, charge.amount_nano, charge.expires_at, "refused", refusal=refusal
        )

    stamp = stored_time(conn, now)
    _INSERT_HOLD(
        conn,
        {
            "request_id": charge.request_id,
            "amount_nano": charge.amount_nano,
            "key_id": charge.key_id,
            "user_id": charge.user_id,
            "team_id": charge.team_id,
            "org_id": charge.org_id,
            "tags": stored_json(list(charge.tags)),
            "model": charge.model,
            "priority": charge.priority.value,
            "now": stamp,
            "expires_at": stored_time(conn, charge.expires_at),
        },
    )
    lines = []
    for state in states:
        override = None
        if charge.amount_nano > state.limit_nano - state.used_nano:
            override = matching_override(
                overrides, state.spec, model=charge.model, priority=charge.priority, now=now
            )
        lines.append(
            HoldLine(
                state.spec.id, state.window.index, charge.amount_nano, override and override.id
            )
        )
    if lines:
        _INSERT_LINE(
            conn,
            [
                {
                    "request_id": charge.request_id,
                    "budget_id": line.budget_id,
                    "window_index": line.window_index,
                    "amount_nano": line.amount_nano,
                    "override_id": line.override_id,
                }
                for line in lines
            ],
        )
        balances.move(
            conn, [(ln.budget_id, ln.window_index) for ln in lines], 0, charge.amount_nano, now
        )
    for state, line in zip(states, lines, strict=True):
        balances.alert_crossings(conn, state, charge.amount_nano, now)
        if line.override_id is not None:
            record_audit(
                conn,
                actor=charge.key_id or charge.user_id or "api",
                action="override.used",
                target_type="override",
                target_id=line.override_id,
                details={"request_id": charge.request_id, "budget_id": state.spec.id},
                at=now,
            )
    return HoldResult(charge.request_id, charge.amount_nano, charge.expires_at, HELD, tuple(lines))


def settle(
    conn: Connection,
    request_id: str,
    actual_nano: int,
    usage: Usage | None,
    now: datetime,
    *,
    used_at: datetime | None = None,
) -> SettleResult:
    """Post the actual cost on every budget of the hold and release the rest, exactly once.
    ``used_at``: when the usage happened, if not now (usage reported after the fact)."""
    if actual_nano < 0:
        raise InvalidInput("actual cost must not be negative", field="actual_cost")
    hold = _load_hold(conn, request_id)
    if hold is None:
        raise NotFound(f"no hold for request {request_id!r}", field="request_id")
    if hold.status == SETTLED:
        if hold.actual_nano != actual_nano:
            raise Conflict(
                f"request {request_id!r} was settled at {_usd(hold.actual_nano or 0)} USD, "
                f"not {_usd(actual_nano)}",
                field="actual_cost",
            )
        return SettleResult(request_id, actual_nano, 0, replayed=True)
    if hold.status == VOIDED:
        raise Conflict(f"the hold of request {request_id!r} was voided", field="request_id")
    late = hold.status == EXPIRED or hold.expires_at <= now
    released = hold.amount_nano if hold.status == HELD else 0
    balances.move(conn, hold.keys, actual_nano, -released, now)
    stamp = stored_time(conn, now)
    if hold.lines:
        _INSERT_ENTRY(
            conn,
            [
                {
                    "budget_id": line.budget_id,
                    "window_index": line.window_index,
                    "request_id": request_id,
                    "amount_nano": actual_nano,
                    "now": stamp,
                }
                for line in hold.lines
            ],
        )
    for line in hold.lines:
        if line.override_id is not None:
            overrides_repo.add_consumed(conn, line.override_id, actual_nano)
    _record_usage(conn, hold, actual_nano, usage or Usage(model=hold.model), used_at or now)
    _CLOSE_HOLD(
        conn,
        {"status": SETTLED, "actual_nano": actual_nano, "now": stamp, "request_id": request_id},
    )
    if actual_nano > hold.amount_nano:
        _alert_overrun(conn, hold, actual_nano, now)
    return SettleResult(request_id, actual_nano, released, late=late)


def _alert_overrun(conn: Connection, hold: _Hold, actual_nano: int, now: datetime) -> None:
    for line in hold.lines:
        spec = budgets_repo.get_budget(conn, line.budget_id).spec
        states = balances.budget_states(conn, [spec], now)
        if states and states[0].used_nano > states[0].limit_nano:
            payload = {
                "request_id": hold.request_id,
                "held_nano": hold.amount_nano,
                "actual_nano": actual_nano,
            }
            balances.record_alert(
                conn, line.budget_id, line.window_index, "exhausted", "overrun", payload, now
            )


def _record_usage(
    conn: Connection, hold: _Hold, cost_nano: int, usage: Usage, now: datetime
) -> None:
    model = usage.model or hold.model
    _INSERT_USAGE(
        conn,
        {
            "request_id": hold.request_id,
            "key_id": hold.key_id,
            "user_id": hold.user_id,
            "team_id": hold.team_id,
            "org_id": hold.org_id,
            "tags": hold.tags if isinstance(hold.tags, str) else stored_json(hold.tags),
            "metadata": stored_json(usage.metadata),
            "model": model,
            "provider": usage.provider,
            "input_tokens": usage.input_tokens,
            "cached_input_tokens": usage.cached_input_tokens,
            "output_tokens": usage.output_tokens,
            "reasoning_tokens": usage.reasoning_tokens,
            "cost_nano": cost_nano,
            "estimated": int(usage.estimated),
            "status": usage.status,
            "latency_ms": usage.latency_ms,
            "ttft_ms": usage.ttft_ms,
            "now": stored_time(conn, now),
            "task_type": usage.task_type,
        },
    )


def void(conn: Connection, request_id: str, now: datetime) -> bool:
    """Release a hold without posting anything. Voiding twice changes nothing (False)."""
    hold = _load_hold(conn, request_id)
    if hold is None:
        raise NotFound(f"no hold for request {request_id!r}", field="request_id")
    if hold.status == SETTLED:
        raise Conflict(f"request {request_id!r} is already settled", field="request_id")
    if hold.status in (VOIDED, EXPIRED):
        return False
    balances.move(conn, hold.keys, 0, -hold.amount_nano, now)
    stamp = stored_time(conn, now)
    _CLOSE_HOLD(
        conn, {"status": VOIDED, "actual_nano": None, "now": stamp, "request_id": request_id}
    )
    return True


def has_expired(conn: Connection, now: datetime) -> bool:
    """Whether any hold has expired and not been swept yet (a cheap indexed read)."""
    return _ANY_EXPIRED(conn, {"now": stored_time(conn, now)}).first() is not None


def sweep_expired(conn: Connection, now: datetime, limit: int = 500) -> int:
    """Release up to ``limit`` expired holds; returns how many."""
    stamp = stored_time(conn, now)
    expired = [r.request_id for r in _EXPIRED(conn, {"now": stamp, "limit": limit})]
    if not expired:
        return 0
    placeholders, params = items("r", expired)
    lines = list(
        cached(
            "SELECT l.request_id, l.budget_id, l.window_index, l.amount_nano"  # noqa: S608
            f" FROM hold_lines l WHERE l.request_id IN {placeholders}"
        )(conn, params)
    )
    balances.lock_rows(conn, sorted({(ln.budget_id, ln.window_index) for ln in lines}))
    # Only holds still open under the lock are released (another process may have swept).
    still_open = sorted(
        r.request_id
        for r in cached(
            f"SELECT request_id FROM holds WHERE request_id IN {placeholders}"  # noqa: S608
            " AND status = 'held'"
        )(conn, params)
    )
    for request_id in still_open:
        hold_lines = [ln for ln in lines if ln.request_id == request_id]
        if hold_lines:
            keys = [(ln.budget_id, ln.window_index) for ln in hold_lines]
            balances.move(conn, keys, 0, -hold_lines[0].amount_nano, now)
        _CLOSE_HOLD(
            conn, {"status": EXPIRED, "actual_nano": None, "now": stamp, "request_id": request_id}
        )
    return len(still_open)
