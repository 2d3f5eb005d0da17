"""The simulated provider, driven by the official OpenAI and Anthropic SDKs over real HTTP."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from starlette.testclient import TestClient

from thrifty.pricing.tokens import count_chat, count_text
from thrifty.providers.simulated import SimulatorSettings, create_simulator, running_simulator

GPT = "gpt-4o-mini"
CLAUDE = "claude-haiku-4-5"
QUESTION = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "Explain how a monthly budget helps a small team."},
]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
            },
            "required": ["city", "unit"],
        },
    },
}
CALENDAR = {
    "type": "function",
    "function": {
        "name": "create_event",
        "description": "Create a calendar event",
        "parameters": {
            "type": "object",
            "properties": {"title": {"type": "string"}, "date": {"type": "string"}},
            "required": ["title", "date"],
        },
    },
}


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with running_simulator(seed=7) as url:
        yield url


@pytest.fixture
def gpt(base_url: str) -> Any:
    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key="sk-test", max_retries=0)
    yield client
    client.close()


@pytest.fixture
def claude(base_url: str) -> Any:
    client = anthropic.Anthropic(base_url=base_url, api_key="sk-ant-test", max_retries=0)
    yield client
    client.close()


def forced(error: str) -> dict[str, str]:
    return {"x-sim-error": error}


# -- OpenAI ---------------------------------------------------------------------------------


def test_openai_chat_reports_exact_usage(gpt: Any) -> None:
    answer = gpt.chat.completions.create(model=GPT, messages=QUESTION)
    text = answer.choices[0].message.content
    assert answer.id.startswith("chatcmpl-")
    assert answer.model == GPT
    assert abs(answer.created - time.time()) < 60
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage.prompt_tokens == count_chat(QUESTION, GPT).tokens
    assert answer.usage.completion_tokens == count_text(text, GPT).tokens
    assert 40 <= answer.usage.completion_tokens <= 260
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens
    assert answer.usage.prompt_tokens_details.cached_tokens == 0


def test_openai_stream_matches_the_plain_answer_and_ends_with_usage(gpt: Any) -> None:
    plain = gpt.chat.completions.create(model=GPT, messages=QUESTION)
    chunks = list(
        gpt.chat.completions.create(
            model=GPT, messages=QUESTION, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == count_text(text, GPT).tokens
    assert chunks[-1].usage.prompt_tokens == plain.usage.prompt_tokens
    assert all(c.usage is None for c in chunks[:-1])


def test_openai_stream_without_usage_option_sends_no_usage(gpt: Any) -> None:
    chunks = list(gpt.chat.completions.create(model=GPT, messages=QUESTION, stream=True))
    assert all(c.choices for c in chunks)
    assert all(c.usage is None for c in chunks)


def test_same_request_and_seed_give_the_same_text(gpt: Any) -> None:
    first = gpt.chat.completions.create(model=GPT, messages=QUESTION).choices[0].message.content
    again = gpt.chat.completions.create(model=GPT, messages=QUESTION).choices[0].message.content
    other_prompt = [{"role": "user", "content": "Explain why caching saves money."}]
    other = gpt.chat.completions.create(model=GPT, messages=other_prompt).choices[0].message
    request_seed = gpt.chat.completions.create(model=GPT, messages=QUESTION, seed=99)
    assert first == again
    assert other.content != first
    assert request_seed.choices[0].message.content != first
    with running_simulator(seed=8) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0)
        reseeded = client.chat.completions.create(model=GPT, messages=QUESTION)
        client.close()
    assert reseeded.choices[0].message.content != first


def test_n_choices_differ_and_their_tokens_add_up(gpt: Any) -> None:
    answer = gpt.chat.completions.create(model=GPT, messages=QUESTION, n=3)
    texts = [choice.message.content for choice in answer.choices]
    assert [choice.index for choice in answer.choices] == [0, 1, 2]
    assert len(set(texts)) == 3
    assert answer.usage.completion_tokens == sum(count_text(t, GPT).tokens for t in texts)
    assert answer.usage.prompt_tokens == count_chat(QUESTION, GPT).tokens


def test_n_choices_stream_by_index(gpt: Any) -> None:
    plain = gpt.chat.completions.create(model=GPT, messages=QUESTION, n=2)
    texts = ["", ""]
    for chunk in gpt.chat.completions.create(model=GPT, messages=QUESTION, n=2, stream=True):
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
    assert texts == [choice.message.content for choice in plain.choices]


@pytest.mark.parametrize("limit_name", ["max_tokens", "max_completion_tokens"])
def test_max_tokens_stops_with_length(gpt: Any, limit_name: str) -> None:
    answer = gpt.chat.completions.create(model=GPT, messages=QUESTION, **{limit_name: 7})
    text = answer.choices[0].message.content
    assert answer.choices[0].finish_reason == "length"
    assert answer.usage.completion_tokens == count_text(text, GPT).tokens == 7


def test_stop_sequence_cuts_the_text(gpt: Any) -> None:
    answer = gpt.chat.completions.create(model=GPT, messages=QUESTION, stop=["."])
    assert "." not in answer.choices[0].message.content
    assert answer.choices[0].finish_reason == "stop"


def test_length_follows_the_prompts_cues(gpt: Any) -> None:
    def answer(prompt: str) -> str:
        messages = [{"role": "user", "content": prompt}]
        return gpt.chat.completions.create(model=GPT, messages=messages).choices[0].message.content

    assert answer("Describe budgets in one sentence.").count(".") == 1
    assert len(answer("Is a budget useful? Answer yes or no.").split()) <= 2
    words = len(answer("Write about cost control in 500 words.").split())
    assert 400 <= words <= 560
    listed = answer("List 5 ways to save on inference.").splitlines()
    assert [line[:2] for line in listed[1:]] == ["1.", "2.", "3.", "4.", "5."]


def test_tools_answer_with_a_call_whose_arguments_parse(gpt: Any) -> None:
    messages = [{"role": "user", "content": "What's the weather in Paris right now?"}]
    answer = gpt.chat.completions.create(model=GPT, messages=messages, tools=[CALENDAR, WEATHER])
    choice = answer.choices[0]
    call = choice.message.tool_calls[0]
    arguments = json.loads(call.function.arguments)
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert call.id.startswith("call_")
    assert call.function.name == "get_weather"
    assert arguments["city"] == "Paris"
    assert arguments["unit"] in ("celsius", "fahrenheit")
    tokens = (
        count_text(call.function.name, GPT).tokens + count_text(call.function.arguments, GPT).tokens
    )
    assert answer.usage.completion_tokens == tokens
    assert answer.usage.prompt_tokens == count_chat(messages, GPT, tools=[CALENDAR, WEATHER]).tokens


def test_tool_choice_is_respected(gpt: Any) -> None:
    chat = [{"role": "user", "content": "Thanks, that was lovely."}]
    action = [{"role": "user", "content": "Check the weather in Tokyo."}]
    tools = [WEATHER, CALENDAR]

    def call(messages: list[dict[str, str]], choice: Any) -> Any:
        kwargs = {} if choice is None else {"tool_choice": choice}
        answer = gpt.chat.completions.create(model=GPT, messages=messages, tools=tools, **kwargs)
        return answer.choices[0].message

    assert call(chat, None).tool_calls is None  # nothing asked for
    assert call(action, "none").tool_calls is None
    assert call(chat, "required").tool_calls[0].function.name == "get_weather"
    named = {"type": "function", "function": {"name": "create_event"}}
    forced_call = call(action, named).tool_calls[0]
    assert forced_call.function.name == "create_event"
    assert set(json.loads(forced_call.function.arguments)) == {"title", "date"}


def test_after_a_tool_result_the_answer_is_text(gpt: Any) -> None:
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "What's the weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temperature": 18}'},
    ]
    answer = gpt.chat.completions.create(model=GPT, messages=messages, tools=[WEATHER])
    assert answer.choices[0].message.tool_calls is None
    assert answer.choices[0].finish_reason == "stop"
    assert answer.choices[0].message.content


def test_streamed_tool_call_arguments_reassemble(gpt: Any) -> None:
    messages = [{"role": "user", "content": "Find the weather in Berlin."}]
    name, arguments = "", ""
    stream = gpt.chat.completions.create(model=GPT, messages=messages, tools=[WEATHER], stream=True)
    finish = None
    for chunk in stream:
        choice = chunk.choices[0]
        finish = choice.finish_reason or finish
        for delta in choice.delta.tool_calls or ():
            name += delta.function.name or ""
            arguments += delta.function.arguments or ""
    assert name == "get_weather"
    assert json.loads(arguments)["city"] == "Berlin"
    assert finish == "tool_calls"


def test_json_object_mode_answers_json(gpt: Any) -> None:
    answer = gpt.chat.completions.create(
        model=GPT, messages=QUESTION, response_format={"type": "json_object"}
    )
    content = answer.choices[0].message.content
    assert isinstance(json.loads(content), dict)
    assert answer.usage.completion_tokens == count_text(content, GPT).tokens


def test_json_schema_mode_fills_the_schema(gpt: Any) -> None:
    schema = {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "score": {"type": "number", "minimum": 0, "maximum": 1},
            "count": {"type": "integer"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "level": {"type": "string", "enum": ["low", "high"]},
            "author": {"$ref": "#/$defs/person"},
            "done": {"type": "boolean"},
        },
        "required": ["title", "score", "count", "tags", "level", "author", "done"],
        "additionalProperties": False,
        "$defs": {
            "person": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "email": {"type": "string"}},
                "required": ["name", "email"],
            }
        },
    }
    response_format = {"type": "json_schema", "json_schema": {"name": "card", "schema": schema}}
    answer = gpt.chat.completions.create(
        model=GPT, messages=QUESTION, response_format=response_format
    )
    value = json.loads(answer.choices[0].message.content)
    assert set(value) == set(schema["required"])
    assert isinstance(value["title"], str)
    assert 0 <= value["score"] <= 1
    assert isinstance(value["count"], int)
    assert value["tags"] and all(isinstance(tag, str) for tag in value["tags"])
    assert value["level"] in ("low", "high")
    assert set(value["author"]) == {"name", "email"}
    assert value["done"] is True


def test_embeddings_are_deterministic_unit_vectors(gpt: Any) -> None:
    inputs = ["budget alerts", "cost forecasts"]
    first = gpt.embeddings.create(model="text-embedding-3-small", input=inputs)
    floats = gpt.embeddings.create(
        model="text-embedding-3-small", input=inputs, encoding_format="float"
    )
    vector = first.data[0].embedding
    assert len(vector) == 1536
    assert math.isclose(math.fsum(x * x for x in vector), 1.0, rel_tol=1e-5)
    assert vector == pytest.approx(floats.data[0].embedding, abs=1e-6)
    assert first.data[1].embedding != vector
    assert first.usage.prompt_tokens == sum(
        count_text(text, "text-embedding-3-small").tokens for text in inputs
    )
    large = gpt.embeddings.create(model="text-embedding-3-large", input="x")
    assert len(large.data[0].embedding) == 3072
    short = gpt.embeddings.create(model="text-embedding-3-large", input="x", dimensions=256)
    assert len(short.data[0].embedding) == 256


def test_models_are_listed(gpt: Any, claude: Any) -> None:
    assert {"gpt-4o", "claude-haiku-4-5"} <= {model.id for model in gpt.models.list()}
    assert CLAUDE in {model.id for model in claude.models.list()}


# -- Anthropic -------------------------------------------------------------------------------


ANTHROPIC_MESSAGES = [{"role": "user", "content": "Explain how a monthly budget helps a team."}]
SYSTEM = "You are a concise assistant."


def test_anthropic_message_reports_exact_usage(claude: Any) -> None:
    message = claude.messages.create(
        model=CLAUDE, max_tokens=1000, system=SYSTEM, messages=ANTHROPIC_MESSAGES
    )
    text = message.content[0].text
    assert message.id.startswith("msg_")
    assert message.model == CLAUDE
    assert message.stop_reason == "end_turn"
    counted = count_chat(ANTHROPIC_MESSAGES, CLAUDE, system=SYSTEM).tokens
    assert message.usage.input_tokens == counted
    assert message.usage.output_tokens == count_text(text, CLAUDE).tokens


def test_anthropic_stream_sends_the_event_sequence(claude: Any, base_url: str) -> None:
    plain = claude.messages.create(
        model=CLAUDE, max_tokens=1000, system=SYSTEM, messages=ANTHROPIC_MESSAGES
    )
    with claude.messages.stream(
        model=CLAUDE, max_tokens=1000, system=SYSTEM, messages=ANTHROPIC_MESSAGES
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert final.content[0].text == plain.content[0].text
    assert final.usage.output_tokens == plain.usage.output_tokens
    assert final.usage.input_tokens == plain.usage.input_tokens
    assert final.stop_reason == "end_turn"
    assert "content_block_delta" in kinds
    body = {
        "model": CLAUDE,
        "max_tokens": 50,
        "stream": True,
        "messages": ANTHROPIC_MESSAGES,
    }
    raw = httpx.post(f"{base_url}/v1/messages", json=body, headers={"x-api-key": "k"})
    names = [line[7:] for line in raw.text.splitlines() if line.startswith("event: ")]
    deltas = names.count("content_block_delta")
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        *["content_block_delta"] * deltas,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert deltas > 1


def test_anthropic_max_tokens_stops_with_max_tokens(claude: Any) -> None:
    message = claude.messages.create(model=CLAUDE, max_tokens=6, messages=ANTHROPIC_MESSAGES)
    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == count_text(message.content[0].text, CLAUDE).tokens
    assert message.usage.output_tokens <= 6


def test_anthropic_stop_sequences(claude: Any) -> None:
    message = claude.messages.create(
        model=CLAUDE, max_tokens=500, messages=ANTHROPIC_MESSAGES, stop_sequences=["."]
    )
    assert message.stop_reason == "stop_sequence"
    assert message.stop_sequence == "."
    assert "." not in message.content[0].text


def test_anthropic_tools_answer_with_tool_use(claude: Any) -> None:
    tool = {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "input_schema": WEATHER["function"]["parameters"],  # type: ignore[index]
    }
    messages = [{"role": "user", "content": "What's the weather in London?"}]
    message = claude.messages.create(model=CLAUDE, max_tokens=500, messages=messages, tools=[tool])
    use = next(block for block in message.content if block.type == "tool_use")
    assert message.stop_reason == "tool_use"
    assert use.name == "get_weather"
    assert use.id.startswith("toolu_")
    assert use.input["city"] == "London"
    assert message.usage.input_tokens == count_chat(messages, CLAUDE, tools=[tool]).tokens
    with claude.messages.stream(
        model=CLAUDE,
        max_tokens=500,
        messages=messages,
        tools=[tool],
        tool_choice={"type": "tool", "name": "get_weather"},
    ) as stream:
        final = stream.get_final_message()
    assert [block.type for block in final.content] == ["tool_use"]
    assert final.content[0].input["city"] == "London"
    assert final.stop_reason == "tool_use"


def test_anthropic_requires_max_tokens(base_url: str) -> None:
    body = {"model": CLAUDE, "messages": ANTHROPIC_MESSAGES}
    response = httpx.post(f"{base_url}/v1/messages", json=body, headers={"x-api-key": "k"})
    assert response.status_code == 400
    assert response.json() == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "max_tokens: Field required"},
    }


# -- faults -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "openai_error", "anthropic_error"),
    [
        ("429", "RateLimitError", "RateLimitError"),
        ("500", "InternalServerError", "InternalServerError"),
        ("503", "InternalServerError", "ServiceUnavailableError"),
    ],
)
def test_forced_errors_reach_the_sdks_as_their_exceptions(
    gpt: Any, claude: Any, error: str, openai_error: str, anthropic_error: str
) -> None:
    with pytest.raises(getattr(openai, openai_error)) as seen:
        gpt.chat.completions.create(model=GPT, messages=QUESTION, extra_headers=forced(error))
    assert seen.value.status_code == int(error)
    assert seen.value.body["type"]  # OpenAI's shape: {"error": {"message", "type", ...}}
    with pytest.raises(getattr(anthropic, anthropic_error)) as caught:
        claude.messages.create(
            model=CLAUDE, max_tokens=50, messages=ANTHROPIC_MESSAGES, extra_headers=forced(error)
        )
    assert caught.value.status_code == int(error)
    assert caught.value.body["type"] == "error"
    if error == "429":
        assert seen.value.response.headers["retry-after"] == "1"


def test_timeout_hangs_until_the_client_gives_up(gpt: Any, claude: Any) -> None:
    start = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        gpt.with_options(timeout=0.3).chat.completions.create(
            model=GPT, messages=QUESTION, extra_headers=forced("timeout")
        )
    with pytest.raises(anthropic.APITimeoutError):
        claude.with_options(timeout=0.3).messages.create(
            model=CLAUDE,
            max_tokens=50,
            messages=ANTHROPIC_MESSAGES,
            extra_headers=forced("timeout"),
        )
    assert time.monotonic() - start < 5


def test_timeout_is_bounded() -> None:
    with running_simulator(max_hang_s=0.2) as url:
        response = httpx.post(
            f"{url}/v1/chat/completions",
            json={"model": GPT, "messages": QUESTION},
            headers={"authorization": "Bearer k", **forced("timeout")},
        )
    assert response.status_code == 504
    assert response.json()["error"]["type"] == "timeout"


def test_drop_breaks_the_answer_and_the_stream(gpt: Any, claude: Any) -> None:
    with pytest.raises(openai.APIConnectionError):
        gpt.chat.completions.create(model=GPT, messages=QUESTION, extra_headers=forced("drop"))
    stream = gpt.chat.completions.create(
        model=GPT, messages=QUESTION, stream=True, extra_headers=forced("drop")
    )
    received = []
    with pytest.raises(openai.APIConnectionError):
        received.extend(stream)
    assert received  # the first half arrived
    with (
        pytest.raises(Exception, match=r"incomplete chunked read") as broken,  # httpx's, or a fork
        claude.messages.stream(
            model=CLAUDE, max_tokens=500, messages=ANTHROPIC_MESSAGES, extra_headers=forced("drop")
        ) as anthropic_stream,
    ):
        anthropic_stream.get_final_message()
    assert type(broken.value).__name__ == "RemoteProtocolError"


def test_malformed_json_is_seen_by_the_sdks(gpt: Any, claude: Any) -> None:
    with pytest.raises((openai.APIResponseValidationError, json.JSONDecodeError)):
        gpt.chat.completions.create(model=GPT, messages=QUESTION, extra_headers=forced("malformed"))
    stream = gpt.chat.completions.create(
        model=GPT, messages=QUESTION, stream=True, extra_headers=forced("malformed")
    )
    with pytest.raises(json.JSONDecodeError):
        list(stream)
    with (
        pytest.raises(json.JSONDecodeError),
        claude.messages.stream(
            model=CLAUDE,
            max_tokens=500,
            messages=ANTHROPIC_MESSAGES,
            extra_headers=forced("malformed"),
        ) as anthropic_stream,
    ):
        anthropic_stream.get_final_message()


def test_wrong_usage_disagrees_with_the_text(gpt: Any, claude: Any) -> None:
    answer = gpt.chat.completions.create(
        model=GPT, messages=QUESTION, extra_headers=forced("wrong-usage")
    )
    text = answer.choices[0].message.content
    assert answer.usage.completion_tokens != count_text(text, GPT).tokens
    with claude.messages.stream(
        model=CLAUDE,
        max_tokens=500,
        messages=ANTHROPIC_MESSAGES,
        extra_headers=forced("wrong-usage"),
    ) as stream:
        final = stream.get_final_message()
    assert final.usage.output_tokens != count_text(final.content[0].text, CLAUDE).tokens


def test_latency_and_pace_knobs(gpt: Any) -> None:
    start = time.monotonic()
    gpt.chat.completions.create(
        model=GPT, messages=QUESTION, extra_headers={"x-sim-latency-ms": "200"}
    )
    assert time.monotonic() - start >= 0.2
    start = time.monotonic()
    chunks = list(
        gpt.chat.completions.create(
            model=GPT,
            messages=QUESTION,
            stream=True,
            stream_options={"include_usage": True},
            extra_headers={"x-sim-tokens-per-second": "400"},
        )
    )
    elapsed = time.monotonic() - start
    assert elapsed >= chunks[-1].usage.completion_tokens / 400 * 0.9


def test_error_rate_draws_errors_from_the_seed() -> None:
    def statuses(seed: int) -> list[int]:
        with running_simulator(error_rate=0.5, seed=seed) as url:
            headers = {"authorization": "Bearer k"}
            body = {"model": GPT, "messages": QUESTION}
            with httpx.Client(base_url=url, headers=headers) as client:
                return [
                    client.post("/v1/chat/completions", json=body).status_code for _ in range(40)
                ]

    first = statuses(1)
    assert first == statuses(1)
    assert set(first) <= {200, 429, 500, 503}
    assert 8 <= sum(status != 200 for status in first) <= 32


# -- refusals -------------------------------------------------------------------------------


def test_a_missing_key_is_refused_in_each_apis_shape(gpt: Any, base_url: str) -> None:
    response = httpx.post(f"{base_url}/v1/chat/completions", json={"model": GPT})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    response = httpx.post(f"{base_url}/v1/messages", json={"model": CLAUDE})
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"
    with pytest.raises(openai.AuthenticationError):
        gpt.models.list(extra_headers={"Authorization": openai.omit})


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/v1/chat/completions", b"{not json", None),
        ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": "x"}]}', "model"),
        ("/v1/chat/completions", b'{"model": "gpt-4o"}', "messages"),
        ("/v1/chat/completions", b'{"model": "gpt-4o", "messages": [{"content": "x"}]}', None),
        ("/v1/chat/completions", b'{"model": "m", "messages": [{"role": "user"}], "n": 0}', "n"),
        ("/v1/embeddings", b'{"model": "text-embedding-3-small"}', "input"),
        ("/v1/messages", b"[1, 2]", None),
        ("/v1/messages", b'{"model": "claude-haiku-4-5", "max_tokens": 5}', None),
    ],
)
def test_bad_requests_are_400_in_each_apis_shape(
    base_url: str, path: str, body: bytes, param: str | None
) -> None:
    headers = {"authorization": "Bearer k", "content-type": "application/json"}
    response = httpx.post(f"{base_url}{path}", content=body, headers=headers)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    if path == "/v1/messages":
        assert response.json()["type"] == "error"
    elif param is not None:
        assert error["param"] == param


def test_sdk_bad_request(gpt: Any) -> None:
    with pytest.raises(openai.BadRequestError):
        gpt.chat.completions.create(model=GPT, messages=[])


def test_unknown_endpoints_answer_in_the_apis_shape(base_url: str) -> None:
    response = httpx.get(f"{base_url}/v1/nothing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_url"
    response = httpx.get(f"{base_url}/v1/messages")
    assert response.status_code == 405
    assert response.json()["type"] == "error"


# -- in process and as a command ---------------------------------------------------------------


def test_the_app_runs_in_process_with_an_injected_clock() -> None:
    app = create_simulator(SimulatorSettings(seed=7), clock=lambda: 1_800_000_000.0)
    with TestClient(app) as client:
        response = client.post(
            "/v1/chat/completions",
            json={"model": GPT, "messages": QUESTION},
            headers={"authorization": "Bearer k"},
        )
    assert response.status_code == 200
    assert response.json()["created"] == 1_800_000_000


@pytest.mark.slow
def test_thrifty_simulate_serves_over_http() -> None:
    with running_simulator() as url:  # only to find a port that is free
        port = int(url.rsplit(":", 1)[1])
    command = [sys.executable, "-m", "thrifty.cli", "simulate", "--port", str(port)]
    command += ["--latency-ms", "0", "--error-rate", "0", "--seed", "7"]
    process = subprocess.Popen(command, env=os.environ.copy(), stdout=subprocess.DEVNULL)
    try:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="k")
        deadline = time.monotonic() + 30
        while True:
            try:
                models = client.with_options(max_retries=0, timeout=1).models.list()
                break
            except openai.APIConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        assert "gpt-4o" in {model.id for model in models}
        answer = client.chat.completions.create(model=GPT, messages=QUESTION)
        assert answer.usage.prompt_tokens == count_chat(QUESTION, GPT).tokens
        client.close()
    finally:
        process.terminate()
        process.wait(timeout=30)
