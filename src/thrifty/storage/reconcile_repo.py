"""Reconciliations against the database: the ledger's daily sums to match an invoice with,
each reconciliation stored with its report, and its adjustments posted on request.

The ledger side is ``usage_rollups`` (day grain: the same sums cost analysis reads), per UTC
day, model and — when the invoice is matched by account — one attribution (key, user, team,
organisation or provider). Adjustments are posted through ``postings.post_adjustment``: one
audited ``adjustment`` entry per budget of the chain the account names (or of ``adjust_to``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from thrifty.budgets.model import Scope, ScopeType
from thrifty.budgets.money import format_nano, settlement_nano
from thrifty.budgets.principal import DirectoryFacts, Principal, chain_scopes, charged_principal
from thrifty.errors import InvalidInput, NotFound, ThriftyError
from thrifty.pricing.catalog import TokenUsage, cost_of
from thrifty.reconcile.adjustments import Adjustment, propose_adjustments
from thrifty.reconcile.match import LedgerLine, Price, Tolerance, reconcile
from thrifty.reconcile.parse import parse_invoice
from thrifty.routing.registry import ModelRegistry
from thrifty.storage import ledger, postings
from thrifty.storage.overrides_repo import new_id
from thrifty.storage.schema import reconciliations, usage_rollups

#: ``account_by`` → the rollup column the invoice's account is matched with.
ACCOUNT_COLUMNS = {
    "key": "key_id",
    "user": "user_id",
    "team": "team_id",
    "org": "org_id",
    "provider": "provider",
}


@dataclass(frozen=True, slots=True)
class Options:
    layout: str = "auto"
    account_by: str | None = None  # None: match by day and model only
    accounts: Mapping[str, str] = field(default_factory=dict)  # invoice account → ledger id
    account_column: str | None = None  # the invoice column that names the account
    model_names: Mapping[str, str] = field(default_factory=dict)
    provider: str | None = None  # only the ledger's usage of this provider
    tolerance: Tolerance = field(default_factory=Tolerance)
    adjust_to: Scope | None = None  # who bears adjustments the account does not attribute

    def json(self) -> dict[str, Any]:
        t = self.tolerance
        return {
            "layout": self.layout,
            "account_by": self.account_by,
            "accounts": dict(self.accounts),
            "account_column": self.account_column,
            "model_names": dict(self.model_names),
            "provider": self.provider,
            "tolerance": {
                "cost_nano": t.cost_nano,
                "cost_ratio": str(t.cost_ratio),
                "tokens": t.tokens,
                "tokens_ratio": str(t.tokens_ratio),
            },
            "adjust_to": None
            if self.adjust_to is None
            else {"type": self.adjust_to.type.value, "id": self.adjust_to.id},
        }


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def ledger_lines(
    conn: Connection, first: date, last: date, *, account_by: str | None, provider: str | None
) -> list[LedgerLine]:
    """The ledger's sums per UTC day and model (and account) over ``first`` … ``last``."""
    r = usage_rollups.c
    account = r[ACCOUNT_COLUMNS[account_by]] if account_by else None
    keys = [r.bucket, r.model, *([account] if account is not None else [])]
    sums = [
        func.sum(r[name])
        for name in (
            "input_tokens",
            "cached_input_tokens",
            "output_tokens",
            "requests",
            "cost_nano",
        )
    ]
    query = (
        select(*keys, *sums)
        .where(
            r.grain == "day",
            r.bucket >= _day_start(first),
            r.bucket < _day_start(last) + timedelta(days=1),
        )
        .group_by(*keys)
    )
    if provider is not None:
        query = query.where(r.provider == provider)
    lines = []
    for row in conn.execute(query):
        bucket = row[0] if isinstance(row[0], datetime) else datetime.fromisoformat(row[0])
        who = (row[2] or None) if account is not None else None
        figures = [int(v or 0) for v in row[len(keys) :]]
        lines.append(LedgerLine(bucket.astimezone(UTC).date(), row[1] or "", who, *figures))
    return lines


def _pricer(registry: ModelRegistry) -> Price:
    """Each registered model's price in force at noon UTC of the line's day."""

    def price(model: str, day: date, input_tokens: int, cached: int, output: int) -> int | None:
        if model not in registry:
            return None
        try:
            resolved = registry.price_of(model, _day_start(day) + timedelta(hours=12)).price
        except ThriftyError:
            return None
        tokens = TokenUsage(input_tokens, output, cached_input_tokens=cached)
        return settlement_nano(cost_of(resolved, tokens))

    return price


def run(
    conn: Connection,
    text: str,
    options: Options,
    *,
    registry: ModelRegistry,
    now: datetime,
    actor: str,
) -> dict[str, Any]:
    """Parse ``text``, match it with the ledger, store the report; returns the stored record."""
    if options.account_by is not None and options.account_by not in ACCOUNT_COLUMNS:
        raise InvalidInput(
            f"account_by must be one of {', '.join(ACCOUNT_COLUMNS)}", field="account_by"
        )
    invoice = parse_invoice(text, options.layout, account_column=options.account_column)
    if invoice.first_day is None or invoice.last_day is None:
        raise InvalidInput("the invoice has no dated rows", field="invoice")
    lines = ledger_lines(
        conn,
        invoice.first_day,
        invoice.last_day,
        account_by=options.account_by,
        provider=options.provider,
    )
    report = reconcile(
        invoice,
        lines,
        model_names=options.model_names,
        account_names=options.accounts,
        accounts=options.account_by is not None,
        tolerance=options.tolerance,
        price=_pricer(registry),
    )
    proposals = propose_adjustments(report.discrepancies)
    body = report.json() | {"adjustments": [_adjustment_json(a, None) for a in proposals]}
    record = {
        "id": new_id("rec"),
        "layout": invoice.layout,
        "options": options.json(),
        "report": body,
        "created_by": actor,
        "created_at": now,
    }
    conn.execute(reconciliations.insert().values(**record))
    return _record_json(record)


