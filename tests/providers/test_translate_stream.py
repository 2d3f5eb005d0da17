from __future__ import annotations

import json
from typing import Any

from thrifty.providers.translate import AnthropicToOpenAIStream, OpenAIToAnthropicStream
from thrifty.providers.usage import Usage

CREATED = 1_790_000_000
Event = tuple[str, dict[str, Any]]


def message_start(input_tokens: int = 25, cache_read: int = 0) -> Event:
    usage = {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cache_read,
        "output_tokens": 1,
    }
    message: dict[str, Any] = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }
    return ("message_start", {"type": "message_start", "message": message})


def block_start(index: int, block: dict[str, Any]) -> Event:
    return (
        "content_block_start",
        {"type": "content_block_start", "index": index, "content_block": block},
    )


def block_delta(index: int, delta: dict[str, Any]) -> Event:
    return ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})


def text_delta(index: int, text: str) -> Event:
    return block_delta(index, {"type": "text_delta", "text": text})


def json_delta(index: int, fragment: str) -> Event:
    return block_delta(index, {"type": "input_json_delta", "partial_json": fragment})


def block_stop(index: int) -> Event:
    return ("content_block_stop", {"type": "content_block_stop", "index": index})


def message_delta(stop_reason: str, output_tokens: int) -> Event:
    return (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": output_tokens},
        },
    )


MESSAGE_STOP: Event = ("message_stop", {"type": "message_stop"})
PING: Event = ("ping", {"type": "ping"})


def run(stream: AnthropicToOpenAIStream, events: list[Event]) -> list[dict[str, Any]]:
    chunks = []
    for name, data in events:
        chunks += stream.feed(name, data)
    return chunks + stream.finish()


def deltas(chunks: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str | None]]:
    return [
        (c["choices"][0]["delta"], c["choices"][0]["finish_reason"]) for c in chunks if c["choices"]
    ]


# -- Anthropic → OpenAI -----------------------------------------------------------------------


def test_a_text_stream_with_usage() -> None:
    stream = AnthropicToOpenAIStream("gpt-4o", "chatcmpl-gw1", CREATED, include_usage=True)
    events = [
        message_start(cache_read=100),
        block_start(0, {"type": "text", "text": ""}),
        PING,
        text_delta(0, "Hello"),
        text_delta(0, ", world"),
        block_stop(0),
        message_delta("end_turn", 9),
        MESSAGE_STOP,
    ]
    chunks = run(stream, events)
    head = {
        "id": "chatcmpl-gw1",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": "gpt-4o",
    }
    assert chunks == [
        {
            **head,
            "choices": [
                {
                    "index": 0,
                    "delta": {"role": "assistant", "content": ""},
                    "logprobs": None,
                    "finish_reason": None,
                }
            ],
            "usage": None,
        },
        {
            **head,
            "choices": [
                {"index": 0, "delta": {"content": "Hello"}, "logprobs": None, "finish_reason": None}
            ],
            "usage": None,
        },
        {
            **head,
            "choices": [
                {
                    "index": 0,
                    "delta": {"content": ", world"},
                    "logprobs": None,
                    "finish_reason": None,
                }
            ],
            "usage": None,
        },
        {
            **head,
            "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}],
            "usage": None,
        },
        {
            **head,
            "choices": [],
            "usage": {
                "prompt_tokens": 125,
                "completion_tokens": 9,
                "total_tokens": 134,
                "prompt_tokens_details": {"cached_tokens": 100},
                "completion_tokens_details": {"reasoning_tokens": 0},
            },
        },
    ]
    assert stream.usage == Usage(125, 9, cached_input_tokens=100)
    assert stream.complete and stream.finish_reason == "stop"
    assert stream.output_text == "Hello, world"


def test_without_include_usage_chunks_carry_no_usage_field() -> None:
    stream = AnthropicToOpenAIStream("gpt-4o", "c", CREATED)
    events = [message_start(), block_start(0, {"type": "text", "text": ""}), text_delta(0, "Hi")]
    chunks = run(stream, [*events, block_stop(0), message_delta("max_tokens", 1), MESSAGE_STOP])
    assert all("usage" not in c for c in chunks)
    assert deltas(chunks) == [
        ({"role": "assistant", "content": ""}, None),
        ({"content": "Hi"}, None),
        ({}, "length"),
    ]


