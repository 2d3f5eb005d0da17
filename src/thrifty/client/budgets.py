"""What the client returns about budgets: their specs, statuses, and the caller's own chain.

Read from the API's JSON with :func:`thrifty.client.results.usd` (exact ``Decimal``); each
keeps the JSON it was read from as ``raw``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from thrifty.client.errors import NotFound
from thrifty.client.results import Json, timestamp, usd, usd_or_none

#: Budget statuses from best to worst.
STATUS_ORDER = ("normal", "warning", "critical", "exceeded")


def _day(value: object) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class Scope:
    """What a budget is for: ``organization``, ``team``, ``user``, ``key`` or ``tag``, and id."""

    type: str
    id: str

    def __str__(self) -> str:
        return f"{self.type}:{self.id}"

    @classmethod
    def from_json(cls, data: Json) -> Scope:
        return cls(str(data["type"]), str(data["id"]))


@dataclass(frozen=True, slots=True)
class Budget:
    id: str
    name: str
    scope: Scope
    limit: Decimal
    period: str
    mode: str
    start_date: date | None
    end_date: date | None
    timezone: str
    models: tuple[str, ...] | None
    raw: Json = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Json) -> Budget:
        models = data.get("models")
        return cls(
            id=str(data["id"]),
            name=str(data.get("name") or ""),
            scope=Scope.from_json(data["scope"]),
            limit=usd(data["limit"], name="limit"),
            period=str(data.get("period")),
            mode=str(data.get("mode")),
            start_date=_day(data.get("start_date")),
            end_date=_day(data.get("end_date")),
            timezone=str(data.get("timezone") or "UTC"),
            models=None if models is None else tuple(models),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """One budget now: ``spent`` (posted) plus ``held`` never exceeds ``limit`` when hard."""

    budget_id: str
    name: str
    scope: Scope
    mode: str
    active: bool
    limit: Decimal
    spent: Decimal
    held: Decimal
    remaining: Decimal
    percent_used: Decimal
    status: str  # normal, warning, critical or exceeded
    days_remaining: Decimal | None
    burn_rate_per_day: Decimal
    projected_total: Decimal
    alerts: tuple[Json, ...]
    period_start: datetime | None
    period_end: datetime | None
    raw: Json = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Json) -> BudgetStatus:
        period = data.get("period") or {}
        days = data.get("daysRemaining")
        return cls(
            budget_id=str(data["budgetId"]),
            name=str(data.get("name") or ""),
            scope=Scope.from_json(data["scope"]),
            mode=str(data.get("mode")),
            active=bool(data.get("active")),
            limit=usd(data["limit"], name="limit"),
            spent=usd(data["currentSpend"], name="currentSpend"),
            held=usd(data["held"], name="held"),
            remaining=usd(data["remaining"], name="remaining"),
            percent_used=usd(data["percentUsed"], name="percentUsed"),
            status=str(data["status"]),
            days_remaining=usd_or_none(days, name="daysRemaining"),
            burn_rate_per_day=usd(data["burnRate"], name="burnRate"),
            projected_total=usd(data["projectedTotal"], name="projectedTotal"),
            alerts=tuple(data.get("activeAlerts") or ()),
            period_start=timestamp(period.get("start")),
            period_end=timestamp(period.get("end")),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class Restrictions:
    """What the budgets of a scope impose on requests now (graduated thresholds)."""

    model_downgrading: str  # none, prefer or enforce
    blocked_models: tuple[str, ...]
    require_approval_above: Decimal | None
    max_cost_per_request: Decimal | None
    block_non_essential: bool
    blocked: bool
    blocking_budget: str | None
    reasons: tuple[str, ...]

    @classmethod
    def from_json(cls, data: Json) -> Restrictions:
        return cls(
            model_downgrading=str(data.get("modelDowngrading") or "none"),
            blocked_models=tuple(data.get("blockedModels") or ()),
            require_approval_above=usd_or_none(data.get("requireApprovalAbove")),
            max_cost_per_request=usd_or_none(data.get("maxCostPerRequest")),
            block_non_essential=bool(data.get("blockNonEssential")),
            blocked=bool(data.get("blocked")),
            blocking_budget=data.get("blockingBudget"),
            reasons=tuple(data.get("reasons") or ()),
        )


@dataclass(frozen=True, slots=True)
class ScopeStatus:
    """Every budget of one scope, the worst of their statuses and the restrictions."""

    scope: Scope
    budgets: tuple[BudgetStatus, ...]
    status: str
    restrictions: Restrictions
    raw: Json = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Json) -> ScopeStatus:
        return cls(
            scope=Scope.from_json(data["scope"]),
            budgets=tuple(BudgetStatus.from_json(b) for b in data.get("budgets") or ()),
            status=str(data.get("aggregateStatus") or "normal"),
            restrictions=Restrictions.from_json(data.get("costRestrictions") or {}),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class Identity:
    """Whose chain an API key's requests are charged to: key, user, team, org, the key's tags."""

    key_id: str
    key_name: str
    user_id: str
    team_id: str
    org_id: str
    tags: tuple[str, ...]

    @property
    def scopes(self) -> tuple[Scope, ...]:
        """The chain's scopes in the gateway's order: key, user, team, organisation, tags."""
        return (
            Scope("key", self.key_id),
            Scope("user", self.user_id),
            Scope("team", self.team_id),
            Scope("organization", self.org_id),
            *(Scope("tag", tag) for tag in self.tags),
        )


@dataclass(frozen=True, slots=True)
class ChainStatus:
    """The budgets governing an API key's own chain, scope by scope (key first)."""

    identity: Identity
    scopes: tuple[ScopeStatus, ...]

    @property
    def budgets(self) -> tuple[BudgetStatus, ...]:
        return tuple(budget for scope in self.scopes for budget in scope.budgets)

    @property
    def remaining(self) -> Decimal | None:
        """The least any active budget of the chain has left (None: no active budget)."""
        left = [b.remaining for b in self.budgets if b.active]
        return min(left) if left else None

    @property
    def status(self) -> str:
        """The worst status of the chain's budgets (``normal`` without budgets)."""
        return max((s.status for s in self.scopes), key=STATUS_ORDER.index, default=STATUS_ORDER[0])

    @property
    def blocked(self) -> bool:
        """Whether a budget of the chain blocks every request now."""
        return any(s.restrictions.blocked for s in self.scopes)


def budgets_from_json(data: Json) -> list[Budget]:
    return [Budget.from_json(b) for b in data.get("budgets") or ()]


def identity_from_json(data: Json) -> Identity:
    """``GET /api/v1/me`` of an API key (the admin key has no chain)."""
    key = data.get("key")
    if data.get("admin") or not isinstance(key, dict):
        raise NotFound("the admin key has no chain of its own: use scope_status")
    return Identity(
        key_id=str(key["id"]),
        key_name=str(key.get("name") or ""),
        user_id=str(data["user_id"]),
        team_id=str(data["team_id"]),
        org_id=str(data["org_id"]),
        tags=tuple(str(t) for t in data.get("tags") or ()),
    )
