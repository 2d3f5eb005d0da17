"""Request analysis (DESIGN step 2): what a request is and needs, without calling a model.

:func:`analyse` classifies the task type from cues in ``data/task_cues.yaml`` (regular
expressions with weights, over the last user message and, at a lower weight, the system
prompt), estimates complexity (0..1) from the prompt's length and its cues, counts input
tokens, predicts output tokens (``pricing.output``) and collects the capabilities the request
uses. Pure and fast: one pass of precompiled expressions, no I/O after the cue file's first load.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from thrifty.config.yamlsource import parse_data
from thrifty.errors import ConfigError
from thrifty.pricing.output import predict_output_tokens
from thrifty.pricing.tokens import count_chat
from thrifty.routing.needs import required_capabilities
from thrifty.routing.tasks import Capability, TaskType

CUES_FILE = "task_cues.yaml"
#: The tokenizer that measures a request's length for analysis (model-independent measure).
REFERENCE_TOKENIZER = "gpt-4o"
#: Text beyond this many characters is not searched for cues (long inputs are documents).
CUE_WINDOW = 6000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Cue(_Strict):
    pattern: str = Field(min_length=1)
    weight: float


class TaskCues(_Strict):
    min_score: float = Field(gt=0)
    system_weight: float = Field(ge=0, le=1)
    tasks: dict[TaskType, list[Cue]]
    complexity: list[Cue]


class _Cue:
    """A compiled cue. Most cues start with a word from a list (``\\b(solve|equation|…)``):
    for those, ``search`` first checks that one of the words' leading letters occurs in the
    text at all (a substring test, far cheaper than running the expression), and runs the
    expression only then."""

    __slots__ = ("pattern", "prefixes", "weight")

    def __init__(self, cue: Cue) -> None:
        self.pattern = re.compile(cue.pattern, re.MULTILINE)
        self.prefixes = literal_prefixes(cue.pattern)
        self.weight = cue.weight

    def search(self, text: str) -> bool:
        if self.prefixes is not None and not any(p in text for p in self.prefixes):
            return False
        return self.pattern.search(text) is not None


_LETTERS = re.compile(r"[a-z][a-z ]*")


def literal_prefixes(pattern: str) -> tuple[str, ...] | None:
    """Letters every match must contain: the leading letters of each alternative of a
    pattern ``\\b(alt|alt|…)…`` or ``\\bword…``; None when that cannot be told simply (then
    the expression always runs). Only prefixes of at least two letters count."""
    if not pattern.startswith(r"\b"):
        return None
    body = pattern[2:]
    if not body.startswith("("):
        prefix = _leading_letters(body)
        return (prefix,) if len(prefix) >= 2 else None
    depth, alternatives, current = 0, [], ""
    for char in body[1:]:
        if char == "(":
            depth += 1
        elif char == ")":
            if depth == 0:
                break
            depth -= 1
        if char == "|" and depth == 0:
            alternatives.append(current)
            current = ""
        else:
            current += char
    else:
        return None  # unbalanced: let the expression decide
    alternatives.append(current)
    prefixes = [_leading_letters(alternative) for alternative in alternatives]
    return tuple(prefixes) if all(len(prefix) >= 2 for prefix in prefixes) else None


def _leading_letters(text: str) -> str:
    """The literal letters a pattern starts with; a letter that a quantifier makes optional
    (``tests?``) is not required, so it is left out."""
    match = _LETTERS.match(text)
    if match is None:
        return ""
    letters = match.group(0)
    if text[len(letters) : len(letters) + 1] in ("?", "*", "{"):
        letters = letters[:-1]
    return letters.strip()


@dataclass(frozen=True, slots=True)
class _Compiled:
    min_score: float
    system_weight: float
    tasks: tuple[tuple[TaskType, tuple[_Cue, ...]], ...]
    complexity: tuple[_Cue, ...]


def _compile(cues: Sequence[Cue]) -> tuple[_Cue, ...]:
    return tuple(_Cue(cue) for cue in cues)


def parse_task_cues(text: str, source: str = CUES_FILE) -> TaskCues:
    """Validate the cue file (a bad entry names its line); patterns must compile."""
    cues = parse_data(TaskCues, text, source)
    for task, entries in cues.tasks.items():
        for entry in entries:
            try:
                re.compile(entry.pattern)
            except re.error as exc:
                raise ConfigError(
                    f"{source}: tasks.{task}: bad pattern {entry.pattern!r}: {exc}"
                ) from None
    return cues


@cache
def _cues() -> _Compiled:
    text = resources.files(__package__).joinpath("data", CUES_FILE).read_text("utf-8")
    cues = parse_task_cues(text)
    return _Compiled(
        cues.min_score,
        cues.system_weight,
        tuple((task, _compile(entries)) for task, entries in cues.tasks.items()),
        _compile(cues.complexity),
    )


@dataclass(frozen=True, slots=True)
class RequestProfile:
    """What one request is: its task, size, needs. The quality requirement is resolved later
    (header, rule, key default), so it is not part of the profile."""

    task_type: TaskType
    task_scores: Mapping[str, float]
    complexity: float
    input_tokens: int
    predicted_output_tokens: int
    output_source: str
    max_tokens: int | None
    needs: frozenset[Capability]

    @property
    def min_context(self) -> int:
        return self.input_tokens + (self.max_tokens or 1)

    def json(self) -> dict[str, Any]:
        return {
            "taskType": self.task_type.value,
            "taskScores": {k: round(v, 3) for k, v in self.task_scores.items()},
            "complexity": round(self.complexity, 3),
            "inputTokens": self.input_tokens,
            "predictedOutputTokens": self.predicted_output_tokens,
            "outputSource": self.output_source,
            "maxTokens": self.max_tokens,
            "needs": sorted(c.value for c in self.needs),
        }


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        return "\n".join(
            str(part.get("text") or "")
            for part in content
            if isinstance(part, Mapping) and part.get("type") == "text"
        )
    return ""


def _prompt_texts(messages: Sequence[Mapping[str, Any]], system: object) -> tuple[str, str]:
    """The last user message and the system prompt (from ``system`` or system messages)."""
    user = ""
    for message in reversed(messages):
        if message.get("role") == "user":
            user = _text(message.get("content"))
            break
    system_parts = [_text(system)] if system is not None else []
    system_parts += [_text(m.get("content")) for m in messages if m.get("role") == "system"]
    # Lower-cased once here: the cues are written in lower case and compiled without
    # IGNORECASE, which makes each search about 40% cheaper.
    return user[:CUE_WINDOW].lower(), "\n".join(system_parts)[:CUE_WINDOW].lower()


def classify(user_text: str, system_text: str = "") -> tuple[TaskType, dict[str, float]]:
    """The task type with the highest cue score (``chat`` below the minimum), and the scores.
    The cues are lower case; so is the text they are searched in."""
    cues = _cues()
    user_text, system_text = user_text.lower(), system_text.lower()
    scores: dict[str, float] = {}
    for task, patterns in cues.tasks:
        score = 0.0
        for cue in patterns:
            if cue.search(user_text):
                score += cue.weight
            elif system_text and cue.search(system_text):
                score += cue.weight * cues.system_weight
        if score:
            scores[task.value] = score
    if not scores:
        return TaskType.CHAT, scores
    best = max(scores, key=lambda name: (scores[name], name))
    if scores[best] < cues.min_score:
        return TaskType.CHAT, scores
    return TaskType(best), scores


def estimate_complexity(user_text: str, input_tokens: int, turns: int) -> float:
    """0 (trivial) .. 1 (long, multi-part, demanding): length on a log scale plus cues."""
    length = min(1.0, math.log10(max(10, input_tokens)) / 4.5 - 0.2)
    cue_total = sum(cue.weight for cue in _cues().complexity if cue.search(user_text))
    parts = min(0.15, 0.03 * user_text.count("?") + 0.02 * max(0, turns - 1))
    return round(min(1.0, max(0.0, 0.6 * length + cue_total + parts)), 4)


def analyse(
    messages: Sequence[Mapping[str, Any]],
    *,
    max_tokens: int | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
    response_format: Mapping[str, Any] | None = None,
    system: str | Sequence[Mapping[str, Any]] | None = None,
) -> RequestProfile:
    """The profile of one chat request (OpenAI or Anthropic shape; ``system`` for the latter)."""
    user_text, system_text = _prompt_texts(messages, system)
    task, scores = classify(user_text, system_text)
    tokens = count_chat(messages, REFERENCE_TOKENIZER, tools=tools, system=system).tokens
    prediction = predict_output_tokens(messages, max_tokens=max_tokens, task_type=task.value)
    needs = required_capabilities(messages, tools=tools, response_format=response_format)
    return RequestProfile(
        task_type=task,
        task_scores=scores,
        complexity=estimate_complexity(user_text, tokens, len(messages)),
        input_tokens=tokens,
        predicted_output_tokens=prediction.tokens,
        output_source=prediction.source,
        max_tokens=max_tokens,
        needs=needs,
    )
