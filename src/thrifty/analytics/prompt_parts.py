"""Which part of a prompt each message is, and the tokens of each part.

Parts, in this order (:data:`PARTS`):

- ``system``: system and developer messages (Anthropic's ``system`` too), less the examples
  inside them;
- ``examples``: few-shot examples. Every user message answered by a plain assistant message
  (no tool calls) before the final user message, a system message named ``example_user`` or
  ``example_assistant`` (OpenAI's convention), and inside system text: ``<example>`` /
  ``<examples>`` elements, paragraphs headed "Example…" or "Sample…" (a heading alone also
  takes the one paragraph after it), and paragraphs with ``Input:``/``Output:``, ``Q:``/``A:``
  or ``User:``/``Assistant:`` lines;
- ``user``: the final user message;
- ``assistant_history``: every other message (assistant turns with tool calls, tool results,
  a user turn with no answer, anything after the final user message);
- ``tools``: the tool definitions as the counter renders them;
- ``overhead``: the chat framing (per-message and reply-priming tokens, role names), so that
  the parts add up to the request's token count exactly.

A message's tokens are the project's count of the request with it minus the count with an
empty message of the same role, so images, names and tool calls are counted as billed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from thrifty.pricing.tokens import count_chat, count_text

PARTS = ("system", "examples", "user", "assistant_history", "tools", "overhead")
SYSTEM_ROLES = frozenset({"system", "developer"})

# No nested or adjacent overlapping quantifiers: a long line of dashes or spaces stays linear.
_EXAMPLE_OPEN = re.compile(r"<(examples?)\b[^>\n]{0,200}>", re.I)
_EXAMPLE_HEAD = re.compile(r"[#>*_ \t-]*(?:examples?|samples?)\b", re.I)
_EXAMPLE_LINE = re.compile(
    r"^[*_ \t-]*(?:input|output|q|a|question|answer|user|assistant)[ \t]*(?:\d+[ \t]*)?"
    r"(?:[*_]+[ \t]*)?:",
    re.I | re.M,
)
_HEADING = re.compile(r"[ \t]*(?:#+[ \t]|[^\n]{1,60}:[ \t]*$)")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


def final_user_index(messages: Sequence[Mapping[str, Any]]) -> int | None:
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].get("role") == "user":
            return index
    return None


def _plain(message: Mapping[str, Any]) -> bool:
    """A turn of text only: no tool calls, tool uses or tool results."""
    if message.get("tool_calls") or message.get("function_call"):
        return False
    content = message.get("content")
    if isinstance(content, list):
        return all(isinstance(p, Mapping) and p.get("type") == "text" for p in content)
    return isinstance(content, str)


def classify(messages: Sequence[Mapping[str, Any]]) -> list[str]:
    """The part of each message (``system``, ``examples``, ``user``, ``assistant_history``)."""
    final = final_user_index(messages)
    parts = ["assistant_history"] * len(messages)
    index = 0
    while index < len(messages):
        message = messages[index]
        role = message.get("role")
        if role in SYSTEM_ROLES:
            name = str(message.get("name") or "")
            parts[index] = "examples" if name.startswith("example_") else "system"
        elif index == final:
            parts[index] = "user"
        elif (
            final is not None
            and role == "user"
            and index + 1 < final
            and messages[index + 1].get("role") == "assistant"
            and _plain(message)
            and _plain(messages[index + 1])
        ):
            parts[index] = parts[index + 1] = "examples"
            index += 1
        index += 1
    return parts


def example_blocks(text: str) -> list[str]:
    """The few-shot examples written inside a system prompt."""
    blocks, rest = _example_elements(text)
    taking = False
    for paragraph in _PARAGRAPH_BREAK.split(rest):
        if not paragraph.strip():
            continue
        first_line = paragraph.strip("\n").split("\n", 1)[0]
        if _EXAMPLE_HEAD.match(first_line):
            blocks.append(paragraph)
            taking = "\n" not in paragraph.strip()  # a heading alone: an example follows
        elif _EXAMPLE_LINE.search(paragraph) or (taking and not _HEADING.match(first_line)):
            blocks.append(paragraph)
            taking = False
        else:
            taking = False
    return blocks


def _example_elements(text: str) -> tuple[list[str], str]:
    """``<example>``/``<examples>`` elements, and the text without them (one pass: a tag
    whose closing tag is missing is never looked for again)."""
    lower = text.lower()
    blocks: list[str] = []
    rest: list[str] = []
    position = 0
    unclosed: set[str] = set()
    for opening in _EXAMPLE_OPEN.finditer(text):
        name = opening.group(1).lower()
        if opening.start() < position or name in unclosed:
            continue
        close = lower.find(f"</{name}>", opening.end())
        if close < 0:
            unclosed.add(name)
            continue
        end = close + len(name) + 3
        rest.append(text[position : opening.start()])
        blocks.append(text[opening.start() : end])
        position = end
    rest.append(text[position:])
    return blocks, "\n\n".join(rest)


def content_texts(content: object) -> list[str]:
    """The text of a message's content: a string, text parts, Anthropic tool results."""
    if isinstance(content, str):
        return [content]
    texts: list[str] = []
    if isinstance(content, list):
        for part in content:
            if not isinstance(part, Mapping):
                continue
            if part.get("type") == "text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif part.get("type") == "tool_result":
                texts.extend(content_texts(part.get("content")))
    return texts


def map_text(content: Any, change: Callable[[str], str]) -> Any:
    """``content`` with ``change`` applied to each of its texts (see ``content_texts``)."""
    if isinstance(content, str):
        return change(content)
    if not isinstance(content, list):
        return content
    mapped: list[Any] = []
    for part in content:
        if isinstance(part, Mapping) and part.get("type") == "text":
            text = part.get("text")
            mapped.append({**part, "text": change(text)} if isinstance(text, str) else part)
        elif isinstance(part, Mapping) and part.get("type") == "tool_result":
            mapped.append({**part, "content": map_text(part.get("content"), change)})
        else:
            mapped.append(part)
    return mapped


def count_parts(
    messages: Sequence[Mapping[str, Any]],
    model: str,
    *,
    total: int,
    tools: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, int]:
    """Tokens of each part (all of :data:`PARTS`, in order); they add up to ``total``."""
    tokens = dict.fromkeys(PARTS, 0)
    for message, part in zip(messages, classify(messages), strict=True):
        own = count_chat([message], model).tokens
        own -= count_chat([{"role": message.get("role")}], model).tokens
        if part == "system":
            examples = sum(
                count_text(block, model).tokens
                for text in content_texts(message.get("content"))
                for block in example_blocks(text)
            )
            examples = min(examples, own)
            tokens["examples"] += examples
            own -= examples
        tokens[part] += own
    if tools:
        tokens["tools"] = count_chat([], model, tools=tools).tokens - count_chat([], model).tokens
    tokens["overhead"] = total - sum(tokens.values())
    return tokens
