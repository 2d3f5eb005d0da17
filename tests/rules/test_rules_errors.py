"""Bad rules in a real config file: each error names the file and line, the rule (index and
name) and the key path; every problem is reported at once."""

from __future__ import annotations

from typing import Any

import pytest

from thrifty.config.loader import parse_config
from thrifty.errors import ConfigError
from thrifty.rules import RuleSet

CONFIG = """\
providers:
  - name: sim
    kind: simulated
models:
  - id: small
    provider: sim
    price: {input_per_mtok: 0.15, output_per_mtok: 0.6}
    context_window: 128000
  - id: large
    provider: sim
    price: {input_per_mtok: 2.5, output_per_mtok: 10}
    context_window: 128000
rules:
  - name: cost-aware-selection
    priority: 100
    when:
      - type: request
        path: /v1/chat/completions
      - type: budget
        scope: team
        percent_used: {gte: 70}
      - type: time
        between: ["18:00", "08:00"]
        timezone: Europe/Paris
      - type: task
        task_type: [code, math]
    then:
      - type: select-model
        budget_scope: team
        quality_requirement: high
        fallback_chain: true
        cost_limit: 0.50
        candidates: [small, large, auto]
  - name: pin-large
    then:
      - type: route-to
        model: large
"""
FIRST = "rules[0] (cost-aware-selection)"
SECOND = "rules[1] (pin-large)"


def _error(*mutations: tuple[str, str]) -> str:
    text = CONFIG
    for old, new in mutations:
        assert old in text, old
        text = text.replace(old, new, 1)
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "thrifty.yaml")
    return caught.value.message


def _line(snippet: str, mutation: tuple[str, str]) -> int:
    """The line of the last ``snippet`` in the mutated config."""
    text = CONFIG.replace(*mutation, 1)
    return max(i for i, line in enumerate(text.splitlines(), 1) if snippet in line)


def test_the_example_config_is_valid() -> None:
    config = parse_config(CONFIG, "thrifty.yaml")
    rules = RuleSet.parse(config.rules)
    assert [r.name for r in rules.rules] == ["cost-aware-selection", "pin-large"]


def test_unknown_key_names_file_line_rule_and_path() -> None:
    message = _error(("{gte: 70}", "{gtee: 70}"))
    assert message == (
        f"thrifty.yaml:21: {FIRST}.when[1].percent_used: unknown key 'gtee' (did you mean 'gte'?)"
    )


@pytest.mark.parametrize(
    ("mutation", "snippet", "expected"),
    [
        (
            ("    priority: 100", "    priorty: 100"),
            "priorty",
            f"{FIRST}: unknown key 'priorty' (did you mean 'priority'?)",
        ),
        (
            ("        fallback_chain: true", "        fallback: true"),
            "fallback:",
            f"{FIRST}.then[0]: unknown key 'fallback' (did you mean 'fallback_chain'?)",
        ),
        (
            ("      - type: budget", "      - type: budgett"),
            "budgett",
            f"{FIRST}.when[1]: unknown condition type 'budgett' (did you mean 'budget'?); "
            "allowed: request, principal, tags, metadata, task, tokens, cost, budget, priority, "
            "time, any, not",
        ),
        (
            ("      - type: route-to", "      - type: route"),
            "type: route",
            f"{SECOND}.then[0]: unknown action type 'route' (did you mean 'route-to'?); "
            "allowed: select-model, route-to, deny, set-max-tokens, require-approval, tag",
        ),
        (
            ("    priority: 100", "    priority: high"),
            "priority: high",
            f"{FIRST}.priority: Input should be a valid integer",
        ),
        (
            ("fallback_chain: true", "fallback_chain: maybe"),
            "fallback_chain",
            f"{FIRST}.then[0].fallback_chain: Input should be a valid boolean",
        ),
        (
            ("        path: /v1/chat/completions", "        path: {a: b}"),
            "path:",
            f"{FIRST}.when[0].path[0]: Input should be a valid string",
        ),
        (
            ("quality_requirement: high", "quality_requirement: hihg"),
            "quality_requirement",
            f"{FIRST}.then[0].quality_requirement: must be low, medium or high, or a number "
            "0 < x ≤ 1; got 'hihg' (did you mean 'high'?)",
        ),
        (
            ("quality_requirement: high", "quality_requirement: 1.5"),
            "quality_requirement",
            f"{FIRST}.then[0].quality_requirement: must be low, medium or high",
        ),
        (
            ("cost_limit: 0.50", "cost_limit: -0.50"),
            "cost_limit",
            f"{FIRST}.then[0].cost_limit: Input should be greater than or equal to 0",
        ),
        (
            ('["18:00", "08:00"]', '["18:00", "8am"]'),
            "between",
            f"{FIRST}.when[2].between[1]: must be a time \"HH:MM\" from 00:00 to 23:59; got '8am'",
        ),
        (
            ('["18:00", "08:00"]', '[18:00, "08:00"]'),
            "between",
            f'{FIRST}.when[2].between[0]: times are quoted "HH:MM" strings '
            "(YAML reads 18:00 as 1080)",
        ),
        (
            ('["18:00", "08:00"]', '["18:00", "18:00"]'),
            "type: time",
            f"{FIRST}.when[2]: between needs two different times",
        ),
        (
            ("timezone: Europe/Paris", "timezone: Europe/Pariss"),
            "timezone",
            f"{FIRST}.when[2].timezone: unknown time zone 'Europe/Pariss'",
        ),
        (
            ("task_type: [code, math]", "task_type: [code, cooking]"),
            "task_type",
            f"{FIRST}.when[3].task_type[1]: unknown task type 'cooking'; allowed: chat, code, ",
        ),
        (
            ("  - name: pin-large", "  - name: cost-aware-selection"),
            "name: cost-aware-selection",
            "rules[1] (cost-aware-selection).name: duplicate rule name 'cost-aware-selection' "
            "(first at rules[0])",
        ),
        (
            ("  - name: pin-large", "  - name: -pin"),
            "name: -pin",
            "rules[1] (-pin).name: String should match pattern",
        ),
        (
            ("        model: large", "        model: larg"),
            "model: larg",
            f"{SECOND}.then[0].model: unknown model 'larg' (did you mean 'large'?); "
            "configured: large, small (or 'auto')",
        ),
        (
            ("candidates: [small, large, auto]", "candidates: [small, huge]"),
            "candidates",
            f"{FIRST}.then[0].candidates[1]: unknown model 'huge'",
        ),
        (
            ("    then:\n      - type: route-to\n        model: large\n", ""),
            "name: pin-large",
            f"{SECOND}: missing key 'then'",
        ),
        (
            (
                "        model: large\n",
                "        model: large\n      - {type: route-to, model: small}\n",
            ),
            "{type: route-to, model: small}",
            f"{SECOND}.then[1]: a second 'route-to' action (the first is then[0])",
        ),
    ],
)
def test_errors_name_line_rule_and_key_path(
    mutation: tuple[str, str], snippet: str, expected: str
) -> None:
    message = _error(mutation)
    line = _line(snippet, mutation)
    assert message.startswith(f"thrifty.yaml:{line}: {expected}"), message


