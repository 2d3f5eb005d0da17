from __future__ import annotations

from typing import Any

import pytest

from thrifty.errors import InvalidInput
from thrifty.providers.translate import anthropic_request_to_openai, openai_request_to_anthropic
from thrifty.providers.translate_request import JSON_OBJECT_INSTRUCTION, LEADING_USER_TEXT

PNG = "iVBORw0KGgo="
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def to_anthropic(body: dict[str, Any]) -> dict[str, Any]:
    return openai_request_to_anthropic(
        {"model": "gpt-4o", **body}, upstream_model="claude-haiku-4-5", default_max_tokens=4096
    )


def to_openai(body: dict[str, Any]) -> dict[str, Any]:
    return anthropic_request_to_openai(
        {"model": "claude-haiku-4-5", **body}, upstream_model="gpt-4o-mini"
    )


# -- OpenAI → Anthropic -----------------------------------------------------------------------


def test_a_simple_chat() -> None:
    body = {
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Hello"},
        ]
    }
    assert to_anthropic(body) == {
        "model": "claude-haiku-4-5",
        "system": "You are terse.",
        "messages": [{"role": "user", "content": "Hello"}],
        "max_tokens": 4096,
    }


def test_system_and_developer_messages_join_the_system_prompt_in_order() -> None:
    body = {
        "messages": [
            {"role": "developer", "content": [{"type": "text", "text": "Rule one."}]},
            {"role": "user", "content": "Hi"},
            {"role": "system", "content": "Rule two."},
            {"role": "user", "content": "Again"},
        ]
    }
    result = to_anthropic(body)
    assert result["system"] == "Rule one.\n\nRule two."
    # Both user turns are merged: Anthropic wants alternating roles.
    assert result["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": "Again"}],
        }
    ]


def test_images_from_data_urls_and_https_urls() -> None:
    body = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Compare"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                    {
                        "type": "image_url",
                        "image_url": {"url": "https://example.com/b.jpg", "detail": "low"},
                    },
                ],
            }
        ]
    }
    assert to_anthropic(body)["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Compare"},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                },
                {"type": "image", "source": {"type": "url", "url": "https://example.com/b.jpg"}},
            ],
        }
    ]


def test_a_pdf_file_part_becomes_a_document() -> None:
    part = {
        "type": "file",
        "file": {"filename": "report.pdf", "file_data": "data:application/pdf;base64,JVBERi0="},
    }
    result = to_anthropic({"messages": [{"role": "user", "content": [part]}]})
    assert result["messages"][0]["content"] == [
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="},
            "title": "report.pdf",
        }
    ]


def test_tool_calls_and_tool_results() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "Weather in Paris and Oslo?"},
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [
                    {
                        "id": "call_a",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    },
                    {
                        "id": "call_b",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "call_a", "content": "18°C, sunny"},
            {
                "role": "tool",
                "tool_call_id": "call_b",
                "content": [{"type": "text", "text": "4°C, snow"}],
            },
            {"role": "user", "content": "Which is warmer?"},
        ],
        "tools": [WEATHER_TOOL],
    }
    result = to_anthropic(body)
    assert result["messages"] == [
        {"role": "user", "content": "Weather in Paris and Oslo?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {
                    "type": "tool_use",
                    "id": "call_a",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
                {
                    "type": "tool_use",
                    "id": "call_b",
                    "name": "get_weather",
                    "input": {"city": "Oslo"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_a", "content": "18°C, sunny"},
                {
                    "type": "tool_result",
                    "tool_use_id": "call_b",
                    "content": [{"type": "text", "text": "4°C, snow"}],
                },
                {"type": "text", "text": "Which is warmer?"},
            ],
        },
    ]
    assert result["tools"] == [
        {
            "name": "get_weather",
            "description": "Current weather in a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]
    assert "tool_choice" not in result  # auto is Anthropic's default


def test_empty_tool_arguments_read_as_no_arguments() -> None:
    call = {"id": "c", "type": "function", "function": {"name": "now", "arguments": ""}}
    body = {
        "messages": [
            {"role": "user", "content": "Time?"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
        ]
    }
    assert to_anthropic(body)["messages"][1] == {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "c", "name": "now", "input": {}}],
    }


def test_a_tool_without_parameters_gets_an_empty_object_schema() -> None:
    tool = {"type": "function", "function": {"name": "now"}}
    result = to_anthropic({"messages": [{"role": "user", "content": "x"}], "tools": [tool]})
    assert result["tools"] == [
        {"name": "now", "input_schema": {"type": "object", "properties": {}}}
    ]


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("none", None, {"type": "none"}),
        ("required", None, {"type": "any"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            None,
            {"type": "tool", "name": "get_weather"},
        ),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
    ],
)
def test_tool_choice(choice: Any, parallel: bool | None, expected: dict[str, Any]) -> None:
    body: dict[str, Any] = {"messages": [{"role": "user", "content": "x"}], "tools": [WEATHER_TOOL]}
    if choice is not None:
        body["tool_choice"] = choice
    if parallel is not None:
        body["parallel_tool_calls"] = parallel
    assert to_anthropic(body)["tool_choice"] == expected


def test_a_tool_choice_without_tools_is_dropped() -> None:
    result = to_anthropic({"messages": [{"role": "user", "content": "x"}], "tool_choice": "none"})
    assert "tool_choice" not in result and "tools" not in result


def test_sampling_parameters() -> None:
    body = {
        "messages": [{"role": "user", "content": "x"}],
        "max_tokens": 100,
        "max_completion_tokens": 200,
        "temperature": 1.6,
        "top_p": 0.9,
        "stop": ["\n\n", "END"],
        "stream": True,
        "stream_options": {"include_usage": True},
        "user": "user-42",
        "seed": 7,
        "n": 1,
    }
    assert to_anthropic(body) == {
        "model": "claude-haiku-4-5",
        "messages": [{"role": "user", "content": "x"}],
        "max_tokens": 200,
        "temperature": 1.0,
        "stop_sequences": ["\n\n", "END"],
        "stream": True,
        "metadata": {"user_id": "user-42"},
    }


def test_top_p_is_sent_only_without_temperature() -> None:
    body = {"messages": [{"role": "user", "content": "x"}], "top_p": 0.5}
    assert to_anthropic(body)["top_p"] == 0.5


def test_max_tokens_and_a_single_stop_string() -> None:
    body = {"messages": [{"role": "user", "content": "x"}], "max_tokens": 50, "stop": "END"}
    result = to_anthropic(body)
    assert (result["max_tokens"], result["stop_sequences"]) == (50, ["END"])


def test_json_object_format_becomes_a_system_instruction() -> None:
    body = {
        "messages": [{"role": "system", "content": "Extract."}, {"role": "user", "content": "x"}],
        "response_format": {"type": "json_object"},
    }
    assert to_anthropic(body)["system"] == f"Extract.\n\n{JSON_OBJECT_INSTRUCTION}"


def test_json_schema_format_puts_the_schema_in_the_system_prompt() -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    body = {
        "messages": [{"role": "user", "content": "x"}],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "person", "schema": schema, "strict": True},
        },
    }
    system = to_anthropic(body)["system"]
    assert system.startswith("Respond with a single valid JSON value that conforms")
    assert system.endswith(
        '{"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}'
    )


