"""How good is the offline token count for models whose tokenizer we do not ship?

Prints the figures behind docs/tokens.md. Two parts:

1. RouterBench check. ``shared/data/routerbench/train.jsonl`` records the USD cost of each
   prompt for 11 models. Backing input tokens out of those costs at each model's list price
   tells whether the costs came from each model's own tokenizer (then they would be ground truth
   for every family) or from one shared count.
2. Reference tokenizers. Real tokenizers that public packages bundle are run on the same
   prompts: Claude 1/2 (``anthropic==0.25.0`` ships ``tokenizer.json``, read with
   ``tokenizers``), Mistral v1/v3 SentencePiece and Tekken (``mistral-common``, with
   ``sentencepiece``), Llama 3 and Llama 4 (``llama-models`` ships ``tokenizer.model``). For
   each family the correction factor over cl100k/o200k is fitted on the even-numbered prompts
   and its error measured on the odd-numbered ones; then the factor shipped in
   ``src/thrifty/pricing/data/tokenizers.yaml`` is evaluated through ``count_text`` on all.

None of those packages is a runtime dependency. Set up a separate environment:

    python3 -m venv /tmp/benchvenv
    /tmp/benchvenv/bin/pip install -r requirements.lock
    /tmp/benchvenv/bin/pip install tokenizers sentencepiece mistral-common llama-models \
        "anthropic==0.25.0"
    /tmp/benchvenv/bin/pip install --no-deps -e .
    /tmp/benchvenv/bin/python benchmarks/token_accuracy.py

A reference tokenizer whose package is missing is skipped with a note.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import tiktoken
from tiktoken.load import load_tiktoken_bpe

from thrifty.pricing.tokenizer_catalog import encoding
from thrifty.pricing.tokens import count_text

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data/routerbench/train.jsonl"

# List prices (USD per million tokens, input/output) when RouterBench was recorded.
LIST_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4-1106-preview": (10.0, 30.0),
    "gpt-3.5-turbo-1106": (1.0, 2.0),
    "claude-instant-v1": (0.8, 2.4),
    "claude-v1": (8.0, 24.0),
    "claude-v2": (8.0, 24.0),
    "meta/llama-2-70b-chat": (0.9, 0.9),
    "meta/code-llama-instruct-34b-chat": (0.776, 0.776),
    "mistralai/mistral-7b-chat": (0.2, 0.2),
    "mistralai/mixtral-8x7b-chat": (0.6, 0.6),
    "zero-one-ai/Yi-34B-Chat": (0.8, 0.8),
    "WizardLM/WizardLM-13B-V1.2": (0.3, 0.3),
}
# Cookbook framing of one user message: 3 per message + "user" (1 token) + 3 reply priming.
CHAT_FRAMING = 7

# family in tokenizers.yaml -> (reference tokenizer label, a model name of that family)
FAMILIES: dict[str, tuple[str, str]] = {
    "claude": ("claude-2 (anthropic 0.25.0 tokenizer.json)", "claude-2.1"),
    "mistral": ("mistral v1 sentencepiece (mistral-common)", "mistral-7b-instruct"),
    "mistral-tekken": ("mistral tekken 240911 (mistral-common)", "mistral-nemo"),
    "llama": ("llama 3 tiktoken (llama-models)", "llama-3.1-70b-instruct"),
    "llama-4": ("llama 4 tiktoken (llama-models)", "llama-4-maverick"),
}

Counter = Callable[[str], int]


def package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def claude_counter() -> Counter | None:
    root = package_dir("anthropic")
    if root is None or not (root / "tokenizer.json").is_file():
        return None
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
    return lambda text: len(tokenizer.encode(text).ids)


def mistral_counter(kind: str) -> Counter | None:
    root = package_dir("mistral_common")
    if root is None:
        return None
    data = root / "data"
    if kind == "tekken":
        from mistral_common.tokens.tokenizers.tekken import Tekkenizer

        tekken = Tekkenizer.from_file(str(data / "tekken_240911.json"))
        return lambda text: len(tekken.encode(text, bos=False, eos=False))
    import sentencepiece

    file = {"v1": "tokenizer.model.v1", "v3": "mistral_instruct_tokenizer_240323.model.v3"}[kind]
    processor = sentencepiece.SentencePieceProcessor(model_file=str(data / file))
    return lambda text: len(processor.encode(text))


LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def llama_counter(version: str) -> Counter | None:
    root = package_dir("llama_models")
    if root is None:
        return None
    ranks = load_tiktoken_bpe(str(root / version / "tokenizer.model"))
    pattern = LLAMA3_PATTERN if version == "llama3" else encoding("o200k_base")._pat_str
    enc = tiktoken.Encoding(name=version, pat_str=pattern, mergeable_ranks=ranks, special_tokens={})
    return lambda text: len(enc.encode_ordinary(text))


def reference_counters() -> dict[str, Counter | None]:
    return {
        "claude": claude_counter(),
        "mistral": mistral_counter("v1"),
        "mistral-tekken": mistral_counter("tekken"),
        "llama": llama_counter("llama3"),
        "llama-4": llama_counter("llama4"),
    }


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def errors(predicted: Sequence[int], actual: Sequence[int]) -> tuple[float, float, float]:
    """(mean absolute % error, p90 absolute % error, mean signed % error)."""
    signed = [100.0 * (p - a) / a for p, a in zip(predicted, actual, strict=True) if a > 0]
    absolute = [abs(value) for value in signed]
    return statistics.fmean(absolute), percentile(absolute, 0.9), statistics.fmean(signed)


def routerbench_check(rows: list[dict[str, Any]]) -> None:
    print("== 1. RouterBench costs: input tokens backed out at list price (ARC + Winogrande) ==")
    cl100k = encoding("cl100k_base")
    print(
        f"{'model':36s} {'n':>5s} {'implied/cl100k median':>22s} {'p5':>7s} {'p95':>7s} "
        f"{'= cl100k text':>14s} {'= +chat framing':>16s}"
    )
    for model, (price_in, price_out) in LIST_PRICES.items():
        ratios = []
        equal_text = equal_chat = 0
        for row in rows:
            if row["task"] == "mbpp":  # open-ended answers: output length unknown
                continue
            outcome = row["outcomes"].get(model)
            if outcome is None:
                continue
            text = row["messages"][0]["content"]
            counted = len(cl100k.encode_ordinary(text))
            implied = (outcome["cost"] * 1e6 - price_out) / price_in  # one output token
            ratios.append(implied / counted)
            equal_text += abs(implied - counted) < 0.5
            equal_chat += abs(implied - counted - CHAT_FRAMING) < 0.5
        share = 100.0 / len(ratios)
        print(
            f"{model:36s} {len(ratios):5d} {statistics.median(ratios):22.4f} "
            f"{percentile(ratios, 0.05):7.4f} {percentile(ratios, 0.95):7.4f} "
            f"{equal_text * share:13.1f}% {equal_chat * share:15.1f}%"
        )
    print(
        "'= cl100k text': share of prompts whose implied input tokens equal the cl100k count of\n"
        "the prompt text to the token; '= +chat framing': equal to it plus the 7 framing tokens\n"
        "the API bills. The same cl100k count for every model means the costs were computed\n"
        "from one shared count, not from each model's tokenizer or billed usage: the file can\n"
        "neither calibrate other families nor check the chat framing.\n"
    )


def family_accuracy(texts: list[str], counters: dict[str, Counter | None]) -> None:
    print("== 2. Reference tokenizers vs scaled cl100k/o200k (RouterBench prompt texts) ==")
    bases = {name: encoding(name) for name in ("cl100k_base", "o200k_base")}
    base_counts = {
        name: [len(enc.encode_ordinary(t)) for t in texts] for name, enc in bases.items()
    }
    even = range(0, len(texts), 2)
    odd = range(1, len(texts), 2)
    for family, counter in counters.items():
        label, model = FAMILIES[family]
        if counter is None:
            print(f"-- {family}: {label}: package not installed, skipped\n")
            continue
        actual = [counter(t) for t in texts]
        print(f"-- {family}: {label}; {len(texts)} prompts, {sum(actual)} reference tokens")
        for base, counts in base_counts.items():
            factor = statistics.median(actual[i] / counts[i] for i in even if counts[i])
            predicted = [math.floor(counts[i] * factor + 0.5) for i in odd]
            mape, p90, bias = errors(predicted, [actual[i] for i in odd])
            raw = errors(counts, actual)
            print(
                f"   base {base:11s} fitted factor {factor:.3f} | held-out MAPE {mape:5.2f}% "
                f"p90 {p90:5.2f}% bias {bias:+5.2f}% | unscaled MAPE {raw[0]:5.2f}%"
            )
        default = errors([count_text(t, "some-unknown-model").tokens for t in texts], actual)
        print(
            f"   'default' family on this tokenizer: MAPE {default[0]:.2f}% bias {default[2]:+.2f}%"
        )
        shipped = [count_text(t, model) for t in texts]
        mape, p90, bias = errors([c.tokens for c in shipped], actual)
        by_task = []
        for task in ("arc_challenge", "winogrande", "mbpp"):
            picked = [i for i, t in enumerate(TASKS) if t == task]
            task_mape = errors([shipped[i].tokens for i in picked], [actual[i] for i in picked])[0]
            by_task.append(f"{task} {task_mape:.2f}%")
        print(
            f"   shipped  count_text({model!r}) -> {shipped[0].encoding}: MAPE {mape:.2f}% "
            f"p90 {p90:.2f}% bias {bias:+.2f}% ({', '.join(by_task)})\n"
        )


TASKS: list[str] = []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="RouterBench train.jsonl")
    args = parser.parse_args()
    with args.data.open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    TASKS.extend(str(row["task"]) for row in rows)
    routerbench_check(rows)
    family_accuracy([row["messages"][0]["content"] for row in rows], reference_counters())


if __name__ == "__main__":
    main()
