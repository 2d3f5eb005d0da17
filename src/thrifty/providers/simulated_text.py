"""What the simulated provider answers: deterministic, plausible replies with exact token counts.

Everything here is pure: a reply is a function of the request's digest (its messages, the
server's seed and the request's own ``seed``), the choice index and the request's options.

- Text is drawn from a built-in corpus of generic helpful sentences. Its length follows the cues
  of the last user message that ``thrifty.pricing.output`` also reads ("in one sentence", "500
  words", "list 5", "yes or no"), else 40–200 tokens depending on the prompt.
- JSON mode answers an object built from the JSON schema (all properties, plausible values).
- A tool call carries arguments built from the tool's schema (its required properties).
- Completion tokens are exact for the requested model: ``count_text`` of the text, plus, per
  tool call, ``count_text`` of the tool's name and of its arguments' JSON text.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from array import array
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import orjson

from thrifty.pricing.output import cue_tokens
from thrifty.pricing.tokenizer_catalog import encoding, tokenizer_for
from thrifty.pricing.tokens import count_text

__all__ = [
    "Reply",
    "ToolCall",
    "choose_tool",
    "embedding_vector",
    "plan_reply",
    "reply_tokens",
    "sample_json",
    "truncate_to_tokens",
]

CORPUS = (
    "That is a good question, and the answer depends on a few factors.",
    "The short version is that it usually works well when the inputs are clean.",
    "Start by writing down what you want to achieve and how you will measure it.",
    "It helps to break the problem into smaller steps that can be checked one at a time.",
    "Most of the cost comes from a small number of operations, so measure before optimising.",
    "A simple approach is often the most robust one, especially at the beginning.",
    "Keep in mind that the defaults are chosen for the common case, not for every case.",
    "If the results look surprising, check the assumptions before changing the method.",
    "Here is one way to think about it: each part should do one thing and do it well.",
    "You can verify this with a small example before applying it to the whole data set.",
    "The main trade-off is between speed and accuracy, and the right balance depends on you.",
    "In practice, teams often begin with a prototype and refine it as they learn more.",
    "Documentation and tests make the next change much cheaper than the first one.",
    "When in doubt, prefer the option that is easiest to undo later.",
    "Another useful habit is to write down the decision and the reason behind it.",
    "This pattern is widely used because it is easy to understand and to maintain.",
    "The details matter less than consistency, so pick a convention and follow it.",
    "A common mistake is to solve a problem that nobody actually has yet.",
    "Consider the edge cases early, such as empty inputs, very large inputs and failures.",
    "It is worth asking the people who will use the result what they really need.",
    "Small, frequent improvements tend to add up faster than rare large ones.",
    "If performance matters, profile first and then fix the slowest part.",
    "Clear names and short functions make the intent obvious to the next reader.",
    "Security should be part of the design from the start rather than added at the end.",
    "Automating the repetitive steps frees time for the work that needs judgement.",
    "The numbers suggest a steady trend, although a longer period would make it clearer.",
    "For most readers, a concrete example explains more than an abstract definition.",
    "Budget some time for review, because a second pair of eyes catches many issues.",
    "The result should be checked against the original goal before it is shipped.",
    "Costs can be reduced by caching repeated work and by choosing smaller tools.",
    "A good summary states the conclusion first and the supporting details after it.",
    "Each option has its strengths, so compare them on the criteria that matter most.",
    "Monitoring the system after a change is as important as the change itself.",
    "It is usually better to fail loudly than to continue with a wrong result.",
    "Write the plan down, share it early, and adjust it when the facts change.",
    "Simple language and short sentences make the text accessible to more people.",
    "Historical data is a useful guide, but it does not guarantee the future.",
    "The best choice is the one that meets the requirements at the lowest total cost.",
    "Try the idea on a small scale first, then expand it once it proves useful.",
    "Feedback from real use is the most reliable signal of what to improve next.",
    "Think about who will maintain this in a year and what they will need to know.",
    "Most problems become easier once they are described precisely.",
    "Keep the interface small and stable so that the internals can change freely.",
    "A checklist prevents the same mistake from happening twice.",
    "Good estimates come from comparing with similar work that has already been done.",
    "It is fine to start with an approximate answer and improve it step by step.",
    "Make the common path fast and the rare path correct.",
    "Plan for failure by making each step safe to retry.",
    "Trade-offs are easier to discuss when the costs and benefits are written side by side.",
    "Finally, remember that clarity is worth more than cleverness.",
)
OPENERS = (
    "Sure, here is an overview.",
    "Here is a concise answer.",
    "Great question.",
    "Happy to help with that.",
    "Let me explain.",
    "Here is what I would suggest.",
)
AFTER_TOOL = (
    "Based on the tool result, here is the answer.",
    "The tool returned the information needed.",
    "Thanks, that result settles it.",
)
TOOL_PREFACE = (
    "I'll use a tool to look that up.",
    "Let me check that for you.",
    "I'll call the right tool for this.",
)
SHORT_ANSWERS = ("Yes.", "No.", "Probably.", "It depends.", "Correct.", "Not quite.")
CITIES = ("Paris", "London", "Tokyo", "San Francisco", "Berlin", "Toronto")
NAMES = ("Alex Morgan", "Sam Lee", "Jordan Smith", "Taylor Kim")
_REFERENCE = "gpt-4o"  # sentence sizes for composing: model-independent enough
_SENTENCES = re.compile(
    r"\b(\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten)\s+(?:short\s+)?sentences?\b"
)
_ITEMS = re.compile(
    r"\b(?:list|top|name|give me|suggest|provide)\s+(\d{1,2}|three|four|five|six|seven|eight"
    r"|nine|ten)\b|\b(\d{1,2}|three|four|five|six|seven|eight|nine|ten)\s+(?:bullet points"
    r"|bullets|items|examples|ideas|reasons|tips|steps|ways)\b"
)
_WORD_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}  # fmt: skip
_LONG_HINTS = ("explain", "describe", "write", "compare", "why", "how ", "detail", "essay")
_ACTION_WORDS = frozenset(
    re.findall(
        r"\w+",
        "get find look search check fetch book send create schedule calculate compute convert "
        "call use run open add update delete set show weather price current latest today lookup "
        "order buy cancel reserve email remind translate query retrieve",
    )
)
_PLACE = re.compile(r"\b(?:in|at|for|from|to|near)\s+([A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*)")
_INTEGER = re.compile(r"\b\d{1,6}\b")
MAX_TARGET = 8192
_STEPS = tuple(step for step in range(1, len(CORPUS)) if math.gcd(step, len(CORPUS)) == 1)
_cue_tokens = lru_cache(maxsize=4096)(cue_tokens)


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # compact JSON text


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    tool_calls: tuple[ToolCall, ...]
    finish: str  # "stop", "length", "tool_calls" or "stop_sequence"
    stop_sequence: str | None
    tokens: int  # exact completion tokens for the model


def plan_reply(
    *,
    model: str,
    digest: int,
    choice: int,
    prompt: str,
    after_tool_result: bool,
    tool: Mapping[str, Any] | None,
    json_schema: Mapping[str, Any] | None,
    json_mode: bool,
    max_tokens: int | None,
    stops: Sequence[str],
    tool_preface: bool,
    call_id_prefix: str,
) -> Reply:
    """One choice of the answer (see the module docstring)."""
    rng = random.Random(digest * 131 + choice)  # noqa: S311 (deterministic on purpose)
    if tool is not None:
        name = str(tool.get("name") or "")
        schema = tool.get("parameters", tool.get("input_schema")) or {}
        arguments = orjson.dumps(sample_json(schema, rng, prompt, all_properties=False)).decode()
        call = ToolCall(call_id_prefix + _token(rng), name, arguments)
        text = rng.choice(TOOL_PREFACE) if tool_preface else ""
        tokens = reply_tokens(text, (call,), model)
        if max_tokens is None or tokens <= max_tokens:
            return Reply(text, (call,), "tool_calls", None, tokens)
        text = compose_text(rng, _target(prompt, rng))  # does not fit: a truncated text
    elif json_schema is not None or json_mode:
        value = sample_json(json_schema or {}, rng, prompt) if json_schema else None
        if not isinstance(value, dict):
            value = {"answer": compose_text(rng, min(_target(prompt, rng), 60))}
        text = orjson.dumps(value).decode()
    else:
        target = _target(prompt, rng)
        text = compose_text(
            rng, target, prompt, rng.choice(AFTER_TOOL) if after_tool_result else ""
        )
    finish, stop_sequence = "stop", None
    for stop in stops:
        at = text.find(stop) if stop else -1
        if at >= 0:
            text, finish, stop_sequence = text[:at], "stop_sequence", stop
    tokens = count_text(text, model).tokens
    if max_tokens is not None and tokens > max_tokens:
        text = truncate_to_tokens(text, model, max_tokens)
        finish, stop_sequence, tokens = "length", None, count_text(text, model).tokens
    return Reply(text, (), finish, stop_sequence, tokens)


def reply_tokens(text: str, tool_calls: Sequence[ToolCall], model: str) -> int:
    """Completion tokens of a reply: its text, and each tool call's name and arguments."""
    total = count_text(text, model).tokens if text else 0
    for call in tool_calls:
        total += count_text(call.name, model).tokens + count_text(call.arguments, model).tokens
    return total


