"""Prompt analysis: where a prompt's tokens go, what is wasted, and what rewrites would save.

:func:`analyze_prompt` takes one chat request (OpenAI messages, or Anthropic messages with
``system`` apart), the model whose tokenizer counts it and that model's price, and returns:

- ``parts``: tokens of system, examples, user, assistant history, tools and the chat overhead
  (:mod:`thrifty.analytics.prompt_parts`); they add up to ``total_tokens``, the project's count
  of the whole request (exact for OpenAI models, the family approximation otherwise);
- ``findings``: repeated paragraphs, lines and sentences within a message and across messages,
  restated instructions, whitespace and formatting waste, pretty-printed JSON, politeness
  filler (:mod:`~thrifty.analytics.prompt_rewrites`, :mod:`~thrifty.analytics.prompt_repeats`),
  each with the tokens it costs;
- ``rewrites``: each deterministic rewrite that saves tokens, with the messages after it, the
  tokens saved (the request re-counted, never estimated) and the cost saved per call at the
  model's input price; ``combined``: every safe rewrite that found something, applied in turn
  (one that saves nothing alone may still tidy up after another), when any saves tokens;
- ``efficiency_score``: ``100 × (T − S − R/2) / T`` rounded and kept in 0..100, where ``T`` is
  the prompt's tokens, ``S`` the tokens the combined safe rewrites save and ``R`` the tokens of
  repeated text no safe rewrite removes (repeats across messages, restated instructions),
  counted at half because some repetition is deliberate. A prompt with nothing to remove
  scores 100;
- ``cacheable_prefix``: the tokens before the final user message (system, tools, examples,
  history), which providers can cache from :data:`CACHE_MIN_TOKENS` tokens on, and what a
  cache hit on them would save per call at the model's cached-input price.

Which rewrite touches which roles (:data:`SCOPES`): duplicates and filler only in system,
developer and user text; whitespace and decoration in assistant text too; JSON everywhere,
tool results included (minifying keeps every value).

Deterministic and offline: no model is called. A model-written rewrite, when one is configured
some day, belongs in ``llm_rewrite``; it is always None for now.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any

from genai_prices.types import ModelPrice

from thrifty.analytics.prompt_parts import (
    PARTS,
    content_texts,
    count_parts,
    final_user_index,
    map_text,
)
from thrifty.analytics.prompt_repeats import cross_repeats, dedupe, restatements
from thrifty.analytics.prompt_rewrites import REWRITES, excerpt, find_waste
from thrifty.pricing.catalog import TokenUsage, cost_of
from thrifty.pricing.tokenizer_catalog import encoding, tokenizer_for
from thrifty.pricing.tokens import count_chat

CACHE_MIN_TOKENS = 1024
#: Repeats in one text whose cost is re-counted one by one (a dedupe pass each); any further
#: ones are estimated as the tokens of the text they remove.
MAX_COUNTED_REPEATS = 8
PROSE_ROLES = frozenset({"system", "developer", "user"})
TEXT_ROLES = PROSE_ROLES | {"assistant"}
#: Where a text may be cut into independently counted chunks (see ``_Prompt.tokens``).
LINE_CUT = re.compile(r"(?<=\n)(?=[^\s/])")
SCOPES: dict[str, frozenset[str]] = {
    "strip_decoration": TEXT_ROLES,
    "remove_duplicates": PROSE_ROLES,
    "minify_json": TEXT_ROLES | {"tool", "function"},
    "collapse_whitespace": TEXT_ROLES,
    "remove_filler": PROSE_ROLES,
}
#: The safe rewrites, in the order the combined rewrite applies them (duplicates first: they
#: are found on whitespace-collapsed text, and their result on the original is known already).
SAFE = ("remove_duplicates", "strip_decoration", "minify_json", "collapse_whitespace")
DESCRIPTIONS = {
    "strip_decoration": "remove separator lines and runs of asterisks",
    "remove_duplicates": "remove repeated paragraphs, lines and sentences within a message",
    "minify_json": "minify pretty-printed JSON (whitespace outside strings only)",
    "collapse_whitespace": "remove trailing spaces, extra spaces between words, extra blank lines",
    "remove_filler": "drop sentence-initial politeness (changes wording; not in the combined "
    "rewrite)",
    "combined": "every safe rewrite, in turn",
}


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str
    message: str
    tokens: int  # what it costs: the tokens its removal would save
    excerpt: str
    location: str  # "system" (Anthropic's) or "messages[i]"


@dataclass(frozen=True, slots=True)
class Rewrite:
    kind: str
    description: str
    safe: bool
    tokens_after: int
    tokens_saved: int
    cost_saved_per_call: Decimal
    messages: list[dict[str, Any]]
    system: Any = None  # the rewritten Anthropic ``system``, when it was given apart
    changed: tuple[str, ...] = ()  # locations whose text changed
    text: str | None = None  # the new text, when exactly one string content changed


@dataclass(frozen=True, slots=True)
class CacheablePrefix:
    tokens: int
    eligible: bool  # at least CACHE_MIN_TOKENS
    cost_saved_per_call: Decimal | None  # on a cache hit; None if not eligible or no price


@dataclass(frozen=True, slots=True)
class PromptAnalysis:
    encoding: str
    exact: bool
    total_tokens: int
    cost_per_call: Decimal  # the prompt's input cost
    parts: dict[str, int]
    findings: list[Finding]
    rewrites: list[Rewrite]
    combined: Rewrite | None
    efficiency_score: int
    cacheable_prefix: CacheablePrefix
    llm_rewrite: None = field(default=None)


def analyze_prompt(
    messages: Sequence[Mapping[str, Any]],
    tokenizer_model: str,
    price: ModelPrice,
    *,
    system: str | Sequence[Mapping[str, Any]] | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
) -> PromptAnalysis:
    """Analyse one request as counted for ``tokenizer_model`` and priced at ``price``."""
    prompt = _Prompt(messages, system, tokenizer_model, tools)
    total = count_chat(prompt.messages, tokenizer_model, tools=tools)
    parts = count_parts(prompt.messages, tokenizer_model, total=total.tokens, tools=tools)
    findings, needed = _text_findings(prompt)
    repeats = _repeat_findings(prompt)

    def priced(tokens: int) -> Decimal:
        return cost_of(price, TokenUsage(tokens, 0))

    rewrites: list[Rewrite] = []
    for kind in (k for k in (*SAFE, "remove_filler") if k in needed):
        rewritten = prompt.rewrite([kind])
        rewrite = prompt.measure(kind, rewritten, total.tokens, priced)
        if rewrite.tokens_saved > 0:
            rewrites.append(rewrite)
    combined = None
    if any(r.safe for r in rewrites):  # every safe rewrite with something to do, in turn
        applied = [kind for kind in SAFE if kind in needed]
        combined = prompt.measure("combined", prompt.rewrite(applied), total.tokens, priced)
    saved = combined.tokens_saved if combined else 0
    left = sum(f.tokens for f in repeats)
    score = (
        100 if total.tokens <= 0 else round(100 * (total.tokens - saved - left / 2) / total.tokens)
    )
    return PromptAnalysis(
        encoding=total.encoding,
        exact=total.exact,
        total_tokens=total.tokens,
        cost_per_call=priced(total.tokens),
        parts={part: parts[part] for part in PARTS},
        findings=findings + repeats,
        rewrites=rewrites,
        combined=combined,
        efficiency_score=max(0, min(100, score)),
        cacheable_prefix=_prefix(prompt, total.tokens, price),
    )


class _Prompt:
    """The request as one list of messages (Anthropic's ``system`` first), with locations."""

    def __init__(
        self,
        messages: Sequence[Mapping[str, Any]],
        system: str | Sequence[Mapping[str, Any]] | None,
        model: str,
        tools: Sequence[Mapping[str, Any]] | None,
    ) -> None:
        self.separate_system = system is not None and (not isinstance(system, str) or system)
        head = [{"role": "system", "content": system}] if self.separate_system else []
        self.messages: list[dict[str, Any]] = head + [dict(m) for m in messages]
        offset = len(head)
        self.locations = ["system"] * offset + [f"messages[{i}]" for i in range(len(messages))]
        self.model = model
        self.tools = tools
        self._counts: dict[str, int] = {}
        self._framing = count_chat([{"role": "user"}], model).tokens
        tokenizer = tokenizer_for(model)
        self._encode = encoding(tokenizer.encoding).encode_ordinary if tokenizer.exact else None
        self._chunks: dict[str, int] = {}
        self._rewritten: dict[tuple[str, str], str] = {}

    def tokens(self, text: str) -> int:
        """Tokens of ``text`` as content of a message.

        With an exact tokenizer, the sum over line chunks: byte-pair counts add up across
        pre-token boundaries, and a cut after a newline followed by anything but whitespace or
        ``/`` is one in both OpenAI encodings (a property test checks it), so a variant of a
        text re-encodes only the lines that changed. Otherwise as the request is counted."""
        known = self._counts.get(text)
        if known is None:
            if self._encode is not None:
                known = sum(self._chunk(chunk) for chunk in LINE_CUT.split(text))
            else:
                framed = count_chat([{"role": "user", "content": text}], self.model).tokens
                known = framed - self._framing
            self._counts[text] = known
        return known

    def _chunk(self, chunk: str) -> int:
        known = self._chunks.get(chunk)
        if known is None:
            assert self._encode is not None
            known = self._chunks[chunk] = len(self._encode(chunk))
        return known

    def texts(self, roles: frozenset[str]) -> list[tuple[str, str]]:
        return [
            (location, text)
            for location, message in zip(self.locations, self.messages, strict=True)
            if message.get("role") in roles
            for text in content_texts(message.get("content"))
        ]

    def rewritten(self, kind: str, text: str) -> str:
        """``text`` after one rewrite (remembered: the combined rewrite repeats the work)."""
        known = self._rewritten.get((kind, text))
        if known is None:
            change = REWRITES.get(kind) or _remove_duplicates
            known = self._rewritten[kind, text] = change(text)
        return known

    def remember(self, kind: str, text: str, result: str) -> None:
        self._rewritten[kind, text] = result

    def rewrite(self, kinds: Sequence[str]) -> list[dict[str, Any]]:
        messages = self.messages
        for kind in kinds:
            messages = [
                {**m, "content": map_text(m.get("content"), partial(self.rewritten, kind))}
                if m.get("role") in SCOPES[kind]
                else m
                for m in messages
            ]
        return messages

    def measure(
        self,
        kind: str,
        rewritten: list[dict[str, Any]],
        before: int,
        priced: Callable[[int], Decimal],
    ) -> Rewrite:
        after = count_chat(rewritten, self.model, tools=self.tools).tokens
        changed = [
            (location, new)
            for location, old, new in zip(self.locations, self.messages, rewritten, strict=True)
            if old.get("content") != new.get("content")
        ]
        single = changed[0][1].get("content") if len(changed) == 1 else None
        head = 1 if self.separate_system else 0
        return Rewrite(
            kind=kind,
            description=DESCRIPTIONS[kind],
            safe=kind != "remove_filler",
            tokens_after=after,
            tokens_saved=before - after,
            cost_saved_per_call=priced(before) - priced(after),
            messages=rewritten[head:],
            system=rewritten[0]["content"] if head else None,
            changed=tuple(location for location, _ in changed),
            text=single if isinstance(single, str) else None,
        )


def _remove_duplicates(text: str) -> str:
    return dedupe(text)[0]


def _text_findings(prompt: _Prompt) -> tuple[list[Finding], set[str]]:
    """Waste within each text and duplicates within each prose text, and the rewrites that
    have something to do."""
    found: list[Finding] = []
    needed: set[str] = set()
    for location, message in zip(prompt.locations, prompt.messages, strict=True):
        role = message.get("role")
        enabled = frozenset(kind for kind, roles in SCOPES.items() if role in roles)
        for text in content_texts(message.get("content")):
            if "remove_duplicates" in enabled:
                duplicates = _duplicate_findings(prompt, text, location)
                needed.update(["remove_duplicates"] if duplicates else [])
                found.extend(duplicates)
            for waste in find_waste(text, enabled):
                needed.add(waste.rewrite or "")
                cost = prompt.tokens(text) - prompt.tokens(waste.fixed)
                if cost > 0:
                    found.append(Finding(waste.kind, waste.message, cost, waste.excerpt, location))
    return found, needed


def _duplicate_findings(prompt: _Prompt, text: str, location: str) -> list[Finding]:
    """Each repeat with what removing it saves after the ones before it are removed (exact,
    re-counted; they add up to the rewrite's saving), beyond MAX_COUNTED_REPEATS estimated."""
    found: list[Finding] = []
    before = prompt.tokens(text)
    deduped, duplicates = dedupe(text)
    prompt.remember("remove_duplicates", text, deduped)
    for number, duplicate in enumerate(duplicates, 1):
        if number <= MAX_COUNTED_REPEATS:
            last = number == len(duplicates)
            after = prompt.tokens(deduped if last else dedupe(text, limit=number)[0])
            cost, before = before - after, after
        else:
            cost = prompt.tokens(duplicate.removed)
        message = f"repeated {duplicate.unit} within the message"
        found.append(Finding("repeated_text", message, cost, excerpt(duplicate.text), location))
    return found


def _repeat_findings(prompt: _Prompt) -> list[Finding]:
    """Repeats across messages and restatements: reported, left for a person to remove."""
    texts = prompt.texts(PROSE_ROLES)
    found = [
        Finding("repeated_text", f"also in {r.first_location}; not removed (may be deliberate)",
                prompt.tokens(r.text), excerpt(r.text), r.location)
        for r in cross_repeats(texts)
    ]  # fmt: skip
    found.extend(
        Finding("restated_instruction", f"restates {r.restated!r} ({r.first_location})",
                prompt.tokens(r.text), excerpt(r.text), r.location)
        for r in restatements(texts)
    )  # fmt: skip
    return found


def _prefix(prompt: _Prompt, total: int, price: ModelPrice) -> CacheablePrefix:
    final = final_user_index(prompt.messages)
    if not final and not prompt.tools:
        return CacheablePrefix(0, False, None)
    head = prompt.messages[: final or 0]
    framing = count_chat([], prompt.model).tokens  # the reply priming, not part of a prefix
    tokens = count_chat(head, prompt.model, tools=prompt.tools).tokens - framing
    if tokens < CACHE_MIN_TOKENS or price.cache_read_mtok is None:
        return CacheablePrefix(tokens, tokens >= CACHE_MIN_TOKENS, None)
    full = cost_of(price, TokenUsage(total, 0))
    hit = cost_of(price, TokenUsage(total, 0, cached_input_tokens=tokens))
    return CacheablePrefix(tokens, True, full - hit)