def test_tool_use_with_fragmented_json() -> None:
    stream = AnthropicToOpenAIStream("gpt-4o", "c", CREATED, include_usage=True)
    events = [
        message_start(),
        block_start(0, {"type": "text", "text": ""}),
        text_delta(0, "Checking both."),
        block_stop(0),
        block_start(1, {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {}}),
        json_delta(1, ""),
        json_delta(1, '{"ci'),
        json_delta(1, 'ty": "Par'),
        json_delta(1, 'is"}'),
        block_stop(1),
        block_start(2, {"type": "tool_use", "id": "toolu_b", "name": "get_weather", "input": {}}),
        json_delta(2, '{"city": "Oslo"}'),
        block_stop(2),
        message_delta("tool_use", 80),
        MESSAGE_STOP,
    ]
    chunks = run(stream, events)
    assert deltas(chunks) == [
        ({"role": "assistant", "content": ""}, None),
        ({"content": "Checking both."}, None),
        (
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "toolu_a",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ]
            },
            None,
        ),
        ({"tool_calls": [{"index": 0, "function": {"arguments": '{"ci'}}]}, None),
        ({"tool_calls": [{"index": 0, "function": {"arguments": 'ty": "Par'}}]}, None),
        ({"tool_calls": [{"index": 0, "function": {"arguments": 'is"}'}}]}, None),
        (
            {
                "tool_calls": [
                    {
                        "index": 1,
                        "id": "toolu_b",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ]
            },
            None,
        ),
        ({"tool_calls": [{"index": 1, "function": {"arguments": '{"city": "Oslo"}'}}]}, None),
        ({}, "tool_calls"),
    ]
    assert chunks[-1]["usage"]["completion_tokens"] == 80
    arguments = "".join(
        call["function"].get("arguments", "")
        for chunk in chunks
        if chunk["choices"]
        for call in chunk["choices"][0]["delta"].get("tool_calls", [])
        if call["index"] == 0
    )
    assert json.loads(arguments) == {"city": "Paris"}


def test_thinking_blocks_are_skipped() -> None:
    stream = AnthropicToOpenAIStream("gpt-4o", "c", CREATED)
    events = [
        message_start(),
        block_start(0, {"type": "thinking", "thinking": ""}),
        block_delta(0, {"type": "thinking_delta", "thinking": "Hmm."}),
        block_delta(0, {"type": "signature_delta", "signature": "sig"}),
        block_stop(0),
        block_start(1, {"type": "text", "text": ""}),
        text_delta(1, "Yes."),
        block_stop(1),
        message_delta("end_turn", 12),
        MESSAGE_STOP,
    ]
    assert deltas(run(stream, events)) == [
        ({"role": "assistant", "content": ""}, None),
        ({"content": "Yes."}, None),
        ({}, "stop"),
    ]


def test_a_stream_cut_before_message_stop_still_reports_usage_so_far() -> None:
    stream = AnthropicToOpenAIStream("gpt-4o", "c", CREATED, include_usage=True)
    events = [
        message_start(input_tokens=400, cache_read=50),
        block_start(0, {"type": "text", "text": ""}),
        text_delta(0, "The first half of"),
    ]
    chunks = []
    for name, data in events:
        chunks += stream.feed(name, data)
    assert stream.usage == Usage(450, 1, cached_input_tokens=50)
    assert not stream.complete and stream.finish_reason is None
    assert stream.output_text == "The first half of"
    closing = stream.finish()
    assert closing == [
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": "gpt-4o",
            "choices": [],
            "usage": {
                "prompt_tokens": 450,
                "completion_tokens": 1,
                "total_tokens": 451,
                "prompt_tokens_details": {"cached_tokens": 50},
                "completion_tokens_details": {"reasoning_tokens": 0},
            },
        }
    ]
    assert stream.finish() == []  # the usage chunk is sent once


def test_a_stream_cut_after_message_delta_has_the_final_output_count() -> None:
    stream = AnthropicToOpenAIStream("gpt-4o", "c", CREATED)
    for name, data in [message_start(), message_delta("end_turn", 42)]:
        stream.feed(name, data)
    assert stream.usage == Usage(25, 42)
    assert not stream.complete  # message_stop never came


def test_newer_message_delta_usage_updates_input_figures() -> None:
    stream = AnthropicToOpenAIStream("gpt-4o", "c", CREATED)
    stream.feed(*message_start(input_tokens=10))
    name, data = message_delta("end_turn", 5)
    data["usage"] = {"input_tokens": 12, "cache_read_input_tokens": 3, "output_tokens": 5}
    stream.feed(name, data)
    assert stream.usage == Usage(15, 5, cached_input_tokens=3)


def test_an_error_event_is_kept() -> None:
    stream = AnthropicToOpenAIStream("gpt-4o", "c", CREATED)
    stream.feed(*message_start())
    error = {"type": "overloaded_error", "message": "Overloaded"}
    assert stream.feed("error", {"type": "error", "error": error}) == []
    assert stream.error == error


# -- OpenAI → Anthropic -----------------------------------------------------------------------


def chunk(
    delta: dict[str, Any] | None = None, finish: str | None = None, **fields: Any
) -> dict[str, Any]:
    choices = (
        []
        if delta is None
        else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
    )
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": "gpt-4o-mini",
        "choices": choices,
        "usage": None,
        **fields,
    }


