"""The configuration file's schema: ``providers``, ``models`` and ``rules``.

Every mapping refuses unknown keys, so a typo is an error that names the key, never a silent
default. The model entry doubles as the body of ``POST /api/v1/models``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from thrifty.errors import InvalidInput
from thrifty.routing.strategy import Strategy, parse_quality_requirement
from thrifty.routing.tasks import QUALITY_KEYS, Capability

Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][\w.:/@+-]*$")]
Money = Annotated[Decimal, Field(ge=0, le=1_000_000, allow_inf_nan=False)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProviderConfig(Strict):
    name: Name
    kind: Literal["openai", "anthropic", "simulated"]
    base_url: Annotated[str, Field(pattern=r"^https?://\S+$")] | None = None
    api_key_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] | None = None
    timeout_s: Annotated[float, Field(gt=0, le=3600)] = 60.0
    max_retries: Annotated[int, Field(ge=0, le=10)] = 2
    catalog_provider: str | None = None
    """The price catalog's provider id for this upstream's models (default: by ``kind``)."""
    headers: dict[
        Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,100}$")],
        Annotated[str, Field(max_length=2000)],
    ] = Field(default_factory=dict)
    """Extra HTTP headers sent with every request to this upstream (e.g. an API version)."""

    @model_validator(mode="after")
    def _needs_url(self) -> ProviderConfig:
        if self.kind == "openai" and self.base_url is None:
            raise ValueError("base_url is required for kind 'openai'")
        return self


class PriceConfig(Strict):
    input_per_mtok: Money
    output_per_mtok: Money
    cached_input_per_mtok: Money | None = None
    cache_write_per_mtok: Money | None = None
    effective_from: AwareDatetime | None = None


class ModelConfig(Strict):
    id: Name
    provider: Name
    upstream_model: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    price: PriceConfig | None = None
    catalog_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    context_window: Annotated[int, Field(gt=0, le=100_000_000)]
    max_output_tokens: Annotated[int, Field(gt=0, le=10_000_000)] | None = None
    capabilities: list[Capability] = Field(default_factory=list)
    quality: dict[str, Annotated[float, Field(ge=0, le=1)]] = Field(default_factory=dict)
    fallbacks: Annotated[list[Name], Field(max_length=20)] = Field(default_factory=list)
    """Models to try, in order, when this one's upstream fails with a retryable error."""

    @field_validator("quality")
    @classmethod
    def _known_task_types(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - QUALITY_KEYS)
        if unknown:
            allowed = ", ".join(sorted(QUALITY_KEYS))
            raise ValueError(f"unknown task type {unknown[0]!r}; allowed: {allowed}")
        return value

    @model_validator(mode="after")
    def _output_fits(self) -> ModelConfig:
        if self.max_output_tokens is not None and self.max_output_tokens > self.context_window:
            raise ValueError("max_output_tokens exceeds context_window")
        return self


QualityRequirement = Annotated[str, Field(min_length=1)] | Annotated[Decimal, Field(gt=0, le=1)]


def check_quality(value: QualityRequirement | None) -> QualityRequirement | None:
    """A pydantic validator: a quality requirement that ``parse_quality_requirement`` takes."""
    if value is not None:
        try:
            parse_quality_requirement(value, field="quality_requirement")
        except InvalidInput as exc:
            raise ValueError(exc.message) from None
    return value


class AliasConfig(Strict):
    """A model name clients may send that means "select for me" with these settings."""

    name: Name
    strategy: Strategy = Strategy.COST_AWARE
    candidates: Annotated[list[Name], Field(min_length=1, max_length=500)] | None = None
    quality_requirement: QualityRequirement | None = None
    cost_limit: Money | None = None

    _quality = field_validator("quality_requirement")(check_quality)


class RouterConfig(Strict):
    """A learned router (``thrifty router train``) whose predictions replace profile quality."""

    path: Annotated[str, Field(min_length=1)]
    min_quality: Annotated[float, Field(gt=0, le=1)] | None = None
    """The operating point to route at (one the router was trained for; default: its first)."""


