"""Repeated text in a prompt: exact duplicates, repeats across messages, restated instructions.

Units are paragraphs (separated by blank lines), lines and sentences (split after ``.``, ``!``
or ``?``) of prose (code and JSON segments are never touched). Two units are the same when they
are equal after collapsing whitespace and case. A paragraph or line counts from 3 words and 16
characters, a sentence from 5 words, so short structural lines ("Input:", "}") never do.

- :func:`dedupe` removes, within one text, every unit already seen earlier in it (a paragraph
  with its separator, a line with its newline, a sentence with its space). It is the
  ``remove_duplicates`` rewrite.
- :func:`cross_repeats` finds units of a message that an earlier message already has. They are
  reported, not removed: restating the system prompt's instruction next to the question can
  be deliberate, and a few-shot pattern repeats its frame on purpose.
- :func:`restatements` finds sentences that say nearly the same as an earlier one (Jaccard
  similarity of their content words at least 0.8), also reported only.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from thrifty.analytics.prompt_rewrites import MEMO_MAX_CHARS, excerpt, segments

MIN_WORDS = 3
MIN_CHARS = 16
MIN_SENTENCE_WORDS = 5
SIMILARITY = 0.8
MIN_CONTENT_WORDS = 4
#: Sentences compared pairwise for restatements (their number bounds the work).
MAX_SENTENCES = 400

_PARAGRAPH_BREAK = re.compile(r"(\n[ \t]*\n(?:[ \t]*\n)*)")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])([ \t]+)(?=\S)")
_CONTENT_WORD = re.compile(r"\w{3,}")
#: Words too common to tell two sentences apart.
STOPWORDS = (
    "the and for with that this you your are was were not but from have has had its it's "
    "into out our any all can will would should could must may might than then them they "
    "their there here what when which who how also just only very each such"
)
_STOPWORDS = frozenset(STOPWORDS.split())


@dataclass(frozen=True, slots=True)
class Duplicate:
    unit: str  # "paragraph", "line" or "sentence"
    text: str  # the repeated unit as written
    removed: str  # what removing it takes out: the unit with its separator


@dataclass(frozen=True, slots=True)
class Repeat:
    location: str
    text: str
    first_location: str  # where the same text first occurs
    restated: str | None = None  # for a restatement: the earlier sentence it restates


def normal(text: str) -> str:
    return " ".join(text.split()).casefold()


def _counts(norm: str, unit: str) -> bool:
    words = norm.count(" ") + 1 if norm else 0
    if unit == "sentence":
        return words >= MIN_SENTENCE_WORDS
    return words >= MIN_WORDS and len(norm) >= MIN_CHARS


def dedupe(text: str, limit: int | None = None) -> tuple[str, list[Duplicate]]:
    """``text`` with every repeated paragraph, line and sentence after its first removed (only
    the first ``limit`` repeats when given, so what each one costs can be counted)."""
    if limit is None and not may_repeat(text):
        return text, []
    found = _Found(limit)
    out = [_dedupe_prose(part, found) if kind == "prose" else part for kind, part in segments(text)]
    return "".join(out), found.items


class _Found:
    def __init__(self, limit: int | None) -> None:
        self.seen: set[str] = set()
        self.items: list[Duplicate] = []
        self.limit = limit

    def repeated(self, norm: str, unit: str) -> bool:
        """Whether to drop this unit: seen before, and the limit not reached."""
        if not norm or not _counts(norm, unit) or norm not in self.seen:
            return False
        return self.limit is None or len(self.items) < self.limit


def _dedupe_prose(text: str, found: _Found) -> str:
    pieces = _PARAGRAPH_BREAK.split(text)
    dropped: set[int] = set()
    for index in range(0, len(pieces), 2):
        paragraph = pieces[index]
        norm = normal(paragraph)
        if found.repeated(norm, "paragraph"):
            dropped.add(index)
            found.items.append(Duplicate("paragraph", paragraph.strip(), _removed(pieces, index)))
            continue
        kept_lines: list[str] = []
        for line in paragraph.split("\n"):
            line_norm = normal(line)
            if found.repeated(line_norm, "line"):
                found.items.append(Duplicate("line", line.strip(), line.strip() + "\n"))
                continue
            kept = _dedupe_sentences(line, found)
            if kept is not None:
                kept_lines.append(kept)
            found.seen.add(line_norm)
        found.seen.add(norm)
        if any(line.strip() for line in kept_lines) or not norm:
            pieces[index] = "\n".join(kept_lines)
        else:
            dropped.add(index)
    return _join_kept(pieces, dropped)


def _dedupe_sentences(line: str, found: _Found) -> str | None:
    """The line without sentences seen before; None when nothing of it is left."""
    pieces = _SENTENCE_BREAK.split(line)
    dropped: set[int] = set()
    for index in range(0, len(pieces), 2):
        norm = normal(pieces[index])
        if found.repeated(norm, "sentence"):
            dropped.add(index)
            sentence = pieces[index].strip()
            found.items.append(Duplicate("sentence", sentence, _removed(pieces, index)))
        found.seen.add(norm)
    if not dropped:
        return line
    if len(dropped) == (len(pieces) + 1) // 2:
        return None
    return _join_kept(pieces, dropped)


def _removed(pieces: list[str], index: int) -> str:
    """An item of an item/separator list with the separator that goes with it."""
    core = pieces[index].strip()
    if index > 0:
        return pieces[index - 1] + core
    return core + (pieces[1] if len(pieces) > 1 else "")


def _join_kept(pieces: list[str], dropped: set[int]) -> str:
    """Rejoin items (even indices) and separators (odd): each kept item after the first keeps
    the separator before it; the text keeps its leading and trailing whitespace."""
    kept = [index for index in range(0, len(pieces), 2) if index not in dropped]
    if not kept:
        return _lead(pieces[0]) + _trail(pieces[-1])
    out = [] if kept[0] == 0 else [_lead(pieces[0])]
    for position, index in enumerate(kept):
        if position:
            out.append(pieces[index - 1])
        out.append(pieces[index])
    if kept[-1] != len(pieces) - 1:
        out.append(_trail(pieces[-1]))
    return "".join(out)


def _lead(text: str) -> str:
    return text[: len(text) - len(text.lstrip())]


def _trail(text: str) -> str:
    return text[len(text.rstrip()) :]


Line = tuple[str, str, list[tuple[str, str]]]  # raw, normal, sentences (raw, normal)
Paragraph = tuple[str, str, list[Line]]  # raw, normal, lines


def units(text: str) -> list[Paragraph]:
    """Prose paragraphs as (raw, normal, lines); lines as (raw, normal, sentences)."""
    return _units(text) if len(text) <= MEMO_MAX_CHARS else _cut_units(text)


@lru_cache(maxsize=64)
def _units(text: str) -> list[Paragraph]:
    return _cut_units(text)


def _cut_units(text: str) -> list[Paragraph]:
    found: list[Paragraph] = []
    for kind, part in segments(text):
        if kind != "prose":
            continue
        for paragraph in _PARAGRAPH_BREAK.split(part)[0::2]:
            lines = [
                (line, normal(line), [(s, normal(s)) for s in _SENTENCE_BREAK.split(line)[0::2]])
                for line in paragraph.split("\n")
            ]
            found.append((paragraph, normal(paragraph), lines))
    return found


def may_repeat(text: str) -> bool:
    """False when no paragraph, line or sentence of ``text`` can repeat another: no normal
    form of 3 words or more occurs twice (a unit equal to its only child counts once)."""
    norms: list[str] = []
    for _, paragraph_norm, lines in units(text):
        norms.append(paragraph_norm)
        for _, line_norm, sentences in lines:
            if line_norm != paragraph_norm:
                norms.append(line_norm)
            norms.extend(norm for _, norm in sentences if norm != line_norm)
    counted = [norm for norm in norms if norm.count(" ") >= MIN_WORDS - 1]
    return len(set(counted)) < len(counted)


def cross_repeats(texts: Sequence[tuple[str, str]]) -> list[Repeat]:
    """Units of each ``(location, text)`` that an earlier location already has."""
    tracker = _Tracker()
    for location, text in texts:
        tracker.location = location
        for paragraph, paragraph_norm, lines in units(text):
            if tracker.repeated(paragraph, paragraph_norm, "paragraph"):
                continue
            for line, line_norm, sentences in lines:
                if line_norm != paragraph_norm and tracker.repeated(line, line_norm, "line"):
                    continue
                for sentence, sentence_norm in sentences:
                    if sentence_norm != line_norm:
                        tracker.repeated(sentence, sentence_norm, "sentence")
        tracker.close_location()
    return tracker.found


class _Tracker:
    """Where each unit first occurs; a location's own units count once it is done."""

    def __init__(self) -> None:
        self.earlier: dict[str, str] = {}
        self.mine: dict[str, str] = {}
        self.found: list[Repeat] = []
        self.location = ""

    def repeated(self, raw: str, norm: str, unit: str) -> bool:
        if not norm or not _counts(norm, unit):
            return False
        first = self.earlier.get(norm)
        if first is not None and first != self.location:
            self.found.append(Repeat(self.location, raw.strip(), first))
            return True
        self.mine.setdefault(norm, self.location)
        return False

    def close_location(self) -> None:
        for norm, where in self.mine.items():
            self.earlier.setdefault(norm, where)
        self.mine = {}


