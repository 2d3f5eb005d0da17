"""Provider model names to gateway model ids: explicit names first, then the fallbacks."""

from __future__ import annotations

import pytest

from thrifty.reconcile import ModelMatch, match_model, match_models

LEDGER = [
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-4o-2024-11-20",
    "claude-sonnet-4",
    "anthropic/claude-3-5-haiku",
]


@pytest.mark.parametrize(
    ("name", "model", "rule"),
    [
        ("gpt-4o", "gpt-4o", "exact"),
        ("GPT-4o ", "gpt-4o", "case"),
        ("openai/gpt-4o-mini", "gpt-4o-mini", "provider_prefix"),
        ("Claude Sonnet 4", "claude-sonnet-4", "display_name"),
        ("gpt-4o-2024-08-06", "gpt-4o", "version_suffix"),  # the undated id, not 2024-11-20
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini", "version_suffix"),
        ("claude-sonnet-4-20250514", "claude-sonnet-4", "version_suffix"),
        ("claude-3-5-haiku-20241022", "anthropic/claude-3-5-haiku", "version_suffix"),
        ("claude-3-5-haiku-latest", "anthropic/claude-3-5-haiku", "version_suffix"),
        ("claude-sonnet-4@20250514", "claude-sonnet-4", "version_suffix"),
    ],
)
def test_fallbacks(name: str, model: str, rule: str) -> None:
    assert match_model(name, LEDGER, {}) == ModelMatch(name, model, rule)


def test_a_dated_ledger_id_matches_an_undated_invoice_name() -> None:
    match = match_model("Claude Sonnet 4", ["claude-sonnet-4-20250514"], {})
    assert (match.ledger_model, match.rule) == ("claude-sonnet-4-20250514", "version_suffix")


def test_explicit_names_win_even_for_an_id_the_ledger_lacks() -> None:
    names = {
        "Claude Haiku 3.5": "anthropic/claude-3-5-haiku",
        "gpt-4o-2024-08-06": "gpt-4o-2024-11-20",
    }
    assert (
        match_model("claude haiku 3.5", LEDGER, names).ledger_model == "anthropic/claude-3-5-haiku"
    )
    assert match_model("gpt-4o-2024-08-06", LEDGER, names).ledger_model == "gpt-4o-2024-11-20"
    assert match_model("o3", LEDGER, {"o3": "o3-pro"}) == ModelMatch("o3", "o3-pro", "explicit")


def test_names_that_match_nothing_or_several_are_not_guessed() -> None:
    assert match_model("Claude Haiku 3.5", LEDGER, {}) == ModelMatch(
        "Claude Haiku 3.5", None, "unmapped"
    )
    assert match_model("evals | gpt-4o-mini-2024-07-18", LEDGER, {}).rule == "unmapped"
    ambiguous = match_model("gpt-4o-2024-08-06", ["gpt-4o-2024-05-13", "gpt-4o-2024-11-20"], {})
    assert ambiguous == ModelMatch(
        "gpt-4o-2024-08-06", None, "ambiguous", ("gpt-4o-2024-05-13", "gpt-4o-2024-11-20")
    )


def test_match_models_maps_each_distinct_name_once() -> None:
    found = match_models(["gpt-4o-2024-08-06", "gpt-4o-2024-08-06", "x"], LEDGER, {})
    assert list(found) == ["gpt-4o-2024-08-06", "x"]
