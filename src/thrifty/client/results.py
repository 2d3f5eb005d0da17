"""What the client returns about estimates, selections and holds, and how amounts are read.

Frozen dataclasses read from the API's JSON, money as ``Decimal``; each keeps the JSON it was
read from as ``raw`` (fields the dataclass does not name are there). The API writes USD
amounts as decimal strings; they are read exactly, never through float. Budget results are
in :mod:`thrifty.client.budgets`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from thrifty.client.errors import ThriftyError

Json = Mapping[str, Any]


def malformed(what: str) -> ThriftyError:
    return ThriftyError(f"unexpected answer from Thrifty: {what}")


def usd(value: object, *, name: str = "amount") -> Decimal:
    """An API amount (``"0.0125"``) as an exact ``Decimal``; a float is refused."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise malformed(f"{name} is {value!r}, not a decimal string")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise malformed(f"{name} is {value!r}, not a decimal string") from None
    if not amount.is_finite():
        raise malformed(f"{name} is {value!r}")
    return amount


def usd_or_none(value: object, *, name: str = "amount") -> Decimal | None:
    return None if value is None else usd(value, name=name)


def timestamp(value: object) -> datetime | None:
    """An API time (ISO 8601, aware) as a ``datetime``; None when absent."""
    return datetime.fromisoformat(value) if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class ModelEstimate:
    model: str
    input_tokens: int
    output_tokens: int
    cost: Decimal
    worst_case_output_tokens: int
    worst_case_cost: Decimal
    eligible: bool
    reason: str | None  # why the model cannot serve the request
    exact_input: bool
    price_source: str | None
    raw: Json = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Json) -> ModelEstimate:
        return cls(
            model=str(data["model"]),
            input_tokens=int(data["estimatedInputTokens"]),
            output_tokens=int(data["estimatedOutputTokens"]),
            cost=usd(data["estimatedCost"], name="estimatedCost"),
            worst_case_output_tokens=int(data["worstCaseOutputTokens"]),
            worst_case_cost=usd(data["worstCaseCost"], name="worstCaseCost"),
            eligible=bool(data.get("eligible")),
            reason=data.get("reason"),
            exact_input=bool(data.get("exactInputTokens")),
            price_source=data.get("priceSource"),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class CostEstimate:
    """A request's estimated cost on its model (first) and each alternative."""

    estimates: tuple[ModelEstimate, ...]
    recommendation: str | None  # the cheapest model that can serve it
    priced_at: datetime | None
    raw: Json = field(repr=False, compare=False)

    def of(self, model: str) -> ModelEstimate:
        """The estimate on ``model`` (``KeyError`` when it was not estimated)."""
        for estimate in self.estimates:
            if estimate.model == model:
                return estimate
        raise KeyError(model)

    @classmethod
    def from_json(cls, data: Json) -> CostEstimate:
        return cls(
            estimates=tuple(ModelEstimate.from_json(e) for e in data.get("estimates") or ()),
            recommendation=data.get("recommendation"),
            priced_at=timestamp(data.get("pricedAt")),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class Alternative:
    """A candidate that lost the selection, and why."""

    model: str
    reason: str
    eligible: bool
    estimated_cost: Decimal

    @classmethod
    def from_json(cls, data: Json) -> Alternative:
        return cls(
            model=str(data["model"]),
            reason=str(data.get("reason") or ""),
            eligible=bool(data.get("eligible")),
            estimated_cost=usd(data["estimatedCost"], name="estimatedCost"),
        )


@dataclass(frozen=True, slots=True)
class Selection:
    """The model the gateway would choose for a request now, for the caller's chain."""

    model: str
    chain: tuple[str, ...]  # the model, then its fallbacks in order
    strategy: str
    reason: str
    task_type: str | None
    estimated_cost: Decimal | None
    worst_case_cost: Decimal | None
    quality: float | None
    model_downgrading: str
    restrictions: tuple[str, ...]
    alternatives: tuple[Alternative, ...]
    raw: Json = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Json) -> Selection:
        profile = data.get("profile") or {}
        quality = data.get("quality")
        return cls(
            model=str(data["selectedModel"]),
            chain=tuple(data.get("chain") or (data["selectedModel"],)),
            strategy=str(data.get("strategy")),
            reason=str(data.get("reason") or ""),
            task_type=profile.get("taskType"),
            estimated_cost=usd_or_none(data.get("estimatedCost"), name="estimatedCost"),
            worst_case_cost=usd_or_none(data.get("worstCaseCost"), name="worstCaseCost"),
            quality=None if quality is None else float(quality),
            model_downgrading=str(data.get("modelDowngrading") or "none"),
            restrictions=tuple(data.get("restrictions") or ()),
            alternatives=tuple(Alternative.from_json(a) for a in data.get("alternatives") or ()),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class Hold:
    """A worst-case amount held on every budget of a chain until settled, voided or expired."""

    request_id: str
    status: str
    amount: Decimal
    expires_at: datetime | None
    budget_ids: tuple[str, ...]
    replayed: bool  # the same request id was already held (a retry)
    raw: Json = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Json) -> Hold:
        return cls(
            request_id=str(data["request_id"]),
            status=str(data["status"]),
            amount=usd(data["amount"]),
            expires_at=timestamp(data.get("expires_at")),
            budget_ids=tuple(str(b["budget_id"]) for b in data.get("budgets") or ()),
            replayed=bool(data.get("replayed")),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class Settlement:
    """A settled hold: ``actual_cost`` posted, ``released`` returned to the budgets."""

    request_id: str
    actual_cost: Decimal
    released: Decimal
    replayed: bool  # settled before, with the same cost
    late: bool  # the hold had expired: the cost was posted all the same
    raw: Json = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Json) -> Settlement:
        return cls(
            request_id=str(data["request_id"]),
            actual_cost=usd(data["actual_cost"], name="actual_cost"),
            released=usd(data["released"], name="released"),
            replayed=bool(data.get("replayed")),
            late=bool(data.get("late")),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class Usage:
    """The usage a settlement records. ``input_tokens`` includes ``cached_input_tokens``;
    ``output_tokens`` includes ``reasoning_tokens`` (as providers report them)."""

    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    reasoning_tokens: int = 0
    provider: str | None = None
    latency_ms: int | None = None
    task_type: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_input_tokens": self.cached_input_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "metadata": dict(self.metadata),
        }
        for name in ("model", "provider", "latency_ms", "task_type"):
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        return body
