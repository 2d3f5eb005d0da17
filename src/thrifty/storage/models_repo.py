"""Persistence of the model registry and its dated price points."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from thrifty.errors import Conflict, NotFound
from thrifty.pricing.prices import PricePoint, PriceSource, PriceSpec
from thrifty.routing.models import ModelProfile
from thrifty.routing.tasks import Capability
from thrifty.storage.cache import bump_version
from thrifty.storage.schema import model_prices, models

REGISTRY = "models"


def _row_values(profile: ModelProfile) -> dict[str, Any]:
    return {
        "provider": profile.provider,
        "upstream_model": profile.upstream_model,
        "context_window": profile.context_window,
        "max_output_tokens": profile.max_output_tokens,
        "capabilities": sorted(c.value for c in profile.capabilities),
        "quality": dict(profile.quality),
        "catalog_id": profile.catalog_id,
        "fallbacks": list(profile.fallbacks),
    }


def _profile(row: Any) -> ModelProfile:
    return ModelProfile(
        id=row.id,
        provider=row.provider,
        upstream_model=row.upstream_model,
        context_window=row.context_window,
        max_output_tokens=row.max_output_tokens,
        capabilities=frozenset(Capability(c) for c in row.capabilities),
        quality=dict(row.quality),
        catalog_id=row.catalog_id,
        fallbacks=tuple(row.fallbacks or ()),
    )


def load_profiles(conn: Connection) -> list[ModelProfile]:
    return [_profile(row) for row in conn.execute(select(models).order_by(models.c.id))]


def model_source(conn: Connection, model_id: str) -> str | None:
    return conn.execute(select(models.c.source).where(models.c.id == model_id)).scalar()


def load_price_points(conn: Connection) -> dict[str, list[PricePoint]]:
    points: dict[str, list[PricePoint]] = defaultdict(list)
    for row in conn.execute(select(model_prices).order_by(model_prices.c.id)):
        spec = PriceSpec(
            row.input_per_mtok,
            row.output_per_mtok,
            row.cached_input_per_mtok,
            row.cache_write_per_mtok,
        )
        points[row.model_id].append(PricePoint(row.effective_from, spec, PriceSource(row.source)))
    return dict(points)


def insert_model(
    conn: Connection, profile: ModelProfile, source: str, now: datetime, price: PricePoint | None
) -> None:
    if model_source(conn, profile.id) is not None:
        raise Conflict(f"model {profile.id!r} already exists", field="id")
    values = _row_values(profile) | {"id": profile.id, "source": source}
    conn.execute(insert(models).values(**values, created_at=now, updated_at=now))
    if price is not None:
        add_price(conn, profile.id, price, now)
    bump_version(conn, REGISTRY)


def update_model(
    conn: Connection, profile: ModelProfile, now: datetime, price: PricePoint | None
) -> None:
    result = conn.execute(
        update(models)
        .where(models.c.id == profile.id)
        .values(**_row_values(profile), updated_at=now)
    )
    if result.rowcount == 0:
        raise NotFound(f"model {profile.id!r} is not registered", field="id")
    if price is not None:
        add_price(conn, profile.id, price, now)
    bump_version(conn, REGISTRY)


def delete_model(conn: Connection, model_id: str) -> None:
    conn.execute(delete(model_prices).where(model_prices.c.model_id == model_id))
    if conn.execute(delete(models).where(models.c.id == model_id)).rowcount == 0:
        raise NotFound(f"model {model_id!r} is not registered", field="id")
    bump_version(conn, REGISTRY)


def add_price(conn: Connection, model_id: str, point: PricePoint, now: datetime) -> None:
    spec = point.spec
    conn.execute(
        insert(model_prices).values(
            model_id=model_id,
            effective_from=point.effective_from,
            input_per_mtok=spec.input_per_mtok,
            output_per_mtok=spec.output_per_mtok,
            cached_input_per_mtok=spec.cached_input_per_mtok,
            cache_write_per_mtok=spec.cache_write_per_mtok,
            source=point.source.value,
            created_at=now,
        )
    )
    bump_version(conn, REGISTRY)


def sync_config_models(
    conn: Connection,
    entries: Sequence[tuple[ModelProfile, PricePoint | None]],
    now: datetime,
) -> None:
    """Make the config file's models the registry's config-sourced models.

    Config models are upserted (the file wins over earlier config state); their config price
    points are replaced; API-set prices and API-registered models are left alone. A model that
    left the config file is removed unless it was registered through the API.
    """
    existing = {row.id: row.source for row in conn.execute(select(models.c.id, models.c.source))}
    wanted = {profile.id for profile, _ in entries}
    for model_id, source in existing.items():
        if source == "config" and model_id not in wanted:
            delete_model(conn, model_id)
    for profile, price in entries:
        values = _row_values(profile)
        if profile.id in existing:
            conn.execute(
                update(models)
                .where(models.c.id == profile.id)
                .values(**values, source="config", updated_at=now)
            )
        else:
            conn.execute(
                insert(models).values(
                    id=profile.id, source="config", created_at=now, updated_at=now, **values
                )
            )
        conn.execute(
            delete(model_prices).where(
                model_prices.c.model_id == profile.id, model_prices.c.source == "config"
            )
        )
        if price is not None:
            add_price(conn, profile.id, price, now)
    bump_version(conn, REGISTRY)