def test_every_problem_is_reported_at_once() -> None:
    message = _error(
        ("{gte: 70}", "{gtee: 70}"),
        ("timezone: Europe/Paris", "timezone: Nowhere/City"),
        ("cost_limit: 0.50", "cost_limit: -1"),
        ("        model: large", "        model: huge"),
    )
    lines = message.splitlines()
    assert len(lines) == 4, message
    assert [line.split(": ", 2)[1] for line in lines] == [
        f"{FIRST}.when[1].percent_used",
        f"{FIRST}.when[2].timezone",
        f"{FIRST}.then[0].cost_limit",
        f"{SECOND}.then[0].model",
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"name": "r"}, "rules: must be a list of rules; got dict"),
        ([42], "rules[0]: must be a mapping"),
        ([{"name": "r", "then": []}], "rules[0] (r).then: Tuple should have at least 1 item"),
        ([{"name": "r", "then": [{"model": "x"}]}], "rules[0] (r).then[0]: missing key 'type'"),
        ([{"then": [{"type": "deny"}]}], "rules[0]: missing key 'name'"),
        (
            [{"name": "r", "when": [{"type": "tags"}], "then": [{"type": "deny"}]}],
            "rules[0] (r).when[0]: needs at least one of any, all, none",
        ),
        (
            [
                {
                    "name": "r",
                    "when": [{"type": "metadata", "key": "a", "equals": 1, "exists": True}],
                    "then": [{"type": "deny"}],
                }
            ],
            "rules[0] (r).when[0]: give either equals or exists, not both",
        ),
        (
            [{"name": "r", "then": [{"type": "set-max-tokens", "max_tokens": 0}]}],
            "rules[0] (r).then[0].max_tokens: Input should be greater than or equal to 1",
        ),
        (
            [{"name": "r", "then": [{"type": "select-model"}]}],
            "rules[0] (r).then[0]: needs at least one of strategy, candidates",
        ),
        (
            [{"name": "r", "then": [{"type": "select-model", "strategy": "cheap"}]}],
            "rules[0] (r).then[0].strategy: unknown strategy 'cheap' (did you mean 'cheapest'?)",
        ),
        (
            [{"name": "r", "then": [{"type": "select-model", "budget_scope": "teams"}]}],
            "rules[0] (r).then[0].budget_scope: unknown scope 'teams' (did you mean 'team'?)",
        ),
        (
            [
                {
                    "name": "r",
                    "when": [{"type": "time", "between": ["09:00", "17:00"], "days": ["monday"]}],
                    "then": [{"type": "deny"}],
                }
            ],
            "rules[0] (r).when[0].days[0]: unknown day 'monday'",
        ),
        (
            [
                {
                    "name": "r",
                    "when": [{"type": "any", "of": [{"type": "not", "condition": {"type": "x"}}]}],
                    "then": [{"type": "deny"}],
                }
            ],
            "rules[0] (r).when[0].of[0].condition: unknown condition type 'x'",
        ),
    ],
)
def test_json_rules_errors_name_the_rule_and_key_path(data: Any, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        RuleSet.parse(data, source="request body")
    assert caught.value.message.startswith(f"request body: {expected}"), caught.value.message


def test_error_field_is_the_first_problem_path() -> None:
    with pytest.raises(ConfigError) as caught:
        RuleSet.parse([{"name": "r", "then": [{"type": "deny", "mesage": "x"}]}])
    assert caught.value.field == "rules[0].then[0]"
    assert "unknown key 'mesage' (did you mean 'message'?)" in caught.value.message


def test_unknown_models_are_checked_only_when_known_models_are_given() -> None:
    data = [{"name": "r", "then": [{"type": "route-to", "model": "gpt-9"}]}]
    assert RuleSet.parse(data).model_references() == {"gpt-9"}
    with pytest.raises(ConfigError, match="unknown model 'gpt-9'; configured: none"):
        RuleSet.parse(data, known_models=())
    assert len(RuleSet.parse(data, known_models={"gpt-9"})) == 1