def _content_words(sentence: str) -> frozenset[str]:
    return frozenset(_CONTENT_WORD.findall(sentence.casefold())) - _STOPWORDS


def restatements(texts: Sequence[tuple[str, str]]) -> list[Repeat]:
    """Sentences that restate an earlier one in other words (not exact repeats).

    Candidates come from prefix filtering: two word sets with Jaccard similarity ``t`` or more
    share one of the first ``|A| - ceil(t·|A|) + 1`` words of each in one fixed order (rarest
    first, so few sentences share a prefix word), and their sizes differ by a factor of at most
    ``t``; only such pairs are compared."""
    sentences = [
        (location, sentence, words, norm)
        for location, text in texts
        for _, _, lines in units(text)
        for _, _, line_sentences in lines
        for sentence, norm in line_sentences
        if len(words := _content_words(sentence)) >= MIN_CONTENT_WORDS
    ][:MAX_SENTENCES]
    frequency = Counter(word for _, _, words, _ in sentences for word in words)
    index: dict[str, list[int]] = {}
    found: list[Repeat] = []
    for number, (location, sentence, words, norm) in enumerate(sentences):
        ordered = sorted(words, key=lambda word: (frequency[word], word))
        prefix = ordered[: len(ordered) - math.ceil(SIMILARITY * len(ordered)) + 1]
        candidates = sorted({c for word in prefix for c in index.get(word, ())})
        for candidate in candidates:
            where, other, other_words, other_norm = sentences[candidate]
            if other_norm == norm:
                break  # an exact repeat, reported as such
            small, large = sorted((len(words), len(other_words)))
            if small < SIMILARITY * large:
                continue
            shared = len(words & other_words)
            if shared >= SIMILARITY * (len(words) + len(other_words) - shared):
                found.append(Repeat(location, sentence.strip(), where, restated=excerpt(other)))
                break
        for word in prefix:
            index.setdefault(word, []).append(number)
    return found