def truncate_to_tokens(text: str, model: str, limit: int) -> str:
    """The longest token prefix of ``text`` that counts at most ``limit`` tokens for ``model``."""
    tokenizer = tokenizer_for(model)
    bpe = encoding(tokenizer.encoding)
    ids = bpe.encode_ordinary(text)
    keep = min(len(ids), int(limit / tokenizer.factor) + 1)
    while keep > 0:
        prefix = bpe.decode(ids[:keep])
        if count_text(prefix, model).tokens <= limit:
            return prefix
        keep -= 1
    return ""


def compose_text(rng: random.Random, target: int, prompt: str = "", opener: str = "") -> str:
    """Sentences from the corpus adding up to about ``target`` tokens."""
    lowered = prompt.lower()
    if target <= 4:
        return rng.choice(SHORT_ANSWERS)
    items = _count(_ITEMS, lowered)
    if items:
        lines = [opener or "Here are some suggestions:"]
        lines += [f"{i}. {sentence}" for i, sentence in enumerate(_shuffled(rng, items), 1)]
        return "\n".join(lines)
    sentences = _count(_SENTENCES, lowered)
    sizes = _sentence_sizes()
    chosen: list[str] = [opener] if opener else []
    if not opener and not sentences and target > 60 and rng.random() < 0.5:
        chosen.append(rng.choice(OPENERS))
    total = sum(sizes[sentence] for sentence in chosen)
    order = iter(_shuffled(rng, MAX_TARGET))
    while (len(chosen) < sentences) if sentences else (total < target or not chosen):
        sentence = next(order)
        chosen.append(sentence)
        total += sizes[sentence]
    paragraphs: list[str] = []
    while chosen:
        size = rng.randint(3, 5)
        paragraphs.append(" ".join(chosen[:size]))
        chosen = chosen[size:]
    return "\n\n".join(paragraphs)