def test_empty_and_whitespace_texts_are_dropped() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": ""},
            {
                "role": "user",
                "content": [{"type": "text", "text": "  "}, {"type": "text", "text": "Yo"}],
            },
        ]
    }
    assert to_anthropic(body)["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": "Yo"}],
        }
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"messages": [{"role": "user", "content": "x"}], "n": 2}, "n"),
        ({"messages": "hello"}, "messages"),
        ({}, "messages"),
        ({"messages": [{"role": "system", "content": "only a system prompt"}]}, "messages"),
        ({"messages": ["hi"]}, "messages.0"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages.0.role"),
        ({"messages": [{"role": "user"}]}, "messages.0.content"),
        (
            {
                "messages": [
                    {"role": "user", "content": "a"},
                    {"role": "assistant", "content": "b"},
                    {"role": "user", "content": "c"},
                    {"role": "user", "content": [{"type": "text", "text": "d"}, {"type": "video"}]},
                ]
            },
            "messages.3.content.1.type",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}
                ]
            },
            "messages.0.content.0.type",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "ftp://x/a.png"}}],
                    }
                ]
            },
            "messages.0.content.0.image_url.url",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "image_url", "image_url": {"url": "data:image/bmp;base64,AA"}}
                        ],
                    }
                ]
            },
            "messages.0.content.0.image_url.url",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "file", "file": {"file_id": "f"}}]}
                ]
            },
            "messages.0.content.0.file.file_id",
        ),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {"id": "c", "function": {"name": "f", "arguments": "{not json"}}
                        ],
                    }
                ]
            },
            "messages.0.tool_calls.0.function.arguments",
        ),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages.0.tool_call_id"),
        ({"messages": [{"role": "function", "name": "f", "content": "x"}]}, "messages.0.role"),
        ({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, "max_tokens"),
        ({"messages": [{"role": "user", "content": "x"}], "temperature": "hot"}, "temperature"),
        ({"messages": [{"role": "user", "content": "x"}], "stop": [1]}, "stop.0"),
        (
            {"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "custom"}]},
            "tools.0.type",
        ),
        (
            {"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "yaml"}},
            "response_format.type",
        ),
    ],
)
def test_malformed_requests_name_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        to_anthropic(body)
    assert caught.value.field == field
    assert caught.value.message.startswith(f"{field}: ")


def test_a_body_that_is_not_an_object() -> None:
    with pytest.raises(InvalidInput) as caught:
        openai_request_to_anthropic([], upstream_model="m", default_max_tokens=1)
    assert caught.value.field == "body"


def test_n_greater_than_one_says_why() -> None:
    with pytest.raises(InvalidInput, match="one choice per request"):
        to_anthropic({"messages": [{"role": "user", "content": "x"}], "n": 3})


# -- Anthropic → OpenAI -----------------------------------------------------------------------


def test_anthropic_chat_with_system_blocks() -> None:
    body = {
        "system": [
            {"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}
        ],
        "messages": [{"role": "user", "content": "Hello"}],
        "max_tokens": 300,
        "temperature": 0.2,
        "top_k": 40,
        "stop_sequences": ["END"],
        "metadata": {"user_id": "u-1"},
    }
    assert to_openai(body) == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Hello"},
        ],
        "max_completion_tokens": 300,
        "temperature": 0.2,
        "stop": ["END"],
        "user": "u-1",
    }


