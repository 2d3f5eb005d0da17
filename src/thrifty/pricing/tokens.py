"""Count the prompt tokens a request will be billed for, offline.

OpenAI models are counted exactly with their own byte-pair encoding (o200k_base or cl100k_base)
and the OpenAI cookbook framing of chat messages: ``per_message`` tokens for each message, its
role and content encoded, ``per_name`` more for a ``name``, ``reply_priming`` once. What OpenAI
does not document is approximated and then ``exact`` is False: tool definitions (rendered as a
TypeScript ``namespace functions`` block), tool calls and tool results, text split over several
content parts, images whose size is unknown.

Other families have no tokenizer that runs offline here: their text is counted with a base
encoding and scaled by the family's factor from ``data/tokenizers.yaml`` (``exact`` False,
``encoding`` "approx:<family>"). docs/tokens.md gives the measured error of each factor.

Messages may be OpenAI-shaped (content a string, None, or parts ``text``/``image_url``;
``tool_calls``; role ``tool``) or Anthropic-shaped (blocks ``text``/``image``/``tool_use``/
``tool_result``, system passed separately).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from thrifty.pricing.images import image_tokens, inline_image_size
from thrifty.pricing.tokenizer_catalog import Tokenizer, catalog, encoding, tokenizer_for

__all__ = ["TokenCount", "count_chat", "count_text", "encoding_for_model"]


@dataclass(frozen=True, slots=True)
class TokenCount:
    tokens: int
    exact: bool  # True when counted with the model's own tokenizer
    encoding: str  # "o200k_base", "cl100k_base", or "approx:<family>" e.g. "approx:claude"


def encoding_for_model(model: str) -> str:
    """``"o200k_base"``, ``"cl100k_base"`` or ``"approx:<family>"`` (``"approx:default"``)."""
    return tokenizer_for(model).label


def count_text(text: str, model: str) -> TokenCount:
    """Tokens of a bare string (no chat framing) for ``model``."""
    tokenizer = tokenizer_for(model)
    if len(text) <= MEMO_MAX_CHARS:
        counted = _encoded_length(tokenizer.encoding, text)
    else:
        counted = len(encoding(tokenizer.encoding).encode_ordinary(text))
    return TokenCount(_scaled(counted, tokenizer), tokenizer.exact, tokenizer.label)


def count_chat(
    messages: Sequence[Mapping[str, Any]],
    model: str,
    *,
    tools: Sequence[Mapping[str, Any]] | None = None,
    system: str | Sequence[Mapping[str, Any]] | None = None,
) -> TokenCount:
    """Prompt tokens of a chat request; for OpenAI models what is billed as ``prompt_tokens``."""
    tokenizer = tokenizer_for(model)
    tally = _Tally(tokenizer)
    framing = tokenizer.chat_format
    all_messages: list[Mapping[str, Any]] = []
    if system is not None and (not isinstance(system, str) or system):
        all_messages.append({"role": "system", "content": system})
    all_messages.extend(messages)
    pad_system = bool(tools)
    for message in all_messages:
        tally.fixed += framing.per_message
        role = str(message.get("role") or "")
        tally.text(role)
        content = message.get("content")
        if pad_system and role == "system" and isinstance(content, str):
            content += "\n"  # with tools, the first system message gains a newline
            pad_system = False
        tally.content(content)
        name = message.get("name")
        if isinstance(name, str) and name:
            tally.text(name)
            tally.fixed += framing.per_name
        tally.tool_calls(message)
        if role in ("tool", "function"):
            tally.exact = False
    tally.fixed += framing.reply_priming
    if tools:
        rules = catalog().tools
        tally.text(render_tool_definitions(tools))
        tally.fixed += rules.definitions_overhead
        if any(message.get("role") == "system" for message in all_messages):
            tally.fixed += rules.with_system_message
        tally.exact = False
    return TokenCount(
        _scaled(tally.encoded, tokenizer) + tally.fixed,
        tally.exact and tokenizer.exact,
        tokenizer.label,
    )


#: Texts up to this many characters have their encoded length remembered (a request's prompt
#: is counted for analysis, for every candidate's tokenizer family and for its hold).
MEMO_MAX_CHARS = 32_768


@lru_cache(maxsize=2048)
def _encoded_length(encoding_name: str, text: str) -> int:
    return len(encoding(encoding_name).encode_ordinary(text))


def _scaled(tokens: int, tokenizer: Tokenizer) -> int:
    # Round half up: the factor is a median ratio, so the estimate should be unbiased.
    return tokens if tokenizer.exact else math.floor(tokens * tokenizer.factor + 0.5)


class _Tally:
    """Running count: ``encoded`` text tokens (scaled for approximations) + ``fixed`` ones."""

    __slots__ = ("encode", "encoded", "exact", "fixed", "tokenizer")

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer
        self.encode = encoding(tokenizer.encoding).encode_ordinary
        self.encoded = 0
        self.fixed = 0
        self.exact = True

    def text(self, value: str) -> None:
        if not value:
            return
        if len(value) <= MEMO_MAX_CHARS:
            self.encoded += _encoded_length(self.tokenizer.encoding, value)
        else:
            self.encoded += len(self.encode(value))

    def content(self, content: object) -> None:
        if content is None:
            return
        if isinstance(content, str):
            self.text(content)
            return
        if not isinstance(content, Sequence):
            self.unknown(content)
            return
        if len(content) > 1:
            self.exact = False  # how parts are joined is not documented
        for part in content:
            if isinstance(part, Mapping):
                self.part(part)
            else:
                self.unknown(part)

    def part(self, part: Mapping[str, Any]) -> None:
        kind = part.get("type")
        if kind == "text":
            self.text(str(part.get("text") or ""))
        elif kind == "image_url":
            image = part.get("image_url")
            image = image if isinstance(image, Mapping) else {"url": image}
            self.image(str(image.get("url") or ""), str(image.get("detail") or "auto"))
        elif kind == "image":
            source = part.get("source")
            data = source.get("data") if isinstance(source, Mapping) else None
            self.image(data if isinstance(data, str) else "", "high")
        elif kind == "tool_use":
            self.exact = False
            self.text(str(part.get("name") or ""))
            self.text(_compact_json(part.get("input", {})))
            self.fixed += catalog().tools.per_tool_call
        elif kind == "tool_result":
            self.exact = False
            self.content(part.get("content"))
        else:
            self.unknown(part)

    def image(self, data: str, detail: str) -> None:
        size = inline_image_size(data) if data and not data.startswith("http") else None
        tokens, exact = image_tokens(self.tokenizer.image, detail=detail, size=size)
        self.fixed += tokens
        self.exact = self.exact and exact

    def tool_calls(self, message: Mapping[str, Any]) -> None:
        calls = list(message.get("tool_calls") or [])
        if isinstance(message.get("function_call"), Mapping):
            calls.append({"function": message["function_call"]})
        for call in calls:
            function = call.get("function") if isinstance(call, Mapping) else None
            if not isinstance(function, Mapping):
                self.unknown(call)
                continue
            self.exact = False
            self.text(str(function.get("name") or ""))
            arguments = function.get("arguments")
            self.text(arguments if isinstance(arguments, str) else _compact_json(arguments))
            self.fixed += catalog().tools.per_tool_call

    def unknown(self, value: object) -> None:
        """Anything unrecognised is counted as its JSON text: an over- rather than undercount."""
        self.exact = False
        self.text(value if isinstance(value, str) else _compact_json(value))


def _compact_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def render_tool_definitions(tools: Sequence[Mapping[str, Any]]) -> str:
    """Tool definitions as OpenAI is believed to show them to the model (approximate).

    Accepts OpenAI tools (``{"type": "function", "function": {...}}``), legacy ``functions``
    and Anthropic tools (``input_schema``).
    """
    lines = ["namespace functions {", ""]
    for tool in tools:
        function = tool.get("function")
        spec: Mapping[str, Any] = function if isinstance(function, Mapping) else tool
        schema = spec.get("parameters", spec.get("input_schema")) or {}
        description = spec.get("description")
        if description:
            lines.append(f"// {description}")
        name = spec.get("name", "")
        properties = schema.get("properties") if isinstance(schema, Mapping) else None
        if properties:
            lines.append(f"type {name} = (_: {{")
            lines.extend(_render_properties(schema, 0))
            lines.append("}) => any;")
        else:
            lines.append(f"type {name} = () => any;")
        lines.append("")
    lines.append("} // namespace functions")
    return "\n".join(lines)


def _render_properties(schema: Mapping[str, Any], indent: int) -> list[str]:
    required = set(schema.get("required") or ())
    lines: list[str] = []
    for key, prop in (schema.get("properties") or {}).items():
        prop = prop if isinstance(prop, Mapping) else {}
        if prop.get("description"):
            lines.append(" " * indent + f"// {prop['description']}")
        optional = "" if key in required else "?"
        lines.append(" " * indent + f"{key}{optional}: {_render_type(prop, indent)},")
    return lines


def _render_type(prop: Mapping[str, Any], indent: int) -> str:
    kind = prop.get("type")
    enum = prop.get("enum")
    if enum and kind in ("string", None):
        return " | ".join(json.dumps(value, ensure_ascii=False) for value in enum)
    if enum and kind in ("number", "integer"):
        return " | ".join(str(value) for value in enum)
    if kind in ("number", "integer"):
        return "number"
    if kind == "object":
        inner = _render_properties(prop, indent + 2)
        return "\n".join(["{", *inner, "}"]) if inner else "object"
    if kind == "array":
        items = prop.get("items")
        return f"{_render_type(items, indent)}[]" if isinstance(items, Mapping) else "any[]"
    if isinstance(kind, str):
        return kind
    return "any"
