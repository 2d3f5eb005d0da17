"""Load and validate the configuration file, with errors that name file, line and key path."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path as FilePath
from typing import Any

from thrifty.config.schema import ModelConfig, ProviderConfig, ThriftyConfig
from thrifty.config.yamlsource import Path, YamlDocument, dotted, parse_yaml, validate, where
from thrifty.errors import ConfigError
from thrifty.pricing.catalog import CatalogRef, lookup
from thrifty.pricing.prices import BEGINNING, PricePoint, PriceSource, PriceSpec
from thrifty.routing.models import ModelProfile
from thrifty.rules import RuleSet

DEMO = "demo"
_CATALOG_BY_KIND = {"openai": "openai", "anthropic": "anthropic"}


@dataclass(frozen=True)
class LoadedConfig:
    config: ThriftyConfig
    source: str  # a file path, or "demo" for the built-in demo configuration

    def provider(self, name: str) -> ProviderConfig:
        return next(p for p in self.config.providers if p.name == name)


def load_config(path: str | None) -> LoadedConfig:
    """Load ``path``, or the built-in demo configuration when ``path`` is None."""
    if path is None:
        text = resources.files("thrifty.config").joinpath("demo.yaml").read_text("utf-8")
        return LoadedConfig(parse_config(text, DEMO), DEMO)
    file = FilePath(path)
    try:
        text = file.read_text("utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None
    return LoadedConfig(parse_config(text, str(file)), str(file))


def parse_config(text: str, source: str) -> ThriftyConfig:
    document = parse_yaml(text, source)
    data = document.data if document.data is not None else {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}:1: the config must be a mapping with providers/models/rules")
    try:
        config = validate(ThriftyConfig, data, document)
    except ConfigError as exc:  # report the rules' problems too, all in one error
        rules = data.get("rules")
        found: list[str] = []
        if isinstance(rules, list) and all(isinstance(rule, dict) for rule in rules):
            found = _rule_problems(rules, document, None)
        raise ConfigError("\n".join([exc.message, *found])) from None
    _check_references(config, document)
    return config


def _check_references(config: ThriftyConfig, document: YamlDocument) -> None:
    problems: list[str] = []
    _unique([p.name for p in config.providers], "providers", "name", document, problems)
    _unique([m.id for m in config.models], "models", "id", document, problems)
    providers = {p.name: p for p in config.providers}
    model_ids = {m.id for m in config.models}
    for i, model in enumerate(config.models):
        for j, fallback in enumerate(model.fallbacks):
            if fallback not in model_ids or fallback == model.id:
                path: Path = ("models", i, "fallbacks", j)
                why = "itself" if fallback == model.id else "not a configured model"
                problems.append(f"{where(document, path)}: {dotted(path)}: {fallback!r} is {why}")
        provider = providers.get(model.provider)
        if provider is None:
            known = ", ".join(sorted(providers)) or "none defined"
            path = ("models", i, "provider")
            problems.append(
                f"{where(document, path)}: {dotted(path)}: unknown provider "
                f"{model.provider!r} (known: {known})"
            )
            continue
        if model.price is None and lookup(catalog_ref(model, provider)) is None:
            path = ("models", i)
            problems.append(
                f"{where(document, path)}: {dotted(path)}: no price for {model.id!r}: the "
                f"catalog does not know {str(catalog_ref(model, provider))!r}; set `price` "
                "or `catalog_id`"
            )
    problems.extend(_rule_problems(config.rules, document, model_ids))
    _unique([a.name for a in config.aliases], "aliases", "name", document, problems)
    for i, alias in enumerate(config.aliases):
        if alias.name in model_ids or alias.name == "auto":
            path = ("aliases", i, "name")
            problems.append(
                f"{where(document, path)}: {dotted(path)}: {alias.name!r} is a model id already"
                if alias.name != "auto"
                else f"{where(document, path)}: {dotted(path)}: 'auto' is reserved"
            )
        for j, candidate in enumerate(alias.candidates or []):
            if candidate not in model_ids:
                path = ("aliases", i, "candidates", j)
                problems.append(
                    f"{where(document, path)}: {dotted(path)}: {candidate!r} is not a configured "
                    "model"
                )
    if problems:
        raise ConfigError("\n".join(problems))


def _rule_problems(rules: list[Any], document: YamlDocument, models: set[str] | None) -> list[str]:
    """Every problem of the ``rules`` section, each naming its line, rule and key path;
    with ``models``, also every model a rule names that is not one of them."""
    try:
        RuleSet.parse(
            rules,
            source=document.source,
            locate=lambda path: document.line_of(("rules", *path)),
            known_models=models,
        )
    except ConfigError as exc:
        return exc.message.splitlines()
    return []


def _unique(
    values: Sequence[str], section: str, key: str, doc: YamlDocument, problems: list[str]
) -> None:
    seen: set[str] = set()
    for i, value in enumerate(values):
        if value in seen:
            path: Path = (section, i, key)
            problems.append(f"{where(doc, path)}: {dotted(path)}: duplicate {key} {value!r}")
        seen.add(value)


def catalog_ref(model: ModelConfig, provider: ProviderConfig) -> CatalogRef:
    """Where the catalog prices this model: ``catalog_id``, else provider + upstream name."""
    if model.catalog_id:
        return CatalogRef.parse(model.catalog_id)
    catalog_provider = provider.catalog_provider or _CATALOG_BY_KIND.get(provider.kind)
    return CatalogRef(model=model.upstream_model or model.id, provider=catalog_provider)


def to_profile(model: ModelConfig, provider: ProviderConfig | None) -> ModelProfile:
    """The domain profile of a configured (or API-registered) model."""
    ref = catalog_ref(model, provider) if provider is not None else None
    if ref is None and model.catalog_id:
        ref = CatalogRef.parse(model.catalog_id)
    return ModelProfile(
        id=model.id,
        provider=model.provider,
        upstream_model=model.upstream_model or model.id,
        context_window=model.context_window,
        capabilities=frozenset(model.capabilities),
        quality=dict(model.quality),
        max_output_tokens=model.max_output_tokens,
        catalog_id=str(ref) if ref else None,
        fallbacks=tuple(model.fallbacks),
    )


def price_spec(model: ModelConfig) -> PriceSpec | None:
    if model.price is None:
        return None
    return PriceSpec(
        input_per_mtok=model.price.input_per_mtok,
        output_per_mtok=model.price.output_per_mtok,
        cached_input_per_mtok=model.price.cached_input_per_mtok,
        cache_write_per_mtok=model.price.cache_write_per_mtok,
    )


def config_price_point(model: ModelConfig) -> PricePoint | None:
    spec = price_spec(model)
    if spec is None or model.price is None:
        return None
    return PricePoint(model.price.effective_from or BEGINNING, spec, PriceSource.CONFIG)
