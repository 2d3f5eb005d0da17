"""``model-cost-update``: new prices of registered models, each with the date it takes effect.
A price never rewrites history: requests before ``effective_from`` keep the price they ran at.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from thrifty.config.schema import Money
from thrifty.errors import InvalidInput
from thrifty.pricing.prices import PricePoint, PriceSource, PriceSpec
from thrifty.routing.registry import ModelRegistry
from thrifty.storage import models_repo


class NewPrice(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: Annotated[str, Field(min_length=1, max_length=200)]
    input_per_mtok: Money
    output_per_mtok: Money
    cached_input_per_mtok: Money | None = None
    cache_write_per_mtok: Money | None = None
    effective_from: AwareDatetime


class PriceUpdateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Annotated[str, Field(min_length=1, max_length=200)]
    prices: Annotated[list[NewPrice], Field(min_length=1, max_length=1000)]


def add_prices(
    conn: Connection, body: PriceUpdateBody, *, registry: ModelRegistry, now: datetime
) -> dict[str, Any]:
    for i, price in enumerate(body.prices):
        if price.model not in registry:
            raise InvalidInput(f"model {price.model!r} is not registered",
                               field=f"prices.{i}.model")  # fmt: skip
        spec = PriceSpec(price.input_per_mtok, price.output_per_mtok,
                         price.cached_input_per_mtok, price.cache_write_per_mtok)  # fmt: skip
        point = PricePoint(price.effective_from, spec, PriceSource.WEBHOOK)
        models_repo.add_price(conn, price.model, point, now)
    return {"prices": len(body.prices),
            "models": sorted({p.model for p in body.prices})}  # fmt: skip
