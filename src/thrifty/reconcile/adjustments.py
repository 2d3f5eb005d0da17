"""Turn a discrepancy into a proposed ledger adjustment (the caller posts it, or not)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from thrifty.budgets.money import format_nano
from thrifty.reconcile.report import Discrepancy


@dataclass(frozen=True, slots=True)
class Adjustment:
    """Post ``amount_nano`` (invoice − ledger; negative: a credit) on ``day`` for the group."""

    day: date
    model: str
    account: str | None
    amount_nano: int
    kind: str  # the discrepancy's kind
    reason: str  # a human-readable line for the ledger entry


def propose_adjustment(found: Discrepancy, *, priced: bool = False) -> Adjustment | None:
    """The adjustment that makes the ledger agree with the invoice's cost, or ``None``.

    Only a cost beyond the tolerance is adjusted: ``None`` for a token mismatch whose cost
    agrees, when the invoice's cost is unknown, or when it was priced from tokens rather than
    billed (unless ``priced``: the estimate is then proposed as if billed). An unmapped model
    is proposed under the invoice's name (``Discrepancy.model_mapped`` says so); the caller
    decides whether to post it.
    """
    delta = found.delta_nano
    if delta is None or "cost" not in found.differing:
        return None
    if found.cost_source == "priced" and not priced:
        return None
    rows = ", ".join(str(row) for row in found.invoice_rows) or "none"
    where = f"{found.day.isoformat()} {found.model}" + (
        f" {found.account}" if found.account else ""
    )
    reason = (
        f"invoice reconciliation: {found.kind} on {where}, "
        f"invoice − ledger = {format_nano(delta)} USD (invoice rows {rows})"
    )
    return Adjustment(found.day, found.model, found.account, delta, found.kind, reason)


def propose_adjustments(
    found: Iterable[Discrepancy], *, priced: bool = False
) -> tuple[Adjustment, ...]:
    """:func:`propose_adjustment` of each discrepancy, those without one left out."""
    proposals = (propose_adjustment(d, priced=priced) for d in found)
    return tuple(p for p in proposals if p is not None)
