from __future__ import annotations

from typing import Any

import pytest

from thrifty.providers.usage import (
    Usage,
    usage_from_anthropic,
    usage_from_openai,
    usage_to_anthropic,
    usage_to_openai,
)


def test_openai_usage_with_details() -> None:
    report = {
        "prompt_tokens": 1200,
        "completion_tokens": 300,
        "total_tokens": 1500,
        "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 128, "audio_tokens": 0},
    }
    assert usage_from_openai(report) == Usage(
        input_tokens=1200, output_tokens=300, cached_input_tokens=1024, reasoning_tokens=128
    )


def test_openai_usage_without_details() -> None:
    report = {"prompt_tokens": 10, "completion_tokens": 2, "prompt_tokens_details": None}
    assert usage_from_openai(report) == Usage(10, 2)


def test_anthropic_usage_counts_cache_reads_and_writes_as_input() -> None:
    report = {
        "input_tokens": 50,
        "output_tokens": 20,
        "cache_read_input_tokens": 1000,
        "cache_creation_input_tokens": 200,
        "service_tier": "standard",
    }
    assert usage_from_anthropic(report) == Usage(
        input_tokens=1250, output_tokens=20, cached_input_tokens=1000, cache_write_tokens=200
    )


def test_anthropic_usage_with_null_cache_fields() -> None:
    report = {
        "input_tokens": 7,
        "output_tokens": 3,
        "cache_read_input_tokens": None,
        "cache_creation_input_tokens": None,
    }
    assert usage_from_anthropic(report) == Usage(7, 3)


@pytest.mark.parametrize(
    "report",
    [
        None,
        "12 tokens",
        {},
        {"prompt_tokens": 10},
        {"prompt_tokens": None, "completion_tokens": 5},
        {"prompt_tokens": -1, "completion_tokens": 5},
        {"prompt_tokens": 10.5, "completion_tokens": 5},
        {"prompt_tokens": "10", "completion_tokens": 5},
        {"prompt_tokens": True, "completion_tokens": 5},
        {
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "prompt_tokens_details": {"cached_tokens": -3},
        },
        {"prompt_tokens": 10, "completion_tokens": 5, "prompt_tokens_details": "many"},
        {
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "prompt_tokens_details": {"cached_tokens": 11},
        },
        {
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "completion_tokens_details": {"reasoning_tokens": 6},
        },
    ],
)
def test_unusable_openai_usage_reads_as_not_reported(report: Any) -> None:
    assert usage_from_openai(report) is None


@pytest.mark.parametrize(
    "report",
    [
        None,
        [],
        {"output_tokens": 5},
        {"input_tokens": 5},
        {"input_tokens": 5, "output_tokens": -5},
        {"input_tokens": 5.0, "output_tokens": 5},
        {"input_tokens": 5, "output_tokens": 5, "cache_read_input_tokens": "3"},
        {"input_tokens": 5, "output_tokens": 5, "cache_creation_input_tokens": -1},
    ],
)
def test_unusable_anthropic_usage_reads_as_not_reported(report: Any) -> None:
    assert usage_from_anthropic(report) is None


def test_usage_to_openai() -> None:
    usage = Usage(1250, 20, cached_input_tokens=1000, cache_write_tokens=200, reasoning_tokens=5)
    assert usage_to_openai(usage) == {
        "prompt_tokens": 1250,
        "completion_tokens": 20,
        "total_tokens": 1270,
        "prompt_tokens_details": {"cached_tokens": 1000},
        "completion_tokens_details": {"reasoning_tokens": 5},
    }


def test_usage_to_anthropic() -> None:
    usage = Usage(1250, 20, cached_input_tokens=1000, cache_write_tokens=200, reasoning_tokens=5)
    assert usage_to_anthropic(usage) == {
        "input_tokens": 50,
        "output_tokens": 20,
        "cache_creation_input_tokens": 200,
        "cache_read_input_tokens": 1000,
    }


def test_both_shapes_read_back_what_they_write() -> None:
    anthropic_side = Usage(1250, 20, cached_input_tokens=1000, cache_write_tokens=200)
    assert usage_from_anthropic(usage_to_anthropic(anthropic_side)) == anthropic_side
    openai_side = Usage(1250, 20, cached_input_tokens=1000, reasoning_tokens=5)
    assert usage_from_openai(usage_to_openai(openai_side)) == openai_side
