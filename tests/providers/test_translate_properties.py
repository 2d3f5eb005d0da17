"""Round trips and properties over generated conversations.

A valid OpenAI conversation translates to a valid Anthropic one (alternating roles, no empty
text, each tool result answering the tool use before it) that keeps every text, and back to an
OpenAI conversation with the same meaning: the same texts, images, tool calls and results in
the same order, up to the merging of consecutive assistant turns.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from thrifty.providers.translate import anthropic_request_to_openai, openai_request_to_anthropic
from thrifty.providers.translate_request import LEADING_USER_TEXT

texts = st.text(max_size=25)
names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,15}", fullmatch=True)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
    max_leaves=6,
)
images = st.sampled_from(
    [
        "data:image/png;base64,iVBORw0KGgo=",
        "data:image/jpeg;base64,/9j/4AAQ",
        "https://example.com/cat.webp",
    ]
)


def text_content(draw: st.DrawFn) -> str | list[dict[str, Any]]:
    if draw(st.booleans()):
        return draw(texts)
    return [{"type": "text", "text": t} for t in draw(st.lists(texts, min_size=1, max_size=3))]


@st.composite
def user_message(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        return {"role": "user", "content": draw(texts)}
    parts = draw(
        st.lists(
            texts.map(lambda t: {"type": "text", "text": t})
            | images.map(lambda url: {"type": "image_url", "image_url": {"url": url}}),
            min_size=1,
            max_size=4,
        )
    )
    return {"role": "user", "content": parts}


@st.composite
def conversations(draw: st.DrawFn) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(0, 2))):
        role = draw(st.sampled_from(["system", "developer"]))
        messages.append({"role": role, "content": text_content(draw)})
    calls = 0
    for _ in range(draw(st.integers(1, 4))):
        messages.append(draw(user_message()))
        if draw(st.booleans()):
            tool_calls = []
            for _ in range(draw(st.integers(1, 3))):
                calls += 1
                arguments = draw(st.dictionaries(names, json_values, max_size=3))
                tool_calls.append(
                    {
                        "id": f"call_{calls}",
                        "type": "function",
                        "function": {"name": draw(names), "arguments": json.dumps(arguments)},
                    }
                )
            content = draw(st.none() | texts)
            messages.append({"role": "assistant", "content": content, "tool_calls": tool_calls})
            for call in tool_calls:
                result = text_content(draw)
                messages.append({"role": "tool", "tool_call_id": call["id"], "content": result})
        if draw(st.booleans()):
            messages.append({"role": "assistant", "content": text_content(draw)})
    return {"model": "gpt-4o", "messages": messages}


def _strings(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    return [part["text"] for part in content or [] if part.get("type") == "text"]


def meaning(body: dict[str, Any]) -> tuple[str, list[Any]]:
    """What a conversation says: its system prompt, and its items in order, blank texts left
    out and consecutive assistant items taken as one (text joined, calls listed)."""
    system: list[str] = []
    items: list[Any] = []
    for message in body["messages"]:
        role = message["role"]
        if role in ("system", "developer"):
            system += [t for t in _strings(message["content"]) if t]
        elif role == "tool":
            text = "".join(t for t in _strings(message["content"]) if t.strip())
            items.append(("result", message["tool_call_id"], text))
        elif role == "user":
            content = message["content"]
            parts: list[dict[str, Any]] = (
                [{"type": "text", "text": content}] if isinstance(content, str) else content
            )
            for part in parts:
                if part["type"] == "image_url":
                    items.append(("image", part["image_url"]["url"]))
                elif part["text"].strip():
                    items.append(("user", part["text"]))
        else:
            texts = [t for t in _strings(message.get("content")) if t.strip()]
            calls = [
                (c["id"], c["function"]["name"], json.loads(c["function"]["arguments"] or "{}"))
                for c in message.get("tool_calls") or []
            ]
            if not texts and not calls:
                continue
            if not (items and items[-1][0] == "assistant"):
                items.append(("assistant", "", []))
            _, text, previous = items[-1]
            items[-1] = ("assistant", text + "".join(texts), previous + calls)
    return "\n\n".join(system), items


def to_anthropic(body: dict[str, Any]) -> dict[str, Any]:
    return openai_request_to_anthropic(body, upstream_model="claude", default_max_tokens=1000)


def has_content(body: dict[str, Any]) -> bool:
    return bool(meaning(body)[1])


def check_anthropic_shape(request: dict[str, Any]) -> None:
    previous_tool_uses: set[str] = set()
    for i, turn in enumerate(request["messages"]):
        assert turn["role"] == ("user" if i % 2 == 0 else "assistant")
        blocks = turn["content"]
        if isinstance(blocks, str):
            assert blocks.strip()
            continue
        assert blocks
        seen_other = False
        for block in blocks:
            if block["type"] == "text":
                assert block["text"].strip()
            if block["type"] == "tool_result":
                assert not seen_other, "tool results come first in their turn"
                assert block["tool_use_id"] in previous_tool_uses
            else:
                seen_other = True
        previous_tool_uses = {b["id"] for b in blocks if b["type"] == "tool_use"}


@settings(max_examples=150, deadline=None)
@given(conversations())
def test_valid_conversations_translate_and_keep_every_text(body: dict[str, Any]) -> None:
    if not has_content(body):
        return  # nothing but blanks: refused, with a clear error (tested elsewhere)
    request = to_anthropic(body)
    check_anthropic_shape(request)
    translated = json.dumps(request, ensure_ascii=False)
    for message in body["messages"]:
        for text in _strings(message.get("content")):
            if text.strip():
                assert json.dumps(text, ensure_ascii=False)[1:-1] in translated


@settings(max_examples=150, deadline=None)
@given(conversations())
def test_a_round_trip_keeps_the_meaning(body: dict[str, Any]) -> None:
    if not has_content(body):
        return
    back = anthropic_request_to_openai(to_anthropic(body), upstream_model="gpt-4o")
    system, items = meaning(body)
    if items[0][0] == "assistant":  # a user turn had to be put first
        items.insert(0, ("user", LEADING_USER_TEXT))
    assert meaning(back) == (system, items)


def test_a_round_trip_of_a_whole_conversation() -> None:
    body = {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "Be helpful."},
            {"role": "user", "content": "Weather in Paris?"},
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
            {"role": "tool", "tool_call_id": "call_1", "content": "18°C"},
            {"role": "assistant", "content": "It is 18°C in Paris."},
            {"role": "user", "content": "Thanks!"},
        ],
        "max_completion_tokens": 500,
        "temperature": 0.3,
        "stop": ["END"],
    }
    back = anthropic_request_to_openai(to_anthropic(body), upstream_model="gpt-4o")
    assert back == {**body, "messages": back["messages"]}
    assert back["messages"] == body["messages"]
