from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from thrifty.errors import Conflict, NotFound
from thrifty.pricing.prices import BEGINNING, PricePoint, PriceSource, PriceSpec
from thrifty.routing.models import ModelProfile
from thrifty.routing.tasks import Capability
from thrifty.storage import models_repo
from thrifty.storage.cache import VersionedCache, read_version
from thrifty.storage.database import Database

NOW = datetime(2026, 11, 1, tzinfo=UTC)
SPEC = PriceSpec(Decimal("2.5"), Decimal("10"), Decimal("1.25"))


def profile(model_id: str = "m1", **changes: object) -> ModelProfile:
    base = ModelProfile(
        id=model_id,
        provider="p",
        upstream_model="up-" + model_id,
        context_window=8000,
        capabilities=frozenset({Capability.TOOLS}),
        quality={"default": 0.8, "code": 0.7},
        max_output_tokens=4000,
        catalog_id="openai/gpt-4o",
    )
    return ModelProfile(**{**{f: getattr(base, f) for f in base.__slots__}, **changes})  # type: ignore[arg-type]


def test_insert_and_load_round_trip(database: Database) -> None:
    point = PricePoint(BEGINNING, SPEC, PriceSource.API)
    database.write(lambda c: models_repo.insert_model(c, profile(), "api", NOW, point))
    loaded = database.read(models_repo.load_profiles)
    assert loaded == [profile()]
    prices = database.read(models_repo.load_price_points)
    assert prices == {"m1": [point]}


def test_duplicate_insert_conflicts(database: Database) -> None:
    database.write(lambda c: models_repo.insert_model(c, profile(), "api", NOW, None))
    with pytest.raises(Conflict):
        database.write(lambda c: models_repo.insert_model(c, profile(), "api", NOW, None))


def test_update_and_delete_unknown_are_not_found(database: Database) -> None:
    with pytest.raises(NotFound):
        database.write(lambda c: models_repo.update_model(c, profile("zz"), NOW, None))
    with pytest.raises(NotFound):
        database.write(lambda c: models_repo.delete_model(c, "zz"))


def test_price_history_is_kept(database: Database) -> None:
    database.write(
        lambda c: models_repo.insert_model(
            c, profile(), "api", NOW, PricePoint(BEGINNING, SPEC, PriceSource.API)
        )
    )
    later = PricePoint(NOW + timedelta(days=1), PriceSpec(Decimal(1), Decimal(2)), PriceSource.API)
    database.write(lambda c: models_repo.update_model(c, profile(context_window=9000), NOW, later))
    points = database.read(models_repo.load_price_points)["m1"]
    assert [p.spec.input_per_mtok for p in points] == [Decimal("2.5"), Decimal(1)]


def test_sync_config_models_keeps_api_models_and_prices(database: Database) -> None:
    config_price = PricePoint(BEGINNING, SPEC, PriceSource.CONFIG)
    database.write(
        lambda c: models_repo.sync_config_models(
            c, [(profile("a"), config_price), (profile("b"), None)], NOW
        )
    )
    api_price = PricePoint(NOW, PriceSpec(Decimal(3), Decimal(4)), PriceSource.API)
    database.write(lambda c: models_repo.add_price(c, "a", api_price, NOW))
    database.write(lambda c: models_repo.insert_model(c, profile("mine"), "api", NOW, None))
    # The config changes: b leaves, a's config price changes.
    new_config_price = PricePoint(BEGINNING, PriceSpec(Decimal(9), Decimal(9)), PriceSource.CONFIG)
    database.write(
        lambda c: models_repo.sync_config_models(c, [(profile("a"), new_config_price)], NOW)
    )
    ids = [p.id for p in database.read(models_repo.load_profiles)]
    assert ids == ["a", "mine"]
    points = database.read(models_repo.load_price_points)["a"]
    assert set(points) == {new_config_price, api_price}


def test_writes_bump_the_cache_version(database: Database) -> None:
    calls = []

    def load(conn):
        calls.append(1)
        return models_repo.load_profiles(conn)

    cache = VersionedCache(models_repo.REGISTRY, database.read, load)
    assert cache.get() == []
    assert cache.refresh() == [] and len(calls) == 1  # unchanged version: no reload
    database.write(lambda c: models_repo.insert_model(c, profile(), "api", NOW, None))
    assert [p.id for p in cache.refresh()] == ["m1"]
    assert database.read(lambda c: read_version(c, models_repo.REGISTRY)) >= 1