def sample_json(
    schema: Mapping[str, Any],
    rng: random.Random,
    prompt: str = "",
    *,
    all_properties: bool = True,
    root: Mapping[str, Any] | None = None,
    name: str = "",
    depth: int = 0,
) -> Any:
    """A plausible value that matches ``schema`` (types, enums, bounds, required properties)."""
    root = root if root is not None else schema
    if not isinstance(schema, Mapping) or depth > 8:
        return None
    reference = schema.get("$ref")
    if isinstance(reference, str) and reference.startswith("#/"):
        target: Any = root
        for part in reference[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        schema = target
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return rng.choice(list(schema["enum"]))
    if "default" in schema and depth > 0:
        return schema["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        options = [o for o in schema.get(key) or () if isinstance(o, Mapping)]
        options = [o for o in options if o.get("type") != "null"] or options
        if options:
            return sample_json(options[0], rng, prompt, root=root, name=name, depth=depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    again = {"all_properties": all_properties, "root": root, "depth": depth + 1}
    if kind == "object":
        properties = schema.get("properties") or {}
        wanted = set(schema.get("required") or ())
        if all_properties or not wanted:
            wanted = set(properties)
        return {
            key: sample_json(sub, rng, prompt, name=key, **again)  # type: ignore[arg-type]
            for key, sub in properties.items()
            if key in wanted
        }
    if kind == "array":
        items = schema.get("items") if isinstance(schema.get("items"), Mapping) else {}
        count = max(int(schema.get("minItems") or 1), 1)
        count = min(count, int(schema.get("maxItems") or count), 20)
        singular = name[:-1] if name.endswith("s") else name
        return [sample_json(items, rng, prompt, name=singular, **again) for _ in range(count)]  # type: ignore[arg-type]
    if kind in ("integer", "number"):
        return _number(schema, rng, prompt, integer=kind == "integer")
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string(schema, name.lower(), rng, prompt)


def choose_tool(
    tools: Sequence[Mapping[str, Any]],
    mode: str,
    forced_name: str | None,
    prompt: str,
    after_tool_result: bool,
) -> Mapping[str, Any] | None:
    """The tool to call (``{"name", "parameters"|"input_schema"}``), or None to answer in text.

    ``mode``: "none", "auto" (call when the last user message asks for an action), "required"
    (call the best-matching tool) or "named" (call ``forced_name``).
    """
    if not tools or mode == "none":
        return None
    if mode == "named":
        return next((t for t in tools if t.get("name") == forced_name), None)
    words = set(re.findall(r"[a-z]+", prompt.lower()))
    scores = [len(words & _tool_words(tool)) for tool in tools]
    best = tools[scores.index(max(scores))]
    if mode == "required":
        return best
    if after_tool_result or not prompt:
        return None
    return best if max(scores) > 0 or words & _ACTION_WORDS else None


def _tool_words(tool: Mapping[str, Any]) -> set[str]:
    text = f"{tool.get('name') or ''} {tool.get('description') or ''}".replace("_", " ")
    return {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) >= 4}


def _target(prompt: str, rng: random.Random) -> int:
    cue = _cue_tokens(prompt)
    if cue is not None:
        return min(MAX_TARGET, cue if cue <= 4 else round(cue * rng.uniform(0.85, 1.05)))
    lowered = prompt.lower()
    if any(hint in lowered for hint in _LONG_HINTS):
        return rng.randint(100, 200)
    return rng.randint(40, 120)


def _count(pattern: re.Pattern[str], lowered: str) -> int:
    match = pattern.search(lowered)
    if match is None:
        return 0
    word = next(group for group in match.groups() if group)
    return min(_WORD_NUMBERS.get(word) or int(word), 100)


def _shuffled(rng: random.Random, count: int) -> Iterator[str]:
    """``count`` corpus sentences, none repeated before all were used (a cheap permutation:
    a random start and a random step coprime with the corpus size)."""
    size = len(CORPUS)
    start, step = rng.randrange(size), rng.choice(_STEPS)
    for index in range(count):
        yield CORPUS[(start + index * step) % size]


@cache
def _sentence_sizes() -> dict[str, int]:
    every = CORPUS + OPENERS + AFTER_TOOL
    return {sentence: count_text(" " + sentence, _REFERENCE).tokens for sentence in every}


def _token(rng: random.Random) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(rng.choice(alphabet) for _ in range(24))


def _number(schema: Mapping[str, Any], rng: random.Random, prompt: str, *, integer: bool) -> Any:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    low = 1 if low is None else low + (1 if "exclusiveMinimum" in schema else 0)
    high = max(low, 10 if high is None else high - (1 if "exclusiveMaximum" in schema else 0))
    for found in _INTEGER.findall(prompt):
        if low <= int(found) <= high:
            return int(found)
    if integer:
        return rng.randint(int(low), int(high)) if int(low) <= int(high) else int(low)
    return round(rng.uniform(float(low), float(high)), 2)


def _string(schema: Mapping[str, Any], name: str, rng: random.Random, prompt: str) -> str:
    text_format = schema.get("format")
    if text_format == "date-time" or "timestamp" in name or "datetime" in name:
        return "2026-03-14T14:30:00Z"
    if text_format == "date" or "date" in name or name in ("day", "when"):
        return "2026-03-14"
    if text_format == "email" or "email" in name:
        return "alex@example.com"
    if text_format in ("uri", "url") or name in ("url", "link", "website", "uri"):
        return "https://example.com"
    if "time" in name:
        return "14:30"
    if any(key in name for key in ("location", "city", "place", "address", "destination")):
        place = _PLACE.search(prompt)
        return place.group(1) if place else rng.choice(CITIES)
    if any(key in name for key in ("query", "search", "question", "prompt", "text", "message")):
        return prompt.strip()[:120] or "example"
    if name.endswith("id") or name.endswith("_ids"):
        return "id_" + _token(rng)[:10]
    if "name" in name or name in ("author", "user", "person"):
        return rng.choice(NAMES)
    if name in ("unit", "units"):
        return "celsius"
    if "currency" in name:
        return "USD"
    if name in ("language", "lang", "locale"):
        return "en"
    if "country" in name:
        return "US"
    if "phone" in name:
        return "+1-555-0100"
    sentence = rng.choice(CORPUS)
    if name in ("title", "subject", "headline", "label", "category", "tag", "keyword"):
        return " ".join(sentence.split()[:4]).rstrip(",.")
    max_length = schema.get("maxLength")
    return sentence[: int(max_length)] if isinstance(max_length, int) else sentence


def embedding_vector(value: str, model: str, seed: int, dimensions: int) -> list[float]:
    """A deterministic unit vector for ``value`` (same text, model and seed: same vector)."""
    raw = hashlib.shake_256(f"{seed}\0{model}\0{value}".encode()).digest(2 * dimensions)
    numbers = array("h", raw)
    norm = math.sqrt(sum(n * n for n in numbers)) or 1.0
    return [n / norm for n in numbers]
