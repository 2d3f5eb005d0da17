"""Routing datasets: prompts with each model's recorded outcome, one JSON object a line.

The format (``shared/data/routerbench/README.md``)::

    {"id": "arc-challenge.test.1108", "task": "arc_challenge",
     "messages": [{"role": "user", "content": "…"}],
     "outcomes": {"gpt-4-1106-preview": {"quality": 1.0, "cost": 0.00512}, …}}

``quality`` is in 0..1 (1: a good answer); ``cost`` is the call's real cost in USD, kept as an
exact :class:`~decimal.Decimal` (the JSON number is parsed as written, never through a float).
``task`` is optional and only used to describe baselines: routers see ``messages`` alone. A
model missing from ``outcomes`` has no recorded answer for that prompt.

Every malformed line raises :class:`~thrifty.errors.InvalidInput` naming the file, the line
number and the field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from thrifty.errors import InvalidInput

Message = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one model's answer to one prompt was worth, and what it cost."""

    quality: float
    cost: Decimal


@dataclass(frozen=True, slots=True)
class Example:
    """One prompt of a dataset with the recorded outcome of every model that answered it."""

    id: str
    messages: tuple[Message, ...]
    outcomes: Mapping[str, Outcome]
    task: str | None = None


@dataclass(frozen=True, slots=True)
class Dataset:
    """The examples of one file, in file order, and every model that appears in them."""

    examples: tuple[Example, ...]
    models: tuple[str, ...]
    source: str = "<memory>"

    def __len__(self) -> int:
        return len(self.examples)

    def subset(self, indices: Sequence[int]) -> Dataset:
        """The examples at ``indices`` (in that order), with the same model list."""
        return Dataset(tuple(self.examples[i] for i in indices), self.models, self.source)

    def mean_quality(self) -> dict[str, float]:
        """Each model's mean quality over the prompts it answered."""
        totals: dict[str, list[float]] = {model: [] for model in self.models}
        for example in self.examples:
            for model, outcome in example.outcomes.items():
                totals[model].append(outcome.quality)
        return {m: (sum(q) / len(q) if q else 0.0) for m, q in totals.items()}

    def ranking(self) -> tuple[str, ...]:
        """The models by mean quality, strongest first (ties: name order)."""
        means = self.mean_quality()
        return tuple(sorted(means, key=lambda model: (-means[model], model)))

    def strongest_model(self) -> str:
        """The model with the highest mean quality (ties: the first in name order)."""
        return self.ranking()[0]


def _fail(where: str, field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{where}: {field}: {message}", field=field)


def _text(value: object) -> bool:
    """Whether ``value`` is message content: a string or a list of ``{"text": …}`` parts."""
    if isinstance(value, str):
        return True
    return isinstance(value, list) and all(
        isinstance(part, dict) and isinstance(part.get("text", ""), str) for part in value
    )


def _messages(raw: object, where: str) -> tuple[Message, ...]:
    if not isinstance(raw, list) or not raw:
        raise _fail(where, "messages", "must be a non-empty list of messages")
    for index, message in enumerate(raw):
        field = f"messages[{index}]"
        if not isinstance(message, dict):
            raise _fail(where, field, "must be an object with role and content")
        if not isinstance(message.get("role"), str):
            raise _fail(where, f"{field}.role", "must be a string")
        if not _text(message.get("content")):
            raise _fail(where, f"{field}.content", "must be a string or a list of text parts")
    return tuple(raw)


def _outcome(raw: object, where: str, field: str) -> Outcome:
    if not isinstance(raw, dict):
        raise _fail(where, field, "must be an object with quality and cost")
    quality, cost = raw.get("quality"), raw.get("cost")
    if not isinstance(quality, int | Decimal) or isinstance(quality, bool):
        raise _fail(where, f"{field}.quality", "must be a number in 0..1")
    if not 0 <= quality <= 1:
        raise _fail(where, f"{field}.quality", f"must be in 0..1, got {quality}")
    if not isinstance(cost, int | Decimal) or isinstance(cost, bool):
        raise _fail(where, f"{field}.cost", "must be a number of USD")
    if not Decimal(cost).is_finite() or cost < 0:
        raise _fail(where, f"{field}.cost", f"must be a finite number ≥ 0, got {cost}")
    return Outcome(float(quality), Decimal(cost))


def parse_example(line: str, where: str) -> Example:
    """One line of a dataset file; ``where`` (``file:line``) prefixes every error."""
    try:
        raw = json.loads(line, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise _fail(where, "line", f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(raw, dict):
        raise _fail(where, "line", "must be a JSON object")
    identifier = raw.get("id")
    if not isinstance(identifier, str | int) or isinstance(identifier, bool):
        raise _fail(where, "id", "must be a string or an integer")
    task = raw.get("task")
    if task is not None and not isinstance(task, str):
        raise _fail(where, "task", "must be a string when present")
    outcomes = raw.get("outcomes")
    if not isinstance(outcomes, dict) or not outcomes:
        raise _fail(where, "outcomes", "must be a non-empty object of model → outcome")
    parsed = {
        str(model): _outcome(value, where, f"outcomes.{model}") for model, value in outcomes.items()
    }
    return Example(str(identifier), _messages(raw.get("messages"), where), parsed, task)


def parse_dataset(lines: Sequence[str], source: str = "<memory>") -> Dataset:
    """Examples from JSON lines (blank lines skipped); ids must be unique."""
    examples: list[Example] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        example = parse_example(line, where)
        if example.id in seen:
            raise _fail(
                where, "id", f"duplicate id {example.id!r} (first on line {seen[example.id]})"
            )
        seen[example.id] = number
        examples.append(example)
    if not examples:
        raise InvalidInput(f"{source}: no examples", field="data")
    models = tuple(sorted({model for example in examples for model in example.outcomes}))
    return Dataset(tuple(examples), models, source)


def read_dataset(path: str | Path) -> Dataset:
    """Read and validate a dataset file (see the module docstring for the format)."""
    try:
        text = Path(path).read_text("utf-8")
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read: {exc.strerror}", field="data") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path}: not UTF-8 text", field="data") from None
    return parse_dataset(text.splitlines(), str(path))


def outcome_arrays(dataset: Dataset) -> tuple[list[list[float]], list[list[float]]]:
    """Quality and cost as float matrices (prompt × model, NaN where no answer), for learning."""
    quality = [[math.nan] * len(dataset.models) for _ in dataset.examples]
    cost = [[math.nan] * len(dataset.models) for _ in dataset.examples]
    column = {model: j for j, model in enumerate(dataset.models)}
    for i, example in enumerate(dataset.examples):
        for model, outcome in example.outcomes.items():
            quality[i][column[model]] = outcome.quality
            cost[i][column[model]] = float(outcome.cost)
    return quality, cost
