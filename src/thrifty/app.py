"""The application factory: wires settings, storage, caches and routers. Nothing else."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import anyio.to_thread
from fastapi import FastAPI

from thrifty import __version__, background, logs
from thrifty.api import (
    alert_channels,
    anomalies,
    audit,
    budgets,
    cost_analysis,
    directory,
    estimates,
    explainer,
    exports,
    forecasts,
    health,
    insights,
    ledger,
    models,
    overrides,
    reconciliation,
    savings,
    selection,
    webhooks,
)
from thrifty.api import metrics as metrics_api
from thrifty.api import prompts as prompts_api
from thrifty.api import providers as provider_api
from thrifty.api import rate_limits as rate_limit_api
from thrifty.api import rules as rules_api
from thrifty.api.errors import install_error_handlers
from thrifty.api.state import AppState
from thrifty.budgets.principal import Directory
from thrifty.config.loader import (
    DEMO,
    LoadedConfig,
    config_price_point,
    load_config,
    to_profile,
)
from thrifty.errors import ConfigError
from thrifty.gateway.pipeline import Gateway
from thrifty.gateway.ratelimit import RateLimiter
from thrifty.gateway.routes import install_gateway
from thrifty.gateway.rulebook import RuleBook
from thrifty.gateway.steering import Steering
from thrifty.gateway.upstreams import upstream_clients
from thrifty.notify.delivery import Sender
from thrifty.notify.events import Backoff
from thrifty.notify.upstream import UpstreamAlerts
from thrifty.providers.health import ProviderHealth
from thrifty.routing.feedback import QualityBook
from thrifty.routing.registry import ModelRegistry
from thrifty.settings import Settings
from thrifty.storage import directory_repo, models_repo, selection_repo
from thrifty.storage.cache import VersionedCache
from thrifty.storage.database import Database
from thrifty.ui.routes import install_dashboard

log = logging.getLogger("thrifty")
CACHE_REFRESH_SECONDS = 1.0
SWEEP_SECONDS = 5.0
ROLL_UP_SECONDS = 2.0  # settled usage reaches the cost-analysis sums within this
ANOMALY_SCAN_SECONDS = 600.0  # each budget scope's last 24 hours, every 10 minutes


def utc_now() -> datetime:
    return datetime.now(UTC)


def prepare_database(database: Database, loaded: LoadedConfig, now: datetime) -> None:
    """Apply migrations and make the config file's models the registry's config models."""
    database.migrate()
    entries = [
        (to_profile(m, loaded.provider(m.provider)), config_price_point(m))
        for m in loaded.config.models
    ]
    database.write(lambda conn: models_repo.sync_config_models(conn, entries, now))


def load_registry(database: Database) -> VersionedCache[ModelRegistry]:
    def build(conn):  # type: ignore[no-untyped-def]
        return ModelRegistry.build(
            models_repo.load_profiles(conn), models_repo.load_price_points(conn)
        )

    return VersionedCache(models_repo.REGISTRY, database.read, build)


def load_directory(database: Database) -> VersionedCache[Directory]:
    return VersionedCache(directory_repo.DIRECTORY, database.read, directory_repo.load_directory)


def load_quality(database: Database, loaded: LoadedConfig) -> VersionedCache[QualityBook]:
    selection = loaded.config.selection

    def build(conn):  # type: ignore[no-untyped-def]
        return QualityBook(
            selection_repo.load_quality(conn), selection.prior_strength, selection.exploration
        )

    return VersionedCache(selection_repo.QUALITY, database.read, build)


def build_steering(
    database: Database, loaded: LoadedConfig, health: ProviderHealth
) -> tuple[Steering, RuleBook, VersionedCache[QualityBook]]:
    """Selection's moving parts: the rules in effect, the feedback record, the learned router."""
    path = None if loaded.source == DEMO else loaded.source
    rules = RuleBook(path, list(loaded.config.rules), database)
    quality = load_quality(database, loaded)
    router, min_quality = None, None
    if loaded.config.router is not None:
        from thrifty.routing.learned import LearnedRouter

        router = LearnedRouter.load(loaded.config.router.path)
        min_quality = loaded.config.router.min_quality
        if min_quality is not None:
            router.operating_point(min_quality)  # a ConfigError at start if it was not trained
        elif router.operating_points:
            min_quality = router.operating_points[0].min_quality
    steering = Steering(
        database=database,
        health=health,
        selection=loaded.config.selection,
        aliases={alias.name: alias for alias in loaded.config.aliases},
        rules=rules,
        quality=quality,
        router=router,
        router_min_quality=min_quality,
    )
    return steering, rules, quality


