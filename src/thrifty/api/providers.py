"""``GET /api/v1/providers/performance``: how each upstream (provider, model) performed.

The figures come from ``usage_records`` over the window, so they cover every gateway process;
``circuit`` is this process's live breaker state (``providers.health``). Ratios are numbers
from 0 to 1, times are milliseconds; ``null`` where there were no calls to judge.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from thrifty.api.responses import FastJSONResponse
from thrifty.api.state import AppState, require_admin
from thrifty.providers.health import CircuitView, Outcome, ProviderHealth
from thrifty.storage import performance_repo
from thrifty.storage.performance_repo import ModelPerformance

router = APIRouter(prefix="/api/v1", tags=["providers"])
Admin = Annotated[AppState, Depends(require_admin)]
MAX_WINDOW_MINUTES = 30 * 24 * 60


def provider_health(request: Request) -> ProviderHealth:
    health: ProviderHealth = request.app.state.provider_health
    return health


def _ratio(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def performance_json(performance: ModelPerformance, circuit: CircuitView) -> dict[str, Any]:
    return {
        "provider": performance.provider,
        "model": performance.model,
        "requests": performance.requests,
        "ok": performance.calls[Outcome.OK],
        "errors": performance.errors,
        "upstream_failures": performance.calls[Outcome.FAILED],
        "rejected": performance.calls[Outcome.REJECTED],
        "aborted": performance.calls[Outcome.ABORTED],
        "error_rate": _ratio(performance.error_rate),
        "availability": _ratio(performance.availability),
        "latency_ms": performance.latency_ms.json(),
        "ttft_ms": performance.ttft_ms.json(),
        "circuit": circuit.json(),
    }


@router.get(
    "/providers/performance",
    summary="Latency, time to first token, error rate and availability per provider and model",
)
def performance(
    state: Admin,
    health: Annotated[ProviderHealth, Depends(provider_health)],
    window_minutes: Annotated[int, Query(ge=1, le=MAX_WINDOW_MINUTES)] = 60,
    provider: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    model: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> FastJSONResponse:
    until = state.now()
    since = until - timedelta(minutes=window_minutes)
    found = state.database.read(
        lambda conn: performance_repo.model_performance(
            conn, since=since, provider=provider, model=model
        )
    )
    by_key = {(p.provider, p.model): p for p in found}
    # Circuits of this process that saw calls but none in the window still show their state.
    for key in health.views():
        if key not in by_key and provider in (None, key[0]) and model in (None, key[1]):
            by_key[key] = ModelPerformance(*key)
    models = [performance_json(by_key[key], health.view(*key)) for key in sorted(by_key)]
    return FastJSONResponse(
        {
            "window_minutes": window_minutes,
            "since": since.isoformat(),
            "until": until.isoformat(),
            "sample_limit": performance_repo.SAMPLE_LIMIT,
            "models": models,
        }
    )
