"""Predict how many output tokens a request will produce, and the bound a budget must hold.

A first model, in order of precedence:

1. ``max_tokens`` given: it is both the estimate and the worst case (``source="max_tokens"``).
2. A length cue in the last user message: "in 500 words", "300-500 words", "about 3
   paragraphs", "2 pages", "in 200 tokens", "five sentences", "list 10 ...", "top 5", "a haiku",
   "yes or no", "answer with a single letter". Units become tokens with the sizes in
   ``data/output_lengths.yaml`` (1.33 tokens per English word). Several cues: the largest.
3. Otherwise the prior of the task type (default ``chat``); summarisation and translation scale
   with the length of the input.

Without ``max_tokens`` the worst case is ``model_max_output`` when known, else the documented
``default_cap`` (4096); the estimate never exceeds the worst case. Reasoning models also bill
hidden reasoning tokens as output: the priors do not know the model, so a reasoning-heavy model
without ``max_tokens`` can exceed the estimate (never the worst case, which is its limit).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from thrifty.config.yamlsource import parse_data
from thrifty.errors import InvalidInput
from thrifty.pricing.tokens import count_text

__all__ = ["OutputPrediction", "parse_output_model", "predict_output_tokens"]

DATA_FILE = "output_lengths.yaml"
_LENGTH_REFERENCE_MODEL = "gpt-4o"  # o200k tokens: a model-independent measure of input length


@dataclass(frozen=True, slots=True)
class OutputPrediction:
    tokens: int  # expected output tokens
    worst_case: int  # the bound a budget hold must reserve
    source: str  # "max_tokens" | "prompt_cue" | "task_prior"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Units(_Strict):
    token: float = Field(gt=0)
    word: float = Field(gt=0)
    sentence: float = Field(gt=0)
    paragraph: float = Field(gt=0)
    page: float = Field(gt=0)
    line: float = Field(gt=0)
    item: float = Field(gt=0)
    list_overhead: float = Field(ge=0)


class Phrase(_Strict):
    phrase: str = Field(min_length=1)
    tokens: int = Field(gt=0)


class TaskPrior(_Strict):
    tokens: int | None = Field(default=None, gt=0)
    per_input_token: float | None = Field(default=None, gt=0)
    min: int = Field(default=1, gt=0)
    max: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_kind(self) -> TaskPrior:
        if (self.tokens is None) == (self.per_input_token is None):
            raise ValueError("give exactly one of 'tokens' or 'per_input_token'")
        return self


class OutputModel(_Strict):
    default_cap: int = Field(gt=0)
    units: Units
    phrases: list[Phrase]
    task_priors: dict[str, TaskPrior]

    @model_validator(mode="after")
    def _has_chat(self) -> OutputModel:
        if "chat" not in self.task_priors:
            raise ValueError("task_priors: the default task type 'chat' is required")
        return self


def parse_output_model(text: str, source: str = DATA_FILE) -> OutputModel:
    """Parse and validate the YAML data; a bad entry raises ``ConfigError`` naming its line."""
    return parse_data(OutputModel, text, source)


@cache
def _model() -> OutputModel:
    text = resources.files(__package__).joinpath("data", DATA_FILE).read_text("utf-8")
    return parse_output_model(text)


def predict_output_tokens(
    messages: Sequence[Mapping[str, Any]],
    *,
    max_tokens: int | None,
    task_type: str | None = None,
    model_max_output: int | None = None,
) -> OutputPrediction:
    """Expected output tokens and the worst case to reserve (see the module docstring)."""
    return output_predictor(messages, max_tokens=max_tokens, task_type=task_type)(model_max_output)


def output_predictor(
    messages: Sequence[Mapping[str, Any]],
    *,
    max_tokens: int | None,
    task_type: str | None = None,
) -> Callable[[int | None], OutputPrediction]:
    """``predict_output_tokens`` for one request as a function of the model's output limit:
    the prompt is read once however many models are priced."""
    model = _model()
    if max_tokens is not None and max_tokens < 1:
        raise InvalidInput("max_tokens must be at least 1", field="max_tokens")
    unbounded: tuple[int, str] | None = None

    def predict(model_max_output: int | None) -> OutputPrediction:
        nonlocal unbounded
        if model_max_output is not None and model_max_output < 1:
            raise InvalidInput("model_max_output must be at least 1", field="model_max_output")
        if max_tokens is not None:
            bound = max_tokens if model_max_output is None else min(max_tokens, model_max_output)
            return OutputPrediction(tokens=bound, worst_case=bound, source="max_tokens")
        worst_case = model_max_output if model_max_output is not None else model.default_cap
        if unbounded is None:
            unbounded = _expected(messages, task_type, model)
        expected, source = unbounded
        return OutputPrediction(min(expected, worst_case), worst_case, source)

    return predict


def _expected(
    messages: Sequence[Mapping[str, Any]], task_type: str | None, model: OutputModel
) -> tuple[int, str]:
    """The expected output tokens before any cap, and where they came from."""
    cue = cue_tokens(_last_user_text(messages), model)
    if cue is not None:
        return cue, "prompt_cue"
    task = task_type or "chat"
    prior = model.task_priors.get(task)
    if prior is None:
        known = ", ".join(sorted(model.task_priors))
        raise InvalidInput(f"unknown task type {task!r} (known: {known})", field="task_type")
    if prior.tokens is not None:
        expected = prior.tokens
    else:
        scale = prior.per_input_token or 0.0
        expected = math.ceil(_input_tokens(messages) * scale)
    expected = max(prior.min, expected if prior.max is None else min(prior.max, expected))
    return expected, "task_prior"


_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "fifteen": 15, "twenty": 20, "thirty": 30, "fifty": 50, "hundred": 100,
    "a couple of": 2, "a few": 3, "several": 5, "a dozen": 12,
}  # fmt: skip
_UNITS = {
    "token": "token", "word": "word", "sentence": "sentence", "paragraph": "paragraph",
    "page": "page", "line": "line", "bullet": "item", "bullet point": "item", "item": "item",
    "example": "item", "idea": "item", "reason": "item", "tip": "item",
}  # fmt: skip
_NUMBER = r"\d{1,6}(?:,\d{3})?|" + "|".join(
    re.escape(word) for word in sorted(_NUMBER_WORDS, key=len, reverse=True)
)
_UNIT = "|".join(re.escape(unit) for unit in sorted(_UNITS, key=len, reverse=True))
_UNIT_CUE = re.compile(
    rf"\b(?:(?P<low>{_NUMBER})\s*(?:-|–|to|or)\s*)?(?P<count>{_NUMBER})[\s-]*"
    rf"(?P<unit>{_UNIT})s?\b"
)
_LIST_CUE = re.compile(rf"\b(?:list|top|name|give me|suggest|provide)\s+(?P<count>{_NUMBER})\b")


def cue_tokens(text: str, model: OutputModel | None = None) -> int | None:
    """Tokens asked for by a length cue in ``text``, or None when there is none."""
    model = model or _model()
    lowered = text.lower()
    units = model.units
    found: list[float] = []
    for match in _UNIT_CUE.finditer(lowered):
        count = _number(match["count"])
        unit = _UNITS[match["unit"]]
        size: float = getattr(units, unit)
        overhead = units.list_overhead if unit == "item" else 0.0
        found.append(count * size + overhead)
    for match in _LIST_CUE.finditer(lowered):
        found.append(_number(match["count"]) * units.item + units.list_overhead)
    if found:
        return max(1, math.ceil(max(found)))
    for entry in model.phrases:
        if re.search(rf"(?<!\w){re.escape(entry.phrase)}(?!\w)", lowered):
            return entry.tokens
    return None


def _number(text: str) -> int:
    return _NUMBER_WORDS.get(text) or int(text.replace(",", ""))


def _texts(content: object) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, Sequence):
        return [
            str(part.get("text") or "")
            for part in content
            if isinstance(part, Mapping) and part.get("type") == "text"
        ]
    return []


def _last_user_text(messages: Sequence[Mapping[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return "\n".join(_texts(message.get("content")))
    return ""


def _input_tokens(messages: Sequence[Mapping[str, Any]]) -> int:
    text = "\n".join(
        piece
        for message in messages
        if message.get("role") != "system"
        for piece in _texts(message.get("content"))
    )
    return count_text(text, _LENGTH_REFERENCE_MODEL).tokens
