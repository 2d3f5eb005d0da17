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

from sqlalchemy import Connection, insert, select, update

from thrifty.budgets.fit import fits
from thrifty.budgets.model import BudgetState, Priority, Scope, applies_to
from thrifty.budgets.money import format_nano
from thrifty.budgets.overrides import Override, matching_override
from thrifty.budgets.periods import period_window
from thrifty.budgets.policy import restrictions_for
from thrifty.errors import Conflict, InvalidInput, NotFound
from thrifty.storage import balances, budgets_repo, overrides_repo
from thrifty.storage.audit_repo import record_audit
from thrifty.storage.schema import (
    hold_lines,
    holds,
    ledger_entries,
    usage_records,
)

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


@dataclass(frozen=True, slots=True)
class SettleResult:
    request_id: str
    actual_nano: int
    released_nano: int
    replayed: bool = False
    late: bool = False  # the hold had expired before the settlement arrived


# --- hold, settle, void, expire --------------------------------------------------------------


def _existing_hold(conn: Connection, request_id: str) -> Any:
    return conn.execute(select(holds).where(holds.c.request_id == request_id)).first()


def _lines(conn: Connection, request_id: str) -> list[Any]:
    return list(
        conn.execute(
            select(hold_lines)
            .where(hold_lines.c.request_id == request_id)
            .order_by(hold_lines.c.budget_id)
        )
    )


