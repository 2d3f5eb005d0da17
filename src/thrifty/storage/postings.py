"""Spend the gateway did not hold for: usage that happened elsewhere (the ``cost-data``
webhook) and reconciliation adjustments.

Both are already spent, so neither is ever refused: they are posted on every budget of their
chain in the period window of the moment they happened, cross thresholds (and alert) like any
settlement, and are idempotent by request id. Usage from elsewhere goes through the ledger's
own settlement (a zero hold, settled at once), so it is counted exactly like gateway traffic.
An adjustment (either sign) is a ``ledger_entries`` row of kind ``adjustment`` per budget, with
a usage record of status ``adjustment`` (spend, not a request) and an audit entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select

from thrifty.budgets.model import Scope, applies_to
from thrifty.storage import balances, budgets_repo, ledger
from thrifty.storage.audit_repo import record_audit
from thrifty.storage.balances import insert_ignore
from thrifty.storage.rollups import ADJUSTMENT
from thrifty.storage.schema import hold_lines, holds, ledger_entries, usage_records

_OPEN_FOR = timedelta(minutes=10)  # the zero hold is settled in the same transaction


def post_usage(
    conn: Connection,
    charge: ledger.Charge,
    actual_nano: int,
    usage: ledger.Usage,
    *,
    used_at: datetime,
    now: datetime,
) -> ledger.SettleResult:
    """Record usage of ``charge.request_id`` that happened at ``used_at``; a repeat with the
    same cost is a replay, with another cost a ``Conflict``."""
    known = conn.execute(
        select(holds.c.request_id).where(holds.c.request_id == charge.request_id)
    ).first()
    if known is None:
        states = _lock_chain(conn, charge.scopes, charge.model, used_at)
        conn.execute(
            insert(holds).values(
                request_id=charge.request_id, amount_nano=0, status=balances.HELD,
                key_id=charge.key_id, user_id=charge.user_id, team_id=charge.team_id,
                org_id=charge.org_id, tags=list(charge.tags), model=charge.model,
                priority=charge.priority.value, created_at=now, expires_at=now + _OPEN_FOR,
            )
        )  # fmt: skip
        if states:
            conn.execute(
                insert(hold_lines),
                [{"request_id": charge.request_id, "budget_id": s.spec.id,
                  "window_index": s.window.index, "amount_nano": 0, "override_id": None}
                 for s in states],
            )  # fmt: skip
        for state in states:
            balances.alert_crossings(conn, state, actual_nano, now)
    return ledger.settle(conn, charge.request_id, actual_nano, usage, now, used_at=used_at)


def _lock_chain(
    conn: Connection, scopes: Sequence[Scope], model: str | None, at: datetime
) -> list[Any]:
    specs = budgets_repo.specs_for_scopes(conn, scopes)
    if model is not None:
        specs = [s for s in specs if applies_to(s, model)]
    specs.sort(key=lambda s: s.id)
    return balances.lock_states(conn, specs, at)


def post_adjustment(
    conn: Connection,
    charge: ledger.Charge,
    amount_nano: int,
    *,
    provider: str | None,
    used_at: datetime,
    now: datetime,
    actor: str,
    details: dict[str, Any],
) -> bool:
    """Post ``amount_nano`` (either sign) on the chain's budgets as of ``used_at``; False when
    this request id was posted before (nothing changes)."""
    record = {
        "request_id": charge.request_id, "key_id": charge.key_id, "user_id": charge.user_id,
        "team_id": charge.team_id, "org_id": charge.org_id, "tags": list(charge.tags),
        "metadata": details, "model": charge.model, "provider": provider, "input_tokens": 0,
        "cached_input_tokens": 0, "output_tokens": 0, "reasoning_tokens": 0,
        "cost_nano": amount_nano, "estimated": 0, "status": ADJUSTMENT, "created_at": used_at,
    }  # fmt: skip
    if not insert_ignore(conn, usage_records, record, ["request_id"]):
        return False
    states = _lock_chain(conn, charge.scopes, charge.model, used_at)
    for state in states:
        entry = {"budget_id": state.spec.id, "window_index": state.window.index,
                 "request_id": charge.request_id, "kind": ADJUSTMENT,
                 "amount_nano": amount_nano, "created_at": now}  # fmt: skip
        insert_ignore(conn, ledger_entries, entry, ["request_id", "budget_id", "kind"])
        if amount_nano > 0:
            balances.alert_crossings(conn, state, amount_nano, now)
    keys = [(s.spec.id, s.window.index) for s in states]
    balances.move(conn, keys, amount_nano, 0, now, locked=True)
    record_audit(
        conn, actor=actor, action="ledger.adjusted", target_type="request",
        target_id=charge.request_id,
        details={**details, "amount_nano": amount_nano, "budgets": [k[0] for k in keys]},
        at=now,
    )  # fmt: skip
    return True
