"""Output-length prediction: max_tokens, prompt cues, task priors, worst case, data validation."""

from __future__ import annotations

from importlib import resources
from typing import Any

import pytest

from thrifty.errors import ConfigError, InvalidInput
from thrifty.pricing.output import OutputPrediction, parse_output_model, predict_output_tokens
from thrifty.pricing.tokens import count_text

SHIPPED = (
    resources.files("thrifty.pricing").joinpath("data", "output_lengths.yaml").read_text("utf-8")
)
MODEL = parse_output_model(SHIPPED)
UNITS = MODEL.units
CAP = MODEL.default_cap
TASK_TYPES = [
    "chat",
    "code",
    "math",
    "reasoning",
    "summarisation",
    "extraction",
    "classification",
    "translation",
    "creative_writing",
]


def ask(text: str) -> list[dict[str, Any]]:
    return [{"role": "system", "content": "Be helpful."}, {"role": "user", "content": text}]


def test_max_tokens_is_the_estimate_and_the_worst_case() -> None:
    prediction = predict_output_tokens(ask("Write 2 pages on Rome"), max_tokens=300)
    assert prediction == OutputPrediction(300, 300, "max_tokens")


def test_max_tokens_is_bounded_by_the_models_output_limit() -> None:
    prediction = predict_output_tokens(ask("hi"), max_tokens=100_000, model_max_output=16_384)
    assert prediction == OutputPrediction(16_384, 16_384, "max_tokens")


