"""Model registry endpoints: ``/api/v1/models[/{id}]``, price timelines, catalog search."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response

from thrifty.api.pricejson import price_json, resolved_json
from thrifty.api.responses import FastJSONResponse
from thrifty.api.state import AppState, require_admin
from thrifty.config.loader import catalog_ref, to_profile
from thrifty.config.schema import ModelConfig, PriceConfig
from thrifty.errors import InvalidInput, PricingError
from thrifty.pricing import catalog
from thrifty.pricing.prices import BEGINNING, PricePoint, PriceSource, PriceSpec
from thrifty.routing.models import ModelProfile
from thrifty.storage import models_repo

router = APIRouter(prefix="/api/v1", tags=["models"])
Admin = Annotated[AppState, Depends(require_admin)]
ModelId = Annotated[str, Path(min_length=1, max_length=200)]


def profile_json(state: AppState, profile: ModelProfile, source: str | None) -> dict[str, Any]:
    registry = state.registry.get()
    try:
        price: dict[str, Any] | None = resolved_json(registry.price_of(profile.id, state.now()))
    except PricingError:
        price = None
    return {
        "id": profile.id,
        "provider": profile.provider,
        "upstream_model": profile.upstream_model,
        "context_window": profile.context_window,
        "max_output_tokens": profile.max_output_tokens,
        "capabilities": sorted(c.value for c in profile.capabilities),
        "quality": dict(profile.quality),
        "catalog_id": profile.catalog_id,
        "fallbacks": list(profile.fallbacks),
        "price": price,
        "source": source,
    }


def _validated_profile(state: AppState, body: ModelConfig) -> ModelProfile:
    providers = {p.name: p for p in state.config.config.providers}
    provider = providers.get(body.provider)
    if provider is None:
        known = ", ".join(sorted(providers))
        raise InvalidInput(f"unknown provider {body.provider!r} (known: {known})", field="provider")
    if body.price is None and catalog.lookup(catalog_ref(body, provider)) is None:
        raise InvalidInput(
            f"no price for {body.id!r}: the catalog does not know "
            f"{str(catalog_ref(body, provider))!r}; give `price` or `catalog_id`",
            field="price",
        )
    return to_profile(body, provider)


def _price_point(price: PriceConfig | None, default_from: Any) -> PricePoint | None:
    if price is None:
        return None
    spec = PriceSpec(
        price.input_per_mtok,
        price.output_per_mtok,
        price.cached_input_per_mtok,
        price.cache_write_per_mtok,
    )
    return PricePoint(price.effective_from or default_from, spec, PriceSource.API)


@router.get("/models", summary="List registered models with the price in force now")
def list_models(state: Admin) -> FastJSONResponse:
    registry = state.registry.get()
    sources = state.database.read(
        lambda conn: {p.id: models_repo.model_source(conn, p.id) for p in registry}
    )
    return FastJSONResponse({"models": [profile_json(state, p, sources[p.id]) for p in registry]})


@router.get("/models/{model_id}", summary="One registered model")
def get_model(model_id: ModelId, state: Admin) -> FastJSONResponse:
    profile = state.registry.get().get(model_id, field="model_id")
    source = state.database.read(lambda conn: models_repo.model_source(conn, model_id))
    return FastJSONResponse(profile_json(state, profile, source))


@router.post("/models", status_code=201, summary="Register a model")
def create_model(body: ModelConfig, state: Admin) -> FastJSONResponse:
    profile = _validated_profile(state, body)
    point = _price_point(body.price, BEGINNING)
    now = state.now()
    state.database.write(lambda conn: models_repo.insert_model(conn, profile, "api", now, point))
    state.registry.refresh()
    return FastJSONResponse(profile_json(state, profile, "api"), status_code=201)


@router.put("/models/{model_id}", summary="Replace a model's profile (a new price is dated)")
def replace_model(model_id: ModelId, body: ModelConfig, state: Admin) -> FastJSONResponse:
    if body.id != model_id:
        raise InvalidInput(f"body id {body.id!r} differs from the path's {model_id!r}", field="id")
    profile = _validated_profile(state, body)
    now = state.now()
    point = _price_point(body.price, now)
    state.database.write(lambda conn: models_repo.update_model(conn, profile, now, point))
    state.registry.refresh()
    return get_model(model_id, state)


@router.delete("/models/{model_id}", status_code=204, summary="Remove a model")
def delete_model(model_id: ModelId, state: Admin) -> Response:
    state.database.write(lambda conn: models_repo.delete_model(conn, model_id))
    state.registry.refresh()
    return Response(status_code=204)


@router.get("/models/{model_id}/prices", summary="A model's price timeline")
def list_prices(model_id: ModelId, state: Admin) -> FastJSONResponse:
    registry = state.registry.get()
    registry.get(model_id, field="model_id")
    points = sorted(registry.prices.get(model_id, ()), key=lambda p: p.effective_from)
    timeline = [
        price_json(p.spec.to_model_price())
        | {"effective_from": p.effective_from.isoformat(), "source": p.source.value}
        for p in points
    ]
    return FastJSONResponse({"model": model_id, "prices": timeline})


@router.post("/models/{model_id}/prices", status_code=201, summary="Set a dated price")
def add_price(model_id: ModelId, body: PriceConfig, state: Admin) -> FastJSONResponse:
    state.registry.get().get(model_id, field="model_id")
    now = state.now()
    point = _price_point(body, now)
    assert point is not None
    state.database.write(lambda conn: models_repo.add_price(conn, model_id, point, now))
    state.registry.refresh()
    response = list_prices(model_id, state)
    response.status_code = 201
    return response


@router.get("/catalog", summary="Search the bundled price catalog")
def search_catalog(
    state: Admin,
    q: Annotated[str, Query(min_length=1, max_length=200)],
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> FastJSONResponse:
    now = state.now()
    found = []
    for entry in catalog.search(q, limit):
        price = catalog.catalog_price(catalog.CatalogRef(entry.model, entry.provider), now)
        found.append(
            {
                "catalog_id": f"{entry.provider}/{entry.model}",
                "name": entry.name,
                "context_window": entry.context_window,
                "price": price_json(price) if price is not None else None,
            }
        )
    return FastJSONResponse({"models": found})