def run_openai(stream: OpenAIToAnthropicStream, chunks: list[dict[str, Any]]) -> list[Event]:
    events = []
    for c in chunks:
        events += stream.feed(c)
    return events + stream.finish()


def test_an_openai_text_stream() -> None:
    stream = OpenAIToAnthropicStream("claude-x", "msg_gw1", input_tokens=11)
    chunks = [
        chunk({"role": "assistant", "content": "", "refusal": None}),
        chunk({"content": "Hello"}),
        chunk({"content": ", world"}),
        chunk({}, "stop"),
        chunk(
            None,
            usage={
                "prompt_tokens": 12,
                "completion_tokens": 4,
                "total_tokens": 16,
                "prompt_tokens_details": {"cached_tokens": 0},
            },
        ),
    ]
    assert run_openai(stream, chunks) == [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_gw1",
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-x",
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": 11, "output_tokens": 0},
                },
            },
        ),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "Hello"},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": ", world"},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {
                    "input_tokens": 12,
                    "output_tokens": 4,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                },
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    assert stream.usage == Usage(12, 4)
    assert stream.complete and stream.output_text == "Hello, world"


def test_openai_tool_calls_with_fragmented_arguments() -> None:
    stream = OpenAIToAnthropicStream("claude-x", "msg_gw2")

    def call(index: int, arguments: str, call_id: str | None = None) -> dict[str, Any]:
        function = {"arguments": arguments}
        delta: dict[str, Any] = {"index": index, "function": function}
        if call_id is not None:  # the first fragment of a call names it
            delta |= {"id": call_id, "type": "function"}
            function["name"] = "get_weather"
        return chunk({"tool_calls": [delta]})

    chunks = [
        chunk({"role": "assistant", "content": None}),
        chunk({"content": "Let me check."}),
        call(0, "", "call_a"),
        call(0, '{"ci'),
        call(0, 'ty":"Paris"}'),
        call(1, '{"city":"Oslo"}', "call_b"),
        chunk({}, "tool_calls"),
        chunk(None, usage={"prompt_tokens": 90, "completion_tokens": 30, "total_tokens": 120}),
    ]
    events = run_openai(stream, chunks)
    names = [name for name, _ in events]
    assert names == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert events[4][1] == {
        "type": "content_block_start",
        "index": 1,
        "content_block": {"type": "tool_use", "id": "call_a", "name": "get_weather", "input": {}},
    }
    assert events[5][1] == {
        "type": "content_block_delta",
        "index": 1,
        "delta": {"type": "input_json_delta", "partial_json": '{"ci'},
    }
    assert events[8][1]["content_block"]["id"] == "call_b"
    assert events[9][1]["index"] == 2
    assert events[11][1]["delta"]["stop_reason"] == "tool_use"
    assert events[11][1]["usage"]["output_tokens"] == 30
    fragments = "".join(
        d["delta"]["partial_json"]
        for n, d in events
        if n == "content_block_delta" and d["index"] == 1
    )
    assert json.loads(fragments) == {"city": "Paris"}


def test_a_tool_call_sent_whole_without_index() -> None:
    stream = OpenAIToAnthropicStream("claude-x", "msg_3")
    whole = {"id": "t1", "type": "function", "function": {"name": "now", "arguments": "{}"}}
    events = run_openai(stream, [chunk({"tool_calls": [whole]}, "tool_calls")])
    assert events[1] == (
        "content_block_start",
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "tool_use", "id": "t1", "name": "now", "input": {}},
        },
    )
    assert events[2][1]["delta"] == {"type": "input_json_delta", "partial_json": "{}"}


def test_an_openai_stream_cut_early_closes_without_a_stop_reason() -> None:
    stream = OpenAIToAnthropicStream("claude-x", "msg_4")
    events = []
    for c in [chunk({"role": "assistant", "content": ""}), chunk({"content": "Half an ans"})]:
        events += stream.feed(c)
    assert stream.usage is None and not stream.complete
    assert stream.output_text == "Half an ans"
    counted = Usage(30, 4)
    closing = stream.finish(counted)
    assert closing == [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": None, "stop_sequence": None},
                "usage": {
                    "input_tokens": 30,
                    "output_tokens": 4,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                },
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    assert stream.finish() == []


def test_an_empty_upstream_stream_still_makes_a_whole_message() -> None:
    stream = OpenAIToAnthropicStream("claude-x", "msg_5")
    assert [name for name, _ in stream.finish()] == [
        "message_start",
        "message_delta",
        "message_stop",
    ]


def test_an_openai_error_chunk_is_kept() -> None:
    stream = OpenAIToAnthropicStream("claude-x", "msg_6")
    assert stream.feed({"error": {"message": "rate limited", "type": "rate_limit"}}) == []
    assert stream.error == {"message": "rate limited", "type": "rate_limit"}
