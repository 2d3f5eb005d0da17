"""Request analysis: task type, complexity, tokens, output prediction and needs."""

from __future__ import annotations

import pytest

from thrifty.errors import ConfigError
from thrifty.pricing.tokens import count_chat
from thrifty.routing.analysis import analyse, classify, literal_prefixes, parse_task_cues
from thrifty.routing.tasks import Capability, TaskType


def _user(text: str) -> list[dict[str, object]]:
    return [{"role": "user", "content": text}]


@pytest.mark.parametrize(
    ("prompt", "task"),
    [
        ("Hi! How was your weekend?", TaskType.CHAT),
        ("Write a Python function that parses ISO dates and returns a datetime", TaskType.CODE),
        ("```js\nconst x = f();\n```\nWhy does this throw?", TaskType.CODE),
        ("Solve the equation 3x + 7 = 22 and show the derivative of x^2", TaskType.MATH),
        ("What is 17 * 23 + 4?", TaskType.MATH),
        ("Think step by step: if all bloops are razzies, which of the following holds?",
         TaskType.REASONING),
        ("Summarize the following article in three key points: ...", TaskType.SUMMARISATION),
        ("Extract all the names and dates from this email as JSON", TaskType.EXTRACTION),
        ("Classify the sentiment of this review as positive, negative or neutral",
         TaskType.CLASSIFICATION),
        ("Translate 'good morning, my friend' into German", TaskType.TRANSLATION),
        ("Write a short story about a lighthouse keeper and a fox", TaskType.CREATIVE_WRITING),
        ("Write a haiku about autumn rain", TaskType.CREATIVE_WRITING),
    ],
)  # fmt: skip
def test_task_types(prompt: str, task: TaskType) -> None:
    assert analyse(_user(prompt)).task_type is task


def test_system_prompt_counts_less_than_the_user_message() -> None:
    task, scores = classify("good morning", "Summarize when asked.")
    assert task is TaskType.CHAT  # half of the summarisation cue is below the minimum
    assert scores["summarisation"] == 1.25
    assert classify("Summarize: good morning")[0] is TaskType.SUMMARISATION
    assert classify("good morning", "You translate everything into French.")[0] is (
        TaskType.TRANSLATION  # two cues at half weight: enough
    )


def test_complexity_grows_with_length_and_demands() -> None:
    short = analyse(_user("Yes or no: is water wet?")).complexity
    long = analyse(
        _user(
            "Design a detailed, comprehensive architecture for a payments ledger. First list "
            "the requirements, then the trade-offs, and make sure edge cases are covered. "
            + "Consider failure modes carefully. "
            * 60
        )
    ).complexity
    assert 0 <= short < 0.3 < long <= 1


def test_tokens_prediction_and_needs() -> None:
    messages = [
        {"role": "user", "content": [
            {"type": "text", "text": "What is in this picture? Answer in 50 words."},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        ]},
    ]  # fmt: skip
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    profile = analyse(messages, tools=tools, response_format={"type": "json_object"})
    assert profile.needs == {Capability.VISION, Capability.TOOLS, Capability.JSON}
    assert profile.input_tokens == count_chat(messages, "gpt-4o", tools=tools).tokens
    assert profile.output_source == "prompt_cue"
    assert profile.predicted_output_tokens == 67  # 50 words × 1.33
    capped = analyse(_user("Tell me a story"), max_tokens=20)
    assert (capped.predicted_output_tokens, capped.output_source) == (20, "max_tokens")
    assert capped.min_context == capped.input_tokens + 20


def test_anthropic_system_blocks_are_read() -> None:
    system = [{"type": "text", "text": "You are a code reviewer for Python and Rust."}]
    profile = analyse(_user("def f(x): return x"), system=system)
    assert profile.task_type is TaskType.CODE
    assert profile.json()["taskType"] == "code"


def test_bad_cue_file_names_the_line() -> None:
    text = "min_score: 1\nsystem_weight: 0.5\ntasks:\n  code:\n    - {pattern: 'x', wieght: 1}\n"
    with pytest.raises(ConfigError, match=r"cues.yaml:5: .*unknown key 'wieght'"):
        parse_task_cues(text + "complexity: []\n", "cues.yaml")
    bad = "min_score: 1\nsystem_weight: 0.5\ntasks:\n  code:\n    - {pattern: '(', weight: 1}\n"
    with pytest.raises(ConfigError, match="bad pattern"):
        parse_task_cues(bad + "complexity: []\n", "cues.yaml")


@pytest.mark.parametrize(
    ("pattern", "prefixes"),
    [
        (r"\b(solve|prove that|unit tests?)\b", ("solve", "prove that", "unit test")),
        (r"\b(stack ?trace|reason(ing)? about)", ("stack", "reason")),
        (r"\btranslat(e|ion)\b", ("translat",)),
        (r"\bwrite (a|an)", ("write",)),
        (r"\b(c\+\+|rust)", None),  # a one-letter alternative: always search
        (r"\d+\s*[-+]\s*\d+", None),
        (r"\b(a|b", None),
    ],
)
def test_literal_prefixes_are_what_every_match_contains(
    pattern: str, prefixes: tuple[str, ...] | None
) -> None:
    assert literal_prefixes(pattern) == prefixes


def test_the_prefilter_never_changes_a_classification() -> None:
    import re

    from thrifty.routing.analysis import _cues

    texts = [
        "debug this stack trace", "stacktrace attached", "unit test for the parser",
        "reasoning about time", "is this spam?", "tl;dr please", "5 + 7 =", "translation",
    ]  # fmt: skip
    for _task, cues in _cues().tasks:
        for cue in cues:
            slow = re.compile(cue.pattern.pattern, re.MULTILINE)
            for text in texts:
                assert cue.search(text) == (slow.search(text) is not None), (cue.prefixes, text)