class SelectionConfig(Strict):
    """Defaults of model selection, for requests no rule or key says otherwise about."""

    strategy: Strategy = Strategy.COST_AWARE
    quality_requirement: QualityRequirement = "medium"
    exploration: Annotated[float, Field(ge=0, le=1)] = 0.05
    prior_strength: Annotated[float, Field(gt=0, le=1_000_000)] = 20.0
    max_fallbacks: Annotated[int, Field(ge=0, le=20)] = 3

    _quality = field_validator("quality_requirement")(check_quality)


class AnalyticsConfig(Strict):
    """What the gateway keeps for cost analysis beyond usage sums."""

    store_prompts: bool = True
    """Keep the text of each distinct request preamble (system prompt, examples) once, for
    prompt recommendations; off: only its fingerprint, token count and request counts."""
    max_prompt_chars: Annotated[int, Field(ge=0, le=1_000_000)] = 20_000
    """Preamble texts are kept up to this many characters."""


class AlertsConfig(Strict):
    """How alert events reach their channels."""

    send_interval_seconds: Annotated[float, Field(gt=0, le=3600)] = 1.0
    """How often each process looks for alert deliveries that are due."""
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 10.0
    """How long one delivery attempt may take before it counts as failed."""
    retry_base_seconds: Annotated[float, Field(gt=0, le=3600)] = 10.0
    """The wait after a first failed attempt; each later failure doubles it."""
    retry_max_seconds: Annotated[float, Field(gt=0, le=86_400)] = 3600.0
    """The longest wait between two attempts."""
    give_up_hours: Annotated[float, Field(gt=0, le=720)] = 24.0
    """A delivery still failing this long after it was queued is marked ``failed``."""


class WebhooksConfig(Strict):
    """The inbound webhooks (``/api/v1/webhooks/…``)."""

    tolerance_seconds: Annotated[int, Field(ge=1, le=86_400)] = 300
    """A request whose ``X-Thrifty-Timestamp`` is further than this from the server's clock
    is refused (401) as stale or replayed."""
    max_records: Annotated[int, Field(ge=1, le=100_000)] = 10_000
    """The most usage records one ``cost-data`` event may carry."""


class DashboardConfig(Strict):
    """The web dashboard served at ``/`` (docs/dashboard.md)."""

    enabled: bool = True
    """Serve the dashboard's pages; with ``false`` only the APIs answer."""
    session_hours: Annotated[float, Field(gt=0, le=720)] = 12.0
    """How long a sign-in lasts; signing out, or revoking the key, ends it sooner."""


class ThriftyConfig(Strict):
    providers: list[ProviderConfig] = Field(default_factory=list)
    models: list[ModelConfig] = Field(default_factory=list)
    rules: list[dict[str, Any]] = Field(default_factory=list)
    """Steering rules; their own schema is checked by the ``rules`` domain."""
    aliases: list[AliasConfig] = Field(default_factory=list)
    selection: SelectionConfig = Field(default_factory=SelectionConfig)
    router: RouterConfig | None = None
    analytics: AnalyticsConfig = Field(default_factory=AnalyticsConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    webhooks: WebhooksConfig = Field(default_factory=WebhooksConfig)
    dashboard: DashboardConfig = Field(default_factory=DashboardConfig)


def config_keys() -> dict[str, list[str]]:
    """Every documented key by section (used by the docs test)."""
    return {
        "top": list(ThriftyConfig.model_fields),
        "providers": list(ProviderConfig.model_fields),
        "models": list(ModelConfig.model_fields),
        "models.price": list(PriceConfig.model_fields),
        "aliases": list(AliasConfig.model_fields),
        "selection": list(SelectionConfig.model_fields),
        "router": list(RouterConfig.model_fields),
        "analytics": list(AnalyticsConfig.model_fields),
        "alerts": list(AlertsConfig.model_fields),
        "webhooks": list(WebhooksConfig.model_fields),
        "dashboard": list(DashboardConfig.model_fields),
    }


__all__ = [
    "AlertsConfig",
    "AliasConfig",
    "AnalyticsConfig",
    "DashboardConfig",
    "ModelConfig",
    "PriceConfig",
    "ProviderConfig",
    "RouterConfig",
    "SelectionConfig",
    "ThriftyConfig",
    "WebhooksConfig",
    "config_keys",
]
