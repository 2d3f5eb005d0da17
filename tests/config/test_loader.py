from __future__ import annotations

from decimal import Decimal

import pytest

from thrifty.config.loader import load_config, parse_config, to_profile
from thrifty.errors import ConfigError

GOOD = """\
providers:
  - name: openai
    kind: openai
    base_url: https://api.openai.com/v1
    api_key_env: OPENAI_API_KEY
models:
  - id: gpt-4o
    provider: openai
    upstream_model: gpt-4o
    price: {input_per_mtok: 2.5, output_per_mtok: 10, cached_input_per_mtok: 1.25}
    context_window: 128000
    capabilities: [tools, vision, json]
    quality: {default: 0.90, code: 0.92, math: 0.88}
rules: []
"""


def test_issue_example_loads_with_exact_prices() -> None:
    config = parse_config(GOOD, "thrifty.yaml")
    price = config.models[0].price
    assert price is not None
    assert price.input_per_mtok == Decimal("2.5")
    assert isinstance(price.cached_input_per_mtok, Decimal)
    assert price.cached_input_per_mtok == Decimal("1.25")


def test_demo_config_spans_a_wide_price_range() -> None:
    from datetime import UTC, datetime

    from thrifty.pricing.catalog import CatalogRef, resolve_price

    loaded = load_config(None)
    inputs = []
    for model in loaded.config.models:
        profile = to_profile(model, loaded.provider(model.provider))
        assert profile.catalog_id
        ref = CatalogRef.parse(profile.catalog_id)
        price = resolve_price(profile.id, [], ref, datetime(2026, 11, 1, tzinfo=UTC)).price
        inputs.append(
            price.input_mtok.base if hasattr(price.input_mtok, "base") else price.input_mtok
        )
    assert max(inputs) / min(inputs) >= 100
    assert len(loaded.config.models) >= 5


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [
        (
            ("capabilities: [tools", "capabilites: [tools"),
            "thrifty.yaml:12: models[0].capabilites: unknown key 'capabilites'"
            " (did you mean 'capabilities'?)",
        ),
        (("code: 0.92", "code: 1.92"), "thrifty.yaml:13: models[0].quality.code"),
        (("code: 0.92", "cooking: 0.5"), "unknown task type 'cooking'"),
        (("kind: openai", "kind: openia"), "thrifty.yaml:3: providers[0].kind"),
        (
            ("provider: openai", "provider: nope"),
            "thrifty.yaml:8: models[0].provider: unknown provider 'nope'",
        ),
        (
            ("context_window: 128000", "context_window: -5"),
            "thrifty.yaml:11: models[0].context_window",
        ),
        (("input_per_mtok: 2.5", "input_per_mtok: -1"), "models[0].price.input_per_mtok"),
        (("rules: []", "rulez: []"), "unknown key 'rulez' (did you mean 'rules'?)"),
    ],
)
def test_errors_name_file_line_and_key(mutation: tuple[str, str], expected: str) -> None:
    text = GOOD.replace(*mutation)
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "thrifty.yaml")
    assert expected in caught.value.message


def test_yaml_syntax_error_names_line() -> None:
    with pytest.raises(ConfigError, match=r"thrifty.yaml:3"):
        parse_config("providers:\n  - name: a\n   kind: [\n", "thrifty.yaml")


def test_duplicate_ids_and_keys_are_errors() -> None:
    doubled = GOOD + GOOD[GOOD.index("  - id: gpt-4o") : GOOD.index("rules")]
    doubled = doubled.replace("rules: []\n", "") + "rules: []\n"
    with pytest.raises(ConfigError, match="duplicate id 'gpt-4o'"):
        parse_config(doubled, "f.yaml")
    with pytest.raises(ConfigError, match="duplicate key 'providers'"):
        parse_config("providers: []\nproviders: []\n", "f.yaml")


def test_model_without_any_price_is_refused() -> None:
    text = GOOD.replace(
        "    price: {input_per_mtok: 2.5, output_per_mtok: 10, cached_input_per_mtok: 1.25}\n", ""
    ).replace("upstream_model: gpt-4o", "upstream_model: my-private-finetune-xyz")
    with pytest.raises(ConfigError, match="no price for 'gpt-4o'"):
        parse_config(text, "f.yaml")


def test_catalog_price_needs_no_price_key() -> None:
    text = GOOD.replace(
        "    price: {input_per_mtok: 2.5, output_per_mtok: 10, cached_input_per_mtok: 1.25}\n", ""
    )
    config = parse_config(text, "f.yaml")
    assert config.models[0].price is None


def test_missing_file_is_a_config_error(tmp_path: object) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(f"{tmp_path}/absent.yaml")


def test_openai_provider_requires_base_url() -> None:
    text = GOOD.replace("    base_url: https://api.openai.com/v1\n", "")
    with pytest.raises(ConfigError, match="base_url is required"):
        parse_config(text, "f.yaml")


def test_rules_are_kept() -> None:
    rule = "rules:\n  - name: r1\n    priority: 1\n    then: [{type: route-to, model: gpt-4o}]\n"
    assert parse_config(GOOD.replace("rules: []", rule), "f.yaml").rules == [
        {"name": "r1", "priority": 1, "then": [{"type": "route-to", "model": "gpt-4o"}]}
    ]
