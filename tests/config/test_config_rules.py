"""The loader validates the ``rules`` section: rule problems are ConfigErrors naming the file,
line, rule and key path, reported together with every other problem of the file, and rules
may only name configured models (or ``auto``)."""

from __future__ import annotations

import pytest

from thrifty.config.loader import load_config, parse_config
from thrifty.errors import ConfigError
from thrifty.rules import RuleSet

CONFIG = """\
providers:
  - name: sim
    kind: simulated
models:
  - id: cheap
    provider: sim
    price: {input_per_mtok: 0.1, output_per_mtok: 0.4}
    context_window: 32000
rules:
  - name: night
    when:
      - {type: time, between: ["22:00", "06:00"]}
    then:
      - {type: select-model, candidates: [cheap, auto], strategy: cheapest}
  - name: pin
    then:
      - {type: route-to, model: cheap}
"""


def test_valid_rules_load_and_parse() -> None:
    config = parse_config(CONFIG, "thrifty.yaml")
    rules = RuleSet.parse(config.rules, known_models={m.id for m in config.models})
    assert rules.model_references() == {"cheap", "auto"}


def test_rules_may_only_name_configured_models() -> None:
    text = CONFIG.replace("model: cheap}", "model: gpt-4o}").replace("[cheap, auto]", "[chep]")
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "thrifty.yaml")
    assert caught.value.message.splitlines() == [
        "thrifty.yaml:14: rules[0] (night).then[0].candidates[0]: unknown model 'chep' "
        "(did you mean 'cheap'?); configured: cheap (or 'auto')",
        "thrifty.yaml:17: rules[1] (pin).then[0].model: unknown model 'gpt-4o'; "
        "configured: cheap (or 'auto')",
    ]


def test_rule_problems_come_with_the_other_problems_of_the_file() -> None:
    text = CONFIG.replace("provider: sim", "provider: nope").replace('"06:00"', '"6pm"')
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "thrifty.yaml")
    assert caught.value.message.splitlines() == [
        "thrifty.yaml:6: models[0].provider: unknown provider 'nope' (known: sim)",
        'thrifty.yaml:12: rules[0] (night).when[0].between[1]: must be a time "HH:MM" '
        "from 00:00 to 23:59; got '6pm'",
    ]


def test_rule_problems_are_reported_even_when_the_schema_fails() -> None:
    text = CONFIG.replace("kind: simulated", "kind: simulator").replace("pin", "night")
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "thrifty.yaml")
    lines = caught.value.message.splitlines()
    assert lines[0].startswith("thrifty.yaml:3: providers[0].kind:")
    assert lines[1] == (
        "thrifty.yaml:15: rules[1] (night).name: duplicate rule name 'night' (first at rules[0])"
    )


def test_the_demo_config_still_loads() -> None:
    assert load_config(None).config.rules == []


def test_aliases_are_checked_against_the_models() -> None:
    import pytest

    from thrifty.config.loader import parse_config
    from thrifty.errors import ConfigError

    text = (
        "providers:\n  - {name: sim, kind: simulated}\n"
        "models:\n  - {id: a, provider: sim, price: {input_per_mtok: 1, output_per_mtok: 1},"
        " context_window: 1000}\n"
        "aliases:\n  - {name: a}\n  - {name: fast, candidates: [a, b]}\n  - {name: fast}\n"
    )
    with pytest.raises(ConfigError) as error:
        parse_config(text, "x.yaml")
    lines = error.value.message.splitlines()
    assert "x.yaml:6: aliases[0].name: 'a' is a model id already" in lines
    assert "x.yaml:7: aliases[1].candidates[1]: 'b' is not a configured model" in lines
    assert any("aliases[2].name: duplicate name 'fast'" in line for line in lines)