@pytest.mark.parametrize("bad", [0, -5])
def test_max_tokens_below_one_is_refused_naming_the_field(bad: int) -> None:
    with pytest.raises(InvalidInput) as error:
        predict_output_tokens(ask("hi"), max_tokens=bad)
    assert error.value.field == "max_tokens"


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("Write an essay on tides in 500 words.", 500 * UNITS.word),
        ("Describe Rome in 300-500 words", 500 * UNITS.word),
        ("A 200-word summary, please", 200 * UNITS.word),
        ("Explain it in about 3 paragraphs.", 3 * UNITS.paragraph),
        ("Write five sentences about cats", 5 * UNITS.sentence),
        ("Summarise this in one sentence: ...", UNITS.sentence),
        ("Answer in 200 tokens or fewer", 200 * UNITS.token),
        ("Give me 2 pages on the French revolution", 2 * UNITS.page),
        ("List 10 fruits", 10 * UNITS.item + UNITS.list_overhead),
        ("What are the top 5 risks?", 5 * UNITS.item + UNITS.list_overhead),
        ("Give me 7 ideas for a party", 7 * UNITS.item + UNITS.list_overhead),
        ("Write twenty lines of verse", 20 * UNITS.line),
        ("Write 3 paragraphs of about 100 words each", 3 * UNITS.paragraph),  # the largest
    ],
)
def test_length_cues_become_tokens(prompt: str, expected: float) -> None:
    prediction = predict_output_tokens(ask(prompt), max_tokens=None)
    assert prediction.source == "prompt_cue"
    assert prediction.tokens == max(1, int(-(-expected // 1)))
    assert prediction.worst_case == CAP


@pytest.mark.parametrize(
    ("prompt", "phrase"),
    [
        ("Write a haiku about autumn", "haiku"),
        ("Is the sky green? Answer yes or no.", "yes or no"),
        ("Answer with a single letter: A, B, C or D.", "single letter"),
        ("Reply with one word.", "one word"),
        ("True or false: water boils at 90C", "true or false"),
        ("Compose a limerick about a cat", "limerick"),
        ("Write a paragraph about dogs", "a paragraph"),
    ],
)
def test_fixed_size_phrases(prompt: str, phrase: str) -> None:
    expected = next(entry.tokens for entry in MODEL.phrases if entry.phrase == phrase)
    prediction = predict_output_tokens(ask(prompt), max_tokens=None)
    if phrase == "one word":  # "one word" is also read as a count of one word
        assert prediction.tokens <= expected
    else:
        assert prediction.tokens == expected
    assert prediction.source == "prompt_cue"


def test_only_the_last_user_message_is_read_for_cues() -> None:
    messages = [
        {"role": "user", "content": "Write a haiku"},
        {"role": "assistant", "content": "Autumn moonlight..."},
        {"role": "user", "content": "Now tell me about its history"},
    ]
    assert predict_output_tokens(messages, max_tokens=None).source == "task_prior"


def test_cues_in_content_parts_are_read() -> None:
    messages = [{"role": "user", "content": [{"type": "text", "text": "Write a haiku"}]}]
    prediction = predict_output_tokens(messages, max_tokens=None)
    assert prediction.source == "prompt_cue"


@pytest.mark.parametrize("task_type", [t for t in TASK_TYPES if MODEL.task_priors[t].tokens])
def test_fixed_task_priors(task_type: str) -> None:
    prediction = predict_output_tokens(
        ask("Tell me about it"), max_tokens=None, task_type=task_type
    )
    assert prediction == OutputPrediction(
        MODEL.task_priors[task_type].tokens or 0, CAP, "task_prior"
    )


def test_every_task_type_has_a_prior_and_chat_is_the_default() -> None:
    assert set(TASK_TYPES) <= set(MODEL.task_priors)
    default = predict_output_tokens(ask("Tell me about it"), max_tokens=None)
    assert default.tokens == MODEL.task_priors["chat"].tokens


@pytest.mark.parametrize("task_type", ["summarisation", "translation"])
def test_length_scaled_priors_grow_with_the_input(task_type: str) -> None:
    prior = MODEL.task_priors[task_type]
    document = "The committee met on Tuesday to review the annual budget. " * 40
    short = predict_output_tokens(ask("Hi"), max_tokens=None, task_type=task_type)
    long = predict_output_tokens(ask(document), max_tokens=None, task_type=task_type)
    assert short.tokens == prior.min
    input_tokens = count_text(document, "gpt-4o").tokens
    expected = -(-input_tokens * (prior.per_input_token or 0) // 1)
    assert long.tokens == min(prior.max or CAP, max(prior.min, int(expected)))
    assert long.tokens > short.tokens


def test_summary_prior_is_capped() -> None:
    prior = MODEL.task_priors["summarisation"]
    huge = "word " * 50_000
    prediction = predict_output_tokens(ask(huge), max_tokens=None, task_type="summarisation")
    assert prediction.tokens == prior.max


def test_worst_case_is_the_model_limit_and_bounds_the_estimate() -> None:
    prediction = predict_output_tokens(
        ask("Write 10 pages on Rome"), max_tokens=None, model_max_output=4000
    )
    assert prediction == OutputPrediction(4000, 4000, "prompt_cue")
    prediction = predict_output_tokens(ask("hello"), max_tokens=None, model_max_output=8192)
    assert prediction.worst_case == 8192


def test_no_messages_at_all_falls_back_to_the_prior() -> None:
    assert predict_output_tokens([], max_tokens=None).source == "task_prior"


def test_unknown_task_type_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidInput) as error:
        predict_output_tokens(ask("hi"), max_tokens=None, task_type="poetry-slam")
    assert error.value.field == "task_type"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("default_cap: 4096", "default_cap: 0", "default_cap"),
        ("  chat: {tokens: 350}", "  talk: {tokens: 350}", "'chat' is required"),
        ("  code: {tokens: 650}", "  code: {tokens: 650, per_input_token: 1}", "exactly one"),
        ("  code: {tokens: 650}", "  code: {tokenz: 650}", "task_priors.code"),
        ("  word: 1.33", "  word: -1", "units.word"),
        ('{phrase: "haiku", tokens: 22}', '{phrase: "", tokens: 22}', "yaml:31: phrases[7].phrase"),
    ],
)
def test_a_bad_output_entry_raises_a_clear_error(old: str, new: str, message: str) -> None:
    assert old in SHIPPED
    with pytest.raises(ConfigError, match=r"output_lengths\.yaml") as error:
        parse_output_model(SHIPPED.replace(old, new, 1))
    assert message in str(error.value)


def test_output_data_rejects_broken_yaml() -> None:
    with pytest.raises(ConfigError, match=r"output_lengths.yaml:1: expected the node content"):
        parse_output_model("units: {word: [")