def test_max_tokens_field_for_servers_that_only_know_max_tokens() -> None:
    body = {"messages": [{"role": "user", "content": "x"}], "max_tokens": 10}
    result = anthropic_request_to_openai(body, upstream_model="m", max_tokens_field="max_tokens")
    assert result["max_tokens"] == 10 and "max_completion_tokens" not in result


def test_anthropic_streaming_asks_for_usage() -> None:
    result = to_openai({"messages": [{"role": "user", "content": "x"}], "stream": True})
    assert result["stream"] is True
    assert result["stream_options"] == {"include_usage": True}


def test_anthropic_tool_use_and_results() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "Use the tool.", "signature": "sig"},
                    {"type": "text", "text": "Checking."},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "get_weather",
                        "input": {"city": "Paris"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18°C"},
                    {"type": "text", "text": "And tomorrow?"},
                ],
            },
        ],
        "tools": [
            {
                "name": "get_weather",
                "description": "Current weather",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
            }
        ],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
    }
    assert to_openai(body) == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [
                    {
                        "id": "toolu_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "toolu_1", "content": "18°C"},
            {"role": "user", "content": "And tomorrow?"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Current weather",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                },
            }
        ],
        "tool_choice": "required",
        "parallel_tool_calls": False,
    }


def test_tool_result_images_errors_and_named_tool_choice() -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
    body = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "content": [{"type": "text", "text": "screenshot:"}, image],
                    },
                    {
                        "type": "tool_result",
                        "tool_use_id": "t2",
                        "content": "boom",
                        "is_error": True,
                    },
                ],
            }
        ],
        "tools": [{"name": "shot", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "tool", "name": "shot"},
    }
    result = to_openai(body)
    assert result["messages"] == [
        {
            "role": "tool",
            "tool_call_id": "t1",
            "content": [{"type": "text", "text": "screenshot:"}],
        },
        {"role": "tool", "tool_call_id": "t2", "content": "Error: boom"},
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
            ],
        },
    ]
    assert result["tool_choice"] == {"type": "function", "function": {"name": "shot"}}


def test_anthropic_images_and_documents() -> None:
    body = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "url", "url": "https://example.com/a.png"},
                    },
                    {
                        "type": "document",
                        "source": {
                            "type": "base64",
                            "media_type": "application/pdf",
                            "data": "JVB=",
                        },
                        "title": "a.pdf",
                    },
                    {
                        "type": "document",
                        "source": {"type": "text", "media_type": "text/plain", "data": "plain"},
                    },
                ],
            }
        ]
    }
    assert to_openai(body)["messages"][0]["content"] == [
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
        {
            "type": "file",
            "file": {"file_data": "data:application/pdf;base64,JVB=", "filename": "a.pdf"},
        },
        {"type": "text", "text": "plain"},
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"messages": {"role": "user"}}, "messages"),
        ({"messages": [{"role": "system", "content": "x"}]}, "messages.0.role"),
        (
            {"messages": [{"role": "user", "content": [{"type": "search_result"}]}]},
            "messages.0.content.0.type",
        ),
        (
            {
                "messages": [{"role": "user", "content": "x"}],
                "tools": [{"type": "web_search_20250305", "name": "web_search"}],
            },
            "tools.0.type",
        ),
        (
            {
                "messages": [{"role": "user", "content": "x"}],
                "tools": [{"name": "f", "input_schema": {"type": "object"}}],
                "tool_choice": {"type": "sometimes"},
            },
            "tool_choice.type",
        ),
        (
            {"messages": [{"role": "user", "content": "x"}], "system": [{"type": "image"}]},
            "system.0.type",
        ),
        ({"messages": [{"role": "user", "content": "x"}], "temperature": 1.5}, "temperature"),
    ],
)
def test_malformed_anthropic_requests_name_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        to_openai(body)
    assert caught.value.field == field


def test_a_conversation_starting_with_the_assistant_gets_a_user_turn_first() -> None:
    body = {
        "messages": [
            {"role": "assistant", "content": "How can I help?"},
            {"role": "user", "content": "Tell me a joke."},
        ]
    }
    assert to_anthropic(body)["messages"] == [
        {"role": "user", "content": LEADING_USER_TEXT},
        {"role": "assistant", "content": "How can I help?"},
        {"role": "user", "content": "Tell me a joke."},
    ]