def create_app(
    settings: Settings | None = None,
    *,
    clock: Callable[[], datetime] = utc_now,
    prepare: bool = True,
) -> FastAPI:
    """Build the ASGI app. ``prepare`` migrates and syncs config models at start-up."""
    settings = settings or Settings.from_env()
    if not settings.admin_key:
        raise ConfigError("no admin key: set THRIFTY_ADMIN_KEY (thrifty serve generates one)")
    loaded = load_config(settings.config)
    database = Database(settings.database_url)
    provider_health = ProviderHealth()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if prepare:
            await anyio.to_thread.run_sync(prepare_database, database, loaded, clock())
        registry = load_registry(database)
        await anyio.to_thread.run_sync(registry.refresh)
        keys = load_directory(database)
        await anyio.to_thread.run_sync(keys.refresh)
        assert settings.admin_key is not None
        app.state.thrifty = AppState(
            settings, database, loaded, registry, settings.admin_key, clock, directory=keys
        )
        limiter = RateLimiter.build(database, settings.redis_url, clock)
        await anyio.to_thread.run_sync(limiter.limits.refresh)
        app.state.rate_limiter = limiter
        steering, rules, quality = build_steering(database, loaded, provider_health)
        await anyio.to_thread.run_sync(rules.refresh)
        await anyio.to_thread.run_sync(quality.refresh)
        app.state.steering, app.state.rules = steering, rules
        refresher = asyncio.create_task(
            background.refresh_forever(
                [registry, keys, limiter.limits, rules, quality], CACHE_REFRESH_SECONDS
            )
        )
        sweeper = asyncio.create_task(background.sweep_forever(database, clock, SWEEP_SECONDS))
        roller = asyncio.create_task(background.roll_up_forever(database, ROLL_UP_SECONDS))
        scanner = asyncio.create_task(
            background.scan_anomalies_forever(database, clock, ANOMALY_SCAN_SECONDS)
        )
        alerting = loaded.config.alerts
        upstream_alerts = UpstreamAlerts(clock)
        provider_health.on_open.append(upstream_alerts.opened)
        backoff = Backoff(alerting.retry_base_seconds, alerting.retry_max_seconds,
                          timedelta(hours=alerting.give_up_hours))  # fmt: skip
        sender = Sender(database, clock, backoff, timeout_s=alerting.timeout_seconds)
        deliverer = asyncio.create_task(
            background.deliver_forever(sender, upstream_alerts, alerting.send_interval_seconds)
        )
        try:
            async with upstream_clients(loaded) as clients:
                app.state.gateway = Gateway(app.state.thrifty, clients, provider_health, steering)
                yield
        finally:
            tasks = (refresher, sweeper, scanner, roller, deliverer)
            for task in tasks:
                task.cancel()
            # A task inside a worker thread ends when the thread's call returns: wait for it,
            # so no connection is still out when the database closes.
            await asyncio.gather(*tasks, return_exceptions=True)
            sender.close()
            await limiter.close()
            database.close()

    app = FastAPI(
        title="Thrifty",
        version=__version__,
        summary="Cost-aware LLM gateway: admin API",
        lifespan=lifespan,
    )
    app.state.provider_health = provider_health
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(selection.router)  # before models: /models/select, /models/fallbacks/…
    app.include_router(models.router)
    app.include_router(estimates.router)
    app.include_router(budgets.router)
    app.include_router(overrides.router)
    app.include_router(audit.router)
    app.include_router(directory.router)
    app.include_router(ledger.router)
    app.include_router(rate_limit_api.router)
    app.include_router(provider_api.router)
    app.include_router(explainer.router)
    app.include_router(rules_api.router)
    app.include_router(cost_analysis.router)
    app.include_router(forecasts.router)
    app.include_router(insights.router)
    app.include_router(savings.router)
    app.include_router(anomalies.router)
    app.include_router(prompts_api.router)
    app.include_router(exports.router)
    app.include_router(metrics_api.router)
    app.include_router(alert_channels.router)
    app.include_router(webhooks.router)
    app.include_router(reconciliation.router)
    install_gateway(app)
    if loaded.config.dashboard.enabled:  # after the gateway's routes: they are matched first
        install_dashboard(app)
    return app


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` in worker processes (settings from the environment)."""
    settings = Settings.from_env()
    logs.configure(settings.log_format, settings.log_level)
    return create_app(settings, prepare=False)