def _replay(conn: Connection, row: Any, charge: Charge) -> HoldResult:
    if row.amount_nano != charge.amount_nano:
        raise Conflict(
            f"request {charge.request_id!r} already holds {_usd(row.amount_nano)} USD; a retry "
            "must carry the same amount",
            field="request_id",
        )
    lines = tuple(
        HoldLine(r.budget_id, r.window_index, r.amount_nano, r.override_id)
        for r in _lines(conn, charge.request_id)
    )
    return HoldResult(
        row.request_id, row.amount_nano, row.expires_at, row.status, lines, replayed=True
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
    existing = _existing_hold(conn, charge.request_id)
    if existing is not None:
        return _replay(conn, existing, charge)
    specs = budgets_repo.specs_for_scopes(conn, charge.scopes)
    if charge.model is not None:
        specs = [s for s in specs if applies_to(s, charge.model)]
    for spec in specs:
        window = period_window(spec.period, now)
        if window is not None:
            balances.ensure_balance(conn, spec, window, now)
    order = {scope: i for i, scope in enumerate(charge.scopes)}
    specs.sort(key=lambda s: (order.get(s.scope, len(order)), s.id))
    states = balances.lock_states(conn, specs, now)
    overrides = overrides_repo.active_overrides(conn, [s.spec.id for s in states], now)
    refusal = _refusal(charge, states, overrides, now)
    if refusal is not None:
        return HoldResult(
            charge.request_id, charge.amount_nano, charge.expires_at, "refused", refusal=refusal
        )

    conn.execute(
        insert(holds).values(
            request_id=charge.request_id,
            amount_nano=charge.amount_nano,
            status=HELD,
            key_id=charge.key_id,
            user_id=charge.user_id,
            team_id=charge.team_id,
            org_id=charge.org_id,
            tags=list(charge.tags),
            model=charge.model,
            priority=charge.priority.value,
            created_at=now,
            expires_at=charge.expires_at,
        )
    )
    lines = []
    for state in states:
        override = matching_override(
            overrides, state.spec, model=charge.model, priority=charge.priority, now=now
        )
        used_override = (
            override if charge.amount_nano > state.limit_nano - state.used_nano else None
        )
        line = HoldLine(
            state.spec.id,
            state.window.index,
            charge.amount_nano,
            used_override.id if used_override else None,
        )
        lines.append(line)
        conn.execute(
            insert(hold_lines).values(
                request_id=charge.request_id,
                budget_id=line.budget_id,
                window_index=line.window_index,
                amount_nano=line.amount_nano,
                override_id=line.override_id,
            )
        )
        balances.move(
            conn, line.budget_id, line.window_index, posted=0, held=charge.amount_nano, now=now
        )
        balances.alert_crossings(conn, state, charge.amount_nano, now)
        if used_override is not None:
            record_audit(
                conn,
                actor=charge.key_id or charge.user_id or "api",
                action="override.used",
                target_type="override",
                target_id=used_override.id,
                details={"request_id": charge.request_id, "budget_id": state.spec.id},
                at=now,
            )
    return HoldResult(charge.request_id, charge.amount_nano, charge.expires_at, HELD, tuple(lines))


def _release(conn: Connection, request_id: str, lines: Sequence[Any], now: datetime) -> None:
    for line in lines:
        balances.move(
            conn, line.budget_id, line.window_index, posted=0, held=-line.amount_nano, now=now
        )


def settle(
    conn: Connection, request_id: str, actual_nano: int, usage: Usage | None, now: datetime
) -> SettleResult:
    """Post the actual cost on every budget of the hold and release the rest, exactly once."""
    if actual_nano < 0:
        raise InvalidInput("actual cost must not be negative", field="actual_cost")
    row = _existing_hold(conn, request_id)
    if row is None:
        raise NotFound(f"no hold for request {request_id!r}", field="request_id")
    if row.status == SETTLED:
        if row.actual_nano != actual_nano:
            raise Conflict(
                f"request {request_id!r} was settled at {_usd(row.actual_nano)} USD, "
                f"not {_usd(actual_nano)}",
                field="actual_cost",
            )
        return SettleResult(request_id, actual_nano, 0, replayed=True)
    if row.status == VOIDED:
        raise Conflict(f"the hold of request {request_id!r} was voided", field="request_id")
    lines = _lines(conn, request_id)
    late = row.status == EXPIRED or row.expires_at <= now
    if row.status == HELD:
        _release(conn, request_id, lines, now)
    for line in lines:
        balances.move(conn, line.budget_id, line.window_index, actual_nano, 0, now)
        conn.execute(
            insert(ledger_entries).values(
                budget_id=line.budget_id,
                window_index=line.window_index,
                request_id=request_id,
                kind="usage",
                amount_nano=actual_nano,
                created_at=now,
            )
        )
        if line.override_id is not None:
            overrides_repo.add_consumed(conn, line.override_id, actual_nano)
    _record_usage(conn, row, actual_nano, usage or Usage(model=row.model), now)
    conn.execute(
        update(holds)
        .where(holds.c.request_id == request_id)
        .values(status=SETTLED, actual_nano=actual_nano, closed_at=now)
    )
    if actual_nano > row.amount_nano:
        _alert_overrun(conn, lines, row, actual_nano, now)
    return SettleResult(
        request_id, actual_nano, row.amount_nano if row.status == HELD else 0, late=late
    )


def _alert_overrun(
    conn: Connection, lines: Sequence[Any], row: Any, actual_nano: int, now: datetime
) -> None:
    for line in lines:
        spec = budgets_repo.get_budget(conn, line.budget_id).spec
        states = balances.budget_states(conn, [spec], now)
        if states and states[0].used_nano > states[0].limit_nano:
            payload = {
                "request_id": row.request_id,
                "held_nano": row.amount_nano,
                "actual_nano": actual_nano,
            }
            balances.record_alert(
                conn, line.budget_id, line.window_index, "exhausted", "overrun", payload, now
            )


def _record_usage(conn: Connection, hold: Any, cost_nano: int, usage: Usage, now: datetime) -> None:
    conn.execute(
        insert(usage_records).values(
            request_id=hold.request_id,
            key_id=hold.key_id,
            user_id=hold.user_id,
            team_id=hold.team_id,
            org_id=hold.org_id,
            tags=hold.tags,
            metadata=usage.metadata,
            model=usage.model or hold.model,
            provider=usage.provider,
            input_tokens=usage.input_tokens,
            cached_input_tokens=usage.cached_input_tokens,
            output_tokens=usage.output_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            cost_nano=cost_nano,
            estimated=int(usage.estimated),
            status=usage.status,
            latency_ms=usage.latency_ms,
            ttft_ms=usage.ttft_ms,
            created_at=now,
        )
    )


def void(conn: Connection, request_id: str, now: datetime) -> bool:
    """Release a hold without posting anything. Voiding twice changes nothing (False)."""
    row = _existing_hold(conn, request_id)
    if row is None:
        raise NotFound(f"no hold for request {request_id!r}", field="request_id")
    if row.status == SETTLED:
        raise Conflict(f"request {request_id!r} is already settled", field="request_id")
    if row.status in (VOIDED, EXPIRED):
        return False
    _release(conn, request_id, _lines(conn, request_id), now)
    conn.execute(
        update(holds).where(holds.c.request_id == request_id).values(status=VOIDED, closed_at=now)
    )
    return True


def has_expired(conn: Connection, now: datetime) -> bool:
    """Whether any hold has expired and not been swept yet (a cheap indexed read)."""
    query = select(holds.c.request_id).where(holds.c.status == HELD, holds.c.expires_at <= now)
    return conn.execute(query.limit(1)).first() is not None


def sweep_expired(conn: Connection, now: datetime, limit: int = 500) -> int:
    """Release up to ``limit`` expired holds; returns how many."""
    expired = [
        r.request_id
        for r in conn.execute(
            select(holds.c.request_id)
            .where(holds.c.status == HELD, holds.c.expires_at <= now)
            .order_by(holds.c.expires_at)
            .limit(limit)
        )
    ]
    if not expired:
        return 0
    lines = list(
        conn.execute(
            select(hold_lines)
            .where(hold_lines.c.request_id.in_(expired))
            .order_by(hold_lines.c.budget_id)
        )
    )
    balances.lock_rows(conn, sorted({(line.budget_id, line.window_index) for line in lines}))
    # Only holds still open under the lock are released (another process may have swept).
    still_open = {
        r.request_id
        for r in conn.execute(
            select(holds.c.request_id).where(
                holds.c.request_id.in_(expired), holds.c.status == HELD
            )
        )
    }
    for line in lines:
        if line.request_id in still_open:
            balances.move(
                conn, line.budget_id, line.window_index, posted=0, held=-line.amount_nano, now=now
            )
    if still_open:
        conn.execute(
            update(holds)
            .where(holds.c.request_id.in_(sorted(still_open)), holds.c.status == HELD)
            .values(status=EXPIRED, closed_at=now)
        )
    return len(still_open)