def _adjustment_json(adjustment: Adjustment, request_id: str | None) -> dict[str, Any]:
    return {
        "day": adjustment.day.isoformat(),
        "model": adjustment.model,
        "account": adjustment.account,
        "amount": format_nano(adjustment.amount_nano),
        "amount_nano": adjustment.amount_nano,
        "kind": adjustment.kind,
        "reason": adjustment.reason,
        "posted": request_id is not None,
        "request_id": request_id,
    }


def _record_json(row: Mapping[str, Any]) -> dict[str, Any]:
    created, adjusted = row["created_at"], row.get("adjusted_at")
    return {
        "id": row["id"],
        "layout": row["layout"],
        "options": row["options"],
        "created_by": row["created_by"],
        "created_at": created.isoformat(),
        "adjusted_at": None if adjusted is None else adjusted.isoformat(),
        **row["report"],
    }


def get(conn: Connection, reconciliation_id: str) -> dict[str, Any]:
    row = conn.execute(
        select(reconciliations).where(reconciliations.c.id == reconciliation_id)
    ).first()
    if row is None:
        raise NotFound(
            f"reconciliation {reconciliation_id!r} does not exist", field="reconciliation_id"
        )
    return _record_json(dict(row._mapping))


def list_recent(conn: Connection, limit: int = 50) -> list[dict[str, Any]]:
    query = select(reconciliations).order_by(reconciliations.c.created_at.desc()).limit(limit)
    out = []
    for row in conn.execute(query):
        full = _record_json(dict(row._mapping))
        out.append(
            {
                k: full[k]
                for k in (
                    "id",
                    "layout",
                    "created_by",
                    "created_at",
                    "adjusted_at",
                    "first_day",
                    "last_day",
                    "totals",
                    "counts",
                )
            }
        )
    return out


_NOBODY = Principal(None, None, None, None)  # an adjustment nothing attributes: no budget


def _principal(account: str | None, options: Options, facts: DirectoryFacts) -> Principal | None:
    by = options.account_by
    if account and by in ("key", "user", "team", "org"):
        ids = {f"{by}_id": account}
        try:
            return charged_principal(facts, **ids, field="account")
        except InvalidInput:  # not in the directory (any more): attributed all the same
            blank = {"key_id": None, "user_id": None, "team_id": None, "org_id": None}
            return Principal(**(blank | ids))  # type: ignore[arg-type]
    scope = options.adjust_to
    if scope is None:
        return None
    if scope.type is ScopeType.TAG:
        return charged_principal(facts, tags=[scope.id], field="adjust_to")
    name = {
        ScopeType.KEY: "key_id",
        ScopeType.USER: "user_id",
        ScopeType.TEAM: "team_id",
        ScopeType.ORGANIZATION: "org_id",
    }[scope.type]
    return charged_principal(facts, **{name: scope.id}, field="adjust_to")


def post_adjustments(
    conn: Connection,
    reconciliation_id: str,
    *,
    facts: DirectoryFacts,
    now: datetime,
    actor: str,
) -> dict[str, Any]:
    """Post every proposed adjustment of a reconciliation once (posting again changes
    nothing); returns the updated record."""
    row = conn.execute(
        select(reconciliations).where(reconciliations.c.id == reconciliation_id).with_for_update()
    ).first()
    if row is None:
        raise NotFound(
            f"reconciliation {reconciliation_id!r} does not exist", field="reconciliation_id"
        )
    options_json = dict(row.options)
    adjust_to = options_json.get("adjust_to")
    options = Options(
        account_by=options_json.get("account_by"),
        provider=options_json.get("provider"),
        adjust_to=None
        if adjust_to is None
        else Scope(ScopeType(adjust_to["type"]), adjust_to["id"]),
    )
    report = dict(row.report)
    posted = []
    for i, item in enumerate(report.get("adjustments", [])):
        request_id = f"recon:{reconciliation_id}:{i}"
        principal = _principal(item["account"], options, facts) or _NOBODY
        charge = ledger.Charge(
            request_id=request_id,
            scopes=chain_scopes(principal),
            amount_nano=0,
            expires_at=now,
            model=item["model"][:200],  # the column's width; an export may name anything
            key_id=principal.key_id,
            user_id=principal.user_id,
            team_id=principal.team_id,
            org_id=principal.org_id,
            tags=principal.tags,
        )
        day = date.fromisoformat(item["day"])
        used_at = _day_start(day) + timedelta(hours=12)
        details = {
            "reconciliation_id": reconciliation_id,
            "kind": item["kind"],
            "reason": item["reason"],
            "account": item["account"],
            "day": item["day"],
        }
        provider = item["account"] if options.account_by == "provider" else options.provider
        postings.post_adjustment(
            conn,
            charge,
            int(item["amount_nano"]),
            provider=provider,
            used_at=used_at,
            now=now,
            actor=actor,
            details=details,
        )
        posted.append(item | {"posted": True, "request_id": request_id})
    report["adjustments"] = posted
    conn.execute(
        reconciliations.update()
        .where(reconciliations.c.id == reconciliation_id)
        .values(report=report, adjusted_at=row.adjusted_at or now)
    )
    return get(conn, reconciliation_id)
