from __future__ import annotations

from typing import Any

import pytest

from thrifty.errors import InvalidInput
from thrifty.providers.translate import anthropic_response_to_openai, openai_response_to_anthropic

CREATED = 1_790_000_000


def anthropic_message(**fields: Any) -> dict[str, Any]:
    return {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5-20251001",
        "content": [{"type": "text", "text": "Hello!"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 3},
        **fields,
    }


def openai_completion(message: dict[str, Any], finish_reason: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": CREATED,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
        **fields,
    }


# -- Anthropic → OpenAI -----------------------------------------------------------------------


def test_a_text_answer() -> None:
    assert anthropic_response_to_openai(anthropic_message(), model="gpt-4o", created=CREATED) == {
        "id": "msg_01",
        "object": "chat.completion",
        "created": CREATED,
        "model": "gpt-4o",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello!", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 12,
            "completion_tokens": 3,
            "total_tokens": 15,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    }


def test_tool_use_with_cached_input() -> None:
    resp = anthropic_message(
        content=[
            {"type": "thinking", "thinking": "I should look it up.", "signature": "sig"},
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_9", "name": "get_weather", "input": {"city": "Oslo"}},
        ],
        stop_reason="tool_use",
        usage={
            "input_tokens": 20,
            "output_tokens": 40,
            "cache_read_input_tokens": 2000,
            "cache_creation_input_tokens": 100,
        },
    )
    result = anthropic_response_to_openai(resp, model="gpt-4o", created=CREATED)
    assert result["choices"][0] == {
        "index": 0,
        "message": {
            "role": "assistant",
            "content": "Let me check.",
            "refusal": None,
            "tool_calls": [
                {
                    "id": "toolu_9",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                }
            ],
        },
        "logprobs": None,
        "finish_reason": "tool_calls",
    }
    assert result["usage"] == {
        "prompt_tokens": 2120,
        "completion_tokens": 40,
        "total_tokens": 2160,
        "prompt_tokens_details": {"cached_tokens": 2000},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def test_only_tool_use_has_null_content() -> None:
    resp = anthropic_message(
        content=[{"type": "tool_use", "id": "t", "name": "now", "input": {}}],
        stop_reason="tool_use",
    )
    message = anthropic_response_to_openai(resp, model="m", created=0)["choices"][0]["message"]
    assert message["content"] is None
    assert message["tool_calls"][0]["function"]["arguments"] == "{}"


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("something_new", "stop"),
    ],
)
def test_stop_reasons(stop_reason: str, finish_reason: str) -> None:
    resp = anthropic_message(stop_reason=stop_reason)
    choice = anthropic_response_to_openai(resp, model="m", created=0)["choices"][0]
    assert choice["finish_reason"] == finish_reason


def test_text_blocks_split_at_citations_join_without_separator() -> None:
    resp = anthropic_message(
        content=[
            {"type": "text", "text": "The grass is "},
            {"type": "text", "text": "green", "citations": [{"type": "char_location"}]},
            {"type": "text", "text": "."},
        ]
    )
    message = anthropic_response_to_openai(resp, model="m", created=0)["choices"][0]["message"]
    assert message["content"] == "The grass is green."


def test_unusable_usage_is_left_out() -> None:
    resp = anthropic_message(usage={"input_tokens": -1, "output_tokens": 3})
    assert "usage" not in anthropic_response_to_openai(resp, model="m", created=0)


def test_a_response_that_is_not_an_object() -> None:
    with pytest.raises(InvalidInput):
        anthropic_response_to_openai("oops", model="m", created=0)


# -- OpenAI → Anthropic -----------------------------------------------------------------------


def test_an_openai_text_answer() -> None:
    resp = openai_completion({"role": "assistant", "content": "Hello!"}, "stop")
    assert openai_response_to_anthropic(resp, model="claude-x", message_id="msg_gw1") == {
        "id": "msg_gw1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [{"type": "text", "text": "Hello!"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 12,
            "output_tokens": 3,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


def test_openai_tool_calls_with_cached_prompt() -> None:
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            },
            {"id": "call_2", "type": "function", "function": {"name": "now", "arguments": ""}},
        ],
    }
    resp = openai_completion(
        message,
        "tool_calls",
        usage={
            "prompt_tokens": 1500,
            "completion_tokens": 30,
            "total_tokens": 1530,
            "prompt_tokens_details": {"cached_tokens": 1024},
        },
    )
    result = openai_response_to_anthropic(resp, model="claude-x", message_id="msg_gw2")
    assert result["content"] == [
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "call_2", "name": "now", "input": {}},
    ]
    assert result["stop_reason"] == "tool_use"
    assert result["usage"] == {
        "input_tokens": 476,
        "output_tokens": 30,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 1024,
    }


def test_invalid_tool_arguments_are_kept_raw() -> None:
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "f", "arguments": '{"a": 1'}}
        ],
    }
    result = openai_response_to_anthropic(
        openai_completion(message, "length"), model="m", message_id="msg"
    )
    assert result["content"][0]["input"] == {"_raw": '{"a": 1'}
    assert result["stop_reason"] == "max_tokens"


@pytest.mark.parametrize(
    ("finish_reason", "stop_reason"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("function_call", "tool_use"),
        ("content_filter", "refusal"),
    ],
)
def test_finish_reasons(finish_reason: str, stop_reason: str) -> None:
    resp = openai_completion({"role": "assistant", "content": "x"}, finish_reason)
    result = openai_response_to_anthropic(resp, model="m", message_id="msg")
    assert result["stop_reason"] == stop_reason


def test_a_refusal_becomes_text() -> None:
    message = {"role": "assistant", "content": None, "refusal": "I can't help with that."}
    resp = openai_completion(message, "stop")
    result = openai_response_to_anthropic(resp, model="m", message_id="msg")
    assert result["content"] == [{"type": "text", "text": "I can't help with that."}]


def test_missing_usage_reads_as_zero_tokens() -> None:
    resp = openai_completion({"role": "assistant", "content": "x"}, "stop", usage=None)
    result = openai_response_to_anthropic(resp, model="m", message_id="msg")
    assert result["usage"] == {"input_tokens": 0, "output_tokens": 0}
